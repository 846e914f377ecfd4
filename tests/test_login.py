"""cf.login: statuses, enumeration resistance, temporary passwords, expiry, rehash, lockout."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.factories import clock, make_cf, outbox

from credflow import hashing
from credflow.facade import Credflow
from credflow.hashing import Hasher
from credflow.results import LoginResult, LoginStatus, StepStatus
from credflow.storage.records import AccountStatus, RequiredAction

GOOD = "Bleu2024x"


def ready(cf: Credflow, identifier: str = "adejoux", email: str | None = None) -> str:
    """An account past its first login, with password GOOD; returns its id."""
    created = cf.accounts.create(identifier, email=email or f"{identifier}@example.fr")
    assert created.temporary_password is not None
    flow = cf.login(identifier, created.temporary_password).flow or ""
    step = cf.first_login.change_password(flow, GOOD, GOOD)
    if step.status is StepStatus.REAUTHENTICATE:
        flow = cf.login(identifier, GOOD).flow or ""
    else:
        assert step.status is StepStatus.NEXT
    step = cf.first_login.enroll_question(flow, "Ma couleur préférée ?", "bleu")
    assert step.status is StepStatus.COMPLETED
    return created.account.id


@pytest.fixture
def cf() -> Credflow:
    return make_cf()


def test_authenticated_with_a_session(cf: Credflow) -> None:
    account_id = ready(cf)
    result = cf.login("adejoux", GOOD)
    assert result.status is LoginStatus.AUTHENTICATED and result.ok
    assert result.session is not None
    assert cf.sessions.validate(result.session.token) is not None
    assert result.message == "Vous êtes connecté."
    assert cf.login("adejoux", GOOD, locale="en").message == "You are signed in."
    assert cf.storage.events(account_id=account_id)[-2].type == "login_succeeded"


@pytest.mark.req("TP-02", "TP-03")
def test_temporary_password_gives_only_change_password(cf: Credflow) -> None:
    created = cf.accounts.create("adejoux")
    assert created.temporary_password is not None
    result = cf.login("adejoux", created.temporary_password)
    assert result.status is LoginStatus.ACTION_REQUIRED
    assert result.action is RequiredAction.CHANGE_PASSWORD
    assert result.message == "Votre mot de passe a expiré. Veuillez changer de mot de passe."
    assert result.session is None and result.flow is not None
    assert result.flow not in repr(result)
    # The restricted flow can only change the password: enrolling a question is refused.
    wrong_step = cf.first_login.enroll_question(result.flow, "Ma couleur ?", "bleu clair")
    assert wrong_step.status is StepStatus.INVALID
    assert cf.storage.get_question(created.account.id) is None


@pytest.mark.req("TP-02")
def test_expired_temporary_password_is_denied(cf: Credflow) -> None:
    created = cf.accounts.create("adejoux")
    assert created.temporary_password is not None
    clock(cf).advance(24 * 3600)
    assert cf.login("adejoux", created.temporary_password).status is LoginStatus.ACTION_REQUIRED
    clock(cf).advance(1)
    assert cf.login("adejoux", created.temporary_password).status is LoginStatus.DENIED
    reasons = [e.details.get("reason") for e in cf.storage.events() if e.type == "login_failed"]
    assert reasons == ["temporary_password_expired"]


@pytest.mark.req("TP-02")
def test_temporary_password_stops_working_once_changed(cf: Credflow) -> None:
    created = cf.accounts.create("adejoux")
    assert created.temporary_password is not None
    ready_flow = cf.login("adejoux", created.temporary_password).flow
    assert cf.first_login.change_password(ready_flow or "", GOOD, GOOD).ok
    assert cf.login("adejoux", created.temporary_password).status is LoginStatus.DENIED


@pytest.mark.req("LK-09", "LK-10")
def test_every_denial_is_identical_and_costs_one_verify() -> None:
    cf = make_cf()
    ready(cf, "known")
    ready(cf, "locked")
    disabled = ready(cf, "disabled")
    pending = cf.accounts.create("pending", status=AccountStatus.PENDING_APPROVAL)
    assert pending.temporary_password is not None
    cf.accounts.disable(disabled)
    for _ in range(5):
        cf.login("locked", "wrong-password")
    cases = {
        "unknown": ("nobody", GOOD),
        "wrong password": ("known", "wrong-password"),
        "locked, right password": ("locked", GOOD),
        "disabled, right password": ("disabled", GOOD),
        "pending, right password": ("pending", pending.temporary_password),
        "bad identifier": ("\x00bad", GOOD),
        "oversized password": ("known", "x" * 5000),
        "oversized, unknown": ("nobody", "x" * 5000),
        "oversized, locked": ("locked", "y" * 200),
    }
    results: dict[str, LoginResult] = {}
    for name, (identifier, password) in cases.items():
        before = cf.hasher.calls
        results[name] = cf.login(identifier, password)
        calls = cf.hasher.calls - before
        expected = 0 if name.startswith("oversized") else 1  # PW-03: refused before hashing
        assert calls == expected, name
    reference = results["unknown"]
    assert reference.status is LoginStatus.DENIED
    assert reference.message == "Identifiant ou mot de passe incorrect."
    for result in results.values():
        assert result == reference
    reasons = {e.details["reason"] for e in cf.storage.events() if e.type == "login_failed"}
    assert {"unknown_account", "wrong_password", "account_locked", "account_not_active"} <= reasons


def test_non_str_input_is_a_type_error(cf: Credflow) -> None:
    with pytest.raises(TypeError):
        cf.login(None, GOOD)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cf.login("adejoux", b"bytes")  # type: ignore[arg-type]


@pytest.mark.req("PW-14")
def test_no_expiry_by_default_even_after_ten_years(cf: Credflow) -> None:
    ready(cf)
    clock(cf).advance(10 * 365 * 86400)
    assert cf.login("adejoux", GOOD).status is LoginStatus.AUTHENTICATED


@pytest.mark.req("PW-14")
def test_optional_maximum_age_requires_a_change() -> None:
    cf = make_cf(password_max_age=90 * 86400)
    ready(cf)
    clock(cf).advance(90 * 86400)
    assert cf.login("adejoux", GOOD).status is LoginStatus.AUTHENTICATED
    clock(cf).advance(1)
    result = cf.login("adejoux", GOOD)
    assert result.status is LoginStatus.ACTION_REQUIRED
    assert result.action is RequiredAction.CHANGE_PASSWORD


@pytest.mark.req("PW-14")
def test_mark_compromised_forces_a_change(cf: Credflow) -> None:
    account_id = ready(cf)
    cf.accounts.require_actions([account_id], [RequiredAction.CHANGE_PASSWORD])
    result = cf.login("adejoux", GOOD)
    assert result.action is RequiredAction.CHANGE_PASSWORD
    assert result.session is None


@pytest.mark.req("ST-06")
def test_rehash_on_login_when_parameters_changed() -> None:
    cf = make_cf()
    account_id = ready(cf)
    stronger = Credflow(
        storage=cf.storage,
        settings=cf.settings,
        clock=cf.clock,
        hasher=Hasher(hashing.OWASP_MINIMUM, max_concurrent=1),
    )
    assert stronger.login("adejoux", GOOD).ok
    credential = cf.storage.get_password(account_id)
    assert credential is not None and "m=19456,t=2,p=1" in credential.hash
    assert stronger.login("adejoux", GOOD).ok


@pytest.mark.req("LK-03", "LK-04", "LK-05")
def test_lock_after_five_failures_with_exact_timing(cf: Credflow) -> None:
    account_id = ready(cf)
    for attempt in range(1, 5):
        assert cf.login("adejoux", "nope").status is LoginStatus.DENIED
        assert cf.lockout.failures(account_id) == attempt
    cf.login("adejoux", "nope")
    account = cf.accounts.get(account_id)
    assert account.locked_until == clock(cf).now() + timedelta(seconds=60)
    # While locked: the right password is refused and attempts do not count (LK-04).
    assert cf.login("adejoux", GOOD).status is LoginStatus.DENIED
    cf.login("adejoux", "nope")
    assert cf.lockout.failures(account_id) == 5
    clock(cf).advance(60)  # exactly at the limit: still locked
    assert cf.login("adejoux", GOOD).status is LoginStatus.DENIED
    clock(cf).advance(1)  # one second past: open again
    assert cf.login("adejoux", GOOD).ok
    assert cf.lockout.failures(account_id) == 0  # LK-05: success resets


@pytest.mark.req("LK-03")
def test_wait_doubles_on_each_further_lock_and_resets_after_success(cf: Credflow) -> None:
    account_id = ready(cf)
    waits = []
    for _ in range(4):
        while not cf.lockout.is_locked(cf.accounts.get(account_id)):
            cf.login("adejoux", "nope")
        until = cf.accounts.get(account_id).locked_until
        assert until is not None
        waits.append((until - clock(cf).now()).total_seconds())
        clock(cf).set(until + timedelta(seconds=1))
    assert waits == [60, 120, 240, 480]
    assert cf.login("adejoux", GOOD).ok
    assert cf.accounts.get(account_id).lockouts == 0


@pytest.mark.req("LK-05")
def test_fail_success_fail_success_never_locks(cf: Credflow) -> None:
    account_id = ready(cf)
    for _ in range(10):
        cf.login("adejoux", "nope")
        assert cf.login("adejoux", GOOD).ok
    assert not cf.lockout.is_locked(cf.accounts.get(account_id))


@pytest.mark.req("LK-06")
def test_case_variants_share_one_counter(cf: Credflow) -> None:
    account_id = ready(cf)
    for identifier in ("adejoux", "ADEJOUX", "AdeJoux", "adeJOUX", "ＡＤＥＪＯＵＸ"):
        cf.login(identifier, "nope")
    assert cf.lockout.is_locked(cf.accounts.get(account_id))


@pytest.mark.req("LK-01")
def test_lock_until_unlocked_setting_and_hard_cap() -> None:
    cf = make_cf(lockout={"until_unlocked": True})
    account_id = ready(cf)
    for _ in range(5):
        cf.login("adejoux", "nope")
    clock(cf).advance(365 * 86400)
    assert cf.login("adejoux", GOOD).status is LoginStatus.DENIED
    cf.accounts.unlock(account_id)
    assert cf.login("adejoux", GOOD).ok
    capped = make_cf(lockout={"threshold": 100})
    capped_id = ready(capped)
    for _ in range(100):
        capped.login("adejoux", "nope")
    clock(capped).advance(30 * 86400)
    assert capped.lockout.failures(capped_id) == 100
    assert capped.login("adejoux", GOOD).status is LoginStatus.DENIED


@pytest.mark.req("LK-02")
def test_a_hundred_failures_spread_over_59_minutes_then_the_101st_attempt_is_refused() -> None:
    cf = make_cf(lockout={"threshold": 100})
    account_id = ready(cf)
    for _ in range(100):
        assert cf.login("adejoux", "nope").status is LoginStatus.DENIED
        clock(cf).advance(35)  # 100 x 35 s = 58 min 20 s
    assert cf.lockout.failures(account_id) == 100
    assert cf.login("adejoux", GOOD).status is LoginStatus.DENIED  # the right password, too
    denied = [e.details.get("reason") for e in cf.storage.events(account_id=account_id)]
    assert denied.count("wrong_password") == 100 and denied[-1] == "account_locked"


@pytest.mark.req("LK-02")
@settings(max_examples=25, deadline=None)
@given(
    threshold=st.integers(1, 100),
    base_wait=st.integers(1, 120),
    until_unlocked=st.booleans(),
    gaps=st.lists(st.integers(0, 40), min_size=100, max_size=160),
)
def test_no_setting_lets_more_than_100_failures_count_in_an_hour(
    threshold: int, base_wait: int, until_unlocked: bool, gaps: list[int]
) -> None:
    """Whatever the lockout settings and the pace of the guesses, at most 100 wrong passwords
    are ever checked within an hour (absent an unlock); after the 100th, even the right
    password is refused."""
    cf = make_cf(
        lockout={
            "threshold": threshold,
            "base_wait": base_wait,
            "max_wait": base_wait,
            "until_unlocked": until_unlocked,
        }
    )
    account_id = ready(cf)
    start = cf.clock.now()
    for gap in gaps:
        clock(cf).advance(gap)
        if cf.clock.now() - start >= timedelta(hours=1):
            break
        cf.login("adejoux", "nope")
    events = cf.storage.events(account_id=account_id)
    checked = [e for e in events if e.details.get("reason") == "wrong_password"]
    assert len(checked) <= 100
    assert len(checked) == cf.lockout.failures(account_id)
    if len(checked) == 100:
        assert cf.login("adejoux", GOOD).status is LoginStatus.DENIED


def _unlock_link(cf: Credflow) -> str:
    message = outbox(cf).last("unlock_link")
    assert message is not None
    match = re.search(r"token=(\S+)$", message.params["link"])
    assert match is not None
    assert message.params["link"].startswith("https://portal.example.fr/unlock?token=")
    return match.group(1)


def test_unlock_by_mailed_link_once(cf: Credflow) -> None:
    account_id = ready(cf)
    for _ in range(5):
        cf.login("adejoux", "nope")
    token = _unlock_link(cf)
    assert token not in repr(outbox(cf).last("unlock_link"))
    assert cf.unlock(token).status is StepStatus.COMPLETED
    assert cf.login("adejoux", GOOD).ok
    again = cf.unlock(token)
    assert again.status is StepStatus.INVALID and again.code == "unlock.invalid"
    types = [e.type for e in cf.storage.events(account_id=account_id)]
    assert types.count("account_locked") == 1 and types.count("account_unlocked") == 1
    unlocked = next(
        e for e in cf.storage.events(account_id=account_id) if e.type == "account_unlocked"
    )
    assert unlocked.details == {"by": "link"}


def test_expired_unlock_link(cf: Credflow) -> None:
    ready(cf)
    for _ in range(5):
        cf.login("adejoux", "nope")
    token = _unlock_link(cf)
    clock(cf).advance(3601)
    result = cf.unlock(token)
    assert result.status is StepStatus.EXPIRED and result.code == "unlock.expired"
    assert cf.unlock("garbage").code == "unlock.invalid"


def test_admin_unlock_is_an_audit_event(cf: Credflow) -> None:
    account_id = ready(cf)
    for _ in range(5):
        cf.login("adejoux", "nope")
    cf.accounts.unlock(account_id)
    event = cf.storage.events(account_id=account_id)[-1]
    assert (event.type, event.details) == ("account_unlocked", {"by": "admin"})
    assert cf.login("adejoux", GOOD).ok


def test_mfa_hook_gives_mfa_required(cf: Credflow) -> None:
    account_id = ready(cf)
    cf = Credflow(
        storage=cf.storage,
        settings=cf.settings,
        clock=cf.clock,
        second_factor=lambda account: account.id == account_id,
    )
    result = cf.login("adejoux", GOOD)
    assert result.status is LoginStatus.MFA_REQUIRED
    assert result.flow is not None and result.session is None
    assert cf.login("adejoux", "nope").status is LoginStatus.DENIED  # wrong password: no MFA hint
