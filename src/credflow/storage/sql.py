"""``SQLStorage``: SQLAlchemy 2 Core over SQLite (embedded default) or PostgreSQL (psycopg 3).

Install with ``pip install credflow[sql]`` (SQLite) or ``credflow[postgres]``. Uniqueness and
lookups are enforced by the database (unique index on the identifier key, indexes on every
lookup column). Times are stored as integer microseconds since the Unix epoch, so SQLite and
PostgreSQL compare them the same way. ``metadata`` is exposed so a host app can include credflow's
tables in its own Alembic migrations.

Atomicity: a token consume, a recovery-code use and a TOTP step are each one conditional
``UPDATE`` checked by row count (DB-01, RC-03, OT-04); counters use ``INSERT … ON CONFLICT DO
UPDATE … RETURNING``; account, flow and membership updates are compare-and-set on a version
column. On SQLite every transaction starts with ``BEGIN IMMEDIATE`` so concurrent writers queue
instead of failing on lock upgrades; on PostgreSQL ``lock_email`` takes a transaction-scoped
advisory lock.

Speed: every statement is built once, here at import (or once per storage when it depends on the
dialect), with named ``bindparam``\\ s; each storage compiles it once for its dialect, on first use,
and runs the compiled SQL on the driver's connection (from the engine's pool; a SQLite file storage
keeps its own between transactions). SQLAlchemy builds the SQL, creates the tables, and makes and
pools the connections; its per-statement execution layer (execution contexts, result objects,
connection and transaction wrappers) cost more than the statements themselves on the login path,
after a 64 MiB argon2 pass has emptied the CPU caches.
Driver errors still leave as SQLAlchemy's exceptions (``sqlalchemy.exc.OperationalError``…),
parameters hidden, as causes of credflow's. Rows are tuples unpacked by position, in the table's
column order; JSON columns are written as JSON text and booleans read back with ``bool``, as
SQLAlchemy's type processing did.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from credflow.errors import (
    ConcurrentUpdate,
    ConfigurationError,
    DuplicateIdentifier,
    DuplicateMembership,
    DuplicateOrganisation,
    MissingDependency,
    StorageError,
    StorageUnavailable,
)
from credflow.storage.protocols import check_pagination
from credflow.storage.records import (
    Account,
    AuditEvent,
    ConsumeOutcome,
    FlowRecord,
    Membership,
    MfaFactor,
    MfaKind,
    Organisation,
    PasswordCredential,
    PasswordHistoryEntry,
    RecoveryCode,
    SecurityQuestion,
    TokenRecord,
)

try:
    import sqlalchemy as sa
    from sqlalchemy import event
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import StaticPool
except ImportError:  # pragma: no cover - exercised only without the extra
    raise MissingDependency("credflow.storage.sql", "sql") from None

__all__ = ["SQLStorage", "email_lock_key", "metadata"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

metadata = sa.MetaData()

accounts = sa.Table(
    "credflow_accounts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("identifier", sa.String(254), nullable=False),
    sa.Column("identifier_key", sa.String(254), nullable=False),
    sa.Column("email", sa.String(254)),
    sa.Column("email_key", sa.String(254)),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("required_actions", sa.String(200), nullable=False, default=""),
    sa.Column("credential_version", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.BigInteger),
    sa.Column("lockouts", sa.Integer, nullable=False, default=0),
    sa.Column("session_epoch", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("credflow_accounts_identifier_key", "identifier_key", unique=True),
    sa.Index("credflow_accounts_email_key", "email_key"),
)

passwords = sa.Table(
    "credflow_passwords",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("hash", sa.String(255), nullable=False),
    sa.Column("temporary", sa.Boolean, nullable=False),
    sa.Column("set_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger),
)

password_history = sa.Table(
    "credflow_password_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(255), nullable=False),
    sa.Column("set_at", sa.BigInteger, nullable=False),
    sa.Index("credflow_password_history_account", "account_id"),
)

questions = sa.Table(
    "credflow_questions",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("question", sa.String(200), nullable=False),
    sa.Column("answer_hash", sa.String(255), nullable=False),
    sa.Column("set_at", sa.BigInteger, nullable=False),
)

tokens = sa.Table(
    "credflow_tokens",
    metadata,
    sa.Column("nonce_hash", sa.String(64), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("credential_version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("used_at", sa.BigInteger),
    sa.Index("credflow_tokens_account", "account_id"),
    sa.Index("credflow_tokens_expires", "expires_at"),
)

flows = sa.Table(
    "credflow_flows",
    metadata,
    sa.Column("handle_hash", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("account_id", sa.String(64)),
    sa.Column("state", sa.String(64), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Index("credflow_flows_account", "account_id"),
    sa.Index("credflow_flows_expires", "expires_at"),
)

counters = sa.Table(
    "credflow_counters",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("credflow_counters_updated", "updated_at"),
)

events = sa.Table(
    "credflow_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("account_id", sa.String(64)),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Index("credflow_events_account", "account_id"),
    sa.Index("credflow_events_at", "at"),
)

organisations = sa.Table(
    "credflow_organisations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("registration_number", sa.String(14)),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    # Unique when present: both databases let any number of rows hold NULL.
    sa.Index("credflow_organisations_registration_number", "registration_number", unique=True),
)

memberships = sa.Table(
    "credflow_memberships",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("organisation_id", sa.String(64), primary_key=True),
    sa.Column("roles", sa.JSON, nullable=False),  # a JSON array of strings, in order
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("credflow_memberships_organisation", "organisation_id", "account_id"),
)

mfa_factors = sa.Table(
    "credflow_mfa_factors",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("secret", sa.Text),
    sa.Column("phone", sa.String(32)),
    sa.Column("confirmed", sa.Boolean, nullable=False),
    sa.Column("last_step", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)

recovery_codes = sa.Table(
    "credflow_recovery_codes",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("code_hash", sa.String(255), primary_key=True),  # an argon2id PHC string (RC-02)
    sa.Column("selector", sa.String(16), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("used_at", sa.BigInteger),
    sa.Index("credflow_recovery_codes_selector", "account_id", "selector"),
)

_DEPENDENTS = (
    passwords,
    password_history,
    questions,
    tokens,
    flows,
    memberships,
    mfa_factors,
    recovery_codes,
)


def _us(value: datetime) -> int:
    return (value - _EPOCH) // _US


def _us_or_none(value: datetime | None) -> int | None:
    return None if value is None else _us(value)


def _dt(value: int) -> datetime:
    return _EPOCH + value * _US


def email_lock_key(email_key: str) -> int:
    """The PostgreSQL advisory-lock key of an email key: the first 8 bytes of
    SHA-256(``credflow.email:`` + key), as a signed 64-bit integer (``bigint``)."""
    digest = hashlib.sha256(f"credflow.email:{email_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


# -- statements, built once ------------------------------------------------------------------
# A parameter in the WHERE clause of an UPDATE must not bear a column's name (SQLAlchemy keeps
# those for the SET clause), hence the ``b_`` prefixes. And an UPDATE sets every column whose name
# is a key of the parameters, so update parameters never carry another column's name.

_bp = sa.bindparam
_a, _ph, _q, _t, _f = accounts.c, password_history.c, questions.c, tokens.c, flows.c
_o, _m, _mf, _rc, _c, _e = (
    organisations.c,
    memberships.c,
    mfa_factors.c,
    recovery_codes.c,
    counters.c,
    events.c,
)


def _insert(table: sa.Table) -> sa.Insert:
    """An INSERT of every column but an autoincrement key, each from the value of its name."""
    key = table.autoincrement_column
    return table.insert().values({c.name: _bp(c.name) for c in table.columns if c is not key})


_ACCOUNT_INSERT = _insert(accounts)
_ACCOUNT_BY_ID = accounts.select().where(_a.id == _bp("id"))
_ACCOUNT_BY_KEY = accounts.select().where(_a.identifier_key == _bp("key"))
_ACCOUNTS_BY_EMAIL = accounts.select().where(_a.email_key == _bp("key")).order_by(_a.id)
_ACCOUNTS_PAGE = accounts.select().order_by(_a.id).limit(_bp("limit"))
_ACCOUNTS_PAGE_AFTER = _ACCOUNTS_PAGE.where(_a.id > _bp("after"))
_ACCOUNT_UPDATE = (
    accounts.update()
    .where(_a.id == _bp("b_id"), _a.version == _bp("b_version"))
    .values({c.name: _bp(c.name) for c in accounts.columns if c.name != "id"})
)
_ACCOUNT_DELETE = accounts.delete().where(_a.id == _bp("account_id"))
_DEPENDENTS_DELETE = tuple(
    t.delete().where(t.c.account_id == _bp("account_id")) for t in _DEPENDENTS
)
_EMAIL_LOCK = sa.select(sa.func.pg_advisory_xact_lock(_bp("key", type_=sa.BigInteger)))

_PASSWORD = passwords.select().where(passwords.c.account_id == _bp("account_id"))
_PASSWORD_OLD = sa.select(passwords.c.hash, passwords.c.set_at).where(
    passwords.c.account_id == _bp("account_id")
)
_PASSWORD_INSERT = _insert(passwords)
_PASSWORD_UPDATE = (
    passwords.update()
    .where(passwords.c.account_id == _bp("b_account_id"))
    .values({name: _bp(name) for name in ("hash", "temporary", "set_at", "expires_at")})
)
_HISTORY_INSERT = _insert(password_history)
_HISTORY = (
    password_history.select()
    .where(_ph.account_id == _bp("account_id"))
    .order_by(_ph.set_at.desc(), _ph.id.desc())
    .limit(_bp("limit"))
)
_HISTORY_KEPT = (
    sa.select(_ph.id)
    .where(_ph.account_id == _bp("account_id"))
    .order_by(_ph.set_at.desc(), _ph.id.desc())
    .limit(_bp("keep"))
)
_HISTORY_TRIM = password_history.delete().where(
    _ph.account_id == _bp("account_id"), _ph.id.not_in(_HISTORY_KEPT.scalar_subquery())
)

_QUESTION = questions.select().where(_q.account_id == _bp("account_id"))
_QUESTION_INSERT = _insert(questions)
_QUESTION_UPDATE = (
    questions.update()
    .where(_q.account_id == _bp("b_account_id"))
    .values({name: _bp(name) for name in ("question", "answer_hash", "set_at")})
)

_TOKEN_INSERT = _insert(tokens)
_TOKEN = tokens.select().where(_t.nonce_hash == _bp("nonce_hash"))
_TOKEN_CLAIM = (
    tokens.update()
    .where(
        _t.nonce_hash == _bp("b_nonce_hash"),
        _t.purpose == _bp("b_purpose"),
        _t.used_at.is_(None),
        _t.expires_at >= _bp("at"),
    )
    .values(used_at=_bp("at"))
)
_TOKENS_VOID = (
    tokens.update()
    .where(_t.account_id == _bp("b_account_id"), _t.used_at.is_(None))
    .values(used_at=_bp("at"))
)
_TOKENS_VOID_PURPOSE = _TOKENS_VOID.where(_t.purpose == _bp("b_purpose"))
_TOKENS_PURGE = tokens.delete().where(_t.expires_at < _bp("before"))

_FLOW_INSERT = _insert(flows)
_FLOW = flows.select().where(_f.handle_hash == _bp("handle_hash"))
_FLOW_ADVANCE = (
    flows.update()
    .where(
        _f.handle_hash == _bp("b_handle_hash"),
        _f.state == _bp("b_state"),
        _f.version == _bp("b_version"),
    )
    .values({c.name: _bp(c.name) for c in flows.columns if c.name != "handle_hash"})
)
_FLOW_DELETE = flows.delete().where(_f.handle_hash == _bp("handle_hash"))
_FLOWS_PURGE = flows.delete().where(_f.expires_at < _bp("before"))

_ORGANISATION_INSERT = _insert(organisations)
_ORGANISATION = organisations.select().where(_o.id == _bp("id"))
_ORGANISATION_BY_NUMBER = organisations.select().where(_o.registration_number == _bp("number"))

_MEMBERSHIP_INSERT = _insert(memberships)
_MEMBERSHIP = memberships.select().where(
    _m.account_id == _bp("account_id"), _m.organisation_id == _bp("organisation_id")
)
_MEMBERSHIP_UPDATE = (
    memberships.update()
    .where(
        _m.account_id == _bp("b_account_id"),
        _m.organisation_id == _bp("b_organisation_id"),
        _m.version == _bp("b_version"),
    )
    .values(
        {
            c.name: _bp(c.name)
            for c in memberships.columns
            if c.name not in ("account_id", "organisation_id")
        }
    )
)
_MEMBERSHIPS_OF = (
    memberships.select().where(_m.account_id == _bp("account_id")).order_by(_m.organisation_id)
)
_MEMBERS = (
    memberships.select()
    .where(_m.organisation_id == _bp("organisation_id"))
    .order_by(_m.account_id)
    .limit(_bp("limit"))
)
_MEMBERS_AFTER = _MEMBERS.where(_m.account_id > _bp("after"))

_FACTORS = mfa_factors.select().where(_mf.account_id == _bp("account_id")).order_by(_mf.kind)
_FACTOR_DELETE = mfa_factors.delete().where(
    _mf.account_id == _bp("account_id"), _mf.kind == _bp("kind")
)
# One conditional UPDATE (OT-04): a racer that waited on the row lock re-checks
# ``last_step < :step`` against the committed row, so only one caller gets a row.
_TOTP_STEP = (
    mfa_factors.update()
    .where(
        _mf.account_id == _bp("b_account_id"),
        _mf.kind == MfaKind.TOTP.value,
        _mf.last_step < _bp("step"),
    )
    .values(last_step=_bp("step"))
)

_CODES_DELETE = recovery_codes.delete().where(_rc.account_id == _bp("account_id"))
_CODE_INSERT = _insert(recovery_codes)
_CODES_BY_SELECTOR = recovery_codes.select().where(
    _rc.account_id == _bp("account_id"), _rc.selector == _bp("selector"), _rc.used_at.is_(None)
)
# One conditional UPDATE (RC-03), like a token consume.
_CODE_USE = (
    recovery_codes.update()
    .where(
        _rc.account_id == _bp("b_account_id"),
        _rc.code_hash == _bp("b_code_hash"),
        _rc.used_at.is_(None),
    )
    .values(used_at=_bp("used_at"))
)
_CODES_LEFT = (
    sa.select(sa.func.count())
    .select_from(recovery_codes)
    .where(_rc.account_id == _bp("account_id"), _rc.used_at.is_(None))
)

_COUNTER = sa.select(_c.value).where(_c.key == _bp("key"))
_COUNTER_DELETE = counters.delete().where(_c.key == _bp("key"))
_COUNTERS_PURGE = counters.delete().where(_c.updated_at < _bp("before"))
_COUNTERS_PURGE_PREFIX = _COUNTERS_PURGE.where(_c.key.like(_bp("pattern"), escape="/"))

_EVENT_INSERT = _insert(events)
_EVENTS = events.select().order_by(_e.id).limit(_bp("limit"))
_EVENTS_QUERIES = {  # by (account_id given, since given)
    (False, False): _EVENTS,
    (True, False): _EVENTS.where(_e.account_id == _bp("account_id")),
    (False, True): _EVENTS.where(_e.at >= _bp("since")),
    (True, True): _EVENTS.where(_e.account_id == _bp("account_id"), _e.at >= _bp("since")),
}
_EVENTS_PSEUDONYMISE = (
    events.update().where(_e.account_id == _bp("b_account_id")).values(account_id=_bp("pseudonym"))
)


def _upserts(insert: Any) -> tuple[Any, Any]:
    """The two upserts of a dialect (its own ``insert``): the counter increment, which returns
    the new value, and the second factor's insert-or-replace."""
    count = insert(counters)
    increment = count.on_conflict_do_update(
        index_elements=[_c.key],
        set_={"value": _c.value + 1, "updated_at": count.excluded.updated_at},
    ).returning(_c.value)
    factor = insert(mfa_factors)
    replaced = ("secret", "phone", "confirmed", "last_step", "created_at")
    save_factor = factor.on_conflict_do_update(
        index_elements=[_mf.account_id, _mf.kind],
        set_={name: factor.excluded[name] for name in replaced},
    )
    return increment, save_factor


