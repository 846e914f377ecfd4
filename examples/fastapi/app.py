"""credflow in a FastAPI app: login, the first login's forced password change, logout, and a
forgotten password by mailed link (plus the unlock link a lockout mails), in plain HTML.

Run it (``pip install fastapi python-multipart uvicorn``; ``CREDFLOW_SECRET_KEY`` set, or a key
is made for this run only)::

    python -m examples.fastapi.app     # http://127.0.0.1:8000, mail on /outbox

The glue, as in the Flask portal (docs/integration/fastapi.md):

- credflow's session token lives in its own cookie (HttpOnly, SameSite=Lax, Secure over HTTPS)
  and ``cf.sessions.validate`` checks it on every request, so a logout ends it everywhere;
- flow handles (first login, reset) and a per-visitor CSRF token live in Starlette's signed
  session cookie, never in a URL; every form posts the CSRF token back;
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
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware

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
FLOWS_COOKIE = "flows"  # Starlette's signed session: CSRF token, flow handles, status line
Field = tuple[str, str, str]  # name, label, input type
Text = Annotated[str, Form()]

pages = APIRouter()
forms = APIRouter()  # every POST: create_app adds the CSRF check
dev = APIRouter()


def create_app(cf: Credflow, *, https: bool = False, outbox_page: bool = False) -> FastAPI:
    """The application around ``cf``. ``https`` marks every cookie ``Secure`` (they are anyway
    on a request that came over HTTPS); ``outbox_page`` serves ``/outbox``, the mail an
    ``Outbox`` notifier kept (development only: it shows live links)."""
    if cf.settings.recovery.steps != (RecoveryStep.EMAIL_LINK,):
        raise ValueError("this example handles the recovery steps ['email_link'] only")
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.credflow = cf
    app.state.https = https
    app.add_middleware(
        SessionMiddleware,
        secret_key=derive(cf, "fastapi-session"),
        session_cookie=FLOWS_COOKIE,
        same_site="lax",
        https_only=https,
    )
    app.include_router(pages)
    app.include_router(forms, dependencies=[Depends(check_csrf)])
    if outbox_page:
        app.include_router(dev)
    return app


def derive(cf: Credflow, purpose: str) -> str:
    """A key for one purpose, from credflow's key: no key serves two jobs."""
    key = cf.settings.signing_keys[0]
    return hmac.new(key, b"example:" + purpose.encode(), hashlib.sha256).hexdigest()


# -- glue ------------------------------------------------------------------------------------


def credflow(request: Request) -> Credflow:
    return cast(Credflow, request.app.state.credflow)


def current_account(request: Request) -> Account | None:
    """The signed-in account, checked against credflow's store on every request."""
    token = request.cookies.get(SESSION_COOKIE)
    return credflow(request).sessions.validate(token) if token else None


def secure(request: Request) -> bool:
    return bool(request.app.state.https) or request.url.scheme == "https"


def csrf_token(request: Request) -> str:
    if "csrf" not in request.session:
        request.session["csrf"] = secrets.token_urlsafe(32)
    return str(request.session["csrf"])


