"""What the login, scale and concurrency benchmarks share: accounts, the login path, databases.

- ``credflow_login`` is the path measured: ``storage.find_account(identifier_key(identifier))``,
  ``storage.get_password(account.id)``, ``hasher.verify(credential.hash, password)``;
  ``raw_verify`` is the reference: argon2-cffi's ``PasswordHasher().verify`` of the same PHC
  string with the same password.
- ``create_logins`` creates accounts through ``Credflow.accounts.create`` (a temporary password
  each, hashed with production parameters) and returns what both sides need.
- ``populate`` bulk-inserts accounts with SQLAlchemy Core ``executemany``, all sharing one
  precomputed hash: hashing 100,000 passwords is not what the scale benchmark measures.
- ``temporary_postgres_database`` creates a database in the cluster that
  ``CREDFLOW_TEST_POSTGRES_URL`` points to and drops it afterwards.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import cycle
from typing import Any

import argon2

from credflow.hashing import RFC_9106_LOW_MEMORY, Hasher
from credflow.storage.protocols import Storage
from credflow.storage.records import Account, email_key, identifier_key, new_account_id

__all__ = [
    "POSTGRES_ENV",
    "Login",
    "create_logins",
    "credflow_login",
    "identifier_for",
    "lookup",
    "populate",
    "postgres_url",
    "production_hasher",
    "raw_verify",
    "reference_hasher",
    "rotating",
    "temporary_postgres_database",
    "vacuum_analyze",
]

POSTGRES_ENV = "CREDFLOW_TEST_POSTGRES_URL"
"""Set by ``scripts/with-postgres.sh``; the PostgreSQL rows run only when it is set."""

_BASE_URL = "https://portal.example.fr"


@dataclass(frozen=True, slots=True)
class Login:
    """One account as both sides see it: the identifier typed, the password, the stored hash."""

    identifier: str
    password: str = field(repr=False)
    phc: str = field(repr=False)


# -- the two sides ----------------------------------------------------------------------------


def production_hasher() -> Hasher:
    """credflow's hasher with production parameters (RFC_9106_LOW_MEMORY, default bound)."""
    return Hasher(RFC_9106_LOW_MEMORY)


def reference_hasher() -> argon2.PasswordHasher:
    """argon2-cffi's ``PasswordHasher()`` with its defaults, checked equal to the profile's."""
    reference = argon2.PasswordHasher()
    profile = RFC_9106_LOW_MEMORY
    ours = (profile.time_cost, profile.memory_cost, profile.parallelism, profile.hash_len)
    theirs = (
        reference.time_cost,
        reference.memory_cost,
        reference.parallelism,
        reference.hash_len,
    )
    if ours != theirs or reference.type is not argon2.Type.ID:
        raise RuntimeError(f"argon2-cffi defaults {theirs} differ from the profile's {ours}")
    return reference


def credflow_login(storage: Storage, hasher: Hasher, login: Login) -> None:
    """credflow's login path: find the account, fetch its password, verify."""
    account = storage.find_account(identifier_key(login.identifier))
    if account is None:
        raise RuntimeError(f"no account {login.identifier!r}")
    credential = storage.get_password(account.id)
    if credential is None:
        raise RuntimeError(f"no password for {login.identifier!r}")
    if not hasher.verify(credential.hash, login.password):
        raise RuntimeError(f"wrong password for {login.identifier!r}")


def raw_verify(reference: argon2.PasswordHasher, login: Login) -> None:
    """The reference: argon2-cffi's verify of the same hash (it raises on a mismatch)."""
    reference.verify(login.phc, login.password)


def lookup(storage: Storage, identifier: str) -> None:
    """The storage part of the login path alone: find the account, fetch its password."""
    account = storage.find_account(identifier_key(identifier))
    if account is None:
        raise RuntimeError(f"no account {identifier!r}")
    if storage.get_password(account.id) is None:
        raise RuntimeError(f"no password for {identifier!r}")


def rotating(logins: Sequence[Login], call: Callable[[Login], None]) -> Callable[[], None]:
    """A one-call batch that takes the next login each time it runs.

    Two batches built on the same list advance in step when they are interleaved, so
    repetition *i* of each side uses the same account, hash and password.
    """
    upcoming = cycle(logins)

    def batch() -> None:
        call(next(upcoming))

    return batch