_UPSERTS = {"sqlite": _upserts(sqlite.insert), "postgresql": _upserts(postgresql.insert)}

_DUPLICATE_IDENTIFIER = (DuplicateIdentifier, "identifier already taken")
_DUPLICATE_ORGANISATION = (DuplicateOrganisation, "organisation already registered")
_DUPLICATE_MEMBERSHIP = (DuplicateMembership, "already a member of this organisation")
_DUPLICATE_TOKEN = (ValueError, "token already stored")
_DUPLICATE_FLOW = (ValueError, "flow already stored")

_Duplicate = tuple[type[Exception], str]
_UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError)


# -- statements, transactions and error translation ------------------------------------------


def _translated(exc: sa.exc.DBAPIError, duplicate: _Duplicate | None = None) -> Exception:
    """credflow's error for a driver error: the call's own duplicate error for an integrity
    error, StorageUnavailable when the database cannot be reached or used, else StorageError.
    The message names the driver's error class, never a value."""
    if duplicate is not None and isinstance(exc, sa.exc.IntegrityError):
        return duplicate[0](duplicate[1])
    if isinstance(exc, _UNAVAILABLE):
        return StorageUnavailable(f"database unavailable: {type(exc.orig).__name__}")
    return StorageError(f"database error: {type(exc.orig).__name__}")


