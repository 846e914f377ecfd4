"""Properties of the code flows, whatever the calls and their order.

- A verification code works at most once: among any sequence of verify/confirm and resend calls
  (right, superseded or random codes, time passing), at most one call succeeds, only with the
  newest code mailed, within its lifetime and the tries; everything after it is ``invalid``.
- A ``RuleBasedStateMachine`` drives registration and email change against a small model: a
  pending account never gets a session, an unconfirmed address never replaces the old one, and
  a code works at most once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule
from tests.factories import clock, make_cf, outbox

from credflow.facade import Credflow
from credflow.results import LoginStatus, VerificationResult, VerificationStatus
from credflow.storage.records import AccountStatus

PASSWORD = "Bleu2024x"
V = VerificationStatus
LIMITS: dict[str, Any] = {
    "registration": {"rate_limit": 100, "email_change_reauthenticate": False},
    "lifetimes": {"flow": 3_600},
}

step = st.one_of(
    st.tuples(st.just("right"), st.just(0)),
    st.tuples(st.just("old"), st.integers(0, 20)),
    st.tuples(st.just("random"), st.integers(0, 999_999)),
    st.tuples(st.just("resend"), st.just(0)),
    st.tuples(st.just("wait"), st.integers(1, 400)),
)


def codes_to(cf: Credflow, recipient: str) -> list[str]:
    return [
        m.params["code"]
        for m in outbox(cf).for_recipient(recipient)
        if m.kind == "email_verification_code"
    ]


@pytest.mark.req("EV-03", "EV-05", "EV-06")
@pytest.mark.parametrize("kind", ["registration", "email_change"])
@given(steps=st.lists(step, max_size=30))
def test_a_code_works_at_most_once(kind: str, steps: list[tuple[str, int]]) -> None:
    cf = make_cf(**LIMITS)
    address = "cible@example.fr"
    if kind == "registration":
        flow = cf.registration.register(address, PASSWORD, PASSWORD).flow or ""
        submit, resend = cf.registration.verify, cf.registration.resend
    else:
        cf.registration.verify(
            cf.registration.register("ancienne@example.fr", PASSWORD, PASSWORD).flow or "",
            codes_to(cf, "ancienne@example.fr")[-1],
        )
        session = cf.login("ancienne@example.fr", PASSWORD).session
        assert session is not None
        flow = cf.email_change.start(session.token, address).flow or ""
        submit, resend = cf.email_change.confirm, cf.email_change.resend
    issued_at = cf.clock.now()
    wrong = 0
    successes = 0
    for action, value in steps:
        mailed = codes_to(cf, address)
        if action == "resend":
            if resend(flow).status is V.NEXT:
                issued_at = cf.clock.now()
            continue
        if action == "wait":
            clock(cf).advance(value)
            continue
        code = {
            "right": mailed[-1],
            "old": mailed[value % len(mailed)],
            "random": f"{value:06d}",
        }[action]
        outcome: VerificationResult = submit(flow, code)
        fresh = (cf.clock.now() - issued_at).total_seconds() <= 600
        if outcome.status is V.COMPLETED:
            successes += 1
            assert code == mailed[-1] and fresh and wrong < 5 and successes == 1
        elif successes:
            assert outcome.status is V.INVALID
        elif outcome.status is V.REFUSED:
            wrong += 1
            assert code != mailed[-1]
    assert successes <= 1


# -- the stateful model ----------------------------------------------------------------------


@dataclass
class Person:
    """What the model knows of one registration: its flow, its confirmed address, its session,
    a pending email change, and the flows (with their codes) that already succeeded."""

    email: str
    flow: str
    account_id: str | None = None
    session: str | None = None
    change: tuple[str, str] | None = None  # (flow, new address) of a pending email change
    done: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, flow, code)


class CodeFlowMachine(RuleBasedStateMachine):
    people = Bundle("people")

    @initialize()
    def setup(self) -> None:
        self.cf = make_cf(unique_emails=True, **LIMITS)
        self.everyone: list[Person] = []

    def _code(self, recipient: str) -> str:
        return codes_to(self.cf, recipient)[-1]

    @rule(target=people)
    def register(self) -> Person:
        email = f"p{len(self.everyone)}@example.fr"
        result = self.cf.registration.register(email, PASSWORD, PASSWORD)
        assert result.status is V.NEXT
        person = Person(email, result.flow or "")
        self.everyone.append(person)
        return person

    @rule(person=people, right=st.booleans())
    def verify(self, person: Person, right: bool) -> None:
        code = self._code(person.email) if right else "000000"
        outcome = self.cf.registration.verify(person.flow, code)
        if outcome.status is V.COMPLETED:
            assert right and person.account_id is None  # once only
            person.account_id = outcome.account_id
            person.done.append(("registration", person.flow, code))

    @rule(person=people)
    def resend(self, person: Person) -> None:
        self.cf.registration.resend(person.flow)

    @rule(person=people)
    def login(self, person: Person) -> None:
        result = self.cf.login(person.email, PASSWORD)
        if person.account_id is None:  # still pending: never a session
            assert result.status is LoginStatus.DENIED and result.session is None
        elif result.session is not None:
            person.session = result.session.token

    @rule(person=people, other=people)
    def start_change(self, person: Person, other: Person) -> None:
        if person.session is None:
            return
        new = f"new.{other.email}"
        started = self.cf.email_change.start(person.session, new)
        if started.status is V.NEXT:
            person.change = (started.flow or "", new)

    @rule(person=people, right=st.booleans())
    def confirm(self, person: Person, right: bool) -> None:
        if person.change is None:
            return
        flow, new = person.change
        code = self._code(new) if right else "000000"
        outcome = self.cf.email_change.confirm(flow, code)
        if outcome.status is V.COMPLETED:
            assert right
            person.email, person.change = new, None
            person.done.append(("email_change", flow, code))
        elif outcome.status is not V.REFUSED or outcome.code == "email_change.email_taken":
            person.change = None

    @rule(person=people)
    def replay(self, person: Person) -> None:
        """A code that worked once never works again."""
        for kind, flow, code in person.done:
            submit = (
                self.cf.registration.verify
                if kind == "registration"
                else self.cf.email_change.confirm
            )
            assert submit(flow, code).status is V.INVALID

    @rule(seconds=st.integers(1, 700))
    def wait(self, seconds: int) -> None:
        clock(self.cf).advance(seconds)

    @invariant()
    def only_confirmed_addresses(self) -> None:
        for person in self.everyone:
            if person.account_id is None:
                continue
            account = self.cf.storage.get_account(person.account_id)
            assert account is not None and account.email == person.email
            assert account.status is AccountStatus.ACTIVE
        pending = [
            a
            for a in self.cf.storage.list_accounts(limit=1000)
            if a.status is AccountStatus.PENDING_VERIFICATION
        ]
        verified = {p.account_id for p in self.everyone}
        assert not any(a.id in verified for a in pending)


CodeFlowMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=30)
test_code_flow_machine = pytest.mark.req("EV-03", "EV-08")(CodeFlowMachine.TestCase)
