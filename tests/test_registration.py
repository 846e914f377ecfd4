"""Registration (Sage): register, the mailed code, resend, verify, existing addresses, purge."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from tests.factories import clock, make_cf, outbox

from credflow import registration as registration_module
from credflow.errors import (
    ConcurrentUpdate,
    DuplicateIdentifier,
    InvalidEmail,
    InvalidIdentifier,
    InvalidInput,
    UnsupportedLocale,
)
from credflow.facade import Credflow
from credflow.results import LoginStatus, VerificationResult, VerificationStatus
from credflow.storage.records import AccountStatus, FlowRecord, email_key
from credflow.tokens import nonce_hash

EMAIL = "a.dejoux@example.fr"
PASSWORD = "Bleu2024x"
V = VerificationStatus


def last_code(cf: Credflow, recipient: str = EMAIL) -> str:
    sent = [m for m in outbox(cf).for_recipient(recipient) if m.kind == "email_verification_code"]
    assert sent, "no code was mailed"
    return sent[-1].params["code"]


def other(code: str) -> str:
    """A well-formed code that is not ``code``."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def register(cf: Credflow, email: str = EMAIL, **kwargs: Any) -> VerificationResult:
    result = cf.registration.register(email, PASSWORD, PASSWORD, **kwargs)
    assert result.status is V.NEXT, result
    assert result.flow is not None
    return result


def flow_record(cf: Credflow, flow: str | None) -> FlowRecord | None:
    return cf.storage.get_flow(nonce_hash(flow or ""))


def event_types(cf: Credflow) -> list[str]:
    return [e.type for e in cf.storage.events()]


def nothing_stored(cf: Credflow) -> None:
    assert cf.storage.list_accounts() == []
    assert cf.storage.events() == []
    assert outbox(cf).messages == ()


# -- the happy path ---------------------------------------------------------------------------


@pytest.mark.req("EV-01", "EV-07")
def test_register_creates_a_pending_account_and_mails_a_code() -> None:
    cf = make_cf()
    result = register(cf)
    assert (result.code, result.session, result.account_id) == (
        "registration.code_sent",
        None,
        None,
    )
    assert result.message.startswith("Nous vous avons envoyé un courriel.")
    assert result.flow is not None and len(result.flow) >= 43  # 256 random bits
    [account] = cf.storage.list_accounts()
    assert (account.identifier, account.email, account.status) == (
        EMAIL,
        EMAIL,
        AccountStatus.PENDING_VERIFICATION,
    )
    credential = cf.storage.get_password(account.id)
    assert credential is not None and not credential.temporary and credential.expires_at is None
    assert cf.hasher.verify(credential.hash, PASSWORD).ok
    message = outbox(cf).last()
    assert message is not None and message.kind == "email_verification_code"
    assert message.recipient == EMAIL and message.params["expires_minutes"] == "10"
    code = message.params["code"]
    assert re.fullmatch(r"\d{6}", code)
    assert code not in repr(message)  # the code is masked in logs (secret_params)
    record = flow_record(cf, result.flow)
    assert record is not None and record.account_id == account.id
    assert code not in str(record.data) and record.data["attempts"] == 5
    assert event_types(cf) == ["registration_started"]


@pytest.mark.req("EV-03", "SS-06")
def test_verify_activates_the_account_once() -> None:
    cf = make_cf()
    result = register(cf)
    done = cf.registration.verify(result.flow or "", last_code(cf))
    assert (done.status, done.code, done.session) == (V.COMPLETED, "registration.verified", None)
    assert done.ok and done.account_id is not None
    assert cf.accounts.get(done.account_id).status is AccountStatus.ACTIVE
    assert flow_record(cf, result.flow) is None  # the flow is single-use
    again = cf.registration.verify(result.flow or "", last_code(cf))
    assert (again.status, again.code) == (V.INVALID, "registration.invalid")
    assert "account_verified" in event_types(cf)
    assert cf.login(EMAIL, PASSWORD).status is LoginStatus.AUTHENTICATED