def _wrapped(exc: Exception, sql: str | None, dialect: sa.Dialect) -> sa.exc.DBAPIError:
    """SQLAlchemy's exception for a driver error (``OperationalError``, ``IntegrityError``…), as
    SQLAlchemy's own execution would raise it, without the parameters: they may hold hashes."""
    error = sa.exc.DBAPIError.instance(
        sql, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect
    )
    assert isinstance(error, sa.exc.DBAPIError)
    return error


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A statement compiled for one dialect: its SQL, and how a dict of values becomes the
    driver's parameters (a tuple in ``order`` for SQLite's ``?``; the dict itself for psycopg's
    ``%(name)s``). ``fixed`` holds the values the statement carries itself (``kind = 'totp'``)."""

    sql: str
    order: tuple[str, ...] | None
    fixed: dict[str, Any]

    @classmethod
    def of(cls, statement: Any, dialect: sa.Dialect) -> _Compiled:
        compiled = statement.compile(dialect=dialect)
        fixed = {
            name: bind.effective_value
            for bind, name in compiled.bind_names.items()
            if not bind.required
        }
        order = tuple(compiled.positiontup) if compiled.positional else None
        return cls(compiled.string, order, fixed)

    def parameters(self, values: dict[str, Any]) -> Any:
        if self.fixed:
            values = {**self.fixed, **values}
        if self.order is None:
            return values
        return tuple(map(values.__getitem__, self.order))


def _json(value: Any) -> Any:
    """A JSON column's value: SQLite returns the text, psycopg the decoded value. Every JSON
    column holds an object or an array, so a ``str`` can only be the text."""
    return json.loads(value) if isinstance(value, str) else value


class _Pool:
    """Driver connections from the engine's pool: PostgreSQL, and SQLite in memory (one shared
    connection). Each transaction checks one out and back in.

    With ``refresh`` (PostgreSQL), a connection found lost also empties the pool, as
    SQLAlchemy's own execution does: after a server restart or a failover, the other pooled
    connections are lost too, and each would otherwise fail one call before being replaced."""

    __slots__ = ("_engine", "_refresh")

    def __init__(self, engine: Engine, *, refresh: bool = False) -> None:
        self._engine = engine
        self._refresh = refresh

    def take(self) -> tuple[Any, Any]:
        """A driver connection, and what ``give`` needs to return it."""
        pooled = self._engine.raw_connection()
        return pooled.driver_connection, pooled

    def give(self, handle: Any, broken: bool) -> None:
        if not broken:
            handle.close()
            return
        handle.invalidate()  # closed, and replaced by a new connection when next needed
        if self._refresh:
            self._engine.dispose()  # the idle ones are closed; ones in use end with their owner

    def clear(self) -> None:
        """Nothing kept outside the engine's pool."""


