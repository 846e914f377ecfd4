"""The example portal (examples/portal/) through Flask's test client: every page in French and
English, first login with the live checklist, CSRF, cookie flags, the outbox, single sign-on,
registration, recovery by link, TOTP and the administrator's pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from examples.portal import admin as admin_views
from examples.portal import create_app
from examples.portal.mailbox import SQLiteOutbox
from examples.portal.seed import seed
from examples.portal.ui import LABELS
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from credflow import Credflow, FrozenClock, hashing
from credflow.policy.presets import nist
from credflow.storage.memory import MemoryStorage
from credflow.storage.records import MembershipStatus, MfaKind

SECRET = "portal-test-secret-" + "x" * 32
ANON_PAGES = [
    "/login",
    "/password/forgot",
    "/identifier/forgot",
    "/password/change",
    "/register",
    "/organisations/signup",
    "/outbox",
    "/reset/open",
    "/unlock/open",
]
SIGNED_IN_PAGES = ["/", "/mfa", "/email", "/organisations", "/admin"]


def make_app(tmp_path: Path, portal: str = "sage", **config: Any) -> Flask:
    values: dict[str, Any] = {
        "PORTAL": portal,
        "INSTANCE": tmp_path,
        "SECRET": SECRET,
        "STORAGE": MemoryStorage(),
        "CLOCK": FrozenClock(),
        "CREDFLOW_OVERRIDES": {"hashing": hashing.TESTING},
    }
    values.update(config)
    return create_app(values)


@pytest.fixture
def apps() -> Iterator[list[Flask]]:
    made: list[Flask] = []
    yield made
    for app in made:
        app.extensions["portal_outbox"].close()


def portal(apps: list[Flask], tmp_path: Path, name: str = "sage", **config: Any) -> Flask:
    app = make_app(tmp_path, name, **config)
    apps.append(app)
    return app


def cf_of(app: Flask) -> Credflow:
    cf = app.extensions["credflow"]
    assert isinstance(cf, Credflow)
    return cf


def csrf(client: FlaskClient, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, f"no CSRF token on {url}"
    return found.group(1)


def post(client: FlaskClient, url: str, data: dict[str, str], *, page: str | None = None) -> Any:
    token = csrf(client, page or url)
    return client.post(url, data={**data, "csrf_token": token})


def status(response: Any) -> tuple[str, str]:
    """The status line's stable code and its message."""
    text = response.get_data(as_text=True)
    found = re.search(r'id="status"[^>]*data-code="([^"]+)">([^<]*)<', text)
    assert found, "no status line"
    return found.group(1), found.group(2)


def last_mail(app: Flask, kind: str) -> str:
    box = app.extensions["portal_outbox"]
    assert isinstance(box, SQLiteOutbox)
    return next(m.text for m in box.messages() if m.kind == kind)


def sign_in(client: FlaskClient, identifier: str, password: str) -> Any:
    return post(client, "/login", {"identifier": identifier, "password": password})


def first_login_done(app: Flask, client: FlaskClient, new: str = "Bleu2024xyz!") -> str:
    """Seed the demo data, then pass the administrator's first login (sage: a new password)."""
    seeded = seed(cf_of(app))
    assert seeded.temporary_password is not None
    sign_in(client, seeded.identifier, seeded.temporary_password)
    done = post(client, "/first-login/password", {"new": new, "confirm": new}, page="/first-login")
    assert done.status_code == 302 and done.headers["Location"] == "/"
    return new


# -- every page, both languages --------------------------------------------------------------


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("name", ["sage", "sigma", "certigna", "defi", "asp"])
def test_every_anonymous_page_renders(
    apps: list[Flask], tmp_path: Path, name: str, lang: str
) -> None:
    client = portal(apps, tmp_path, name).test_client()
    for url in ANON_PAGES:
        response = client.get(f"{url}?lang={lang}")
        assert response.status_code == 200, url
        assert f'<html lang="{lang}">' in response.get_data(as_text=True)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_signed_in_page_renders(apps: list[Flask], tmp_path: Path, lang: str) -> None:
    app = portal(apps, tmp_path)
    client = app.test_client()
    first_login_done(app, client)
    title = LABELS[lang]["page.admin"]
    for url in SIGNED_IN_PAGES:
        response = client.get(f"{url}?lang={lang}")
        assert response.status_code == 200, url
        assert f'<html lang="{lang}">' in response.get_data(as_text=True)
    assert str(escape(title)) in client.get("/admin").get_data(as_text=True)


