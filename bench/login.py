"""Login path: find an account and verify its password, against a raw argon2-cffi ``verify``.

The issue's benchmark: "fetch an account by identifier and verify its password with production
parameters, compared with a raw argon2-cffi ``verify`` of the same hash. The ratio must be
≤ 1.01 in memory and ≤ 1.02 on SQLite."

credflow, per call: ``storage.find_account(identifier_key(identifier))``,
``storage.get_password(account.id)``, ``Hasher(RFC_9106_LOW_MEMORY).verify(hash, password)``.
Reference, per call: ``argon2.PasswordHasher().verify(hash, password)`` (t=3, m=64 MiB, p=4) on
the same PHC string and password. One argon2 verify takes tens to hundreds of milliseconds, so
each repetition is a single login per side (90 interleaved pairs; 18 with ``--quick``), the
accounts taken in turn, the same one on both sides of a pair.

Because argon2's own run-to-run noise is far larger than credflow's extra work, two figures are
measured apart, for information: the storage lookup alone (thousands of calls), and the
``Hasher.verify`` wrapper against a raw verify at argon2-cffi's cheapest parameters (the
``TESTING`` profile), where the wrapper's cost is not hidden by the hash. The notes add them up
into the ratio they imply.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import argon2

from bench.common import (
    Benchmark,
    Measurement,
    Row,
    Settings,
    Table,
    TimingHasher,
    in_call_cost_us,
    measure_interleaved,
    paired_interval_note,
)
from bench.fixtures import (
    Login,
    create_logins,
    credflow_login,
    lookup,
    postgres_url,
    production_hasher,
    raw_verify,
    reference_hasher,
    rotating,
    temporary_postgres_database,
)
from credflow.hashing import TESTING, Hasher
from credflow.storage.protocols import Storage

__all__ = ["BENCHMARK", "TARGET_MEMORY", "TARGET_SQLITE", "run"]

TARGET_MEMORY = 1.01
TARGET_SQLITE = 1.02
PAIRS_PER_REPETITION = 6
"""Login pairs per ``--repetitions`` unit: 15 repetitions (full) give 90 pairs, 3 give 18."""

LOOKUP_CALLS = {"memory": 5_000, "SQLite file": 500, "PostgreSQL": 300}
WRAPPER_CALLS = 2_000
WRAPPER_PASSWORD = "Tr0ub4dor&3 horse"


def _login_row(
    name: str,
    storage: Storage,
    hasher: Hasher,
    reference: argon2.PasswordHasher,
    logins: Sequence[Login],
    pairs: int,
    target: float | None,
) -> Row:
    credflow_login(storage, hasher, logins[0])  # warm-up: SQLAlchemy compiles its queries
    raw_verify(reference, logins[0])
    timing = hasher if isinstance(hasher, TimingHasher) else None
    if timing is not None:
        timing.verify_seconds.clear()
    ours, theirs = measure_interleaved(
        [
            rotating(logins, lambda login: credflow_login(storage, hasher, login)),
            rotating(logins, lambda login: raw_verify(reference, login)),
        ],
        calls=1,
        repetitions=pairs,
    )
    direct = None
    if timing is not None and target is not None:
        cost = in_call_cost_us(ours, timing.verify_seconds)
        direct = (theirs.us_per_call + cost) / theirs.us_per_call
    return Row(name, ours, theirs, target, direct)


def _lookup_cost(storage: Storage, logins: Sequence[Login], calls: int, reps: int) -> Measurement:
    identifiers = [logins[i % len(logins)].identifier for i in range(calls)]
    lookup(storage, identifiers[0])

    def batch() -> None:
        for identifier in identifiers:
            lookup(storage, identifier)

    (measurement,) = measure_interleaved([batch], calls=calls, repetitions=reps)
    return measurement


def _wrapper_row(repetitions: int) -> Row:
    """``Hasher(TESTING).verify`` against ``PasswordHasher`` with the same cheap parameters."""
    hasher = Hasher(TESTING)
    reference = argon2.PasswordHasher(
        time_cost=TESTING.time_cost,
        memory_cost=TESTING.memory_cost,
        parallelism=TESTING.parallelism,
        hash_len=TESTING.hash_len,
        salt_len=TESTING.salt_len,
        type=argon2.Type.ID,
    )
    phc = hasher.hash(WRAPPER_PASSWORD)
    verify_ours: Callable[[str, str], object] = hasher.verify
    verify_theirs: Callable[[str, str], object] = reference.verify
    verify_ours(phc, WRAPPER_PASSWORD)
    verify_theirs(phc, WRAPPER_PASSWORD)

    def ours() -> None:
        for _ in range(WRAPPER_CALLS):
            verify_ours(phc, WRAPPER_PASSWORD)

    def theirs() -> None:
        for _ in range(WRAPPER_CALLS):
            verify_theirs(phc, WRAPPER_PASSWORD)

    mine, reference_side = measure_interleaved(
        [ours, theirs], calls=WRAPPER_CALLS, repetitions=repetitions
    )
    return Row("verify wrapper alone (TESTING params)", mine, reference_side, None)


def run(settings: Settings) -> Table:
    """Measure the login path on every available storage and return the table."""
    from credflow.storage.memory import MemoryStorage
    from credflow.storage.sql import SQLStorage

    pairs = PAIRS_PER_REPETITION * settings.repetitions
    hasher = TimingHasher(production_hasher().profile)  # records each verify: the direct ratio
    reference = reference_hasher()
    rows: list[Row] = []
    lookups: dict[str, Measurement] = {}
    lookup_reps = min(settings.repetitions, 3)

    memory = MemoryStorage()
    logins = create_logins(memory, hasher)
    rows.append(
        _login_row("login path (memory)", memory, hasher, reference, logins, pairs, TARGET_MEMORY)
    )
    lookups["memory"] = _lookup_cost(memory, logins, LOOKUP_CALLS["memory"], lookup_reps)

    with tempfile.TemporaryDirectory(prefix="credflow-bench-") as tmp:
        sqlite = SQLStorage(f"sqlite:///{Path(tmp) / 'credflow.db'}", create=True)
        try:
            logins = create_logins(sqlite, hasher)
            rows.append(
                _login_row(
                    "login path (SQLite file)",
                    sqlite,
                    hasher,
                    reference,
                    logins,
                    pairs,
                    TARGET_SQLITE,
                )
            )
            calls = LOOKUP_CALLS["SQLite file"]
            lookups["SQLite file"] = _lookup_cost(sqlite, logins, calls, lookup_reps)
        finally:
            sqlite.dispose()

    url = postgres_url()
    if url is not None:
        with temporary_postgres_database(url, "login") as database:
            postgres = SQLStorage(database, create=True)
            try:
                logins = create_logins(postgres, hasher)
                rows.append(
                    _login_row(
                        "login path (PostgreSQL)",
                        postgres,
                        hasher,
                        reference,
                        logins,
                        pairs,
                        None,
                    )
                )
                calls = LOOKUP_CALLS["PostgreSQL"]
                lookups["PostgreSQL"] = _lookup_cost(postgres, logins, calls, lookup_reps)
            finally:
                postgres.dispose()

    skipped = (
        () if url is not None else ("PostgreSQL: skipped (CREDFLOW_TEST_POSTGRES_URL unset).",)
    )
    wrapper = _wrapper_row(settings.repetitions)
    rows.append(wrapper)
    wrapper_extra = wrapper.ours.us_per_call - wrapper.reference.us_per_call

    notes = [
        f"credflow: Hasher(RFC_9106_LOW_MEMORY) (t=3, m=64 MiB, p=4, bound {hasher.max_concurrent})"
        "; find_account(identifier_key(identifier)) + get_password(account.id) + "
        "hasher.verify(hash, password). Reference: argon2.PasswordHasher() (same parameters, "
        "checked) .verify(the same hash, the same password).",
        f"accounts: {len(logins)} per storage, created with Credflow.accounts.create (temporary "
        "password, production hash); repetition i logs the same account in on both sides. "
        f"{pairs} interleaved pairs of one login each, the order alternating; one warm-up each.",
        "SQLite file: SQLStorage('sqlite:///<tmp>/credflow.db'); PostgreSQL (when "
        "CREDFLOW_TEST_POSTGRES_URL is set): a fresh database, dropped afterwards.",
    ]
    for row in rows[:-1]:
        where = row.name.removeprefix("login path (").removesuffix(")")
        spent = lookups[where]
        extra = spent.us_per_call + wrapper_extra
        implied = (row.reference.us_per_call + extra) / row.reference.us_per_call
        notes.append(paired_interval_note(row))
        notes.append(
            f"{where}: lookup alone {spent.us_per_call:,.1f} µs/login (median of {lookup_reps} "
            f"× {spent.calls} calls) + wrapper {wrapper_extra:,.2f} µs = {extra:,.1f} µs extra, "
            f"i.e. an implied ratio of {implied:.4f} against this row's raw verify (measured "
            f"end to end: {row.ratio:.4f}, which also carries argon2's run-to-run noise)."
        )
    notes.append(
        f"verify wrapper row: Hasher(TESTING).verify vs PasswordHasher(t=1, m=8 KiB, p=1) "
        f".verify of one hash, {WRAPPER_CALLS} calls per batch: NFKC, length check, semaphore, "
        "needs-rehash check, Verification object. Information only."
    )
    notes.extend(skipped)
    notes.append(
        f"ratio = credflow median / argon2-cffi median; targets ≤ {TARGET_MEMORY} (memory), "
        f"≤ {TARGET_SQLITE} (SQLite); PostgreSQL for information."
    )
    return Table(
        title="Login path: find account + verify (production argon2id) vs raw argon2-cffi verify",
        reference="argon2-cffi",
        rows=tuple(rows),
        notes=tuple(notes),
    )


BENCHMARK = Benchmark(
    name="login",
    summary="find_account + get_password + Hasher.verify vs argon2 PasswordHasher().verify",
    run=run,
)
