"""The Django example (examples/django/) through django.test.Client with CSRF checks on: login,
the first login's forced change, logout, the forgotten password by mailed link, the unlock link
and the cookie flags. Django is configured here, once; each test overrides its settings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import django
import pytest
from django.conf import settings as django_conf
from django.http import HttpResponse
from django.test import Client, override_settings
from examples.django.app import SESSION_COOKIE, build_credflow, django_settings, seed
from hypothesis import given, settings
from hypothesis import strategies as st

from credflow import Credflow, FrozenClock, Outbox, Settings, hashing
from credflow.settings import RecoveryStep
from credflow.storage.memory import MemoryStorage

KEY = "django-example-key-" + "k" * 32
BASE = "http://testserver"
GOOD, NEW = "correct horse battery staple", "another long passphrase here"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
STATUS = re.compile(r'id="status" data-code="([^"]+)"')


def make_cf(**overrides: Any) -> Credflow:
    values: dict[str, Any] = {"hashing": hashing.TESTING}
    values.update(overrides)
    return Credflow(
        storage=MemoryStorage(),
        settings=Settings.nist(secret_key=KEY, base_url=BASE, **values),
        notifier=Outbox(),
        clock=FrozenClock(),
    )


@pytest.fixture(scope="module", autouse=True)
def configured() -> None:
    """``settings.configure`` runs once per process; the tests override what they need."""
    if not django_conf.configured:
        django_conf.configure(**django_settings(make_cf(), allowed_hosts=["testserver"]))
        django.setup()


@contextmanager
def site(cf: Credflow, **options: Any) -> Iterator[Client]:
    with override_settings(**django_settings(cf, allowed_hosts=["testserver"], **options)):
        yield Client(enforce_csrf_checks=True)


def submit(client: Client, action: str, *, secure: bool = False, **fields: str) -> HttpResponse:
    """Post a form as a browser would: with the CSRF token of the visitor's pages."""
    token = CSRF.search(client.get("/password/forgot", secure=secure).text)
    assert token is not None
    data = {"csrfmiddlewaretoken": token.group(1), **fields}
    headers = {"Referer": "https://testserver/"} if secure else {}
    return client.post(action, data, secure=secure, headers=headers)  # type: ignore[return-value]


def status(response: HttpResponse) -> str | None:
    found = STATUS.search(response.text)
    return found.group(1) if found else None


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


def signed_in(client: Client) -> bool:
    cookie = client.cookies.get(SESSION_COOKIE)
    return cookie is not None and bool(cookie.value)


@pytest.mark.req("TP-03", "TP-04", "SS-03")
def test_first_login_forced_change_then_logout() -> None:
    cf = make_cf()
    temporary = cf.accounts.create("adejoux", email="a@example.fr").temporary_password or ""
    with site(cf) as client:
        login = submit(client, "/login", identifier="adejoux", password=temporary)
        assert login["Location"] == "/first-login"
        assert not signed_in(client)  # the restricted state carries no session
        assert client.get("/")["Location"] == "/login"
        page = client.get("/first-login")
        assert status(page) == "action.change_password"
        refused = submit(client, "/first-login", new="short", confirm="short")
        assert status(refused) == "password.policy_not_met"
        assert 'data-code="min_length"' in refused.text
        done = submit(client, "/first-login", new=GOOD, confirm=GOOD)
        assert done["Location"] == "/"
        token = client.cookies[SESSION_COOKIE].value
        assert cf.sessions.validate(token) is not None
        assert 'id="identifier">adejoux<' in client.get("/").text
        assert client.get("/login")["Location"] == "/"
        assert submit(client, "/logout")["Location"] == "/login"
        assert not signed_in(client)
        assert cf.sessions.validate(token) is None  # ended in the store, not only the browser
        client.cookies[SESSION_COOKIE] = token
        assert client.get("/")["Location"] == "/login"


