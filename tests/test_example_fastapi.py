"""The FastAPI example (examples/fastapi/) through FastAPI's TestClient: login, the first login's
forced change, logout, the forgotten password by mailed link, the unlock link, CSRF and the
cookie flags."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from examples.fastapi.app import SESSION_COOKIE, build_credflow, create_app, seed
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from credflow import Credflow, FrozenClock, Outbox, Settings, hashing
from credflow.settings import RecoveryStep
from credflow.storage.memory import MemoryStorage

KEY = "fastapi-example-key-" + "k" * 32
BASE = "http://testserver"
GOOD, NEW = "correct horse battery staple", "another long passphrase here"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
STATUS = re.compile(r'id="status" data-code="([^"]+)"')
Page = Any  # the test client's response: httpx2's (Starlette ≥ 1.x) or httpx's


def make_cf(**overrides: Any) -> Credflow:
    values: dict[str, Any] = {"hashing": hashing.TESTING}
    values.update(overrides)
    return Credflow(
        storage=MemoryStorage(),
        settings=Settings.nist(secret_key=KEY, base_url=BASE, **values),
        notifier=Outbox(),
        clock=FrozenClock(),
    )


def browser(cf: Credflow, base_url: str = BASE, **options: Any) -> TestClient:
    return TestClient(create_app(cf, **options), base_url=base_url)


def submit(client: TestClient, action: str, **fields: str) -> Page:
    """Post a form as a browser would: with the CSRF token of the visitor's pages."""
    token = CSRF.search(client.get("/password/forgot").text)
    assert token is not None
    return client.post(action, data={"csrf": token.group(1), **fields}, follow_redirects=False)


def status(response: Page) -> str | None:
    found = STATUS.search(response.text)
    return found.group(1) if found else None


def cookie_header(response: Page, name: str) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(name + "=")]
    assert len(found) == 1, found
    return found[0]


def outbox(cf: Credflow) -> Outbox:
    assert isinstance(cf.notifier, Outbox)
    return cf.notifier


def link(cf: Credflow, kind: str) -> str:
    """The path and query of the newest mailed link of ``kind``."""
    message = outbox(cf).last(kind)
    assert message is not None
    parts = urlsplit(message.params["link"])
    return f"{parts.path}?{parts.query}"


def active(cf: Credflow, identifier: str = "adejoux") -> None:
    """An account past its first login, with the password GOOD."""
    created = cf.accounts.create(identifier, email=f"{identifier}@example.fr")
    flow = cf.login(identifier, created.temporary_password or "").flow
    assert cf.first_login.change_password(flow or "", GOOD, GOOD).ok
    outbox(cf).clear()


@pytest.mark.req("TP-03", "TP-04", "SS-03")
def test_first_login_forced_change_then_logout() -> None:
    cf = make_cf()
    temporary = cf.accounts.create("adejoux", email="a@example.fr").temporary_password or ""
    client = browser(cf)
    login = submit(client, "/login", identifier="adejoux", password=temporary)
    assert login.headers["location"] == "/first-login"
    assert SESSION_COOKIE not in client.cookies  # the restricted state carries no session
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    page = client.get("/first-login")
    assert status(page) == "action.change_password"
    assert "15" in page.text  # the policy's own sentence
    refused = submit(client, "/first-login", new="short", confirm="short")
    assert status(refused) == "password.policy_not_met"
    assert 'data-code="min_length"' in refused.text
    done = submit(client, "/first-login", new=GOOD, confirm=GOOD)
    assert done.headers["location"] == "/"
    token = client.cookies[SESSION_COOKIE]
    assert cf.sessions.validate(token) is not None
    assert 'id="identifier">adejoux<' in client.get("/").text
    assert client.get("/login", follow_redirects=False).headers["location"] == "/"
    out = submit(client, "/logout")
    assert out.headers["location"] == "/login"
    assert SESSION_COOKIE not in client.cookies
    assert cf.sessions.validate(token) is None  # ended in the store, not only in the browser
    client.cookies.set(SESSION_COOKIE, token)
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_cookie_flags(scheme: str) -> None:
    """Both cookies HttpOnly and SameSite=Lax; credflow's is Secure over HTTPS."""
    cf = make_cf()
    active(cf)
    client = browser(cf, base_url=f"{scheme}://testserver")
    flows = cookie_header(client.get("/login"), "flows").lower()
    login = submit(client, "/login", identifier="adejoux", password=GOOD)
    done = cookie_header(login, SESSION_COOKIE).lower()
    for header in (flows, done):
        assert "httponly" in header
        assert "samesite=lax" in header
    assert "; secure" not in flows  # Starlette's is Secure by create_app(https=True) only
    assert ("; secure" in done) is (scheme == "https")
    assert "max-age=43200" in done  # a lifetime, whatever the browser's clock says