def test_a_separate_identifier_is_the_login() -> None:
    cf = make_cf()
    result = register(cf, identifier="adejoux")
    [account] = cf.storage.list_accounts()
    assert (account.identifier, account.email) == ("adejoux", EMAIL)
    cf.registration.verify(result.flow or "", last_code(cf))
    assert cf.login("ADEJOUX", PASSWORD).ok
    assert cf.login(EMAIL, PASSWORD).status is LoginStatus.DENIED


@pytest.mark.req("SS-02")
def test_login_after_verification_issues_a_session() -> None:
    cf = make_cf(registration={"login_after_verification": True})
    result = register(cf)
    done = cf.registration.verify(result.flow or "", last_code(cf))
    assert done.status is V.COMPLETED and done.session is not None
    account = cf.sessions.validate(done.session.token)
    assert account is not None and account.id == done.account_id
    assert event_types(cf)[-3:] == ["account_verified", "login_succeeded", "session_issued"]


@pytest.mark.parametrize("mfa", ["required", "enrolled"])
def test_login_after_verification_never_skips_a_second_factor(mfa: str) -> None:
    overrides: dict[str, Any] = {"registration": {"login_after_verification": True}}
    if mfa == "required":
        overrides["mfa"] = {"required": True}
    cf = make_cf(**overrides)
    if mfa == "enrolled":
        cf._login.second_factor = lambda account: True
    done = cf.registration.verify(register(cf).flow or "", last_code(cf))
    assert done.status is V.COMPLETED and done.session is None


@pytest.mark.req("LK-09")
def test_pending_accounts_never_get_a_session() -> None:
    cf = make_cf()
    register(cf)
    denied = cf.login(EMAIL, PASSWORD)
    assert (denied.status, denied.session, denied.flow) == (LoginStatus.DENIED, None, None)
    last = cf.storage.events()[-1]
    assert (last.type, last.details["reason"]) == ("login_failed", "account_not_active")
    assert denied == cf.login(EMAIL, "Wrong2024x")  # the right password tells nothing more


def test_english_messages() -> None:
    cf = make_cf()
    result = register(cf, locale="en-GB")
    assert result.message.startswith("We have sent you an email.")
    wrong = cf.registration.verify(result.flow or "", other(last_code(cf)), locale="en")
    assert wrong.message == "Wrong code. You have 4 tries left."
    with pytest.raises(UnsupportedLocale):
        cf.registration.register(EMAIL, PASSWORD, PASSWORD, locale="de")


# -- refusals and bad input ------------------------------------------------------------------


@pytest.mark.req("PW-09")
def test_a_weak_password_is_refused_with_the_checklist_and_nothing_stored() -> None:
    cf = make_cf()
    refused = cf.registration.register(EMAIL, "bleu", "bleu")
    assert (refused.status, refused.code, refused.flow) == (
        V.REFUSED,
        "password.policy_not_met",
        None,
    )
    codes = {f.code for f in refused.failures}
    assert {"min_length", "uppercase", "digit"} <= codes
    nothing_stored(cf)
    assert cf.hasher.calls == 0  # nothing hashed for a refused password


@pytest.mark.req("PW-11")
def test_the_policy_sees_the_identifier_and_the_email() -> None:
    cf = make_cf()
    refused = cf.registration.register(EMAIL, "Adejoux2024", "Adejoux2024", identifier="adejoux")
    assert "not_identifier" in {f.code for f in refused.failures}
    nothing_stored(cf)