def first_login_cookies(client: Client, cf: Credflow, secure: bool) -> list[Any]:
    """The cookies a first login sets: the flows session, the CSRF token, credflow's session."""
    temporary = cf.accounts.create("adejoux", email="a@example.fr").temporary_password or ""
    login = submit(client, "/login", secure=secure, identifier="adejoux", password=temporary)
    done = submit(client, "/first-login", secure=secure, new=GOOD, confirm=GOOD)
    assert done["Location"] == "/"
    return [login.cookies["flows"], client.cookies["csrftoken"], done.cookies[SESSION_COOKIE]]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_cookie_flags(scheme: str) -> None:
    """Every cookie HttpOnly and SameSite=Lax; credflow's is Secure over HTTPS."""
    cf = make_cf()
    with site(cf) as client:
        flows, csrf, ours = first_login_cookies(client, cf, secure=scheme == "https")
    for cookie in (flows, csrf, ours):
        assert cookie["httponly"]
        assert cookie["samesite"] == "Lax"
    assert not flows["secure"]  # Django's are Secure by django_settings(https=True) only
    assert bool(ours["secure"]) is (scheme == "https")
    assert ours["max-age"] == 43200  # a lifetime, whatever the browser's clock says


def test_https_setting_marks_every_cookie_secure() -> None:
    cf = make_cf()
    with site(cf, https=True) as client:
        for cookie in first_login_cookies(client, cf, secure=True):
            assert cookie["secure"]


@pytest.mark.req("LK-09")
def test_denied_login_says_the_same_for_every_reason() -> None:
    cf = make_cf()
    active(cf)
    with site(cf) as client:
        pages = [
            submit(client, "/login", identifier=who, password=password)
            for who, password in (("adejoux", "wrong password"), ("nobody", GOOD))
        ]
        assert [p.status_code for p in pages] == [200, 200]
        # The same page but for the CSRF token, which Django masks anew on every page.
        assert CSRF.sub("", pages[0].text) == CSRF.sub("", pages[1].text)
        assert status(pages[0]) == "login.denied"
        assert not signed_in(client)


def test_any_login_input_gives_a_page_not_an_error() -> None:
    with site(make_cf()) as client:

        @settings(max_examples=25, deadline=None)
        @given(identifier=st.text(max_size=80), password=st.text(max_size=200))
        def check(identifier: str, password: str) -> None:
            page = submit(client, "/login", identifier=identifier, password=password)
            assert page.status_code == 200
            assert status(page) == "login.denied"

        check()


def test_every_form_needs_the_csrf_token() -> None:
    cf = make_cf()
    active(cf)
    with site(cf) as client:
        client.get("/login")
        for extra in ({}, {"csrfmiddlewaretoken": "forged" * 6}):
            posted = client.post("/login", {"identifier": "adejoux", "password": GOOD, **extra})
            assert posted.status_code == 403
        assert not signed_in(client)
        assert client.post("/password/forgot", {"value": "adejoux"}).status_code == 403
        assert outbox(cf).last("reset_link") is None


@pytest.mark.req("RS-01", "RS-05", "RS-14")
def test_forgotten_password_by_mailed_link() -> None:
    cf = make_cf()
    active(cf)
    with site(cf) as client:
        pages = [submit(client, "/password/forgot", value=who) for who in ("nobody", "adejoux")]
        assert pages[0].text == pages[1].text  # the same page whether or not the account exists
        assert status(pages[0]) == "recovery.link_sent"
        assert len(outbox(cf).messages) == 1
        mailed = link(cf, "reset_link")
        assert client.get(mailed)["Location"] == "/reset/open"  # the token leaves the URL
        assert 'action="/reset/open"' in client.get("/reset/open").text
        opened = submit(client, "/reset/open")
        assert 'name="new"' in opened.text
        refused = submit(client, "/reset/password", new=NEW, confirm="not the same")
        assert status(refused) == "password.confirmation_differs"
        done = submit(client, "/reset/password", new=NEW, confirm=NEW)
        assert done["Location"] == "/login"  # no automatic login after a reset
        assert not signed_in(client)
        assert status(client.get("/login")) == "recovery.completed"
        assert submit(client, "/login", identifier="adejoux", password=NEW)["Location"] == "/"
        client.get(mailed)  # the same link again: used once, void now
        assert status(submit(client, "/reset/open")) == "recovery.link_invalid"


