"""Organisation sign-up (Certigna): one transaction creates the organisation, its administrator
account with a temporary password and an active membership; the identifier and the password go
in two separate mails; any failure leaves nothing behind."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from tests.factories import classic_settings, make_cf, outbox

from credflow.clock import FrozenClock
from credflow.errors import (
    DuplicateIdentifier,
    DuplicateOrganisation,
    InvalidEmail,
    InvalidIdentifier,
    InvalidInput,
)
from credflow.facade import Credflow
from credflow.notify import Message
from credflow.organisations import ADMINISTRATOR
from credflow.results import LoginStatus, StepStatus
from credflow.storage.memory import MemoryStorage
from credflow.storage.records import MembershipStatus, RequiredAction

SIRET = "73282932000074"


def sign_up(cf: Credflow, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "identifier": "EK700962",
        "email": "fsenez@example.fr",
    }
    values.update(overrides)
    name = values.pop("name", "BS Conseil")
    number = values.pop("registration_number", "732 829 320 00074")
    return cf.organisations.sign_up(name, number, **values)


def state(cf: Credflow) -> str:
    storage = cf.storage
    assert isinstance(storage, MemoryStorage)
    return repr(vars(storage))


@pytest.mark.req("TP-01", "TP-05")
def test_sign_up_creates_everything_and_mails_twice() -> None:
    cf = make_cf()
    assert cf.settings.mail_temporary_password is False  # sign-up mails whatever this says
    done = sign_up(cf)
    assert done.organisation.registration_number == SIRET
    assert done.organisation.name == "BS Conseil"
    assert done.account.identifier == "EK700962"
    assert done.membership.status is MembershipStatus.ACTIVE
    assert done.membership.roles == ("legal_representative", ADMINISTRATOR)
    assert done.temporary_password is None  # mailed, not returned
    assert cf.organisations.get(done.organisation.id) == done.organisation
    assert cf.accounts.get(done.account.id).required_actions == cf.settings.first_login_actions
    credential = cf.storage.get_password(done.account.id)
    assert credential is not None and credential.temporary
    identifier_mail, password_mail = outbox(cf).messages
    assert (identifier_mail.kind, password_mail.kind) == ("identifier", "temporary_password")
    assert identifier_mail.recipient == password_mail.recipient == "fsenez@example.fr"
    password = password_mail.params["temporary_password"]
    assert identifier_mail.params["identifier"] == "EK700962"
    assert password not in str(dict(identifier_mail.params))  # two separate mails
    assert "EK700962" not in str(dict(password_mail.params))
    assert cf.policy.evaluate(password, identifier="EK700962").ok
    assert password not in credential.hash
    assert cf.hasher.verify(credential.hash, password).ok


def test_the_administrator_then_logs_in_changes_the_password_and_adds_users() -> None:
    """Certigna end to end: temporary password, forced change, question, then users."""
    cf = make_cf(reauthenticate_after_password_change=False)
    done = sign_up(cf)
    password = outbox(cf).last("temporary_password").params["temporary_password"]  # type: ignore[union-attr]
    result = cf.login("EK700962", password)
    assert result.status is LoginStatus.ACTION_REQUIRED
    assert result.action is RequiredAction.CHANGE_PASSWORD
    step = cf.first_login.change_password(result.flow or "", "Lavande2024!", "Lavande2024!")
    assert step.status is StepStatus.NEXT
    step = cf.first_login.enroll_question(step.flow or "", "Ma ville natale ?", "Marseille")
    assert step.status is StepStatus.COMPLETED
    assert step.session is not None
    assert step.session.organisation == done.organisation.id  # the only active membership
    colleague = cf.accounts.create("EK700963", email="collegue@example.fr")
    added = cf.organisations.add_member(
        done.account.id,
        done.organisation.id,
        colleague.account.id,
        roles=["billing_contact", "user"],
    )
    assert added.status is MembershipStatus.ACTIVE


def test_the_password_is_returned_only_when_asked() -> None:
    cf = make_cf()
    done = sign_up(cf, return_password=True)
    assert done.temporary_password is not None
    assert done.temporary_password not in repr(done)
    assert outbox(cf).last("temporary_password").params["temporary_password"] == (  # type: ignore[union-attr]
        done.temporary_password
    )
    assert cf.login("EK700962", done.temporary_password).status is LoginStatus.ACTION_REQUIRED


def test_mail_locale_and_custom_roles() -> None:
    cf = make_cf()
    done = sign_up(cf, locale="en", roles=[ADMINISTRATOR, "billing_contact"])
    assert {m.locale for m in outbox(cf).messages} == {"en"}
    assert done.membership.roles == (ADMINISTRATOR, "billing_contact")


@pytest.mark.req("SS-06")
def test_the_event_and_the_logs_hold_no_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cf = make_cf()
    done = sign_up(cf, return_password=True)
    assert done.temporary_password is not None
    event = cf.storage.events(account_id=done.account.id)[-1]
    assert event.type == "organisation_signed_up"
    assert event.details == {
        "organisation": done.organisation.id,
        "registration_number": SIRET,
        "roles": '["legal_representative", "administrator"]',
    }
    storage = cf.storage
    assert isinstance(storage, MemoryStorage)
    surfaces = [repr(storage.events()), repr(done), repr(vars(storage)), caplog.text]
    surfaces += [repr(m) for m in outbox(cf).messages]
    for surface in surfaces:
        assert done.temporary_password not in surface


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"registration_number": "73282932000075"}, InvalidInput, "registration_number"),
        ({"registration_number": "7328293200007"}, InvalidInput, "registration_number"),
        ({"registration_number": None}, InvalidInput, "registration_number"),
        ({"name": ""}, InvalidInput, "name"),
        ({"roles": ["user"]}, InvalidInput, "roles"),
        ({"roles": "administrator"}, InvalidInput, "roles"),
        ({"email": "not-an-address"}, InvalidEmail, "email"),
        ({"email": None}, InvalidInput, "email"),
        ({"identifier": ""}, InvalidIdentifier, "identifier"),
    ],
)
def test_bad_input_raises_and_changes_nothing(
    overrides: dict[str, Any], error: type[Exception], field: str
) -> None:
    cf = make_cf()
    before = state(cf)
    with pytest.raises(error) as caught:
        sign_up(cf, **overrides)
    assert getattr(caught.value, "field", None) == field
    assert state(cf) == before
    assert outbox(cf).messages == ()


def test_a_registered_number_is_refused_before_any_write() -> None:
    cf = make_cf()
    sign_up(cf)
    outbox(cf).clear()
    before = state(cf)
    with pytest.raises(DuplicateOrganisation):
        sign_up(cf, identifier="EK700999", email="autre@example.fr")
    assert state(cf) == before
    assert outbox(cf).messages == ()


def test_a_taken_identifier_leaves_no_organisation() -> None:
    cf = make_cf()
    cf.accounts.create("EK700962", temporary=False)
    before = state(cf)
    with pytest.raises(DuplicateIdentifier):
        sign_up(cf)
    assert state(cf) == before
    assert cf.organisations.find(SIRET) is None
    assert outbox(cf).messages == ()


class Boom(RuntimeError):
    pass


class FailingStorage(MemoryStorage):
    """Memory storage whose ``method`` raises on its ``nth`` call."""

    def __init__(self, method: str, nth: int = 1) -> None:
        super().__init__()
        self.method, self.nth, self.calls = method, nth, 0
        original = getattr(self, method)

        def failing(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self.nth:
                raise Boom(method)
            return original(*args, **kwargs)

        setattr(self, method, failing)


class FailingOutbox:
    def __init__(self, nth: int) -> None:
        self.nth, self.sent = nth, []  # type: ignore[var-annotated]

    def send(self, message: Message) -> None:
        if len(self.sent) + 1 == self.nth:
            raise Boom("send")
        self.sent.append(message)


@pytest.mark.req("DB-02")
@pytest.mark.parametrize(
    ("method", "nth"),
    [
        ("create_account", 1),  # the second write, after the organisation
        ("set_password", 1),
        ("create_membership", 1),
        ("append_event", 1),  # account_created
        ("append_event", 2),  # organisation_signed_up
    ],
)
def test_a_failure_at_any_write_leaves_nothing(method: str, nth: int) -> None:
    storage = FailingStorage(method, nth)
    cf = make_cf(storage)
    with pytest.raises(Boom):
        sign_up(cf)
    assert storage.calls == nth
    assert storage.find_organisation(SIRET) is None
    assert storage.find_account("ek700962") is None
    assert storage.list_accounts() == []
    assert storage.events() == []
    assert outbox(cf).messages == ()
    # Nothing half-done blocks a retry.
    storage.nth = 0
    assert sign_up(cf).organisation.registration_number == SIRET


@pytest.mark.req("DB-02")
@pytest.mark.parametrize("nth", [1, 2])
def test_a_mail_failure_leaves_nothing(nth: int) -> None:
    failing = FailingOutbox(nth)
    cf = Credflow(
        storage=MemoryStorage(), settings=classic_settings(), notifier=failing, clock=FrozenClock()
    )
    with pytest.raises(Boom):
        sign_up(cf)
    storage = cf.storage
    assert storage.find_organisation(SIRET) is None
    assert storage.list_accounts() == []
    assert storage.events() == []
    # The notifier is called last: a mail that went before the failure holds no secret.
    assert [m.kind for m in failing.sent] == ["identifier"][: nth - 1]


def test_account_creation_shared_with_sign_up_keeps_its_rules() -> None:
    """``cf.accounts.create`` and ``sign_up`` build accounts with the same code: a temporary
    password always puts the password change first, and no password means no credential."""
    cf = make_cf()
    created = cf.accounts.create(
        "adejoux", required_actions=[RequiredAction.ENROLL_SECURITY_QUESTION]
    )
    assert created.account.required_actions == (
        RequiredAction.CHANGE_PASSWORD,
        RequiredAction.ENROLL_SECURITY_QUESTION,
    )
    plain = cf.accounts.create("bdupont", temporary=False)
    assert plain.temporary_password is None
    assert cf.storage.get_password(plain.account.id) is None
    assert cf.storage.events(account_id=plain.account.id)[-1].details == {"temporary": False}
