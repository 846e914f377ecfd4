"""Recovery in Chromium, one test per portal's variant: a forgotten password by mailed link
(Sage), by security question (Sigma), by the sum, the question and a link that expires (ASP), by
a link then the question (Certigna); a forgotten identifier behind the arithmetic check (ASP)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from examples.portal.seed import ADMIN, ADMIN_EMAIL
from tests.browser.harness import (
    ANSWER,
    QUESTION,
    Portal,
    admin_ready,
    enrolled,
    expect,
    expect_status,
    fill,
    follow_mailed_link,
    mailed_text,
    outbox,
    press,
    sign_out,
    solve,
    status,
    submit,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


@pytest.mark.req("RS-01", "RS-05")
def test_forgot_password_by_mailed_link(start_portal: Callable[..., Portal], page: Page) -> None:
    """Sage: the page says the same whether the address is known; the link is mailed only when
    it is; the link leads to a new password, and the old one stops working."""
    portal = start_portal("sage")
    admin_ready(portal, "ancien mot de passe")
    page.goto(portal.url + "/login")
    with page.expect_navigation():
        page.click("#link-forgot-password")
    submit(page, "forgot-password-form", value="inconnu@example.fr")
    expect_status(page, "recovery.link_sent")
    unknown = status(page).inner_text()
    page.goto(portal.url + "/password/forgot")
    submit(page, "forgot-password-form", value=ADMIN_EMAIL)
    expect_status(page, "recovery.link_sent")
    assert status(page).inner_text() == unknown
    with outbox(page, portal) as tab:  # one link, to the known address only
        links = tab.locator('article.mail[data-kind="reset_link"]')
        expect(links).to_have_count(1)
        expect(links).to_have_attribute("data-recipient", ADMIN_EMAIL)

    follow_mailed_link(page, portal, "reset_link")
    assert "token" not in page.url
    submit(page, "reset-open-form")
    expect_status(page, "recovery.new_password")
    expect(page.locator("#checklist li")).not_to_have_count(0)
    submit(page, "new-password-form", new="nouveau mot de passe", confirm="nouveau mot de passe")
    expect(page.locator("#login-form")).to_be_visible()
    submit(page, "login-form", identifier=ADMIN, password="ancien mot de passe")
    expect_status(page, "login.denied")
    submit(page, "login-form", identifier=ADMIN, password="nouveau mot de passe")
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", ADMIN)

    sign_out(page)
    follow_mailed_link(page, portal, "reset_link")  # the same link, once more
    submit(page, "reset-open-form")
    expect_status(page, "recovery.link_invalid")
    expect(page.locator("#new-password-form")).to_have_count(0)


@pytest.mark.req("SQ-02", "SQ-06")
def test_forgot_password_by_security_question(
    start_portal: Callable[..., Portal], page: Page, screenshot: Callable[[Page, str], Path]
) -> None:
    """Sigma: identifier, then the question the person chose, then a new password."""
    portal = start_portal("sigma")
    enrolled(portal.cf, "adejoux", "a.dejoux@example.fr", "Bleu2024x")
    page.goto(portal.url + "/login")
    with page.expect_navigation():
        page.click("#link-forgot-password")
    submit(page, "forgot-password-form", value="adejoux")
    expect(page.locator("#question")).to_have_text(QUESTION)
    fill(page, "answer-form", answer="rouge")
    screenshot(page, "recovery")
    press(page, "answer-form")
    expect_status(page, "recovery.answer_wrong")
    expect(page.locator("#question")).to_have_text(QUESTION)
    submit(page, "answer-form", answer="Bleu  Marine")  # case and spaces do not matter
    expect_status(page, "recovery.new_password")
    submit(page, "new-password-form", new="Vert2025y", confirm="Vert2025y")
    expect(page.locator("#login-form")).to_be_visible()
    submit(page, "login-form", identifier="adejoux", password="Vert2025y")
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", "adejoux")


def test_forgot_identifier_with_the_arithmetic_check(
    start_portal: Callable[..., Portal], page: Page
) -> None:
    """ASP: email and the sum shown, then the security question; every identifier of that
    address comes by mail."""
    portal = start_portal("asp")
    for identifier in ("EK700962", "EK700963"):
        enrolled(portal.cf, identifier, "fsenez@example.fr", "Bleu2024x")
    page.goto(portal.url + "/login")
    with page.expect_navigation():
        page.click("#link-forgot-identifier")
    prompt = page.locator('label[for="forgot-identifier-form-human"]').inner_text()
    wrong = str(int(solve(prompt)) + 1)
    submit(page, "forgot-identifier-form", email="fsenez@example.fr", human=wrong)
    expect_status(page, "recovery.human_check_failed")

    prompt = page.locator('label[for="forgot-identifier-form-human"]').inner_text()
    submit(page, "forgot-identifier-form", email="fsenez@example.fr", human=solve(prompt))
    expect(page.locator("#question")).to_have_text(QUESTION)
    submit(page, "answer-form", answer=ANSWER)
    expect_status(page, "reminder.sent")
    body = mailed_text(page, portal, "identifier_reminder")
    assert "EK700962" in body and "EK700963" in body


@pytest.mark.req("RS-03", "RS-05")
def test_asp_forgot_password_check_question_then_link(
    start_portal: Callable[..., Portal], page: Page
) -> None:
    """ASP Ségur: identifier and the sum, the question, then a link valid 15 minutes; an
    expired link offers a new one, which leads to the new password."""
    portal = start_portal("asp")
    enrolled(portal.cf, "EK700962", "fsenez@example.fr", "Bleu2024x")
    page.goto(portal.url + "/login")
    with page.expect_navigation():
        page.click("#link-forgot-password")
    prompt = page.locator('label[for="forgot-password-form-human"]').inner_text()
    submit(page, "forgot-password-form", value="EK700962", human=solve(prompt))
    expect(page.locator("#question")).to_have_text(QUESTION)
    submit(page, "answer-form", answer=ANSWER)
    expect_status(page, "recovery.link_sent")
    expect(status(page)).to_contain_text("15 minutes")

    portal.clock.advance(16 * 60)
    follow_mailed_link(page, portal, "reset_link")
    submit(page, "reset-open-form")
    expect_status(page, "recovery.link_expired")
    submit(page, "reset-resend-form")
    expect_status(page, "recovery.link_resent")
    with outbox(page, portal) as tab:
        expect(tab.locator('article.mail[data-kind="reset_link"]')).to_have_count(2)
    follow_mailed_link(page, portal, "reset_link")  # the newest
    submit(page, "reset-open-form")
    expect_status(page, "recovery.new_password")
    submit(page, "new-password-form", new="Vert2025y", confirm="Vert2025y")
    expect(page.locator("#login-form")).to_be_visible()
    submit(page, "login-form", identifier="EK700962", password="Vert2025y")
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", "EK700962")


@pytest.mark.req("SQ-02")
def test_certigna_forgot_password_link_then_question(
    start_portal: Callable[..., Portal], page: Page
) -> None:
    """Certigna: the identifier, a mailed link, then the question the person chose, then the
    new password."""
    portal = start_portal("certigna")
    enrolled(portal.cf, "EK700962", "fsenez@example.fr", "Bleu2024x")
    page.goto(portal.url + "/login")
    with page.expect_navigation():
        page.click("#link-forgot-password")
    expect(page.locator("#forgot-password-form-human")).to_have_count(0)  # no sum here
    submit(page, "forgot-password-form", value="EK700962")
    expect_status(page, "recovery.link_sent")
    follow_mailed_link(page, portal, "reset_link")
    submit(page, "reset-open-form")
    expect(page.locator("#question")).to_have_text(QUESTION)
    submit(page, "answer-form", answer="rouge")
    expect_status(page, "recovery.answer_wrong")
    submit(page, "answer-form", answer=ANSWER)
    expect_status(page, "recovery.new_password")
    submit(page, "new-password-form", new="Soleil2025", confirm="Soleil2025")
    expect(page.locator("#login-form")).to_be_visible()
    submit(page, "login-form", identifier="EK700962", password="Soleil2025")
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", "EK700962")
