"""Organisations in Chromium: sign-up with a SIRET (Certigna), an administrator approving a
member who registered alone (DEFI), deactivating, reactivating and unlocking a member (DEFI),
creating a user with a temporary password and the DEFI migration (a new password for everybody,
by mailed link)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from examples.portal.seed import ADMIN, ORGANISATION, SIRET
from tests.browser.harness import (
    Portal,
    admin_signed_in,
    expect,
    expect_status,
    follow_mailed_link,
    mailed_code,
    mailed_text,
    outbox,
    sign_in,
    sign_out,
    submit,
    temporary_password,
)

from credflow import StepStatus

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
ADMIN_PASSWORD = "Nouveau2024$"


@pytest.mark.req("TP-03")
def test_organisation_sign_up_with_a_siret(start_portal: Callable[..., Portal], page: Page) -> None:
    """Certigna: the SIRET is checked; the administrator's identifier and temporary password
    come in two separate mails; the first login asks for a password, then a question."""
    portal = start_portal("certigna")
    page.goto(portal.url + "/login")
    with page.expect_navigation():
        page.click("#link-org-signup")
    form = {"name": "Dupont SA", "identifier": "dupont", "email": "dupont@example.fr"}
    submit(page, "org-signup-form", siret="73282932000075", **form)  # one digit off
    expect_status(page, "input.registration_number")
    submit(page, "org-signup-form", siret="732 829 320 00074", **form)
    expect_status(page, "organisation.signed_up")

    with outbox(page, portal) as tab:
        kinds = tab.locator("article.mail").evaluate_all("m => m.map(e => e.dataset.kind)")
    assert sorted(kinds) == ["identifier", "temporary_password"]
    identifier = mailed_text(page, portal, "identifier", part=".body strong")
    assert identifier == "dupont"
    sign_in(page, portal, identifier, temporary_password(page, portal))
    expect_status(page, "action.change_password")
    submit(page, "first-login-password-form", new="Soleil2024!", confirm="Soleil2024!")
    expect(page.locator("#question-form")).to_be_visible()  # Certigna: "Suivant"
    submit(page, "question-form", question="Ville de naissance ?", answer="Besançon")
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", "dupont")
    expect(page.locator("#account-organisation")).to_have_text("Dupont SA")


def test_administrator_approves_a_member(
    start_portal: Callable[..., Portal], person: Callable[[], Page]
) -> None:
    """DEFI: a person registers, asks to join the client organisation by its SIRET, and waits;
    the administrator approves them on the members page; they can then choose it."""
    portal = start_portal("defi")
    admin, marie = person(), person()
    admin_signed_in(admin, portal, ADMIN_PASSWORD)

    password = "Soleil2024$"
    marie.goto(portal.url + "/register")
    submit(marie, "register-form", email="marie@example.fr", password=password, confirm=password)
    code = mailed_code(marie, portal, "email_verification_code", "marie@example.fr")
    submit(marie, "registration-code-form", code=code)
    expect_status(marie, "registration.verified")
    submit(marie, "login-form", identifier="marie@example.fr", password=password)
    with marie.expect_navigation():
        marie.click("#nav-organisations")
    submit(marie, "join-form", siret=SIRET)
    expect_status(marie, "organisation.pending_approval")
    row = marie.locator("tr.organisation")
    expect(row).to_have_attribute("data-status", "pending_approval")
    expect(row.locator("button")).to_have_count(0)  # nothing to choose yet

    with admin.expect_navigation():
        admin.click("#nav-admin")
    member = admin.locator('tr.member[data-identifier="marie@example.fr"]')
    expect(member).to_have_attribute("data-status", "pending_approval")
    with admin.expect_navigation():
        member.locator('button[name="approve"]').click()
    expect(member).to_have_attribute("data-status", "active")

    marie.reload()
    expect(row).to_have_attribute("data-status", "active")
    with marie.expect_navigation():
        row.locator("button").click()
    expect_status(marie, "organisation.switched")
    expect(row).to_have_attribute("data-active", "1")
    with marie.expect_navigation():
        marie.click("#nav-home")
    expect(marie.locator("#account-organisation")).to_have_text(ORGANISATION)


def test_new_user_then_a_new_password_for_everybody(
    start_portal: Callable[..., Portal], person: Callable[[], Page]
) -> None:
    """DEFI: the administrator creates a user (temporary password shown once), then moves
    everybody to the new portal: old credentials stop working, a mailed link sets new ones."""
    portal = start_portal("defi")
    admin, paul = person(), person()
    admin_signed_in(admin, portal, ADMIN_PASSWORD)
    with admin.expect_navigation():
        admin.click("#nav-admin")
    submit(admin, "create-user-form", identifier="paul", email="paul@example.fr")
    expect_status(admin, "account.created")
    temporary = admin.locator("#temporary").inner_text()
    expect(admin.locator('tr.member[data-identifier="paul"]')).to_have_attribute(
        "data-status", "active"
    )
    admin.reload()
    expect(admin.locator("#temporary")).to_have_count(0)  # shown once

    submit(admin, "force-reset-form")
    expect_status(admin, "password_setup.sent")
    sign_in(paul, portal, "paul", temporary)
    expect_status(paul, "login.denied")  # the old credentials are void
    follow_mailed_link(paul, portal, "password_setup_link")
    submit(paul, "reset-open-form")
    expect_status(paul, "recovery.new_password")
    submit(paul, "new-password-form", new="Soleil2025!", confirm="Soleil2025!")
    expect_status(paul, "recovery.completed")
    sign_in(paul, portal, "paul", "Soleil2025!")
    expect(paul.locator("#signed-in-as")).to_have_attribute("data-identifier", "paul")
    admin.goto(portal.url + "/")  # the administrator was not moved
    expect(admin.locator("#signed-in-as")).to_have_attribute("data-identifier", ADMIN)


def test_administrator_deactivates_reactivates_and_unlocks_a_member(
    start_portal: Callable[..., Portal], person: Callable[[], Page]
) -> None:
    """DEFI: a member leaves (deactivated: the organisation stops being theirs at once) and
    comes back (reactivated: their session finds it again); then they lock themselves out and
    the administrator unlocks them from the members page."""
    portal = start_portal("defi")
    admin, paul = person(), person()
    admin_signed_in(admin, portal, ADMIN_PASSWORD)
    member_ready(portal, "paul", "Soleil2025!")
    sign_in(paul, portal, "paul", "Soleil2025!")
    expect(paul.locator("#account-organisation")).to_have_text(ORGANISATION)

    with admin.expect_navigation():
        admin.click("#nav-admin")
    member = admin.locator('tr.member[data-identifier="paul"]')
    with admin.expect_navigation():
        member.locator('button[name="deactivate"]').click()
    expect_status(admin, "membership.disabled")
    expect(member).to_have_attribute("data-status", "disabled")
    paul.reload()
    expect(paul.locator("#account-organisation")).to_have_text("Aucune organisation active.")

    with admin.expect_navigation():
        member.locator('button[name="reactivate"]').click()
    expect_status(admin, "membership.active")
    expect(member).to_have_attribute("data-status", "active")
    paul.reload()  # the same session finds its organisation again
    expect(paul.locator("#account-organisation")).to_have_text(ORGANISATION)
    sign_out(paul)

    for attempt in range(5):  # the lockout has a test of its own: set up directly
        assert not portal.cf.login("paul", f"Mauvais{attempt}!").ok
    with admin.expect_navigation():
        admin.click("#nav-admin")
    expect(member).to_have_attribute("data-lock", re.compile(r"^locked"))
    with admin.expect_navigation():
        member.locator('button[name="unlock"]').click()
    expect_status(admin, "unlock.done")
    expect(member.locator('button[name="unlock"]')).to_have_count(0)
    sign_in(paul, portal, "paul", "Soleil2025!")
    expect(paul.locator("#signed-in-as")).to_have_attribute("data-identifier", "paul")


def member_ready(portal: Portal, identifier: str, password: str) -> None:
    """A member the administrator created, past their first login (set up directly)."""
    cf = portal.cf
    admin, organisation = cf.accounts.find(ADMIN), cf.organisations.find(SIRET)
    assert admin is not None and organisation is not None
    created = cf.organisations.create_member(
        admin.id, organisation.id, identifier, email=f"{identifier}@example.fr"
    )
    login = cf.login(identifier, created.temporary_password)
    assert login.flow is not None
    done = cf.first_login.change_password(login.flow, password, password)
    assert done.status is StepStatus.COMPLETED, done.code