def test_a_confirmation_that_differs_is_refused() -> None:
    cf = make_cf()
    refused = cf.registration.register(EMAIL, PASSWORD, PASSWORD + "x")
    assert (refused.status, refused.code) == (V.REFUSED, "password.confirmation_differs")
    nothing_stored(cf)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "field"),
    [
        (("not-an-email", PASSWORD, PASSWORD), {}, InvalidEmail, "email"),
        (("a@b", PASSWORD, PASSWORD), {}, InvalidEmail, "email"),
        ((None, PASSWORD, PASSWORD), {}, InvalidEmail, "email"),
        ((EMAIL, PASSWORD, PASSWORD), {"identifier": " adejoux"}, InvalidIdentifier, "identifier"),
        ((EMAIL, PASSWORD, PASSWORD), {"identifier": ""}, InvalidIdentifier, "identifier"),
        ((EMAIL, None, PASSWORD), {}, InvalidInput, "password"),
        ((EMAIL, PASSWORD, b"Bleu2024x"), {}, InvalidInput, "confirm"),
    ],
)
def test_bad_input_raises_a_typed_error_and_stores_nothing(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], field: str
) -> None:
    cf = make_cf()
    with pytest.raises(error) as caught:
        cf.registration.register(*args, **kwargs)
    assert isinstance(caught.value, InvalidInput) and caught.value.field == field
    assert PASSWORD not in str(caught.value)
    nothing_stored(cf)


@pytest.mark.req("EV-05")
@pytest.mark.parametrize("bad", ["12345a", "1234567", "12345", "", "١٢٣٤٥٦", 123456, None])
def test_a_malformed_code_raises_and_changes_nothing(bad: Any) -> None:
    cf = make_cf()
    result = register(cf)
    before = (flow_record(cf, result.flow), len(cf.storage.events()), outbox(cf).messages)
    with pytest.raises(InvalidInput) as caught:
        cf.registration.verify(result.flow or "", bad)
    assert caught.value.field == "code"
    assert (flow_record(cf, result.flow), len(cf.storage.events()), outbox(cf).messages) == before
    assert cf.registration.verify(result.flow or "", f" {last_code(cf)} ").ok  # spaces are fine


def test_a_separate_identifier_that_is_taken_is_refused_openly() -> None:
    cf = make_cf()
    cf.accounts.create("adejoux", email="autre@example.fr", temporary=False)
    outbox(cf).clear()
    refused = cf.registration.register(EMAIL, PASSWORD, PASSWORD, identifier="ADejoux")
    assert (refused.status, refused.code, refused.flow) == (
        V.REFUSED,
        "registration.identifier_taken",
        None,
    )
    assert len(cf.storage.list_accounts()) == 1
    assert outbox(cf).messages == ()


def test_registration_can_be_closed() -> None:
    cf = make_cf(registration={"enabled": False})
    refused = cf.registration.register(EMAIL, PASSWORD, PASSWORD)
    assert (refused.status, refused.code) == (V.REFUSED, "registration.disabled")
    nothing_stored(cf)


@pytest.mark.parametrize("flow", ["", "nope", None, 42])
def test_unknown_flows_are_invalid(flow: Any) -> None:
    cf = make_cf()
    assert cf.registration.verify(flow, "123456").status is V.INVALID
    assert cf.registration.resend(flow).status is V.INVALID


def test_a_flow_of_another_kind_is_invalid() -> None:
    cf = make_cf()
    created = cf.accounts.create("adejoux", email=EMAIL)
    login = cf.login("adejoux", created.temporary_password or "")
    assert login.flow is not None
    assert cf.registration.verify(login.flow, "123456").code == "registration.invalid"


# -- codes: expiry, tries, resend ------------------------------------------------------------


@pytest.mark.req("EV-02")
@pytest.mark.parametrize(("seconds", "accepted"), [(600, True), (601, False)])
def test_the_code_lives_exactly_ten_minutes(seconds: int, accepted: bool) -> None:
    cf = make_cf()
    result = register(cf)
    clock(cf).advance(seconds)
    outcome = cf.registration.verify(result.flow or "", last_code(cf))
    if accepted:
        assert outcome.status is V.COMPLETED
        return
    assert (outcome.status, outcome.code, outcome.flow) == (
        V.EXPIRED,
        "registration.code_expired",
        result.flow,
    )
    record = flow_record(cf, result.flow)
    assert record is not None and record.data["attempts"] == 5  # an expired code costs no try
    assert cf.registration.resend(result.flow or "").status is V.NEXT
    assert cf.registration.verify(result.flow or "", last_code(cf)).status is V.COMPLETED


