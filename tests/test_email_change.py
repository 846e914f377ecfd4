"""Email change (Sage): a code to the new address, applied once confirmed, a notice to the old."""

from __future__ import annotations

from typing import Any

import pytest
from tests.factories import clock, make_cf, outbox
from tests.test_login import GOOD, ready
from tests.test_registration import EMAIL, PASSWORD, last_code, other, register

from credflow.errors import ConcurrentUpdate, DuplicateIdentifier, InvalidEmail, InvalidInput
from credflow.facade import Credflow
from credflow.results import LoginStatus, RecoveryStatus, VerificationResult, VerificationStatus
from credflow.storage.records import AccountStatus, PasswordCredential, email_key
from credflow.tokens import TokenOutcome, nonce_hash

NEW = "nouvelle.adresse@example.fr"
V = VerificationStatus


def signed_in(cf: Credflow, email: str = EMAIL, **kwargs: Any) -> tuple[str, str]:
    """A verified account that registered with ``email``; returns its id and a session token."""
    result = register(cf, email, **kwargs)
    done = cf.registration.verify(result.flow or "", last_code(cf, email))
    assert done.account_id is not None
    login = cf.login(kwargs.get("identifier", email), PASSWORD)
    assert login.session is not None
    return done.account_id, login.session.token


def start(cf: Credflow, session: str, new: str = NEW, **kwargs: Any) -> VerificationResult:
    result = cf.email_change.start(session, new, password=PASSWORD, **kwargs)
    assert result.status is V.NEXT, result
    return result


# -- the happy path ---------------------------------------------------------------------------


@pytest.mark.req("EV-08", "SS-06")
def test_the_change_applies_only_once_the_new_address_confirms() -> None:
    cf = make_cf()
    account_id, session = signed_in(cf, identifier="adejoux")
    outbox(cf).clear()
    started = start(cf, session)
    assert (started.code, started.flow is not None) == ("email_change.code_sent", True)
    assert [(m.kind, m.recipient) for m in outbox(cf).messages] == [
        ("email_verification_code", NEW)
    ]
    assert cf.accounts.get(account_id).email == EMAIL  # unconfirmed: the old address stays
    done = cf.email_change.confirm(started.flow or "", last_code(cf, NEW))
    assert (done.status, done.code, done.account_id) == (
        V.COMPLETED,
        "email_change.completed",
        account_id,
    )
    account = cf.accounts.get(account_id)
    assert (account.email, account.email_key, account.identifier) == (NEW, NEW, "adejoux")
    notice = outbox(cf).last()
    assert notice is not None and (notice.kind, notice.recipient) == ("email_change_notice", EMAIL)
    assert dict(notice.params) == {"identifier": "adejoux", "new_email": NEW}
    types = [e.type for e in cf.storage.events(account_id=account_id)]
    assert types[-1] == "email_changed" and "email_change_requested" in types
    assert cf.sessions.validate(session) is not None  # the session carries on
    again = cf.email_change.confirm(started.flow or "", last_code(cf, NEW))
    assert again.status is V.INVALID


def test_an_identifier_that_was_the_address_follows_it() -> None:
    cf = make_cf()
    account_id, session = signed_in(cf)
    cf.email_change.confirm(start(cf, session).flow or "", last_code(cf, NEW))
    assert cf.accounts.get(account_id).identifier == NEW
    assert cf.login(NEW, PASSWORD).ok
    assert cf.login(EMAIL, PASSWORD).status is LoginStatus.DENIED


@pytest.mark.req("RS-05", "EV-08")
def test_outstanding_reset_links_become_void() -> None:
    cf = make_cf()
    account_id, session = signed_in(cf)
    account = cf.accounts.get(account_id)
    reset = cf.tokens.issue(account, "reset").token
    setup = cf.tokens.issue(account, "password_setup").token
    unlock = cf.tokens.issue(account, "unlock").token
    cf.email_change.confirm(start(cf, session).flow or "", last_code(cf, NEW))
    assert cf.tokens.check(reset, "reset").outcome is TokenOutcome.USED
    assert cf.tokens.check(setup, "password_setup").outcome is TokenOutcome.USED
    assert cf.tokens.check(unlock, "unlock").outcome is TokenOutcome.VALID


