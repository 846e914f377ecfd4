"""MFA and the rest of credflow: NIST's 15/8 rule, MFA required by settings or roles (first
login enrols a TOTP), removal re-checking the password rule, and recovery never bypassing MFA
(RS-13)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.factories import BASE_URL, KEY, clock, make_cf, outbox
from tests.test_mfa import (
    GOOD,
    PHONE,
    account,
    code_now,
    enrol_sms,
    enrol_totp,
    last_sms,
    mfa_flow,
    other,
    session,
)

from credflow import hashing
from credflow.clock import FrozenClock
from credflow.errors import ConcurrentUpdate, InvalidInput
from credflow.facade import Credflow
from credflow.flows.first_login import FirstLoginState
from credflow.notify import Outbox
from credflow.policy import MinLength, presets
from credflow.results import LoginStatus, MfaStatus, RecoveryStatus, Session, StepStatus
from credflow.settings import Settings
from credflow.storage.memory import MemoryStorage
from credflow.storage.records import (
    Membership,
    MembershipStatus,
    Organisation,
    RequiredAction,
    SecurityQuestion,
)

LONG = "violet-tapir-93x"  # 16 characters: fine without MFA under NIST
SHORT = "mauve-lynx"  # 10 characters: fine only with MFA
NEW = "Rouge2025y"
TOTP_ACTION = RequiredAction.ENROLL_TOTP


def nist_cf(**overrides: Any) -> Credflow:
    settings = Settings.nist(
        secret_key=KEY, base_url=BASE_URL, hashing=hashing.TESTING, **overrides
    )
    return Credflow(
        storage=MemoryStorage(), settings=settings, notifier=Outbox(), clock=FrozenClock()
    )


def verified_session(
    cf: Credflow, secret: str, identifier: str = "adejoux", password: str = GOOD
) -> Session:
    result = cf.mfa.verify(mfa_flow(cf, identifier, password), code_now(cf, secret))
    assert result.session is not None, result
    clock(cf).advance(30)
    return result.session


# -- NIST: 15 characters, or 8 with MFA --------------------------------------------------------


@pytest.mark.req("PW-02")
def test_the_nist_preset_is_15_without_mfa_and_8_with_it() -> None:
    [rule] = [r for r in presets.nist().rules if isinstance(r, MinLength)]
    assert (rule.min, rule.min_with_mfa) == (15, 8)
    assert presets.nist().evaluate("a" * 7 + "Zq", has_mfa=True).ok  # 9 characters
    assert not presets.nist().evaluate("correct-horse-b"[:14]).ok


@pytest.mark.req("PW-02", "PC-02")
@pytest.mark.parametrize(
    ("length", "with_mfa", "ok"),
    [(14, False, False), (15, False, True), (7, True, False), (8, True, True)],
)
def test_a_password_change_sees_the_account_mfa(length: int, with_mfa: bool, ok: bool) -> None:
    cf = nist_cf()
    account(cf, password=LONG)
    if with_mfa:
        secret, _ = enrol_totp_with(cf, LONG)
        current = verified_session(cf, secret, password=LONG)
    else:
        current = session(cf, password=LONG)
    new = "purple-otter-57-lagoon"[:length]
    result = cf.passwords.change_in_session(current.token, LONG, new, new)
    assert result.ok is ok, result.code
    if not ok:
        assert result.code == "password.policy_not_met"
        assert [f.params for f in result.failures if f.code == "min_length"] == [
            {"min": 8 if with_mfa else 15}
        ]


def enrol_totp_with(cf: Credflow, password: str) -> tuple[str, tuple[str, ...]]:
    current = session(cf, password=password)
    setup = cf.mfa.begin_totp(current)
    assert setup.secret is not None
    done = cf.mfa.confirm_totp(current, code_now(cf, setup.secret))
    assert done.ok
    clock(cf).advance(30)
    return setup.secret, done.recovery_codes


@pytest.mark.req("PW-02")
def test_the_forced_change_and_the_recovery_see_the_account_mfa() -> None:
    cf = nist_cf(reauthenticate_after_password_change=False)
    account_id = account(cf, password=LONG)
    secret, _ = enrol_totp_with(cf, LONG)
    cf.accounts.require_actions([account_id], [RequiredAction.CHANGE_PASSWORD])
    result = cf.login("adejoux", LONG)
    assert result.action is RequiredAction.CHANGE_PASSWORD
    step = cf.first_login.change_password(result.flow or "", SHORT, SHORT)
    assert step.status is StepStatus.MFA_REQUIRED  # 10 characters pass: the account has MFA
    assert cf.mfa.verify(step.flow or "", code_now(cf, secret)).ok
    clock(cf).advance(30)
    cf.recovery.start("adejoux")
    opened = cf.recovery.open_link(last_token(cf))
    assert cf.recovery.submit_mfa(opened.flow or "", code_now(cf, secret)).step == "new_password"
    assert cf.recovery.set_password(opened.flow or "", "teal-heron", "teal-heron").ok
    without = nist_cf()
    account(without, password=LONG)
    without.recovery.start("adejoux")
    flow = without.recovery.open_link(last_token(without)).flow or ""
    refused = without.recovery.set_password(flow, "teal-heron", "teal-heron")
    assert refused.code == "password.policy_not_met"


# -- removing MFA re-checks the rule ------------------------------------------------------------


@pytest.mark.req("PW-02")
@pytest.mark.parametrize(
    ("password", "by", "must_change"),
    [(SHORT, "password", True), (LONG, "password", False), (LONG, "code", True)],
)
def test_removing_the_last_factor_rechecks_the_password(
    password: str, by: str, must_change: bool
) -> None:
    cf = nist_cf()
    account_id = account(cf, password=password)
    secret, codes = enrol_totp_with(cf, password)
    current = verified_session(cf, secret, password=password)
    proof = {"password": password} if by == "password" else {"code": codes[0]}
    done = cf.mfa.disable(current, "totp", **proof)
    assert done.ok
    assert (done.action is RequiredAction.CHANGE_PASSWORD) is must_change
    stored = cf.accounts.get(account_id).required_actions
    assert (RequiredAction.CHANGE_PASSWORD in stored) is must_change
    after = cf.login("adejoux", password)
    if must_change:
        assert (after.status, after.action) == (
            LoginStatus.ACTION_REQUIRED,
            RequiredAction.CHANGE_PASSWORD,
        )
        assert cf.first_login.change_password(after.flow or "", SHORT, SHORT).code == (
            "password.policy_not_met"
        )
    else:
        assert after.ok


def test_removal_with_a_code_under_a_plain_minimum_requires_nothing() -> None:
    cf = make_cf()  # classic: 8 characters, with or without MFA
    account_id = account(cf)
    secret, codes = enrol_totp(cf)
    current = verified_session(cf, secret)
    assert cf.mfa.disable(current, "totp", code=codes[0]).action is None
    assert RequiredAction.CHANGE_PASSWORD not in cf.accounts.get(account_id).required_actions


def test_removing_one_of_two_factors_requires_nothing() -> None:
    cf = nist_cf()
    account_id = account(cf, password=SHORT)
    secret, codes = enrol_totp_with(cf, SHORT)
    current = verified_session(cf, secret, password=SHORT)
    cf.mfa.begin_sms(current, PHONE)
    assert cf.mfa.confirm_sms(current, last_sms(cf)).ok
    assert cf.mfa.disable(current, "totp", code=codes[0]).action is None
    assert cf.accounts.get(account_id).required_actions == ()
    assert cf.storage.recovery_codes_left(account_id) == 9  # kept: a factor is left


def test_a_pending_change_password_action_is_not_added_twice() -> None:
    cf = nist_cf()
    account_id = account(cf, password=SHORT)
    secret, codes = enrol_totp_with(cf, SHORT)
    current = verified_session(cf, secret, password=SHORT)
    cf.accounts.require_actions([account_id], [RequiredAction.CHANGE_PASSWORD])
    assert cf.mfa.disable(current, "totp", code=codes[0]).action is RequiredAction.CHANGE_PASSWORD
    assert cf.accounts.get(account_id).required_actions == (RequiredAction.CHANGE_PASSWORD,)


# -- MFA required by the settings ---------------------------------------------------------------


def organisation(cf: Credflow, account_id: str, roles: tuple[str, ...], status: str) -> None:
    now = cf.clock.now()
    if cf.storage.get_organisation("org-defi") is None:
        cf.storage.create_organisation(Organisation(id="org-defi", name="DEFI", created_at=now))
    cf.storage.create_membership(
        Membership(
            account_id=account_id,
            organisation_id="org-defi",
            roles=roles,
            status=MembershipStatus(status),
            created_at=now,
            updated_at=now,
        )
    )


@pytest.mark.req("OT-09")
def test_mfa_required_by_role_makes_the_first_login_enrol_a_totp() -> None:
    cf = make_cf(mfa={"required_roles": ["administrator"]})
    admin = account(cf, "admin")
    organisation(cf, admin, ("user", "administrator"), "active")
    organisation(cf, account(cf, "member"), ("user",), "active")
    organisation(cf, account(cf, "candidate"), ("administrator",), "pending_approval")
    organisation(cf, account(cf, "leaver"), ("administrator",), "disabled")
    for plain in ("member", "candidate", "leaver"):
        assert cf.login(plain, GOOD).ok, plain
    assert cf.login("admin", "Nope1234x").status is LoginStatus.DENIED

    result = cf.login("admin", GOOD)
    assert (result.status, result.action, result.code) == (
        LoginStatus.ACTION_REQUIRED,
        TOTP_ACTION,
        "action.enroll_totp",
    )
    flow = result.flow or ""
    assert cf.first_login.pending_action(flow) is TOTP_ACTION
    setup = cf.first_login.begin_totp(flow, issuer="DEFI")
    assert setup.ok and setup.secret is not None and setup.uri is not None
    assert setup.uri.startswith("otpauth://totp/DEFI:admin?")
    wrong = cf.first_login.confirm_totp(flow, other(code_now(cf, setup.secret)))
    assert (wrong.status, wrong.code, wrong.flow) == (StepStatus.REFUSED, "mfa.code_wrong", flow)
    done = cf.first_login.confirm_totp(flow, code_now(cf, setup.secret))
    assert (done.status, done.code) == (StepStatus.COMPLETED, "flow.completed")
    assert done.session is not None and len(done.recovery_codes) == 10
    assert "recovery_codes" not in repr(done) or done.recovery_codes[0] not in repr(done)
    assert cf.first_login.confirm_totp(flow, code_now(cf, setup.secret)).code == "flow.invalid"
    clock(cf).advance(30)
    assert cf.login("admin", GOOD).status is LoginStatus.MFA_REQUIRED


def test_mfa_required_for_everyone_comes_after_the_other_first_login_steps() -> None:
    cf = make_cf(mfa={"required": True})
    created = cf.accounts.create("adejoux", email="adejoux@example.fr")
    result = cf.login("adejoux", created.temporary_password or "")
    assert result.action is RequiredAction.CHANGE_PASSWORD
    step = cf.first_login.change_password(result.flow or "", GOOD, GOOD)
    assert step.status is StepStatus.REAUTHENTICATE  # Sigma: back to the login page
    result = cf.login("adejoux", GOOD)
    assert result.action is RequiredAction.ENROLL_SECURITY_QUESTION
    flow = result.flow or ""
    step = cf.first_login.enroll_question(flow, "Ma couleur préférée ?", "bleu ciel")
    assert (step.status, step.action, step.flow) == (StepStatus.NEXT, TOTP_ACTION, flow)
    setup = cf.first_login.begin_totp(flow)
    assert setup.secret is not None
    done = cf.first_login.confirm_totp(flow, code_now(cf, setup.secret))
    assert done.session is not None and done.recovery_codes


def test_the_totp_step_of_a_first_login_refuses_misuse() -> None:
    cf = make_cf(mfa={"required": True})
    created = cf.accounts.create("adejoux", email="adejoux@example.fr")
    flow = cf.login("adejoux", created.temporary_password or "").flow or ""
    assert cf.first_login.begin_totp(flow).status is MfaStatus.INVALID  # at change_password
    assert cf.first_login.confirm_totp(flow, "123456").status is StepStatus.INVALID
    assert cf.first_login.begin_totp("nope").code == "flow.invalid"
    with pytest.raises(InvalidInput):
        cf.first_login.begin_totp(flow, issuer="a:b")
    with pytest.raises(InvalidInput):
        cf.first_login.confirm_totp(flow, "12a456")
    cf.accounts.require_actions([created.account.id], [TOTP_ACTION])
    step = cf.first_login.change_password(flow, GOOD, GOOD)
    assert step.status is StepStatus.REAUTHENTICATE
    flow = cf.login("adejoux", GOOD).flow or ""
    cf.first_login.enroll_question(flow, "Ma couleur préférée ?", "bleu ciel")
    assert cf.first_login.confirm_totp(flow, "123456").code == "mfa.not_started"
    clock(cf).advance(cf.settings.lifetimes.flow + 1)
    expired = cf.first_login.begin_totp(flow)
    assert (expired.status, expired.code) == (MfaStatus.EXPIRED, "flow.expired")


def test_a_stored_enrol_action_is_dropped_once_enrolled() -> None:
    cf = make_cf()
    account_id = account(cf)
    cf.accounts.require_actions([account_id], [TOTP_ACTION])
    result = cf.login("adejoux", GOOD)
    assert result.action is TOTP_ACTION
    # Enrolled from a session meanwhile (an administrator's session, say): the action goes.
    current = cf.sessions.issue(cf.accounts.get(account_id))
    setup = cf.mfa.begin_totp(current)
    assert setup.secret is not None
    assert cf.mfa.confirm_totp(current, code_now(cf, setup.secret)).ok
    assert TOTP_ACTION not in cf.accounts.get(account_id).required_actions
    cf.accounts.require_actions([account_id], [TOTP_ACTION])  # added back by mistake
    assert cf.login("adejoux", GOOD).status is LoginStatus.MFA_REQUIRED
    assert cf.first_login.pending_action(result.flow or "") is TOTP_ACTION
    assert FirstLoginState.ENROLL_TOTP.value == "enroll_totp"


def test_an_enrolment_raced_by_its_twin_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cf = make_cf()
    account(cf)
    current = session(cf)
    setup = cf.mfa.begin_totp(current)
    assert setup.secret is not None
    monkeypatch.setattr(cf.storage, "use_totp_step", lambda account_id, step: False)
    result = cf.mfa.confirm_totp(current, code_now(cf, setup.secret))
    assert (result.status, result.code) == (MfaStatus.REFUSED, "mfa.code_wrong")
    assert not cf.storage.mfa_factors(current.account_id)[0].confirmed


# -- recovery never bypasses MFA (RS-13) --------------------------------------------------------


def recovery_cf(*steps: str, **options: Any) -> Credflow:
    lockout = options.pop("lockout", {"threshold": 5})
    return make_cf(recovery={"steps": list(steps), **options}, lockout=lockout)


def last_token(cf: Credflow) -> str:
    message = outbox(cf).last("reset_link")
    assert message is not None
    return message.params["link"].split("token=")[1]


def at_mfa_step(cf: Credflow) -> str:
    cf.recovery.start("adejoux")
    opened = cf.recovery.open_link(last_token(cf))
    assert (opened.status, opened.step, opened.code) == (RecoveryStatus.NEXT, "mfa", "recovery.mfa")
    assert opened.flow is not None
    return opened.flow


@pytest.mark.req("RS-13", "LK-07")
def test_a_recovery_passes_the_second_factor_before_the_new_password() -> None:
    cf = recovery_cf("email_link")
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    flow = at_mfa_step(cf)
    assert cf.mfa.methods(flow) == ("totp", "recovery_code")
    early = cf.recovery.set_password(flow, NEW, NEW)
    assert early.status is RecoveryStatus.INVALID  # no new password before the factor
    with pytest.raises(InvalidInput):
        cf.recovery.submit_mfa(flow, "12a456")
    wrong = cf.recovery.submit_mfa(flow, other(code_now(cf, secret)))
    assert (wrong.status, wrong.code, wrong.step, wrong.flow) == (
        RecoveryStatus.REFUSED,
        "mfa.code_wrong",
        "mfa",
        flow,
    )
    assert cf.lockout.failures(account_id) == 1
    right = cf.recovery.submit_mfa(flow, code_now(cf, secret))
    assert (right.status, right.step, right.flow) == (RecoveryStatus.NEXT, "new_password", flow)
    assert cf.recovery.submit_mfa(flow, code_now(cf, secret)).status is RecoveryStatus.INVALID
    done = cf.recovery.set_password(flow, NEW, NEW)
    assert (done.status, done.session) == (RecoveryStatus.COMPLETED, None)
    assert cf.lockout.failures(account_id) == 0  # a completed reset clears the count
    clock(cf).advance(30)
    assert cf.login("adejoux", NEW).status is LoginStatus.MFA_REQUIRED  # still asked
    verified = [
        e.details for e in cf.storage.events(account_id=account_id) if e.type == "mfa_verified"
    ]
    assert verified[-1] == {"method": "totp", "during": "recovery"}


@pytest.mark.req("RS-13", "RS-14")
def test_login_after_reset_gives_a_session_once_the_factor_passed() -> None:
    cf = recovery_cf("email_link", login_after_reset=True)
    account(cf)
    _, codes = enrol_totp(cf)
    flow = at_mfa_step(cf)
    assert cf.recovery.submit_mfa(flow, codes[0]).step == "new_password"
    done = cf.recovery.set_password(flow, NEW, NEW)
    assert done.session is not None and cf.sessions.validate(done.session.token) is not None


def test_a_recovery_code_or_an_sms_code_passes_the_step() -> None:
    cf = recovery_cf("email_link")
    account_id = account(cf)
    codes = enrol_sms(cf)
    flow = at_mfa_step(cf)
    assert cf.mfa.methods(flow) == ("sms", "recovery_code")
    sent = cf.recovery.send_mfa_code(flow)
    assert (sent.status, sent.code, sent.step) == (RecoveryStatus.NEXT, "mfa.code_sent", "mfa")
    assert cf.recovery.submit_mfa(flow, last_sms(cf)).step == "new_password"
    assert cf.recovery.set_password(flow, NEW, NEW).ok
    flow = at_mfa_step(cf)
    assert cf.recovery.submit_mfa(flow, codes[0]).step == "new_password"
    assert cf.storage.recovery_codes_left(account_id) == 9
    flow = at_mfa_step(cf)
    assert cf.recovery.submit_mfa(flow, codes[0]).code == "mfa.code_wrong"  # used


def test_sending_a_code_at_the_step_needs_a_phone() -> None:
    cf = recovery_cf("email_link")
    account(cf)
    enrol_totp(cf)
    flow = at_mfa_step(cf)
    refused = cf.recovery.send_mfa_code(flow)
    assert (refused.status, refused.code, refused.flow) == (
        RecoveryStatus.REFUSED,
        "mfa.no_phone",
        flow,
    )
    assert cf.recovery.send_mfa_code("nope").status is RecoveryStatus.INVALID


def test_the_step_has_a_limited_number_of_tries() -> None:
    cf = recovery_cf("email_link", lockout={"threshold": 100})
    account(cf)
    secret, _ = enrol_totp(cf)
    flow = at_mfa_step(cf)
    results = [cf.recovery.submit_mfa(flow, other(code_now(cf, secret))) for _ in range(5)]
    assert [r.status for r in results] == [RecoveryStatus.REFUSED] * 4 + [RecoveryStatus.FAILED]
    assert results[-1].code == "recovery.failed"
    assert cf.recovery.submit_mfa(flow, code_now(cf, secret)).status is RecoveryStatus.INVALID


@pytest.mark.req("LK-04")
def test_a_locked_account_gets_no_code_checked_at_the_step() -> None:
    cf = recovery_cf("email_link", lockout={"threshold": 2})
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    flow = at_mfa_step(cf)
    cf.recovery.submit_mfa(flow, other(code_now(cf, secret)))
    locked = cf.recovery.submit_mfa(flow, other(code_now(cf, secret)))
    assert (locked.status, locked.code, locked.flow) == (RecoveryStatus.REFUSED, "mfa.locked", flow)
    still = cf.recovery.submit_mfa(flow, code_now(cf, secret))
    assert (still.code, still.step) == ("mfa.locked", "mfa")
    assert cf.lockout.failures(account_id) == 2


def test_the_question_then_the_second_factor() -> None:
    cf = recovery_cf("security_question")
    account_id = account(cf)
    cf.storage.set_question(
        SecurityQuestion(
            account_id=account_id,
            question="Ma couleur préférée ?",
            answer_hash=cf.hasher.hash_answer("bleu ciel"),
            set_at=cf.clock.now(),
        )
    )
    secret, _ = enrol_totp(cf)
    start = cf.recovery.start("adejoux")
    answered = cf.recovery.answer(start.flow or "", "bleu ciel")
    assert (answered.step, answered.flow) == ("mfa", start.flow)
    assert cf.recovery.submit_mfa(start.flow or "", code_now(cf, secret)).step == "new_password"


def test_the_mailed_code_then_the_second_factor() -> None:
    cf = recovery_cf("email_code")
    account(cf)
    secret, _ = enrol_totp(cf)
    start = cf.recovery.start("adejoux")
    message = outbox(cf).last("reset_code")
    assert message is not None
    step = cf.recovery.submit_code(start.flow or "", message.params["code"])
    assert step.step == "mfa"
    assert cf.recovery.submit_mfa(start.flow or "", code_now(cf, secret)).step == "new_password"


def test_a_factor_confirmed_during_a_recovery_voids_it() -> None:
    cf = recovery_cf("email_link")
    account(cf)
    cf.recovery.start("adejoux")
    flow = cf.recovery.open_link(last_token(cf)).flow or ""  # no factor yet: new_password
    enrol_totp(cf)
    assert cf.recovery.set_password(flow, NEW, NEW).status is RecoveryStatus.INVALID


def test_the_step_is_void_when_the_account_changed_under_it() -> None:
    cf = recovery_cf("email_link")
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    flow = at_mfa_step(cf)
    cf.accounts.set_temporary_password(account_id)
    assert cf.recovery.submit_mfa(flow, code_now(cf, secret)).status is RecoveryStatus.INVALID
    assert cf.recovery.send_mfa_code(flow).status is RecoveryStatus.INVALID
    assert cf.recovery.submit_mfa("nope", code_now(cf, secret)).status is RecoveryStatus.INVALID


def test_a_raced_step_answers_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    cf = recovery_cf("email_link", lockout={"threshold": 100})
    account(cf)
    enrol_sms(cf)
    flow = at_mfa_step(cf)
    cf.recovery.send_mfa_code(flow)
    code = last_sms(cf)

    def lost(*args: Any, **kwargs: Any) -> Any:
        raise ConcurrentUpdate("raced")

    monkeypatch.setattr(cf.storage, "advance_flow", lost)
    assert cf.recovery.submit_mfa(flow, code).status is RecoveryStatus.INVALID
    assert cf.recovery.submit_mfa(flow, other(code)).status is RecoveryStatus.INVALID
    assert cf.recovery.send_mfa_code(flow).status is RecoveryStatus.INVALID
    login_flow = mfa_flow(cf)
    assert cf.mfa.send_code(login_flow).status is MfaStatus.INVALID
    monkeypatch.undo()
    cf.mfa.send_code(login_flow)
    monkeypatch.setattr(cf.storage, "advance_flow", lost)
    assert cf.mfa.verify(login_flow, last_sms(cf)).status is MfaStatus.INVALID


def test_reminders_never_ask_for_the_second_factor() -> None:
    cf = make_cf(recovery={"steps": ["security_question"], "reminder_steps": ["security_question"]})
    account_id = account(cf)
    cf.storage.set_question(
        SecurityQuestion(
            account_id=account_id,
            question="Ma couleur préférée ?",
            answer_hash=cf.hasher.hash_answer("bleu ciel"),
            set_at=cf.clock.now(),
        )
    )
    enrol_totp(cf)
    start = cf.recovery.remind_identifier("adejoux@example.fr")
    done = cf.recovery.answer(start.flow or "", "bleu ciel")
    assert (done.status, done.code) == (RecoveryStatus.COMPLETED, "reminder.sent")