class _Kept:
    """The driver connections of a SQLite file, kept by the storage between transactions.

    A transaction takes the connection used last (its page cache is the warmest) or, when none
    is idle, has the engine's pool make one (so the engine's connect events run: WAL, the
    isolation level, any the host added) and detaches it from the pool. Up to ``keep`` idle
    connections are kept; the rest, and a broken one, are closed. As with the pool, at most
    ``2 × keep`` are in use at once, and a transaction waits up to ``timeout`` seconds for one to
    come back before giving up (``sqlalchemy.exc.TimeoutError``). SQLAlchemy's checkout and
    check-in cost a login as much as its statements, after an argon2 pass has emptied the CPU
    caches; a SQLite connection needs none of what they do (no server to ping, nothing to
    recycle, the transaction always ended by ``close``).
    """

    __slots__ = (
        "_busy",
        "_engine",
        "_free",
        "_generation",
        "_idle",
        "_inherited",
        "_keep",
        "_pid",
        "_timeout",
        "_waiting",
    )

    def __init__(self, engine: Engine, keep: int, timeout: float = 30.0) -> None:
        self._engine = engine
        self._keep = keep
        self._timeout = timeout
        self._idle: list[Any] = []
        self._busy = 0  # connections in use, at most 2 × keep
        self._waiting = 0
        self._generation = 0  # bumped by ``clear``: connections taken before it are closed
        self._pid = os.getpid()
        self._inherited: list[Any] = []  # a parent process's connections, never used or closed
        # A plain lock and counter: threading.Semaphore, written in Python over a Condition,
        # cost a cold transaction 40 µs.
        self._free = threading.Condition(threading.Lock())

    def take(self) -> tuple[Any, Any]:
        with self._free:
            if self._pid != os.getpid():
                self._forked()
            if self._busy >= 2 * self._keep:
                self._waiting += 1
                try:
                    if not self._free.wait_for(lambda: self._busy < 2 * self._keep, self._timeout):
                        raise sa.exc.TimeoutError(f"all {2 * self._keep} connections in use")
                finally:
                    self._waiting -= 1
            self._busy += 1
            generation = self._generation
            if self._idle:
                dbapi = self._idle.pop()
                return dbapi, (dbapi, generation, self._pid)
        try:
            pooled = self._engine.raw_connection()
        except BaseException:
            self._release(None, generation)
            raise
        dbapi = pooled.driver_connection
        pooled.detach()
        return dbapi, (dbapi, generation, self._pid)

    def give(self, handle: Any, broken: bool) -> None:
        dbapi, generation, pid = handle
        if pid != os.getpid():  # taken before a fork by the thread that forked: set aside
            with self._free:
                self._inherited.append(dbapi)
            return
        # A transaction left open (the commit interrupted, say) would hold the file's write lock
        # for whoever takes the connection next: such a connection is closed, never kept.
        if broken or dbapi.in_transaction:
            self._release(None, generation)
            with contextlib.suppress(Exception):
                dbapi.close()
        else:
            self._release(dbapi, generation)

    def _release(self, dbapi: Any, generation: int) -> None:
        """One connection less in use; ``dbapi`` kept when there is room, else closed."""
        with self._free:
            self._busy -= 1
            if self._waiting:
                self._free.notify()
            current = generation == self._generation
            if dbapi is None or (current and len(self._idle) < self._keep):
                if dbapi is not None:
                    self._idle.append(dbapi)
                return
        with contextlib.suppress(Exception):
            dbapi.close()

    def _forked(self) -> None:
        """In a child process: SQLite forbids using, or closing, a connection opened before the
        fork, so the parent's are set aside for good and the child opens its own."""
        self._inherited += self._idle
        self._idle = []
        self._busy = 0
        self._generation += 1
        self._pid = os.getpid()

    def clear(self) -> None:
        """Close the idle connections; those in use are closed when they come back."""
        with self._free:
            if self._pid != os.getpid():
                self._forked()
                return
            idle, self._idle = self._idle, []
            self._generation += 1
        for dbapi in idle:
            with contextlib.suppress(Exception):
                dbapi.close()


class _Local(threading.local):
    """Each thread's open transaction, or None."""

    tx: _Transaction | None = None


class _Transaction:
    """A ``storage.transaction()`` block, and the statements run inside it.

    The outermost block of a thread takes a driver connection (from the engine's pool, or one a
    SQLite file storage kept), begins (``BEGIN IMMEDIATE`` on SQLite; psycopg begins by itself)
    and commits, or rolls back after an error, when it ends; nested blocks join it. Statements
    run on the driver's connection, in the SQL that SQLAlchemy compiled once for the storage's
    dialect: on the login path SQLAlchemy's per-statement machinery (execution contexts, result
    objects, connection and transaction wrappers) cost more than the statements themselves.
    Driver errors leave as SQLAlchemy's exceptions; a connection the dialect finds broken is
    closed, never used again.
    A class, not a generator: every call made outside a transaction runs one, so its cost counts.
    """

    __slots__ = ("_broken", "_dbapi", "_handle", "_storage")

    def __init__(self, storage: SQLStorage) -> None:
        self._storage = storage
        self._handle: Any = None  # what the storage's connections need to take the driver's back
        self._dbapi: Any = None
        self._broken = False

    def __enter__(self) -> None:
        if self._storage._local.tx is None:
            self.open()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._handle is None:
            return  # a nested block: the outermost one ends the transaction
        self.close(exc)
        if isinstance(exc, _UNAVAILABLE):
            raise _translated(exc) from exc

    def open(self) -> _Transaction:
        """Check a connection out, begin this thread's transaction, and return it."""
        storage = self._storage
        serial = storage._serial
        if serial is not None:
            serial.acquire()
        try:
            dialect = storage._engine.dialect
            try:
                dbapi, handle = storage._connections.take()
            except dialect.loaded_dbapi.Error as exc:
                raise _wrapped(exc, None, dialect) from exc
            except sa.exc.TimeoutError as exc:  # every connection busy for the pool's timeout
                raise StorageUnavailable("database unavailable: no free connection") from exc
            try:
                storage._begin(dbapi)
            except dialect.loaded_dbapi.Error as exc:  # a file locked too long, a lost server
                storage._connections.give(handle, dialect.is_disconnect(exc, dbapi, None))
                raise _wrapped(exc, "BEGIN", dialect) from exc
            except BaseException:  # interrupted: the connection's state is unknown
                storage._connections.give(handle, True)
                raise
        except BaseException as exc:
            if serial is not None:
                serial.release()
            if isinstance(exc, _UNAVAILABLE):
                raise _translated(exc) from exc
            raise
        self._handle = handle
        self._dbapi = dbapi
        storage._local.tx = self
        return self

    def close(self, exc: BaseException | None) -> None:
        """Commit, or roll back when ``exc`` ended the block; give the connection back."""
        storage = self._storage
        handle, dbapi, broken = self._handle, self._dbapi, self._broken
        assert handle is not None
        storage._local.tx = self._handle = self._dbapi = None
        dialect = storage._engine.dialect
        try:
            try:
                if broken:  # nothing to commit or roll back on a lost connection
                    if exc is None:
                        raise StorageUnavailable("database unavailable: the connection was lost")
                elif exc is None:
                    broken = True  # until the commit is done: interrupted, its state is unknown
                    try:
                        storage._commit(dbapi)
                    except dialect.loaded_dbapi.Error as late:
                        lost = dialect.is_disconnect(late, dbapi, None)
                        broken = lost or not _rolled_back(dbapi, dialect)
                        raise _wrapped(late, "COMMIT", dialect) from late
                    broken = False
                else:  # the block's own error goes on; a connection that cannot roll back goes
                    broken = True  # likewise until the rollback is done
                    broken = not _rolled_back(dbapi, dialect)
            finally:
                storage._connections.give(handle, broken)
        except _UNAVAILABLE as late:
            raise _translated(late) from late
        finally:
            if storage._serial is not None:
                storage._serial.release()

    def rows(self, statement: Any, values: dict[str, Any]) -> list[Any]:
        """Run a query and return its rows: tuples in the order of its columns."""
        return self._run(statement, values, _FETCH)  # type: ignore[no-any-return]

    def write(self, statement: Any, values: dict[str, Any]) -> int:
        """Run a write and return the number of rows it changed."""
        return self._run(statement, values, _COUNT)  # type: ignore[no-any-return]

    def write_many(self, statement: Any, rows: list[dict[str, Any]]) -> None:
        """Run a write once per dict of values, in one driver call."""
        self._run(statement, rows, _MANY)

    def _run(self, statement: Any, values: Any, mode: int) -> Any:
        storage = self._storage
        compiled = storage._statements.get(statement)
        if compiled is None:
            compiled = _Compiled.of(statement, storage._engine.dialect)
            storage._statements[statement] = compiled
        if self._broken:  # a statement found the connection lost: nothing more can run on it
            raise StorageUnavailable("database unavailable: the connection was lost")
        cursor = None
        try:
            cursor = self._dbapi.cursor()
            if mode == _MANY:
                cursor.executemany(compiled.sql, [compiled.parameters(v) for v in values])
                return None
            cursor.execute(compiled.sql, compiled.parameters(values))
            return cursor.fetchall() if mode == _FETCH else cursor.rowcount
        except storage._engine.dialect.loaded_dbapi.Error as exc:
            dialect = storage._engine.dialect
            self._broken = self._broken or dialect.is_disconnect(exc, self._dbapi, cursor)
            raise _wrapped(exc, compiled.sql, dialect) from exc
        finally:
            if cursor is not None:
                cursor.close()