@pytest.mark.req("EV-05")
def test_five_tries_then_the_flow_ends() -> None:
    cf = make_cf()
    result = register(cf)
    code = last_code(cf)
    outcomes = [cf.registration.verify(result.flow or "", other(code)) for _ in range(5)]
    assert [o.attempts_left for o in outcomes[:4]] == [4, 3, 2, 1]
    assert {o.code for o in outcomes[:4]} == {"registration.code_wrong"}
    assert outcomes[3].message == "Code incorrect. Il vous reste 1 essai."
    assert (outcomes[4].status, outcomes[4].code) == (V.FAILED, "registration.failed")
    assert flow_record(cf, result.flow) is None
    assert cf.registration.verify(result.flow or "", code).status is V.INVALID
    [account] = cf.storage.list_accounts()
    assert account.status is AccountStatus.PENDING_VERIFICATION  # purged later


@pytest.mark.req("EV-06", "EV-05")
def test_resend_voids_the_previous_code_and_tries_carry_over() -> None:
    cf = make_cf()
    result = register(cf)
    first = last_code(cf)
    cf.registration.verify(result.flow or "", other(first))
    resent = cf.registration.resend(result.flow or "")
    assert (resent.status, resent.code, resent.flow) == (
        V.NEXT,
        "registration.code_resent",
        result.flow,
    )
    second = last_code(cf)
    if second != first:  # one chance in a million that the new code is the old one
        wrong = cf.registration.verify(result.flow or "", first)
        assert (wrong.code, wrong.attempts_left) == ("registration.code_wrong", 3)
    assert cf.registration.verify(result.flow or "", second).status is V.COMPLETED


def test_resends_are_rate_limited_per_address() -> None:
    cf = make_cf()
    result = register(cf)  # the first of five mails in the window
    resends = [cf.registration.resend(result.flow or "") for _ in range(5)]
    assert [r.status for r in resends] == [V.NEXT] * 4 + [V.REFUSED]
    assert (resends[4].code, resends[4].flow) == ("registration.too_many", result.flow)
    assert len(outbox(cf).messages) == 5
    clock(cf).advance(900)
    assert cf.registration.resend(result.flow or "").status is V.NEXT
    assert cf.registration.verify(result.flow or "", last_code(cf)).ok


def test_registrations_are_rate_limited_per_address() -> None:
    cf = make_cf()
    for _ in range(5):
        register(cf, EMAIL.upper() if _ % 2 else EMAIL)
    refused = cf.registration.register(EMAIL, PASSWORD, PASSWORD)
    assert (refused.status, refused.code) == (V.REFUSED, "registration.too_many")
    assert len(cf.storage.list_accounts()) == 1
    assert len(outbox(cf).messages) == 5


def test_the_flow_itself_expires() -> None:
    cf = make_cf()
    result = register(cf)
    clock(cf).advance(901)  # lifetimes.flow
    expired = cf.registration.verify(result.flow or "", last_code(cf))
    assert (expired.status, expired.code) == (V.EXPIRED, "registration.expired")
    assert flow_record(cf, result.flow) is None
    assert cf.registration.resend(result.flow or "").status is V.INVALID


def test_a_resend_keeps_the_flow_alive() -> None:
    cf = make_cf()
    result = register(cf)
    clock(cf).advance(800)
    cf.registration.resend(result.flow or "")
    clock(cf).advance(500)  # past the first 900 s, within the new code's 600 s
    assert cf.registration.verify(result.flow or "", last_code(cf)).status is V.COMPLETED


