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
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

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
    AccountStatus,
    AuditEvent,
    ConsumeOutcome,
    FlowRecord,
    Membership,
    MembershipStatus,
    MfaFactor,
    MfaKind,
    Organisation,
    PasswordCredential,
    PasswordHistoryEntry,
    RecoveryCode,
    RequiredAction,
    SecurityQuestion,
    TokenRecord,
)

try:
    import sqlalchemy as sa
    from sqlalchemy import event
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.pool import StaticPool
except ImportError:  # pragma: no cover - exercised only without the extra
    raise MissingDependency("credflow.storage.sql", "sql") from None

__all__ = ["SQLStorage", "email_lock_key", "metadata"]

P = ParamSpec("P")
R = TypeVar("R")

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
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("used_at", sa.BigInteger),
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


def _dt_or_none(value: int | None) -> datetime | None:
    return None if value is None else _dt(value)


def email_lock_key(email_key: str) -> int:
    """The PostgreSQL advisory-lock key of an email key: the first 8 bytes of
    SHA-256(``credflow.email:`` + key), as a signed 64-bit integer (``bigint``)."""
    digest = hashlib.sha256(f"credflow.email:{email_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _translating(method: Callable[P, R]) -> Callable[P, R]:
    """Turn driver errors into credflow's storage errors, keeping the cause."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise StorageUnavailable(f"database unavailable: {type(exc.orig).__name__}") from exc
        except sa.exc.DBAPIError as exc:
            raise StorageError(f"database error: {type(exc.orig).__name__}") from exc

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    wrapper.__qualname__ = method.__qualname__
    return wrapper


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
        self._local = threading.local()
        memory = dialect == "sqlite" and self._engine.url.database in (None, "", ":memory:")
        self._serial: AbstractContextManager[Any] = threading.RLock() if memory else nullcontext()
        if create:
            self.create_schema()

    def __repr__(self) -> str:
        return f"SQLStorage({self._engine.url.render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine."""
        return self._engine

    @_translating
    def create_schema(self) -> None:
        """Create credflow's tables and indexes if they do not exist."""
        with self._serial:
            metadata.create_all(self._engine)

    def dispose(self) -> None:
        """Close pooled connections."""
        self._engine.dispose()

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        try:
            with self._serial, self._engine.begin() as conn:
                self._local.conn = conn
                try:
                    yield
                finally:
                    self._local.conn = None
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise StorageUnavailable(f"database unavailable: {type(exc.orig).__name__}") from exc

    @contextmanager
    def _conn(self) -> Iterator[Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self.transaction():
            yield self._local.conn

    # -- accounts ----------------------------------------------------------------------------

    @_translating
    def create_account(self, account: Account) -> None:
        try:
            with self._conn() as conn:
                conn.execute(accounts.insert().values(**_account_row(account)))
        except sa.exc.IntegrityError as exc:
            raise DuplicateIdentifier("identifier already taken") from exc

    @_translating
    def get_account(self, account_id: str) -> Account | None:
        with self._conn() as conn:
            row = conn.execute(accounts.select().where(accounts.c.id == account_id)).first()
        return None if row is None else _account(row)

    @_translating
    def find_account(self, identifier_key: str) -> Account | None:
        with self._conn() as conn:
            query = accounts.select().where(accounts.c.identifier_key == identifier_key)
            row = conn.execute(query).first()
        return None if row is None else _account(row)

    @_translating
    def find_accounts_by_email(self, email_key: str) -> list[Account]:
        with self._conn() as conn:
            query = (
                accounts.select().where(accounts.c.email_key == email_key).order_by(accounts.c.id)
            )
            return [_account(row) for row in conn.execute(query)]

    @_translating
    def list_accounts(self, *, after: str | None = None, limit: int = 100) -> list[Account]:
        check_pagination(limit)
        query = accounts.select().order_by(accounts.c.id).limit(limit)
        if after is not None:
            query = query.where(accounts.c.id > after)
        with self._conn() as conn:
            return [_account(row) for row in conn.execute(query)]

    @_translating
    def update_account(self, account: Account) -> Account:
        stored = account.model_copy(update={"version": account.version + 1})
        values = _account_row(stored)
        del values["id"]  # every other field is replaced, so the return value is what is stored
        query = (
            accounts.update()
            .where(accounts.c.id == account.id, accounts.c.version == account.version)
            .values(**values)
        )
        try:
            with self._conn() as conn:
                if conn.execute(query).rowcount != 1:
                    raise ConcurrentUpdate("account changed since it was read")
        except sa.exc.IntegrityError as exc:
            raise DuplicateIdentifier("identifier already taken") from exc
        return stored

    @_translating
    def delete_account(self, account_id: str) -> bool:
        with self._conn() as conn:
            for table in _DEPENDENTS:
                conn.execute(table.delete().where(table.c.account_id == account_id))
            return bool(conn.execute(accounts.delete().where(accounts.c.id == account_id)).rowcount)

    @_translating
    def lock_email(self, email_key: str) -> None:
        """On PostgreSQL, take a transaction-scoped advisory lock on the email key: another
        transaction locking the same key waits until this one commits or rolls back. Nothing on
        SQLite, whose transactions are already serial (``BEGIN IMMEDIATE``)."""
        if self._dialect != "postgresql":
            return
        query = sa.select(sa.func.pg_advisory_xact_lock(email_lock_key(email_key)))
        with self._conn() as conn:
            conn.execute(query)

    # -- credentials -------------------------------------------------------------------------

    @_translating
    def get_password(self, account_id: str) -> PasswordCredential | None:
        with self._conn() as conn:
            row = conn.execute(
                passwords.select().where(passwords.c.account_id == account_id)
            ).first()
        if row is None:
            return None
        return PasswordCredential(
            account_id=row.account_id,
            hash=row.hash,
            temporary=row.temporary,
            set_at=_dt(row.set_at),
            expires_at=_dt_or_none(row.expires_at),
        )

    @_translating
    def set_password(self, credential: PasswordCredential, *, keep_history: int = 0) -> None:
        values = {
            "hash": credential.hash,
            "temporary": credential.temporary,
            "set_at": _us(credential.set_at),
            "expires_at": _us_or_none(credential.expires_at),
        }
        where = passwords.c.account_id == credential.account_id
        with self._conn() as conn:
            old = conn.execute(sa.select(passwords.c.hash, passwords.c.set_at).where(where)).first()
            if old is None:
                conn.execute(passwords.insert().values(account_id=credential.account_id, **values))
                return
            conn.execute(passwords.update().where(where).values(**values))
            if keep_history > 0:
                conn.execute(
                    password_history.insert().values(
                        account_id=credential.account_id, hash=old.hash, set_at=old.set_at
                    )
                )
                keep = (
                    sa.select(password_history.c.id)
                    .where(password_history.c.account_id == credential.account_id)
                    .order_by(password_history.c.set_at.desc(), password_history.c.id.desc())
                    .limit(keep_history)
                )
                conn.execute(
                    password_history.delete().where(
                        password_history.c.account_id == credential.account_id,
                        password_history.c.id.not_in(keep.scalar_subquery()),
                    )
                    if self._dialect == "postgresql"
                    else password_history.delete().where(
                        password_history.c.account_id == credential.account_id,
                        password_history.c.id.not_in(keep),
                    )
                )

    @_translating
    def password_history(self, account_id: str, limit: int) -> list[PasswordHistoryEntry]:
        query = (
            password_history.select()
            .where(password_history.c.account_id == account_id)
            .order_by(password_history.c.set_at.desc(), password_history.c.id.desc())
            .limit(limit)
        )
        with self._conn() as conn:
            return [
                PasswordHistoryEntry(account_id=r.account_id, hash=r.hash, set_at=_dt(r.set_at))
                for r in conn.execute(query)
            ]

    @_translating
    def get_question(self, account_id: str) -> SecurityQuestion | None:
        with self._conn() as conn:
            row = conn.execute(
                questions.select().where(questions.c.account_id == account_id)
            ).first()
        if row is None:
            return None
        return SecurityQuestion(
            account_id=row.account_id,
            question=row.question,
            answer_hash=row.answer_hash,
            set_at=_dt(row.set_at),
        )

    @_translating
    def set_question(self, question: SecurityQuestion) -> None:
        values = {
            "question": question.question,
            "answer_hash": question.answer_hash,
            "set_at": _us(question.set_at),
        }
        where = questions.c.account_id == question.account_id
        with self._conn() as conn:
            if conn.execute(questions.update().where(where).values(**values)).rowcount == 0:
                conn.execute(questions.insert().values(account_id=question.account_id, **values))

    # -- tokens ------------------------------------------------------------------------------

    @_translating
    def save_token(self, token: TokenRecord) -> None:
        try:
            with self._conn() as conn:
                conn.execute(tokens.insert().values(**_token_row(token)))
        except sa.exc.IntegrityError as exc:
            raise ValueError("token already stored") from exc

    @_translating
    def get_token(self, nonce_hash: str) -> TokenRecord | None:
        with self._conn() as conn:
            row = conn.execute(tokens.select().where(tokens.c.nonce_hash == nonce_hash)).first()
        return None if row is None else _token(row)

    @_translating
    def consume_token(
        self, nonce_hash: str, purpose: str, now: datetime
    ) -> tuple[ConsumeOutcome, TokenRecord | None]:
        at = _us(now)
        claim = (
            tokens.update()
            .where(
                tokens.c.nonce_hash == nonce_hash,
                tokens.c.purpose == purpose,
                tokens.c.used_at.is_(None),
                tokens.c.expires_at >= at,
            )
            .values(used_at=at)
        )
        with self._conn() as conn:
            won = conn.execute(claim).rowcount == 1
            row = conn.execute(tokens.select().where(tokens.c.nonce_hash == nonce_hash)).first()
        if row is None or row.purpose != purpose:
            return ConsumeOutcome.UNKNOWN, None
        record = _token(row)
        if won:
            return ConsumeOutcome.CONSUMED, record
        if record.used_at is not None:
            return ConsumeOutcome.USED, record
        return ConsumeOutcome.EXPIRED, record

    @_translating
    def void_tokens(self, account_id: str, purpose: str | None, now: datetime) -> int:
        query = tokens.update().where(tokens.c.account_id == account_id, tokens.c.used_at.is_(None))
        if purpose is not None:
            query = query.where(tokens.c.purpose == purpose)
        with self._conn() as conn:
            return int(conn.execute(query.values(used_at=_us(now))).rowcount)

    # -- flows -------------------------------------------------------------------------------

    @_translating
    def save_flow(self, flow: FlowRecord) -> None:
        try:
            with self._conn() as conn:
                conn.execute(flows.insert().values(**_flow_row(flow)))
        except sa.exc.IntegrityError as exc:
            raise ValueError("flow already stored") from exc

    @_translating
    def get_flow(self, handle_hash: str) -> FlowRecord | None:
        with self._conn() as conn:
            row = conn.execute(flows.select().where(flows.c.handle_hash == handle_hash)).first()
        return None if row is None else _flow(row)

    @_translating
    def advance_flow(self, flow: FlowRecord, *, expected_state: str) -> FlowRecord:
        stored = flow.model_copy(update={"version": flow.version + 1})
        values = _flow_row(stored)
        del values["handle_hash"]
        query = (
            flows.update()
            .where(
                flows.c.handle_hash == flow.handle_hash,
                flows.c.state == expected_state,
                flows.c.version == flow.version,
            )
            .values(**values)
        )
        with self._conn() as conn:
            if conn.execute(query).rowcount != 1:
                raise ConcurrentUpdate("flow changed since it was read")
        return stored

    @_translating
    def delete_flow(self, handle_hash: str) -> bool:
        with self._conn() as conn:
            query = flows.delete().where(flows.c.handle_hash == handle_hash)
            return bool(conn.execute(query).rowcount)

    @_translating
    def purge_expired(self, before: datetime) -> int:
        cutoff = _us(before)
        with self._conn() as conn:
            gone = conn.execute(flows.delete().where(flows.c.expires_at < cutoff)).rowcount
            gone += conn.execute(tokens.delete().where(tokens.c.expires_at < cutoff)).rowcount
            return int(gone)

    # -- organisations and memberships -------------------------------------------------------

    @_translating
    def create_organisation(self, organisation: Organisation) -> None:
        try:
            with self._conn() as conn:
                conn.execute(
                    organisations.insert().values(
                        id=organisation.id,
                        name=organisation.name,
                        registration_number=organisation.registration_number,
                        created_at=_us(organisation.created_at),
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise DuplicateOrganisation("organisation already registered") from exc

    @_translating
    def get_organisation(self, organisation_id: str) -> Organisation | None:
        query = organisations.select().where(organisations.c.id == organisation_id)
        with self._conn() as conn:
            row = conn.execute(query).first()
        return None if row is None else _organisation(row)

    @_translating
    def find_organisation(self, registration_number: str) -> Organisation | None:
        query = organisations.select().where(
            organisations.c.registration_number == registration_number
        )
        with self._conn() as conn:
            row = conn.execute(query).first()
        return None if row is None else _organisation(row)

    @_translating
    def create_membership(self, membership: Membership) -> None:
        try:
            with self._conn() as conn:
                conn.execute(memberships.insert().values(**_membership_row(membership)))
        except sa.exc.IntegrityError as exc:
            raise DuplicateMembership("already a member of this organisation") from exc

    @_translating
    def get_membership(self, account_id: str, organisation_id: str) -> Membership | None:
        query = memberships.select().where(
            memberships.c.account_id == account_id,
            memberships.c.organisation_id == organisation_id,
        )
        with self._conn() as conn:
            row = conn.execute(query).first()
        return None if row is None else _membership(row)

    @_translating
    def update_membership(self, membership: Membership) -> Membership:
        stored = membership.model_copy(update={"version": membership.version + 1})
        values = _membership_row(stored)
        del values["account_id"], values["organisation_id"]
        query = (
            memberships.update()
            .where(
                memberships.c.account_id == membership.account_id,
                memberships.c.organisation_id == membership.organisation_id,
                memberships.c.version == membership.version,
            )
            .values(**values)
        )
        with self._conn() as conn:
            if conn.execute(query).rowcount != 1:
                raise ConcurrentUpdate("membership changed since it was read")
        return stored

    @_translating
    def memberships_of(self, account_id: str) -> list[Membership]:
        query = (
            memberships.select()
            .where(memberships.c.account_id == account_id)
            .order_by(memberships.c.organisation_id)
        )
        with self._conn() as conn:
            return [_membership(row) for row in conn.execute(query)]

    @_translating
    def members_of(
        self, organisation_id: str, *, after: str | None = None, limit: int = 100
    ) -> list[Membership]:
        check_pagination(limit)
        query = (
            memberships.select()
            .where(memberships.c.organisation_id == organisation_id)
            .order_by(memberships.c.account_id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(memberships.c.account_id > after)
        with self._conn() as conn:
            return [_membership(row) for row in conn.execute(query)]

    # -- second factors ----------------------------------------------------------------------

    @_translating
    def save_mfa_factor(self, factor: MfaFactor) -> None:
        insert: Any
        if self._dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        values = {
            "secret": factor.secret,
            "phone": factor.phone,
            "confirmed": factor.confirmed,
            "last_step": factor.last_step,
            "created_at": _us(factor.created_at),
        }
        query = (
            insert(mfa_factors)
            .values(account_id=factor.account_id, kind=factor.kind.value, **values)
            .on_conflict_do_update(
                index_elements=[mfa_factors.c.account_id, mfa_factors.c.kind], set_=values
            )
        )
        with self._conn() as conn:
            conn.execute(query)

    @_translating
    def mfa_factors(self, account_id: str) -> list[MfaFactor]:
        query = (
            mfa_factors.select()
            .where(mfa_factors.c.account_id == account_id)
            .order_by(mfa_factors.c.kind)
        )
        with self._conn() as conn:
            return [
                MfaFactor(
                    account_id=r.account_id,
                    kind=MfaKind(r.kind),
                    secret=r.secret,
                    phone=r.phone,
                    confirmed=r.confirmed,
                    last_step=r.last_step,
                    created_at=_dt(r.created_at),
                )
                for r in conn.execute(query)
            ]

    @_translating
    def delete_mfa_factor(self, account_id: str, kind: MfaKind) -> bool:
        query = mfa_factors.delete().where(
            mfa_factors.c.account_id == account_id, mfa_factors.c.kind == MfaKind(kind).value
        )
        with self._conn() as conn:
            return bool(conn.execute(query).rowcount)

    @_translating
    def use_totp_step(self, account_id: str, step: int) -> bool:
        # One conditional UPDATE (OT-04): a racer that waited on the row lock re-checks
        # ``last_step < :step`` against the committed row, so only one caller gets a row.
        query = (
            mfa_factors.update()
            .where(
                mfa_factors.c.account_id == account_id,
                mfa_factors.c.kind == MfaKind.TOTP.value,
                mfa_factors.c.last_step < step,
            )
            .values(last_step=step)
        )
        with self._conn() as conn:
            return bool(conn.execute(query).rowcount == 1)

    @_translating
    def replace_recovery_codes(self, account_id: str, codes: list[RecoveryCode]) -> None:
        if any(code.account_id != account_id for code in codes):
            raise ValueError("every recovery code must belong to the account")
        if len({code.code_hash for code in codes}) != len(codes):
            raise ValueError("recovery codes must be distinct")
        with self._conn() as conn:
            conn.execute(recovery_codes.delete().where(recovery_codes.c.account_id == account_id))
            if codes:
                conn.execute(
                    recovery_codes.insert(),
                    [
                        {
                            "account_id": code.account_id,
                            "code_hash": code.code_hash,
                            "created_at": _us(code.created_at),
                            "used_at": _us_or_none(code.used_at),
                        }
                        for code in codes
                    ],
                )

    @_translating
    def use_recovery_code(self, account_id: str, code_hash: str, now: datetime) -> bool:
        # One conditional UPDATE (RC-03), like a token consume.
        query = (
            recovery_codes.update()
            .where(
                recovery_codes.c.account_id == account_id,
                recovery_codes.c.code_hash == code_hash,
                recovery_codes.c.used_at.is_(None),
            )
            .values(used_at=_us(now))
        )
        with self._conn() as conn:
            return bool(conn.execute(query).rowcount == 1)

    @_translating
    def recovery_codes_left(self, account_id: str) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(recovery_codes)
            .where(recovery_codes.c.account_id == account_id, recovery_codes.c.used_at.is_(None))
        )
        with self._conn() as conn:
            return int(conn.execute(query).scalar_one())

    # -- counters ----------------------------------------------------------------------------

    @_translating
    def increment_counter(self, key: str, now: datetime) -> int:
        insert: Any
        if self._dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        at = _us(now)
        query = (
            insert(counters)
            .values(key=key, value=1, updated_at=at)
            .on_conflict_do_update(
                index_elements=[counters.c.key],
                set_={"value": counters.c.value + 1, "updated_at": at},
            )
            .returning(counters.c.value)
        )
        with self._conn() as conn:
            return int(conn.execute(query).scalar_one())

    @_translating
    def get_counter(self, key: str) -> int:
        with self._conn() as conn:
            value = conn.execute(sa.select(counters.c.value).where(counters.c.key == key)).scalar()
        return int(value or 0)

    @_translating
    def reset_counter(self, key: str) -> None:
        with self._conn() as conn:
            conn.execute(counters.delete().where(counters.c.key == key))

    @_translating
    def purge_counters(self, before: datetime, prefix: str = "") -> int:
        query = counters.delete().where(counters.c.updated_at < _us(before))
        if prefix:
            query = query.where(counters.c.key.startswith(prefix, autoescape=True))
        with self._conn() as conn:
            return int(conn.execute(query).rowcount)

    # -- audit -------------------------------------------------------------------------------

    @_translating
    def append_event(self, event: AuditEvent) -> None:
        with self._conn() as conn:
            conn.execute(
                events.insert().values(
                    type=event.type,
                    account_id=event.account_id,
                    at=_us(event.at),
                    details=dict(event.details),
                )
            )

    @_translating
    def events(
        self, *, account_id: str | None = None, since: datetime | None = None, limit: int = 1000
    ) -> list[AuditEvent]:
        check_pagination(limit)
        query = events.select().order_by(events.c.id).limit(limit)
        if account_id is not None:
            query = query.where(events.c.account_id == account_id)
        if since is not None:
            query = query.where(events.c.at >= _us(since))
        with self._conn() as conn:
            return [
                AuditEvent(
                    type=r.type, account_id=r.account_id, at=_dt(r.at), details=dict(r.details)
                )
                for r in conn.execute(query)
            ]

    @_translating
    def pseudonymise_events(self, account_id: str, pseudonym: str) -> int:
        query = events.update().where(events.c.account_id == account_id)
        with self._conn() as conn:
            return int(conn.execute(query.values(account_id=pseudonym)).rowcount)


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
    """Make pysqlite transactions start with BEGIN IMMEDIATE (SQLAlchemy's documented recipe),
    and put a file database in WAL mode (``durable=None`` for an in-memory one)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, connection_record: Any) -> None:
        dbapi_connection.isolation_level = None
        if durable is not None:  # a file database: write-ahead log, fewer fsyncs
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


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


def _account(row: Any) -> Account:
    actions = tuple(RequiredAction(a) for a in row.required_actions.split(",") if a)
    return Account(
        id=row.id,
        identifier=row.identifier,
        identifier_key=row.identifier_key,
        email=row.email,
        email_key=row.email_key,
        status=AccountStatus(row.status),
        required_actions=actions,
        credential_version=row.credential_version,
        version=row.version,
        locked_until=_dt_or_none(row.locked_until),
        lockouts=row.lockouts,
        session_epoch=row.session_epoch,
        created_at=_dt(row.created_at),
        updated_at=_dt(row.updated_at),
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
    return TokenRecord(
        nonce_hash=row.nonce_hash,
        account_id=row.account_id,
        purpose=row.purpose,
        credential_version=row.credential_version,
        created_at=_dt(row.created_at),
        expires_at=_dt(row.expires_at),
        used_at=_dt_or_none(row.used_at),
    )


def _flow_row(flow: FlowRecord) -> dict[str, Any]:
    return {
        "handle_hash": flow.handle_hash,
        "kind": flow.kind,
        "account_id": flow.account_id,
        "state": flow.state,
        "data": dict(flow.data),
        "attempts": flow.attempts,
        "version": flow.version,
        "created_at": _us(flow.created_at),
        "expires_at": _us(flow.expires_at),
    }


def _flow(row: Any) -> FlowRecord:
    return FlowRecord(
        handle_hash=row.handle_hash,
        kind=row.kind,
        account_id=row.account_id,
        state=row.state,
        data=dict(row.data),
        attempts=row.attempts,
        version=row.version,
        created_at=_dt(row.created_at),
        expires_at=_dt(row.expires_at),
    )


def _organisation(row: Any) -> Organisation:
    return Organisation(
        id=row.id,
        name=row.name,
        registration_number=row.registration_number,
        created_at=_dt(row.created_at),
    )


def _membership_row(membership: Membership) -> dict[str, Any]:
    return {
        "account_id": membership.account_id,
        "organisation_id": membership.organisation_id,
        "roles": list(membership.roles),
        "status": membership.status.value,
        "version": membership.version,
        "created_at": _us(membership.created_at),
        "updated_at": _us(membership.updated_at),
    }


def _membership(row: Any) -> Membership:
    return Membership(
        account_id=row.account_id,
        organisation_id=row.organisation_id,
        roles=tuple(row.roles),
        status=MembershipStatus(row.status),
        version=row.version,
        created_at=_dt(row.created_at),
        updated_at=_dt(row.updated_at),
    )
