"""Password change (Sigma's page and from a session), security question change, and sessions
shared by two applications."""

from __future__ import annotations

import pytest
from tests.factories import clock, make_cf, outbox
from tests.test_login import GOOD, ready

from credflow.facade import Credflow
from credflow.policy import History, presets
from credflow.policy.password import PasswordPolicy
from credflow.results import StepStatus
from credflow.settings import Settings

NEW = "Rouge2025y"


@pytest.fixture
def cf() -> Credflow:
    return make_cf()


@pytest.mark.req("PC-01", "PC-03", "PC-04")
def test_change_from_the_login_page(cf: Credflow) -> None:
    account_id = ready(cf)
    session = cf.login("adejoux", GOOD).session
    assert session is not None
    reset = cf.tokens.issue(cf.accounts.get(account_id), "reset")
    result = cf.passwords.change("ADEJOUX", GOOD, NEW, NEW)
    assert result.status is StepStatus.REAUTHENTICATE and result.code == "password.changed"
    assert result.message == "Votre mot de passe a été modifié."
    assert cf.login("adejoux", GOOD).status.value == "denied"
    assert cf.login("adejoux", NEW).ok
    assert cf.sessions.validate(session.token) is None  # every older session ends
    assert not cf.tokens.check(reset.token, "reset").ok  # outstanding tokens die
    notice = outbox(cf).last("password_changed")
    assert notice is not None and notice.recipient == "adejoux@example.fr"
    assert NEW not in repr(notice) and NEW not in str(dict(notice.params))


@pytest.mark.req("PC-01", "LK-07")
def test_wrong_old_password_is_refused_and_counted(cf: Credflow) -> None:
    account_id = ready(cf)
    result = cf.passwords.change("adejoux", "nope", NEW, NEW)
    assert result.status is StepStatus.REFUSED and result.code == "password.old_wrong"
    assert cf.lockout.failures(account_id) == 1
    for _ in range(4):
        cf.passwords.change("adejoux", "nope", NEW, NEW)
    assert cf.lockout.is_locked(cf.accounts.get(account_id))
    locked = cf.passwords.change("adejoux", GOOD, NEW, NEW)
    assert locked.code == "password.old_wrong"
    assert cf.lockout.failures(account_id) == 5


def test_unknown_identifier_looks_like_a_wrong_password(cf: Credflow) -> None:
    ready(cf)
    for identifier in ("nobody", "bad\x00id"):
        before = cf.hasher.calls
        result = cf.passwords.change(identifier, GOOD, NEW, NEW)
        assert result.code == "password.old_wrong"
        assert cf.hasher.calls - before == 1
    with pytest.raises(TypeError):
        cf.passwords.change(None, GOOD, NEW, NEW)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cf.passwords.change("adejoux", GOOD, 3, NEW)  # type: ignore[arg-type]


@pytest.mark.req("PC-02")
@pytest.mark.parametrize(
    ("new", "confirm", "code"),
    [
        (NEW, NEW + "z", "password.confirmation_differs"),
        ("short", "short", "password.policy_not_met"),
        (GOOD, GOOD, "password.same_as_old"),
    ],
)
def test_new_password_checks(cf: Credflow, new: str, confirm: str, code: str) -> None:
    account_id = ready(cf)
    version = cf.accounts.get(account_id).credential_version
    result = cf.passwords.change("adejoux", GOOD, new, confirm)
    assert result.code == code
    assert cf.accounts.get(account_id).credential_version == version
    assert cf.lockout.failures(account_id) == 0


def test_history_rule_refuses_recent_passwords() -> None:
    policy = PasswordPolicy([*presets.classic().rules, History(count=2)])
    cf = make_cf(password_policy=policy)
    ready(cf)
    assert cf.passwords.change("adejoux", GOOD, NEW, NEW).ok
    back = cf.passwords.change("adejoux", NEW, GOOD, GOOD)
    assert back.code == "password.policy_not_met"
    assert [r.code for r in back.failures] == ["history"]
    assert cf.passwords.change("adejoux", NEW, "Vert2026zz", "Vert2026zz").ok
    assert cf.passwords.change("adejoux", "Vert2026zz", "Jaune2027w", "Jaune2027w").ok
    assert cf.passwords.change("adejoux", "Jaune2027w", GOOD, GOOD).ok  # out of the last 2


@pytest.mark.req("PC-03")
def test_change_in_session_returns_a_fresh_session() -> None:
    cf = make_cf(reauthenticate_after_password_change=False)
    ready(cf)
    first = cf.login("adejoux", GOOD).session
    second = cf.login("adejoux", GOOD).session
    assert first is not None and second is not None
    result = cf.passwords.change_in_session(first.token, GOOD, NEW, NEW)
    assert result.status is StepStatus.COMPLETED and result.session is not None
    assert cf.sessions.validate(result.session.token) is not None
    assert cf.sessions.validate(first.token) is None
    assert cf.sessions.validate(second.token) is None  # Sage: applies everywhere
    assert cf.passwords.change_in_session("nope", NEW, GOOD, GOOD).status is StepStatus.INVALID


