"""Second-factor races: sixteen Credflow instances (sixteen app servers) on one storage, sixteen
threads released together by a barrier, on memory, SQLite (a file) and PostgreSQL.

- OT-04: one TOTP code sent to sixteen pending logins at once: exactly one is accepted (the
  step is stored atomically, ``use_totp_step``); the same on one login's flow.
- RC-03: one recovery code used by sixteen logins at once: exactly one success.
- EV-03: one SMS code checked sixteen times on its flow: exactly one success.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from tests.factories import clock, make_cf
from tests.storage_fixtures import ADAPTERS, WORKERS, open_storage, race
from tests.test_mfa import account, code_now, enrol_sms, enrol_totp, last_sms, mfa_flow

from credflow.facade import Credflow
from credflow.results import MfaResult, MfaStatus
from credflow.storage.protocols import Storage

ROUNDS = 2
R = TypeVar("R")


@pytest.fixture(params=ADAPTERS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    with open_storage(request.param, tmp_path) as storage:
        yield storage


def servers(storage: Storage, **overrides: Any) -> list[Credflow]:
    """Sixteen facades on one storage; failures never lock here (the races are about codes)."""
    return [make_cf(storage, lockout={"threshold": 100}, **overrides) for _ in range(WORKERS)]


def advance(cfs: list[Credflow], seconds: float) -> None:
    for cf in cfs:
        clock(cf).advance(seconds)


def no_exceptions(results: list[R | Exception]) -> list[R]:
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    return [r for r in results if not isinstance(r, Exception)]


def verify(cfs: list[Credflow], flows: list[str], code: str, worker: int) -> MfaResult:
    """Worker ``worker`` types ``code`` at its flow, through its own server."""
    return cfs[worker].mfa.verify(flows[worker], code)


def one_winner(cf: Credflow, results: list[MfaResult], account_id: str) -> MfaResult:
    statuses = Counter(r.status for r in results)
    assert statuses[MfaStatus.COMPLETED] == 1, statuses
    assert set(statuses) <= {MfaStatus.COMPLETED, MfaStatus.REFUSED, MfaStatus.INVALID}
    [won] = [r for r in results if r.ok]
    assert won.session is not None and cf.sessions.validate(won.session.token) is not None
    assert sum(r.session is not None for r in results) == 1
    verified = [e for e in cf.storage.events(account_id=account_id) if e.type == "mfa_verified"]
    assert len(verified) == 1
    return won


@pytest.mark.req("OT-04", "DB-01")
def test_one_totp_code_at_sixteen_pending_logins_passes_once(storage: Storage) -> None:
    cfs = servers(storage)
    for round_ in range(ROUNDS):
        identifier = f"agent.totp{round_}"
        account_id = account(cfs[0], identifier)
        secret, _ = enrol_totp(cfs[0], identifier)
        advance(cfs[1:], 30)
        flows = [mfa_flow(cfs[w], identifier) for w in range(WORKERS)]
        code = code_now(cfs[0], secret)

        results = no_exceptions(race(partial(verify, cfs, flows, code)))

        one_winner(cfs[0], results, account_id)
        assert Counter(r.code for r in results if not r.ok) == {"mfa.code_wrong": WORKERS - 1}
        assert cfs[0].lockout.failures(account_id) == WORKERS - 1  # replays are counted
        advance(cfs, 30)


@pytest.mark.req("OT-04", "DB-01")
def test_one_totp_code_sixteen_times_on_one_flow_passes_once(storage: Storage) -> None:
    cfs = servers(storage)
    for round_ in range(ROUNDS):
        identifier = f"agent.flow{round_}"
        account_id = account(cfs[0], identifier)
        secret, _ = enrol_totp(cfs[0], identifier)
        advance(cfs[1:], 30)
        flow = mfa_flow(cfs[0], identifier)
        code = code_now(cfs[0], secret)

        results = no_exceptions(race(partial(verify, cfs, [flow] * WORKERS, code)))

        one_winner(cfs[0], results, account_id)
        assert cfs[3].mfa.verify(flow, code).status is MfaStatus.INVALID
        advance(cfs, 30)


@pytest.mark.req("RC-03", "DB-01")
def test_one_recovery_code_at_sixteen_pending_logins_passes_once(storage: Storage) -> None:
    cfs = servers(storage)
    for round_ in range(ROUNDS):
        identifier = f"agent.code{round_}"
        account_id = account(cfs[0], identifier)
        _, codes = enrol_totp(cfs[0], identifier)
        advance(cfs[1:], 30)
        flows = [mfa_flow(cfs[w], identifier) for w in range(WORKERS)]

        results = no_exceptions(race(partial(verify, cfs, flows, codes[0])))

        won = one_winner(cfs[0], results, account_id)
        assert won.codes_left == 9
        assert storage.recovery_codes_left(account_id) == 9
        used = [e for e in storage.events(account_id=account_id) if e.type == "mfa_failed"]
        # Losers that read the code before the winner used it: "used"; after: "wrong".
        assert {e.details["reason"] for e in used} <= {"used", "wrong"}


@pytest.mark.req("EV-03", "DB-01")
def test_one_sms_code_sixteen_times_on_its_flow_passes_once(storage: Storage) -> None:
    cfs = servers(storage)
    for round_ in range(ROUNDS):
        identifier = f"agent.sms{round_}"
        account_id = account(cfs[0], identifier)
        enrol_sms(cfs[0], identifier)
        flow = mfa_flow(cfs[0], identifier)
        assert cfs[0].mfa.send_code(flow).ok
        code = last_sms(cfs[0])

        results = no_exceptions(race(partial(verify, cfs, [flow] * WORKERS, code)))

        one_winner(cfs[0], results, account_id)
        advance(cfs, 900)  # past the SMS rate window for the next round
