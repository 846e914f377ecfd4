"""Second factors in Chromium, on Sage (optional MFA): a phone enrolled with a code read from
the SMS outbox and a login with a code by SMS; a login with a recovery code in place of the
app; new recovery codes and turning the app off from the account page (in English)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pyotp
import pytest
from examples.portal.seed import ADMIN, ADMIN_EMAIL
from tests.browser.harness import (
    Portal,
    admin_ready,
    admin_signed_in,
    expect,
    expect_status,
    mailed_code,
    outbox,
    sign_in,
    sign_out,
    status,
    submit,
    totp_enrolled,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
PASSWORD = "trois mots simples"
PHONE = "+33612345678"


@pytest.mark.req("EV-06")
def test_sms_enrolment_then_login_with_a_code_by_sms(
    start_portal: Callable[..., Portal], page: Page
) -> None:
    """The phone is typed as people write it; its code comes by SMS (the outbox's ``sms``
    channel). At the next login the person asks for a code; a second request voids the first."""
    portal = start_portal("sage")
    admin_signed_in(page, portal, PASSWORD)
    with page.expect_navigation():
        page.click("#nav-mfa")
    submit(page, "sms-begin-form", phone="06 12 34 56 78")  # no country code
    expect_status(page, "input.phone")
    submit(page, "sms-begin-form", phone="+33 6 12 34 56 78")
    expect_status(page, "mfa.code_sent")
    with outbox(page, portal) as tab:
        sms = tab.locator('article.mail[data-kind="sms_code"]')
        expect(sms).to_have_attribute("data-channel", "sms")
        expect(sms).to_have_attribute("data-recipient", PHONE)
    submit(page, "sms-confirm-form", code=mailed_code(page, portal, "sms_code", PHONE))
    expect_status(page, "mfa.confirmed")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    sign_out(page)

    submit(page, "login-form", identifier=ADMIN, password=PASSWORD)
    expect(page.locator("p.intro")).to_contain_text("code reçu par SMS")
    submit(page, "mfa-sms-form")
    expect_status(page, "mfa.code_sent")
    first = mailed_code(page, portal, "sms_code", PHONE)
    submit(page, "mfa-sms-form")
    expect_status(page, "mfa.code_sent")
    second = mailed_code(page, portal, "sms_code", PHONE)
    if first != second:  # one chance in a million that they are equal
        submit(page, "mfa-form", code=first)
        expect_status(page, "mfa.code_wrong")
    submit(page, "mfa-form", code=second)
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", ADMIN)
    expect(page.locator("#account-factors")).to_contain_text("sms")


@pytest.mark.req("RC-03", "RC-06")
def test_login_with_a_recovery_code_in_place_of_the_app(
    start_portal: Callable[..., Portal], page: Page
) -> None:
    """The phone is lost: a recovery code, typed in lower case, signs the person in; the page
    and a mail say how many are left; the same code never works twice."""
    portal = start_portal("sage")
    admin_ready(portal, PASSWORD)
    _, codes = totp_enrolled(portal, ADMIN, PASSWORD)
    sign_in(page, portal, ADMIN, PASSWORD)
    expect(page.locator("p.intro")).to_contain_text("code de récupération")
    expect(page.locator("#mfa-sms-form")).to_have_count(0)  # no phone on this account
    submit(page, "mfa-form", code=codes[0].lower())
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", ADMIN)
    expect_status(page, "mfa.recovery_code_used")
    expect(status(page)).to_contain_text("9")
    with outbox(page, portal) as tab:
        notice = tab.locator('article.mail[data-kind="recovery_code_used"]')
        expect(notice).to_have_attribute("data-recipient", ADMIN_EMAIL)

    sign_out(page)
    submit(page, "login-form", identifier=ADMIN, password=PASSWORD)
    submit(page, "mfa-form", code=codes[0])
    expect_status(page, "mfa.code_wrong")
    expect(page.locator("#signed-in-as")).to_have_count(0)


@pytest.mark.req("RC-05", "OT-09")
def test_new_recovery_codes_then_the_app_turned_off_in_english(
    start_portal: Callable[..., Portal], page: Page
) -> None:
    """The account page, switched to English: new codes need the password and are shown once;
    the old codes stop working, so one of them cannot turn the app off, a new one can."""
    portal = start_portal("sage")
    admin_ready(portal, PASSWORD)
    secret, old = totp_enrolled(portal, ADMIN, PASSWORD)
    sign_in(page, portal, ADMIN, PASSWORD)
    submit(page, "mfa-form", code=pyotp.TOTP(secret).at(portal.clock.now()))
    with page.expect_navigation():
        page.click("#nav-mfa")
    with page.expect_navigation():
        page.click("#lang-en")
    expect(page.locator("#page-title")).to_have_text("Two-step verification")
    expect(page.locator("p.intro").nth(1)).to_have_text("Unused recovery codes: 10")

    submit(page, "regenerate-codes-form", password="not the one")
    expect_status(page, "mfa.password_wrong")
    expect(status(page)).to_have_text(portal.cf.messages.render("mfa.password_wrong", "en"))
    submit(page, "regenerate-codes-form", password=PASSWORD)
    expect_status(page, "mfa.recovery_codes")
    new = page.locator("#recovery-codes li").all_inner_texts()
    assert len(set(new)) == 10 and not set(new) & set(old)
    with page.expect_navigation():
        page.click("#nav-mfa")
    expect(page.locator("#recovery-codes")).to_have_count(0)  # shown once

    submit(page, "disable-totp-form", code=old[1])
    expect_status(page, "mfa.code_wrong")
    submit(page, "disable-totp-form", code=new[0])
    expect_status(page, "mfa.disabled")
    expect(page.locator("p.intro").first).to_have_text("Active factors: none")
    expect(page.locator("#totp-begin-form")).to_be_visible()
    with outbox(page, portal) as tab:
        expect(tab.locator('article.mail[data-kind="mfa_disabled"]')).to_have_count(1)
    sign_out(page)
    submit(page, "login-form", identifier=ADMIN, password=PASSWORD)  # no code asked now
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", ADMIN)
