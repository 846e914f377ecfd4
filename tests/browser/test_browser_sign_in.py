"""Signing in, in Chromium, as a person would: the login page in both languages, the first
login (new password with the live checklist, then the security question), lockout and the
mailed unlock link, TOTP, and single sign-on across the two applications."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pyotp
import pytest
from examples.portal.seed import ADMIN, ADMIN_EMAIL
from tests.browser.harness import (
    Portal,
    admin_first_login,
    admin_ready,
    admin_signed_in,
    expect,
    expect_status,
    fill,
    follow_mailed_link,
    mailed_text,
    outbox,
    press,
    sign_in,
    sign_out,
    status,
    submit,
    temporary_password,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
NEW = "trois mots simples"


def test_login_page_in_french_then_english(
    start_portal: Callable[..., Portal], page: Page, screenshot: Callable[[Page, str], Path]
) -> None:
    portal = start_portal("sage")
    messages = portal.cf.messages
    page.goto(portal.url + "/")
    expect(page.locator("#login-form")).to_be_visible()  # signed-in pages send to the login
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("#page-title")).to_have_text("Connexion")
    fill(page, "login-form", identifier="a.dejoux", password="pas le bon")
    screenshot(page, "login")
    press(page, "login-form")
    expect_status(page, "login.denied")
    expect(status(page)).to_have_text(messages.render("login.denied", "fr"))

    with page.expect_navigation():
        page.click("#lang-en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#page-title")).to_have_text("Sign in")
    submit(page, "login-form", identifier="nobody", password="not the one")
    expect(status(page)).to_have_text(messages.render("login.denied", "en"))
    page.goto(portal.url + "/password/forgot")  # the choice is remembered
    expect(page.locator("html")).to_have_attribute("lang", "en")


@pytest.mark.req("PW-11", "TP-03")
def test_first_login_new_password_then_security_question(
    start_portal: Callable[..., Portal], page: Page, screenshot: Callable[[Page, str], Path]
) -> None:
    """Sigma: the identifier and the temporary password come in two mails; "password
    expired", a new one, back to the login page, then a question and its answer."""
    portal = start_portal("sigma")
    portal.cf.accounts.create("adejoux", email="a.dejoux@example.fr")
    identifier = mailed_text(page, portal, "identifier", part=".body strong")
    assert identifier == "adejoux"
    sign_in(page, portal, identifier, temporary_password(page, portal))
    expect_status(page, "action.change_password")
    expect(page.locator("#checklist li")).not_to_have_count(0)

    submit(page, "first-login-password-form", new="adejoux2024X", confirm="adejoux2024X")
    expect_status(page, "password.policy_not_met")
    expect(page.locator('#failures li[data-code="not_identifier"]')).to_be_visible()
    submit(page, "first-login-password-form", new="Bleu2024x", confirm="Bleu2024x")
    expect_status(page, "flow.reauthenticate")  # Sigma: sign in again with the new one
    expect(page.locator("#login-form")).to_be_visible()

    submit(page, "login-form", identifier="adejoux", password="Bleu2024x")
    expect(page.locator("#question-form")).to_be_visible()
    expect(page.locator("p.intro")).to_have_text(portal.cf.messages.render("answer.guidance", "fr"))
    fill(page, "question-form", question="Ma couleur préférée ?", answer="1234")
    screenshot(page, "question")
    press(page, "question-form")
    expect_status(page, "question.answer_not_met")
    submit(page, "question-form", question="Ma couleur préférée ?", answer="bleu marine")
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", "adejoux")
    expect(page.locator("#account-email")).to_have_text("a.dejoux@example.fr")


@pytest.mark.req("LK-04")
def test_lockout_after_five_wrong_passwords_then_unlock_by_mailed_link(
    start_portal: Callable[..., Portal], page: Page
) -> None:
    portal = start_portal("sage")
    admin_ready(portal, NEW)
    page.goto(portal.url + "/login")
    for attempt in range(5):
        submit(page, "login-form", identifier=ADMIN, password=f"mauvais {attempt}")
        expect_status(page, "login.denied")
    submit(page, "login-form", identifier=ADMIN, password=NEW)
    expect_status(page, "login.denied")  # locked: the right password is refused, silently

    with outbox(page, portal) as tab:
        mail = tab.locator('article.mail[data-kind="unlock_link"]')
        expect(mail).to_have_attribute("data-recipient", ADMIN_EMAIL)
    follow_mailed_link(page, portal, "unlock_link")
    assert "token" not in page.url  # the token left the address bar
    submit(page, "unlock-open-form")
    expect_status(page, "unlock.done")
    with page.expect_navigation():
        page.click("#link-login")
    submit(page, "login-form", identifier=ADMIN, password=NEW)
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", ADMIN)


@pytest.mark.req("OT-04")
def test_totp_enrolment_then_login_with_a_code(
    start_portal: Callable[..., Portal], page: Page, screenshot: Callable[[Page, str], Path]
) -> None:
    portal = start_portal("sage")
    admin_signed_in(page, portal, NEW)
    with page.expect_navigation():
        page.click("#nav-mfa")
    submit(page, "totp-begin-form")
    expect(page.locator("#totp-qr")).to_be_visible()
    screenshot(page, "totp")
    secret = page.locator("#totp-secret").inner_text()
    totp = pyotp.TOTP(secret)
    enrolment_code = totp.at(portal.clock.now())
    submit(page, "totp-confirm-form", code=enrolment_code)
    expect_status(page, "mfa.confirmed")
    recovery = page.locator("#recovery-codes li").all_inner_texts()
    assert len(recovery) == 10 and len(set(recovery)) == 10
    sign_out(page)

    submit(page, "login-form", identifier=ADMIN, password=NEW)
    expect(page.locator("#mfa-form")).to_be_visible()
    submit(page, "mfa-form", code=enrolment_code)  # a used time step never works twice
    expect_status(page, "mfa.code_wrong")
    portal.clock.advance(30)
    submit(page, "mfa-form", code=totp.at(portal.clock.now()))
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", ADMIN)
    expect(page.locator("#account-factors")).to_contain_text("totp")


@pytest.mark.req("SS-03")
def test_logout_of_one_application_ends_the_other(
    start_portal: Callable[..., Portal], page: Page
) -> None:
    portal = start_portal("sage", apps=2)
    docs, assistance = portal.served
    admin_first_login(page, portal, NEW)
    expect(page.locator("#app-name")).to_have_text("Portail documentaire")

    with page.expect_navigation():
        page.click("#nav-other-app")  # signed in there too, without typing anything
    assert page.url.startswith(assistance.url)
    expect(page.locator("#app-name")).to_have_text("Portail assistance")
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", ADMIN)

    sign_out(page)
    page.goto(docs.url + "/")
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#signed-in-as")).to_have_count(0)
    expect(page.locator("#app-name")).to_have_text("Portail documentaire")
