"""``cf.mfa``: TOTP and SMS enrolment, the login's second factor, replay, lockout, SMS codes,
recovery codes, removal, bad input, and secrets kept out of every surface."""

from __future__ import annotations

import inspect
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.factories import clock, make_cf, outbox

from credflow.errors import ConcurrentUpdate, InvalidInput
from credflow.facade import Credflow
from credflow.mfa import recovery_codes, totp
from credflow.results import LoginStatus, MfaResult, MfaStatus, Session
from credflow.storage.memory import MemoryStorage
from credflow.storage.records import MfaFactor, MfaKind, PasswordCredential

GOOD = "Bleu2024x"
PHONE = "+33612345678"


# -- helpers (shared by the other test_mfa_* modules) -----------------------------------------


def account(cf: Credflow, identifier: str = "adejoux", password: str = GOOD) -> str:
    """An active account with ``password`` and nothing left to do; returns its id."""
    email = identifier if "@" in identifier else f"{identifier}@example.fr"
    created = cf.accounts.create(identifier, email=email, temporary=False)
    cf.storage.set_password(
        PasswordCredential(
            account_id=created.account.id, hash=cf.hasher.hash(password), set_at=cf.clock.now()
        )
    )
    return created.account.id


def session(cf: Credflow, identifier: str = "adejoux", password: str = GOOD) -> Session:
    result = cf.login(identifier, password)
    assert result.session is not None, result
    return result.session


def code_now(cf: Credflow, secret: str, offset: int = 0) -> str:
    """The TOTP code of the current step (+ ``offset`` steps) at the facade's clock."""
    return totp.code_at(secret, totp.step_at(cf.clock.now().timestamp()) + offset)


def enrol_totp(cf: Credflow, identifier: str = "adejoux") -> tuple[str, tuple[str, ...]]:
    """Enrol a TOTP for a ready account; returns its secret and recovery codes. The clock moves
    one step on, so the enrolment's code is not the current one any more."""
    current = session(cf, identifier)
    setup = cf.mfa.begin_totp(current)
    assert setup.ok and setup.secret is not None
    done = cf.mfa.confirm_totp(current, code_now(cf, setup.secret))
    assert done.status is MfaStatus.COMPLETED, done
    clock(cf).advance(30)
    return setup.secret, done.recovery_codes


def enrol_sms(cf: Credflow, identifier: str = "adejoux", phone: str = PHONE) -> tuple[str, ...]:
    current = session(cf, identifier)
    assert cf.mfa.begin_sms(current, phone).status is MfaStatus.NEXT
    done = cf.mfa.confirm_sms(current, last_sms(cf))
    assert done.status is MfaStatus.COMPLETED, done
    return done.recovery_codes


def last_sms(cf: Credflow) -> str:
    message = outbox(cf).last("sms_code")
    assert message is not None
    return message.params["code"]


def mfa_flow(cf: Credflow, identifier: str = "adejoux", password: str = GOOD) -> str:
    result = cf.login(identifier, password)
    assert result.status is LoginStatus.MFA_REQUIRED, result
    assert result.flow is not None and result.session is None
    return result.flow


def events(cf: Credflow, account_id: str, kind: str) -> list[dict[str, Any]]:
    return [e.details for e in cf.storage.events(account_id=account_id) if e.type == kind]