_FETCH, _COUNT, _MANY = range(3)


def _rolled_back(dbapi_connection: Any, dialect: sa.Dialect) -> bool:
    """Roll back; False when even that failed (the connection is then closed, not kept)."""
    try:
        dbapi_connection.rollback()
    except dialect.loaded_dbapi.Error:
        return False
    return True


class _Use:
    """``with _Use(storage) as tx:`` around the statements of one storage call: the thread's
    transaction, or a transaction of the call's own. Driver errors leave as credflow's
    (``duplicate`` names the call's error for an integrity error), with SQLAlchemy's as cause."""

    __slots__ = ("_duplicate", "_own", "_storage")

    def __init__(self, storage: SQLStorage, duplicate: _Duplicate | None = None) -> None:
        self._storage = storage
        self._duplicate = duplicate
        self._own: _Transaction | None = None

    def __enter__(self) -> _Transaction:
        tx = self._storage._local.tx
        if tx is not None:
            return tx
        own = self._own = _Transaction(self._storage)
        try:
            return own.open()
        except sa.exc.DBAPIError as exc:
            raise _translated(exc, self._duplicate) from exc

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        own = self._own
        if own is not None:
            try:
                own.close(exc)
            except sa.exc.DBAPIError as late:
                raise _translated(late, self._duplicate) from late
        if isinstance(exc, sa.exc.DBAPIError):
            raise _translated(exc, self._duplicate) from exc