def test_signed_in_pages_need_a_session(apps: list[Flask], tmp_path: Path) -> None:
    client = portal(apps, tmp_path).test_client()
    for url in SIGNED_IN_PAGES:
        assert client.get(url).headers["Location"] == "/login", url


def test_every_label_exists_in_both_languages() -> None:
    assert set(LABELS["fr"]) == set(LABELS["en"])


def test_the_login_page_says_denied_from_credflow_in_english(
    apps: list[Flask], tmp_path: Path
) -> None:
    app = portal(apps, tmp_path)
    client = app.test_client()
    client.get("/login?lang=en")
    refused = sign_in(client, "nobody", "wrong password")
    expected = cf_of(app).messages.render("login.denied", "en")
    assert status(refused) == ("login.denied", expected)


# -- first login, checklist, question (Sigma) ------------------------------------------------


@pytest.mark.req("PW-11")
def test_first_login_with_checklist_then_question(apps: list[Flask], tmp_path: Path) -> None:
    app = portal(apps, tmp_path, "sigma")
    client = app.test_client()
    created = cf_of(app).accounts.create("adejoux", email="a.dejoux@example.fr")
    assert created.temporary_password is not None
    login = sign_in(client, "adejoux", created.temporary_password)
    assert login.headers["Location"] == "/first-login"
    page = client.get("/first-login")
    assert status(page)[0] == "action.change_password"
    assert 'id="checklist"' in page.get_data(as_text=True)

    token = csrf(client, "/first-login")
    weak = client.post("/checklist", json={"password": "adejoux1"}, headers={"X-CSRFToken": token})
    rules = {r["code"]: r["status"] for r in weak.get_json()["rules"]}
    assert rules["not_identifier"] == "failed"  # the identifier came from the login
    assert rules["uppercase"] == "failed" and rules["digit"] == "passed"
    good = client.post("/checklist", json={"password": "Bleu2024x"}, headers={"X-CSRFToken": token})
    assert good.get_json()["ok"] is True

    refused = post(
        client, "/first-login/password", {"new": "court", "confirm": "court"}, page="/first-login"
    )
    assert status(refused)[0] == "password.policy_not_met"
    assert 'data-code="min_length"' in refused.get_data(as_text=True)
    changed = post(
        client,
        "/first-login/password",
        {"new": "Bleu2024x", "confirm": "Bleu2024x"},
        page="/first-login",
    )
    assert changed.headers["Location"] == "/login"  # Sigma: sign in again
    assert status(client.get("/login"))[0] == "flow.reauthenticate"

    again = sign_in(client, "adejoux", "Bleu2024x")
    assert again.headers["Location"] == "/first-login"
    assert 'id="question-form"' in client.get("/first-login").get_data(as_text=True)
    weak_answer = post(
        client,
        "/first-login/question",
        {"question": "Ma couleur préférée ?", "answer": "1234"},
        page="/first-login",
    )
    assert status(weak_answer)[0] == "question.answer_not_met"
    enrolled = post(
        client,
        "/first-login/question",
        {"question": "Ma couleur préférée ?", "answer": "bleu marine"},
        page="/first-login",
    )
    assert enrolled.headers["Location"] == "/"
    assert "credflow_session=" in enrolled.headers["Set-Cookie"]
    assert client.get("/").status_code == 200


def test_checklist_refuses_non_strings(apps: list[Flask], tmp_path: Path) -> None:
    client = portal(apps, tmp_path, "sigma").test_client()
    token = csrf(client, "/login")
    bad = client.post("/checklist", json={"password": 12}, headers={"X-CSRFToken": token})
    assert bad.status_code == 400


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(candidate=st.text(max_size=40))
def test_checklist_is_the_policy_report(tmp_path: Path, candidate: str) -> None:
    app = make_app(tmp_path, "defi")
    try:
        client = app.test_client()
        token = csrf(client, "/login")
        body = client.post(
            "/checklist",
            json={"password": candidate, "identifier": "d.dupont"},
            headers={"X-CSRFToken": token},
        ).get_json()
        report = cf_of(app).policy.evaluate(candidate, identifier="d.dupont", locale="fr")
        assert body == report.to_dict()
    finally:
        app.extensions["portal_outbox"].close()