def test_https_setting_marks_every_cookie_secure() -> None:
    cf = make_cf()
    active(cf)
    client = browser(cf, base_url="https://testserver", https=True)
    flows = cookie_header(client.get("/login"), "flows")
    done = submit(client, "/login", identifier="adejoux", password=GOOD)
    for header in (flows, cookie_header(done, SESSION_COOKIE)):
        assert "; secure" in header.lower()


@pytest.mark.req("LK-09")
def test_denied_login_says_the_same_for_every_reason() -> None:
    cf = make_cf()
    active(cf)
    client = browser(cf)
    pages = [
        submit(client, "/login", identifier=who, password=password)
        for who, password in (("adejoux", "wrong password"), ("nobody", GOOD))
    ]
    assert [p.status_code for p in pages] == [200, 200]
    assert pages[0].text == pages[1].text
    assert status(pages[0]) == "login.denied"
    assert SESSION_COOKIE not in client.cookies


def test_any_login_input_gives_a_page_not_an_error() -> None:
    client = browser(make_cf())

    @settings(max_examples=25, deadline=None)
    @given(identifier=st.text(max_size=80), password=st.text(max_size=200))
    def check(identifier: str, password: str) -> None:
        page = submit(client, "/login", identifier=identifier, password=password)
        assert page.status_code == 200
        assert status(page) == "login.denied"
        assert SESSION_COOKIE not in client.cookies

    check()


def test_every_form_needs_the_csrf_token() -> None:
    cf = make_cf()
    active(cf)
    client = browser(cf)
    client.get("/login")
    for data in ({}, {"csrf": "forged"}):
        posted = client.post("/login", data={"identifier": "adejoux", "password": GOOD, **data})
        assert posted.status_code == 403
    assert SESSION_COOKIE not in client.cookies
    assert client.post("/password/forgot", data={"value": "adejoux"}).status_code == 403
    assert outbox(cf).last("reset_link") is None


@pytest.mark.req("RS-01", "RS-05", "RS-14")
def test_forgotten_password_by_mailed_link() -> None:
    cf = make_cf()
    active(cf)
    client = browser(cf)
    assert status(client.get("/password/forgot")) is None
    pages = [submit(client, "/password/forgot", value=who) for who in ("nobody", "adejoux")]
    assert pages[0].text == pages[1].text  # the same page whether or not the account exists
    assert status(pages[0]) == "recovery.link_sent"
    assert len(outbox(cf).messages) == 1
    mailed = link(cf, "reset_link")
    landing = client.get(mailed, follow_redirects=False)
    assert landing.headers["location"] == "/reset/open"  # the token leaves the address bar
    assert "token" not in client.get("/reset/open").url.query.decode()
    opened = submit(client, "/reset/open")
    assert 'name="new"' in opened.text
    refused = submit(client, "/reset/password", new=NEW, confirm="not the same")
    assert status(refused) == "password.confirmation_differs"
    done = submit(client, "/reset/password", new=NEW, confirm=NEW)
    assert done.headers["location"] == "/login"  # no automatic login after a reset
    assert SESSION_COOKIE not in client.cookies
    assert status(client.get("/login")) == "recovery.completed"
    assert submit(client, "/login", identifier="adejoux", password=NEW).headers["location"] == "/"
    client.get(mailed)  # the same link again: used once, void now
    assert status(submit(client, "/reset/open")) == "recovery.link_invalid"


@pytest.mark.req("RS-04")
def test_expired_link_offers_a_fresh_one() -> None:
    cf = make_cf()
    active(cf)
    client = browser(cf)
    submit(client, "/password/forgot", value="adejoux")
    client.get(link(cf, "reset_link"))
    cf.clock.advance(601)  # type: ignore[attr-defined]
    expired = submit(client, "/reset/open")
    assert status(expired) == "recovery.link_expired"
    assert 'action="/reset/resend"' in expired.text
    assert status(submit(client, "/reset/resend")) == "recovery.link_resent"
    client.get(link(cf, "reset_link"))
    assert 'name="new"' in submit(client, "/reset/open").text


def test_reset_without_a_flow_goes_back_to_login() -> None:
    client = browser(make_cf())
    done = submit(client, "/reset/password", new=NEW, confirm=NEW)
    assert done.headers["location"] == "/login"
    assert status(client.get("/login")) == "recovery.invalid"