class SQLStorage:
    """Storage over a SQLAlchemy engine: ``SQLStorage("sqlite:///portal.db")`` or a PostgreSQL URL.

    ``postgresql://`` URLs use psycopg 3. Pass ``create=True`` to create the tables. A SQLite
    file runs in WAL mode with ``synchronous=NORMAL`` (a commit does not wait for the disk; a
    power cut may lose the last commits, never the file); ``durable=True`` keeps ``FULL``.
    """

    def __init__(
        self,
        url: str | Engine,
        *,
        create: bool = False,
        pool_size: int = 20,
        durable: bool = False,
    ) -> None:
        self._engine = url if isinstance(url, Engine) else _make_engine(url, pool_size, durable)
        dialect = self._engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ConfigurationError(f"unsupported database {dialect!r} (sqlite, postgresql)")
        self._dialect = dialect
        self._increment, self._save_factor = _UPSERTS[dialect]
        self._local = _Local()
        self._statements: dict[Any, _Compiled] = {}  # each statement compiled once, on first use
        self._begin: Callable[[Any], None] = _begin_immediate if dialect == "sqlite" else _nothing
        self._commit: Callable[[Any], None] = _commit
        memory = dialect == "sqlite" and self._engine.url.database in (None, "", ":memory:")
        # One shared connection (StaticPool): a lock makes its transactions take turns.
        self._serial = threading.RLock() if memory else None
        file = dialect == "sqlite" and not memory
        self._connections: _Pool | _Kept = (
            _Kept(self._engine, pool_size)
            if file
            else _Pool(self._engine, refresh=dialect == "postgresql")
        )
        if create:
            self.create_schema()

    def __repr__(self) -> str:
        return f"SQLStorage({self._engine.url.render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine."""
        return self._engine

    def create_schema(self) -> None:
        """Create credflow's tables and indexes if they do not exist."""
        if self._serial is not None:
            self._serial.acquire()
        try:
            metadata.create_all(self._engine)
        except sa.exc.DBAPIError as exc:
            raise _translated(exc) from exc
        finally:
            if self._serial is not None:
                self._serial.release()

    def dispose(self) -> None:
        """Close the idle connections, the storage's and the engine pool's."""
        self._connections.clear()
        self._engine.dispose()

    # -- transactions ------------------------------------------------------------------------

    def transaction(self) -> AbstractContextManager[None]:
        return _Transaction(self)

    # -- accounts ----------------------------------------------------------------------------

    def create_account(self, account: Account) -> None:
        with _Use(self, _DUPLICATE_IDENTIFIER) as tx:
            tx.write(_ACCOUNT_INSERT, _account_row(account))

    def get_account(self, account_id: str) -> Account | None:
        with _Use(self) as tx:
            row = _first(tx.rows(_ACCOUNT_BY_ID, {"id": account_id}))
        return None if row is None else _account(row)

    def find_account(self, identifier_key: str) -> Account | None:
        with _Use(self) as tx:
            row = _first(tx.rows(_ACCOUNT_BY_KEY, {"key": identifier_key}))
        return None if row is None else _account(row)

    def find_accounts_by_email(self, email_key: str) -> list[Account]:
        with _Use(self) as tx:
            return [_account(row) for row in tx.rows(_ACCOUNTS_BY_EMAIL, {"key": email_key})]

    def list_accounts(self, *, after: str | None = None, limit: int = 100) -> list[Account]:
        check_pagination(limit)
        with _Use(self) as tx:
            if after is None:
                rows = tx.rows(_ACCOUNTS_PAGE, {"limit": limit})
            else:
                rows = tx.rows(_ACCOUNTS_PAGE_AFTER, {"limit": limit, "after": after})
            return [_account(row) for row in rows]

    def update_account(self, account: Account) -> Account:
        stored = account.model_copy(update={"version": account.version + 1})
        values = _account_row(stored)  # every field is replaced: what returns is what is stored
        del values["id"]
        values["b_id"] = account.id
        values["b_version"] = account.version
        with _Use(self, _DUPLICATE_IDENTIFIER) as tx:
            if tx.write(_ACCOUNT_UPDATE, values) != 1:
                raise ConcurrentUpdate("account changed since it was read")
        return stored

    def delete_account(self, account_id: str) -> bool:
        key = {"account_id": account_id}
        with _Use(self) as tx:
            for statement in _DEPENDENTS_DELETE:
                tx.write(statement, key)
            return bool(tx.write(_ACCOUNT_DELETE, key))

    def lock_email(self, email_key: str) -> None:
        """On PostgreSQL, take a transaction-scoped advisory lock on the email key: another
        transaction locking the same key waits until this one commits or rolls back. Nothing on
        SQLite, whose transactions are already serial (``BEGIN IMMEDIATE``)."""
        if self._dialect != "postgresql":
            return
        with _Use(self) as tx:
            tx.write(_EMAIL_LOCK, {"key": email_lock_key(email_key)})

    # -- credentials -------------------------------------------------------------------------

    def get_password(self, account_id: str) -> PasswordCredential | None:
        with _Use(self) as tx:
            row = _first(tx.rows(_PASSWORD, {"account_id": account_id}))
        if row is None:
            return None
        account_id, hash_, temporary, set_at, expires_at = row
        return PasswordCredential(
            account_id=account_id,
            hash=hash_,
            temporary=bool(temporary),
            set_at=_dt(set_at),
            expires_at=None if expires_at is None else _dt(expires_at),
        )

    def set_password(self, credential: PasswordCredential, *, keep_history: int = 0) -> None:
        account_id = credential.account_id
        values: dict[str, Any] = {
            "hash": credential.hash,
            "temporary": credential.temporary,
            "set_at": _us(credential.set_at),
            "expires_at": _us_or_none(credential.expires_at),
        }
        with _Use(self) as tx:
            old = _first(tx.rows(_PASSWORD_OLD, {"account_id": account_id}))
            if old is None:
                values["account_id"] = account_id
                tx.write(_PASSWORD_INSERT, values)
                return
            values["b_account_id"] = account_id
            tx.write(_PASSWORD_UPDATE, values)
            if keep_history > 0:
                old_hash, old_set_at = old
                tx.write(
                    _HISTORY_INSERT,
                    {"account_id": account_id, "hash": old_hash, "set_at": old_set_at},
                )
                tx.write(_HISTORY_TRIM, {"account_id": account_id, "keep": keep_history})

    def password_history(self, account_id: str, limit: int) -> list[PasswordHistoryEntry]:
        with _Use(self) as tx:
            rows = tx.rows(_HISTORY, {"account_id": account_id, "limit": limit})
            return [
                PasswordHistoryEntry(account_id=account, hash=hash_, set_at=_dt(set_at))
                for _, account, hash_, set_at in rows
            ]

    def get_question(self, account_id: str) -> SecurityQuestion | None:
        with _Use(self) as tx:
            row = _first(tx.rows(_QUESTION, {"account_id": account_id}))
        if row is None:
            return None
        account_id, question, answer_hash, set_at = row
        return SecurityQuestion(
            account_id=account_id, question=question, answer_hash=answer_hash, set_at=_dt(set_at)
        )

    def set_question(self, question: SecurityQuestion) -> None:
        values: dict[str, Any] = {
            "question": question.question,
            "answer_hash": question.answer_hash,
            "set_at": _us(question.set_at),
            "b_account_id": question.account_id,
        }
        with _Use(self) as tx:
            if tx.write(_QUESTION_UPDATE, values) == 0:
                values["account_id"] = values.pop("b_account_id")
                tx.write(_QUESTION_INSERT, values)

    # -- tokens ------------------------------------------------------------------------------

    def save_token(self, token: TokenRecord) -> None:
        with _Use(self, _DUPLICATE_TOKEN) as tx:
            tx.write(_TOKEN_INSERT, _token_row(token))

    def get_token(self, nonce_hash: str) -> TokenRecord | None:
        with _Use(self) as tx:
            row = _first(tx.rows(_TOKEN, {"nonce_hash": nonce_hash}))
        return None if row is None else _token(row)

    def consume_token(
        self, nonce_hash: str, purpose: str, now: datetime
    ) -> tuple[ConsumeOutcome, TokenRecord | None]:
        claim = {"b_nonce_hash": nonce_hash, "b_purpose": purpose, "at": _us(now)}
        with _Use(self) as tx:
            won = tx.write(_TOKEN_CLAIM, claim) == 1
            row = _first(tx.rows(_TOKEN, {"nonce_hash": nonce_hash}))
        if row is None:
            return ConsumeOutcome.UNKNOWN, None
        record = _token(row)
        if record.purpose != purpose:
            return ConsumeOutcome.UNKNOWN, None
        if won:
            return ConsumeOutcome.CONSUMED, record
        if record.used_at is not None:
            return ConsumeOutcome.USED, record
        return ConsumeOutcome.EXPIRED, record

    def void_tokens(self, account_id: str, purpose: str | None, now: datetime) -> int:
        values: dict[str, Any] = {"b_account_id": account_id, "at": _us(now)}
        statement = _TOKENS_VOID
        if purpose is not None:
            statement = _TOKENS_VOID_PURPOSE
            values["b_purpose"] = purpose
        with _Use(self) as tx:
            return int(tx.write(statement, values))

    # -- flows -------------------------------------------------------------------------------

    def save_flow(self, flow: FlowRecord) -> None:
        with _Use(self, _DUPLICATE_FLOW) as tx:
            tx.write(_FLOW_INSERT, _flow_row(flow))

    def get_flow(self, handle_hash: str) -> FlowRecord | None:
        with _Use(self) as tx:
            row = _first(tx.rows(_FLOW, {"handle_hash": handle_hash}))
        return None if row is None else _flow(row)

    def advance_flow(self, flow: FlowRecord, *, expected_state: str) -> FlowRecord:
        stored = flow.model_copy(update={"version": flow.version + 1})
        values = _flow_row(stored)
        del values["handle_hash"]
        values["b_handle_hash"] = flow.handle_hash
        values["b_state"] = expected_state
        values["b_version"] = flow.version
        with _Use(self) as tx:
            if tx.write(_FLOW_ADVANCE, values) != 1:
                raise ConcurrentUpdate("flow changed since it was read")
        return stored

    def delete_flow(self, handle_hash: str) -> bool:
        with _Use(self) as tx:
            return bool(tx.write(_FLOW_DELETE, {"handle_hash": handle_hash}))

    def purge_expired(self, before: datetime) -> int:
        cutoff = {"before": _us(before)}
        with _Use(self) as tx:
            gone = tx.write(_FLOWS_PURGE, cutoff)
            gone += tx.write(_TOKENS_PURGE, cutoff)
            return int(gone)

    # -- organisations and memberships -------------------------------------------------------

    def create_organisation(self, organisation: Organisation) -> None:
        row = {
            "id": organisation.id,
            "name": organisation.name,
            "registration_number": organisation.registration_number,
            "created_at": _us(organisation.created_at),
        }
        with _Use(self, _DUPLICATE_ORGANISATION) as tx:
            tx.write(_ORGANISATION_INSERT, row)

    def get_organisation(self, organisation_id: str) -> Organisation | None:
        with _Use(self) as tx:
            row = _first(tx.rows(_ORGANISATION, {"id": organisation_id}))
        return None if row is None else _organisation(row)

    def find_organisation(self, registration_number: str) -> Organisation | None:
        with _Use(self) as tx:
            row = _first(tx.rows(_ORGANISATION_BY_NUMBER, {"number": registration_number}))
        return None if row is None else _organisation(row)

    def create_membership(self, membership: Membership) -> None:
        with _Use(self, _DUPLICATE_MEMBERSHIP) as tx:
            tx.write(_MEMBERSHIP_INSERT, _membership_row(membership))

    def get_membership(self, account_id: str, organisation_id: str) -> Membership | None:
        key = {"account_id": account_id, "organisation_id": organisation_id}
        with _Use(self) as tx:
            row = _first(tx.rows(_MEMBERSHIP, key))
        return None if row is None else _membership(row)

    def update_membership(self, membership: Membership) -> Membership:
        stored = membership.model_copy(update={"version": membership.version + 1})
        values = _membership_row(stored)
        values["b_account_id"] = values.pop("account_id")
        values["b_organisation_id"] = values.pop("organisation_id")
        values["b_version"] = membership.version
        with _Use(self) as tx:
            if tx.write(_MEMBERSHIP_UPDATE, values) != 1:
                raise ConcurrentUpdate("membership changed since it was read")
        return stored

    def memberships_of(self, account_id: str) -> list[Membership]:
        with _Use(self) as tx:
            rows = tx.rows(_MEMBERSHIPS_OF, {"account_id": account_id})
            return [_membership(row) for row in rows]

    def members_of(
        self, organisation_id: str, *, after: str | None = None, limit: int = 100
    ) -> list[Membership]:
        check_pagination(limit)
        values: dict[str, Any] = {"organisation_id": organisation_id, "limit": limit}
        statement = _MEMBERS
        if after is not None:
            statement = _MEMBERS_AFTER
            values["after"] = after
        with _Use(self) as tx:
            return [_membership(row) for row in tx.rows(statement, values)]

    # -- second factors ----------------------------------------------------------------------

    def save_mfa_factor(self, factor: MfaFactor) -> None:
        row = {
            "account_id": factor.account_id,
            "kind": factor.kind.value,
            "secret": factor.secret,
            "phone": factor.phone,
            "confirmed": factor.confirmed,
            "last_step": factor.last_step,
            "created_at": _us(factor.created_at),
        }
        with _Use(self) as tx:
            tx.write(self._save_factor, row)

    def mfa_factors(self, account_id: str) -> list[MfaFactor]:
        with _Use(self) as tx:
            return [
                MfaFactor(
                    account_id=account,
                    kind=kind,
                    secret=secret,
                    phone=phone,
                    confirmed=bool(confirmed),
                    last_step=last_step,
                    created_at=_dt(created_at),
                )
                for account, kind, secret, phone, confirmed, last_step, created_at in tx.rows(
                    _FACTORS, {"account_id": account_id}
                )
            ]

    def delete_mfa_factor(self, account_id: str, kind: MfaKind) -> bool:
        key = {"account_id": account_id, "kind": MfaKind(kind).value}
        with _Use(self) as tx:
            return bool(tx.write(_FACTOR_DELETE, key))

    def use_totp_step(self, account_id: str, step: int) -> bool:
        with _Use(self) as tx:
            return tx.write(_TOTP_STEP, {"b_account_id": account_id, "step": step}) == 1

    def replace_recovery_codes(self, account_id: str, codes: list[RecoveryCode]) -> None:
        if any(code.account_id != account_id for code in codes):
            raise ValueError("every recovery code must belong to the account")
        if len({code.code_hash for code in codes}) != len(codes):
            raise ValueError("recovery codes must be distinct")
        with _Use(self) as tx:
            tx.write(_CODES_DELETE, {"account_id": account_id})
            if codes:
                tx.write_many(
                    _CODE_INSERT,
                    [
                        {
                            "account_id": code.account_id,
                            "code_hash": code.code_hash,
                            "selector": code.selector,
                            "created_at": _us(code.created_at),
                            "used_at": _us_or_none(code.used_at),
                        }
                        for code in codes
                    ],
                )

    def recovery_codes(self, account_id: str, selector: str) -> list[RecoveryCode]:
        key = {"account_id": account_id, "selector": selector}
        with _Use(self) as tx:
            return [
                RecoveryCode(
                    account_id=account,
                    code_hash=code_hash,
                    selector=selector_,
                    created_at=_dt(created_at),
                    used_at=None if used_at is None else _dt(used_at),
                )
                for account, code_hash, selector_, created_at, used_at in tx.rows(
                    _CODES_BY_SELECTOR, key
                )
            ]

    def use_recovery_code(self, account_id: str, code_hash: str, now: datetime) -> bool:
        values = {"b_account_id": account_id, "b_code_hash": code_hash, "used_at": _us(now)}
        with _Use(self) as tx:
            return tx.write(_CODE_USE, values) == 1

    def recovery_codes_left(self, account_id: str) -> int:
        with _Use(self) as tx:
            return int(tx.rows(_CODES_LEFT, {"account_id": account_id})[0][0])

    # -- counters ----------------------------------------------------------------------------

    def increment_counter(self, key: str, now: datetime) -> int:
        values = {"key": key, "value": 1, "updated_at": _us(now)}
        with _Use(self) as tx:
            return int(tx.rows(self._increment, values)[0][0])

    def get_counter(self, key: str) -> int:
        with _Use(self) as tx:
            row = _first(tx.rows(_COUNTER, {"key": key}))
        return 0 if row is None else int(row[0])

    def reset_counter(self, key: str) -> None:
        with _Use(self) as tx:
            tx.write(_COUNTER_DELETE, {"key": key})

    def purge_counters(self, before: datetime, prefix: str = "") -> int:
        values: dict[str, Any] = {"before": _us(before)}
        statement = _COUNTERS_PURGE
        if prefix:  # the prefix is literal: escape LIKE's wildcards and the escape character
            statement = _COUNTERS_PURGE_PREFIX
            escaped = prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
            values["pattern"] = escaped + "%"
        with _Use(self) as tx:
            return int(tx.write(statement, values))

    # -- audit -------------------------------------------------------------------------------

    def append_event(self, event: AuditEvent) -> None:
        row = {
            "type": event.type,
            "account_id": event.account_id,
            "at": _us(event.at),
            "details": json.dumps(dict(event.details)),
        }
        with _Use(self) as tx:
            tx.write(_EVENT_INSERT, row)

    def events(
        self, *, account_id: str | None = None, since: datetime | None = None, limit: int = 1000
    ) -> list[AuditEvent]:
        check_pagination(limit)
        values: dict[str, Any] = {"limit": limit}
        if account_id is not None:
            values["account_id"] = account_id
        if since is not None:
            values["since"] = _us(since)
        statement = _EVENTS_QUERIES[account_id is not None, since is not None]
        with _Use(self) as tx:
            return [
                AuditEvent(type=type_, account_id=account, at=_dt(at), details=_json(details))
                for _, type_, account, at, details in tx.rows(statement, values)
            ]

    def pseudonymise_events(self, account_id: str, pseudonym: str) -> int:
        values = {"b_account_id": account_id, "pseudonym": pseudonym}
        with _Use(self) as tx:
            return int(tx.write(_EVENTS_PSEUDONYMISE, values))