@pytest.mark.parametrize("change", [True, False])
def test_a_recovery_code_mailed_before_the_change_stops_working(change: bool) -> None:
    """A code sent to the old address must not finish a recovery once the address changed,
    just as a reset link sent there is voided; without a change the same code works."""
    cf = make_cf(recovery={"steps": ["email_code"]})
    _, session = signed_in(cf, identifier="adejoux")
    flow = cf.recovery.start("adejoux").flow or ""
    code = outbox(cf).last("reset_code").params["code"]  # type: ignore[union-attr]
    if change:
        cf.email_change.confirm(start(cf, session).flow or "", last_code(cf, NEW))
    result = cf.recovery.submit_code(flow, code)
    assert (result.code, result.step) == (
        ("recovery.code_wrong", "code_sent")
        if change
        else ("recovery.new_password", "new_password")
    )


@pytest.mark.parametrize("change", [True, False])
def test_a_reset_link_opened_before_the_change_cannot_finish(change: bool) -> None:
    """The link was opened from the old mailbox: once the owner moved address, the flow it
    started cannot set a password."""
    cf = make_cf(recovery={"steps": ["email_link"]})
    _, session = signed_in(cf, identifier="adejoux")
    cf.recovery.start("adejoux")
    link = outbox(cf).last("reset_link").params["link"]  # type: ignore[union-attr]
    opened = cf.recovery.open_link(link.split("token=")[1])
    assert opened.step == "new_password"
    if change:
        cf.email_change.confirm(start(cf, session).flow or "", last_code(cf, NEW))
    result = cf.recovery.set_password(opened.flow or "", "Vert2025-long", "Vert2025-long")
    assert result.status is (RecoveryStatus.INVALID if change else RecoveryStatus.COMPLETED)


@pytest.mark.parametrize("step", ["answer", "submit_code"])
def test_an_address_replaced_during_a_step_gets_nothing(step: str) -> None:
    """The email change lands between the step's read of the account and its transaction:
    the step re-reads the account there and mails nothing to the old address."""
    steps = ["security_question", "email_link"] if step == "answer" else ["email_code"]
    cf = make_cf(recovery={"steps": steps})
    account_id = ready(cf, "adejoux", email=EMAIL)
    session = cf.login("adejoux", GOOD).session
    assert session is not None
    changing = cf.email_change.start(session.token, NEW, password=GOOD).flow or ""
    confirmation = last_code(cf, NEW)
    flow = cf.recovery.start("adejoux").flow or ""
    mailed = outbox(cf).last("reset_code")
    real_load = cf.recovery._load

    def load_then_change(*args: Any) -> Any:
        loaded = real_load(*args)
        assert cf.email_change.confirm(changing, confirmation).ok
        return loaded

    cf.recovery._load = load_then_change  # type: ignore[method-assign]
    outbox(cf).clear()
    if step == "answer":
        result = cf.recovery.answer(flow, "bleu")
    else:
        assert mailed is not None
        result = cf.recovery.submit_code(flow, mailed.params["code"])
    assert result.status is RecoveryStatus.INVALID
    assert not [m for m in outbox(cf).messages if m.kind == "reset_link"]
    assert cf.accounts.get(account_id).email == NEW


def test_a_new_reset_goes_to_the_new_address() -> None:
    cf = make_cf(recovery={"steps": ["email_link"], "start_from": "email"})
    _, session = signed_in(cf)
    cf.email_change.confirm(start(cf, session).flow or "", last_code(cf, NEW))
    outbox(cf).clear()
    cf.recovery.start(EMAIL)
    cf.recovery.start(NEW)
    assert [(m.kind, m.recipient) for m in outbox(cf).messages] == [("reset_link", NEW)]


# -- wrong, expired and resent codes ---------------------------------------------------------


@pytest.mark.req("EV-05", "EV-08")
def test_wrong_codes_then_the_old_address_stays() -> None:
    cf = make_cf()
    account_id, session = signed_in(cf)
    started = start(cf, session)
    code = last_code(cf, NEW)
    outcomes = [cf.email_change.confirm(started.flow or "", other(code)) for _ in range(5)]
    assert [o.attempts_left for o in outcomes[:4]] == [4, 3, 2, 1]
    assert outcomes[0].code == "email_change.code_wrong"
    assert (outcomes[4].status, outcomes[4].code) == (V.FAILED, "email_change.failed")
    assert cf.email_change.confirm(started.flow or "", code).status is V.INVALID
    assert cf.accounts.get(account_id).email == EMAIL
    assert outbox(cf).last("email_change_notice") is None


