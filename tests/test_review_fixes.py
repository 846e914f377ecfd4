"""Regression tests for defects found in review (tokens, settings, identifiers, accounts)."""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest
from tests.factories import BASE_URL, KEY, clock, make_cf

from credflow import hashing
from credflow.deviations import StandardsDeviationWarning
from credflow.errors import (
    InsecureConfiguration,
    InvalidEmail,
    InvalidIdentifier,
    InvalidInput,
    StandardsConflictError,
)
from credflow.hashing import Profile
from credflow.settings import Settings
from credflow.storage.records import AccountStatus
from credflow.tokens import TokenOutcome, canonical


def test_issued_expiry_is_the_stored_expiry() -> None:
    cf = make_cf()
    clock(cf).advance(0.7)
    account = cf.accounts.create("adejoux").account
    issued = cf.tokens.issue(account, "reset")
    assert issued.expires_at.microsecond == 0
    clock(cf).set(issued.expires_at)
    assert cf.tokens.check(issued.token, "reset").ok
    clock(cf).advance(0.5)
    assert cf.tokens.check(issued.token, "reset").outcome is TokenOutcome.EXPIRED


@pytest.mark.req("RS-07")
def test_non_canonical_last_character_is_invalid() -> None:
    cf = make_cf()
    account = cf.accounts.create("adejoux").account
    token = cf.tokens.issue(account, "reset").token
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twins = [token[:-1] + c for c in alphabet if c != token[-1]]
    assert all(cf.tokens.check(t, "reset").outcome is TokenOutcome.INVALID for t in twins)
    assert cf.tokens.redeem(token, "reset").ok
    assert not canonical(None) and not canonical("") and not canonical("a.b.!!")


def test_sessions_and_tokens_never_accept_each_other() -> None:
    cf = make_cf()
    created = cf.accounts.create("adejoux")
    session = cf.sessions.issue(created.account)
    reset = cf.tokens.issue(created.account, "reset").token
    assert cf.sessions.validate(reset) is None
    for purpose in ("reset", "unlock", "verify_email", "invite", "password_setup"):
        assert cf.tokens.check(session.token, purpose).outcome is TokenOutcome.INVALID


@pytest.mark.req("SQ-08")
def test_knowledge_based_answers_need_the_override_everywhere() -> None:
    nist = Settings.nist(secret_key=KEY, base_url=BASE_URL)
    with pytest.raises(StandardsConflictError):
        nist.replace(security_questions=True)
    with pytest.raises(StandardsConflictError):
        Settings(secret_key=KEY, base_url=BASE_URL, security_questions=True)  # type: ignore[arg-type]
    assert nist.replace(security_questions=True, allow_knowledge_based=True).security_questions


@pytest.mark.req("ST-04")
def test_settings_refuse_weak_hashing_profiles() -> None:
    with pytest.raises(InsecureConfiguration):
        Settings.nist(secret_key=KEY, base_url=BASE_URL, hashing=Profile("weak", 1, 1024, 1))
    twin = Profile("TESTING", 1, 8, 1, hash_len=16)
    with pytest.raises(InsecureConfiguration):
        Settings.nist(secret_key=KEY, base_url=BASE_URL, hashing=twin)
    assert Settings.nist(secret_key=KEY, base_url=BASE_URL, hashing=hashing.TESTING)


def test_short_fallback_key_names_its_field() -> None:
    with pytest.raises(InsecureConfiguration) as caught:
        Settings.nist(secret_key=KEY, base_url=BASE_URL, fallback_keys=["short"])
    assert caught.value.field == "fallback_keys"


def test_deviation_warning_points_at_the_caller() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Settings.classic(secret_key=KEY, base_url=BASE_URL)
    found = [w for w in caught if issubclass(w.category, StandardsDeviationWarning)]
    assert found and found[0].filename == __file__


@pytest.mark.parametrize("identifier", ["ß" * 200, "a\u2028b", "a\u2029b"])
def test_identifiers_whose_key_is_too_long_or_hold_line_breaks(identifier: str) -> None:
    with pytest.raises(InvalidIdentifier):
        make_cf().accounts.create(identifier)


def test_email_whose_key_is_too_long() -> None:
    with pytest.raises(InvalidEmail):
        make_cf().accounts.create("x", email="\u0130" * 64 + "@" + "\u0130" * 100 + ".fr")


def test_status_changes_follow_the_lifecycle() -> None:
    cf = make_cf()
    pending = cf.accounts.create("p", status=AccountStatus.PENDING_VERIFICATION).account
    with pytest.raises(InvalidInput):
        cf.accounts.disable(pending.id)  # would let enable() skip verification
    active = cf.accounts.create("a").account
    cf.accounts.disable(active.id)
    with pytest.raises(InvalidInput):
        cf.accounts.disable(active.id)
    with pytest.raises(InvalidInput):
        cf.accounts.require_actions("abc", ["change_password"])  # type: ignore[list-item]


def test_delete_clears_the_failure_counter() -> None:
    cf = make_cf()
    account = cf.accounts.create("adejoux").account
    cf.storage.increment_counter(f"login:{account.id}", clock(cf).now())
    cf.accounts.delete(account.id)
    assert cf.storage.get_counter(f"login:{account.id}") == 0
    assert clock(cf).now() + timedelta(0) == clock(cf).now()
