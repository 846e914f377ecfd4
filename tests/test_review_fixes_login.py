"""Regression tests for review findings on login, first login, questions and accounts."""

from __future__ import annotations

import pytest
from tests.factories import BASE_URL, KEY, clock, make_cf, outbox
from tests.test_login import GOOD, ready

from credflow.errors import ConfigurationError, InvalidInput, UnsupportedLocale
from credflow.facade import Credflow
from credflow.results import LoginStatus, StepStatus
from credflow.settings import Settings
from credflow.storage.records import RequiredAction


@pytest.mark.req("LK-04")
def test_question_change_while_locked_neither_counts_nor_checks() -> None:
    cf = make_cf()
    account_id = ready(cf)
    session = cf.login("adejoux", GOOD).session
    assert session is not None
    for _ in range(5):
        cf.login("adejoux", "nope")
    assert cf.lockout.failures(account_id) == 5
    for password in ("nope", GOOD):
        result = cf.questions.change(
            session.token, password=password, question="Q ?", answer="lyon"
        )
        assert result.code == "password.old_wrong"
    assert cf.lockout.failures(account_id) == 5
    assert cf.lockout.is_locked(cf.accounts.get(account_id))


def test_questions_refused_when_disabled() -> None:
    cf = Credflow(
        storage=make_cf().storage,
        settings=Settings.nist(secret_key=KEY, base_url=BASE_URL, hashing=make_cf().hasher.profile),
    )
    with pytest.raises(ConfigurationError):
        cf.questions.change("x", password="y", question="Q ?", answer="lyon")
    with pytest.raises(InvalidInput):
        cf.accounts.create("a", required_actions=[RequiredAction.ENROLL_SECURITY_QUESTION])
    account = cf.accounts.create("b").account
    with pytest.raises(InvalidInput):
        cf.accounts.require_actions([account.id], [RequiredAction.ENROLL_SECURITY_QUESTION])


def test_disabled_mid_flow_voids_the_flow() -> None:
    cf = make_cf()
    created = cf.accounts.create("adejoux")
    flow = cf.login("adejoux", created.temporary_password or "").flow or ""
    cf.accounts.disable(created.account.id)
    assert cf.first_login.pending_action(flow) is None
    assert cf.first_login.change_password(flow, GOOD, GOOD).status is StepStatus.INVALID
    cf.accounts.enable(created.account.id)
    cf.accounts.set_temporary_password(created.account.id)
    assert cf.first_login.pending_action(flow) is None  # voided by the new credentials


@pytest.mark.req("RS-13")
def test_required_actions_never_skip_the_second_factor() -> None:
    base = make_cf(reauthenticate_after_password_change=False)
    account_id = ready(base)
    cf = Credflow(
        storage=base.storage, settings=base.settings, clock=base.clock, second_factor=lambda a: True
    )
    cf.accounts.require_actions([account_id], [RequiredAction.CHANGE_PASSWORD])
    result = cf.login("adejoux", GOOD)
    assert result.status is LoginStatus.ACTION_REQUIRED
    step = cf.first_login.change_password(result.flow or "", "Rouge2025y", "Rouge2025y")
    assert step.status is StepStatus.MFA_REQUIRED and step.ok
    assert step.session is None and step.flow is not None and step.flow != result.flow


def test_unsupported_locale_fails_before_any_work() -> None:
    cf = make_cf()
    account_id = ready(cf)
    events = len(cf.storage.events())
    for call in (
        lambda: cf.login("adejoux", "nope", locale="es"),
        lambda: cf.passwords.change("adejoux", "nope", "a", "a", locale="es"),
        lambda: cf.unlock("x", locale="es"),
    ):
        with pytest.raises(UnsupportedLocale):
            call()
    assert cf.lockout.failures(account_id) == 0
    assert len(cf.storage.events()) == events
    assert cf.login("adejoux", GOOD, locale="en-GB").message == "You are signed in."


def test_resend_only_for_the_newest_expired_link() -> None:
    cf = make_cf(lockout={"until_unlocked": True})
    ready(cf)
    for _ in range(5):
        cf.login("adejoux", "nope")
    first = outbox(cf).last("unlock_link").params["link"].rsplit("=", 1)[1]  # type: ignore[union-attr]
    clock(cf).advance(3601)
    cf.resend_unlock(first)
    second = outbox(cf).last("unlock_link").params["link"].rsplit("=", 1)[1]  # type: ignore[union-attr]
    assert second != first
    sent = len(outbox(cf).messages)
    assert cf.resend_unlock(first).code == "unlock.resent"  # superseded: nothing sent
    assert cf.resend_unlock(second).code == "unlock.resent"  # still valid: nothing sent
    assert cf.resend_unlock("forged.token.x").code == "unlock.resent"
    assert len(outbox(cf).messages) == sent
    assert cf.unlock(second).status is StepStatus.COMPLETED


@pytest.mark.req("PW-14", "SS-03")
def test_mark_compromised_ends_sessions_and_tokens() -> None:
    cf = make_cf()
    account_id = ready(cf)
    session = cf.login("adejoux", GOOD).session
    assert session is not None
    reset = cf.tokens.issue(cf.accounts.get(account_id), "reset")
    assert cf.accounts.mark_compromised([account_id]) == 1
    assert cf.sessions.validate(session.token) is None
    assert not cf.tokens.check(reset.token, "reset").ok
    clock(cf).advance(1)
    assert cf.login("adejoux", GOOD).action is RequiredAction.CHANGE_PASSWORD
    with pytest.raises(InvalidInput):
        cf.accounts.mark_compromised("abc")
    assert "account_compromised" in [e.type for e in cf.storage.events(account_id=account_id)]


def test_disable_then_enable_does_not_revive_sessions() -> None:
    cf = make_cf()
    account_id = ready(cf)
    session = cf.login("adejoux", GOOD).session
    assert session is not None
    cf.accounts.disable(account_id)
    cf.accounts.enable(account_id)
    assert cf.sessions.validate(session.token) is None
    clock(cf).advance(1)
    assert cf.login("adejoux", GOOD).ok
