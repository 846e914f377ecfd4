"""Storage adapters for the storage test modules: memory, SQLite (memory and file), PostgreSQL.

``race`` and ``WORKERS`` come from the published ``credflow.testing.races``.

PostgreSQL comes from ``CREDFLOW_TEST_POSTGRES_URL`` (``scripts/with-postgres.sh`` starts a
throwaway server and sets it). When the variable is missing, the PostgreSQL tests FAIL with a
clear message, unless ``CREDFLOW_SKIP_POSTGRES=1`` is set explicitly: then they are skipped, with
that reason. They are never skipped silently.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from credflow.storage.memory import MemoryStorage
from credflow.storage.protocols import Storage
from credflow.storage.sql import SQLStorage, metadata
from credflow.testing.races import WORKERS, race

__all__ = [
    "ADAPTERS",
    "SQL_ADAPTERS",
    "WORKERS",
    "admin_engine",
    "closed_port",
    "empty_postgres_storage",
    "empty_tables",
    "open_storage",
    "postgres_url",
    "race",
    "scratch_directory",
    "sqlite_file_url",
]

POSTGRES_ENV = "CREDFLOW_TEST_POSTGRES_URL"
SKIP_POSTGRES_ENV = "CREDFLOW_SKIP_POSTGRES"

#: The adapters the race tests run on (SQLite in memory serialises every call behind one lock).
ADAPTERS = ("memory", "sqlite-file", "postgresql")
#: The SQL adapters the SQL-specific tests run on.
SQL_ADAPTERS = ("sqlite-memory", "sqlite-file", "postgresql")


def postgres_url() -> str:
    """The test server's URL; fail (or skip when explicitly asked) when it is not configured."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if url:
        return url
    if os.environ.get(SKIP_POSTGRES_ENV) == "1":
        pytest.skip(f"PostgreSQL tests skipped because {SKIP_POSTGRES_ENV}=1 is set")
    pytest.fail(
        f"{POSTGRES_ENV} is not set, so the PostgreSQL storage tests cannot run. Run them through "
        f"`sh scripts/with-postgres.sh .venv/bin/pytest ...` (as `make pytest` does), or set "
        f"{SKIP_POSTGRES_ENV}=1 to skip them explicitly.",
        pytrace=False,
    )


def empty_tables(storage: SQLStorage) -> None:
    """Empty every credflow table. DELETE, not TRUNCATE: on a few rows it is several times faster
    (TRUNCATE makes new files for every table and index)."""
    with storage.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def empty_postgres_storage() -> SQLStorage:
    """A storage on the test server, its tables created and empty."""
    storage = SQLStorage(postgres_url(), create=True)
    try:
        empty_tables(storage)
    except BaseException:
        storage.dispose()
        raise
    return storage


def sqlite_file_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'credflow.db'}"


@contextmanager
def open_storage(kind: str, tmp_path: Path) -> Iterator[Storage]:
    """A fresh, empty storage of ``kind`` (see ADAPTERS and SQL_ADAPTERS), disposed afterwards."""
    storage: Storage
    if kind == "memory":
        yield MemoryStorage()
        return
    if kind == "sqlite-memory":
        storage = SQLStorage("sqlite://", create=True)
    elif kind == "sqlite-file":
        storage = SQLStorage(sqlite_file_url(tmp_path), create=True)
    elif kind == "postgresql":
        storage = empty_postgres_storage()
    else:  # pragma: no cover - a typo in a parametrisation
        raise ValueError(f"unknown storage kind {kind!r}")
    try:
        yield storage
    finally:
        storage.dispose()


@contextmanager
def scratch_directory() -> Iterator[Path]:
    """A temporary directory in memory (``/dev/shm``) when there is one, removed afterwards.

    For the SQLite race tests: the database is still a file with its own locks and a connection
    per thread, but a commit does not wait for the disk (160 increments: ~0.5 s, not ~5 s).
    """
    shm = Path("/dev/shm")  # noqa: S108 - a private TemporaryDirectory is made inside it
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="credflow-test-", dir=base) as directory:
        yield Path(directory)


def closed_port() -> int:
    """A local TCP port that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def admin_engine() -> sa.Engine:
    """A separate, unpooled engine on the test server, for inspection and fault injection."""
    url = postgres_url().replace("postgresql://", "postgresql+psycopg://", 1)
    return sa.create_engine(url, poolclass=sa.pool.NullPool)
