"""A person's own account in Chromium: the live checklist as they type (DEFI), registration
with the emailed code (Sage), email change confirmed from the new address (Sage), switching
organisation without signing in again (DEFI), and the password change of the login page
(Sigma)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from examples.portal.seed import ADMIN, ADMIN_EMAIL, ORGANISATION, seed
from tests.browser.harness import (
    Portal,
    admin_signed_in,
    enrolled,
    expect,
    expect_status,
    mailed_code,
    outbox,
    sign_in,
    statuses,
    submit,
    temporary_password,
    wait_for_checklist,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
OTHER_SIRET = "44306184100005"


@pytest.mark.req("PW-09", "PW-13")
def test_checklist_updates_as_one_types(
    start_portal: Callable[..., Portal], page: Page, screenshot: Callable[[Page, str], Path]
) -> None:
    """DEFI's live checklist on the first-login page: after every character, the rules shown
    are credflow's evaluation of what has been typed so far."""
    portal = start_portal("defi")
    seed(portal.cf)
    sign_in(page, portal, ADMIN, temporary_password(page, portal))
    expect_status(page, "action.change_password")
    rules = ("min_length", "digit", "uppercase", "special")
    assert {code: statuses(page)[code] for code in rules} == dict.fromkeys(rules, "failed")

    typed, shown = "", []
    box = page.locator("#first-login-password-form-new")
    for char in "bleu2024$X":
        typed += char
        with page.expect_response(lambda r: r.url.endswith("/checklist")):
            box.press_sequentially(char)
        report = portal.cf.policy.evaluate(typed, identifier=ADMIN, locale="fr")
        wait_for_checklist(page, {r.code: r.status.value for r in report.results})
        shown.append(statuses(page))
        if typed == "bleu2024":  # halfway: two rules met, two not yet
            screenshot(page, "checklist")
    first_passed = {
        code: next(i for i, s in enumerate(shown) if s[code] == "passed") for code in rules
    }
    # typed:         b  l  e  u  2  0  2  4  $  X
    assert first_passed == {"digit": 4, "min_length": 7, "special": 8, "uppercase": 9}
    expect(page.locator("#checklist")).to_have_attribute("data-ok", "1")
    expect(page.locator('#checklist li[data-code="special"]')).to_have_class("rule rule-passed")

    page.fill("#first-login-password-form-confirm", typed)
    with page.expect_navigation():
        page.click("#first-login-password-form-submit")
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", ADMIN)


@pytest.mark.req("EV-06")
def test_registration_with_the_emailed_code(
    start_portal: Callable[..., Portal], page: Page
) -> None:
    """Sage: email and password, a 6-digit code by mail; a resend voids the first code; the
    right code signs the person in."""
    portal = start_portal("sage")
    page.goto(portal.url + "/login")
    with page.expect_navigation():
        page.click("#link-register")
    password = "trois mots simples"
    submit(page, "register-form", email="marie@example.fr", password=password, confirm=password)
    expect_status(page, "registration.code_sent")
    first = mailed_code(page, portal, "email_verification_code", "marie@example.fr")

    submit(page, "registration-resend-form")
    expect_status(page, "registration.code_resent")
    second = mailed_code(page, portal, "email_verification_code", "marie@example.fr")
    if first != second:  # one chance in a million that they are equal
        submit(page, "registration-code-form", code=first)
        expect_status(page, "registration.code_wrong")
    submit(page, "registration-code-form", code=second)
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", "marie@example.fr")
    expect(page.locator("#account-email")).to_have_text("marie@example.fr")


@pytest.mark.req("EV-08")
def test_email_change_confirmed_from_the_new_address(
    start_portal: Callable[..., Portal], page: Page
) -> None:
    """Sage: the current password, then a code sent to the new address; the old address gets a
    notice once the change is done."""
    portal = start_portal("sage")
    password = "trois mots simples"
    admin_signed_in(page, portal, password)
    with page.expect_navigation():
        page.click("#nav-email")
    expect(page.locator("p.intro")).to_have_text(ADMIN_EMAIL)
    submit(page, "email-form", new_email="nouvelle@example.fr", password="pas le bon")
    expect_status(page, "email_change.password_wrong")
    submit(page, "email-form", new_email="nouvelle@example.fr", password=password)
    expect_status(page, "email_change.code_sent")
    code = mailed_code(page, portal, "email_verification_code", "nouvelle@example.fr")
    submit(page, "email_change-code-form", code=code)
    expect(page.locator("#account-email")).to_have_text("nouvelle@example.fr")
    with outbox(page, portal) as tab:
        notice = tab.locator('article.mail[data-kind="email_change_notice"]')
        expect(notice).to_have_attribute("data-recipient", ADMIN_EMAIL)


def test_switching_organisation_without_signing_in_again(
    start_portal: Callable[..., Portal], page: Page
) -> None:
    """DEFI: a person in two client organisations picks the one they work for."""
    portal = start_portal("defi")
    cf = portal.cf
    admin_signed_in(page, portal, "Nouveau2024$")
    me = cf.accounts.find(ADMIN)
    assert me is not None
    other = cf.organisations.sign_up(
        "Autre SA", OTHER_SIRET, identifier="autre", email="autre@example.fr"
    )
    cf.organisations.add_member(other.account.id, other.organisation.id, me.id)
    expect(page.locator("#account-organisation")).to_have_text(ORGANISATION)

    with page.expect_navigation():
        page.click("#nav-organisations")
    rows = page.locator("tr.organisation")
    expect(rows).to_have_count(2)
    chosen = page.locator(f'tr.organisation[data-organisation="{other.organisation.id}"]')
    expect(chosen).to_have_attribute("data-active", "0")
    submit(page, f"switch-{other.organisation.id}")
    expect_status(page, "organisation.switched")
    expect(chosen).to_have_attribute("data-active", "1")
    with page.expect_navigation():
        page.click("#nav-home")
    expect(page.locator("#account-organisation")).to_have_text("Autre SA")


@pytest.mark.req("PC-01")
def test_password_change_from_the_login_page(
    start_portal: Callable[..., Portal], page: Page
) -> None:
    """Sigma: identifier, old password, new one and its confirmation, without signing in."""
    portal = start_portal("sigma")
    enrolled(portal.cf, "adejoux", "a.dejoux@example.fr", "Bleu2024x")
    page.goto(portal.url + "/login")
    with page.expect_navigation():
        page.click("#link-change-password")
    values = {"identifier": "adejoux", "new": "Vert2025y", "confirm": "Vert2025y"}
    submit(page, "change-password-form", old="Faux2024x", **values)
    expect_status(page, "password.old_wrong")
    submit(page, "change-password-form", old="Bleu2024x", **values)
    expect(page.locator("#login-form")).to_be_visible()
    submit(page, "login-form", identifier="adejoux", password="Vert2025y")
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", "adejoux")
