"""The portal files of DEFI, Certigna and Sage carry their registration, organisation and MFA
settings, and reproduce the organisation scenarios of their documents (shared/seeds 001, 002,
004)."""

from __future__ import annotations

import pytest
from tests.test_portal_settings import portal

from credflow.organisations import ADMINISTRATOR
from credflow.results import LoginStatus, StepStatus
from credflow.storage.records import MembershipStatus, RequiredAction


def test_certigna_signs_up_organisations_not_people() -> None:
    cf = portal("certigna")
    assert cf.settings.registration.enabled is False
    done = cf.organisations.sign_up(
        "BS Conseil", "732 829 320 00074", identifier="EK700962", email="fsenez@example.fr"
    )
    mails = cf.notifier.messages  # type: ignore[attr-defined]
    assert [m.kind for m in mails] == ["identifier", "temporary_password"]
    password = mails[1].params["temporary_password"]
    result = cf.login("EK700962", password)
    assert result.status is LoginStatus.ACTION_REQUIRED
    step = cf.first_login.change_password(result.flow or "", "lavandebleue", "lavandebleue")
    assert step.status is StepStatus.NEXT
    assert step.action is RequiredAction.ENROLL_SECURITY_QUESTION  # for the PIN, at the end
    step = cf.first_login.enroll_question(step.flow or "", "Ma ville natale ?", "Marseille")
    assert step.status is StepStatus.COMPLETED
    assert step.session is not None and step.session.organisation == done.organisation.id
    colleague = cf.accounts.create("EK700963", email="collegue@example.fr").account.id
    added = cf.organisations.add_member(
        done.account.id, done.organisation.id, colleague, roles=["billing_contact", "user"]
    )
    assert added.status is MembershipStatus.ACTIVE


@pytest.mark.parametrize("number", ["73282932000075", "7328293200007", "832"])
def test_certigna_checks_the_siret(number: str) -> None:
    cf = portal("certigna")
    with pytest.raises(ValueError, match="registration_number"):
        cf.organisations.sign_up("BS", number, identifier="EK1", email="a@example.fr")
    assert cf.notifier.messages == ()  # type: ignore[attr-defined]


def test_defi_pending_until_approved_then_switches() -> None:
    cf = portal("defi")
    assert cf.settings.registration.enabled is True
    assert cf.settings.unique_emails is True
    first = cf.organisations.sign_up(
        "Mairie de Maxéville",
        "73282932000074",
        identifier="admin@maxeville.fr",
        email="admin@maxeville.fr",
    )
    second = cf.organisations.sign_up(
        "Bureau de poste",
        "35600000049837",
        identifier="admin@poste.fr",
        email="admin@poste.fr",
    )
    created = cf.accounts.create("d.dupont@defi.fr", email="d.dupont@defi.fr")
    person = created.account.id
    flow = cf.login("d.dupont@defi.fr", created.temporary_password or "").flow or ""
    step = cf.first_login.change_password(flow, "Abcdefg1$", "Abcdefg1$")
    assert step.status is StepStatus.COMPLETED and step.session is not None
    cf.organisations.join(person, first.organisation.id)
    session = cf.login("d.dupont@defi.fr", "Abcdefg1$").session
    assert session is not None and session.organisation is None  # only tickets for now
    assert cf.organisations.membership(person, first.organisation.id).status is (  # type: ignore[union-attr]
        MembershipStatus.PENDING_APPROVAL
    )
    cf.organisations.approve(first.account.id, first.organisation.id, person)
    session = cf.login("d.dupont@defi.fr", "Abcdefg1$").session
    assert session is not None and session.organisation == first.organisation.id
    cf.organisations.add_member(second.account.id, second.organisation.id, person)
    switched = cf.sessions.switch_organisation(session, second.organisation.id)
    assert switched.status is StepStatus.COMPLETED
    cf.organisations.deactivate(second.account.id, second.organisation.id, person)
    assert cf.sessions.organisation(session.token) is None
    back = cf.sessions.switch_organisation(session, first.organisation.id)
    assert back.status is StepStatus.COMPLETED
    assert ADMINISTRATOR in first.membership.roles


def test_sage_registration_and_mfa_settings() -> None:
    cf = portal("sage")
    assert cf.settings.unique_emails is True
    assert cf.settings.registration.enabled is True
    assert cf.settings.registration.login_after_verification is True
    assert cf.settings.registration.email_change_reauthenticate is True
    assert cf.settings.mfa.issuer == "Sage"
    assert cf.settings.mfa.required is False
