"""credflow in a Django site: login, the first login's forced password change, logout, and a
forgotten password by mailed link (plus the unlock link a lockout mails), in plain HTML.

No model and no database: credflow keeps the accounts in its own store, Django's session lives in
a signed cookie. This one module is the settings (``django_settings(cf)``), the URLconf and the
views. Run it (``CREDFLOW_SECRET_KEY`` set, or a key is made for this run only)::

    python -m examples.django.app      # http://127.0.0.1:8000, mail on /outbox

The glue, as in the Flask portal (docs/integration/django.md):

- credflow's session token lives in its own cookie (HttpOnly, SameSite=Lax, Secure over HTTPS)
  and ``cf.sessions.validate`` checks it on every request, so a logout ends it everywhere;
- flow handles (first login, reset) live in Django's signed-cookie session, never in a URL;
  ``CsrfViewMiddleware`` guards every form;
- a mailed link's token moves from the URL into that session at once, and is redeemed only on a
  button press (a mail scanner fetching the link does not burn it).

The recovery steps must be ``["email_link"]`` (credflow's default); the Flask portal
(examples/portal/) shows the other steps, the second factor and the other first-login actions.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token, rotate_token
from django.urls import path
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from credflow import (
    Credflow,
    LoginStatus,
    Outbox,
    RecoveryStatus,
    RequiredAction,
    Session,
    Settings,
    StepStatus,
)
from credflow.notify.templates import DEFAULT_TEMPLATES
from credflow.settings import RecoveryStep
from credflow.storage.records import Account

SESSION_COOKIE = "credflow_session"
FLOWS_COOKIE = "flows"  # Django's signed-cookie session: flow handles, status line
Field = tuple[str, str, str]  # name, label, input type
View = Callable[..., HttpResponse]


def django_settings(
    cf: Credflow,
    *,
    https: bool = False,
    allowed_hosts: Sequence[str] = ("127.0.0.1", "localhost"),
    outbox_page: bool = False,
) -> dict[str, Any]:
    """Django's settings around ``cf``, for ``settings.configure(**…)`` or a settings module.

    ``https`` marks every cookie ``Secure`` (credflow's is anyway on a request that came over
    HTTPS); ``outbox_page`` serves ``/outbox``, the mail an ``Outbox`` notifier kept
    (development only: it shows live links).
    """
    if cf.settings.recovery.steps != (RecoveryStep.EMAIL_LINK,):
        raise ValueError("this example handles the recovery steps ['email_link'] only")
    return {
        "CREDFLOW": cf,
        "CREDFLOW_OUTBOX_PAGE": outbox_page,
        "SECRET_KEY": derive(cf, "django"),
        "DEBUG": False,  # the debug page shows a failing view's local variables
        "ALLOWED_HOSTS": list(allowed_hosts),
        "ROOT_URLCONF": __name__,
        "INSTALLED_APPS": [],  # no model: credflow keeps the accounts
        "MIDDLEWARE": [
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        "SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies",
        "SESSION_COOKIE_NAME": FLOWS_COOKIE,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "CSRF_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": https,
        "USE_TZ": True,
        # The development server logs every request line: a mailed link's token with it.
        "LOGGING": {"version": 1, "loggers": {"django.server": {"level": "WARNING"}}},
    }


def derive(cf: Credflow, purpose: str) -> str:
    """A key for one purpose, from credflow's key: no key serves two jobs."""
    key = cf.settings.signing_keys[0]
    return hmac.new(key, b"example:" + purpose.encode(), hashlib.sha256).hexdigest()


# -- glue ------------------------------------------------------------------------------------


def credflow() -> Credflow:
    return cast(Credflow, settings.CREDFLOW)


def current_account(request: HttpRequest) -> Account | None:
    """The signed-in account, checked against credflow's store on every request."""
    token = request.COOKIES.get(SESSION_COOKIE)
    return credflow().sessions.validate(token) if token else None


def secure(request: HttpRequest) -> bool:
    return bool(settings.SESSION_COOKIE_SECURE) or request.is_secure()