# -- an address that already has an account --------------------------------------------------


def _shape(result: VerificationResult) -> tuple[Any, ...]:
    flow = result.flow or ""
    return (
        result.status,
        result.code,
        result.message,
        result.attempts_left,
        result.failures,
        result.account_id,
        result.session,
        len(flow),
        bool(re.fullmatch(r"[A-Za-z0-9_-]+", flow)),
    )


@pytest.mark.req("LK-09", "LK-10", "RS-01", "RS-02", "RS-16")
def test_an_existing_address_gets_the_same_answer_and_the_same_work() -> None:
    cf = make_cf()
    cf.accounts.create("pmartin", email="P.Martin@example.fr", temporary=False)
    outbox(cf).clear()
    calls = cf.hasher.calls
    new = register(cf, "nouveau@example.fr")
    new_calls, calls = cf.hasher.calls - calls, cf.hasher.calls
    known = register(cf, "p.martin@EXAMPLE.fr")
    assert cf.hasher.calls - calls == new_calls == 1
    assert _shape(known) == _shape(new)
    assert [(m.kind, m.recipient) for m in outbox(cf).messages] == [
        ("email_verification_code", "nouveau@example.fr"),
        ("account_exists", "P.Martin@example.fr"),  # the stored address (RS-16)
    ]
    mail = outbox(cf).last("account_exists")
    assert mail is not None and mail.params["login_url"] == "https://portal.example.fr/"
    assert len(cf.storage.list_accounts()) == 2  # no new account for the known address
    # Every later step looks the same too: a wrong code, a resend, the last try.
    for flow_of, wrong_code in (
        (new, lambda: other(last_code(cf, "nouveau@example.fr"))),
        (known, lambda: "000000"),
    ):
        flow = flow_of.flow or ""
        wrong = cf.registration.verify(flow, wrong_code())
        assert (wrong.status, wrong.code, wrong.attempts_left) == (
            V.REFUSED,
            "registration.code_wrong",
            4,
        )
        assert cf.registration.resend(flow).code == "registration.code_resent"
        for _ in range(3):
            cf.registration.verify(flow, wrong_code())
        assert cf.registration.verify(flow, wrong_code()).status is V.FAILED
    assert outbox(cf).last().kind == "account_exists"  # the resend told the owner again
    assert cf.accounts.find("pmartin").status is AccountStatus.ACTIVE  # type: ignore[union-attr]


def test_the_decoy_flow_never_verifies(monkeypatch: pytest.MonkeyPatch) -> None:
    cf = make_cf()
    cf.accounts.create("pmartin", email=EMAIL, temporary=False)
    known = register(cf)
    record = flow_record(cf, known.flow)
    assert record is not None and record.account_id is None
    # Even a code that matched its HMAC would be refused: no account stands behind the flow.
    monkeypatch.setattr(cf.registration._flows, "matches", lambda record, code: True)
    outcome = cf.registration.verify(known.flow or "", "123456")
    assert (outcome.status, outcome.code) == (V.REFUSED, "registration.code_wrong")


def test_an_identifier_that_is_the_email_counts_as_the_address() -> None:
    cf = make_cf()
    cf.accounts.create(EMAIL, email="ailleurs@example.fr", temporary=False)
    outbox(cf).clear()
    result = register(cf)
    assert result.code == "registration.code_sent"
    assert [(m.kind, m.recipient) for m in outbox(cf).messages] == [("account_exists", EMAIL)]
    assert len(cf.storage.list_accounts()) == 1


def test_registering_again_replaces_an_unverified_account() -> None:
    cf = make_cf()
    first = register(cf)
    first_id = cf.storage.list_accounts()[0].id
    second = cf.registration.register(EMAIL, "Rouge2025y", "Rouge2025y", identifier="adejoux")
    assert second.status is V.NEXT
    [account] = cf.storage.list_accounts()
    assert account.id != first_id and account.identifier == "adejoux"
    assert cf.registration.verify(first.flow or "", last_code(cf)).status is V.INVALID
    assert cf.registration.verify(second.flow or "", last_code(cf)).status is V.COMPLETED
    assert cf.login("adejoux", "Rouge2025y").ok
    assert "unverified_account_replaced" in event_types(cf)


