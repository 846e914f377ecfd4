"""Organisation races: sixteen Credflow instances ("app servers") on one storage, sixteen
threads released together, on memory, SQLite (a file) and PostgreSQL (READ COMMITTED).

- One pending membership approved sixteen times at once is approved once (one event).
- Sixteen sign-ups with one SIRET create one organisation, one account, two mails.
- Sixteen joins of one account to one organisation create one membership.
- Sixteen switches of one session leave it on one of the organisations asked for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.factories import make_cf, outbox
from tests.storage_fixtures import ADAPTERS, WORKERS, open_storage, race

from credflow.errors import (
    ConcurrentUpdate,
    DuplicateMembership,
    DuplicateOrganisation,
    InvalidTransition,
)
from credflow.facade import Credflow
from credflow.results import StepStatus
from credflow.storage.protocols import Storage
from credflow.storage.records import Membership, MembershipStatus

SIRET = "73282932000074"


@pytest.fixture(params=ADAPTERS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    with open_storage(request.param, tmp_path) as storage:
        yield storage


def servers(storage: Storage) -> list[Credflow]:
    first = make_cf(storage)
    return [first] + [
        Credflow(
            storage=storage, settings=first.settings, clock=first.clock, notifier=first.notifier
        )
        for _ in range(WORKERS - 1)
    ]


def kinds(results: list[Any]) -> Counter[str]:
    return Counter(type(r).__name__ for r in results)


def organisation_with_admin(cf: Credflow) -> tuple[str, str]:
    done = cf.organisations.sign_up("Client", SIRET, identifier="admin", email="admin@ex.fr")
    return done.organisation.id, done.account.id


@pytest.mark.req("DB-01")
def test_one_approval_wins(storage: Storage) -> None:
    cfs = servers(storage)
    org, admin = organisation_with_admin(cfs[0])
    person = cfs[0].accounts.create("person", temporary=False).account.id
    cfs[0].organisations.join(person, org)
    results = race(lambda i: cfs[i].organisations.approve(admin, org, person))
    counted = kinds(results)
    assert counted["Membership"] == 1
    assert set(counted) <= {"Membership", "ConcurrentUpdate", "InvalidTransition"}
    assert all(isinstance(r, (Membership, ConcurrentUpdate, InvalidTransition)) for r in results)
    stored = storage.get_membership(person, org)
    assert stored is not None and stored.status is MembershipStatus.ACTIVE
    assert stored.version == 2
    approvals = [e for e in storage.events(account_id=person) if e.type == "membership_approved"]
    assert len(approvals) == 1


@pytest.mark.req("DB-02")
def test_one_sign_up_per_registration_number(storage: Storage) -> None:
    cfs = servers(storage)
    results = race(
        lambda i: cfs[i].organisations.sign_up(
            f"Client {i}", SIRET, identifier=f"EK7000{i:02d}", email=f"admin{i}@ex.fr"
        )
    )
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, DuplicateOrganisation) for r in results if r not in winners)
    (winner,) = winners
    assert storage.find_organisation(SIRET) == winner.organisation
    assert [a.id for a in storage.list_accounts()] == [winner.account.id]  # no orphan account
    assert storage.memberships_of(winner.account.id) == [winner.membership]
    mails = outbox(cfs[0]).messages
    assert [m.kind for m in mails] == ["identifier", "temporary_password"]
    assert {m.recipient for m in mails} == {winner.account.email}


def test_one_join_per_account_and_organisation(storage: Storage) -> None:
    cfs = servers(storage)
    org, _ = organisation_with_admin(cfs[0])
    person = cfs[0].accounts.create("person", temporary=False).account.id
    results = race(lambda i: cfs[i].organisations.join(person, org))
    counted = kinds(results)
    assert counted["Membership"] == 1
    assert counted["DuplicateMembership"] == WORKERS - 1
    assert all(isinstance(r, (Membership, DuplicateMembership)) for r in results)
    requested = [e for e in storage.events(account_id=person) if e.type == "membership_requested"]
    assert len(requested) == 1


def test_parallel_switches_leave_one_of_the_organisations(storage: Storage) -> None:
    cfs = servers(storage)
    first, admin = organisation_with_admin(cfs[0])
    second = cfs[0].organisations.sign_up(
        "Autre client", "35600000049837", identifier="admin2", email="admin2@ex.fr"
    )
    person = cfs[0].accounts.create("person", temporary=False).account.id
    cfs[0].organisations.add_member(admin, first, person)
    cfs[0].organisations.add_member(second.account.id, second.organisation.id, person)
    session = cfs[0].sessions.issue(cfs[0].accounts.get(person))
    assert session.organisation is None  # two active memberships: the host asks
    targets = [first, second.organisation.id]
    results = race(lambda i: cfs[i].sessions.switch_organisation(session.token, targets[i % 2]))
    assert all(not isinstance(r, Exception) or isinstance(r, ConcurrentUpdate) for r in results)
    done = [r for r in results if not isinstance(r, Exception)]
    assert done and all(r.status is StepStatus.COMPLETED for r in done)
    assert cfs[0].sessions.organisation(session.token) in targets
    switched = [e for e in storage.events(account_id=person) if e.type == "organisation_switched"]
    assert len(switched) == len(done)
