"""A stateful test of memberships and the session's active organisation against a small model:
join, approve, deactivate, reactivate, acting without authority, login and switch.

Invariants: storage holds the model's statuses; a session reports its chosen organisation only
while that membership is active, so a pending or disabled membership never becomes the active
organisation.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from tests.factories import make_cf

from credflow.errors import (
    DuplicateMembership,
    InvalidTransition,
    NotAuthorised,
    UnknownMembership,
)
from credflow.results import StepStatus
from credflow.storage.records import MembershipStatus as M

PEOPLE = 2
ORGS = 2
REFUSAL = {
    None: "organisation.not_member",
    M.PENDING_APPROVAL: "organisation.pending_approval",
    M.DISABLED: "organisation.disabled",
}
EXPECTED = {
    "approve": {M.PENDING_APPROVAL: M.ACTIVE},
    "deactivate": {M.PENDING_APPROVAL: M.DISABLED, M.ACTIVE: M.DISABLED},
    "reactivate": {M.DISABLED: M.ACTIVE},
}

people = st.integers(0, PEOPLE - 1)
orgs = st.integers(0, ORGS - 1)


@dataclass
class ModelSession:
    token: str
    person: int
    chosen: int | None


class Memberships(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.cf = make_cf()
        cf = self.cf
        self.admin = cf.accounts.create("admin", temporary=False).account.id
        self.people = [
            cf.accounts.create(f"person{i}", temporary=False).account.id for i in range(PEOPLE)
        ]
        self.orgs: list[str] = []
        for i in range(ORGS):
            org = cf.organisations.create(f"Client {i}").id
            cf.organisations.join(self.admin, org, roles=["administrator"])
            found = cf.storage.get_membership(self.admin, org)
            assert found is not None
            cf.storage.update_membership(found.model_copy(update={"status": M.ACTIVE}))
            self.orgs.append(org)
        self.model: dict[tuple[int, int], M] = {}
        self.sessions: list[ModelSession] = []

    @rule(person=people, org=orgs)
    def join(self, person: int, org: int) -> None:
        if (person, org) in self.model:
            try:
                self.cf.organisations.join(self.people[person], self.orgs[org])
            except DuplicateMembership:
                return
            raise AssertionError("a second join was accepted")
        joined = self.cf.organisations.join(self.people[person], self.orgs[org])
        assert joined.status is M.PENDING_APPROVAL
        self.model[(person, org)] = M.PENDING_APPROVAL

    @rule(person=people, org=orgs, action=st.sampled_from(sorted(EXPECTED)))
    def administrate(self, person: int, org: int, action: str) -> None:
        current = self.model.get((person, org))
        call = getattr(self.cf.organisations, action)
        target = EXPECTED[action].get(current) if current is not None else None
        try:
            changed = call(self.admin, self.orgs[org], self.people[person])
        except UnknownMembership:
            assert current is None
            return
        except InvalidTransition:
            assert current is not None and target is None
            return
        assert target is not None and changed.status is target
        self.model[(person, org)] = target

    @rule(person=people, org=orgs, action=st.sampled_from(sorted(EXPECTED)))
    def act_without_authority(self, person: int, org: int, action: str) -> None:
        """Another person (never an administrator) tries: refused whatever their status."""
        acting = self.people[(person + 1) % PEOPLE]
        try:
            getattr(self.cf.organisations, action)(acting, self.orgs[org], self.people[person])
        except NotAuthorised:
            return
        raise AssertionError("a non-administrator changed a membership")

    @rule(person=people)
    def login(self, person: int) -> None:
        account = self.cf.accounts.get(self.people[person])
        session = self.cf.sessions.issue(account)
        active = [o for o in range(ORGS) if self.model.get((person, o)) is M.ACTIVE]
        chosen = active[0] if len(active) == 1 else None
        expected = None if chosen is None else self.orgs[chosen]
        assert session.organisation == expected
        self.sessions.append(ModelSession(session.token, person, chosen))

    @rule(index=st.integers(0, 7), org=orgs)
    def switch(self, index: int, org: int) -> None:
        if not self.sessions:
            return
        session = self.sessions[index % len(self.sessions)]
        status = self.model.get((session.person, org))
        result = self.cf.sessions.switch_organisation(session.token, self.orgs[org])
        if status is M.ACTIVE:
            assert result.status is StepStatus.COMPLETED
            session.chosen = org
        else:
            assert result.status is StepStatus.REFUSED
            assert result.code == REFUSAL[status]

    @invariant()
    def storage_matches_the_model(self) -> None:
        for person, account_id in enumerate(self.people):
            stored = {
                m.organisation_id: m.status for m in self.cf.organisations.memberships(account_id)
            }
            expected = {
                self.orgs[o]: status for (p, o), status in self.model.items() if p == person
            }
            assert stored == expected

    @invariant()
    def only_an_active_membership_is_the_active_organisation(self) -> None:
        for session in self.sessions:
            reported = self.cf.sessions.organisation(session.token)
            chosen = session.chosen
            if chosen is None or self.model.get((session.person, chosen)) is not M.ACTIVE:
                assert reported is None
            else:
                assert reported == self.orgs[chosen]
            if reported is not None:
                membership = self.cf.storage.get_membership(self.people[session.person], reported)
                assert membership is not None and membership.status is M.ACTIVE


Memberships.TestCase.settings = settings(stateful_step_count=40)  # max_examples from the profile
TestMemberships = Memberships.TestCase