def test_an_unverified_identifier_of_another_address_stays_taken() -> None:
    cf = make_cf()
    register(cf, identifier="adejoux")
    refused = cf.registration.register("autre@example.fr", PASSWORD, PASSWORD, identifier="adejoux")
    assert refused.code == "registration.identifier_taken"


# -- unique emails ---------------------------------------------------------------------------


@pytest.mark.parametrize("unique", [True, False])
def test_verification_checks_the_address_when_emails_are_unique(unique: bool) -> None:
    cf = make_cf(unique_emails=unique)
    result = register(cf, identifier="adejoux")
    code = last_code(cf)
    # Meanwhile an administrator creates an account with the same address.
    cf.accounts.create("admin-made", email=EMAIL.upper(), temporary=False)
    outcome = cf.registration.verify(result.flow or "", code)
    if not unique:
        assert outcome.status is V.COMPLETED
        return
    assert (outcome.status, outcome.code) == (V.REFUSED, "registration.email_taken")
    assert [a.identifier for a in cf.storage.list_accounts()] == ["admin-made"]
    assert flow_record(cf, result.flow) is None


def test_verification_takes_the_email_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    cf = make_cf(unique_emails=True)
    result = register(cf)
    locked: list[str] = []
    monkeypatch.setattr(cf.storage, "lock_email", locked.append)
    cf.registration.verify(result.flow or "", last_code(cf))
    assert locked == [email_key(EMAIL)]


# -- unverified accounts expire --------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "purged"), [(3_600, 0), (3_601, 1)])
def test_purge_at_the_ttl_boundary(seconds: int, purged: int) -> None:
    cf = make_cf(registration={"unverified_ttl": 3_600})
    register(cf)
    verified = register(cf, "verifie@example.fr")
    cf.registration.verify(verified.flow or "", last_code(cf, "verifie@example.fr"))
    clock(cf).advance(seconds)
    assert cf.registration.purge_unverified() == purged
    assert len(cf.storage.list_accounts()) == 2 - purged
    assert event_types(cf).count("unverified_account_purged") == purged


def test_purge_pages_through_every_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registration_module, "_PAGE", 2)
    cf = make_cf()
    for i in range(7):
        register(cf, f"user{i}@example.fr")
    keep = register(cf, "garde@example.fr")
    cf.registration.verify(keep.flow or "", last_code(cf, "garde@example.fr"))
    clock(cf).advance(7 * 86_400 + 1)
    assert cf.registration.purge_unverified() == 7
    assert [a.email for a in cf.storage.list_accounts()] == ["garde@example.fr"]
    assert cf.registration.purge_unverified() == 0


def test_purge_skips_an_account_verified_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    cf = make_cf()
    register(cf)
    clock(cf).advance(7 * 86_400 + 1)
    listed = cf.storage.list_accounts()  # the page the purge reads: still pending there
    cf.storage.update_account(listed[0].model_copy(update={"status": AccountStatus.ACTIVE}))

    def stale_page(*, after: str | None = None, limit: int = 100) -> list[Any]:
        return listed if after is None else []

    monkeypatch.setattr(cf.storage, "list_accounts", stale_page)
    assert cf.registration.purge_unverified() == 0
    assert cf.storage.get_account(listed[0].id) is not None


