"""LK-11: a login whose password was right but whose second factor failed is an event and a
mail to the owner, once per login."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from tests.factories import classic_settings, clock, make_cf, outbox
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
from tests.test_mfa_policy import at_mfa_step, recovery_cf

from credflow.clock import FrozenClock
from credflow.errors import NotificationError
from credflow.facade import Credflow
from credflow.mfa.checks import CodeCheck
from credflow.mfa.verifier import Verifier
from credflow.notify import Message, Outbox
from credflow.notify.templates import DEFAULT_TEMPLATES
from credflow.results import LoginStatus, MfaStatus, RecoveryStatus
from credflow.storage.memory import MemoryStorage


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
    assert events(cf, account_id, "second_factor_failed") == [{"method": "totp", "mailed": True}]
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
    assert events(cf, account_id, "second_factor_failed") == [{"method": "sms", "mailed": True}]
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
        cf = make_cf(storage=storage, lockout={"threshold": 100})
        account_id = account(cf)
        secret, _ = enrol_totp(cf)
        flow = mfa_flow(cf)
        wrong = other(code_now(cf, secret))
        barrier = threading.Barrier(8)
        outcomes: list[MfaStatus] = []

        def attempt() -> None:
            barrier.wait()
            outcomes.append(cf.mfa.verify(flow, wrong).status)

        threads = [threading.Thread(target=attempt) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes == [MfaStatus.REFUSED] * 8  # no thread failed, none locked
        assert cf.lockout.failures(account_id) == 8
        assert len(events(cf, account_id, "second_factor_failed")) == 1
        assert len(warnings_sent(cf)) == 1


class RefusingWarnings(Outbox):
    """An outbox whose delivery of one kind fails, as a mail server that is down would."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def send(self, message: Message) -> None:
        if message.kind == self.kind:
            raise NotificationError("could not connect to the SMTP server")
        super().send(message)


def refusing(kind: str) -> Credflow:
    """A Credflow whose notifier cannot deliver messages of ``kind``."""
    return Credflow(
        storage=MemoryStorage(),
        settings=classic_settings(),
        notifier=RefusingWarnings(kind),
        clock=FrozenClock(),
    )


@pytest.mark.req("LK-11", "LK-01")
def test_a_warning_that_cannot_be_mailed_leaves_the_refusal_and_the_count() -> None:
    cf = refusing("second_factor_failed")
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    flow = mfa_flow(cf)
    refused = cf.mfa.verify(flow, other(code_now(cf, secret)))
    assert (refused.status, refused.flow) == (MfaStatus.REFUSED, flow)
    assert cf.lockout.failures(account_id) == 1
    assert events(cf, account_id, "second_factor_failed") == [
        {"method": "totp", "mailed": False, "error": "NotificationError"}
    ]
    assert cf.mfa.verify(flow, code_now(cf, secret)).ok  # the step goes on


@pytest.mark.req("LK-01", "LK-03")
def test_a_lock_holds_when_its_unlock_link_cannot_be_mailed() -> None:
    """A lock undone by a failed mail would give unlimited guesses while the server is down."""
    cf = refusing("unlock_link")
    account_id = account(cf)
    for _ in range(5):
        assert cf.login("adejoux", "wrong-password").status is LoginStatus.DENIED
    assert cf.lockout.is_locked(cf.accounts.get(account_id))
    assert cf.login("adejoux", GOOD).status is LoginStatus.DENIED
    assert events(cf, account_id, "unlock_link_failed") == [{"error": "NotificationError"}]
    assert events(cf, account_id, "account_locked")[-1]["failures"] == 5
    # The link nobody received is void: nothing outstanding is left to void.
    assert cf.storage.void_tokens(account_id, "unlock", cf.clock.now()) == 0


def test_a_right_code_racing_the_first_wrong_one_still_signs_in(
    cf: Credflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The right code's request loaded the flow; a wrong code of the same login is refused and
    warns before the right one is consumed. The warning must not void the right code."""
    account(cf)
    secret, _ = enrol_totp(cf)
    flow = mfa_flow(cf)
    right, wrong = code_now(cf, secret), other(code_now(cf, secret))
    original = Verifier.check
    raced: list[MfaStatus] = []
    racing: list[bool] = []

    def check_then_race(self: Verifier, *args: Any) -> CodeCheck:
        found = original(self, *args)
        if not racing:  # once: the wrong code, while the right one is between load and use
            racing.append(True)
            raced.append(cf.mfa.verify(flow, wrong).status)
        return found

    monkeypatch.setattr(Verifier, "check", check_then_race)
    assert cf.mfa.verify(flow, right).ok
    assert raced == [MfaStatus.REFUSED]
    assert len(warnings_sent(cf)) == 1


@pytest.mark.req("LK-11")
def test_no_warning_when_the_totp_key_is_gone_or_at_a_recovery() -> None:
    cf = make_cf()
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    rotated = make_cf(cf.storage, secret_key="n" * 32)  # the key that sealed the seed is gone
    rotated.clock.set(cf.clock.now())  # type: ignore[attr-defined]
    flow = mfa_flow(rotated)
    refused = rotated.mfa.verify(flow, code_now(cf, secret))
    assert refused.status is MfaStatus.REFUSED
    assert events(rotated, account_id, "mfa_failed")[-1]["reason"] == "key_unknown"
    assert events(rotated, account_id, "second_factor_failed") == []
    assert warnings_sent(rotated) == []


@pytest.mark.req("LK-11")
def test_a_wrong_code_at_a_recoverys_second_factor_warns_nobody() -> None:
    """A recovery's mfa step follows a mailed link, not a password: nothing to warn about."""
    cf = recovery_cf("email_link")
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    flow = at_mfa_step(cf)
    wrong = cf.recovery.submit_mfa(flow, other(code_now(cf, secret)))
    assert (wrong.status, wrong.code) == (RecoveryStatus.REFUSED, "mfa.code_wrong")
    assert events(cf, account_id, "mfa_failed")[-1]["during"] == "recovery"
    assert events(cf, account_id, "second_factor_failed") == []
    assert warnings_sent(cf) == []


def test_recovery_codes_stay_unpeppered_with_a_pepper_set() -> None:
    cf = make_cf(peppers=[("2026a", "pepper-key-A-0123456789")])
    account_id = account(cf)
    _, codes = enrol_totp(cf)
    stored = cf.storage.recovery_codes(account_id, codes[0][:4])  # the selector
    assert stored and all(c.code_hash.startswith("$argon2id$") for c in stored)
    password = cf.storage.get_password(account_id)
    assert password is not None and password.hash.startswith("$pepper$k=2026a$")
    assert cf.mfa.verify(mfa_flow(cf), codes[0]).ok  # and a code still opens the account