def test_change_in_session_with_reauthentication(cf: Credflow) -> None:
    ready(cf)
    session = cf.login("adejoux", GOOD).session
    assert session is not None
    result = cf.passwords.change_in_session(session.token, GOOD, NEW, NEW)
    assert result.status is StepStatus.REAUTHENTICATE and result.session is None


@pytest.mark.req("SQ-07")
def test_question_change_needs_the_password(cf: Credflow) -> None:
    account_id = ready(cf)
    session = cf.login("adejoux", GOOD).session
    assert session is not None
    refused = cf.questions.change(session.token, password="nope", question="Ville ?", answer="lyon")
    assert refused.code == "password.old_wrong"
    assert cf.lockout.failures(account_id) == 1
    bad = cf.questions.change(session.token, password=GOOD, question="Ville ?", answer="ab")
    assert bad.code == "question.answer_not_met" and bad.failures
    empty = cf.questions.change(session.token, password=GOOD, question=" ", answer="lyonnais")
    assert empty.code == "question.invalid"
    done = cf.questions.change(session.token, password=GOOD, question="Ville ?", answer="Lyon")
    assert done.status is StepStatus.COMPLETED
    stored = cf.storage.get_question(account_id)
    assert stored is not None and cf.hasher.verify_answer(stored.answer_hash, "lyon").ok
    assert outbox(cf).last("security_question_changed") is not None
    assert cf.lockout.failures(account_id) == 0
    assert (
        cf.questions.change("nope", password=GOOD, question="Q ?", answer="lyon").code
        == "flow.invalid"
    )


@pytest.mark.req("SS-01", "SS-03")
def test_session_validity_revoke_and_timeouts(cf: Credflow) -> None:
    account_id = ready(cf)
    session = cf.login("adejoux", GOOD).session
    assert session is not None and session.token not in repr(session)
    assert cf.sessions.validate(session.token) is not None
    assert cf.sessions.revoke(session.token)
    assert cf.sessions.validate(session.token) is None
    assert not cf.sessions.revoke(session.token)
    other = cf.login("adejoux", GOOD).session
    assert other is not None
    cf.sessions.revoke_all(account_id)
    assert cf.sessions.validate(other.token) is None
    clock(cf).advance(1)
    later = cf.login("adejoux", GOOD).session
    assert later is not None
    assert cf.sessions.validate(later.token) is not None
    for bad in ("", "garbage", "a" * 5000, later.token[:-2] + "xx"):
        assert cf.sessions.validate(bad) is None
        assert not cf.sessions.revoke(bad)
    cf.sessions.revoke_all("ghost")  # unknown account: nothing to do


@pytest.mark.req("SS-04")
def test_idle_and_absolute_timeouts(cf: Credflow) -> None:
    ready(cf)
    session = cf.login("adejoux", GOOD).session
    assert session is not None
    clock(cf).advance(1800)
    assert cf.sessions.validate(session.token) is not None  # touching it resets idle time
    clock(cf).advance(1800)
    assert cf.sessions.validate(session.token) is not None
    clock(cf).advance(1801)
    assert cf.sessions.validate(session.token) is None  # idle for more than 30 min
    kept = cf.login("adejoux", GOOD).session
    assert kept is not None
    for _ in range(24):
        clock(cf).advance(1799)
        assert cf.sessions.validate(kept.token) is not None  # 24 x 1799 s < 12 h
    clock(cf).advance(1799)
    assert cf.sessions.validate(kept.token) is None  # 12 h absolute limit despite activity


def test_disabled_account_ends_sessions(cf: Credflow) -> None:
    account_id = ready(cf)
    session = cf.login("adejoux", GOOD).session
    assert session is not None
    cf.accounts.disable(account_id)
    assert cf.sessions.validate(session.token) is None
    cf.accounts.enable(account_id)
    assert cf.sessions.validate(session.token) is None  # re-enabling revives no session


def test_two_applications_share_sessions() -> None:
    """Sigma's "Portail documentaire" and "Portail assistance": one store, one set of keys."""
    documents = make_cf()
    ready(documents)
    assistance = Credflow(
        storage=documents.storage,
        settings=Settings.classic(
            secret_key=documents.settings.secret_key.get_secret_value(),
            base_url="https://assistance.example.fr",
            hashing=documents.settings.hashing,
        ),
        clock=documents.clock,
    )
    session = documents.login("adejoux", GOOD).session
    assert session is not None
    account = assistance.sessions.validate(session.token)
    assert account is not None and account.identifier == "adejoux"
    assert assistance.sessions.revoke(session.token)
    assert documents.sessions.validate(session.token) is None
    stranger = make_cf(secret_key="z" * 32, storage=documents.storage)
    again = documents.login("adejoux", GOOD).session
    assert again is not None and stranger.sessions.validate(again.token) is None