def signed_in(request: HttpRequest, new: Session) -> HttpResponse:
    """Go home with the new credflow session in its cookie; the pre-login session (its flows)
    is dropped and the CSRF token changes, as ``django.contrib.auth.login`` does."""
    request.session.flush()
    rotate_token(request)
    response = HttpResponseRedirect("/")
    response.set_cookie(
        SESSION_COOKIE,
        new.token,
        # A lifetime, not a date: the browser's clock need not agree with credflow's.
        max_age=int((new.expires_at - new.created_at).total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=secure(request),
        path="/",
    )
    return response


def redirect(request: HttpRequest, target: str, result: Any = None) -> HttpResponse:
    """Redirect, showing ``result`` (its stable code and localised message) on the next page."""
    if result is not None:
        request.session["status"] = {"code": result.code, "message": result.message}
    return HttpResponseRedirect(target)


def session_str(request: HttpRequest, key: str, *, pop: bool = False) -> str:
    value = request.session.pop(key, "") if pop else request.session.get(key, "")
    return value if isinstance(value, str) else ""


# -- HTML ------------------------------------------------------------------------------------


def esc(value: object) -> str:
    return html.escape(str(value))


def page(request: HttpRequest, title: str, *body: str, result: Any = None) -> HttpResponse:
    """A page: title, the status line (a result, or the one carried over a redirect), the
    rules a refused password broke, then ``body``."""
    status = request.session.pop("status", None)
    if result is not None:
        status = {"code": result.code, "message": result.message}
    parts = [
        f'<!doctype html><html lang="{esc(credflow().settings.locale)}">',
        f"<meta charset=utf-8><title>{esc(title)}</title><h1>{esc(title)}</h1>",
    ]
    if status:
        parts.append(f'<p id="status" data-code="{esc(status["code"])}">{esc(status["message"])}')
    failures = getattr(result, "failures", ())
    if failures:
        items = "".join(f'<li data-code="{esc(f.code)}">{esc(f.message)}' for f in failures)
        parts.append(f'<ul id="failures">{items}</ul>')
    parts.extend(body)
    return HttpResponse("\n".join(parts))


def form(request: HttpRequest, action: str, *fields: Field, submit: str) -> str:
    inputs = "".join(
        f'<label>{esc(label)} <input name="{name}" type="{kind}"></label>'
        for name, label, kind in fields
    )
    token = f'<input type="hidden" name="csrfmiddlewaretoken" value="{esc(get_token(request))}">'
    button = f"<button>{esc(submit)}</button>"
    return f'<form method="post" action="{action}">{token}{inputs}{button}</form>'


def password_page(request: HttpRequest, action: str, result: Any = None) -> HttpResponse:
    """New password and confirmation, under the policy's own sentences."""
    cf = credflow()
    rules = cf.policy.describe(cf.settings.locale).sentences
    return page(
        request,
        "Nouveau mot de passe",
        *(f"<p>{esc(sentence)}</p>" for sentence in rules),
        form(
            request,
            action,
            ("new", "Nouveau mot de passe", "password"),
            ("confirm", "Confirmation", "password"),
            submit="Enregistrer",
        ),
        result=result,
    )


def secrets_posted(*names: str) -> Callable[[View], View]:
    """Posted secrets stay out of Django's error reports; POST only."""

    def wrap(view: View) -> View:
        return cast(View, sensitive_post_parameters(*names)(require_POST(view)))

    return wrap


# -- login, first login, logout ----------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    account = current_account(request)
    if account is None:
        return HttpResponseRedirect("/login")
    return page(
        request,
        "Espace client",
        f'<p>Connecté : <span id="identifier">{esc(account.identifier)}</span></p>',
        form(request, "/logout", submit="Se déconnecter"),
    )


def login(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return login_post(request)
    if current_account(request) is not None:
        return HttpResponseRedirect("/")
    return login_page(request)


def login_page(request: HttpRequest, result: Any = None) -> HttpResponse:
    return page(
        request,
        "Connexion",
        form(
            request,
            "/login",
            ("identifier", "Identifiant", "text"),
            ("password", "Mot de passe", "password"),
            submit="Se connecter",
        ),
        '<p><a href="/password/forgot">Mot de passe oublié ?</a></p>',
        result=result,
    )


@secrets_posted("password")
def login_post(request: HttpRequest) -> HttpResponse:
    posted = request.POST
    result = credflow().login(posted.get("identifier", ""), posted.get("password", ""))
    if result.session is not None:
        return signed_in(request, result.session)
    if result.status is LoginStatus.ACTION_REQUIRED:
        request.session["flow_first_login"] = result.flow
        return redirect(request, "/first-login", result)
    return login_page(request, result)  # denied, the same for every reason


def first_login(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return first_login_post(request)
    action = credflow().first_login.pending_action(session_str(request, "flow_first_login"))
    if action is None:
        request.session.pop("flow_first_login", None)
        return HttpResponseRedirect("/login")
    if action is not RequiredAction.CHANGE_PASSWORD:  # a question, TOTP: see examples/portal
        return page(request, "Première connexion", f"<p>Étape suivante : {esc(action)}</p>")
    return password_page(request, "/first-login")


@secrets_posted("new", "confirm")
def first_login_post(request: HttpRequest) -> HttpResponse:
    flow = session_str(request, "flow_first_login")
    posted = request.POST
    result = credflow().first_login.change_password(
        flow, posted.get("new", ""), posted.get("confirm", "")
    )
    if result.session is not None:
        return signed_in(request, result.session)
    if result.status is StepStatus.REFUSED:
        return password_page(request, "/first-login", result)
    if result.status is StepStatus.NEXT:
        return redirect(request, "/first-login", result)
    request.session.pop("flow_first_login", None)  # reauthenticate, expired, invalid
    return redirect(request, "/login", result)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """End the credflow session in its store: the cookie alone would outlive a deletion."""
    token = request.COOKIES.get(SESSION_COOKIE)
    if token:
        credflow().sessions.revoke(token)
    request.session.flush()
    response = HttpResponseRedirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/", samesite="Lax")
    return response


# -- forgotten password, and the mailed links ------------------------------------------------


def forgot(request: HttpRequest) -> HttpResponse:
    """The same page whether or not the account exists; only a real one gets mail."""
    if request.method == "POST":
        result = credflow().recovery.start(request.POST.get("value", ""))
        return page(request, "Mot de passe oublié", result=result)
    by_email = credflow().settings.recovery.start_from == "email"
    start: Field = ("value", "Adresse électronique" if by_email else "Identifiant", "text")
    return page(
        request, "Mot de passe oublié", form(request, "/password/forgot", start, submit="Continuer")
    )


def keep_token(request: HttpRequest, key: str, target: str) -> HttpResponse:
    """A mailed link: its token leaves the URL (and the history) for the signed session."""
    token = request.GET.get("token", "")
    if token:
        request.session[key] = token
    return HttpResponseRedirect(target)


@require_GET
def reset_link(request: HttpRequest) -> HttpResponse:
    return keep_token(request, "reset_token", "/reset/open")


def reset_open(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        button = form(request, "/reset/open", submit="Continuer")
        return page(request, "Nouveau mot de passe", button)
    result = credflow().recovery.open_link(session_str(request, "reset_token"))
    if result.status is RecoveryStatus.EXPIRED:  # offer a fresh link in place of this one
        resend = form(request, "/reset/resend", submit="Recevoir un nouveau lien")
        return page(request, "Mot de passe oublié", resend, result=result)
    request.session.pop("reset_token", None)
    if result.flow is not None and result.step == "new_password":
        request.session["flow_recovery"] = result.flow
        return password_page(request, "/reset/password", result)
    return page(request, "Mot de passe oublié", result=result)  # invalid, or a second factor


@require_POST
def reset_resend(request: HttpRequest) -> HttpResponse:
    result = credflow().recovery.resend_link(session_str(request, "reset_token", pop=True))
    return page(request, "Mot de passe oublié", result=result)


@secrets_posted("new", "confirm")
def reset_password(request: HttpRequest) -> HttpResponse:
    flow = session_str(request, "flow_recovery")
    posted = request.POST
    result = credflow().recovery.set_password(
        flow, posted.get("new", ""), posted.get("confirm", "")
    )
    if result.session is not None:  # only with login_after_reset
        return signed_in(request, result.session)
    if result.status is RecoveryStatus.REFUSED:
        return password_page(request, "/reset/password", result)
    request.session.pop("flow_recovery", None)
    return redirect(request, "/login", result)


@require_GET
def unlock_link(request: HttpRequest) -> HttpResponse:
    return keep_token(request, "unlock_token", "/unlock/open")


def unlock_open(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return page(request, "Déblocage", form(request, "/unlock/open", submit="Débloquer"))
    result = credflow().unlock(session_str(request, "unlock_token"))
    if result.status is StepStatus.EXPIRED:
        resend = form(request, "/unlock/resend", submit="Recevoir un nouveau lien")
        return page(request, "Déblocage", resend, result=result)
    request.session.pop("unlock_token", None)
    return page(request, "Déblocage", '<p><a href="/login">Connexion</a></p>', result=result)


@require_POST
def unlock_resend(request: HttpRequest) -> HttpResponse:
    result = credflow().resend_unlock(session_str(request, "unlock_token", pop=True))
    return page(request, "Déblocage", result=result)


@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    """The mail kept by an ``Outbox`` notifier, newest first (development only)."""
    notifier = credflow().notifier
    if not settings.CREDFLOW_OUTBOX_PAGE or not isinstance(notifier, Outbox):
        raise Http404
    mails = (DEFAULT_TEMPLATES.render(message) for message in reversed(notifier.messages))
    return page(
        request, "Outbox", *(f"<h2>{esc(m.subject)}</h2><pre>{esc(m.text)}</pre>" for m in mails)
    )


urlpatterns = [
    path("", home),
    path("login", login),
    path("first-login", first_login),
    path("logout", logout),
    path("password/forgot", forgot),
    path("reset", reset_link),
    path("reset/open", reset_open),
    path("reset/resend", reset_resend),
    path("reset/password", reset_password),
    path("unlock", unlock_link),
    path("unlock/open", unlock_open),
    path("unlock/resend", unlock_resend),
    path("outbox", outbox),
]


# -- running it --------------------------------------------------------------------------------


def build_credflow(database: Path, base_url: str, **overrides: Any) -> Credflow:
    """credflow on a SQLite file, NIST settings, mail kept in an ``Outbox``."""
    from credflow.storage.sql import SQLStorage

    secret = os.environ.get("CREDFLOW_SECRET_KEY") or secrets.token_urlsafe(48)
    return Credflow(
        storage=SQLStorage(f"sqlite:///{database}", create=True),
        settings=Settings.nist(secret_key=secret, base_url=base_url, **overrides),
        notifier=Outbox(),
    )


def seed(cf: Credflow, identifier: str = "demo") -> str | None:
    """Create the ``demo`` account, once; its temporary password (returned once) or None."""
    if cf.accounts.find(identifier) is not None:
        return None
    return cf.accounts.create(identifier, email=f"{identifier}@example.fr").temporary_password


def main() -> None:  # pragma: no cover - starts a server
    import django
    from django.core.management import execute_from_command_line

    cf = build_credflow(Path("django-demo.sqlite3"), "http://127.0.0.1:8000")
    temporary = seed(cf)
    if temporary is not None:
        print(f"Première connexion : demo / {temporary}")
    settings.configure(**django_settings(cf, outbox_page=True))
    django.setup()
    execute_from_command_line([sys.argv[0], "runserver", "127.0.0.1:8000", "--noreload"])


if __name__ == "__main__":  # pragma: no cover
    main()
