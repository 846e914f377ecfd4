"""Registration (issue 6's benchmark 2): registration to verified account, in memory with the
TESTING profile, scenarios per second on one thread.

A scenario is what a test suite does for each new customer: ``cf.registration.register`` (policy
checklist, one hash, the pending account, its password, the flow, the event and the mail), then
``cf.registration.verify`` with the mailed code (HMAC check, email lock, compare-and-set on the
flow, activation, event). The existing-address path (the same answer, "you already have an
account" mailed) is timed too, for information.
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Callable

from bench.common import Benchmark, Check, Row, Settings, Table, measure_interleaved
from credflow import hashing
from credflow.clock import FrozenClock
from credflow.deviations import StandardsDeviationWarning
from credflow.facade import Credflow
from credflow.notify import Outbox
from credflow.results import VerificationStatus
from credflow.settings import Settings as CredflowSettings
from credflow.storage.memory import MemoryStorage

__all__ = ["BENCHMARK", "run"]

KEY = "bench-secret-key-of-at-least-32-bytes"
PASSWORD = "Bleu2024x-long"
CALLS = 200


def _facade() -> Credflow:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StandardsDeviationWarning)
        settings = CredflowSettings.classic(
            secret_key=KEY, base_url="https://bench.example.fr", hashing=hashing.TESTING
        )
    return Credflow(
        storage=MemoryStorage(), settings=settings, notifier=Outbox(), clock=FrozenClock()
    )


def _rate(scenario: Callable[[int], None], seconds: float) -> tuple[float, int]:
    for i in range(50):  # warm-up
        scenario(i)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        scenario(1_000 + done)
        done += 1
    return done / (time.perf_counter() - start), done


def _verified(seconds: float) -> Check:
    cf = _facade()
    outbox = cf.notifier
    assert isinstance(outbox, Outbox)

    def scenario(i: int) -> None:
        result = cf.registration.register(f"client{i}@example.fr", PASSWORD, PASSWORD)
        message = outbox.last()
        assert message is not None
        done = cf.registration.verify(result.flow or "", message.params["code"])
        assert done.status is VerificationStatus.COMPLETED

    rate, done = _rate(scenario, seconds)
    return Check(
        "registration → verified account (TESTING profile)",
        rate,
        "per s",
        detail=f"{done} scenarios in memory on one thread: register + verify, 1 argon2 hash each",
    )


def _existing(seconds: float) -> Check:
    cf = _facade()
    cf.accounts.create("deja", email="deja@example.fr", temporary=False)
    settings = cf.settings.registration

    def scenario(i: int) -> None:
        if i % settings.rate_limit == 0:
            cf.clock.advance(settings.rate_window)  # type: ignore[attr-defined]
        result = cf.registration.register("deja@example.fr", PASSWORD, PASSWORD)
        assert result.status is VerificationStatus.NEXT

    rate, done = _rate(scenario, seconds)
    return Check(
        "existing address: the same answer, no account (TESTING profile)",
        rate,
        "per s",
        detail=f"{done} registrations of a known address; mails 'you already have an account'",
    )


def _against_admin_creation(repetitions: int) -> Row:
    """Self-registration against what an administrator's ``cf.accounts.create`` costs (an
    account and a hashed temporary password), for information."""
    cf = _facade()
    outbox = cf.notifier
    assert isinstance(outbox, Outbox)
    names = itertools.count()

    def ours() -> None:
        for _ in range(CALLS):
            email = f"self{next(names)}@example.fr"
            flow = cf.registration.register(email, PASSWORD, PASSWORD).flow or ""
            message = outbox.last()
            assert message is not None
            assert cf.registration.verify(flow, message.params["code"]).ok

    def theirs() -> None:
        for _ in range(CALLS):
            name = f"admin{next(names)}"
            cf.accounts.create(name, email=f"{name}@example.fr")

    ours()
    theirs()
    mine, admin = measure_interleaved([ours, theirs], calls=CALLS, repetitions=repetitions)
    return Row("register + verify vs accounts.create", mine, admin, None)


def run(settings: Settings) -> Table:
    seconds = 2.0 if settings.quick else 5.0
    return Table(
        title="Registration: register + verify in memory (TESTING profile)",
        reference="accounts.create",
        rows=(_against_admin_creation(settings.repetitions),),
        checks=(_verified(seconds), _existing(seconds / 2)),
        notes=(f"row: {CALLS} scenarios (or creations) per batch, interleaved",),
    )


BENCHMARK = Benchmark("registration", "registration to verified account, scenarios/s", run)