@pytest.mark.req("EV-02")
@pytest.mark.parametrize(("seconds", "accepted"), [(600, True), (601, False)])
def test_the_code_lives_exactly_ten_minutes(seconds: int, accepted: bool) -> None:
    cf = make_cf()
    account_id, session = signed_in(cf)
    started = start(cf, session)
    clock(cf).advance(seconds)
    outcome = cf.email_change.confirm(started.flow or "", last_code(cf, NEW))
    assert outcome.status is (V.COMPLETED if accepted else V.EXPIRED)
    if not accepted:
        assert outcome.code == "email_change.code_expired"
        assert cf.accounts.get(account_id).email == EMAIL


@pytest.mark.req("EV-06")
def test_resend_voids_the_previous_code() -> None:
    cf = make_cf()
    _, session = signed_in(cf)
    started = start(cf, session)
    first = last_code(cf, NEW)
    resent = cf.email_change.resend(started.flow or "")
    assert (resent.status, resent.code) == (V.NEXT, "email_change.code_resent")
    second = last_code(cf, NEW)
    if second != first:
        assert cf.email_change.confirm(started.flow or "", first).attempts_left == 4
    assert cf.email_change.confirm(started.flow or "", second).status is V.COMPLETED


def test_mails_are_rate_limited_per_account() -> None:
    cf = make_cf()
    _, session = signed_in(cf)
    started = start(cf, session)
    statuses = [cf.email_change.resend(started.flow or "").status for _ in range(5)]
    assert statuses == [V.NEXT] * 4 + [V.REFUSED]  # five mails: the start and four resends
    refused = cf.email_change.start(session, "autre@example.fr", password=PASSWORD)
    assert (refused.status, refused.code) == (V.REFUSED, "email_change.too_many")
    clock(cf).advance(900)
    assert cf.email_change.resend(started.flow or "").status is V.NEXT


@pytest.mark.req("EV-04")
def test_a_code_proves_only_its_own_address() -> None:
    cf = make_cf()
    _, session = signed_in(cf)
    first = start(cf, session, "premiere@example.fr")
    code = last_code(cf, "premiere@example.fr")
    second = start(cf, session, "seconde@example.fr")
    assert cf.email_change.confirm(second.flow or "", code).status is not V.COMPLETED
    # A flow whose stored address was altered no longer accepts its own code either.
    record = cf.storage.get_flow(nonce_hash(first.flow or ""))
    assert record is not None
    cf.storage.advance_flow(
        record.model_copy(update={"data": {**record.data, "bound": email_key(NEW)}}),
        expected_state=record.state,
    )
    assert cf.email_change.confirm(first.flow or "", code).code == "email_change.code_wrong"


def test_a_registration_code_does_not_confirm_an_email_change() -> None:
    cf = make_cf()
    _, session = signed_in(cf)
    pending = register(cf, NEW)
    assert cf.email_change.confirm(pending.flow or "", last_code(cf, NEW)).status is V.INVALID
    started = start(cf, session)
    assert cf.registration.verify(started.flow or "", last_code(cf, NEW)).status is V.INVALID


# -- unique emails ---------------------------------------------------------------------------


@pytest.mark.parametrize("unique", [True, False])
def test_a_taken_address_is_refused_at_confirmation(unique: bool) -> None:
    cf = make_cf(unique_emails=unique)
    account_id, session = signed_in(cf, identifier="adejoux")
    started = start(cf, session)  # the address is free when the change starts
    code = last_code(cf, NEW)
    cf.accounts.create("pmartin", email=NEW, temporary=False)
    outcome = cf.email_change.confirm(started.flow or "", code)
    if not unique:
        assert outcome.status is V.COMPLETED
        return
    assert (outcome.status, outcome.code) == (V.REFUSED, "email_change.email_taken")
    assert cf.accounts.get(account_id).email == EMAIL
    assert outbox(cf).last("email_change_notice") is None
    assert cf.email_change.confirm(started.flow or "", code).status is V.INVALID