# -- accounts ---------------------------------------------------------------------------------

IDENTIFIERS: tuple[str, ...] = ("adejoux", "Claire.Petit", "jb-martin")
"""The accounts the login benchmark creates (mixed case: the lookup case-folds)."""


def create_logins(
    storage: Storage, hasher: Hasher, identifiers: Sequence[str] = IDENTIFIERS
) -> list[Login]:
    """Create the accounts through the facade, each with a temporary password; return them."""
    from credflow.facade import Credflow
    from credflow.settings import Settings

    settings = Settings.nist(secret_key=secrets.token_bytes(32), base_url=_BASE_URL)
    cf = Credflow(storage=storage, settings=settings, hasher=hasher)
    logins = []
    for identifier in identifiers:
        created = cf.accounts.create(identifier, email=f"{identifier.lower()}@example.fr")
        password = created.temporary_password
        credential = storage.get_password(created.account.id)
        if password is None or credential is None:
            raise RuntimeError("the account was created without a password")
        logins.append(Login(identifier, password, credential.hash))
    return logins


def identifier_for(index: int) -> str:
    """The identifier of the *index*-th bulk account: ``user000123``."""
    return f"user{index:06d}"


def populate(storage: Any, count: int, phc: str, *, batch: int = 5_000) -> float:
    """Insert ``count`` accounts (``user000000``…) sharing ``phc``; return the seconds taken.

    ``storage`` is a ``credflow.storage.sql.SQLStorage`` whose tables exist. The rows have the
    shape credflow writes: the account row comes from ``credflow.storage.sql._account_row`` of
    a real ``Account`` (random id from ``new_account_id()``, an email, active, no required
    action), the password row mirrors ``SQLStorage.set_password``'s; one transaction per batch.
    """
    from credflow.storage.sql import _account_row, metadata

    accounts = metadata.tables["credflow_accounts"]
    passwords = metadata.tables["credflow_passwords"]
    now = datetime.now(UTC)
    template = _account_row(
        Account(id="template", identifier="t", identifier_key="t", created_at=now, updated_at=now)
    )
    set_at = template["created_at"]
    start = time.perf_counter()
    for offset in range(0, count, batch):
        account_rows: list[dict[str, Any]] = []
        password_rows: list[dict[str, Any]] = []
        for index in range(offset, min(offset + batch, count)):
            identifier = identifier_for(index)
            email = f"{identifier}@example.fr"
            account_id = new_account_id()
            account_rows.append(
                template
                | {
                    "id": account_id,
                    "identifier": identifier,
                    "identifier_key": identifier_key(identifier),
                    "email": email,
                    "email_key": email_key(email),
                }
            )
            password_rows.append(
                {
                    "account_id": account_id,
                    "hash": phc,
                    "temporary": False,
                    "set_at": set_at,
                    "expires_at": None,
                }
            )
        with storage.engine.begin() as conn:
            conn.execute(accounts.insert(), account_rows)
            conn.execute(passwords.insert(), password_rows)
    return time.perf_counter() - start


# -- PostgreSQL -------------------------------------------------------------------------------


def postgres_url() -> str | None:
    """The cluster URL from ``CREDFLOW_TEST_POSTGRES_URL``, or None when it is not set."""
    return os.environ.get(POSTGRES_ENV) or None


def _with_database(url: str, database: str, drivername: str = "postgresql") -> str:
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url).set(drivername=drivername, database=database)
    return parsed.render_as_string(hide_password=False)


@contextmanager
def temporary_postgres_database(url: str, label: str) -> Iterator[str]:
    """Create a fresh database next to ``url``'s; yield its URL; drop it (forcibly) afterwards.

    The caller must dispose of its engines before leaving the block; ``WITH (FORCE)`` ends any
    connection left over.
    """
    import psycopg
    from psycopg import sql

    admin = _with_database(url, _database(url))
    name = f"credflow_bench_{label}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(url, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def vacuum_analyze(url: str) -> None:
    """``VACUUM ANALYZE`` the database at ``url``, so autovacuum does not wake mid-measurement."""
    import psycopg

    with psycopg.connect(_with_database(url, _database(url)), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _database(url: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(url).database or "postgres"
