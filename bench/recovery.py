"""Recovery (issue 5's benchmarks).

1. Starting a recovery for an unknown identifier against a known one: median times over
   interleaved samples, production parameters; the ratio must lie in [0.97, 1.03].
2. Link issue plus verify (signature and age only) against Django's
   ``PasswordResetTokenGenerator`` ``make_token`` plus ``check_token``: target ≤ 3×. credflow's
   side issues a real link (signature, and the nonce hash stored in memory) and verifies its
   signature and age; the full redeem with storage on SQLite is shown for information.
"""

from __future__ import annotations

import statistics
import tempfile
import warnings
from pathlib import Path

from bench.common import (
    Benchmark,
    Check,
    Row,
    Settings,
    Table,
    measure_interleaved,
    setup_django,
    time_batch,
)
from credflow import hashing
from credflow.clock import FrozenClock
from credflow.deviations import StandardsDeviationWarning
from credflow.facade import Credflow
from credflow.notify import Outbox
from credflow.settings import Settings as CredflowSettings
from credflow.storage.memory import MemoryStorage
from credflow.storage.protocols import Storage
from credflow.storage.sql import SQLStorage

__all__ = ["BENCHMARK", "run"]

KEY = "bench-secret-key-of-at-least-32-bytes"
CALLS = 1_000


def _facade(storage: Storage, steps: list[str], profile: hashing.Profile) -> Credflow:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StandardsDeviationWarning)
        settings = CredflowSettings.classic(
            secret_key=KEY,
            base_url="https://bench.example.fr",
            hashing=profile,
            recovery={"steps": steps, "rate_limit": 100},
        )
    return Credflow(storage=storage, settings=settings, notifier=Outbox(), clock=FrozenClock())


def _start_ratio(samples: int, storage: Storage, label: str) -> Check:
    cf = _facade(storage, ["email_link"], hashing.RFC_9106_LOW_MEMORY)
    cf.accounts.create("bench.known", email="known@example.fr", temporary=False)
    unknown: list[float] = []
    known: list[float] = []
    for index in range(samples):
        pair = [
            (unknown, lambda: cf.recovery.start("nobody.at.all")),
            (known, lambda: cf.recovery.start("bench.known")),
        ]
        if index % 2:
            pair.reverse()
        for sink, call in pair:
            sink.append(time_batch(call))
        if index % 50 == 49:
            cf.clock.advance(900)  # type: ignore[attr-defined]  # a new rate-limit window
    ratio = statistics.median(unknown) / statistics.median(known)
    return Check(
        f"recovery start ({label}): unknown / known (median)",
        ratio,
        "",
        detail=(
            f"{samples} interleaved pairs, email_link first; target within [0.97, 1.03]: "
            f"{'meets' if 0.97 <= ratio <= 1.03 else 'misses'}; medians "
            f"{statistics.median(unknown) * 1e6:.1f} µs / {statistics.median(known) * 1e6:.1f} µs"
        ),
    )


def _link_row(repetitions: int) -> Row:
    setup_django()
    from django.contrib.auth.models import User
    from django.contrib.auth.tokens import PasswordResetTokenGenerator

    generator = PasswordResetTokenGenerator()
    generator.secret = KEY  # the same key length as credflow's; Django's own HMAC-SHA256
    generator.secret_fallbacks = []
    user = User(pk=1, username="bench", email="bench@example.fr", password="x" * 80)
    cf = _facade(MemoryStorage(), ["email_link"], hashing.TESTING)
    account = cf.accounts.create("bench.link", email="link@example.fr", temporary=False).account

    def ours() -> None:
        for _ in range(CALLS):
            token = cf.tokens.issue(account, "reset").token
            cf.tokens.verify_signature(token, "reset")

    def theirs() -> None:
        for _ in range(CALLS):
            generator.check_token(user, generator.make_token(user))

    ours()
    theirs()
    mine, django = measure_interleaved([ours, theirs], calls=CALLS, repetitions=repetitions)
    return Row("link issue + verify vs Django make_token + check_token", mine, django, 3.0)


def _redeem_sqlite(repetitions: int) -> Check:
    with tempfile.TemporaryDirectory() as tmp:
        storage = SQLStorage(f"sqlite:///{Path(tmp) / 'bench.db'}", create=True)
        try:
            cf = _facade(storage, ["email_link"], hashing.TESTING)
            account = cf.accounts.create("bench.link", email="l@example.fr", temporary=False)
            calls = 100
            tokens = [
                cf.tokens.issue(account.account, "reset").token for _ in range(calls * repetitions)
            ]
            it = iter(tokens)

            def batch() -> None:
                for _ in range(calls):
                    assert cf.tokens.redeem(next(it), "reset").ok

            totals = [time_batch(batch) for _ in range(repetitions)]
        finally:
            storage.dispose()
    per_call = statistics.median(totals) / calls * 1e6
    return Check(
        "full redeem on SQLite file (signature, age, atomic consume)",
        per_call,
        "µs/call",
        detail=f"{calls} redeems per batch, {repetitions} batches, median",
    )


def run(settings: Settings) -> Table:
    samples = 60 if settings.quick else 200
    memory = _start_ratio(samples, MemoryStorage(), "memory")
    with tempfile.TemporaryDirectory() as tmp:
        storage = SQLStorage(f"sqlite:///{Path(tmp) / 'parity.db'}", create=True)
        try:
            sqlite = _start_ratio(samples, storage, "SQLite file")
        finally:
            storage.dispose()
    return Table(
        title="Recovery: start parity, and links against Django's reset tokens",
        reference="django",
        rows=(_link_row(settings.repetitions),),
        checks=(memory, sqlite, _redeem_sqlite(3 if settings.quick else 5)),
    )


BENCHMARK = Benchmark("recovery", "recovery start parity; links vs Django's reset tokens", run)
