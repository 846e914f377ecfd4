"""Scale: the login path with 100,000 accounts against 1,000, on SQLite and on PostgreSQL.

The issue's benchmark: "the same path with 100,000 accounts, compared with 1,000 accounts, on
SQLite and on PostgreSQL. The ratio must be ≤ 1.05."

Per engine, two databases are built with credflow's schema (``SQLStorage(create=True)``) and
filled by bulk ``INSERT`` (SQLAlchemy Core ``executemany``, batches of 5,000, identifiers
``user000000``…, random ids from ``new_account_id()``, one precomputed production hash shared by
every row: hashing 100,000 passwords is not what is measured). Then, interleaved:

- ``login path``: credflow's full path (find_account + get_password + ``Hasher.verify`` with
  RFC_9106_LOW_MEMORY) for random identifiers of each database, one login per repetition (90
  pairs; 18 with ``--quick``). This is the row the target applies to. As for ``cf.login``, the
  verdict reads the direct ratio: each side's own cost measured inside each call (its time minus
  the verify a timing hasher recorded in it), added to the median verify time; argon2's
  run-to-run noise (p=4 lanes on a small machine) is far larger than the lookup it would judge;
- ``lookup only``: find_account + get_password alone, a fresh batch of random identifiers each
  repetition, so the reader sees the lookup cost that argon2 would otherwise hide (information).

PostgreSQL rows need ``CREDFLOW_TEST_POSTGRES_URL`` (``scripts/with-postgres.sh`` sets it): two
fresh databases, ``VACUUM ANALYZE``d after filling, dropped afterwards.
"""

from __future__ import annotations

import random
import statistics
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from itertools import cycle
from pathlib import Path
from typing import Any

from bench.common import (
    Benchmark,
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
    credflow_login,
    identifier_for,
    lookup,
    populate,
    postgres_url,
    production_hasher,
    rotating,
    temporary_postgres_database,
    vacuum_analyze,
)
from credflow.hashing import RFC_9106_LOW_MEMORY

__all__ = ["BENCHMARK", "LARGE", "SMALL", "TARGET", "run"]

SMALL = 1_000
LARGE = 100_000
TARGET = 1.05
SEED = 2026
PAIRS_PER_REPETITION = 6
"""Login pairs per ``--repetitions`` unit: 15 repetitions (full) give 90 pairs, 3 give 18."""

LOOKUP_CALLS = {"SQLite file": 300, "PostgreSQL": 200}
"""Lookups per batch (fresh random identifiers each repetition)."""

PASSWORD = "Soleil-Maison-42!"


def _draw(rng: random.Random, population: int, count: int) -> list[str]:
    return [identifier_for(rng.randrange(population)) for _ in range(count)]


def _lookup_batch(storage: Any, chunks: Sequence[Sequence[str]]) -> Callable[[], None]:
    """A batch that looks up the next chunk of identifiers each time it runs."""
    upcoming: Iterator[Sequence[str]] = cycle(chunks)

    def batch() -> None:
        for identifier in next(upcoming):
            lookup(storage, identifier)

    return batch


def _plan(storage: Any) -> str:
    """How the database runs credflow's ``find_account`` query (EXPLAIN), in one line."""
    from credflow.storage.sql import metadata

    accounts = metadata.tables["credflow_accounts"]
    query = accounts.select().where(accounts.c.identifier_key == identifier_for(123))
    engine = storage.engine
    text = str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        found = conn.exec_driver_sql(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + text)
        lines = [str(row[-1]) for row in found]
    return lines[0].strip() if lines else "?"


def _engine_rows(
    label: str,
    small: Any,
    large: Any,
    rng: random.Random,
    settings: Settings,
) -> list[Row]:
    pairs = PAIRS_PER_REPETITION * settings.repetitions
    small_logins = [Login(i, PASSWORD, "") for i in _draw(rng, SMALL, pairs)]
    large_logins = [Login(i, PASSWORD, "") for i in _draw(rng, LARGE, pairs)]
    small_hasher, large_hasher = (TimingHasher(RFC_9106_LOW_MEMORY) for _ in range(2))
    credflow_login(small, small_hasher, small_logins[0])  # warm-up: the first use of each query
    credflow_login(large, large_hasher, large_logins[0])
    small_hasher.verify_seconds.clear()
    large_hasher.verify_seconds.clear()
    on_large, on_small = measure_interleaved(
        [
            rotating(large_logins, lambda login: credflow_login(large, large_hasher, login)),
            rotating(small_logins, lambda login: credflow_login(small, small_hasher, login)),
        ],
        calls=1,
        repetitions=pairs,
    )
    verify_us = statistics.median(small_hasher.verify_seconds + large_hasher.verify_seconds) * 1e6
    direct = (verify_us + in_call_cost_us(on_large, large_hasher.verify_seconds)) / (
        verify_us + in_call_cost_us(on_small, small_hasher.verify_seconds)
    )
    calls = LOOKUP_CALLS[label]
    reps = settings.repetitions
    small_chunks = [_draw(rng, SMALL, calls) for _ in range(reps)]
    large_chunks = [_draw(rng, LARGE, calls) for _ in range(reps)]
    lookup(small, small_chunks[0][0])
    lookup(large, large_chunks[0][0])
    lookups_large, lookups_small = measure_interleaved(
        [_lookup_batch(large, large_chunks), _lookup_batch(small, small_chunks)],
        calls=calls,
        repetitions=reps,
    )
    return [
        Row(f"login path ({label})", on_large, on_small, TARGET, direct),
        Row(f"lookup only ({label})", lookups_large, lookups_small, None),
    ]


