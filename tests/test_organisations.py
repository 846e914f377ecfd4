"""``cf.organisations``: organisations, memberships, administrator approval and roles (DEFI,
Certigna). Every refused call raises a typed error and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from tests.factories import make_cf

from credflow.errors import (
    DuplicateIdentifier,
    DuplicateMembership,
    DuplicateOrganisation,
    InvalidInput,
    InvalidTransition,
    NotAuthorised,
    UnknownAccount,
    UnknownMembership,
    UnknownOrganisation,
)
from credflow.facade import Credflow
from credflow.flows import membership as membership_flow
from credflow.flows.membership import MembershipEvent
from credflow.organisations import ADMINISTRATOR, check_roles
from credflow.storage.memory import MemoryStorage
from credflow.storage.records import MembershipStatus as M

SIRET = "73282932000074"
OTHER_SIRET = "35600000049837"  # a La Poste establishment


def person(cf: Credflow, name: str) -> str:
    return cf.accounts.create(name, email=f"{name}@example.fr", temporary=False).account.id


class World:
    """One organisation with an administrator (``admin``), an ordinary member (``user``) and
    an account that belongs nowhere yet (``newcomer``)."""

    def __init__(self) -> None:
        self.cf = make_cf()
        self.org = self.cf.organisations.create("DEFI Informatique", registration_number=SIRET)
        self.admin = person(self.cf, "admin")
        self.user = person(self.cf, "user")
        self.newcomer = person(self.cf, "newcomer")
        self.cf.organisations.join(self.admin, self.org.id, roles=[ADMINISTRATOR])
        self._force_active(self.admin)
        self.cf.organisations.add_member(self.admin, self.org.id, self.user)

    def _force_active(self, account_id: str) -> None:
        """Bootstrap: the first administrator is made active directly in storage (sign-up
        does it for real; see test_organisations_signup)."""
        found = self.cf.storage.get_membership(account_id, self.org.id)
        assert found is not None
        self.cf.storage.update_membership(found.model_copy(update={"status": M.ACTIVE}))

    def status(self, account_id: str) -> M | None:
        found = self.cf.storage.get_membership(account_id, self.org.id)
        return None if found is None else found.status

    def snapshot(self) -> str:
        storage = self.cf.storage
        assert isinstance(storage, MemoryStorage)
        return repr(vars(storage))


@pytest.fixture
def world() -> World:
    return World()


# -- organisations ----------------------------------------------------------------------------


def test_create_normalises_and_records() -> None:
    cf = make_cf()
    org = cf.organisations.create("  Certigna  ", registration_number="732 829 320 00074")
    assert org.name == "Certigna"
    assert org.registration_number == SIRET
    assert cf.organisations.get(org.id) == org
    assert cf.organisations.find("732829320 00074") == org
    assert cf.organisations.find("356 000 000 49837") is None
    (event,) = cf.storage.events()
    assert event.type == "organisation_created"
    assert event.details == {"organisation": org.id, "registration_number": SIRET}
    plain = cf.organisations.create("Sans numéro")
    assert plain.registration_number is None and plain.id != org.id


def test_a_siren_is_accepted_too() -> None:
    cf = make_cf()
    assert cf.organisations.create("X", registration_number="732829320").registration_number == (
        "732829320"
    )


def test_duplicate_registration_number_is_refused() -> None:
    cf = make_cf()
    cf.organisations.create("A", registration_number=SIRET)
    with pytest.raises(DuplicateOrganisation):
        cf.organisations.create("B", registration_number="732 829 320 00074")
    assert len(cf.storage.events()) == 1


@pytest.mark.parametrize(
    ("name", "number", "field"),
    [
        ("", None, "name"),
        ("   ", None, "name"),
        ("x" * 201, None, "name"),
        ("DEFI\x00", None, "name"),
        ("DEFI\u2028Informatique", None, "name"),
        (42, None, "name"),
        ("DEFI", "73282932000075", "registration_number"),
        ("DEFI", "7328293200007", "registration_number"),
        ("DEFI", "73282932OOOO74", "registration_number"),
        ("DEFI", 73282932000074, "registration_number"),
    ],
)
def test_bad_input_changes_nothing(name: Any, number: Any, field: str) -> None:
    cf = make_cf()
    with pytest.raises(InvalidInput) as caught:
        cf.organisations.create(name, registration_number=number)
    assert caught.value.field == field
    assert cf.storage.events() == []


def test_find_tells_a_typo_from_not_registered() -> None:
    cf = make_cf()
    with pytest.raises(InvalidInput) as caught:
        cf.organisations.find("73282932000075")
    assert caught.value.field == "registration_number"


def test_unknown_organisation() -> None:
    cf = make_cf()
    with pytest.raises(UnknownOrganisation) as caught:
        cf.organisations.get("nope")
    assert caught.value.organisation_id == "nope"
    assert isinstance(caught.value, LookupError)
    with pytest.raises(InvalidInput):
        cf.organisations.get(None)  # type: ignore[arg-type]


# -- joining and approval (DEFI) ----------------------------------------------------------------


def test_join_is_pending_until_an_administrator_approves(world: World) -> None:
    cf = world.cf
    requested = cf.organisations.join(world.newcomer, world.org.id, roles=["user", "user"])
    assert requested.status is M.PENDING_APPROVAL
    assert requested.roles == ("user",)
    event = cf.storage.events(account_id=world.newcomer)[-1]
    assert event.type == "membership_requested"
    assert event.details == {"organisation": world.org.id, "roles": '["user"]'}
    approved = cf.organisations.approve(world.admin, world.org.id, world.newcomer)
    assert approved.status is M.ACTIVE and approved.roles == ("user",)
    assert approved.version == requested.version + 1
    event = cf.storage.events(account_id=world.newcomer)[-1]
    assert event.type == "membership_approved"
    assert event.details == {
        "organisation": world.org.id,
        "by": world.admin,
        "previous": "pending_approval",
    }


def test_join_defaults_to_the_user_role(world: World) -> None:
    assert world.cf.organisations.join(world.newcomer, world.org.id).roles == ("user",)


def test_approval_may_change_the_requested_roles(world: World) -> None:
    """A person asks for roles; the administrator decides which they get."""
    cf = world.cf
    cf.organisations.join(world.newcomer, world.org.id, roles=[ADMINISTRATOR])
    approved = cf.organisations.approve(
        world.admin, world.org.id, world.newcomer, roles=["billing_contact"]
    )
    assert approved.roles == ("billing_contact",)
    assert cf.storage.events(account_id=world.newcomer)[-1].details["roles"] == (
        '["billing_contact"]'
    )


def test_join_twice_or_after_being_deactivated_is_refused(world: World) -> None:
    cf = world.cf
    cf.organisations.join(world.newcomer, world.org.id)
    with pytest.raises(DuplicateMembership):
        cf.organisations.join(world.newcomer, world.org.id)
    cf.organisations.deactivate(world.admin, world.org.id, world.user)
    before = world.snapshot()
    with pytest.raises(DuplicateMembership):
        cf.organisations.join(world.user, world.org.id)
    assert world.snapshot() == before
    assert world.status(world.user) is M.DISABLED


def test_join_needs_an_existing_account_and_organisation(world: World) -> None:
    before = world.snapshot()
    with pytest.raises(UnknownAccount):
        world.cf.organisations.join("ghost", world.org.id)
    with pytest.raises(UnknownOrganisation):
        world.cf.organisations.join(world.newcomer, "ghost")
    assert world.snapshot() == before


def test_one_account_in_several_organisations(world: World) -> None:
    cf = world.cf
    other = cf.organisations.create("Autre client", registration_number=OTHER_SIRET)
    cf.organisations.join(world.user, other.id)
    found = cf.organisations.memberships(world.user)
    assert {m.organisation_id for m in found} == {world.org.id, other.id}
    assert [m.organisation_id for m in found] == sorted(m.organisation_id for m in found)
    statuses = {m.organisation_id: m.status for m in found}
    assert statuses == {world.org.id: M.ACTIVE, other.id: M.PENDING_APPROVAL}
    assert (
        cf.organisations.membership(world.user, other.id)
        == found[[m.organisation_id for m in found].index(other.id)]
    )
    assert cf.organisations.membership(world.newcomer, other.id) is None


def test_deactivate_and_reactivate(world: World) -> None:
    cf = world.cf
    disabled = cf.organisations.deactivate(world.admin, world.org.id, world.user)
    assert disabled.status is M.DISABLED
    assert cf.storage.events(account_id=world.user)[-1].type == "membership_deactivated"
    active = cf.organisations.reactivate(world.admin, world.org.id, world.user)
    assert active.status is M.ACTIVE
    assert cf.storage.events(account_id=world.user)[-1].type == "membership_reactivated"
    assert cf.storage.events(account_id=world.user)[-1].details["previous"] == "disabled"


def test_deactivating_a_pending_request_refuses_it(world: World) -> None:
    cf = world.cf
    cf.organisations.join(world.newcomer, world.org.id)
    refused = cf.organisations.deactivate(world.admin, world.org.id, world.newcomer)
    assert refused.status is M.DISABLED
    # Reactivating later makes the person a member: the administrator's decision.
    assert cf.organisations.reactivate(world.admin, world.org.id, world.newcomer).status is (
        M.ACTIVE
    )


@pytest.mark.parametrize(
    ("prepare", "call"),
    [
        ("active", "approve"),
        ("active", "reactivate"),
        ("pending", "reactivate"),
        ("disabled", "approve"),
        ("disabled", "deactivate"),
    ],
)
def test_transitions_outside_the_table_raise_and_change_nothing(
    world: World, prepare: str, call: str
) -> None:
    cf = world.cf
    target = world.user
    if prepare == "pending":
        target = world.newcomer
        cf.organisations.join(target, world.org.id)
    elif prepare == "disabled":
        cf.organisations.deactivate(world.admin, world.org.id, target)
    before = world.snapshot()
    with pytest.raises(InvalidTransition) as caught:
        getattr(cf.organisations, call)(world.admin, world.org.id, target)
    assert caught.value.flow == "membership"
    assert world.snapshot() == before


def test_membership_table() -> None:
    machine = membership_flow.MACHINE
    assert machine.next(M.PENDING_APPROVAL, MembershipEvent.APPROVE, None) is M.ACTIVE
    assert machine.next(M.PENDING_APPROVAL, MembershipEvent.DEACTIVATE, None) is M.DISABLED
    assert machine.next(M.ACTIVE, MembershipEvent.DEACTIVATE, None) is M.DISABLED
    assert machine.next(M.DISABLED, MembershipEvent.REACTIVATE, None) is M.ACTIVE
    assert set(machine.initial) == {M.PENDING_APPROVAL, M.ACTIVE}
    # No event ever leads to pending_approval: approval cannot be undone into a request.
    assert all(t.target is not M.PENDING_APPROVAL for t in machine.transitions)


def test_unknown_membership(world: World) -> None:
    with pytest.raises(UnknownMembership) as caught:
        world.cf.organisations.approve(world.admin, world.org.id, world.newcomer)
    assert (caught.value.account_id, caught.value.organisation_id) == (
        world.newcomer,
        world.org.id,
    )
    assert isinstance(caught.value, LookupError)


# -- authorisation ------------------------------------------------------------------------------


def _not_admin_cases(world: World) -> dict[str, str]:
    """Acting accounts that are not active administrators of world.org, by reason."""
    cf = world.cf
    pending_admin = person(cf, "pending-admin")
    cf.organisations.join(pending_admin, world.org.id, roles=[ADMINISTRATOR])
    disabled_admin = person(cf, "disabled-admin")
    cf.organisations.add_member(world.admin, world.org.id, disabled_admin, roles=[ADMINISTRATOR])
    cf.organisations.deactivate(world.admin, world.org.id, disabled_admin)
    locked_out = person(cf, "account-disabled")
    cf.organisations.add_member(world.admin, world.org.id, locked_out, roles=[ADMINISTRATOR])
    cf.accounts.disable(locked_out)
    elsewhere = person(cf, "elsewhere")
    other = cf.organisations.create("Autre client")
    cf.organisations.join(elsewhere, other.id, roles=[ADMINISTRATOR])
    return {
        "plain user": world.user,
        "pending administrator": pending_admin,
        "disabled administrator": disabled_admin,
        "disabled account": locked_out,
        "administrator elsewhere": elsewhere,
        "not a member": world.newcomer,
        "unknown account": "ghost",
    }


@pytest.mark.parametrize(
    "operation", ["approve", "deactivate", "reactivate", "set_roles", "add_member"]
)
def test_only_active_administrators_may_act(world: World, operation: str) -> None:
    cf = world.cf
    target = person(cf, "target")
    if operation == "approve":
        cf.organisations.join(target, world.org.id)
    elif operation == "reactivate":
        cf.organisations.add_member(world.admin, world.org.id, target)
        cf.organisations.deactivate(world.admin, world.org.id, target)
    elif operation in ("deactivate", "set_roles"):
        cf.organisations.add_member(world.admin, world.org.id, target)
    cases = _not_admin_cases(world)
    for reason, acting in cases.items():
        before = world.snapshot()
        extra = (["user"],) if operation == "set_roles" else ()
        with pytest.raises(NotAuthorised) as caught:
            getattr(cf.organisations, operation)(acting, world.org.id, target, *extra)
        assert isinstance(caught.value, PermissionError), reason
        assert world.snapshot() == before, reason


def test_administrators_cannot_lock_themselves_out(world: World) -> None:
    cf = world.cf
    before = world.snapshot()
    with pytest.raises(NotAuthorised, match="own membership"):
        cf.organisations.deactivate(world.admin, world.org.id, world.admin)
    with pytest.raises(NotAuthorised, match="own administrator role"):
        cf.organisations.set_roles(world.admin, world.org.id, world.admin, ["user"])
    assert world.snapshot() == before
    kept = cf.organisations.set_roles(
        world.admin, world.org.id, world.admin, [ADMINISTRATOR, "billing_contact"]
    )
    assert kept.roles == (ADMINISTRATOR, "billing_contact")


def test_a_second_administrator_can_take_over(world: World) -> None:
    cf = world.cf
    cf.organisations.set_roles(world.admin, world.org.id, world.user, ["user", ADMINISTRATOR])
    cf.organisations.deactivate(world.user, world.org.id, world.admin)
    assert world.status(world.admin) is M.DISABLED
    with pytest.raises(NotAuthorised):
        cf.organisations.reactivate(world.admin, world.org.id, world.admin)


def test_add_member_is_active_at_once(world: World) -> None:
    cf = world.cf
    added = cf.organisations.add_member(
        world.admin, world.org.id, world.newcomer, roles=("billing_contact", "user")
    )
    assert added.status is M.ACTIVE
    assert added.roles == ("billing_contact", "user")
    event = cf.storage.events(account_id=world.newcomer)[-1]
    assert event.type == "membership_added"
    assert event.details["by"] == world.admin
    with pytest.raises(DuplicateMembership):
        cf.organisations.add_member(world.admin, world.org.id, world.newcomer)
    with pytest.raises(UnknownAccount):
        cf.organisations.add_member(world.admin, world.org.id, "ghost")
    with pytest.raises(UnknownOrganisation):
        cf.organisations.add_member(world.admin, "ghost", world.newcomer)


def test_set_roles_whatever_the_status(world: World) -> None:
    cf = world.cf
    cf.organisations.join(world.newcomer, world.org.id)
    changed = cf.organisations.set_roles(
        world.admin, world.org.id, world.newcomer, ["legal_representative"]
    )
    assert changed.roles == ("legal_representative",)
    assert changed.status is M.PENDING_APPROVAL
    event = cf.storage.events(account_id=world.newcomer)[-1]
    assert event.type == "membership_roles_changed"
    assert "previous" not in event.details
    assert cf.organisations.set_roles(world.admin, world.org.id, world.newcomer, []).roles == ()


# -- roles --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ("user", "list or tuple"),
        ({"user"}, "list or tuple"),
        (None, "list or tuple"),
        ([""], "1 to 64"),
        (["x" * 65], "1 to 64"),
        ([" user"], "spaces"),
        (["user "], "spaces"),
        (["us\x00er"], "control"),
        (["user\u200b"], "control"),  # a zero-width space (format character)
        (["us\u2029er"], "control"),
        ([42], "must be a str"),
        ([f"role{i}" for i in range(33)], "at most 32"),
    ],
)
def test_bad_roles_raise_and_change_nothing(world: World, roles: Any, message: str) -> None:
    cf = world.cf
    before = world.snapshot()
    for call in (
        lambda: cf.organisations.join(world.newcomer, world.org.id, roles=roles),
        lambda: cf.organisations.add_member(world.admin, world.org.id, world.newcomer, roles=roles),
        lambda: cf.organisations.set_roles(world.admin, world.org.id, world.user, roles),
    ):
        with pytest.raises(InvalidInput, match=message) as caught:
            call()
        assert caught.value.field == "roles"
    if roles is not None:  # for approve, None keeps the requested roles
        with pytest.raises(InvalidInput, match=message):
            cf.organisations.approve(world.admin, world.org.id, world.user, roles=roles)
    assert world.snapshot() == before


def test_good_roles() -> None:
    assert check_roles(["x" * 64, "Responsable légal", "RC serveur"]) == (
        "x" * 64,
        "Responsable légal",
        "RC serveur",
    )
    assert check_roles(("b", "a", "b")) == ("b", "a")
    assert check_roles([f"role{i}" for i in range(32)])[-1] == "role31"


@pytest.mark.parametrize("field", ["admin_account_id", "organisation_id", "account_id"])
def test_ids_must_be_strings(world: World, field: str) -> None:
    args = {"admin_account_id": world.admin, "organisation_id": world.org.id, "account_id": "x"}
    args[field] = 7
    with pytest.raises(InvalidInput) as caught:
        world.cf.organisations.deactivate(**args)
    assert caught.value.field == field


# -- listings -----------------------------------------------------------------------------------


def test_members_are_paginated(world: World) -> None:
    cf = world.cf
    for i in range(5):
        cf.organisations.join(person(cf, f"member{i}"), world.org.id)
    everyone = cf.organisations.members(world.org.id)
    assert len(everyone) == 7
    ids = [m.account_id for m in everyone]
    assert ids == sorted(ids)
    pages: list[str] = []
    after = None
    while True:
        page = cf.organisations.members(world.org.id, after=after, limit=3)
        if not page:
            break
        pages += [m.account_id for m in page]
        after = page[-1].account_id
    assert pages == ids


@pytest.mark.parametrize(
    ("after", "limit", "field"),
    [(None, 0, "limit"), (None, True, "limit"), (None, 10_001, "limit"), (3, 10, "after")],
)
def test_members_bad_pagination(world: World, after: Any, limit: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        world.cf.organisations.members(world.org.id, after=after, limit=limit)
    assert caught.value.field == field


def test_listings_check_their_arguments(world: World) -> None:
    with pytest.raises(UnknownOrganisation):
        world.cf.organisations.members("ghost")
    with pytest.raises(InvalidInput):
        world.cf.organisations.memberships(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        world.cf.organisations.membership(world.user, "")
    assert world.cf.organisations.memberships("ghost") == []


def test_audit_events_hold_no_secret_and_name_the_organisation(world: World) -> None:
    cf = world.cf
    cf.organisations.join(world.newcomer, world.org.id)
    cf.organisations.approve(world.admin, world.org.id, world.newcomer)
    membership_events = [e for e in cf.storage.events() if e.type.startswith("membership_")]
    assert {e.type for e in membership_events} == {
        "membership_requested",
        "membership_added",
        "membership_approved",
    }
    assert all(e.details["organisation"] == world.org.id for e in membership_events)


# -- an administrator creates a member ------------------------------------------------------


def test_an_administrator_creates_a_member_in_one_step(world: World) -> None:
    cf = world.cf
    created = cf.organisations.create_member(
        world.admin, world.org.id, "nouvelle", email="nouvelle@example.fr", roles=["billing"]
    )
    assert "temporary_password" not in repr(created)
    assert created.membership.status is M.ACTIVE and created.membership.roles == ("billing",)
    result = cf.login("nouvelle", created.temporary_password)
    assert result.status.value == "action_required"  # the first login applies


def test_a_refused_member_creation_leaves_no_account(world: World) -> None:
    cf = world.cf
    before = world.snapshot()
    with pytest.raises(NotAuthorised):
        cf.organisations.create_member(world.user, world.org.id, "intrus")
    with pytest.raises(InvalidInput):
        cf.organisations.create_member(world.admin, world.org.id, "x", roles=[""])
    with pytest.raises(DuplicateIdentifier):
        cf.organisations.create_member(world.admin, world.org.id, "user")
    assert world.snapshot() == before
    assert cf.accounts.find("intrus") is None
