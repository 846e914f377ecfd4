"""LK-11: a login whose password was right but whose second factor failed is an event and a
mail to the owner, once per login."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from tests.factories import clock, make_cf, outbox
from tests.storage_fixtures import open_storage
from tests.test_mfa import (
    GOOD,
    account,
    code_now,
    enrol_sms,
    enrol_totp,
    events,
    last_sms,
    mfa_flow,
    other,
)

from credflow.facade import Credflow
from credflow.notify import Message
from credflow.notify.templates import DEFAULT_TEMPLATES
from credflow.results import MfaStatus


def warnings_sent(cf: Credflow) -> list[Message]:
    return [m for m in outbox(cf).messages if m.kind == "second_factor_failed"]


@pytest.fixture
def cf() -> Credflow:
    return make_cf()


@pytest.mark.req("LK-11")
def test_a_failed_second_factor_is_an_event_and_one_mail_per_login(cf: Credflow) -> None:
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    flow = mfa_flow(cf)
    assert warnings_sent(cf) == []
    for _ in range(3):
        assert cf.mfa.verify(flow, other(code_now(cf, secret))).status is MfaStatus.REFUSED
    assert events(cf, account_id, "second_factor_failed") == [{"method": "totp"}]
    [warning] = warnings_sent(cf)
    assert warning.recipient == "adejoux@example.fr"
    assert warning.params["identifier"] == "adejoux"
    assert warning.params["method"] == "une application d'authentification"
    assert warning.params["at"] == cf.clock.now().isoformat()
    # The person then gets in: no second warning, and the flow's mark does not block the login.
    assert cf.mfa.verify(flow, code_now(cf, secret)).ok
    assert len(warnings_sent(cf)) == 1
    # A new login that fails again is a new incident.
    clock(cf).advance(30)
    again = mfa_flow(cf)
    cf.mfa.verify(again, other(code_now(cf, secret)))
    assert len(events(cf, account_id, "second_factor_failed")) == 2
    assert len(warnings_sent(cf)) == 2


@pytest.mark.req("LK-11")
def test_no_warning_without_a_failure_or_for_a_late_right_sms_code(cf: Credflow) -> None:
    account_id = account(cf)
    enrol_sms(cf)
    flow = mfa_flow(cf)
    cf.mfa.send_code(flow)
    late = last_sms(cf)
    clock(cf).advance(301)
    assert cf.mfa.verify(flow, late).code == "mfa.code_expired"  # a right code, only late
    assert events(cf, account_id, "second_factor_failed") == []
    cf.mfa.send_code(flow)
    assert cf.mfa.verify(flow, last_sms(cf)).ok
    assert warnings_sent(cf) == []
    # A wrong SMS code is a failure like any other, named by its method.
    flow = mfa_flow(cf)
    cf.mfa.send_code(flow)
    assert cf.mfa.verify(flow, other(last_sms(cf))).status is MfaStatus.REFUSED
    assert events(cf, account_id, "second_factor_failed") == [{"method": "sms"}]
    assert warnings_sent(cf)[-1].params["method"] == "un code envoyé par SMS"


@pytest.mark.req("LK-11")
def test_the_failure_that_locks_warns_too_and_mails_the_unlock_link(cf: Credflow) -> None:
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    for _ in range(5):  # a new login for each wrong code: five incidents
        assert cf.mfa.verify(mfa_flow(cf), other(code_now(cf, secret))).ok is False
    assert cf.lockout.is_locked(cf.accounts.get(account_id))
    assert len(warnings_sent(cf)) == 5
    assert outbox(cf).last("unlock_link") is not None


@pytest.mark.req("LK-11")
def test_a_wrong_password_alone_warns_nobody(cf: Credflow) -> None:
    account(cf)
    enrol_totp(cf)
    assert not cf.login("adejoux", GOOD + "x").ok
    assert warnings_sent(cf) == []


@pytest.mark.req("LK-11", "SS-06")
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_warning_mail_carries_no_secret_and_points_home(cf: Credflow, lang: str) -> None:
    account(cf)
    secret, codes = enrol_totp(cf)
    flow = mfa_flow(cf)
    wrong = other(code_now(cf, secret))
    cf.mfa.verify(flow, wrong, locale=lang)
    [warning] = warnings_sent(cf)
    mail = DEFAULT_TEMPLATES.render(warning)
    assert mail.locale == lang
    for body in (mail.subject, mail.text, mail.html or ""):
        assert GOOD not in body and secret not in body and wrong not in body
        assert not any(code in body for code in codes)
    assert cf.settings.base_url in mail.text
    assert ("mot de passe" if lang == "fr" else "password") in mail.text


@pytest.mark.req("LK-11")
@pytest.mark.parametrize("kind", ["sqlite-file", "postgresql"])
def test_parallel_failures_of_one_login_warn_once(kind: str, tmp_path: Path) -> None:
    with open_storage(kind, tmp_path) as storage:
        cf = make_cf(storage=storage)
        account_id = account(cf)
        secret, _ = enrol_totp(cf)
        flow = mfa_flow(cf)
        wrong = other(code_now(cf, secret))
        barrier = threading.Barrier(8)

        def attempt() -> None:
            barrier.wait()
            cf.mfa.verify(flow, wrong)

        threads = [threading.Thread(target=attempt) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(events(cf, account_id, "second_factor_failed")) == 1
        assert len(warnings_sent(cf)) == 1