def test_login_after_reset_signs_in() -> None:
    cf = make_cf(recovery={"login_after_reset": True})
    active(cf)
    client = browser(cf)
    submit(client, "/password/forgot", value="adejoux")
    client.get(link(cf, "reset_link"))
    submit(client, "/reset/open")
    assert submit(client, "/reset/password", new=NEW, confirm=NEW).headers["location"] == "/"
    assert SESSION_COOKIE in client.cookies


@pytest.mark.req("LK-03")
def test_lockout_then_unlock_by_mailed_link() -> None:
    cf = make_cf()
    active(cf)
    client = browser(cf)
    for _ in range(5):
        submit(client, "/login", identifier="adejoux", password="wrong password")
    mailed = link(cf, "unlock_link")
    assert status(submit(client, "/login", identifier="adejoux", password=GOOD)) == "login.denied"
    assert client.get(mailed, follow_redirects=False).headers["location"] == "/unlock/open"
    assert 'action="/unlock/open"' in client.get("/unlock/open").text
    assert status(submit(client, "/unlock/open")) == "unlock.done"
    assert submit(client, "/login", identifier="adejoux", password=GOOD).headers["location"] == "/"


def test_expired_unlock_link_offers_a_fresh_one() -> None:
    cf = make_cf()
    active(cf)
    client = browser(cf)
    for _ in range(5):
        submit(client, "/login", identifier="adejoux", password="wrong password")
    client.get(link(cf, "unlock_link"))
    cf.clock.advance(cf.settings.lifetimes.unlock_link + 1)  # type: ignore[attr-defined]
    expired = submit(client, "/unlock/open")
    assert status(expired) == "unlock.expired"
    assert status(submit(client, "/unlock/resend")) == "unlock.resent"


def test_first_login_page_without_a_flow_goes_to_login() -> None:
    client = browser(make_cf())
    assert client.get("/first-login", follow_redirects=False).headers["location"] == "/login"


def test_first_login_expired_flow_starts_again() -> None:
    cf = make_cf()
    temporary = cf.accounts.create("adejoux", email="a@example.fr").temporary_password or ""
    client = browser(cf)
    submit(client, "/login", identifier="adejoux", password=temporary)
    cf.clock.advance(cf.settings.lifetimes.flow + 1)  # type: ignore[attr-defined]
    late = submit(client, "/first-login", new=GOOD, confirm=GOOD)
    assert late.headers["location"] == "/login"
    assert status(client.get("/login")) == "flow.expired"


@pytest.mark.parametrize(("reauthenticate", "target"), [(False, "/first-login"), (True, "/login")])
def test_first_login_with_a_further_action(reauthenticate: bool, target: str) -> None:
    """Classic settings also enrol a question: this example shows the step, the portal does it."""
    cf = Credflow(
        storage=MemoryStorage(),
        settings=Settings.classic(
            secret_key=KEY,
            base_url=BASE,
            hashing=hashing.TESTING,
            reauthenticate_after_password_change=reauthenticate,
        ),
        notifier=Outbox(),
        clock=FrozenClock(),
    )
    temporary = cf.accounts.create("adejoux", email="a@example.fr").temporary_password or ""
    client = browser(cf)
    submit(client, "/login", identifier="adejoux", password=temporary)
    step = submit(client, "/first-login", new="Bleu2024xyz", confirm="Bleu2024xyz")
    assert step.headers["location"] == target
    if not reauthenticate:
        assert "enroll_security_question" in client.get("/first-login").text


def test_other_recovery_steps_are_refused_up_front() -> None:
    cf = make_cf(recovery={"steps": [RecoveryStep.EMAIL_CODE]})
    with pytest.raises(ValueError, match="email_link"):
        create_app(cf)


def test_outbox_page_only_when_asked() -> None:
    cf = make_cf()
    active(cf)
    assert browser(cf).get("/outbox").status_code == 404
    client = browser(cf, outbox_page=True)
    submit(client, "/password/forgot", value="adejoux")
    assert "/reset?token=" in client.get("/outbox").text


def test_run_on_sqlite_with_the_seeded_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDFLOW_SECRET_KEY", KEY)
    cf = build_credflow(tmp_path / "demo.sqlite3", BASE, hashing=hashing.TESTING)
    temporary = seed(cf)
    assert temporary is not None
    assert seed(cf) is None  # once only
    client = browser(cf)
    submit(client, "/login", identifier="demo", password=temporary)
    assert submit(client, "/first-login", new=GOOD, confirm=GOOD).headers["location"] == "/"
    assert 'id="identifier">demo<' in client.get("/").text