def test_an_unverified_registration_does_not_hold_the_address() -> None:
    cf = make_cf(unique_emails=True)
    account_id, session = signed_in(cf, identifier="adejoux")
    register(cf, NEW, identifier="squatter")
    cf.email_change.confirm(start(cf, session).flow or "", last_code(cf, NEW))
    assert cf.accounts.get(account_id).email == NEW


def test_an_identifier_in_the_way_refuses_even_without_unique_emails() -> None:
    cf = make_cf()
    account_id, session = signed_in(cf)  # the address is the identifier
    cf.accounts.create(NEW, temporary=False)  # another account's identifier is NEW
    outcome = cf.email_change.confirm(start(cf, session).flow or "", last_code(cf, NEW))
    assert outcome.code == "email_change.email_taken"
    assert cf.accounts.get(account_id).identifier == EMAIL


def test_confirmation_takes_the_email_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    cf = make_cf(unique_emails=True)
    _, session = signed_in(cf)
    started = start(cf, session, NEW.upper())
    locked: list[str] = []
    monkeypatch.setattr(cf.storage, "lock_email", locked.append)
    cf.email_change.confirm(started.flow or "", last_code(cf, NEW))
    assert locked == [NEW]


# -- who may change the address --------------------------------------------------------------


@pytest.mark.req("EV-08", "SS-05", "LK-07")
def test_the_current_password_is_asked_first() -> None:
    cf = make_cf()
    account_id, session = signed_in(cf)
    outbox(cf).clear()
    missing = cf.email_change.start(session, NEW)
    assert (missing.status, missing.code) == (V.REFUSED, "email_change.password_required")
    wrong = cf.email_change.start(session, NEW, password="Wrong2024x")
    assert (wrong.status, wrong.code) == (V.REFUSED, "email_change.password_wrong")
    assert cf.lockout.failures(account_id) == 1
    assert outbox(cf).messages == ()
    assert start(cf, session).status is V.NEXT


def test_a_locked_account_cannot_start(monkeypatch: pytest.MonkeyPatch) -> None:
    cf = make_cf()
    account_id, session = signed_in(cf)
    for _ in range(5):
        cf.email_change.start(session, NEW, password="Wrong2024x")
    assert cf.lockout.is_locked(cf.accounts.get(account_id))
    calls = cf.hasher.calls
    refused = cf.email_change.start(session, NEW, password=PASSWORD)
    assert refused.code == "email_change.password_wrong"
    assert cf.hasher.calls == calls + 1  # a dummy verify, not counted
    assert cf.lockout.failures(account_id) == 5


def test_sage_asks_only_for_the_new_address() -> None:
    cf = make_cf(registration={"email_change_reauthenticate": False})
    _, session = signed_in(cf)
    assert cf.email_change.start(session, NEW).status is V.NEXT


def test_an_over_long_password_is_refused_unhashed() -> None:
    cf = make_cf()
    _, session = signed_in(cf)
    calls = cf.hasher.calls
    assert cf.email_change.start(session, NEW, password="x" * 200).code == (
        "email_change.password_wrong"
    )
    assert cf.hasher.calls == calls


@pytest.mark.parametrize("session", ["", "nope", None])
def test_an_invalid_session_cannot_start(session: Any) -> None:
    cf = make_cf()
    outcome = cf.email_change.start(session, NEW, password=PASSWORD)
    assert (outcome.status, outcome.code) == (V.INVALID, "email_change.invalid")
    assert outbox(cf).messages == ()


def test_the_same_address_is_refused() -> None:
    cf = make_cf()
    _, session = signed_in(cf)
    outcome = cf.email_change.start(session, EMAIL, password=PASSWORD)
    assert (outcome.status, outcome.code) == (V.REFUSED, "email_change.same_address")


@pytest.mark.parametrize("bad", ["pas-une-adresse", "a@b", None, 42])
def test_a_malformed_address_raises_and_changes_nothing(bad: Any) -> None:
    cf = make_cf()
    account_id, session = signed_in(cf)
    events = len(cf.storage.events())
    with pytest.raises(InvalidEmail) as caught:
        cf.email_change.start(session, bad, password=PASSWORD)
    assert caught.value.field == "new_email"
    assert len(cf.storage.events()) == events
    assert cf.accounts.get(account_id).email == EMAIL


def test_a_password_of_the_wrong_type_raises() -> None:
    cf = make_cf()
    _, session = signed_in(cf)
    with pytest.raises(InvalidInput) as caught:
        cf.email_change.start(session, NEW, password=b"Bleu2024x")  # type: ignore[arg-type]
    assert caught.value.field == "password"


