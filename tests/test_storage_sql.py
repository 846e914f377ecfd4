"""What only the SQL adapter has: its schema and indexes, URLs, and database errors."""

from __future__ import annotations

import sqlite3
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from credflow.errors import (
    ConfigurationError,
    DuplicateIdentifier,
    MissingDependency,
    StorageError,
    StorageUnavailable,
)
from credflow.storage import sql
from credflow.storage.records import ConsumeOutcome, MfaKind
from credflow.storage.sql import SQLStorage, metadata
from credflow.testing.contract import (
    T0,
    make_account,
    make_code,
    make_credential,
    make_event,
    make_factor,
    make_flow,
    make_membership,
    make_organisation,
    make_token,
    phc,
)
from storage_fixtures import (
    SQL_ADAPTERS,
    admin_engine,
    closed_port,
    empty_postgres_storage,
    open_storage,
    postgres_url,
    sqlite_file_url,
)

TABLES = {
    "credflow_accounts",
    "credflow_passwords",
    "credflow_password_history",
    "credflow_questions",
    "credflow_tokens",
    "credflow_flows",
    "credflow_counters",
    "credflow_events",
    "credflow_organisations",
    "credflow_memberships",
    "credflow_mfa_factors",
    "credflow_recovery_codes",
}


@pytest.fixture(params=SQL_ADAPTERS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLStorage]:
    with open_storage(request.param, tmp_path) as storage:
        assert isinstance(storage, SQLStorage)
        yield storage


def _indexes(engine: sa.Engine, table: str) -> dict[tuple[str, ...], bool]:
    """The table's indexes: column names -> unique."""
    found = sa.inspect(engine).get_indexes(table)
    return {tuple(str(c) for c in index["column_names"]): bool(index["unique"]) for index in found}


# -- schema ------------------------------------------------------------------------------------


def test_metadata_is_exposed_for_host_migrations() -> None:
    assert "metadata" in sql.__all__
    assert isinstance(metadata, sa.MetaData)
    assert set(metadata.tables) == TABLES


def test_the_schema_is_created_with_every_table(storage: SQLStorage) -> None:
    assert set(sa.inspect(storage.engine).get_table_names()) >= TABLES


@pytest.mark.req("DB-01")
def test_identifier_key_has_a_unique_index(storage: SQLStorage) -> None:
    assert _indexes(storage.engine, "credflow_accounts")[("identifier_key",)] is True


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("credflow_accounts", "email_key"),
        ("credflow_tokens", "account_id"),
        ("credflow_tokens", "expires_at"),
        ("credflow_counters", "updated_at"),
        ("credflow_events", "account_id"),
        ("credflow_flows", "account_id"),
        ("credflow_password_history", "account_id"),
    ],
)
def test_lookup_columns_are_indexed(storage: SQLStorage, table: str, column: str) -> None:
    assert (column,) in _indexes(storage.engine, table)


@pytest.mark.req("RC-02")
def test_recovery_codes_have_room_for_an_argon2id_hash_and_an_indexed_selector(
    storage: SQLStorage,
) -> None:
    columns = {
        c["name"]: c for c in sa.inspect(storage.engine).get_columns("credflow_recovery_codes")
    }
    assert set(columns) == {"account_id", "code_hash", "selector", "created_at", "used_at"}
    assert columns["code_hash"]["type"].length == 255
    assert columns["selector"]["type"].length == 16
    assert columns["selector"]["nullable"] is False
    assert ("account_id", "selector") in _indexes(storage.engine, "credflow_recovery_codes")


@pytest.mark.req("RC-02")
def test_a_recovery_code_is_stored_as_its_argon2id_hash_and_selector_only(
    storage: SQLStorage,
) -> None:
    storage.replace_recovery_codes("acc-1", [make_code("c1", selector="ABCD")])
    with storage.engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(sa.select(sql.recovery_codes))]
    assert rows == [("acc-1", phc("c1"), "ABCD", sql._us(T0), None)]
    assert rows[0][1].startswith("$argon2id$")