def _make_engine(url: str, pool_size: int, durable: bool) -> Engine:
    if not isinstance(url, str) or not url:
        raise ConfigurationError("a database URL is required", field="url")
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigurationError("not a database URL", field="url") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):  # before its driver is imported: no extra helps
        raise ConfigurationError(f"unsupported database {backend!r} (sqlite, postgresql)")
    try:
        if parsed.get_backend_name() == "sqlite":
            kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
            memory = parsed.database in (None, "", ":memory:")
            if memory:
                kwargs["poolclass"] = StaticPool
            else:
                kwargs.update(pool_size=pool_size, max_overflow=pool_size)
            engine = sa.create_engine(parsed, **kwargs)
            _immediate_transactions(engine, None if memory else durable)
            return engine
        return sa.create_engine(parsed, pool_size=pool_size, max_overflow=pool_size)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise MissingDependency(f"the {parsed.get_backend_name()} driver", "postgres") from exc


def _immediate_transactions(engine: Engine, durable: bool | None) -> None:
    """Make pysqlite transactions start with BEGIN IMMEDIATE, and put a file database in WAL
    mode (``durable=None`` for an in-memory one).

    SQLAlchemy's recipe turns off the driver's own transaction handling (``isolation_level =
    None``) and emits the BEGIN itself. It emits it from the dialect's begin step rather than from
    a ``begin`` engine event: the same statement, wrapped in SQLAlchemy's errors the same way, but
    an engine with any connection event listener dispatches events around every statement it runs.
    """

    @event.listens_for(engine, "connect")  # a pool event: nothing to dispatch per statement
    def _connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        if durable is not None:  # a file database: write-ahead log, fewer fsyncs
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            cursor.close()

    # This engine's own dialect instance; other engines keep theirs.
    engine.dialect.do_begin = _begin_immediate  # type: ignore[method-assign]


