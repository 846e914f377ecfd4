"""The example portal in a real browser: served on free loopback ports, driven in Chromium.

``Portal`` starts one application of ``examples/portal`` (two for single sign-on) with
werkzeug's ``make_server`` in threads, on one ``MemoryStorage``, one ``FrozenClock`` started at
the real time (cookies carry expiry dates a browser checks against its own clock) and a fresh
instance folder. ``launch`` opens Debian's Chromium (``/usr/bin/chromium``) through Playwright;
Playwright's own browser downloads are never used. The helpers below do what a person does:
fill a form and press its button, read a code or follow a link on the ``/outbox`` page.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyotp
from examples.portal import create_app
from examples.portal.seed import ADMIN, seed
from flask import Flask, got_request_exception
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from credflow import Credflow, FrozenClock, LoginStatus, MfaStatus, StepStatus, hashing
from credflow.storage.memory import MemoryStorage

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, LocatorAssertions, Page, Playwright

CHROMIUM_ENV = "CREDFLOW_CHROMIUM"
CHROMIUM = os.environ.get(CHROMIUM_ENV, "/usr/bin/chromium")
#: The closed network refuses Chromium's background connections: switch them all off.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1000, "height": 700}
#: How long a step may wait for a page or an element before the test fails (milliseconds).
TIMEOUT_MS = 10_000
#: ``python -m tests.browser.screenshots`` sets it to docs/images; else a temporary folder.
SCREENSHOTS_ENV = "CREDFLOW_SCREENSHOTS"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SECRET = "browser-test-secret-" + "y" * 32
QUESTION = "Ma couleur préférée ?"
ANSWER = "bleu marine"
APPS = (
    ("Portail documentaire", "portal_documentaire"),
    ("Portail assistance", "portal_assistance"),
)


class BrowserUnavailable(RuntimeError):
    """Chromium or Playwright is missing; the message says how to install it."""


def launch(playwright: Playwright) -> Browser:
    """Debian's headless Chromium, or BrowserUnavailable with the command that installs it."""
    if not os.access(CHROMIUM, os.X_OK):
        raise BrowserUnavailable(
            f"Chromium not found at {CHROMIUM}: run `sh scripts/ensure-chromium.sh` (as root; "
            f"`make test` does it) or point {CHROMIUM_ENV} at a Chromium binary. "
            "The browser tests never skip."
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def start_playwright() -> Playwright:
    """Playwright's driver, or BrowserUnavailable saying how to install the package."""
    try:
        from playwright.sync_api import expect as playwright_expect
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise BrowserUnavailable(
            "the playwright package is missing: `.venv/bin/pip install playwright` (it is in "
            "the `browser` dependency group, which `make test` installs). Only the Python "
            "package is needed: the tests use Debian's Chromium, not `playwright install`."
        ) from error
    playwright_expect.set_options(timeout=TIMEOUT_MS)  # assertions wait as long as steps
    return sync_playwright().start()


class _Silent(WSGIRequestHandler):
    """No request log lines: mailed links carry their token in the query string."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class _Later:
    """A WSGI application set after the server is bound, once its port (and so the base URL
    written into mailed links) is known."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None
        return self.app(environ, start_response)


@dataclass
class Served:
    """One running application of the portal."""

    app: Flask
    url: str
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def cf(self) -> Credflow:
        cf = self.app.extensions["credflow"]
        assert isinstance(cf, Credflow)
        return cf


@dataclass
class Portal:
    """The portal (``variant`` of ``examples/portals/``) on 127.0.0.1; ``apps=2`` serves the two
    applications of the single sign-on on two ports, sharing the store, clock and outbox."""

    instance: Path
    variant: str = "sage"
    apps: int = 1
    clock: FrozenClock = field(default_factory=lambda: FrozenClock(datetime.now(UTC)))
    storage: MemoryStorage = field(default_factory=MemoryStorage)
    served: list[Served] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def start(self) -> Portal:
        later = [_Later() for _ in range(self.apps)]
        servers = [
            make_server("127.0.0.1", 0, hook, threaded=True, request_handler=_Silent)
            for hook in later
        ]
        urls = [f"http://127.0.0.1:{server.port}" for server in servers]
        for index, (hook, server) in enumerate(zip(later, servers, strict=True)):
            name, cookie = APPS[index]
            hook.app = create_app(
                {
                    "PORTAL": self.variant,
                    "APP_NAME": name,
                    "SESSION_COOKIE_NAME": cookie,
                    "BASE_URL": urls[index],
                    "OTHER_APP_URL": urls[1 - index] + "/" if self.apps == 2 else None,
                    "INSTANCE": self.instance,
                    "SECRET": SECRET,
                    "STORAGE": self.storage,
                    "CLOCK": self.clock,
                    "CREDFLOW_OVERRIDES": {"hashing": hashing.TESTING},
                    "SEND_FILE_MAX_AGE_DEFAULT": 3600,  # the stylesheet once, not per page
                }
            )
            got_request_exception.connect(self._record, hook.app, weak=False)
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self.served.append(Served(hook.app, urls[index], server, thread))
        return self

    def _record(self, sender: Flask, exception: BaseException, **extra: Any) -> None:
        self.errors.append(f"{sender.config['APP_NAME']}: {type(exception).__name__}")
        logging.getLogger(__name__).error("portal error", exc_info=exception)

    def close(self) -> None:
        for one in self.served:
            one.server.shutdown()
            one.server.server_close()
            one.thread.join(timeout=5)
            one.app.extensions["portal_outbox"].close()

    @property
    def url(self) -> str:
        """The first application's address (``http://127.0.0.1:PORT``)."""
        return self.served[0].url

    @property
    def cf(self) -> Credflow:
        """The portal's Credflow, for setting up what a test is not about."""
        return self.served[0].cf


# -- what a person does ------------------------------------------------------------------------


def expect(locator: Locator) -> LocatorAssertions:
    """Playwright's waiting assertions (imported late: a missing package is told at launch)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def fill(page: Page, form_id: str, **values: str) -> None:
    """Type ``values`` into the inputs ``{form_id}-{name}`` of a form."""
    for name, value in values.items():
        page.fill(f"#{form_id}-{name}", value)


def press(page: Page, form_id: str) -> None:
    """Press the form's button ``{form_id}-submit`` and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(f"#{form_id}-submit")


def submit(page: Page, form_id: str, **values: str) -> None:
    """Fill a form and press its button."""
    fill(page, form_id, **values)
    press(page, form_id)


def status(page: Page) -> Locator:
    """The status line: ``data-code`` is the stable code, its text credflow's message."""
    return page.locator("#status")


@contextmanager
def outbox(page: Page, portal: Portal) -> Iterator[Page]:
    """The ``/outbox`` page, fresh, in a second tab of the same browser that stays open (as a
    person keeps their mailbox beside the portal); ``page`` stays where it is."""
    box = portal.url + "/outbox"
    tabs = [tab for tab in page.context.pages if tab is not page and tab.url.startswith(box)]
    tab = tabs[0] if tabs else page.context.new_page()
    tab.bring_to_front()  # a hidden tab gets no animation frames: switch tabs as a person does
    tab.goto(box)
    try:
        yield tab
    finally:
        page.bring_to_front()


def _mail(tab: Page, kind: str, recipient: str | None) -> Locator:
    selector = f'article.mail[data-kind="{kind}"]'
    if recipient is not None:
        selector += f'[data-recipient="{recipient}"]'
    mail = tab.locator(selector).first
    mail.wait_for()
    return mail


def mailed_text(
    page: Page, portal: Portal, kind: str, recipient: str | None = None, part: str = ".body"
) -> str:
    """The text of ``part`` of the newest mail (or SMS) of ``kind`` (to ``recipient``)."""
    with outbox(page, portal) as tab:
        return _mail(tab, kind, recipient).locator(part).first.inner_text()


def mailed_code(page: Page, portal: Portal, kind: str, recipient: str | None = None) -> str:
    """The 6-digit code of the newest mail of ``kind``, read on the outbox page."""
    found = re.search(r"\b(\d{6})\b", mailed_text(page, portal, kind, recipient))
    assert found, f"no code in the {kind} mail"
    return found.group(1)


def follow_mailed_link(page: Page, portal: Portal, kind: str) -> None:
    """Open, in ``page``, the tokened link of the newest mail of ``kind`` on the outbox."""
    with outbox(page, portal) as tab:
        href = _mail(tab, kind, None).locator('a[href*="token="]').first.get_attribute("href")
    assert href is not None and href.startswith(portal.url)
    page.goto(href)


def solve(prompt: str) -> str:
    """The answer to the arithmetic check, read from its label ("Vérification : 3 + 4 = ?")."""
    found = re.search(r"(\d+) \+ (\d+) = \?", prompt)
    assert found, f"no sum in {prompt!r}"
    return str(int(found.group(1)) + int(found.group(2)))


def statuses(page: Page) -> dict[str, str]:
    """The live checklist as shown: rule code -> passed, failed or skipped."""
    items = page.locator("#checklist li").evaluate_all(
        "items => items.map(li => [li.dataset.code, li.dataset.status])"
    )
    return dict(items)


def wait_for_checklist(page: Page, expected: dict[str, str]) -> None:
    """Wait until every rule of the checklist shows the ``expected`` status."""
    page.wait_for_function(
        """expected => {
            const shown = {};
            document.querySelectorAll('#checklist li').forEach(
                li => { shown[li.dataset.code] = li.dataset.status; });
            const codes = Object.keys(expected);
            return codes.length === Object.keys(shown).length
                && codes.every(code => shown[code] === expected[code]);
        }""",
        arg=expected,
    )


def expect_status(page: Page, code: str) -> None:
    """Wait until the status line shows ``code``."""
    expect(status(page)).to_have_attribute("data-code", code)


def sign_in(page: Page, portal: Portal, identifier: str, password: str) -> None:
    """Open the login page of the first application and sign in."""
    page.goto(portal.url + "/login")
    submit(page, "login-form", identifier=identifier, password=password)


def temporary_password(page: Page, portal: Portal, recipient: str | None = None) -> str:
    """The temporary password of the newest ``temporary_password`` mail on the outbox page."""
    return mailed_text(page, portal, "temporary_password", recipient, ".body code")


def admin_ready(portal: Portal, password: str) -> None:
    """The demo's administrator (``seed``) past the first login with ``password``, set up
    directly, for tests about what comes after (the first login has tests of its own)."""
    seeded = seed(portal.cf)
    assert seeded.temporary_password is not None
    login = portal.cf.login(ADMIN, seeded.temporary_password)
    assert login.flow is not None
    step = portal.cf.first_login.change_password(login.flow, password, password)
    assert step.status is StepStatus.COMPLETED, step.code


def admin_signed_in(page: Page, portal: Portal, password: str) -> None:
    """``admin_ready``, then the administrator signs in through the login page."""
    admin_ready(portal, password)
    sign_in(page, portal, ADMIN, password)
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", ADMIN)


def admin_first_login(page: Page, portal: Portal, new: str) -> None:
    """The demo's administrator (``seed``) takes the temporary password from the outbox, signs
    in and chooses ``new`` (portals whose first login is the password change alone)."""
    seed(portal.cf)
    sign_in(page, portal, ADMIN, temporary_password(page, portal))
    expect_status(page, "action.change_password")
    submit(page, "first-login-password-form", new=new, confirm=new)
    expect(page.locator("#signed-in-as")).to_have_attribute("data-identifier", ADMIN)


def sign_out(page: Page) -> None:
    """Press the header's logout button."""
    with page.expect_navigation():
        page.click("#logout-submit")
    expect(page.locator("#login-form")).to_be_visible()


def enrolled(cf: Credflow, identifier: str, email: str, password: str) -> None:
    """An account past its first login (new password, then the question), set up directly:
    these tests are about what comes after."""
    created = cf.accounts.create(identifier, email=email)
    assert created.temporary_password is not None
    login = cf.login(identifier, created.temporary_password)
    assert login.status is LoginStatus.ACTION_REQUIRED and login.flow is not None
    step = cf.first_login.change_password(login.flow, password, password)
    if step.status is StepStatus.REAUTHENTICATE:
        login = cf.login(identifier, password)
        assert login.flow is not None
        flow = login.flow
    else:
        assert step.flow is not None
        flow = step.flow
    done = cf.first_login.enroll_question(flow, QUESTION, ANSWER)
    assert done.status is StepStatus.COMPLETED


def totp_enrolled(portal: Portal, identifier: str, password: str) -> tuple[str, tuple[str, ...]]:
    """An authenticator app enrolled for a ready account, set up directly (the enrolment has
    a test of its own); returns its key and the ten recovery codes. The clock moves a step on,
    so the enrolment's code is not the current one any more."""
    cf = portal.cf
    login = cf.login(identifier, password)
    assert login.session is not None, login.code
    setup = cf.mfa.begin_totp(login.session)
    assert setup.secret is not None
    code = pyotp.TOTP(setup.secret).at(portal.clock.now())
    done = cf.mfa.confirm_totp(login.session, code)
    assert done.status is MfaStatus.COMPLETED, done.code
    cf.sessions.revoke(login.session.token)
    portal.clock.advance(30)
    return setup.secret, done.recovery_codes


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking the signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def take_screenshot(page: Page, folder: Path, name: str) -> Path:
    """Save the visible page as ``folder/name.png`` (the viewport, 1000x700) and check it."""
    folder.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover effect in the picture
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    assert png_size(path) == (VIEWPORT["width"], VIEWPORT["height"])
    return path