@pytest.mark.req("DB-01")
def test_the_database_itself_refuses_a_duplicate_identifier_key(storage: SQLStorage) -> None:
    storage.create_account(make_account("acc-1", "Alice"))
    row = {column.name: None for column in sql.accounts.columns}
    row.update(
        id="acc-2",
        identifier="ALICE",
        identifier_key="alice",
        status="active",
        required_actions="",
        credential_version=1,
        version=1,
        lockouts=0,
        created_at=0,
        updated_at=0,
    )
    with pytest.raises(sa.exc.IntegrityError), storage.engine.begin() as conn:
        conn.execute(sql.accounts.insert().values(**row))
    assert storage.get_account("acc-2") is None


def test_times_are_stored_as_integer_microseconds_since_the_epoch(storage: SQLStorage) -> None:
    storage.append_event(make_event(at=T0))
    with storage.engine.connect() as conn:
        stored = conn.execute(sa.select(sql.events.c.at)).scalar_one()
    assert stored == int(T0.timestamp()) * 1_000_000 + T0.microsecond
    assert storage.events()[0].at == T0


def test_create_schema_twice_is_harmless(storage: SQLStorage) -> None:
    storage.create_account(make_account())
    storage.create_schema()
    storage.create_schema()
    assert storage.get_account("acc-1") == make_account()
    assert set(sa.inspect(storage.engine).get_table_names()) >= TABLES


@pytest.mark.parametrize("kind", ["sqlite-file", "postgresql"])
def test_a_second_storage_with_create_keeps_the_data(kind: str, tmp_path: Path) -> None:
    with open_storage(kind, tmp_path) as first:
        first.create_account(make_account())
        assert isinstance(first, SQLStorage)
        second = SQLStorage(first.engine.url.render_as_string(hide_password=False), create=True)
        try:
            assert second.get_account("acc-1") == make_account()
        finally:
            second.dispose()


@pytest.mark.parametrize("kind", ["sqlite-file", "postgresql"])
def test_dispose_closes_pooled_connections_and_the_storage_reconnects(
    kind: str, tmp_path: Path
) -> None:
    with open_storage(kind, tmp_path) as storage:
        assert isinstance(storage, SQLStorage)
        storage.create_account(make_account())
        assert storage.engine.pool.checkedin() >= 1
        storage.dispose()
        assert storage.engine.pool.checkedin() == 0
        assert storage.get_account("acc-1") == make_account()
        storage.increment_counter("k", T0)
        assert storage.get_counter("k") == 1


def test_a_fresh_postgres_database_gets_the_whole_schema() -> None:
    url = postgres_url()
    storage = SQLStorage(url)
    try:
        metadata.drop_all(storage.engine)
        assert not TABLES & set(sa.inspect(storage.engine).get_table_names())
        storage.create_schema()
        assert set(sa.inspect(storage.engine).get_table_names()) >= TABLES
        assert _indexes(storage.engine, "credflow_accounts")[("identifier_key",)] is True
        storage.create_account(make_account())
        assert storage.find_account("alice") == make_account()
    finally:
        metadata.create_all(storage.engine)  # whatever happened, leave the schema for the others
        storage.dispose()


@pytest.mark.req("RS-06", "DB-01")
def test_postgres_runs_at_read_committed() -> None:
    # The race tests prove exactly-one-winner at PostgreSQL's default isolation level.
    storage = empty_postgres_storage()
    try:
        with storage.engine.connect() as conn:
            assert conn.get_isolation_level() == "READ COMMITTED"
    finally:
        storage.dispose()