@pytest.mark.parametrize(("seconds", "status"), [(3_600, V.COMPLETED), (3_601, V.EXPIRED)])
def test_verify_refuses_after_the_ttl_even_before_the_purge(
    seconds: int, status: VerificationStatus
) -> None:
    cf = make_cf(registration={"unverified_ttl": 3_600}, lifetimes={"flow": 86_400})
    result = register(cf)
    clock(cf).advance(seconds - 60)
    cf.registration.resend(result.flow or "")  # a fresh code: only the account's age counts
    clock(cf).advance(60)
    outcome = cf.registration.verify(result.flow or "", last_code(cf))
    assert outcome.status is status
    if status is V.EXPIRED:
        assert outcome.code == "registration.expired"
        [account] = cf.storage.list_accounts()
        assert account.status is AccountStatus.PENDING_VERIFICATION


def test_an_account_changed_under_the_flow_never_verifies() -> None:
    cf = make_cf()
    result = register(cf)
    [account] = cf.storage.list_accounts()
    cf.storage.update_account(account.model_copy(update={"status": AccountStatus.DISABLED}))
    outcome = cf.registration.verify(result.flow or "", last_code(cf))
    assert outcome.code == "registration.code_wrong"
    cf.accounts.delete(account.id)
    assert cf.registration.verify(result.flow or "", last_code(cf)).status is V.INVALID


# -- secrets ---------------------------------------------------------------------------------


@pytest.mark.req("EV-07", "SS-06", "TP-05")
def test_no_secret_in_storage_events_reprs_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cf = make_cf(registration={"login_after_verification": True})
    result = register(cf)
    code = last_code(cf)
    wrong = cf.registration.verify(result.flow or "", other(code))
    done = cf.registration.verify(result.flow or "", code)
    assert done.session is not None
    storage: Any = cf.storage
    dump = repr(vars(storage))
    surfaces = [
        dump,
        repr(result),
        repr(wrong),
        repr(done),
        repr(outbox(cf).messages),
        repr(cf.storage.events()),
        caplog.text,
    ]
    for secret in (PASSWORD, code, result.flow or "", done.session.token):
        for surface in surfaces:
            assert secret not in surface


# -- races replayed one step at a time -------------------------------------------------------


def _lose_once(monkeypatch: pytest.MonkeyPatch, cf: Credflow, name: str, error: Exception) -> None:
    """The next call of ``storage.<name>`` raises ``error``, as when another server won."""
    real = getattr(cf.storage, name)
    calls = []

    def once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(cf.storage, name, once)


@pytest.mark.req("DB-01")
@pytest.mark.parametrize("step", ["verify", "resend"])
def test_a_step_that_loses_the_compare_and_set_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    cf = make_cf()
    result = register(cf)
    before = flow_record(cf, result.flow)
    mails = len(outbox(cf).messages)
    _lose_once(monkeypatch, cf, "advance_flow", ConcurrentUpdate("raced"))
    if step == "verify":
        outcome = cf.registration.verify(result.flow or "", last_code(cf))
    else:
        outcome = cf.registration.resend(result.flow or "")
    assert (outcome.status, outcome.code) == (V.INVALID, "registration.invalid")
    assert flow_record(cf, result.flow) == before
    assert len(outbox(cf).messages) == mails
    assert cf.storage.list_accounts()[0].status is AccountStatus.PENDING_VERIFICATION


def test_a_registration_that_loses_the_identifier_race_tries_once_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cf = make_cf()
    _lose_once(monkeypatch, cf, "create_account", DuplicateIdentifier("raced"))
    assert register(cf).code == "registration.code_sent"
    assert len(cf.storage.list_accounts()) == 1
    assert len(outbox(cf).messages) == 1  # the lost attempt mailed nothing


def test_a_registration_that_loses_twice_is_told_the_identifier_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cf = make_cf()

    def taken(account: Any) -> None:
        raise DuplicateIdentifier("raced")

    monkeypatch.setattr(cf.storage, "create_account", taken)
    refused = cf.registration.register(EMAIL, PASSWORD, PASSWORD, identifier="adejoux")
    assert (refused.status, refused.code) == (V.REFUSED, "registration.identifier_taken")
    nothing_stored(cf)
