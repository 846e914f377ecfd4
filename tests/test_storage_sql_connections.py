"""How SQLStorage holds its driver connections: kept between transactions on a SQLite file,
bounded, replaced when broken, and statements run on the driver with SQLAlchemy's errors."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from credflow.errors import DuplicateIdentifier, StorageError, StorageUnavailable
from credflow.storage import sql
from credflow.storage.sql import SQLStorage
from credflow.testing.contract import make_account, make_event
from storage_fixtures import postgres_url, sqlite_file_url


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[SQLStorage]:
    storage = SQLStorage(sqlite_file_url(tmp_path), create=True, pool_size=1)
    yield storage
    storage.dispose()


def _connection(storage: SQLStorage) -> Any:
    """The driver connection the calling thread's next transaction runs on."""
    with storage.transaction():
        tx = storage._local.tx
        assert tx is not None
        return tx._dbapi


def _kept(storage: SQLStorage) -> sql._Kept:
    connections = storage._connections
    assert isinstance(connections, sql._Kept)
    return connections


def _take_all(storage: SQLStorage) -> list[Any]:
    """Take every connection the storage may have in use (SQLite lets one transaction at a time
    hold the write lock, so the others are taken directly, as transactions waiting there would)."""
    connections = _kept(storage)
    return [connections.take()[1] for _ in range(2 * connections._keep)]


def _give_back(storage: SQLStorage, handles: list[Any]) -> None:
    for handle in handles:
        _kept(storage).give(handle, False)


def test_a_sqlite_file_storage_runs_every_transaction_on_the_connection_it_kept(
    storage: SQLStorage,
) -> None:
    first = _connection(storage)
    storage.create_account(make_account())
    assert _connection(storage) is first
    assert storage.get_account("acc-1") == make_account()
    # Taken out of the engine's pool: nothing is checked out there.
    assert storage.engine.pool.checkedout() == 0


def test_idle_connections_beyond_pool_size_are_closed(storage: SQLStorage) -> None:
    first, second = _take_all(storage)  # pool_size=1: two in use at most
    _give_back(storage, [first, second])
    assert _kept(storage)._idle == [first]
    assert _kept(storage)._busy == 0
    with pytest.raises(sqlite3.ProgrammingError):  # closed
        second.execute("SELECT 1")


def test_a_transaction_waits_for_a_free_connection(storage: SQLStorage) -> None:
    handles = _take_all(storage)
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (storage.append_event(make_event()), done.set()))
    waiter.start()
    assert not done.wait(0.2)  # both connections in use: it waits
    _give_back(storage, handles[:1])
    assert done.wait(10)
    waiter.join(10)
    _give_back(storage, handles[1:])
    assert len(storage.events()) == 1
    assert _kept(storage)._busy == 0


def test_a_transaction_gives_up_when_no_connection_comes_back(storage: SQLStorage) -> None:
    _kept(storage)._timeout = 0.05
    handles = _take_all(storage)
    try:
        with pytest.raises(StorageUnavailable, match="no free connection") as caught:
            storage.append_event(make_event())
        assert isinstance(caught.value.__cause__, sa.exc.TimeoutError)
        with pytest.raises(StorageUnavailable), storage.transaction():
            pytest.fail("a transaction began without a connection")
    finally:
        _give_back(storage, handles)
    assert _kept(storage)._busy == 0
    assert _kept(storage)._waiting == 0
    storage.append_event(make_event())  # the slots were all given back
    assert len(storage.events()) == 1


def test_a_connection_closed_underneath_fails_one_call_and_is_replaced(
    storage: SQLStorage,
) -> None:
    dead = _connection(storage)
    dead.close()
    with pytest.raises(StorageError, match="database error: ProgrammingError") as caught:
        storage.get_account("acc-1")
    assert isinstance(caught.value.__cause__, sa.exc.ProgrammingError)
    assert _connection(storage) is not dead
    storage.create_account(make_account())
    assert storage.get_account("acc-1") == make_account()
    assert _kept(storage)._busy == 0


class _NoRollback(sqlite3.Connection):
    """A driver connection whose rollback fails, once ``failing`` is set."""

    failing = False

    def rollback(self) -> None:
        if _NoRollback.failing:
            raise sqlite3.OperationalError("injected: disk I/O error")
        super().rollback()


def test_a_connection_that_cannot_roll_back_is_closed_and_the_error_goes_on(
    tmp_path: Path,
) -> None:
    engine = sa.create_engine(
        sqlite_file_url(tmp_path),
        connect_args={"factory": _NoRollback, "check_same_thread": False},
    )
    storage = SQLStorage(engine, create=True)
    try:
        kept = _connection(storage)
        _NoRollback.failing = True
        with pytest.raises(ValueError, match="the block's own"), storage.transaction():  # noqa: PT012
            storage.create_account(make_account())
            raise ValueError("the block's own error")
        _NoRollback.failing = False
        with pytest.raises(sqlite3.ProgrammingError):  # closed, not kept
            kept.execute("SELECT 1")
        assert _connection(storage) is not kept
        assert storage.get_account("acc-1") is None
    finally:
        _NoRollback.failing = False
        storage.dispose()


def test_dispose_closes_the_idle_connections(storage: SQLStorage) -> None:
    kept = _connection(storage)
    storage.dispose()
    with pytest.raises(sqlite3.ProgrammingError):
        kept.execute("SELECT 1")
    storage.create_account(make_account())  # a disposed storage opens new connections
    assert storage.get_account("acc-1") == make_account()


def test_driver_errors_carry_neither_the_parameters_nor_their_values(
    storage: SQLStorage,
) -> None:
    storage.create_account(make_account())
    secret_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0$aGFzaA"
    duplicate = make_account().model_copy(update={"identifier": secret_hash})
    with pytest.raises(DuplicateIdentifier) as caught:
        storage.create_account(duplicate)
    cause = caught.value.__cause__
    assert isinstance(cause, sa.exc.IntegrityError)
    assert secret_hash not in str(cause)
    assert secret_hash not in repr(cause)


def test_a_postgres_pool_with_every_connection_busy_raises_storage_unavailable() -> None:
    engine = sa.create_engine(
        "postgresql+psycopg://" + postgres_url().split("://", 1)[1],
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.05,
    )
    storage = SQLStorage(engine, create=True)
    try:
        with engine.connect():  # the pool's only connection
            with pytest.raises(StorageUnavailable, match="no free connection") as caught:
                storage.get_counter("k")
            assert isinstance(caught.value.__cause__, sa.exc.TimeoutError)
        assert storage.get_counter("k") == 0  # given back: the next call has it
    finally:
        storage.dispose()