def test_a_missing_postgres_url_fails_unless_skipping_is_explicit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CREDFLOW_TEST_POSTGRES_URL", raising=False)
    for skip in (None, "", "0", "true"):
        if skip is None:
            monkeypatch.delenv("CREDFLOW_SKIP_POSTGRES", raising=False)
        else:
            monkeypatch.setenv("CREDFLOW_SKIP_POSTGRES", skip)
        with pytest.raises(pytest.fail.Exception, match="CREDFLOW_TEST_POSTGRES_URL is not set"):
            postgres_url()
    monkeypatch.setenv("CREDFLOW_SKIP_POSTGRES", "1")
    with pytest.raises(pytest.skip.Exception, match="CREDFLOW_SKIP_POSTGRES=1"):
        postgres_url()
    monkeypatch.setenv("CREDFLOW_TEST_POSTGRES_URL", "postgresql://u@h/db")
    assert postgres_url() == "postgresql://u@h/db"


# -- URLs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@127.0.0.1:1/db",
        "postgres://u@127.0.0.1:1/db",
        "postgresql+psycopg://u@127.0.0.1:1/db",
    ],
)
def test_postgresql_urls_use_psycopg(url: str) -> None:
    storage = SQLStorage(url)  # no connection is made until the first call
    try:
        assert storage.engine.url.drivername == "postgresql+psycopg"
        assert storage.engine.dialect.name == "postgresql"
        assert storage.engine.dialect.driver == "psycopg"
        assert storage.engine.url.database == "db"
    finally:
        storage.dispose()


def test_an_engine_can_be_passed_instead_of_a_url() -> None:
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    storage = SQLStorage(engine, create=True)
    try:
        assert storage.engine is engine
        storage.create_account(make_account())
        assert storage.get_account("acc-1") == make_account()
    finally:
        storage.dispose()


@pytest.mark.parametrize("url", ["", "not a url", "://nothing", None, 42])
def test_a_missing_or_malformed_url_is_a_configuration_error(url: object) -> None:
    with pytest.raises(ConfigurationError, match="url"):
        SQLStorage(url)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    ["mysql://u@h/db", "mssql+pyodbc://u@h/db", "oracle://u@h/db", "mongodb://h/db"],
)
def test_an_unsupported_database_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="unsupported database") as caught:
        SQLStorage(url)
    # Not "install credflow[postgres]": that would not help.
    assert not isinstance(caught.value, MissingDependency)


def test_an_engine_of_an_unsupported_dialect_is_a_configuration_error() -> None:
    fake_dbapi = types.SimpleNamespace(paramstyle="pyformat", Error=Exception)
    engine = sa.create_engine("mysql+pymysql://u@h/db", module=fake_dbapi)
    assert engine.dialect.name == "mysql"
    with pytest.raises(ConfigurationError, match="unsupported database 'mysql'"):
        SQLStorage(engine)


def test_repr_hides_the_password() -> None:
    storage = SQLStorage("postgresql://u:secret@127.0.0.1:1/db")
    try:
        text = repr(storage)
        assert "secret" not in text
        assert "***" in text
        assert "127.0.0.1:1/db" in text
        assert "secret" not in str(storage.engine.url)
    finally:
        storage.dispose()


# -- a database that is down -------------------------------------------------------------------


def _down_postgres() -> SQLStorage:
    return SQLStorage(f"postgresql://credflow:secret@127.0.0.1:{closed_port()}/postgres")


def _down_sqlite(tmp_path: Path) -> SQLStorage:
    return SQLStorage(sqlite_file_url(tmp_path / "missing" / "directory"))


_CALLS = {
    "get_account": lambda s: s.get_account("acc-1"),
    "find_accounts_by_email": lambda s: s.find_accounts_by_email("a@example.com"),
    "events": lambda s: s.events(),
    "create_account": lambda s: s.create_account(make_account()),
    "consume_token": lambda s: s.consume_token("0" * 64, "reset", T0),
    "increment_counter": lambda s: s.increment_counter("k", T0),
    "append_event": lambda s: s.append_event(make_event()),
}


