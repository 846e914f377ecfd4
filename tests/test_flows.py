"""The pure flow machines: table tests, totality, and diagrams drawn from the tables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credflow import flows
from credflow.errors import InvalidTransition
from credflow.flows import first_login, lockout, login, password_change
from credflow.flows.first_login import FirstLoginEvent, FirstLoginFacts, FirstLoginState
from credflow.flows.lockout import LockoutEvent, LockoutFacts, LockoutState
from credflow.flows.login import LoginEvent, LoginFacts, LoginState
from credflow.flows.machine import Machine, Transition
from credflow.flows.mfa import MfaEvent, MfaFacts, MfaState
from credflow.flows.password_change import PasswordChangeFacts, PasswordChangeState
from credflow.flows.recovery import RecoveryEvent, RecoveryFacts, RecoveryState
from credflow.flows.registration import CodeEvent, CodeFacts, CodeState
from credflow.storage.records import RequiredAction as A

FE, FS = FirstLoginEvent, FirstLoginState
KE, KS = LockoutEvent, LockoutState
DOCS = Path(__file__).resolve().parents[1] / "docs"

login_facts = st.builds(
    LoginFacts,
    known=st.booleans(),
    locked=st.booleans(),
    password_ok=st.booleans(),
    active=st.booleans(),
    temporary_expired=st.booleans(),
    actions_pending=st.booleans(),
    mfa_enrolled=st.booleans(),
)
first_login_facts = st.builds(
    FirstLoginFacts,
    remaining=st.lists(st.sampled_from(list(A)), unique=True, max_size=4).map(tuple),
    reauthenticate=st.booleans(),
)
lockout_facts = st.builds(
    LockoutFacts,
    failures=st.integers(0, 200),
    threshold=st.integers(1, 100),
    until_unlocked=st.booleans(),
)
password_facts = st.builds(
    PasswordChangeFacts,
    locked=st.booleans(),
    old_ok=st.booleans(),
    confirmed=st.booleans(),
    policy_ok=st.booleans(),
    differs=st.booleans(),
)
recovery_facts = st.builds(
    RecoveryFacts,
    next_step=st.sampled_from([None, "security_question", "email_link", "email_code"]),
    attempts_left=st.integers(0, 5),
)
code_facts = st.builds(CodeFacts, attempts_left=st.integers(0, 10), address_free=st.booleans())
FACTS: dict[str, st.SearchStrategy[Any]] = {
    "registration": code_facts,
    "email_change": code_facts,
    "recovery": recovery_facts,
    "login": login_facts,
    "first_login": first_login_facts,
    "lockout": lockout_facts,
    "password_change": password_facts,
    "membership": st.none(),
    "mfa": st.builds(MfaFacts, locked_now=st.booleans()),
}

OK = LoginFacts(True, False, True, True, False, False, False)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, LoginState.AUTHENTICATED),
        ({"known": False}, LoginState.DENIED),
        ({"locked": True}, LoginState.DENIED),
        ({"password_ok": False}, LoginState.DENIED),
        ({"active": False}, LoginState.DENIED),
        ({"temporary_expired": True}, LoginState.DENIED),
        ({"actions_pending": True}, LoginState.ACTION_REQUIRED),
        ({"mfa_enrolled": True}, LoginState.MFA_REQUIRED),
        ({"actions_pending": True, "mfa_enrolled": True}, LoginState.ACTION_REQUIRED),
        ({"locked": True, "actions_pending": True}, LoginState.DENIED),
    ],
)
def test_login_table(change: dict[str, bool], expected: LoginState) -> None:
    facts = _replace(OK, **change)
    assert login.MACHINE.next(LoginState.START, LoginEvent.ATTEMPT, facts) is expected


def _replace(facts: LoginFacts, **change: bool) -> LoginFacts:
    values = {name: getattr(facts, name) for name in LoginFacts.__slots__}
    values.update(change)
    return LoginFacts(**values)


def test_denial_reasons_in_order() -> None:
    assert login.denial_reason(OK) is None
    assert login.denial_reason(_replace(OK, known=False, password_ok=False)) == "unknown_account"
    assert login.denial_reason(_replace(OK, locked=True, password_ok=False)) == "account_locked"
    assert login.denial_reason(_replace(OK, active=False)) == "account_not_active"


@pytest.mark.parametrize(
    ("state", "event", "facts", "expected"),
    [
        (FS.CHANGE_PASSWORD, FE.PASSWORD_CHANGED, FirstLoginFacts((), True), FS.REAUTHENTICATE),
        (
            FS.CHANGE_PASSWORD,
            FE.PASSWORD_CHANGED,
            FirstLoginFacts((A.ENROLL_SECURITY_QUESTION,), False),
            FS.ENROLL_SECURITY_QUESTION,
        ),
        (FS.CHANGE_PASSWORD, FE.PASSWORD_CHANGED, FirstLoginFacts((), False), FS.COMPLETED),
        (
            FS.ENROLL_SECURITY_QUESTION,
            FE.QUESTION_ENROLLED,
            FirstLoginFacts((A.ENROLL_TOTP,), False),
            FS.ENROLL_TOTP,
        ),
        (FS.ENROLL_SECURITY_QUESTION, FE.QUESTION_ENROLLED, FirstLoginFacts(), FS.COMPLETED),
        (FS.VERIFY_EMAIL, FE.EXPIRE, FirstLoginFacts(), FS.EXPIRED),
        (FS.ENROLL_TOTP, FE.TOTP_ENROLLED, FirstLoginFacts((A.VERIFY_EMAIL,)), FS.VERIFY_EMAIL),
    ],
)
def test_first_login_table(state: FS, event: FE, facts: FirstLoginFacts, expected: FS) -> None:
    assert first_login.MACHINE.next(state, event, facts) is expected


@pytest.mark.req("LK-01", "LK-03")
@pytest.mark.parametrize(
    ("state", "event", "facts", "expected"),
    [
        (KS.OPEN, KE.FAILURE, LockoutFacts(4, 5, False), KS.OPEN),
        (KS.OPEN, KE.FAILURE, LockoutFacts(5, 5, False), KS.LOCKED),
        (KS.OPEN, KE.FAILURE, LockoutFacts(5, 5, True), KS.LOCKED_UNTIL_UNLOCKED),
        (KS.OPEN, KE.FAILURE, LockoutFacts(99, 100, False), KS.OPEN),
        (KS.OPEN, KE.FAILURE, LockoutFacts(100, 100, False), KS.LOCKED_UNTIL_UNLOCKED),
        (KS.LOCKED, KE.WAIT_ELAPSED, LockoutFacts(), KS.OPEN),
        (KS.LOCKED, KE.UNLOCKED, LockoutFacts(), KS.OPEN),
        (KS.LOCKED_UNTIL_UNLOCKED, KE.RESET_COMPLETED, LockoutFacts(), KS.OPEN),
    ],
)
def test_lockout_table(state: KS, event: KE, facts: LockoutFacts, expected: KS) -> None:
    assert lockout.MACHINE.next(state, event, facts) is expected


@pytest.mark.req("LK-04")
def test_locked_accounts_accept_no_failure_or_success() -> None:
    for state in (KS.LOCKED, KS.LOCKED_UNTIL_UNLOCKED):
        for event in (KE.FAILURE, KE.SUCCESS):
            with pytest.raises(InvalidTransition):
                lockout.MACHINE.next(state, event, LockoutFacts())
    with pytest.raises(InvalidTransition):
        lockout.MACHINE.next(KS.LOCKED_UNTIL_UNLOCKED, KE.WAIT_ELAPSED, LockoutFacts())


@pytest.mark.parametrize(
    ("state", "event", "facts", "expected"),
    [
        (
            RecoveryState.QUESTION,
            RecoveryEvent.ANSWER_RIGHT,
            RecoveryFacts(None),
            RecoveryState.NEW_PASSWORD,
        ),
        (
            RecoveryState.QUESTION,
            RecoveryEvent.ANSWER_RIGHT,
            RecoveryFacts("email_link"),
            RecoveryState.LINK_SENT,
        ),
        (
            RecoveryState.QUESTION,
            RecoveryEvent.ANSWER_WRONG,
            RecoveryFacts(None, 2),
            RecoveryState.QUESTION,
        ),
        (
            RecoveryState.QUESTION,
            RecoveryEvent.ANSWER_WRONG,
            RecoveryFacts(None, 0),
            RecoveryState.FAILED,
        ),
        (
            RecoveryState.QUESTION,
            RecoveryEvent.NO_QUESTION,
            RecoveryFacts(),
            RecoveryState.SUPPORT_REQUIRED,
        ),
        (
            RecoveryState.LINK_SENT,
            RecoveryEvent.LINK_OPENED,
            RecoveryFacts("security_question"),
            RecoveryState.QUESTION,
        ),
        (
            RecoveryState.LINK_SENT,
            RecoveryEvent.LINK_OPENED,
            RecoveryFacts(None),
            RecoveryState.NEW_PASSWORD,
        ),
        (
            RecoveryState.CODE_SENT,
            RecoveryEvent.CODE_WRONG,
            RecoveryFacts(None, 0),
            RecoveryState.FAILED,
        ),
        (
            RecoveryState.CODE_SENT,
            RecoveryEvent.CODE_RIGHT,
            RecoveryFacts(None),
            RecoveryState.NEW_PASSWORD,
        ),
        (
            RecoveryState.NEW_PASSWORD,
            RecoveryEvent.PASSWORD_SET,
            RecoveryFacts(),
            RecoveryState.COMPLETED,
        ),
        (RecoveryState.NEW_PASSWORD, RecoveryEvent.EXPIRE, RecoveryFacts(), RecoveryState.EXPIRED),
    ],
)
def test_recovery_table(
    state: RecoveryState, event: RecoveryEvent, facts: RecoveryFacts, expected: RecoveryState
) -> None:
    assert flows.MACHINES["recovery"].next(state, event, facts) is expected


@pytest.mark.req("EV-03", "EV-05", "EV-06")
@pytest.mark.parametrize("name", ["registration", "email_change"])
@pytest.mark.parametrize(
    ("event", "facts", "expected"),
    [
        (CodeEvent.CODE_RIGHT, CodeFacts(), CodeState.VERIFIED),
        (CodeEvent.CODE_RIGHT, CodeFacts(address_free=False), CodeState.TAKEN),
        (CodeEvent.CODE_WRONG, CodeFacts(attempts_left=1), CodeState.CODE_SENT),
        (CodeEvent.CODE_WRONG, CodeFacts(attempts_left=0), CodeState.FAILED),
        (CodeEvent.CODE_EXPIRED, CodeFacts(), CodeState.CODE_SENT),
        (CodeEvent.RESEND, CodeFacts(), CodeState.CODE_SENT),
        (CodeEvent.EXPIRE, CodeFacts(), CodeState.EXPIRED),
    ],
)
def test_code_flow_tables(
    name: str, event: CodeEvent, facts: CodeFacts, expected: CodeState
) -> None:
    assert flows.MACHINES[name].next(CodeState.CODE_SENT, event, facts) is expected


@pytest.mark.parametrize("name", ["registration", "email_change"])
def test_code_flows_end_for_good(name: str) -> None:
    """Only ``code_sent`` accepts events: a verified, taken, failed or expired flow is over
    (a code works at most once)."""
    machine = flows.MACHINES[name]
    assert machine.initial == (CodeState.CODE_SENT,)
    for state in CodeState:
        for event in CodeEvent:
            assert machine.accepts(state, event) is (state is CodeState.CODE_SENT)


def test_password_is_set_only_from_the_new_password_state() -> None:
    machine = flows.MACHINES["recovery"]
    for state in RecoveryState:
        if state is not RecoveryState.NEW_PASSWORD:
            assert not machine.accepts(state, RecoveryEvent.PASSWORD_SET)


def test_password_change_table() -> None:
    good = PasswordChangeFacts(False, True, True, True, True)
    assert (
        password_change.MACHINE.next(
            PasswordChangeState.FORM, password_change.PasswordChangeEvent.SUBMIT, good
        )
        is PasswordChangeState.CHANGED
    )
    for name in ("old_ok", "confirmed", "policy_ok", "differs"):
        values = {n: getattr(good, n) for n in PasswordChangeFacts.__slots__}
        values[name] = False
        assert (
            password_change.MACHINE.next(
                PasswordChangeState.FORM,
                password_change.PasswordChangeEvent.SUBMIT,
                PasswordChangeFacts(**values),
            )
            is PasswordChangeState.REFUSED
        )


@pytest.mark.parametrize("name", sorted(flows.MACHINES))
@given(data=st.data())
def test_totality(name: str, data: st.DataObject) -> None:
    """Every state × event either moves to a state of the table, or raises InvalidTransition
    and changes nothing (the machine holds no state; its table is unchanged)."""
    machine = flows.MACHINES[name]
    state = data.draw(st.sampled_from(list(machine.states)))
    event = data.draw(st.sampled_from(list(machine.events)))
    facts = data.draw(FACTS[name])
    table = machine.transitions
    matching = [t for t in table if (t.source, t.event) == (state, event)]
    if any(t.guard is None or t.guard(facts) for t in matching):
        target = machine.next(state, event, facts)
        assert target in machine.targets(state, event)
        assert target in set(machine.states)
    else:
        with pytest.raises(InvalidTransition) as caught:
            machine.next(state, event, facts)
        assert caught.value.flow == name
        assert caught.value.state == state.value
    assert machine.transitions is table


@pytest.mark.parametrize("name", sorted(flows.MACHINES))
def test_every_state_is_reachable_or_initial(name: str) -> None:
    machine = flows.MACHINES[name]
    reached = set(machine.initial) | {t.target for t in machine.transitions}
    assert reached == set(machine.states)


def test_machine_rejects_bad_tables() -> None:
    with pytest.raises(ValueError, match="terminal"):
        Machine(
            "x",
            FS,
            FE,
            [Transition(FS.COMPLETED, FE.EXPIRE, FS.EXPIRED)],
            initial=[],
            terminal=[FS.COMPLETED],
        )
    with pytest.raises(ValueError, match="unreachable"):
        Machine(
            "x",
            FS,
            FE,
            [
                Transition(FS.CHANGE_PASSWORD, FE.EXPIRE, FS.EXPIRED),
                Transition(FS.CHANGE_PASSWORD, FE.EXPIRE, FS.COMPLETED),
            ],
            initial=[FS.CHANGE_PASSWORD],
            terminal=[],
        )
    assert "first_login" in repr(first_login.MACHINE)


def test_diagram_lists_every_transition() -> None:
    text = flows.diagram("lockout")
    assert text.startswith("stateDiagram-v2\n")
    assert "open --> locked: failure [threshold reached]" in text
    assert text.count("-->") == len(lockout.MACHINE.transitions) + len(lockout.MACHINE.initial)
    with pytest.raises(KeyError, match="unknown flow"):
        flows.diagram("nope")


@pytest.mark.parametrize("name", sorted(flows.MACHINES))
def test_docs_embed_current_diagrams(name: str) -> None:
    """Each flow's diagram appears verbatim in the docs (after changing a table, run
    ``.venv/bin/python scripts/update_diagrams.py``)."""
    pages = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    blocks = re.findall(r"```mermaid\n(.*?)```", pages, flags=re.S)
    assert flows.diagram(name) in blocks, f"docs do not embed the current {name} diagram"


@pytest.mark.parametrize(
    ("event", "facts", "expected"),
    [
        (MfaEvent.CODE_RIGHT, MfaFacts(), MfaState.COMPLETED),
        (MfaEvent.CODE_WRONG, MfaFacts(), MfaState.PENDING),
        (MfaEvent.CODE_WRONG, MfaFacts(locked_now=True), MfaState.LOCKED),
        (MfaEvent.CODE_SENT, MfaFacts(), MfaState.PENDING),
        (MfaEvent.EXPIRE, MfaFacts(), MfaState.EXPIRED),
    ],
)
def test_mfa_table(event: MfaEvent, facts: MfaFacts, expected: MfaState) -> None:
    assert flows.MACHINES["mfa"].next(MfaState.PENDING, event, facts) is expected
    for ended in (MfaState.COMPLETED, MfaState.LOCKED, MfaState.EXPIRED):
        with pytest.raises(InvalidTransition):
            flows.MACHINES["mfa"].next(ended, event, facts)