@pytest.mark.parametrize("bad", ["abcdef", "12345", "1234567", 123456])
def test_a_malformed_code_raises_and_changes_nothing(bad: Any) -> None:
    cf = make_cf()
    _, session = signed_in(cf)
    started = start(cf, session)
    before = cf.storage.get_flow(nonce_hash(started.flow or ""))
    with pytest.raises(InvalidInput) as caught:
        cf.email_change.confirm(started.flow or "", bad)
    assert caught.value.field == "code"
    assert cf.storage.get_flow(nonce_hash(started.flow or "")) == before


@pytest.mark.parametrize("change", ["password", "sign_out_everywhere", "disable"])
def test_a_credential_or_session_change_ends_a_pending_change(change: str) -> None:
    cf = make_cf()
    account_id, session = signed_in(cf)
    started = start(cf, session)
    if change == "password":
        cf.passwords.change(EMAIL, PASSWORD, "Rouge2025y", "Rouge2025y")
    elif change == "sign_out_everywhere":
        cf.sessions.revoke_all(account_id)
    else:
        cf.accounts.disable(account_id)
    code = last_code(cf, NEW)
    assert cf.email_change.confirm(started.flow or "", code).code == "email_change.invalid"
    assert cf.email_change.resend(started.flow or "").code == "email_change.invalid"
    assert cf.accounts.get(account_id).email == EMAIL


def test_the_flow_expires() -> None:
    cf = make_cf()
    account_id, session = signed_in(cf)
    started = start(cf, session)
    clock(cf).advance(901)
    outcome = cf.email_change.resend(started.flow or "")
    assert (outcome.status, outcome.code) == (V.EXPIRED, "email_change.expired")
    assert cf.accounts.get(account_id).status is AccountStatus.ACTIVE


@pytest.mark.req("DB-01")
@pytest.mark.parametrize("step", ["confirm", "resend"])
def test_a_step_that_loses_the_compare_and_set_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    cf = make_cf()
    account_id, session = signed_in(cf)
    started = start(cf, session)
    code = last_code(cf, NEW)

    def raced(*args: Any, **kwargs: Any) -> Any:
        raise ConcurrentUpdate("raced")

    monkeypatch.setattr(cf.storage, "advance_flow", raced)
    if step == "confirm":
        outcome = cf.email_change.confirm(started.flow or "", code)
    else:
        outcome = cf.email_change.resend(started.flow or "")
    assert (outcome.status, outcome.code) == (V.INVALID, "email_change.invalid")
    assert cf.accounts.get(account_id).email == EMAIL
    assert outbox(cf).last("email_change_notice") is None


def test_an_account_without_an_address_gets_one_and_no_notice() -> None:
    cf = make_cf(registration={"email_change_reauthenticate": False})
    created = cf.accounts.create("sansadresse", temporary=False)
    cf.storage.set_password(
        PasswordCredential(
            account_id=created.account.id, hash=cf.hasher.hash(PASSWORD), set_at=cf.clock.now()
        )
    )
    session = cf.login("sansadresse", PASSWORD).session
    assert session is not None
    outbox(cf).clear()
    started = cf.email_change.start(session.token, NEW)
    done = cf.email_change.confirm(started.flow or "", last_code(cf, NEW))
    assert done.status is V.COMPLETED
    account = cf.accounts.get(created.account.id)
    assert (account.identifier, account.email) == ("sansadresse", NEW)
    assert [m.kind for m in outbox(cf).messages] == ["email_verification_code"]


def test_an_identifier_taken_during_the_confirmation_refuses_and_keeps_the_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cf = make_cf()
    account_id, session = signed_in(cf)  # the address is the identifier: it will follow
    started = start(cf, session)

    def taken(account: Any) -> Any:
        raise DuplicateIdentifier("raced")

    monkeypatch.setattr(cf.storage, "update_account", taken)
    outcome = cf.email_change.confirm(started.flow or "", last_code(cf, NEW))
    assert (outcome.status, outcome.code) == (V.REFUSED, "email_change.email_taken")
    monkeypatch.undo()
    assert cf.accounts.get(account_id).email == EMAIL
    assert outbox(cf).last("email_change_notice") is None