@pytest.mark.parametrize("down", ["postgresql", "sqlite"])
@pytest.mark.parametrize("call", list(_CALLS))
def test_a_database_that_is_down_raises_storage_unavailable(
    down: str, call: str, tmp_path: Path
) -> None:
    storage = _down_postgres() if down == "postgresql" else _down_sqlite(tmp_path)
    try:
        with pytest.raises(StorageUnavailable, match="database unavailable") as caught:
            _CALLS[call](storage)
        assert isinstance(caught.value.__cause__, sa.exc.DBAPIError)
        assert caught.value.__cause__.orig is not None
        assert "secret" not in str(caught.value)
        # It keeps failing the same clear way for every other call, and for a transaction.
        with pytest.raises(StorageUnavailable):
            storage.get_counter("k")
        with pytest.raises(StorageUnavailable), storage.transaction():
            pytest.fail("a transaction began on a database that is down")
    finally:
        storage.dispose()


def test_create_on_a_database_that_is_down_raises_storage_unavailable(tmp_path: Path) -> None:
    for url in (
        f"postgresql://u@127.0.0.1:{closed_port()}/db",
        sqlite_file_url(tmp_path / "missing"),
    ):
        with pytest.raises(StorageUnavailable) as caught:
            SQLStorage(url, create=True)
        assert isinstance(caught.value.__cause__, sa.exc.OperationalError)


def test_the_storage_recovers_when_the_database_comes_back(tmp_path: Path) -> None:
    storage = _down_sqlite(tmp_path)
    try:
        with pytest.raises(StorageUnavailable):
            storage.create_account(make_account())
        (tmp_path / "missing" / "directory").mkdir(parents=True)
        storage.create_schema()
        storage.create_account(make_account())
        assert storage.get_account("acc-1") == make_account()
    finally:
        storage.dispose()


def test_a_dropped_postgres_connection_fails_one_call_then_reconnects() -> None:
    storage = empty_postgres_storage()
    admin = admin_engine()
    try:
        storage.save_token(make_token())
        with storage.engine.connect() as conn:  # the pool's only connection
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        assert storage.engine.pool.checkedin() == 1
        with admin.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            deadline = time.monotonic() + 10
            alive = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            while conn.execute(alive, {"pid": pid}).scalar_one() and time.monotonic() < deadline:
                time.sleep(0.01)

        with pytest.raises(StorageUnavailable) as caught:
            storage.consume_token(make_token().nonce_hash, "reset", T0)
        assert isinstance(caught.value.__cause__, sa.exc.OperationalError)

        # The broken connection was discarded: the next calls work, and nothing was consumed.
        outcome, _ = storage.consume_token(make_token().nonce_hash, "reset", T0)
        assert outcome is ConsumeOutcome.CONSUMED
    finally:
        admin.dispose()
        storage.dispose()


# -- other database errors ---------------------------------------------------------------------


def test_a_statement_postgres_rejects_is_a_storage_error_not_unavailable() -> None:
    storage = empty_postgres_storage()
    try:
        too_long = make_token().model_copy(update={"account_id": "x" * 65})
        with pytest.raises(StorageError, match="database error") as caught:
            storage.save_token(too_long)
        assert not isinstance(caught.value, StorageUnavailable)
        assert isinstance(caught.value.__cause__, sa.exc.DBAPIError)
        assert storage.get_token(too_long.nonce_hash) is None
        storage.save_token(make_token())  # the storage is still usable
        assert storage.get_token(make_token().nonce_hash) == make_token()
    finally:
        storage.dispose()


def test_sqlite_memory_storage_is_shared_by_every_thread() -> None:
    # One connection (StaticPool) behind a lock: another thread sees the same database.
    storage = SQLStorage("sqlite://", create=True)
    seen: list[object] = []
    try:
        storage.create_account(make_account())
        thread = threading.Thread(target=lambda: seen.append(storage.get_account("acc-1")))
        thread.start()
        thread.join(10)
        assert seen == [make_account()]
    finally:
        storage.dispose()


# -- statements are built once -----------------------------------------------------------------