def _implied_note(label: str, full: Row, lookups: Row) -> str:
    """What the lookup difference alone would do to the full path's ratio."""
    extra = lookups.ours.us_per_call - lookups.reference.us_per_call
    implied = (full.reference.us_per_call + extra) / full.reference.us_per_call
    return (
        f"{label}: lookups cost {extra:+,.1f} µs more on 100k than on 1k, i.e. an implied "
        f"full-path ratio of {implied:.4f} (measured end to end: {full.ratio:.4f}, which also "
        "carries argon2's run-to-run noise)."
    )


def run(settings: Settings) -> Table:
    """Build the databases, measure both engines, return the table."""
    from credflow.storage.sql import SQLStorage

    phc = production_hasher().hash(PASSWORD)
    rng = random.Random(SEED)
    rows: list[Row] = []
    notes: list[str] = []

    with tempfile.TemporaryDirectory(prefix="credflow-bench-") as tmp, ExitStack() as stack:
        small = SQLStorage(f"sqlite:///{Path(tmp) / 'accounts-1k.db'}", create=True)
        stack.callback(small.dispose)
        large = SQLStorage(f"sqlite:///{Path(tmp) / 'accounts-100k.db'}", create=True)
        stack.callback(large.dispose)
        took_small = populate(small, SMALL, phc)
        took_large = populate(large, LARGE, phc)
        notes.append(
            f"SQLite file: filled in {took_small:.2f} s (1,000) and {took_large:.2f} s "
            f"(100,000); find_account plan: {_plan(large)}."
        )
        rows += _engine_rows("SQLite file", small, large, rng, settings)

    url = postgres_url()
    if url is not None:
        with ExitStack() as stack:
            small_url = stack.enter_context(temporary_postgres_database(url, "1k"))
            large_url = stack.enter_context(temporary_postgres_database(url, "100k"))
            small = SQLStorage(small_url, create=True)
            stack.callback(small.dispose)
            large = SQLStorage(large_url, create=True)
            stack.callback(large.dispose)
            took_small = populate(small, SMALL, phc)
            took_large = populate(large, LARGE, phc)
            vacuum_analyze(small_url)
            vacuum_analyze(large_url)
            notes.append(
                f"PostgreSQL: filled in {took_small:.2f} s (1,000) and {took_large:.2f} s "
                f"(100,000), then VACUUM ANALYZE on both; find_account plan: {_plan(large)}."
            )
            rows += _engine_rows("PostgreSQL", small, large, rng, settings)
    else:
        notes.append("PostgreSQL: skipped (CREDFLOW_TEST_POSTGRES_URL is not set).")

    for full, lookups in zip(rows[0::2], rows[1::2], strict=True):
        label = full.name.removeprefix("login path (").removesuffix(")")
        notes += [paired_interval_note(full), _implied_note(label, full, lookups)]
    pairs = PAIRS_PER_REPETITION * settings.repetitions
    notes += [
        "rows: credflow against itself, the 100,000-account database (left) against the "
        "1,000-account one (right), same engine, same hash and password, interleaved.",
        f"login path: find_account(identifier_key(id)) + get_password + Hasher("
        f"RFC_9106_LOW_MEMORY).verify, {pairs} pairs of one login each, random identifiers "
        f"(random.Random({SEED})); ratio = 100k median / 1k median, target ≤ {TARGET}.",
        "lookup only: find_account + get_password, "
        + ", ".join(f"{calls} calls per batch on {name}" for name, calls in LOOKUP_CALLS.items())
        + f", fresh random identifiers each of the {settings.repetitions} repetitions; "
        "information (argon2 hides this cost in the full path).",
    ]
    return Table(
        title="Scale: login path with 100,000 accounts vs 1,000 accounts",
        reference="1k accounts",
        subject="100k accounts",
        rows=tuple(rows),
        notes=tuple(notes),
    )


BENCHMARK = Benchmark(
    name="scale",
    summary="login path and lookups on 100,000 vs 1,000 accounts (SQLite, PostgreSQL)",
    run=run,
)
