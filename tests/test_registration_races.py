"""Registration and email-change races: sixteen Credflow instances (sixteen app servers) on one
storage, sixteen threads released together by a barrier.

Run on the memory adapter, SQLite (a file: every thread has its own connection) and PostgreSQL
(READ COMMITTED). Each race is repeated a few rounds.

- EV-03, DB-01: one verification code submitted sixteen times at once activates the account once.
- EV-03: one email-change code submitted sixteen times at once changes the address once and
  sends one notice.
- EV-08 with unique emails: sixteen accounts confirm a change to the same address at once; the
  email lock lets exactly one take it, the others are refused and keep their address.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from tests.factories import make_cf, outbox
from tests.storage_fixtures import ADAPTERS, WORKERS, open_storage, race, scratch_directory

from credflow.facade import Credflow
from credflow.results import VerificationResult, VerificationStatus
from credflow.storage.protocols import Storage
from credflow.storage.records import AccountStatus

ROUNDS = 3
PASSWORD = "Bleu2024x"
NO_REAUTH: dict[str, Any] = {"registration": {"email_change_reauthenticate": False}}


@pytest.fixture(params=ADAPTERS)
def storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    with scratch_directory() as directory, open_storage(request.param, directory) as storage:
        yield storage


def servers(storage: Storage, **overrides: Any) -> list[Credflow]:
    """Sixteen facades on one storage; their frozen clocks all read the same instant."""
    return [make_cf(storage, **overrides) for _ in range(WORKERS)]


def statuses(results: list[VerificationResult | Exception]) -> Counter[VerificationStatus]:
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    return Counter(r.status for r in results if isinstance(r, VerificationResult))


def code_for(cf: Credflow, recipient: str) -> str:
    sent = [m for m in outbox(cf).for_recipient(recipient) if m.kind == "email_verification_code"]
    return sent[-1].params["code"]


def verified_session(cf: Credflow, email: str) -> tuple[str, str]:
    result = cf.registration.register(email, PASSWORD, PASSWORD)
    done = cf.registration.verify(result.flow or "", code_for(cf, email))
    login = cf.login(email, PASSWORD)
    assert done.account_id is not None and login.session is not None
    return done.account_id, login.session.token


def verify(cfs: list[Credflow], flow: str, code: str, worker: int) -> VerificationResult:
    return cfs[worker].registration.verify(flow, code)


def confirm(
    cfs: list[Credflow], attempts: list[tuple[str, str]], worker: int
) -> VerificationResult:
    flow, code = attempts[worker]
    return cfs[worker].email_change.confirm(flow, code)


@pytest.mark.req("EV-03", "DB-01")
def test_one_verification_code_sixteen_submissions_one_activation(storage: Storage) -> None:
    cfs = servers(storage, registration={"login_after_verification": True})
    for round_ in range(ROUNDS):
        email = f"race{round_}@example.fr"
        result = cfs[0].registration.register(email, PASSWORD, PASSWORD)
        code = code_for(cfs[0], email)
        flow = result.flow or ""
        results = race(partial(verify, cfs, flow, code))
        counted = statuses(results)
        assert counted[VerificationStatus.COMPLETED] == 1, counted
        assert counted[VerificationStatus.INVALID] == WORKERS - 1, counted
        [winner] = [r for r in results if isinstance(r, VerificationResult) and r.ok]
        assert winner.session is not None and winner.account_id is not None
        account = storage.get_account(winner.account_id)
        assert account is not None and account.status is AccountStatus.ACTIVE
        events = [e.type for e in storage.events(account_id=winner.account_id)]
        assert events.count("account_verified") == 1 and events.count("session_issued") == 1


@pytest.mark.req("EV-03", "EV-08", "DB-01")
def test_one_email_change_code_sixteen_submissions_one_change(storage: Storage) -> None:
    cfs = servers(storage, **NO_REAUTH)
    for round_ in range(ROUNDS):
        old, new = f"old{round_}@example.fr", f"new{round_}@example.fr"
        account_id, session = verified_session(cfs[0], old)
        started = cfs[0].email_change.start(session, new)
        code = code_for(cfs[0], new)
        flow = started.flow or ""
        counted = statuses(race(partial(confirm, cfs, [(flow, code)] * WORKERS)))
        assert counted[VerificationStatus.COMPLETED] == 1, counted
        account = storage.get_account(account_id)
        assert account is not None and account.email == new
        notices = [
            m
            for cf in cfs
            for m in outbox(cf).for_recipient(old)
            if m.kind == "email_change_notice"
        ]
        assert len(notices) == 1
        events = [e.type for e in storage.events(account_id=account_id)]
        assert events.count("email_changed") == 1


@pytest.mark.req("EV-08")
def test_sixteen_accounts_race_for_one_address_with_unique_emails(storage: Storage) -> None:
    cfs = servers(storage, unique_emails=True, **NO_REAUTH)
    for round_ in range(ROUNDS):
        target = f"convoitee{round_}@example.fr"
        flows: list[tuple[str, str, str]] = []
        for worker, cf in enumerate(cfs):
            account_id, session = verified_session(cf, f"w{worker}.r{round_}@example.fr")
            started = cf.email_change.start(session, target)
            flows.append((account_id, started.flow or "", code_for(cf, target)))
        results = race(partial(confirm, cfs, [(flow, code) for _, flow, code in flows]))
        counted = statuses(results)
        assert counted[VerificationStatus.COMPLETED] == 1, counted
        assert counted[VerificationStatus.REFUSED] == WORKERS - 1, counted
        accounts = [storage.get_account(account_id) for account_id, _, _ in flows]
        assert [a is not None and a.email == target for a in accounts].count(True) == 1
        refused = [r for r in results if isinstance(r, VerificationResult) and not r.ok]
        assert {r.code for r in refused} == {"email_change.email_taken"}