def _every_call(storage: SQLStorage) -> None:
    """One call of every storage method (the second time round, on existing rows)."""
    n = len(storage.list_accounts())
    storage.create_account(make_account(f"acc-{n}", f"user{n}", None))
    account = storage.find_account(f"user{n}")
    assert account is not None
    storage.update_account(account)
    storage.get_account("acc-0")
    storage.find_accounts_by_email("alice@example.com")
    storage.list_accounts(after="a", limit=5)
    storage.lock_email("alice@example.com")
    storage.set_password(make_credential("acc-0"), keep_history=2)
    storage.get_password("acc-0")
    storage.password_history("acc-0", 3)
    storage.get_question("acc-0")
    storage.save_token(make_token(f"t{len(storage.events())}"))
    storage.get_token(make_token().nonce_hash)
    storage.consume_token(make_token().nonce_hash, "reset", T0)
    storage.void_tokens("acc-0", "reset", T0)
    storage.void_tokens("acc-0", None, T0)
    storage.save_flow(make_flow(f"f{len(storage.events())}"))
    flow = storage.get_flow(make_flow().handle_hash)
    if flow is not None:
        storage.advance_flow(flow, expected_state=flow.state)
    storage.delete_flow(make_flow("gone").handle_hash)
    storage.purge_expired(T0)
    storage.get_organisation("org-1")
    storage.find_organisation("732829320")
    storage.get_membership("acc-0", "org-1")
    storage.memberships_of("acc-0")
    storage.members_of("org-1", after="a", limit=5)
    storage.members_of("org-1")
    storage.save_mfa_factor(make_factor("acc-0"))
    storage.mfa_factors("acc-0")
    storage.use_totp_step("acc-0", len(storage.events()))
    storage.delete_mfa_factor("acc-0", MfaKind.SMS)
    storage.replace_recovery_codes("acc-0", [make_code("c1", "acc-0"), make_code("c2", "acc-0")])
    storage.recovery_codes("acc-0", "c1")
    storage.use_recovery_code("acc-0", phc("c1"), T0)
    storage.recovery_codes_left("acc-0")
    storage.increment_counter("k", T0)
    storage.get_counter("k")
    storage.reset_counter("k")
    storage.purge_counters(T0, "k_")
    storage.purge_counters(T0)
    storage.append_event(make_event())
    storage.events(account_id="acc-0", since=T0)
    storage.events(account_id="acc-0")
    storage.events(since=T0)
    storage.pseudonymise_events("nobody", "pseudonym")
    storage.delete_account("nobody")


