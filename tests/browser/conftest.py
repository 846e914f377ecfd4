"""Fixtures of the browser tests: one headless Chromium for the session, a fresh browser
context (one person, their own cookies) per ``person()`` call, and portals that stop with the
test.

When Chromium or Playwright is missing the tests FAIL with the command that installs it; they
never skip. A page that answers 4xx/5xx, a script error on a page, or an exception inside the
portal fails the test too, even when the steps themselves went through.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.browser.harness import (
    SCREENSHOTS_ENV,
    TIMEOUT_MS,
    VIEWPORT,
    BrowserUnavailable,
    Portal,
    launch,
    start_playwright,
    take_screenshot,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Response


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright."""
    playwright = chromium = None
    missing = "Chromium did not start"
    try:
        playwright = start_playwright()
        chromium = launch(playwright)
    except BrowserUnavailable as error:
        missing = str(error)
    if chromium is None:  # fail outside the except block: one clear message, no chained one
        if playwright is not None:
            playwright.stop()
        pytest.fail(missing, pytrace=False)
    assert playwright is not None
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def start_portal(tmp_path: Path) -> Iterator[Callable[..., Portal]]:
    """``start_portal("sigma", apps=2)``: a portal on free ports, stopped after the test; an
    exception inside it fails the test."""
    started: list[Portal] = []

    def start(variant: str = "sage", *, apps: int = 1) -> Portal:
        portal = Portal(tmp_path / f"instance-{len(started)}", variant, apps).start()
        started.append(portal)
        return portal

    yield start
    for portal in started:
        portal.close()
    errors = [error for portal in started for error in portal.errors]
    assert not errors, f"the portal raised: {errors}"


@pytest.fixture
def person(browser: Browser) -> Iterator[Callable[[], Page]]:
    """``person()``: a new person at a French browser (own context and cookies), as a page;
    every tab they open is watched for failed requests and script errors."""
    contexts: list[BrowserContext] = []
    problems: list[str] = []

    def on_response(response: Response) -> None:
        path = response.url.split("?", 1)[0]
        if response.status >= 400 and not path.endswith("/favicon.ico"):
            problems.append(f"{response.status} {response.request.method} {path}")

    def make() -> Page:
        context = browser.new_context(viewport=VIEWPORT, locale="fr-FR")  # type: ignore[arg-type]
        context.set_default_timeout(TIMEOUT_MS)
        context.on("weberror", lambda error: problems.append(f"script error: {error.error}"))
        context.on("response", on_response)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    assert not problems, f"the browser saw: {problems}"


@pytest.fixture
def page(person: Callable[[], Page]) -> Page:
    """The person of a test that needs only one."""
    return person()


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Page, str], Path]:
    """``screenshot(page, "login")``: the page as the docs show it, as ``login.png`` in
    ``$CREDFLOW_SCREENSHOTS`` (``python -m tests.browser.screenshots`` points it at docs/images)
    or in the test's temporary folder; the PNG is checked either way."""
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "screenshots")
    return lambda page, name: take_screenshot(page, folder, name)
