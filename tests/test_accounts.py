"""The accounts service: creation, temporary passwords, lookups, status changes, deletion."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.factories import clock, make_cf, outbox

from credflow import hashing
from credflow.accounts import generate_temporary_password
from credflow.errors import (
    DuplicateIdentifier,
    InvalidEmail,
    InvalidIdentifier,
    InvalidInput,
    UnknownAccount,
)
from credflow.facade import Credflow
from credflow.flows.lockout import LockoutState
from credflow.policy import presets
from credflow.storage.records import AccountStatus, RequiredAction


@pytest.fixture
def cf() -> Credflow:
    return make_cf()


@pytest.mark.req("TP-01", "TP-05")
def test_create_with_temporary_password(cf: Credflow) -> None:
    created = cf.accounts.create("adejoux", email="a.dejoux@example.fr")
    password = created.temporary_password
    assert password is not None
    assert password not in repr(created)
    account = created.account
    assert account.status is AccountStatus.ACTIVE
    assert account.required_actions == (
        RequiredAction.CHANGE_PASSWORD,
        RequiredAction.ENROLL_SECURITY_QUESTION,
    )
    credential = cf.storage.get_password(account.id)
    assert credential is not None
    assert credential.temporary
    assert credential.expires_at == clock(cf).now() + timedelta(hours=24)
    assert password not in credential.hash
    assert cf.hasher.verify(credential.hash, password).ok
    assert cf.policy.evaluate(password, identifier="adejoux", email="a.dejoux@example.fr").ok
    assert outbox(cf).messages == ()  # not mailed unless the setting says so
    assert [e.type for e in cf.storage.events(account_id=account.id)] == ["account_created"]


@pytest.mark.req("TP-01")
@pytest.mark.parametrize("policy", [presets.classic(), presets.nist()])
def test_generated_passwords_meet_the_policy(policy: object) -> None:
    assert hasattr(policy, "evaluate")
    for _ in range(2000):
        candidate = generate_temporary_password(policy, identifier="adejoux")  # type: ignore[arg-type]
        assert policy.evaluate(candidate, identifier="adejoux").ok  # type: ignore[attr-defined]
        assert len(candidate) >= 16


@pytest.mark.req("TP-01")
def test_generator_uses_secrets_not_random() -> None:
    import inspect

    import credflow.accounts as module

    source = inspect.getsource(module)
    assert "import random" not in source
    assert "secrets" in source


def test_temporary_password_mailed_in_two_messages() -> None:
    cf = make_cf(mail_temporary_password=True)
    created = cf.accounts.create("EK700962", email="fsenez@example.fr", locale="fr")
    first, second = outbox(cf).messages
    assert (first.kind, second.kind) == ("identifier", "temporary_password")
    assert first.params["identifier"] == "EK700962"
    assert created.temporary_password not in str(first.params.values())
    assert second.params["temporary_password"] == created.temporary_password
    assert created.temporary_password not in repr(second)
    assert "EK700962" not in str(second.params.values())


def test_create_without_temporary_password(cf: Credflow) -> None:
    created = cf.accounts.create("jdupont", temporary=False, status=AccountStatus.PENDING_APPROVAL)
    assert created.temporary_password is None
    assert cf.storage.get_password(created.account.id) is None
    assert created.account.required_actions == ()
    assert created.account.status is AccountStatus.PENDING_APPROVAL


@pytest.mark.parametrize(
    "identifier", ["", "   ", "a" * 255, "bad\x00id", "tab\tid", " lead", "trail ", "zero\u200bw"]
)
def test_bad_identifiers_are_refused_and_change_nothing(cf: Credflow, identifier: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        cf.accounts.create(identifier)
    assert caught.value.field == "identifier"
    assert cf.storage.list_accounts() == []
    assert cf.storage.events() == []


def test_identifier_of_254_characters_is_accepted(cf: Credflow) -> None:
    assert cf.accounts.create("a" * 254).account.identifier == "a" * 254


@pytest.mark.parametrize("email", ["nope", "a@b", "a b@c.fr", "@x.fr", "a@.fr", "a@x..fr", 42])
def test_bad_emails_are_refused(cf: Credflow, email: object) -> None:
    with pytest.raises(InvalidEmail):
        cf.accounts.create("adejoux", email=email)  # type: ignore[arg-type]
    assert cf.storage.list_accounts() == []


def test_non_str_identifier(cf: Credflow) -> None:
    with pytest.raises(InvalidIdentifier, match="must be a str"):
        cf.accounts.create(None)  # type: ignore[arg-type]


@pytest.mark.req("LK-06")
def test_identifiers_are_unique_case_insensitively(cf: Credflow) -> None:
    cf.accounts.create("ADejoux")
    with pytest.raises(DuplicateIdentifier):
        cf.accounts.create("adejoux")
    with pytest.raises(DuplicateIdentifier):
        cf.accounts.create("ＡＤＥＪＯＵＸ")  # full-width, NFKC-equal
    assert len(cf.storage.list_accounts()) == 1
    assert len(cf.storage.events()) == 1
    found = cf.accounts.find("adejoux")
    assert found is not None
    assert found.identifier == "ADejoux"


def test_one_email_several_accounts(cf: Credflow) -> None:
    first = cf.accounts.create("pierre.martin", email="p.martin@example.fr").account
    second = cf.accounts.create("pierre.martin1", email="P.Martin@Example.fr").account
    found = {a.id for a in cf.accounts.find_by_email("p.martin@EXAMPLE.fr")}
    assert found == {first.id, second.id}
    assert cf.accounts.find_by_email("other@example.fr") == []


def test_get_unknown_account(cf: Credflow) -> None:
    with pytest.raises(UnknownAccount):
        cf.accounts.get("nope")
    with pytest.raises(InvalidInput):
        cf.accounts.get(123)  # type: ignore[arg-type]
    assert cf.accounts.find("nobody") is None


def test_disable_enable_approve_reject(cf: Credflow) -> None:
    account = cf.accounts.create("adejoux").account
    assert cf.accounts.disable(account.id).status is AccountStatus.DISABLED
    assert cf.accounts.enable(account.id).status is AccountStatus.ACTIVE
    with pytest.raises(InvalidInput):
        cf.accounts.approve(account.id)  # not pending
    pending = cf.accounts.create("newbie", status=AccountStatus.PENDING_APPROVAL).account
    assert cf.accounts.approve(pending.id).status is AccountStatus.ACTIVE
    other = cf.accounts.create("other", status=AccountStatus.PENDING_APPROVAL).account
    assert cf.accounts.reject(other.id).status is AccountStatus.DISABLED
    with pytest.raises(InvalidInput):
        cf.accounts.enable(cf.accounts.create("p", status="pending_verification").account.id)
    types = [e.type for e in cf.storage.events(account_id=account.id)]
    assert types == ["account_created", "account_disabled", "account_enabled"]


def test_unlock_clears_lock_and_counter(cf: Credflow) -> None:
    account = cf.accounts.create("adejoux").account
    locked = cf.storage.update_account(
        account.model_copy(update={"locked_until": clock(cf).now() + timedelta(hours=1)})
    )
    for _ in range(3):
        cf.storage.increment_counter(f"login:{account.id}", clock(cf).now())
    unlocked = cf.accounts.unlock(locked.id)
    assert unlocked.locked_until is None
    assert cf.storage.get_counter(f"login:{account.id}") == 0
    assert cf.storage.events(account_id=account.id)[-1].type == "account_unlocked"


def test_require_actions_for_many_accounts(cf: Credflow) -> None:
    ids = [cf.accounts.create(f"user{i}", temporary=False).account.id for i in range(5)]
    assert cf.accounts.require_actions(ids, [RequiredAction.CHANGE_PASSWORD]) == 5
    assert all(
        cf.accounts.get(i).required_actions == (RequiredAction.CHANGE_PASSWORD,) for i in ids
    )
    with pytest.raises(UnknownAccount):
        cf.accounts.require_actions([ids[0], "ghost"], [RequiredAction.ENROLL_TOTP])
    assert RequiredAction.ENROLL_TOTP not in cf.accounts.get(ids[0]).required_actions
    with pytest.raises(InvalidInput):
        cf.accounts.require_actions(ids, [])


def test_set_temporary_password_bumps_credential_version(cf: Credflow) -> None:
    created = cf.accounts.create("adejoux", temporary=False)
    password = cf.accounts.set_temporary_password(created.account.id)
    account = cf.accounts.get(created.account.id)
    assert account.credential_version == 2
    assert account.required_actions[0] is RequiredAction.CHANGE_PASSWORD
    credential = cf.storage.get_password(account.id)
    assert credential is not None
    assert credential.temporary
    assert cf.hasher.verify(credential.hash, password).ok


def test_delete_removes_personal_data_and_pseudonymises_events(cf: Credflow) -> None:
    created = cf.accounts.create("adejoux", email="a.dejoux@example.fr")
    account_id = created.account.id
    pseudonym = cf.accounts.delete(account_id)
    assert pseudonym.startswith("anon:")
    assert account_id not in pseudonym
    assert cf.storage.get_account(account_id) is None
    assert cf.storage.get_password(account_id) is None
    assert cf.accounts.find("adejoux") is None
    assert cf.storage.events(account_id=account_id) == []
    trail = cf.storage.events(account_id=pseudonym)
    assert [e.type for e in trail] == ["account_created", "account_deleted"]
    with pytest.raises(UnknownAccount):
        cf.accounts.delete(account_id)
    assert make_cf().accounts.delete.__doc__


def test_facade_validates_its_parts() -> None:
    from credflow.errors import ConfigurationError
    from credflow.storage.memory import MemoryStorage

    cf = make_cf()
    with pytest.raises(ConfigurationError):
        Credflow(storage=MemoryStorage(), settings=object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Credflow(storage=object(), settings=cf.settings)  # type: ignore[arg-type]
    default = Credflow(storage=MemoryStorage(), settings=cf.settings)
    assert default.hasher.profile is hashing.TESTING
    assert "MemoryStorage" in repr(default)
    assert default.policy is cf.settings.password_policy


@pytest.mark.req("TP-01")
def test_draws_are_uniform() -> None:
    """Chi-square sanity check of the rejection sampling behind generated passwords."""
    from credflow.accounts import _draw

    for n in (7, 10, 58):
        pool = "".join(chr(0x41 + i) for i in range(n))
        samples = 2000 * n
        drawn = _draw(pool, samples)
        counts = [drawn.count(char) for char in pool]
        expected = samples / n
        chi2 = sum((c - expected) ** 2 / expected for c in counts)
        assert chi2 < 3 * n  # far above the 99.9 % quantile would mean a biased draw


def test_accounts_come_in_pages_by_id() -> None:
    cf = make_cf()
    ids = sorted(cf.accounts.create(f"user{i}", temporary=False).account.id for i in range(5))
    first = cf.accounts.page(limit=2)
    assert [a.id for a in first] == ids[:2]
    rest = cf.accounts.page(after=first[-1].id, limit=10)
    assert [a.id for a in rest] == ids[2:]
    for bad in ({"limit": 0}, {"limit": 10_001}, {"limit": True}, {"after": 5}):
        with pytest.raises(InvalidInput):
            cf.accounts.page(**bad)  # type: ignore[arg-type]


def test_lock_state_tells_an_administrator_whether_an_account_is_locked() -> None:
    from tests.test_login import ready

    cf = make_cf()
    account = cf.accounts.get(ready(cf, "adejoux"))
    assert cf.accounts.lock_state(account.id) is LockoutState.OPEN
    for _ in range(cf.settings.lockout.threshold):
        cf.login("adejoux", "wrong-password")
    assert cf.accounts.lock_state(account.id) is LockoutState.LOCKED
    cf.accounts.unlock(account.id)
    assert cf.accounts.lock_state(account.id) is LockoutState.OPEN
    with pytest.raises(UnknownAccount):
        cf.accounts.lock_state("nobody")