# -- security of the example -----------------------------------------------------------------


def test_csrf_is_refused_without_the_token(apps: list[Flask], tmp_path: Path) -> None:
    app = portal(apps, tmp_path)
    seeded = seed(cf_of(app))
    client = app.test_client()
    client.get("/login")
    assert seeded.temporary_password is not None
    refused = client.post(
        "/login", data={"identifier": seeded.identifier, "password": seeded.temporary_password}
    )
    assert refused.status_code == 400
    assert client.post("/checklist", json={"password": "x"}).status_code == 400
    assert client.post("/logout").status_code == 400


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_cookie_flags(apps: list[Flask], tmp_path: Path, scheme: str) -> None:
    app = portal(apps, tmp_path)
    seeded = seed(cf_of(app))
    assert seeded.temporary_password is not None
    client = app.test_client()
    base = {"base_url": f"{scheme}://127.0.0.1"}
    page = client.get("/login", **base).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    client.post(
        "/login",
        data={
            "identifier": seeded.identifier,
            "password": seeded.temporary_password,
            "csrf_token": token.group(1),
        },
        **base,
        headers={"Referer": f"{scheme}://127.0.0.1/login"},
    )
    page = client.get("/first-login", **base).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    done = client.post(
        "/first-login/password",
        data={"new": "Bleu2024xyz!", "confirm": "Bleu2024xyz!", "csrf_token": token.group(1)},
        **base,
        headers={"Referer": f"{scheme}://127.0.0.1/first-login"},
    )
    cookies = done.headers.getlist("Set-Cookie")
    for name in ("credflow_session=", "portal_documentaire="):
        cookie = next(c for c in cookies if c.startswith(name))
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is (scheme == "https")