def _nothing(dbapi_connection: Any) -> None:
    """psycopg begins a transaction by itself at the first statement."""


def _commit(dbapi_connection: Any) -> None:
    dbapi_connection.commit()


def _first(rows: list[Any]) -> Any:
    return rows[0] if rows else None


def _begin_immediate(dbapi_connection: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
    finally:
        cursor.close()


def _account_row(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "identifier": account.identifier,
        "identifier_key": account.identifier_key,
        "email": account.email,
        "email_key": account.email_key,
        "status": account.status.value,
        "required_actions": ",".join(a.value for a in account.required_actions),
        "credential_version": account.credential_version,
        "version": account.version,
        "locked_until": _us_or_none(account.locked_until),
        "lockouts": account.lockouts,
        "session_epoch": account.session_epoch,
        "created_at": _us(account.created_at),
        "updated_at": _us(account.updated_at),
    }


# Rows are unpacked by position, in the column order of their table (``table.select()``); the
# records validate the values (strings become their enums).


def _account(row: Any) -> Account:
    (
        id_,
        identifier,
        key,
        email,
        email_key_,
        status,
        actions,
        credential_version,
        version,
        locked_until,
        lockouts,
        session_epoch,
        created_at,
        updated_at,
    ) = row
    return Account(
        id=id_,
        identifier=identifier,
        identifier_key=key,
        email=email,
        email_key=email_key_,
        status=status,
        required_actions=actions.split(",") if actions else (),
        credential_version=credential_version,
        version=version,
        locked_until=None if locked_until is None else _dt(locked_until),
        lockouts=lockouts,
        session_epoch=session_epoch,
        created_at=_dt(created_at),
        updated_at=_dt(updated_at),
    )


def _token_row(token: TokenRecord) -> dict[str, Any]:
    return {
        "nonce_hash": token.nonce_hash,
        "account_id": token.account_id,
        "purpose": token.purpose,
        "credential_version": token.credential_version,
        "created_at": _us(token.created_at),
        "expires_at": _us(token.expires_at),
        "used_at": _us_or_none(token.used_at),
    }


def _token(row: Any) -> TokenRecord:
    nonce_hash, account_id, purpose, credential_version, created_at, expires_at, used_at = row
    return TokenRecord(
        nonce_hash=nonce_hash,
        account_id=account_id,
        purpose=purpose,
        credential_version=credential_version,
        created_at=_dt(created_at),
        expires_at=_dt(expires_at),
        used_at=None if used_at is None else _dt(used_at),
    )


def _flow_row(flow: FlowRecord) -> dict[str, Any]:
    return {
        "handle_hash": flow.handle_hash,
        "kind": flow.kind,
        "account_id": flow.account_id,
        "state": flow.state,
        "data": json.dumps(dict(flow.data)),
        "attempts": flow.attempts,
        "version": flow.version,
        "created_at": _us(flow.created_at),
        "expires_at": _us(flow.expires_at),
    }


def _flow(row: Any) -> FlowRecord:
    handle_hash, kind, account_id, state, data, attempts, version, created_at, expires_at = row
    return FlowRecord(
        handle_hash=handle_hash,
        kind=kind,
        account_id=account_id,
        state=state,
        data=_json(data),
        attempts=attempts,
        version=version,
        created_at=_dt(created_at),
        expires_at=_dt(expires_at),
    )


def _organisation(row: Any) -> Organisation:
    id_, name, registration_number, created_at = row
    return Organisation(
        id=id_, name=name, registration_number=registration_number, created_at=_dt(created_at)
    )


def _membership_row(membership: Membership) -> dict[str, Any]:
    return {
        "account_id": membership.account_id,
        "organisation_id": membership.organisation_id,
        "roles": json.dumps(list(membership.roles)),
        "status": membership.status.value,
        "version": membership.version,
        "created_at": _us(membership.created_at),
        "updated_at": _us(membership.updated_at),
    }


def _membership(row: Any) -> Membership:
    account_id, organisation_id, roles, status, version, created_at, updated_at = row
    return Membership(
        account_id=account_id,
        organisation_id=organisation_id,
        roles=tuple(_json(roles)),
        status=status,
        version=version,
        created_at=_dt(created_at),
        updated_at=_dt(updated_at),
    )