async def check_csrf(request: Request) -> None:
    """Every form posts back the token of the visitor's session."""
    sent = (await request.form()).get("csrf")
    expected = request.session.get("csrf")
    if not (
        isinstance(sent, str)
        and isinstance(expected, str)
        and hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise HTTPException(403, "CSRF check failed")


def signed_in(request: Request, new: Session) -> Response:
    """Go home with the new credflow session in its cookie; the pre-login session (its flows
    and CSRF token) is dropped."""
    request.session.clear()
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        new.token,
        # A lifetime, not a date: the browser's clock need not agree with credflow's.
        max_age=int((new.expires_at - new.created_at).total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path="/",
    )
    return response


def redirect(request: Request, target: str, result: Any = None) -> Response:
    """Redirect, showing ``result`` (its stable code and localised message) on the next page."""
    if result is not None:
        request.session["status"] = {"code": result.code, "message": result.message}
    return RedirectResponse(target, status_code=303)


# -- HTML ------------------------------------------------------------------------------------


def esc(value: object) -> str:
    return html.escape(str(value))


def page(request: Request, title: str, *body: str, result: Any = None) -> HTMLResponse:
    """A page: title, the status line (a result, or the one carried over a redirect), the
    rules a refused password broke, then ``body``."""
    status = request.session.pop("status", None)
    if result is not None:
        status = {"code": result.code, "message": result.message}
    parts = [
        f'<!doctype html><html lang="{esc(credflow(request).settings.locale)}">',
        f"<meta charset=utf-8><title>{esc(title)}</title><h1>{esc(title)}</h1>",
    ]
    if status:
        parts.append(f'<p id="status" data-code="{esc(status["code"])}">{esc(status["message"])}')
    failures = getattr(result, "failures", ())
    if failures:
        items = "".join(f'<li data-code="{esc(f.code)}">{esc(f.message)}' for f in failures)
        parts.append(f'<ul id="failures">{items}</ul>')
    parts.extend(body)
    return HTMLResponse("\n".join(parts))


def form(request: Request, action: str, *fields: Field, submit: str) -> str:
    inputs = "".join(
        f'<label>{esc(label)} <input name="{name}" type="{kind}"></label>'
        for name, label, kind in fields
    )
    token = f'<input type="hidden" name="csrf" value="{esc(csrf_token(request))}">'
    button = f"<button>{esc(submit)}</button>"
    return f'<form method="post" action="{action}">{token}{inputs}{button}</form>'


def password_page(request: Request, action: str, result: Any = None) -> HTMLResponse:
    """New password and confirmation, under the policy's own sentences."""
    cf = credflow(request)
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


# -- login, first login, logout ----------------------------------------------------------------


@pages.get("/")
def home(request: Request) -> Response:
    account = current_account(request)
    if account is None:
        return RedirectResponse("/login", status_code=303)
    return page(
        request,
        "Espace client",
        f'<p>Connecté : <span id="identifier">{esc(account.identifier)}</span></p>',
        form(request, "/logout", submit="Se déconnecter"),
    )


@pages.get("/login")
def login_form(request: Request) -> Response:
    if current_account(request) is not None:
        return RedirectResponse("/", status_code=303)
    return login_page(request)


def login_page(request: Request, result: Any = None) -> HTMLResponse:
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


@forms.post("/login")
def login(request: Request, identifier: Text = "", password: Text = "") -> Response:
    result = credflow(request).login(identifier, password)
    if result.session is not None:
        return signed_in(request, result.session)
    if result.status is LoginStatus.ACTION_REQUIRED:
        request.session["flow_first_login"] = result.flow
        return redirect(request, "/first-login", result)
    return login_page(request, result)  # denied, the same for every reason


@pages.get("/first-login")
def first_login_form(request: Request) -> Response:
    cf = credflow(request)
    action = cf.first_login.pending_action(request.session.get("flow_first_login", ""))
    if action is None:
        request.session.pop("flow_first_login", None)
        return RedirectResponse("/login", status_code=303)
    if action is not RequiredAction.CHANGE_PASSWORD:  # a question, TOTP: see examples/portal
        return page(request, "Première connexion", f"<p>Étape suivante : {esc(action)}</p>")
    return password_page(request, "/first-login")


@forms.post("/first-login")
def first_login(request: Request, new: Text = "", confirm: Text = "") -> Response:
    flow = request.session.get("flow_first_login", "")
    result = credflow(request).first_login.change_password(flow, new, confirm)
    if result.session is not None:
        return signed_in(request, result.session)
    if result.status is StepStatus.REFUSED:
        return password_page(request, "/first-login", result)
    if result.status is StepStatus.NEXT:
        return redirect(request, "/first-login", result)
    request.session.pop("flow_first_login", None)  # reauthenticate, expired, invalid
    return redirect(request, "/login", result)


@forms.post("/logout")
def logout(request: Request) -> Response:
    """End the credflow session in its store: the cookie alone would outlive a deletion."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        credflow(request).sessions.revoke(token)
    request.session.clear()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure(request)
    )
    return response


# -- forgotten password, and the mailed links ------------------------------------------------


@pages.get("/password/forgot")
def forgot_form(request: Request) -> HTMLResponse:
    by_email = credflow(request).settings.recovery.start_from == "email"
    start: Field = ("value", "Adresse électronique" if by_email else "Identifiant", "text")
    return page(
        request, "Mot de passe oublié", form(request, "/password/forgot", start, submit="Continuer")
    )


@forms.post("/password/forgot")
def forgot(request: Request, value: Text = "") -> HTMLResponse:
    """The same page whether or not the account exists; only a real one gets mail."""
    result = credflow(request).recovery.start(value)
    return page(request, "Mot de passe oublié", result=result)


def keep_token(request: Request, key: str, token: str, target: str) -> Response:
    """A mailed link: its token leaves the URL (and the history) for the signed session."""
    if token:
        request.session[key] = token
    return RedirectResponse(target, status_code=303)


@pages.get("/reset")
def reset_link(request: Request, token: str = "") -> Response:
    return keep_token(request, "reset_token", token, "/reset/open")


@pages.get("/reset/open")
def reset_open_form(request: Request) -> HTMLResponse:
    return page(request, "Nouveau mot de passe", form(request, "/reset/open", submit="Continuer"))


@forms.post("/reset/open")
def reset_open(request: Request) -> HTMLResponse:
    result = credflow(request).recovery.open_link(request.session.get("reset_token", ""))
    if result.status is RecoveryStatus.EXPIRED:  # offer a fresh link in place of this one
        resend = form(request, "/reset/resend", submit="Recevoir un nouveau lien")
        return page(request, "Mot de passe oublié", resend, result=result)
    request.session.pop("reset_token", None)
    if result.flow is not None and result.step == "new_password":
        request.session["flow_recovery"] = result.flow
        return password_page(request, "/reset/password", result)
    return page(request, "Mot de passe oublié", result=result)  # invalid, or a second factor


@forms.post("/reset/resend")
def reset_resend(request: Request) -> HTMLResponse:
    result = credflow(request).recovery.resend_link(request.session.pop("reset_token", ""))
    return page(request, "Mot de passe oublié", result=result)


@forms.post("/reset/password")
def reset_password(request: Request, new: Text = "", confirm: Text = "") -> Response:
    flow = request.session.get("flow_recovery", "")
    result = credflow(request).recovery.set_password(flow, new, confirm)
    if result.session is not None:  # only with login_after_reset
        return signed_in(request, result.session)
    if result.status is RecoveryStatus.REFUSED:
        return password_page(request, "/reset/password", result)
    request.session.pop("flow_recovery", None)
    return redirect(request, "/login", result)


@pages.get("/unlock")
def unlock_link(request: Request, token: str = "") -> Response:
    return keep_token(request, "unlock_token", token, "/unlock/open")


@pages.get("/unlock/open")
def unlock_open_form(request: Request) -> HTMLResponse:
    return page(request, "Déblocage", form(request, "/unlock/open", submit="Débloquer"))


@forms.post("/unlock/open")
def unlock_open(request: Request) -> HTMLResponse:
    result = credflow(request).unlock(request.session.get("unlock_token", ""))
    if result.status is StepStatus.EXPIRED:
        resend = form(request, "/unlock/resend", submit="Recevoir un nouveau lien")
        return page(request, "Déblocage", resend, result=result)
    request.session.pop("unlock_token", None)
    return page(request, "Déblocage", '<p><a href="/login">Connexion</a></p>', result=result)


@forms.post("/unlock/resend")
def unlock_resend(request: Request) -> HTMLResponse:
    result = credflow(request).resend_unlock(request.session.pop("unlock_token", ""))
    return page(request, "Déblocage", result=result)


@dev.get("/outbox")
def outbox(request: Request) -> HTMLResponse:
    """The mail kept by an ``Outbox`` notifier, newest first (development only)."""
    notifier = credflow(request).notifier
    sent = notifier.messages if isinstance(notifier, Outbox) else ()
    mails = (DEFAULT_TEMPLATES.render(message) for message in reversed(sent))
    return page(
        request, "Outbox", *(f"<h2>{esc(m.subject)}</h2><pre>{esc(m.text)}</pre>" for m in mails)
    )


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
    import uvicorn

    cf = build_credflow(Path("fastapi-demo.sqlite3"), "http://127.0.0.1:8000")
    temporary = seed(cf)
    if temporary is not None:
        print(f"Première connexion : demo / {temporary}")
    # No access log: it would print each mailed link's token with the request line.
    app = create_app(cf, outbox_page=True)
    uvicorn.run(app, host="127.0.0.1", port=8000, access_log=False)


if __name__ == "__main__":  # pragma: no cover
    main()
