"""Glue between Flask and credflow: the current Credflow, language, status line and cookies.

The credflow session token lives in its own cookie (``SSO_COOKIE``), host-only for 127.0.0.1 and
so sent to every port of it: the two applications of the demo share it, and with it the session.
Flow handles (first login, second factor, recovery…) live in Flask's signed session cookie.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any, TypeVar, cast

from examples.portal.mailbox import SQLiteOutbox
from examples.portal.ui import LOCALES, label
from flask import (
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from werkzeug.wrappers import Response as BaseResponse

from credflow import Credflow, InvalidInput, Session
from credflow.policy.report import RuleResult
from credflow.storage.records import Account

F = TypeVar("F", bound=Callable[..., Any])
LANG_COOKIE = "lang"


class HttpsAwareSessions(SecureCookieSessionInterface):
    """Flask's signed cookie, marked ``Secure`` whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def credflow() -> Credflow:
    """The application's Credflow."""
    return cast(Credflow, current_app.extensions["credflow"])


def outbox() -> SQLiteOutbox:
    """The development outbox."""
    return cast(SQLiteOutbox, current_app.extensions["portal_outbox"])


def choose_language() -> None:
    """``?lang=en`` (remembered in a cookie), else the cookie, else French."""
    wanted = request.args.get("lang") or request.cookies.get(LANG_COOKIE) or "fr"
    g.lang = wanted if wanted in LOCALES else "fr"


def remember_language(response: Response) -> Response:
    if request.args.get("lang") in LOCALES:
        response.set_cookie(
            LANG_COOKIE, g.lang, samesite="Lax", secure=request.is_secure, httponly=True
        )
    return response


def no_store(response: Response) -> Response:
    """Pages are never cached: some show a secret once (recovery codes, a temporary password,
    a TOTP key), and a signed-in page must not come back from the cache after logout."""
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def t(key: str, **params: object) -> str:
    """A label of the portal in the current language."""
    return label(g.lang, key, **params)


def lang() -> str:
    return str(g.lang)


# -- the status line -----------------------------------------------------------------------


def show(code: str, message: str, ok: bool, failures: Iterable[RuleResult] = ()) -> None:
    """Show an outcome on the page being rendered."""
    g.status = {"code": code, "message": message, "ok": ok}
    g.failures = [{"code": f.code, "message": f.message} for f in failures]


def show_result(result: Any) -> None:
    """Show a credflow result: its stable code, its localised message, the rules it broke."""
    show(result.code, result.message, bool(result.ok), getattr(result, "failures", ()))


def flash_result(result: Any) -> None:
    """Show a credflow result on the next page (after a redirect)."""
    session["status"] = {"code": result.code, "message": result.message, "ok": bool(result.ok)}


def flash(code: str, message: str, ok: bool) -> None:
    session["status"] = {"code": code, "message": message, "ok": ok}


def show_invalid(error: InvalidInput) -> None:
    """Bad input (a malformed email, letters in a code): credflow raises, the page says which
    field. The exception's text is for developers, so only the field name is shown."""
    field = error.field or "?"
    show(f"input.{field}", t("error.input", field=field), False)


def pop_flash() -> None:
    g.status = session.pop("status", None)
    g.failures = []


# -- the shared sign-in cookie -------------------------------------------------------------


def sso_cookie() -> str:
    return str(current_app.config["SSO_COOKIE"])


def session_token() -> str | None:
    return request.cookies.get(sso_cookie())


def current_account() -> Account | None:
    """The signed-in account, checked against credflow's store on every request (so a logout
    in the other application is seen here at once)."""
    if "account" not in g:
        token = session_token()
        g.account = credflow().sessions.validate(token) if token else None
    return cast(Account | None, g.account)


def signed_in(target: str, new: Session) -> BaseResponse:
    """Redirect to ``target`` with the new credflow session in the shared cookie."""
    return with_session(redirect(target), new)


def with_session(response: BaseResponse, new: Session) -> BaseResponse:
    """Put the new credflow session in the shared cookie; forget the finished flows."""
    for key in [k for k in session if k.startswith("flow_")]:
        session.pop(key)
    response.set_cookie(
        sso_cookie(),
        new.token,
        expires=new.expires_at,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
        path="/",
    )
    return response


def signed_out(target: str) -> BaseResponse:
    response = redirect(target)
    response.delete_cookie(sso_cookie(), path="/", httponly=True, samesite="Lax")
    return response


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_account() is None:
            return redirect(url_for("auth.login"))
        return view(*args, **kwargs)

    return cast(F, wrapper)


# -- pages ---------------------------------------------------------------------------------


def field(name: str, key: str, kind: str = "text", **extra: Any) -> dict[str, Any]:
    """One input of a form: its name (and id), its label, its type."""
    return {"name": name, "label": t(key), "type": kind, **extra}


def new_password_fields() -> list[dict[str, Any]]:
    """New password (driving the live checklist) and its confirmation."""
    return [
        field("new", "field.new_password", "password", autocomplete="new-password", checklist=1),
        field("confirm", "field.confirm", "password", autocomplete="new-password"),
    ]


def form(
    form_id: str,
    action: str,
    fields: list[dict[str, Any]],
    submit: str,
    *,
    hidden: Mapping[str, str] | None = None,
    heading: str | None = None,
) -> dict[str, Any]:
    """A form of a page: stable id, action, inputs, one submit button (``{form_id}-submit``),
    and a ``heading`` (a label key) when a page holds several forms."""
    return {
        "id": form_id,
        "action": action,
        "fields": fields,
        "submit": t(submit),
        "hidden": dict(hidden or {}),
        "heading": t(heading) if heading else None,
    }


def page(title: str, **context: Any) -> str:
    """Render the generic page: title, status line, forms, and whatever else is given."""
    return render_template("page.html", title=t(title), **context)


def checklist(identifier: str | None = None, identifier_field: str | None = None) -> dict[str, Any]:
    """The live checklist: every rule for an empty password, re-evaluated as the person types
    through ``/checklist`` (``identifier`` or the input ``identifier_field`` as context)."""
    report = credflow().policy.evaluate("", identifier=identifier, locale=lang())
    return {
        "rules": [r.to_dict() for r in report.results],
        "identifier": identifier or "",
        "identifier_field": identifier_field or "",
    }
