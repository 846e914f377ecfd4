"""Races: the published StorageRaces (credflow.testing) on every adapter credflow ships.

Sixteen threads released together by a barrier; compare-and-set has exactly one winner. Run on
the memory adapter, SQLite (in memory, where one lock serialises every call, and in a file, where
every thread has its own connection) and PostgreSQL (READ COMMITTED, its default). Each race is
repeated a few rounds, so a lost update is likely to show (DB-01, RS-06, LK-12, OT-04, RC-03).
The last tests are PostgreSQL's own: the control for ``lock_email`` and its advisory key.
"""

from __future__ import annotations

import hashlib
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa

from credflow.storage.memory import MemoryStorage
from credflow.storage.protocols import Storage
from credflow.storage.records import email_key
from credflow.storage.sql import SQLStorage
from credflow.testing import StorageRaces
from credflow.testing.contract import make_account
from credflow.testing.races import claim_email
from storage_fixtures import (
    WORKERS,
    admin_engine,
    empty_postgres_storage,
    open_storage,
    race,
    scratch_directory,
    sqlite_file_url,
)


class TestMemoryStorageRaces(StorageRaces):
    def make_storage(self) -> Storage:
        return MemoryStorage()


class TestSQLiteMemoryStorageRaces(StorageRaces):
    def make_storage(self) -> Storage:
        return SQLStorage("sqlite://", create=True)

    def close_storage(self, storage: Storage) -> None:
        assert isinstance(storage, SQLStorage)
        storage.dispose()


class TestSQLiteFileStorageRaces(StorageRaces):
    """In a scratch directory in memory when there is one: commits do not wait for the disk."""

    def make_storage(self) -> Storage:
        self._scratch = ExitStack()
        directory = self._scratch.enter_context(scratch_directory())
        return SQLStorage(sqlite_file_url(directory), create=True)

    def close_storage(self, storage: Storage) -> None:
        assert isinstance(storage, SQLStorage)
        storage.dispose()
        self._scratch.close()


class TestPostgreSQLStorageRaces(StorageRaces):
    def make_storage(self) -> Storage:
        return empty_postgres_storage()

    def close_storage(self, storage: Storage) -> None:
        assert isinstance(storage, SQLStorage)
        storage.dispose()


def test_without_lock_email_postgresql_gives_the_email_to_several(tmp_path: Path) -> None:
    # The control for the test above: the race it wins is real on PostgreSQL (READ COMMITTED).
    with open_storage("postgresql", tmp_path) as storage:
        for n in range(WORKERS):
            storage.create_account(make_account(f"acc-{n:02}", f"user{n}", None))

        results = race(lambda n: claim_email(storage, f"acc-{n:02}", "x@example.com", lock=False))

        assert [r for r in results if isinstance(r, Exception)] == []
        assert results.count(True) > 1
        assert len(storage.find_accounts_by_email("x@example.com")) > 1


def test_lock_email_holds_the_documented_postgresql_advisory_key(tmp_path: Path) -> None:
    # Another adapter on the same database interlocks by locking the same key (docs/storage.md).
    key = email_key("Alice@Example.com")
    digest = hashlib.sha256(b"credflow.email:" + key.encode()).digest()
    advisory_key = int.from_bytes(digest[:8], "big", signed=True)
    try_lock = sa.select(sa.func.pg_try_advisory_xact_lock(advisory_key))
    with open_storage("postgresql", tmp_path) as storage:
        engine = admin_engine()
        try:
            with storage.transaction():
                storage.lock_email(key)
                with engine.begin() as other:
                    assert other.execute(try_lock).scalar_one() is False
            with engine.begin() as other:  # released with the transaction
                assert other.execute(try_lock).scalar_one() is True
        finally:
            engine.dispose()
