"""The session's active organisation (DEFI): the default at login, switching without a new
login, and a pending or disabled membership never reported as the active organisation."""

from __future__ import annotations

from typing import Any

import pytest
from tests.factories import clock, make_cf
from tests.test_login import GOOD, ready

from credflow.errors import ConcurrentUpdate, InvalidInput, NotAuthorised
from credflow.facade import Credflow
from credflow.results import Session, StepStatus
from credflow.storage.memory import MemoryStorage
from credflow.storage.records import FlowRecord, MembershipStatus, Organisation

SIRETS = ("73282932000074", "35600000049837", "35600000000048")


class World:
    """Three organisations run by ``admin``; ``alain`` is a person with a password."""

    def __init__(self, storage: MemoryStorage | None = None) -> None:
        self.cf = make_cf(storage)
        cf = self.cf
        self.admin = cf.accounts.create("admin", temporary=False).account.id
        self.orgs: list[Organisation] = []
        for i, number in enumerate(SIRETS):
            org = cf.organisations.create(f"Client {i}", registration_number=number)
            cf.organisations.join(self.admin, org.id, roles=["administrator"])
            found = cf.storage.get_membership(self.admin, org.id)
            assert found is not None
            cf.storage.update_membership(
                found.model_copy(update={"status": MembershipStatus.ACTIVE})
            )
            self.orgs.append(org)
        self.alain = ready(cf, "adejoux")

    def add(self, org: int) -> None:
        self.cf.organisations.add_member(self.admin, self.orgs[org].id, self.alain)

    def join(self, org: int) -> None:
        self.cf.organisations.join(self.alain, self.orgs[org].id)

    def login(self) -> Session:
        result = self.cf.login("adejoux", GOOD)
        assert result.session is not None
        return result.session

    def org_id(self, org: int) -> str:
        return self.orgs[org].id


@pytest.fixture
def world() -> World:
    return World()


# -- the default at login -----------------------------------------------------------------------


def test_no_membership_no_organisation(world: World) -> None:
    session = world.login()
    assert session.organisation is None
    assert world.cf.sessions.organisation(session.token) is None


def test_exactly_one_active_membership_is_the_default(world: World) -> None:
    world.add(1)
    world.join(0)  # pending: does not count
    session = world.login()
    assert session.organisation == world.org_id(1)
    assert world.cf.sessions.organisation(session.token) == world.org_id(1)


def test_a_pending_membership_alone_gives_none(world: World) -> None:
    """DEFI: until approval, the person signs in (to send a ticket) without an organisation."""
    world.join(0)
    assert world.login().organisation is None


def test_several_active_memberships_leave_the_choice_to_the_host(world: World) -> None:
    world.add(0)
    world.add(2)
    session = world.login()
    assert session.organisation is None


def test_issue_with_an_explicit_organisation(world: World) -> None:
    cf = world.cf
    world.add(0)
    world.join(1)
    account = cf.accounts.get(world.alain)
    assert cf.sessions.issue(account, organisation=world.org_id(0)).organisation == world.org_id(0)
    for refused in (world.org_id(1), world.org_id(2), "ghost"):
        with pytest.raises(NotAuthorised):
            cf.sessions.issue(account, organisation=refused)
    with pytest.raises(InvalidInput) as caught:
        cf.sessions.issue(account, organisation=3)  # type: ignore[arg-type]
    assert caught.value.field == "organisation"


# -- switching ----------------------------------------------------------------------------------


def test_switch_between_organisations_without_a_new_login(world: World) -> None:
    cf = world.cf
    world.add(0)
    world.add(1)
    session = world.login()
    first = cf.sessions.switch_organisation(session, world.org_id(0))
    assert first.status is StepStatus.COMPLETED and first.ok
    assert first.code == "organisation.switched"
    assert first.message == "Vous travaillez maintenant pour : Client 0."
    assert first.session is not None
    assert first.session.token == session.token  # same token, same cookie
    assert first.session.organisation == world.org_id(0)
    assert (first.session.created_at, first.session.expires_at) == (
        session.created_at,
        session.expires_at,
    )
    assert cf.sessions.organisation(session.token) == world.org_id(0)
    second = cf.sessions.switch_organisation(session.token, world.org_id(1), locale="en")
    assert second.message == "You are now working for: Client 1."
    assert cf.sessions.organisation(session.token) == world.org_id(1)
    assert cf.sessions.validate(session.token) is not None
    events = [e for e in cf.storage.events(account_id=world.alain) if e.type.startswith("organ")]
    assert [(e.type, e.details["previous"]) for e in events] == [
        ("organisation_switched", None),
        ("organisation_switched", world.org_id(0)),
    ]


def test_switching_to_the_current_organisation_changes_nothing(world: World) -> None:
    cf = world.cf
    world.add(0)
    session = world.login()
    storage = cf.storage
    assert isinstance(storage, MemoryStorage)
    before = {k: v.version for k, v in storage._flows.items()}
    again = cf.sessions.switch_organisation(session, world.org_id(0))
    assert again.status is StepStatus.COMPLETED
    assert {k: v.version for k, v in storage._flows.items()} == before


