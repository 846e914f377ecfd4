"""How SQLStorage holds its driver connections: kept between transactions on a SQLite file,
bounded, replaced when broken, and statements run on the driver with SQLAlchemy's errors."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from credflow.errors import DuplicateIdentifier, StorageError, StorageUnavailable
from credflow.storage import sql
from credflow.storage.sql import SQLStorage
from credflow.testing.contract import make_account, make_event
from storage_fixtures import admin_engine, postgres_url, sqlite_file_url


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


def _interrupt(dbapi_connection: Any) -> None:
    """A driver step cut short by Ctrl-C (or a killed greenlet), not by a driver error."""
    raise KeyboardInterrupt


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
    assert _kept(storage)._idle == [first[0]]
    assert _kept(storage)._busy == 0
    with pytest.raises(sqlite3.ProgrammingError):  # closed
        second[0].execute("SELECT 1")


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


def test_dispose_closes_the_idle_connections_and_those_in_use_when_they_come_back(
    storage: SQLStorage,
) -> None:
    idle, in_use = _take_all(storage)
    _give_back(storage, [idle])
    storage.dispose()
    with pytest.raises(sqlite3.ProgrammingError):  # closed at once
        idle[0].execute("SELECT 1")
    in_use[0].execute("SELECT 1")  # still open while in use
    _give_back(storage, [in_use])
    with pytest.raises(sqlite3.ProgrammingError):  # closed when it came back
        in_use[0].execute("SELECT 1")
    assert _kept(storage)._idle == []
    assert _kept(storage)._busy == 0
    storage.create_account(make_account())  # on a new connection
    assert storage.get_account("acc-1") == make_account()


def test_an_interrupted_commit_never_leaves_an_open_transaction_to_the_next_caller(
    storage: SQLStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "_commit", _interrupt)
    with pytest.raises(KeyboardInterrupt):
        storage.create_account(make_account())
    monkeypatch.undo()
    assert _kept(storage)._idle == []  # closed, not kept with its write lock
    assert _kept(storage)._busy == 0
    assert storage.get_account("acc-1") is None
    storage.create_account(make_account())
    assert storage.get_account("acc-1") == make_account()


def test_a_connection_left_in_a_transaction_is_not_kept(storage: SQLStorage) -> None:
    dbapi, handle = _kept(storage).take()
    dbapi.execute("BEGIN IMMEDIATE")
    _kept(storage).give(handle, False)
    assert _kept(storage)._idle == []
    storage.create_account(make_account())  # the write lock went with the closed connection
    assert storage.get_account("acc-1") == make_account()


def test_an_interrupted_begin_gives_its_connection_back(
    storage: SQLStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "_begin", _interrupt)
    for _ in range(3):  # more than the two connections pool_size=1 allows in use
        with pytest.raises(KeyboardInterrupt):
            storage.get_account("acc-1")
    monkeypatch.undo()
    assert _kept(storage)._busy == 0
    storage.create_account(make_account())
    assert storage.get_account("acc-1") == make_account()


def test_after_a_lost_connection_every_call_of_the_transaction_is_storage_unavailable(
    storage: SQLStorage,
) -> None:
    lost = pytest.raises(StorageUnavailable, match="connection was lost")
    with lost, storage.transaction():  # the block ends with nothing it can commit
        tx = storage._local.tx
        assert tx is not None
        tx._dbapi.close()  # lost underneath
        with pytest.raises(StorageError):
            storage.get_account("acc-1")
        with pytest.raises(StorageUnavailable, match="connection was lost"):
            storage.get_account("acc-1")
        with pytest.raises(StorageUnavailable, match="connection was lost"):
            storage.create_account(make_account())
    assert _kept(storage)._busy == 0
    storage.create_account(make_account())
    assert storage.get_account("acc-1") == make_account()


def test_a_child_process_never_uses_its_parents_connections(storage: SQLStorage) -> None:
    parent = _connection(storage)
    storage.create_account(make_account())
    pid = os.fork()
    if pid == 0:  # the child: its own connection, the same data
        code = 1
        try:
            child = _connection(storage)
            found = storage.get_account("acc-1")
            code = 0 if child is not parent and found == make_account() else 3
            storage.dispose()  # sets the parent's aside, closes nothing of the parent's
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _connection(storage) is parent  # still open, still the parent's
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


def test_a_lost_postgres_connection_empties_the_pool_so_one_call_fails_not_each() -> None:
    storage = SQLStorage(postgres_url(), create=True)
    admin = admin_engine()
    try:
        taken = [storage.engine.raw_connection() for _ in range(2)]
        pids = [pooled.driver_connection.info.backend_pid for pooled in taken]
        for pooled in taken:
            pooled.close()  # both idle in the pool now
        with admin.connect() as conn:
            for pid in pids:
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            alive = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)")
            deadline = time.monotonic() + 10
            while conn.execute(alive, {"pids": pids}).scalar_one() and time.monotonic() < deadline:
                time.sleep(0.01)
        with pytest.raises(StorageUnavailable):
            storage.get_counter("k")
        # The other pooled connection was lost too, and went with the pool: the next call works.
        assert storage.get_counter("k") == 0
    finally:
        admin.dispose()
        storage.dispose()