def test_no_statement_is_built_per_call(
    storage: SQLStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building a construct per call costs SQLAlchemy three times the statement itself; every
    # statement is built once, at import. Once warm, no call may build one again.
    storage.create_organisation(make_organisation("org-1", "732829320"))
    storage.create_membership(make_membership("acc-0", "org-1"))
    _every_call(storage)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a statement was built during a call")

    for construct in (sa.sql.Select, sa.sql.Insert, sa.sql.Update, sa.sql.Delete):
        monkeypatch.setattr(construct, "__init__", refuse)
    monkeypatch.setattr(sa.sql.Select, "where", refuse)
    monkeypatch.setattr(sa.sql.Update, "values", refuse)
    _every_call(storage)
    with storage.transaction():
        _every_call(storage)


# -- errors around the transaction -------------------------------------------------------------


def _busy_after(milliseconds: int, storage: SQLStorage) -> None:
    """Make the storage's SQLite connections give up on a locked file after ``milliseconds``
    (instead of 30 s). Call it before the storage's first connection."""

    @sa.event.listens_for(storage.engine, "connect")
    def _short_timeout(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.execute(f"PRAGMA busy_timeout = {milliseconds}")


def test_a_sqlite_file_locked_too_long_raises_storage_unavailable(tmp_path: Path) -> None:
    url = sqlite_file_url(tmp_path)
    SQLStorage(url, create=True).dispose()
    storage = SQLStorage(url)
    _busy_after(50, storage)
    other = sqlite3.connect(tmp_path / "credflow.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        for call in (lambda: storage.get_account("acc-1"), storage.transaction().__enter__):
            with pytest.raises(
                StorageUnavailable, match="database unavailable: OperationalError"
            ) as caught:
                call()
            cause = caught.value.__cause__
            assert isinstance(cause, sa.exc.OperationalError)
            assert isinstance(cause.orig, sqlite3.OperationalError)
            assert "locked" in str(cause.orig)
        other.execute("ROLLBACK")
        # Nothing was left half-open: the storage works once the lock is released.
        storage.create_account(make_account())
        assert storage.get_account("acc-1") == make_account()
        assert storage.engine.pool.checkedout() == 0
    finally:
        other.close()
        storage.dispose()


@pytest.mark.parametrize(
    ("error", "wrapped", "expected"),
    [
        (sqlite3.OperationalError, sa.exc.OperationalError, StorageUnavailable),
        (sqlite3.IntegrityError, sa.exc.IntegrityError, DuplicateIdentifier),
        (sqlite3.ProgrammingError, sa.exc.ProgrammingError, StorageError),
    ],
)
@pytest.mark.parametrize("kind", ["sqlite-memory", "sqlite-file"])
def test_an_error_at_commit_is_translated_and_nothing_is_kept(
    kind: str,
    error: type[sqlite3.Error],
    wrapped: type[sa.exc.DBAPIError],
    expected: type[Exception],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with open_storage(kind, tmp_path) as storage:
        assert isinstance(storage, SQLStorage)

        def fail(dbapi_connection: Any) -> None:
            raise error("injected")

        monkeypatch.setattr(storage, "_commit", fail)  # the driver's commit fails
        with pytest.raises(expected) as caught:
            storage.create_account(make_account())
        assert type(caught.value) is expected
        assert isinstance(caught.value.__cause__, wrapped)
        assert isinstance(caught.value.__cause__.orig, error)
        raised = StorageUnavailable if wrapped is sa.exc.OperationalError else wrapped
        with pytest.raises(raised), storage.transaction():
            storage.append_event(make_event())
        monkeypatch.undo()
        assert storage.get_account("acc-1") is None
        assert storage.events() == []
        storage.create_account(make_account())
        assert storage.get_account("acc-1") == make_account()
        assert kind == "sqlite-memory" or storage.engine.pool.checkedout() == 0


def test_a_driver_error_when_connecting_is_a_storage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    storage = SQLStorage("sqlite://", create=True)
    try:

        def refuse() -> None:
            raise sa.exc.ProgrammingError("connect", (), Exception("injected"))

        monkeypatch.setattr(storage.engine, "raw_connection", refuse)
        with pytest.raises(StorageError, match="database error: Exception") as caught:
            storage.get_account("acc-1")
        assert not isinstance(caught.value, StorageUnavailable)
        with pytest.raises(sa.exc.ProgrammingError), storage.transaction():
            pytest.fail("a transaction began without a connection")
        monkeypatch.undo()
        storage.create_account(make_account())  # the lock of the shared connection was released
        assert storage.get_account("acc-1") == make_account()
    finally:
        storage.dispose()


def test_a_raw_unavailable_error_leaving_a_transaction_is_storage_unavailable(
    storage: SQLStorage,
) -> None:
    down = sa.exc.OperationalError("SELECT 1", (), Exception("injected"))
    with pytest.raises(StorageUnavailable) as caught, storage.transaction():  # noqa: PT012
        storage.create_account(make_account())
        raise down
    assert caught.value.__cause__ is down
    assert storage.get_account("acc-1") is None
    # A nested block leaves it to the outermost one.
    with pytest.raises(StorageUnavailable) as outer, storage.transaction():  # noqa: PT012
        with pytest.raises(sa.exc.OperationalError), storage.transaction():
            raise down
        raise down
    assert outer.value.__cause__ is down