@pytest.mark.parametrize(
    ("prepare", "code"),
    [
        ("pending", "organisation.pending_approval"),
        ("disabled", "organisation.disabled"),
        ("none", "organisation.not_member"),
        ("unknown", "organisation.not_member"),
    ],
)
def test_a_refused_switch_changes_nothing(world: World, prepare: str, code: str) -> None:
    cf = world.cf
    world.add(0)
    target = world.org_id(1)
    if prepare == "pending":
        world.join(1)
    elif prepare == "disabled":
        world.add(1)
        cf.organisations.deactivate(world.admin, target, world.alain)
    elif prepare == "unknown":
        target = "ghost"
    session = world.login()
    assert session.organisation == world.org_id(0)
    refused = cf.sessions.switch_organisation(session, target)
    assert refused.status is StepStatus.REFUSED and not refused.ok
    assert refused.code == code
    assert refused.session is None
    assert cf.sessions.organisation(session.token) == world.org_id(0)
    event = cf.storage.events(account_id=world.alain)[-1]
    assert event.type == "organisation_switch_refused"
    assert event.details == {"organisation": target, "reason": code.partition(".")[2]}


def test_refusal_messages_in_both_locales(world: World) -> None:
    cf = world.cf
    world.join(0)
    session = world.login()
    fr = cf.sessions.switch_organisation(session, world.org_id(0))
    en = cf.sessions.switch_organisation(session, world.org_id(0), locale="en")
    assert "attend la validation" in fr.message
    assert "waiting for one of its administrators" in en.message


def test_switching_needs_a_valid_session(world: World) -> None:
    cf = world.cf
    world.add(0)
    session = world.login()
    cf.sessions.revoke(session.token)
    for token in (session.token, "garbage", ""):
        result = cf.sessions.switch_organisation(token, world.org_id(0))
        assert result.status is StepStatus.INVALID
        assert result.code == "session.invalid"
        assert result.message == "Votre session a pris fin. Veuillez vous reconnecter."
    with pytest.raises(InvalidInput) as caught:
        cf.sessions.switch_organisation(session, None)  # type: ignore[arg-type]
    assert caught.value.field == "organisation_id"


def test_the_organisation_survives_the_idle_touch(world: World) -> None:
    cf = world.cf
    world.add(0)
    world.add(1)
    session = world.login()
    cf.sessions.switch_organisation(session, world.org_id(1))
    clock(cf).advance(120)
    assert cf.sessions.validate(session.token) is not None  # touches the record
    assert cf.sessions.organisation(session.token) == world.org_id(1)


# -- deactivation ------------------------------------------------------------------------------


def test_deactivation_ends_the_active_organisation_at_once(world: World) -> None:
    """organisation() re-checks the membership on every call: no stale window. Reactivation
    restores it for the sessions that still carry it (an administrator's decision)."""
    cf = world.cf
    world.add(0)
    session = world.login()
    assert cf.sessions.organisation(session.token) == world.org_id(0)
    cf.organisations.deactivate(world.admin, world.org_id(0), world.alain)
    assert cf.sessions.validate(session.token) is not None  # the session itself stays
    assert cf.sessions.organisation(session.token) is None
    assert world.login().organisation is None
    cf.organisations.reactivate(world.admin, world.org_id(0), world.alain)
    assert cf.sessions.organisation(session.token) == world.org_id(0)


def test_an_invalid_session_has_no_organisation(world: World) -> None:
    cf = world.cf
    world.add(0)
    session = world.login()
    cf.accounts.disable(world.alain)
    assert cf.sessions.organisation(session.token) is None


# -- compare-and-set ---------------------------------------------------------------------------


class RacingStorage(MemoryStorage):
    """``advance_flow`` on a session loses its compare-and-set ``losses`` times."""

    def __init__(self) -> None:
        super().__init__()
        self.losses = 0

    def advance_flow(self, flow: FlowRecord, *, expected_state: str) -> FlowRecord:
        if flow.kind == "session" and self.losses:
            self.losses -= 1
            raise ConcurrentUpdate("touched by a parallel request")
        return super().advance_flow(flow, expected_state=expected_state)


@pytest.mark.parametrize("losses", [1, 2])
def test_a_lost_compare_and_set_is_retried(losses: int) -> None:
    storage = RacingStorage()
    world = World(storage)
    world.add(0)
    world.add(1)
    session = world.login()
    storage.losses = losses
    result = world.cf.sessions.switch_organisation(session, world.org_id(1))
    assert result.status is StepStatus.COMPLETED
    assert world.cf.sessions.organisation(session.token) == world.org_id(1)


def test_a_session_that_keeps_changing_raises() -> None:
    storage = RacingStorage()
    world = World(storage)
    world.add(0)
    world.add(1)
    session = world.login()
    storage.losses = 3
    with pytest.raises(ConcurrentUpdate):
        world.cf.sessions.switch_organisation(session, world.org_id(1))
    assert world.cf.sessions.organisation(session.token) is None


def test_other_session_issuers_pick_the_default_too() -> None:
    """First login and the password change from a session issue sessions as well."""
    cf: Credflow = make_cf(reauthenticate_after_password_change=False)
    org = cf.organisations.create("Client")
    created = cf.accounts.create("adejoux", email="a@example.fr")
    admin: Any = cf.accounts.create("admin", temporary=False).account.id
    cf.organisations.join(admin, org.id, roles=["administrator"])
    found = cf.storage.get_membership(admin, org.id)
    assert found is not None
    cf.storage.update_membership(found.model_copy(update={"status": MembershipStatus.ACTIVE}))
    cf.organisations.add_member(admin, org.id, created.account.id)
    flow = cf.login("adejoux", created.temporary_password or "").flow or ""
    step = cf.first_login.change_password(flow, GOOD, GOOD)
    step = cf.first_login.enroll_question(step.flow or "", "Ma couleur préférée ?", "bleu")
    assert step.session is not None and step.session.organisation == org.id