@pytest.mark.req("RS-04")
def test_expired_link_offers_a_fresh_one() -> None:
    cf = make_cf()
    active(cf)
    with site(cf) as client:
        submit(client, "/password/forgot", value="adejoux")
        client.get(link(cf, "reset_link"))
        cf.clock.advance(601)  # type: ignore[attr-defined]
        expired = submit(client, "/reset/open")
        assert status(expired) == "recovery.link_expired"
        assert status(submit(client, "/reset/resend")) == "recovery.link_resent"
        client.get(link(cf, "reset_link"))
        assert 'name="new"' in submit(client, "/reset/open").text


def test_login_after_reset_signs_in() -> None:
    cf = make_cf(recovery={"login_after_reset": True})
    active(cf)
    with site(cf) as client:
        submit(client, "/password/forgot", value="adejoux")
        client.get(link(cf, "reset_link"))
        submit(client, "/reset/open")
        assert submit(client, "/reset/password", new=NEW, confirm=NEW)["Location"] == "/"
        assert signed_in(client)


@pytest.mark.req("LK-03")
def test_lockout_then_unlock_by_mailed_link() -> None:
    cf = make_cf()
    active(cf)
    with site(cf) as client:
        for _ in range(5):
            submit(client, "/login", identifier="adejoux", password="wrong password")
        mailed = link(cf, "unlock_link")
        denied = submit(client, "/login", identifier="adejoux", password=GOOD)
        assert status(denied) == "login.denied"
        assert client.get(mailed)["Location"] == "/unlock/open"
        assert 'action="/unlock/open"' in client.get("/unlock/open").text
        assert status(submit(client, "/unlock/open")) == "unlock.done"
        assert submit(client, "/login", identifier="adejoux", password=GOOD)["Location"] == "/"


def test_expired_unlock_link_offers_a_fresh_one() -> None:
    cf = make_cf()
    active(cf)
    with site(cf) as client:
        for _ in range(5):
            submit(client, "/login", identifier="adejoux", password="wrong password")
        client.get(link(cf, "unlock_link"))
        cf.clock.advance(cf.settings.lifetimes.unlock_link + 1)  # type: ignore[attr-defined]
        assert status(submit(client, "/unlock/open")) == "unlock.expired"
        assert status(submit(client, "/unlock/resend")) == "unlock.resent"


def test_first_login_without_a_usable_flow_goes_to_login() -> None:
    cf = make_cf()
    temporary = cf.accounts.create("adejoux", email="a@example.fr").temporary_password or ""
    with site(cf) as client:
        assert client.get("/first-login")["Location"] == "/login"
        submit(client, "/login", identifier="adejoux", password=temporary)
        cf.clock.advance(cf.settings.lifetimes.flow + 1)  # type: ignore[attr-defined]
        assert submit(client, "/first-login", new=GOOD, confirm=GOOD)["Location"] == "/login"
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
    with site(cf) as client:
        submit(client, "/login", identifier="adejoux", password=temporary)
        step = submit(client, "/first-login", new="Bleu2024xyz", confirm="Bleu2024xyz")
        assert step["Location"] == target
        if not reauthenticate:
            assert "enroll_security_question" in client.get("/first-login").text


def test_other_recovery_steps_are_refused_up_front() -> None:
    cf = make_cf(recovery={"steps": [RecoveryStep.EMAIL_CODE]})
    with pytest.raises(ValueError, match="email_link"):
        django_settings(cf)


def test_outbox_page_only_when_asked() -> None:
    cf = make_cf()
    active(cf)
    with site(cf) as client:
        assert client.get("/outbox").status_code == 404
    with site(cf, outbox_page=True) as client:
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
    with site(cf) as client:
        submit(client, "/login", identifier="demo", password=temporary)
        assert submit(client, "/first-login", new=GOOD, confirm=GOOD)["Location"] == "/"
        assert 'id="identifier">demo<' in client.get("/").text