def test_no_secret_in_the_logs(
    apps: list[Flask], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = portal(apps, tmp_path)
    client = app.test_client()
    with caplog.at_level("DEBUG"):
        new = first_login_done(app, client)
        post(client, "/logout", {}, page="/")
        sign_in(client, "admin", "wrong password")
    assert new not in caplog.text and "csrf" not in caplog.text.lower()


# -- the outbox, registration ----------------------------------------------------------------


def test_registration_code_is_read_on_the_outbox_page(apps: list[Flask], tmp_path: Path) -> None:
    app = portal(apps, tmp_path)
    client = app.test_client()
    password = "trois mots simples"
    sent = post(
        client,
        "/register",
        {"email": "marie@example.fr", "password": password, "confirm": password},
    )
    assert status(sent)[0] == "registration.code_sent"
    outbox_page = client.get("/outbox").get_data(as_text=True)
    assert 'data-kind="email_verification_code"' in outbox_page
    code = re.search(r"\b(\d{6})\b", outbox_page)
    assert code
    bad = post(client, "/register/verify", {"code": "12ab"}, page="/register")
    assert status(bad)[0] == "input.code"
    done = post(client, "/register/verify", {"code": code.group(1)}, page="/register")
    assert done.headers["Location"] == "/"  # Sage: signed in once verified
    assert client.get("/").status_code == 200


def test_outbox_page_is_off_outside_development(apps: list[Flask], tmp_path: Path) -> None:
    client = portal(apps, tmp_path, OUTBOX_PAGE=False).test_client()
    assert client.get("/outbox").status_code == 404


# -- single sign-on --------------------------------------------------------------------------


def test_two_apps_share_the_session(apps: list[Flask], tmp_path: Path) -> None:
    store = MemoryStorage()
    docs = portal(apps, tmp_path / "a", STORAGE=store, APP_NAME="Portail documentaire")
    help_ = portal(
        apps,
        tmp_path / "b",
        STORAGE=store,
        APP_NAME="Portail assistance",
        BASE_URL="http://127.0.0.1:5001",
        SESSION_COOKIE_NAME="portal_assistance",
    )
    one, two = docs.test_client(), help_.test_client()
    first_login_done(docs, one)
    token = one.get_cookie("credflow_session")
    assert token is not None
    assert two.get("/").headers["Location"] == "/login"
    two.set_cookie("credflow_session", token.value)  # the browser sends it to both ports
    home = two.get("/")
    assert home.status_code == 200 and "Portail assistance" in home.get_data(as_text=True)
    logout = post(two, "/logout", {}, page="/")
    assert logout.headers["Location"] == "/login"
    assert one.get("/").headers["Location"] == "/login"  # logged out of both


# -- recovery by link, lockout and unlock ----------------------------------------------------


def test_forgot_password_by_link_then_sign_in(apps: list[Flask], tmp_path: Path) -> None:
    app = portal(apps, tmp_path)
    client = app.test_client()
    first_login_done(app, client)
    post(client, "/logout", {}, page="/")
    sent = post(client, "/password/forgot", {"value": "admin@example.fr"})
    assert status(sent)[0] == "recovery.link_sent"
    link = re.search(r"http://127\.0\.0\.1:5000(/reset\?token=\S+)", last_mail(app, "reset_link"))
    assert link
    assert client.get(link.group(1)).headers["Location"] == "/reset/open"
    opened = post(client, "/reset/open", {})
    assert status(opened)[0] == "recovery.new_password"
    new = "un autre mot de passe"
    done = post(client, "/recovery/password", {"new": new, "confirm": new}, page="/recovery")
    assert done.headers["Location"] == "/login"
    assert sign_in(client, "admin", new).headers["Location"] == "/"


@pytest.mark.req("LK-01")
def test_lockout_then_unlock_by_the_mailed_link(apps: list[Flask], tmp_path: Path) -> None:
    app = portal(apps, tmp_path)
    client = app.test_client()
    new = first_login_done(app, client)
    post(client, "/logout", {}, page="/")
    for _ in range(5):
        sign_in(client, "admin", "wrong password")
    assert status(sign_in(client, "admin", new))[0] == "login.denied"
    link = re.search(r"(/unlock\?token=\S+)", last_mail(app, "unlock_link"))
    assert link
    client.get(link.group(1))
    unlocked = post(client, "/unlock/open", {})
    assert status(unlocked)[0] == "unlock.done"
    assert sign_in(client, "admin", new).headers["Location"] == "/"


def test_forgot_identifier_with_the_arithmetic_check(apps: list[Flask], tmp_path: Path) -> None:
    app = portal(apps, tmp_path, "certigna")
    client = app.test_client()
    cf_of(app).accounts.create("EK700962", email="fsenez@example.fr")
    page = client.get("/identifier/forgot").get_data(as_text=True)
    left, right = map(int, re.search(r"(\d) \+ (\d) = \?", page).groups())  # type: ignore[union-attr]
    challenge = re.search(r'name="challenge" value="([^"]+)"', page)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert challenge and token
    wrong = client.post(
        "/identifier/forgot",
        data={
            "email": "fsenez@example.fr",
            "challenge": challenge.group(1),
            "human": str(left + right + 1),
            "csrf_token": token.group(1),
        },
    )
    assert status(wrong)[0] == "recovery.human_check_failed"
    page = wrong.get_data(as_text=True)
    left, right = map(int, re.search(r"(\d) \+ (\d) = \?", page).groups())  # type: ignore[union-attr]
    challenge = re.search(r'name="challenge" value="([^"]+)"', page)
    assert challenge
    sent = client.post(
        "/identifier/forgot",
        data={
            "email": "fsenez@example.fr",
            "challenge": challenge.group(1),
            "human": str(left + right),
            "csrf_token": token.group(1),
        },
    )
    assert status(sent)[0] == "reminder.sent"
    assert "EK700962" in last_mail(app, "identifier_reminder")


# -- TOTP ------------------------------------------------------------------------------------


@pytest.mark.req("OT-01")
def test_totp_enrolment_then_login_with_a_code(apps: list[Flask], tmp_path: Path) -> None:
    app = portal(apps, tmp_path)
    clock = cf_of(app).clock
    assert isinstance(clock, FrozenClock)
    client = app.test_client()
    new = first_login_done(app, client)
    started = post(client, "/mfa/totp", {}, page="/mfa").get_data(as_text=True)
    assert 'id="totp-qr" alt="QR code" src="data:image/svg+xml;base64,' in started
    secret = re.search(r'id="totp-secret" class="secret">([A-Z2-7]+)<', started)
    assert secret
    code = pyotp.TOTP(secret.group(1)).at(clock.now())
    confirmed = post(client, "/mfa/totp/confirm", {"code": code}, page="/mfa")
    assert status(confirmed)[0] == "mfa.confirmed"
    codes = re.findall(r"<li><code>([^<]+)</code></li>", confirmed.get_data(as_text=True))
    assert len(codes) == 10
    post(client, "/logout", {}, page="/")

    assert sign_in(client, "admin", new).headers["Location"] == "/login/mfa"
    clock.advance(30)
    code = pyotp.TOTP(secret.group(1)).at(clock.now())
    wrong = post(client, "/login/mfa", {"code": "000000" if code != "000000" else "111111"})
    assert status(wrong)[0] == "mfa.code_wrong"
    done = post(client, "/login/mfa", {"code": code}, page="/login/mfa")
    assert done.headers["Location"] == "/"
    post(client, "/logout", {}, page="/")
    sign_in(client, "admin", new)
    by_recovery = post(client, "/login/mfa", {"code": codes[0]}, page="/login/mfa")
    assert by_recovery.headers["Location"] == "/"
    assert status(client.get("/"))[0] == "mfa.recovery_code_used"


# -- the administrator -----------------------------------------------------------------------


def test_admin_creates_a_user_who_joins_and_is_managed(apps: list[Flask], tmp_path: Path) -> None:
    app = portal(apps, tmp_path)
    cf = cf_of(app)
    admin = app.test_client()
    first_login_done(app, admin)
    created = post(
        admin, "/admin/users", {"identifier": "paul", "email": "paul@example.fr"}, page="/admin"
    )
    temporary = re.search(r'id="temporary" class="secret">([^<]+)<', created.get_data(as_text=True))
    assert temporary
    paul = cf.accounts.find("paul")
    assert paul is not None
    page = post(admin, f"/admin/members/{paul.id}/deactivate", {}, page="/admin")
    assert 'data-identifier="paul" data-status="disabled"' in page.get_data(as_text=True)
    page = post(admin, f"/admin/members/{paul.id}/reactivate", {}, page="/admin")
    assert 'data-identifier="paul" data-status="active"' in page.get_data(as_text=True)
    assert status(page) == ("membership.active", "Adhésion réactivée : paul.")
    twice = post(admin, f"/admin/members/{paul.id}/reactivate", {}, page="/admin")
    assert status(twice)[0] == "membership.unchanged"  # a reload sends the form again
    taken = post(admin, "/admin/users", {"identifier": "paul", "email": ""}, page="/admin")
    assert status(taken)[0] == "account.taken" and 'id="temporary"' not in taken.get_data(
        as_text=True
    )

    other = cf.accounts.create("lea", email="lea@example.fr", temporary=False)
    org = cf.organisations.find("73282932000074")
    assert org is not None
    cf.organisations.join(other.account.id, org.id)
    page = post(admin, f"/admin/members/{other.account.id}/approve", {}, page="/admin")
    assert 'data-identifier="lea" data-status="active"' in page.get_data(as_text=True)
    refused = post(admin, f"/admin/members/{other.account.id}/explode", {}, page="/admin")
    assert status(refused)[0] == "admin.forbidden"

    reset = post(admin, "/admin/force-reset", {}, page="/admin")
    assert status(reset)[0] == "password_setup.sent"
    assert sign_in(app.test_client(), "paul", temporary.group(1)).status_code == 200  # void


def test_admin_page_is_refused_to_a_plain_member(apps: list[Flask], tmp_path: Path) -> None:
    app = portal(apps, tmp_path)
    cf = cf_of(app)
    created = cf.accounts.create("lea", email="lea@example.fr")
    assert created.temporary_password is not None
    client = app.test_client()
    sign_in(client, "lea", created.temporary_password)
    new = "Bleu2024xyz!"
    post(client, "/first-login/password", {"new": new, "confirm": new}, page="/first-login")
    assert status(client.get("/admin"))[0] == "admin.forbidden"
    assert status(post(client, "/admin/force-reset", {}, page="/"))[0] == "admin.forbidden"


def test_organisation_sign_up_checks_the_siret(apps: list[Flask], tmp_path: Path) -> None:
    app = portal(apps, tmp_path, "certigna")
    client = app.test_client()
    form = {"name": "Dupont SA", "identifier": "dupont", "email": "dupont@example.fr"}
    bad = post(client, "/organisations/signup", {**form, "siret": "73282932000075"})
    assert status(bad)[0] == "input.registration_number"
    good = post(client, "/organisations/signup", {**form, "siret": "73282932000074"})
    assert status(good)[0] == "organisation.signed_up"
    kinds = [m.kind for m in app.extensions["portal_outbox"].messages()]
    assert kinds[:2] == ["temporary_password", "identifier"]  # two separate mails
    again = post(client, "/organisations/signup", {**form, "siret": "73282932000074"})
    assert status(again)[0] == "organisation.taken"


def test_request_log_lines_drop_the_query_string() -> None:
    from examples.portal.__main__ import QuietHandler

    handler = object.__new__(QuietHandler)
    handler.path = "/reset?token=SECRET-TOKEN"
    handler.command = "GET"
    lines: list[str] = []
    handler.log = lambda kind, text, *args: lines.append(text % args)  # type: ignore[method-assign]
    handler.log_request(200)
    assert lines == ['"GET /reset" 200']


def test_two_apps_share_one_sqlite_file(apps: list[Flask], tmp_path: Path) -> None:
    """The demo's set-up: no store given, so both apps open the same SQLite file."""
    sqlite = {"STORAGE": None, "CLOCK": None, "INSTANCE": tmp_path}
    docs = portal(apps, tmp_path, **sqlite)
    help_ = portal(apps, tmp_path, SESSION_COOKIE_NAME="portal_assistance", **sqlite)
    assert (tmp_path / "portal.sqlite3").exists()
    one, two = docs.test_client(), help_.test_client()
    first_login_done(docs, one)
    token = one.get_cookie("credflow_session")
    assert token is not None
    two.set_cookie("credflow_session", token.value)
    assert two.get("/").status_code == 200
    assert 'data-kind="temporary_password"' in two.get("/outbox").get_data(as_text=True)
    post(one, "/logout", {}, page="/")
    assert two.get("/").headers["Location"] == "/login"
    for app in (docs, help_):
        cf_of(app).storage.dispose()  # type: ignore[attr-defined]


def test_email_change_and_organisation_switch(apps: list[Flask], tmp_path: Path) -> None:
    app = portal(apps, tmp_path, "defi")
    cf = cf_of(app)
    client = app.test_client()
    first_login_done(app, client, new="Nouveau2024$")
    me = cf.accounts.find("admin")
    home_org = cf.organisations.find("73282932000074")
    assert me is not None and home_org is not None
    other = cf.organisations.create("Autre SA")
    cf.organisations.join(me.id, other.id)

    sent = post(client, "/email", {"new_email": "neuf@example.fr", "password": "Nouveau2024$"})
    assert status(sent)[0] == "email_change.code_sent"
    code = re.search(r"\b(\d{6})\b", last_mail(app, "email_verification_code"))
    assert code
    done = post(client, "/email/verify", {"code": code.group(1)}, page="/email")
    assert done.headers["Location"] == "/"
    assert 'id="account-email">neuf@example.fr<' in client.get("/").get_data(as_text=True)

    pending = post(client, "/organisations/switch", {"organisation": other.id}, page="/")
    assert status(pending)[0] == "organisation.pending_approval"
    switched = post(client, "/organisations/switch", {"organisation": home_org.id}, page="/")
    assert status(switched)[0] == "organisation.switched"
    joined = post(client, "/organisations/join", {"siret": "12345678901234"}, page="/")
    assert status(joined)[0] == "input.registration_number"


# -- managing second factors -----------------------------------------------------------------


def enrol_totp_by_pages(app: Flask, client: FlaskClient) -> tuple[str, list[str]]:
    """The TOTP enrolment through the pages; the clock moves a step on so that the next code
    is a fresh one. Returns the key and the recovery codes shown."""
    clock = cf_of(app).clock
    assert isinstance(clock, FrozenClock)
    started = post(client, "/mfa/totp", {}, page="/mfa").get_data(as_text=True)
    secret = re.search(r'id="totp-secret" class="secret">([A-Z2-7]+)<', started)
    assert secret
    code = pyotp.TOTP(secret.group(1)).at(clock.now())
    confirmed = post(client, "/mfa/totp/confirm", {"code": code}, page="/mfa")
    assert status(confirmed)[0] == "mfa.confirmed"
    clock.advance(30)
    return secret.group(1), recovery_codes_shown(confirmed)


def recovery_codes_shown(response: Any) -> list[str]:
    return re.findall(r"<li><code>([^<]+)</code></li>", response.get_data(as_text=True))


@pytest.mark.req("RC-05", "SS-05")
def test_new_recovery_codes_need_the_password_and_are_shown_once(
    apps: list[Flask], tmp_path: Path
) -> None:
    app = portal(apps, tmp_path)
    client = app.test_client()
    password = first_login_done(app, client)
    page = client.get("/mfa").get_data(as_text=True)
    assert 'id="regenerate-codes-form"' not in page and 'id="disable-totp-form"' not in page
    _, old = enrol_totp_by_pages(app, client)
    page = client.get("/mfa?lang=en").get_data(as_text=True)
    assert "Unused recovery codes: 10" in page
    assert 'id="totp-begin-form"' not in page and 'id="sms-begin-form"' in page

    wrong = post(client, "/mfa/recovery-codes", {"password": "not the one"}, page="/mfa")
    assert status(wrong)[0] == "mfa.password_wrong" and recovery_codes_shown(wrong) == []
    made = post(client, "/mfa/recovery-codes", {"password": password}, page="/mfa")
    assert status(made) == (
        "mfa.recovery_codes",
        cf_of(app).messages.render("mfa.recovery_codes", "en"),
    )
    new = recovery_codes_shown(made)
    assert len(set(new)) == 10 and not set(new) & set(old)
    assert made.headers["Cache-Control"] == "no-store"  # not from the cache on "back"
    again = client.get("/mfa").get_data(as_text=True)
    assert not any(code in again for code in new)  # shown once
    assert "Unused recovery codes: 10" in again

    post(client, "/logout", {}, page="/")
    sign_in(client, "admin", password)
    refused = post(client, "/login/mfa", {"code": old[0]}, page="/login/mfa")
    assert status(refused)[0] == "mfa.code_wrong"  # the old set is void
    assert post(client, "/login/mfa", {"code": new[0]}).headers["Location"] == "/"


@pytest.mark.req("SS-05")
def test_turning_totp_off_needs_the_password_or_a_code(apps: list[Flask], tmp_path: Path) -> None:
    app = portal(apps, tmp_path)
    client = app.test_client()
    password = first_login_done(app, client)
    _, codes = enrol_totp_by_pages(app, client)
    neither = post(client, "/mfa/totp/disable", {"password": "", "code": ""}, page="/mfa")
    assert status(neither)[0] == "input.password"
    both = post(client, "/mfa/totp/disable", {"password": password, "code": codes[0]}, page="/mfa")
    assert status(both)[0] == "input.password"
    unknown = post(client, "/mfa/phone/disable", {"password": password}, page="/mfa")
    assert status(unknown)[0] == "input.kind"
    not_set = post(client, "/mfa/sms/disable", {"password": password}, page="/mfa")
    assert status(not_set)[0] == "mfa.not_enrolled"
    wrong = post(client, "/mfa/totp/disable", {"password": "not the one"}, page="/mfa")
    assert status(wrong)[0] == "mfa.password_wrong"
    token = client.get_cookie("credflow_session")
    assert token is not None
    assert cf_of(app).mfa.factors(token.value) == (MfaKind.TOTP,)  # refused: still on

    off = post(client, "/mfa/totp/disable", {"password": password}, page="/mfa")
    assert status(off)[0] == "mfa.disabled"
    page = off.get_data(as_text=True)
    assert 'id="totp-begin-form"' in page and 'id="disable-totp-form"' not in page
    assert 'id="regenerate-codes-form"' not in page
    assert LABELS["fr"]["text.password_next"] not in page  # Sage: 8 characters, MFA or not
    assert cf_of(app).mfa.factors(token.value) == ()
    assert "admin" in last_mail(app, "mfa_disabled")
    post(client, "/logout", {}, page="/")
    assert sign_in(client, "admin", password).headers["Location"] == "/"  # no code asked


@pytest.mark.req("PW-02")
def test_turning_the_last_factor_off_by_a_code_may_ask_for_a_new_password(
    apps: list[Flask], tmp_path: Path
) -> None:
    """NIST's 15/8 rule: with the password unknown (a code was the proof), credflow assumes the
    worst and the next sign-in asks for a new password; the page says so."""
    app = portal(
        apps, tmp_path, CREDFLOW_OVERRIDES={"hashing": hashing.TESTING, "password_policy": nist()}
    )
    client = app.test_client()
    password = first_login_done(app, client, new="quinze caractères ou plus")
    _, codes = enrol_totp_by_pages(app, client)
    off = post(client, "/mfa/totp/disable", {"code": codes[0]}, page="/mfa")
    assert status(off)[0] == "mfa.disabled"
    assert str(escape(LABELS["fr"]["text.password_next"])) in off.get_data(as_text=True)
    post(client, "/logout", {}, page="/")
    assert sign_in(client, "admin", password).headers["Location"] == "/first-login"


def test_the_code_page_of_a_login_names_what_it_accepts(apps: list[Flask], tmp_path: Path) -> None:
    app = portal(apps, tmp_path)
    client = app.test_client()
    password = first_login_done(app, client)
    enrol_totp_by_pages(app, client)
    post(client, "/logout", {}, page="/")
    sign_in(client, "admin", password)
    page = client.get("/login/mfa?lang=en").get_data(as_text=True)
    assert "Accepted: authenticator app, recovery code." in page
    assert 'id="mfa-sms-form"' not in page
    client.get("/login/mfa?lang=fr")
    post(client, "/logout", {}, page="/login")
    assert "Accepté" not in client.get("/login/mfa").get_data(as_text=True)  # no flow, no list


def test_sms_enrolment_keeps_the_code_form_after_a_typo(apps: list[Flask], tmp_path: Path) -> None:
    app = portal(apps, tmp_path)
    client = app.test_client()
    password = first_login_done(app, client)
    bad_phone = post(client, "/mfa/sms", {"phone": "06 12 34 56 78"}, page="/mfa")
    assert status(bad_phone)[0] == "input.phone"
    sent = post(client, "/mfa/sms", {"phone": "+33 6 12 34 56 78"}, page="/mfa")
    assert status(sent)[0] == "mfa.code_sent"
    box = app.extensions["portal_outbox"]
    sms = next(m for m in box.messages() if m.kind == "sms_code")
    assert (sms.channel, sms.recipient) == ("sms", "+33612345678")
    code = re.search(r"\b(\d{6})\b", sms.text)
    assert code
    typo = post(client, "/mfa/sms/confirm", {"code": "12 34"}, page="/mfa")
    assert status(typo)[0] == "input.code" and 'id="sms-confirm-form"' in typo.get_data(
        as_text=True
    )
    other = "000000" if code.group(1) != "000000" else "111111"
    wrong = post(client, "/mfa/sms/confirm", {"code": other}, page="/mfa")
    assert status(wrong)[0] == "mfa.code_wrong"
    assert 'id="sms-confirm-form"' in wrong.get_data(as_text=True)  # try again, no new SMS
    done = post(client, "/mfa/sms/confirm", {"code": code.group(1)}, page="/mfa")
    assert status(done)[0] == "mfa.confirmed" and len(recovery_codes_shown(done)) == 10
    page = client.get("/mfa").get_data(as_text=True)
    assert 'id="disable-sms-form"' in page and 'id="sms-begin-form"' not in page
    assert 'id="totp-begin-form"' in page  # the app can be added beside the phone
    again = post(client, "/mfa/sms", {"phone": "+33 6 12 34 56 79"}, page="/mfa")
    assert status(again)[0] == "mfa.already_enrolled"
    off = post(client, "/mfa/sms/disable", {"password": password}, page="/mfa")
    assert status(off)[0] == "mfa.disabled"


def test_an_administrator_whose_role_goes_meanwhile_is_refused(
    apps: list[Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page was drawn while the person administered the organisation; the membership was
    deactivated since. The form is refused, nothing is created, and no error 500."""
    app = portal(apps, tmp_path)
    cf = cf_of(app)
    admin = app.test_client()
    first_login_done(app, admin)
    me = cf.accounts.find("admin")
    assert me is not None
    [membership] = cf.storage.memberships_of(me.id)
    cf.storage.update_membership(
        membership.model_copy(update={"status": MembershipStatus.DISABLED})
    )
    refused = post(admin, "/admin/users", {"identifier": "paul", "email": ""}, page="/admin")
    assert refused.status_code == 200 and status(refused)[0] == "admin.forbidden"
    assert cf.accounts.find("paul") is None
    # The race itself: the check passed a moment before credflow refused the change.
    monkeypatch.setattr(admin_views, "_admin_of", lambda: (me.id, membership.organisation_id))
    raced = post(admin, "/admin/users", {"identifier": "paul", "email": ""}, page="/admin")
    assert raced.status_code == 200 and status(raced)[0] == "admin.forbidden"
    assert cf.accounts.find("paul") is None