def other(code: str) -> str:
    """A different code of the same shape."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


@pytest.fixture
def cf() -> Credflow:
    return make_cf()


# -- TOTP enrolment ---------------------------------------------------------------------------


@pytest.mark.req("OT-09", "OT-01", "RC-01")
def test_totp_counts_only_after_a_first_valid_code(cf: Credflow) -> None:
    account_id = account(cf)
    current = session(cf)
    setup = cf.mfa.begin_totp(current)
    assert (setup.status, setup.code) == (MfaStatus.NEXT, "mfa.totp_started")
    assert setup.secret is not None and len(setup.secret) == 32
    [stored] = cf.storage.mfa_factors(account_id)
    assert (stored.kind, stored.confirmed) == (MfaKind.TOTP, False)
    assert stored.secret is not None and setup.secret not in stored.secret  # a seed (OT-08)
    assert cf.login("adejoux", GOOD).ok  # unconfirmed: no second factor yet
    assert cf.mfa.factors(current) == ()

    wrong = cf.mfa.confirm_totp(current, other(code_now(cf, setup.secret)))
    assert (wrong.status, wrong.code, wrong.recovery_codes) == (
        MfaStatus.REFUSED,
        "mfa.code_wrong",
        (),
    )
    assert not cf.storage.mfa_factors(account_id)[0].confirmed

    done = cf.mfa.confirm_totp(current, code_now(cf, setup.secret))
    assert (done.status, done.code) == (MfaStatus.COMPLETED, "mfa.confirmed")
    assert done.message == "La vérification en deux étapes est activée."
    assert len(done.recovery_codes) == 10 and len(set(done.recovery_codes)) == 10
    assert cf.storage.recovery_codes_left(account_id) == 10
    assert cf.mfa.factors(current) == (MfaKind.TOTP,)
    assert cf.login("adejoux", GOOD).status is LoginStatus.MFA_REQUIRED
    assert events(cf, account_id, "mfa_enrolled") == [{"kind": "totp"}]
    assert events(cf, account_id, "mfa_confirmed") == [{"kind": "totp", "recovery": True}]
    assert cf.mfa.confirm_totp(current, code_now(cf, setup.secret, 1)).code == (
        "mfa.already_enrolled"
    )


def test_the_uri_names_the_issuer_and_the_identifier() -> None:
    cf = make_cf(mfa={"issuer": "Compte Sage"})
    account(cf, "a.dejoux@example.fr")
    current = session(cf, "a.dejoux@example.fr")
    setup = cf.mfa.begin_totp(current)
    assert setup.uri is not None and setup.secret is not None
    assert setup.uri.startswith("otpauth://totp/Compte%20Sage:a.dejoux%40example.fr?")
    assert f"secret={setup.secret}&issuer=Compte%20Sage&" in setup.uri
    named = cf.mfa.begin_totp(current, issuer="Sage ID")
    assert named.uri is not None and named.uri.startswith("otpauth://totp/Sage%20ID:")
    assert named.svg().startswith("<svg")


def test_beginning_again_replaces_an_unconfirmed_secret(cf: Credflow) -> None:
    account(cf)
    current = session(cf)
    first = cf.mfa.begin_totp(current)
    second = cf.mfa.begin_totp(current)
    assert first.secret is not None and second.secret is not None
    assert first.secret != second.secret
    assert cf.mfa.confirm_totp(current, code_now(cf, first.secret)).code == "mfa.code_wrong"
    assert cf.mfa.confirm_totp(current, code_now(cf, second.secret)).ok


def test_beginning_while_confirmed_asks_to_disable_first(cf: Credflow) -> None:
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    stored = cf.storage.mfa_factors(account_id)[0].secret
    current = cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).session
    assert current is not None
    again = cf.mfa.begin_totp(current)
    assert (again.status, again.code, again.secret, again.uri) == (
        MfaStatus.REFUSED,
        "mfa.already_enrolled",
        None,
        None,
    )
    assert again.message.startswith("Cette méthode est déjà configurée")
    assert cf.storage.mfa_factors(account_id)[0].secret == stored
    assert cf.mfa.disable(current, "totp", password=GOOD).ok
    assert cf.mfa.begin_totp(current).ok


def test_confirming_without_beginning(cf: Credflow) -> None:
    account(cf)
    refused = cf.mfa.confirm_totp(session(cf), "123456")
    assert (refused.status, refused.code) == (MfaStatus.REFUSED, "mfa.not_started")


@pytest.mark.parametrize("issuer", ["", "Sage:ID", "x" * 65, "Sage\u0007"])
def test_a_wrong_issuer_raises_and_changes_nothing(cf: Credflow, issuer: str) -> None:
    account_id = account(cf)
    current = session(cf)
    seen = len(cf.storage.events())
    with pytest.raises(InvalidInput) as caught:
        cf.mfa.begin_totp(current, issuer=issuer)
    assert caught.value.field == "issuer"
    assert cf.storage.mfa_factors(account_id) == []
    assert len(cf.storage.events()) == seen


@pytest.mark.parametrize("code", ["12a456", "12345", "1234567", "ABCD-EFGH-IJKL-MNOP", ""])
def test_a_malformed_enrolment_code_raises_and_changes_nothing(cf: Credflow, code: str) -> None:
    account_id = account(cf)
    current = session(cf)
    assert cf.mfa.begin_totp(current).ok
    before = (cf.storage.mfa_factors(account_id), len(cf.storage.events()))
    with pytest.raises(InvalidInput) as caught:
        cf.mfa.confirm_totp(current, code)
    assert caught.value.field == "code"
    assert (cf.storage.mfa_factors(account_id), len(cf.storage.events())) == before


def test_session_calls_need_a_valid_session(cf: Credflow) -> None:
    account(cf)
    for call in (
        lambda: cf.mfa.begin_totp("nope"),
        lambda: cf.mfa.confirm_totp("nope", "123456"),
        lambda: cf.mfa.begin_sms("nope", PHONE),
        lambda: cf.mfa.confirm_sms("nope", "123456"),
        lambda: cf.mfa.regenerate_recovery_codes("nope", password=GOOD),
        lambda: cf.mfa.disable("nope", "totp", password=GOOD),
    ):
        result = call()
        assert (result.status, result.code) == (MfaStatus.INVALID, "session.invalid")
    assert cf.mfa.factors("nope") == ()
    with pytest.raises(InvalidInput) as caught:
        cf.mfa.factors(42)  # type: ignore[arg-type]
    assert caught.value.field == "session"


def test_a_second_factor_brings_no_second_set_of_codes(cf: Credflow) -> None:
    account_id = account(cf)
    secret, codes = enrol_totp(cf)
    current = cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).session
    assert current is not None
    assert cf.mfa.begin_sms(current, PHONE).ok
    done = cf.mfa.confirm_sms(current, last_sms(cf))
    assert done.ok and done.recovery_codes == ()
    assert cf.storage.recovery_codes_left(account_id) == len(codes) == 10
    assert cf.mfa.factors(current) == (MfaKind.SMS, MfaKind.TOTP)


# -- the login step ---------------------------------------------------------------------------


@pytest.mark.req("OT-03", "SS-06")
def test_login_asks_for_the_code_then_gives_the_session(cf: Credflow) -> None:
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    flow = mfa_flow(cf)
    assert cf.mfa.methods(flow) == ("totp", "recovery_code")
    done = cf.mfa.verify(flow, " " + code_now(cf, secret)[:3] + " " + code_now(cf, secret)[3:])
    assert (done.status, done.code, done.codes_left) == (MfaStatus.COMPLETED, "mfa.verified", None)
    assert done.session is not None and cf.sessions.validate(done.session.token) is not None
    assert events(cf, account_id, "mfa_verified")[-1] == {"method": "totp", "during": "login"}
    assert events(cf, account_id, "login_succeeded")[-1] == {"after": "mfa", "method": "totp"}
    assert cf.mfa.methods(flow) == ()
    # Single use: the flow is gone, even with the next valid code.
    clock(cf).advance(30)
    again = cf.mfa.verify(flow, code_now(cf, secret))
    assert (again.status, again.code, again.session) == (MfaStatus.INVALID, "flow.invalid", None)


@pytest.mark.req("OT-03")
@pytest.mark.parametrize("into_step", [0, 29])
@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, True), (0, True), (1, False)])
def test_the_window_at_exact_step_boundaries(into_step: int, offset: int, accepted: bool) -> None:
    cf = make_cf()
    account(cf)
    secret, _ = enrol_totp(cf)
    clock(cf).advance(120 + into_step)  # the enrolment's step is far behind
    assert int(cf.clock.now().timestamp()) % 30 == into_step
    code = code_now(cf, secret, offset)
    if not accepted and code in (code_now(cf, secret), code_now(cf, secret, -1)):
        pytest.skip("this secret's codes collide across steps")  # one chance in 500,000
    result = cf.mfa.verify(mfa_flow(cf), code)
    assert result.ok is accepted
    assert result.code == ("mfa.verified" if accepted else "mfa.code_wrong")


@pytest.mark.req("OT-03")
def test_the_next_step_code_works_from_second_30_not_29(cf: Credflow) -> None:
    account(cf)
    secret, _ = enrol_totp(cf)
    clock(cf).advance(60 + 29)
    upcoming = code_now(cf, secret, 1)
    flow = mfa_flow(cf)
    assert cf.mfa.verify(flow, upcoming).code == "mfa.code_wrong"  # T+1: refused
    clock(cf).advance(1)  # second 30: it is the current step now
    assert cf.mfa.verify(flow, upcoming).ok


@pytest.mark.req("OT-04", "OT-05")
def test_a_used_step_is_refused_forever(cf: Credflow) -> None:
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    code = code_now(cf, secret)
    assert cf.mfa.verify(mfa_flow(cf), code).ok
    replay = cf.mfa.verify(mfa_flow(cf), code)
    assert (replay.status, replay.code) == (MfaStatus.REFUSED, "mfa.code_wrong")
    assert events(cf, account_id, "mfa_failed")[-1] == {
        "method": "totp",
        "reason": "replayed",
        "during": "login",
    }
    # An older code (T-1, still in the window) after a newer one: refused too.
    clock(cf).advance(30)
    newer, older = code_now(cf, secret), code_now(cf, secret, -1)
    assert cf.mfa.verify(mfa_flow(cf), newer).ok
    assert cf.mfa.verify(mfa_flow(cf), older).code == "mfa.code_wrong"
    assert cf.lockout.failures(account_id) == 1  # the success in between reset the count


@pytest.mark.req("OT-06", "LK-07", "LK-04")
def test_wrong_codes_count_toward_lockout_and_a_locked_account_is_refused(cf: Credflow) -> None:
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    spare = mfa_flow(cf)
    flow = mfa_flow(cf)
    wrong = other(code_now(cf, secret))
    for expected in range(1, 5):
        result = cf.mfa.verify(flow, wrong)
        assert (result.status, result.flow) == (MfaStatus.REFUSED, flow)
        assert cf.lockout.failures(account_id) == expected
    # The right password again does not reset the count: the second factor is still due.
    flow = mfa_flow(cf)
    assert cf.lockout.failures(account_id) == 4
    locked = cf.mfa.verify(flow, wrong)
    assert (locked.status, locked.code, locked.flow) == (MfaStatus.LOCKED, "mfa.locked", None)
    assert locked.message.startswith("Trop de tentatives échouées")
    assert cf.lockout.is_locked(cf.accounts.get(account_id))
    assert outbox(cf).last("unlock_link") is not None
    assert events(cf, account_id, "account_locked")[-1]["factor"] == "totp"
    # Locked: even the right code on another pending flow is refused, not counted, and ends it.
    refused = cf.mfa.verify(spare, code_now(cf, secret))
    assert (refused.status, refused.session) == (MfaStatus.LOCKED, None)
    assert cf.lockout.failures(account_id) == 5
    assert cf.mfa.verify(spare, code_now(cf, secret)).status is MfaStatus.INVALID
    assert cf.login("adejoux", GOOD).status is LoginStatus.DENIED


@pytest.mark.req("LK-05")
def test_a_passed_second_factor_resets_the_count(cf: Credflow) -> None:
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    flow = mfa_flow(cf)
    cf.mfa.verify(flow, other(code_now(cf, secret)))
    assert cf.lockout.failures(account_id) == 1
    assert cf.mfa.verify(flow, code_now(cf, secret)).ok
    assert cf.lockout.failures(account_id) == 0


@pytest.mark.req("OT-11")
def test_the_pending_step_expires_with_the_flow_lifetime(cf: Credflow) -> None:
    account(cf)
    secret, _ = enrol_totp(cf)
    at_limit, past = mfa_flow(cf), mfa_flow(cf)
    clock(cf).advance(cf.settings.lifetimes.flow)
    assert cf.mfa.verify(at_limit, code_now(cf, secret)).ok
    clock(cf).advance(1)
    expired = cf.mfa.verify(past, code_now(cf, secret))
    assert (expired.status, expired.code) == (MfaStatus.EXPIRED, "flow.expired")
    assert cf.mfa.verify(past, code_now(cf, secret)).status is MfaStatus.INVALID  # gone
    assert cf.mfa.methods(past) == ()


def test_flows_that_are_not_a_pending_second_factor(cf: Credflow) -> None:
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    created = cf.accounts.create("newcomer", email="n@example.fr")
    first = cf.login("newcomer", created.temporary_password or "").flow or ""
    for flow in ("", "not-a-handle", first):
        assert cf.mfa.verify(flow, "123456").code == "flow.invalid"
        assert cf.mfa.send_code(flow).code == "flow.invalid"
        assert cf.mfa.methods(flow) == ()
    assert cf.mfa.verify(None, "123456").code == "flow.invalid"  # type: ignore[arg-type]
    assert cf.mfa.methods(None) == ()  # type: ignore[arg-type]
    # The password changed under the flow, or the account was disabled: the flow is void.
    stale = mfa_flow(cf)
    cf.accounts.set_temporary_password(account_id)
    assert cf.mfa.verify(stale, code_now(cf, secret)).code == "flow.invalid"
    assert cf.mfa.methods(stale) == ("totp", "recovery_code")  # readable, but not usable


@pytest.mark.parametrize("code", ["12a456", "12345", "1234567", "ABCD-EFGH-IJKL-MNO0", "", "x"])
def test_a_malformed_login_code_raises_and_changes_nothing(cf: Credflow, code: str) -> None:
    account_id = account(cf)
    enrol_totp(cf)
    flow = mfa_flow(cf)
    seen = len(cf.storage.events())
    with pytest.raises(InvalidInput) as caught:
        cf.mfa.verify(flow, code)
    assert caught.value.field == "code"
    assert len(cf.storage.events()) == seen
    assert cf.lockout.failures(account_id) == 0
    assert cf.mfa.methods(flow) == ("totp", "recovery_code")


def test_the_host_hook_still_wins() -> None:
    base = make_cf()
    account_id = account(base)
    cf = Credflow(
        storage=base.storage,
        settings=base.settings,
        clock=base.clock,
        notifier=base.notifier,
        second_factor=lambda acc: acc.id == account_id,
    )
    flow = mfa_flow(cf)  # no cf.mfa factor, but the host says there is one
    assert cf.mfa.methods(flow) == ()
    assert cf.mfa.verify(flow, "123456").code == "mfa.code_wrong"


# -- codes by SMS -----------------------------------------------------------------------------


@pytest.mark.req("EV-01", "EV-07")
def test_sms_enrolment_then_login_with_a_sent_code(cf: Credflow) -> None:
    account_id = account(cf)
    current = session(cf)
    sent = cf.mfa.begin_sms(current, "+33 6 12 34 56 78")
    assert (sent.status, sent.code) == (MfaStatus.NEXT, "mfa.code_sent")
    assert sent.message.endswith("se terminant par 78.")
    message = outbox(cf).last("sms_code")
    assert message is not None
    assert (message.channel, message.recipient, message.secret_params) == (
        "sms",
        PHONE,
        frozenset({"code"}),
    )
    code = message.params["code"]
    assert len(code) == 6 and code.isdigit() and message.params["expires_minutes"] == "5"
    assert code not in repr(message)
    assert code not in repr(cf.storage.get_flow(cf.mfa._sms.enrol_hash(account_id)))
    assert cf.mfa.confirm_sms(current, other(code)).code == "mfa.code_wrong"
    done = cf.mfa.confirm_sms(current, code)
    assert (done.status, len(done.recovery_codes)) == (MfaStatus.COMPLETED, 10)
    assert cf.mfa.confirm_sms(current, code).code == "mfa.not_started"
    [factor] = cf.storage.mfa_factors(account_id)
    assert (factor.kind, factor.phone, factor.confirmed) == (MfaKind.SMS, PHONE, True)

    flow = mfa_flow(cf)
    assert cf.mfa.methods(flow) == ("sms", "recovery_code")
    assert cf.mfa.verify(flow, code).code == "mfa.code_wrong"  # no code sent in this flow yet
    assert cf.mfa.send_code(flow).ok
    done = cf.mfa.verify(flow, last_sms(cf))
    assert done.ok and done.session is not None
    assert events(cf, account_id, "mfa_verified")[-1]["method"] == "sms"


@pytest.mark.req("EV-02")
def test_an_sms_code_lives_300_seconds_exactly(cf: Credflow) -> None:
    account_id = account(cf)
    enrol_sms(cf)
    at_limit, past = mfa_flow(cf), mfa_flow(cf)
    cf.mfa.send_code(at_limit)
    first = last_sms(cf)
    cf.mfa.send_code(past)
    second = last_sms(cf)
    clock(cf).advance(300)
    assert cf.mfa.verify(at_limit, first).ok
    clock(cf).advance(1)
    expired = cf.mfa.verify(past, second)
    assert (expired.status, expired.code, expired.flow) == (
        MfaStatus.REFUSED,
        "mfa.code_expired",
        past,
    )
    assert cf.lockout.failures(account_id) == 0  # a late right code is no guess
    assert events(cf, account_id, "mfa_failed")[-1]["reason"] == "expired"
    assert cf.mfa.send_code(past).ok  # a new code works again
    assert cf.mfa.verify(past, last_sms(cf)).ok


@pytest.mark.req("EV-05")
def test_five_tries_then_the_code_is_burned() -> None:
    cf = make_cf(lockout={"threshold": 100})
    account_id = account(cf)
    enrol_sms(cf)
    flow = mfa_flow(cf)
    cf.mfa.send_code(flow)
    code = last_sms(cf)
    codes = [cf.mfa.verify(flow, other(code)).code for _ in range(5)]
    assert codes == ["mfa.code_wrong"] * 4 + ["mfa.code_burned"]
    burned = cf.mfa.verify(flow, code)  # even the right code, now
    assert (burned.status, burned.code) == (MfaStatus.REFUSED, "mfa.code_burned")
    assert cf.lockout.failures(account_id) == 6
    assert cf.mfa.send_code(flow).ok
    assert cf.mfa.verify(flow, last_sms(cf)).ok


@pytest.mark.req("EV-06", "EV-03")
def test_a_resend_voids_the_previous_code(cf: Credflow) -> None:
    account(cf)
    enrol_sms(cf)
    flow = mfa_flow(cf)
    cf.mfa.send_code(flow)
    first = last_sms(cf)
    cf.mfa.send_code(flow)
    second = last_sms(cf)
    if first == second:
        pytest.skip("two equal random codes")  # one chance in a million
    assert cf.mfa.verify(flow, first).code == "mfa.code_wrong"
    assert cf.mfa.verify(flow, second).ok


def test_sms_sends_are_rate_limited(cf: Credflow) -> None:
    account(cf)
    enrol_sms(cf)  # one SMS already
    flow = mfa_flow(cf)
    results = [cf.mfa.send_code(flow).code for _ in range(5)]
    assert results == ["mfa.code_sent"] * 4 + ["mfa.too_many_codes"]
    assert len([m for m in outbox(cf).messages if m.kind == "sms_code"]) == 5
    clock(cf).advance(900)
    assert cf.mfa.send_code(flow).code == "mfa.code_sent"
    current = cf.mfa.verify(flow, last_sms(cf)).session
    assert current is not None
    for _ in range(4):
        cf.mfa.send_code(mfa_flow(cf))
    assert cf.mfa.disable(current, "sms", password=GOOD).ok
    assert cf.mfa.begin_sms(current, PHONE).code == "mfa.too_many_codes"


def test_sending_a_code_needs_a_confirmed_phone(cf: Credflow) -> None:
    account(cf)
    enrol_totp(cf)
    flow = mfa_flow(cf)
    refused = cf.mfa.send_code(flow)
    assert (refused.status, refused.code, refused.flow) == (
        MfaStatus.REFUSED,
        "mfa.no_phone",
        flow,
    )
    assert outbox(cf).last("sms_code") is None


@pytest.mark.parametrize(
    "phone", ["0612345678", "+33 6 12 34 56 7a", "+1234567", "", "+0612345678"]
)
def test_a_bad_phone_raises_and_changes_nothing(cf: Credflow, phone: str) -> None:
    account_id = account(cf)
    current = session(cf)
    seen = len(cf.storage.events())
    with pytest.raises(InvalidInput) as caught:
        cf.mfa.begin_sms(current, phone)
    assert caught.value.field == "phone"
    assert outbox(cf).last("sms_code") is None
    assert cf.storage.get_flow(cf.mfa._sms.enrol_hash(account_id)) is None
    assert len(cf.storage.events()) == seen


def test_sms_enrolment_refusals(cf: Credflow) -> None:
    account(cf)
    current = session(cf)
    assert cf.mfa.confirm_sms(current, "123456").code == "mfa.not_started"
    with pytest.raises(InvalidInput):
        cf.mfa.confirm_sms(current, "1234567")
    cf.mfa.begin_sms(current, PHONE)
    code = last_sms(cf)
    results = [cf.mfa.confirm_sms(current, other(code)).code for _ in range(5)]
    assert results[-1] == "mfa.code_burned"
    assert cf.mfa.confirm_sms(current, code).code == "mfa.code_burned"
    cf.mfa.begin_sms(current, PHONE)  # a new code, new tries
    clock(cf).advance(301)
    assert cf.mfa.confirm_sms(current, last_sms(cf)).code == "mfa.code_expired"
    assert cf.mfa.confirm_sms(current, last_sms(cf)).code == "mfa.not_started"
    enrolled = make_cf()
    account(enrolled)
    enrol_sms(enrolled)
    flow = mfa_flow(enrolled)
    enrolled.mfa.send_code(flow)
    verified = enrolled.mfa.verify(flow, last_sms(enrolled)).session
    assert verified is not None
    assert enrolled.mfa.begin_sms(verified, PHONE).code == "mfa.already_enrolled"


def test_eight_digit_sms_codes_are_told_apart_from_totp_codes() -> None:
    cf = make_cf(mfa={"sms_code_digits": 8})
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    current = cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).session
    assert current is not None
    cf.mfa.begin_sms(current, PHONE)
    assert len(last_sms(cf)) == 8
    assert cf.mfa.confirm_sms(current, last_sms(cf)).ok
    clock(cf).advance(30)
    flow = mfa_flow(cf)
    cf.mfa.send_code(flow)
    sms = last_sms(cf)
    assert cf.mfa.verify(flow, code_now(cf, secret)).ok  # 6 digits: the app's code
    assert events(cf, account_id, "mfa_verified")[-1]["method"] == "totp"
    flow = mfa_flow(cf)
    assert cf.mfa.verify(flow, sms).code == "mfa.code_wrong"  # sent in another flow
    cf.mfa.send_code(flow)
    assert cf.mfa.verify(flow, last_sms(cf)).ok


def test_a_code_checked_while_a_parallel_failure_locked_the_account(
    cf: Credflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    account(cf)
    secret, _ = enrol_totp(cf)
    flow = mfa_flow(cf)
    answers = iter([False, True])
    monkeypatch.setattr(cf.lockout, "is_locked", lambda account: next(answers))
    result = cf.mfa.verify(flow, code_now(cf, secret))
    assert (result.status, result.session) == (MfaStatus.LOCKED, None)
    assert cf.mfa.methods(flow) == ()


def test_an_sms_confirmation_raced_by_its_twin(
    cf: Credflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = account(cf)
    current = session(cf)
    cf.mfa.begin_sms(current, PHONE)

    def lost(*args: Any, **kwargs: Any) -> Any:
        raise ConcurrentUpdate("raced")

    monkeypatch.setattr(cf.storage, "advance_flow", lost)
    result = cf.mfa.confirm_sms(current, last_sms(cf))
    assert (result.status, result.code) == (MfaStatus.REFUSED, "mfa.not_started")
    assert cf.storage.mfa_factors(account_id) == []


# -- recovery codes ---------------------------------------------------------------------------


@pytest.mark.req("RC-03", "RC-06")
def test_each_recovery_code_works_once(cf: Credflow) -> None:
    account_id = account(cf)
    _, codes = enrol_totp(cf)
    done = cf.mfa.verify(mfa_flow(cf), codes[0])
    assert (done.status, done.code, done.codes_left) == (
        MfaStatus.COMPLETED,
        "mfa.recovery_code_used",
        9,
    )
    assert done.message.endswith("Il vous reste 9 codes.") and done.session is not None
    assert events(cf, account_id, "mfa_recovery_code_used") == [{"left": 9, "during": "login"}]
    again = cf.mfa.verify(mfa_flow(cf), codes[0])
    assert (again.status, again.code) == (MfaStatus.REFUSED, "mfa.code_wrong")
    assert events(cf, account_id, "mfa_failed")[-1]["reason"] == "wrong"  # no unused code
    typed = codes[1].lower().replace("-", " ")
    assert cf.mfa.verify(mfa_flow(cf), typed).codes_left == 8
    unknown = recovery_codes.format_code(recovery_codes.generate(1)[0])
    assert cf.mfa.verify(mfa_flow(cf), unknown).code == "mfa.code_wrong"
    assert cf.lockout.failures(account_id) == 1  # counted again after the success


@pytest.mark.req("RC-05", "RC-02", "RC-04")
def test_regenerating_voids_the_old_set(cf: Credflow) -> None:
    account_id = account(cf)
    secret, old = enrol_totp(cf)
    current = cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).session
    assert current is not None
    wrong = cf.mfa.regenerate_recovery_codes(current, password="Nope1234x")
    assert (wrong.status, wrong.code, wrong.recovery_codes) == (
        MfaStatus.REFUSED,
        "mfa.password_wrong",
        (),
    )
    assert cf.lockout.failures(account_id) == 1
    new = cf.mfa.regenerate_recovery_codes(current, password=GOOD)
    assert (new.status, new.code) == (MfaStatus.COMPLETED, "mfa.recovery_codes")
    assert len(new.recovery_codes) == 10 and not set(new.recovery_codes) & set(old)
    assert cf.lockout.failures(account_id) == 0
    assert events(cf, account_id, "mfa_recovery_codes_regenerated") == [{"count": 10}]
    assert cf.mfa.verify(mfa_flow(cf), old[0]).code == "mfa.code_wrong"
    assert cf.mfa.verify(mfa_flow(cf), new.recovery_codes[0]).codes_left == 9
    assert cf.mfa.regenerate_recovery_codes(current, password="x" * 200).code == (
        "mfa.password_wrong"
    )
    with pytest.raises(InvalidInput):
        cf.mfa.regenerate_recovery_codes(current, password=None)  # type: ignore[arg-type]


def test_regenerating_needs_a_confirmed_factor(cf: Credflow) -> None:
    account(cf)
    refused = cf.mfa.regenerate_recovery_codes(session(cf), password=GOOD)
    assert (refused.status, refused.code) == (MfaStatus.REFUSED, "mfa.not_enrolled")


def test_wrong_passwords_lock_from_the_management_pages() -> None:
    cf = make_cf(lockout={"threshold": 2})
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    current = cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).session
    assert current is not None
    assert cf.mfa.disable(current, "totp", password="Nope1234x").code == "mfa.password_wrong"
    locked = cf.mfa.regenerate_recovery_codes(current, password="Nope1234x")
    assert (locked.status, locked.code) == (MfaStatus.LOCKED, "mfa.locked")
    assert cf.mfa.regenerate_recovery_codes(current, password=GOOD).status is MfaStatus.LOCKED
    assert cf.mfa.disable(current, "totp", password=GOOD).status is MfaStatus.LOCKED
    assert cf.lockout.failures(account_id) == 2
    cf.accounts.unlock(account_id)
    clock(cf).advance(30)
    wrong = other(code_now(cf, secret))
    assert cf.mfa.disable(current, "totp", code=wrong).code == "mfa.code_wrong"
    locked = cf.mfa.disable(current, "totp", code=wrong)
    assert locked.status is MfaStatus.LOCKED


def test_an_account_without_a_password_cannot_prove_it(cf: Credflow) -> None:
    created = cf.accounts.create("nopassword", temporary=False)
    current = cf.sessions.issue(created.account)
    cf.storage.save_mfa_factor(
        MfaFactor(
            account_id=created.account.id,
            kind=MfaKind.SMS,
            phone=PHONE,
            confirmed=True,
            created_at=cf.clock.now(),
        )
    )
    refused = cf.mfa.regenerate_recovery_codes(current, password=GOOD)
    assert refused.code == "mfa.password_wrong"


# -- removal ----------------------------------------------------------------------------------


@pytest.mark.req("OT-09", "RC-05")
def test_disabling_with_the_password(cf: Credflow) -> None:
    account_id = account(cf)
    secret, codes = enrol_totp(cf)
    current = cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).session
    assert current is not None
    wrong = cf.mfa.disable(current, MfaKind.TOTP, password="Nope1234x")
    assert (wrong.status, wrong.code) == (MfaStatus.REFUSED, "mfa.password_wrong")
    assert cf.lockout.failures(account_id) == 1
    assert cf.storage.mfa_factors(account_id)[0].confirmed
    done = cf.mfa.disable(current, "totp", password=GOOD)
    assert (done.status, done.code, done.action) == (MfaStatus.COMPLETED, "mfa.disabled", None)
    assert cf.storage.mfa_factors(account_id) == []
    assert cf.storage.recovery_codes_left(account_id) == 0
    assert events(cf, account_id, "mfa_disabled") == [
        {"kind": "totp", "by": "password", "must_change": False}
    ]
    assert cf.login("adejoux", GOOD).ok
    assert cf.mfa.disable(current, "totp", password=GOOD).code == "mfa.not_enrolled"
    assert codes  # the old codes are gone with the factor


@pytest.mark.req("OT-09")
def test_disabling_with_a_code(cf: Credflow) -> None:
    account_id = account(cf)
    secret, codes = enrol_totp(cf)
    current = cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).session
    assert current is not None
    assert cf.mfa.begin_sms(current, PHONE).ok
    assert cf.mfa.confirm_sms(current, last_sms(cf)).ok
    # A used step proves nothing; a fresh TOTP code does.
    assert cf.mfa.disable(current, "sms", code=code_now(cf, secret)).code == "mfa.code_wrong"
    clock(cf).advance(30)
    done = cf.mfa.disable(current, "sms", code=code_now(cf, secret))
    assert done.ok and done.action is None
    assert [f.kind for f in cf.storage.mfa_factors(account_id)] == [MfaKind.TOTP]
    assert cf.storage.recovery_codes_left(account_id) == 10  # a factor is left
    done = cf.mfa.disable(current, "totp", code=codes[3])
    assert done.ok
    assert events(cf, account_id, "mfa_disabled")[-1]["by"] == "recovery_code"
    assert cf.storage.mfa_factors(account_id) == []


def test_disabling_an_unconfirmed_factor_is_cancelling_it(cf: Credflow) -> None:
    account_id = account(cf)
    current = session(cf)
    cf.mfa.begin_totp(current)
    assert cf.mfa.disable(current, "totp", password=GOOD).ok
    assert cf.storage.mfa_factors(account_id) == []


@pytest.mark.parametrize(
    ("kind", "kwargs", "field"),
    [
        ("totp", {}, "password"),
        ("totp", {"password": GOOD, "code": "123456"}, "password"),
        ("totp", {"password": 42}, "password"),
        ("totp", {"code": "12a456"}, "code"),
        ("email", {"password": GOOD}, "kind"),
        (None, {"password": GOOD}, "kind"),
    ],
)
def test_disable_input_errors_change_nothing(
    cf: Credflow, kind: Any, kwargs: dict[str, Any], field: str
) -> None:
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    current = cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).session
    assert current is not None
    seen = len(cf.storage.events())
    with pytest.raises(InvalidInput) as caught:
        cf.mfa.disable(current, kind, **kwargs)
    assert caught.value.field == field
    assert len(cf.storage.events()) == seen
    assert cf.storage.mfa_factors(account_id)[0].confirmed


# -- secrets ----------------------------------------------------------------------------------


@pytest.mark.req("OT-10", "SS-06", "EV-07", "RC-02")
def test_no_mfa_secret_reaches_a_repr_an_event_a_log_or_the_storage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cf = make_cf(lockout={"threshold": 100})
    account(cf)
    current = session(cf)
    setup = cf.mfa.begin_totp(current)
    assert setup.secret is not None and setup.uri is not None
    confirmed = cf.mfa.confirm_totp(current, code_now(cf, setup.secret))
    clock(cf).advance(30)
    seen: list[object] = [setup, confirmed]
    secrets_ = [setup.secret, setup.uri, *confirmed.recovery_codes]
    secrets_ += [c.replace("-", "") for c in confirmed.recovery_codes]
    verified = cf.mfa.verify(mfa_flow(cf), confirmed.recovery_codes[0]).session
    assert verified is not None
    current = verified
    seen.append(cf.mfa.begin_sms(current, PHONE))
    secrets_.append(last_sms(cf))
    seen.append(cf.mfa.confirm_sms(current, last_sms(cf)))
    flow = mfa_flow(cf)
    secrets_.append(flow)
    seen.append(cf.mfa.send_code(flow))
    secrets_.append(last_sms(cf))
    seen.append(cf.mfa.verify(flow, other(last_sms(cf))))
    seen.append(cf.mfa.verify(flow, last_sms(cf)))
    regenerated = cf.mfa.regenerate_recovery_codes(current, password=GOOD)
    seen.append(regenerated)
    secrets_ += list(regenerated.recovery_codes)
    storage = cf.storage
    assert isinstance(storage, MemoryStorage)
    sms = [m for m in outbox(cf).messages if m.kind == "sms_code"]
    surfaces = [repr(vars(storage)), repr(storage.events()), repr(cf), repr(cf.mfa)]
    surfaces += [repr(item) for item in seen] + [repr(m) for m in outbox(cf).messages]
    surfaces += [r.getMessage() for r in caplog.records]
    surfaces += [str(m.params) for m in outbox(cf).messages if m.kind != "sms_code"]
    text = "\n".join(surfaces)
    for secret in secrets_:
        assert secret not in text
    # Only the SMS itself carries its own code.
    assert {m.params["code"] for m in sms} <= set(secrets_)


# -- the property: a code works at most once ----------------------------------------------------

ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.integers(0, 45)),
        st.tuples(st.just("totp"), st.integers(-2, 1)),
        st.tuples(st.just("recovery"), st.integers(0, 11)),
        st.tuples(st.just("replay"), st.integers(0, 20)),
    ),
    max_size=25,
)


@pytest.mark.req("OT-04", "RC-03", "EV-03")
@settings(max_examples=40)
@given(ACTIONS)
def test_a_code_accepted_once_is_never_accepted_again(actions: list[tuple[str, int]]) -> None:
    """Against a model: a TOTP code passes only for a step in {T-1, T} newer than every step
    used before; a recovery code only while unused. Nothing passes twice."""
    cf = make_cf(lockout={"threshold": 100})
    account(cf)
    secret, codes = enrol_totp(cf)
    unknown = recovery_codes.format_code(recovery_codes.generate(1)[0])
    accepted: set[str] = set()
    tried: list[str] = []
    last_step = totp.step_at(cf.clock.now().timestamp()) - 1  # the enrolment's step
    for action, value in actions:
        if action == "wait":
            clock(cf).advance(value)
            continue
        now_step = totp.step_at(cf.clock.now().timestamp())
        if action == "totp":
            typed = totp.code_at(secret, now_step + value)
        elif action == "recovery":
            typed = codes[value] if value < len(codes) else unknown
        elif tried:
            typed = tried[value % len(tried)]
        else:
            continue
        tried.append(typed)
        result = cf.mfa.verify(mfa_flow(cf), typed)
        if typed in codes or typed == unknown:
            what = f"recovery:{typed}"
            expected = typed in codes and what not in accepted
        else:
            step = next(
                (s for s in (now_step, now_step - 1) if totp.code_at(secret, s) == typed), None
            )
            what = f"step:{step}"
            expected = step is not None and step > last_step
            if expected:
                last_step = step  # type: ignore[assignment]
        assert result.ok is expected, (what, result.code)
        if result.ok:
            assert what not in accepted, f"{what} accepted twice"
            accepted.add(what)


def test_results_hide_their_secrets() -> None:
    result = MfaResult(MfaStatus.COMPLETED, "x", "y", flow="handle", recovery_codes=("AAAA",))
    assert "handle" not in repr(result) and "AAAA" not in repr(result)


# -- server time only (OT-07) -----------------------------------------------------------------

_TIME_WORDS = re.compile(r"time|now|step|clock|when|date|epoch|instant|^at$", re.IGNORECASE)
_INPUT_WORDS = {"session", "flow", "token", "code", "identifier", "email", "password"}


@pytest.mark.req("OT-07")
def test_no_entry_point_that_takes_a_code_takes_a_time(cf: Credflow) -> None:
    """Every public method of the services a host calls with what a person typed (a session,
    a flow, a token, a code…) takes no time: codes are checked at the injected clock only."""
    services = ("mfa", "first_login", "recovery", "registration", "email_change", "sessions")
    checked = []
    for service in services:
        for name, method in inspect.getmembers(getattr(cf, service), inspect.ismethod):
            parameters = set(inspect.signature(method).parameters)
            if name.startswith("_") or not parameters & _INPUT_WORDS:
                continue
            checked.append(f"{service}.{name}")
            assert not [p for p in parameters if _TIME_WORDS.search(p)], f"{service}.{name}"
    assert {"mfa.verify", "mfa.confirm_totp", "first_login.confirm_totp"} <= set(checked)
    login = set(inspect.signature(cf.login).parameters)
    assert not [p for p in login if _TIME_WORDS.search(p)]


@pytest.mark.req("OT-07")
def test_a_code_right_by_the_wall_clock_is_refused_at_the_servers_time(cf: Credflow) -> None:
    """The facade's clock is ten minutes behind the wall clock: the code an authenticator
    shows right now is wrong for the server, and the code of the server's time is right."""
    clock(cf).set(datetime.now(UTC) - timedelta(minutes=10))
    account(cf)
    secret, _ = enrol_totp(cf)
    flow = mfa_flow(cf)
    wall = totp.code_at(secret, totp.step_at(time.time()))
    assert cf.mfa.verify(flow, wall).status is MfaStatus.REFUSED
    assert cf.mfa.verify(flow, code_now(cf, secret)).ok
