"""Second factor (issue 6's first benchmark): TOTP verification against raw pyotp.

1. The TOTP check with its replay-store write, on SQLite file storage: the shape check of the
   code, the factor read, the secret's derivation from its stored seed (one HMAC-SHA-256), the
   {T-1, T} comparison and ``use_totp_step`` (an atomic "newer than
   the last step" UPDATE, committed), against raw ``pyotp.TOTP.verify`` of the same codes at the
   same times. Reported as a ratio and µs per call; the issue sets no target.
2. For information: the whole ``cf.mfa.verify(flow, code)`` of a login on SQLite (flow and
   account reads, lockout check, the check above, compare-and-set and deletion of the flow,
   counter reset, two audit events and a stored, signed session), and the check in memory.

Every call uses a step no earlier call used: each timed batch runs one 30-second step later, on
accounts of its own step history, so no call is refused as a replay.
"""

from __future__ import annotations

import itertools
import tempfile
import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pyotp

from bench.common import Benchmark, Row, Settings, Table, measure_interleaved
from credflow import hashing
from credflow.clock import FrozenClock
from credflow.deviations import StandardsDeviationWarning
from credflow.facade import Credflow
from credflow.mfa import seeds, totp
from credflow.notify import Outbox
from credflow.settings import Settings as CredflowSettings
from credflow.storage.memory import MemoryStorage
from credflow.storage.protocols import Storage
from credflow.storage.records import Account, MfaFactor, MfaKind
from credflow.storage.sql import SQLStorage

__all__ = ["BENCHMARK", "run"]

KEY = "bench-secret-key-of-at-least-32-bytes"
CALLS = 100


class _Bench:
    """``calls`` accounts with a confirmed TOTP, and their codes for every batch's step."""

    def __init__(self, storage: Storage, calls: int, batches: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StandardsDeviationWarning)
            settings = CredflowSettings.classic(
                secret_key=KEY,
                base_url="https://bench.example.fr",
                hashing=hashing.TESTING,
                lifetimes={"flow": 86_400},
            )
        self.clock = FrozenClock()
        self.cf = Credflow(storage=storage, settings=settings, notifier=Outbox(), clock=self.clock)
        self.start = self.clock.now()
        self.accounts: list[Account] = []
        self.totps: list[pyotp.TOTP] = []
        key = settings.signing_keys[0]
        for index in range(calls):
            account = self.cf.accounts.create(f"bench.{index}", temporary=False).account
            seed = seeds.new_seed()  # stored sealed; the app's secret is derived (OT-08)
            secret = seeds.derive(key, account.id, seed)
            storage.save_mfa_factor(
                MfaFactor(
                    account_id=account.id,
                    kind=MfaKind.TOTP,
                    secret=seeds.seal(key, seed),
                    confirmed=True,
                    created_at=self.start,
                )
            )
            self.accounts.append(account)
            self.totps.append(pyotp.TOTP(secret))
        first = totp.step_at(self.start.timestamp())
        self.codes = [
            [t.generate_otp(first + batch) for t in self.totps] for batch in range(batches)
        ]

    def at(self, batch: int) -> int:
        """Move the clock to ``batch``'s step; return that Unix time."""
        when = self.start + timedelta(seconds=30 * batch)
        self.clock.set(when)
        return int(when.timestamp())

    def check(self, batch: int) -> None:
        """credflow's TOTP check with the replay store, for every account, at ``batch``'s step."""
        self.at(batch)
        mfa, storage = self.cf.mfa, self.cf.storage
        for account, code in zip(self.accounts, self.codes[batch], strict=True):
            check = mfa.check(account, mfa.parse(code), None)
            with storage.transaction():
                if not (check.matched and mfa.consume(account, check)):
                    raise AssertionError("a valid code was refused")

    def raw(self, batch: int) -> None:
        """Raw pyotp on the same codes at the same time."""
        now = self.at(batch)
        for one, code in zip(self.totps, self.codes[batch], strict=True):
            if not one.verify(code, for_time=now):
                raise AssertionError("pyotp refused a valid code")


def _batches(run: Callable[[int], None]) -> Callable[[], None]:
    """A batch callable that runs one step later each time it is called."""
    counter = itertools.count()
    return lambda: run(next(counter))


def _check_row(name: str, storage: Storage, repetitions: int, target: float | None) -> Row:
    bench = _Bench(storage, CALLS, 2 * (repetitions + 1))
    ours = _batches(bench.check)
    reference_steps = itertools.count(repetitions + 1)  # its own steps: pyotp stores nothing

    def theirs() -> None:
        bench.raw(next(reference_steps))

    ours()  # warm-up, and proof that every code passes
    theirs()
    mine, raw = measure_interleaved([ours, theirs], calls=CALLS, repetitions=repetitions)
    return Row(name, mine, raw, target)


def _verify_row(storage: Storage, repetitions: int) -> Row:
    bench = _Bench(storage, CALLS, 2 * (repetitions + 1))
    login = bench.cf._login
    flows = [[login.start_second_factor(a) for a in bench.accounts] for _ in range(repetitions + 1)]
    counter = itertools.count()

    def ours() -> None:
        batch = next(counter)
        bench.at(batch)
        for flow, code in zip(flows[batch], bench.codes[batch], strict=True):
            if not bench.cf.mfa.verify(flow, code).ok:
                raise AssertionError("a valid code was refused")

    reference_steps = itertools.count(repetitions + 1)

    def theirs() -> None:
        bench.raw(next(reference_steps))

    ours()
    theirs()
    mine, raw = measure_interleaved([ours, theirs], calls=CALLS, repetitions=repetitions)
    return Row("full cf.mfa.verify of a login (SQLite file)", mine, raw, None)


def run(settings: Settings) -> Table:
    repetitions = settings.repetitions
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, row in (
            (
                "check.db",
                lambda s: _check_row(
                    "TOTP check + replay store (SQLite file)", s, repetitions, None
                ),
            ),
            ("verify.db", lambda s: _verify_row(s, repetitions)),
        ):
            storage = SQLStorage(f"sqlite:///{Path(tmp) / name}", create=True)
            try:
                rows.append(row(storage))
            finally:
                storage.dispose()
    rows.append(
        _check_row("TOTP check + replay store (memory)", MemoryStorage(), repetitions, None)
    )
    return Table(
        title="TOTP verification: credflow (with the replay store) vs raw pyotp.TOTP.verify",
        reference="raw pyotp",
        rows=tuple(rows),
        notes=(
            f"{CALLS} codes per batch, {repetitions} interleaved batches per side; every code "
            "valid, each at a step its account never used",
        ),
    )


BENCHMARK = Benchmark("mfa", "TOTP check with the replay store vs raw pyotp", run)
