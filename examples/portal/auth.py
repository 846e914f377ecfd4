"""Sign-in pages: login, first login (password, question, TOTP), second factor, the change of
password from the login page (Sigma), the live checklist endpoint, and logout."""

from __future__ import annotations

import base64
from typing import Any

from examples.portal.web import (
    checklist,
    credflow,
    current_account,
    field,
    flash,
    flash_result,
    form,
    lang,
    new_password_fields,
    page,
    session_token,
    show_invalid,
    show_result,
    signed_in,
    signed_out,
    t,
    with_session,
)
from flask import Blueprint, Response, jsonify, make_response, redirect, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from credflow import InvalidInput, LoginStatus, MfaStatus, RequiredAction, StepResult, StepStatus

bp = Blueprint("auth", __name__)
Page = str | BaseResponse


@bp.get("/login")
def login() -> Page:
    if current_account() is not None:
        return redirect(url_for("account.home"))
    return login_page()


def login_page(identifier: str = "") -> str:
    settings = credflow().settings
    links = [
        (url_for("recovery.forgot_password"), t("link.forgot_password"), "link-forgot-password"),
        (
            url_for("recovery.forgot_identifier"),
            t("link.forgot_identifier"),
            "link-forgot-identifier",
        ),
        (url_for("auth.change_password"), t("link.change_password"), "link-change-password"),
        (url_for("admin.org_signup"), t("link.org_signup"), "link-org-signup"),
    ]
    if settings.registration.enabled:
        links.insert(2, (url_for("account.register"), t("link.register"), "link-register"))
    fields = [
        field("identifier", "field.identifier", value=identifier, autocomplete="username"),
        field("password", "field.password", "password", autocomplete="current-password"),
    ]
    return page(
        "login.title",
        forms=[form("login-form", url_for("auth.login_post"), fields, "button.login")],
        links=links,
    )


@bp.post("/login")
def login_post() -> Page:
    identifier = request.form.get("identifier", "")
    result = credflow().login(identifier, request.form.get("password", ""), locale=lang())
    if result.status is LoginStatus.AUTHENTICATED and result.session is not None:
        return signed_in(url_for("account.home"), result.session)
    if result.status is LoginStatus.ACTION_REQUIRED:
        session["flow_first_login"] = result.flow
        session["identifier"] = identifier  # context for the live checklist
        flash_result(result)
        return redirect(url_for("auth.first_login"))
    if result.status is LoginStatus.MFA_REQUIRED:
        session["flow_mfa"] = result.flow
        flash_result(result)
        return redirect(url_for("auth.mfa_login"))
    show_result(result)
    return login_page(identifier)


@bp.post("/logout")
def logout() -> BaseResponse:
    """End the credflow session: the other application sees it gone on its next request."""
    token = session_token()
    if token:
        credflow().sessions.revoke(token)
    session.clear()
    return signed_out(url_for("auth.login"))


@bp.post("/checklist")
def checklist_json() -> Response:
    """Every rule for the password typed so far, with the identifier as context."""
    data = request.get_json(silent=True) or {}
    password = data.get("password", "")
    identifier = data.get("identifier") or session.get("identifier") or None
    if not isinstance(password, str) or not isinstance(identifier, str | None):
        return jsonify({"error": "password and identifier must be strings"}), 400  # type: ignore[return-value]
    report = credflow().policy.evaluate(password, identifier=identifier, locale=lang())
    return jsonify(report.to_dict())


# -- first login -----------------------------------------------------------------------------


def _first_flow() -> str:
    return str(session.get("flow_first_login") or "")


@bp.get("/first-login")
def first_login() -> Page:
    cf = credflow()
    action = cf.first_login.pending_action(_first_flow())
    if action is None:
        flash("flow.invalid", cf.messages.render("flow.invalid", lang()), False)
        return redirect(url_for("auth.login"))
    return first_login_page(action)


def first_login_page(action: RequiredAction, **extra: Any) -> str:
    cf = credflow()
    if action is RequiredAction.CHANGE_PASSWORD:
        fields = new_password_fields()
        target = url_for("auth.first_login_password")
        return page(
            "page.first_login",
            intro=cf.policy.describe(lang()).sentences,
            checklist=checklist(identifier=session.get("identifier")),
            forms=[form("first-login-password-form", target, fields, "button.save")],
            **extra,
        )
    if action is RequiredAction.ENROLL_SECURITY_QUESTION:
        fields = [
            field("question", "field.question"),
            field("answer", "field.answer", "password", autocomplete="off"),
        ]
        target = url_for("auth.first_login_question")
        return page(
            "page.first_login",
            intro=[cf.messages.render("answer.guidance", lang())],
            forms=[form("question-form", target, fields, "button.save")],
            **extra,
        )
    setup = cf.first_login.begin_totp(_first_flow(), locale=lang())
    if not setup.ok:
        show_result(setup)
        return page("page.first_login", **extra)
    return totp_page(setup, url_for("auth.first_login_totp"), "first-login-totp-form", **extra)


def totp_page(setup: Any, action: str, form_id: str, **extra: Any) -> str:
    """The QR code (segno SVG, as an image), the key to type by hand, and the code form."""
    qr = "data:image/svg+xml;base64," + base64.b64encode(setup.svg().encode()).decode()
    fields = [field("code", "field.code", "text", autocomplete="one-time-code")]
    return page(
        "page.totp",
        intro=[t("text.totp_scan")],
        qr=qr,
        secret={"label": "", "value": setup.secret, "id": "totp-secret"},
        forms=[form(form_id, action, fields, "button.verify")],
        **extra,
    )


def codes_page(codes: tuple[str, ...]) -> str:
    """The recovery codes, shown once: they are never stored in clear, nor shown again."""
    return page(
        "page.recovery_codes",
        intro=[t("text.recovery_codes")],
        codes=codes,
        links=[(url_for("account.home"), t("button.continue"), "link-continue")],
    )


def after_step(result: StepResult, action: RequiredAction | None) -> Page:
    """Where a first-login step leads."""
    if result.status is StepStatus.COMPLETED and result.session is not None:
        if result.recovery_codes:  # shown once, on this very response
            show_result(result)
            return with_session(make_response(codes_page(result.recovery_codes)), result.session)
        flash_result(result)
        return signed_in(url_for("account.home"), result.session)
    if result.status is StepStatus.NEXT:
        flash_result(result)
        return redirect(url_for("auth.first_login"))
    if result.status is StepStatus.MFA_REQUIRED:
        session.pop("flow_first_login", None)
        session["flow_mfa"] = result.flow
        flash_result(result)
        return redirect(url_for("auth.mfa_login"))
    if result.status is StepStatus.REFUSED and action is not None:
        show_result(result)
        return first_login_page(action)
    session.pop("flow_first_login", None)  # reauthenticate, expired, invalid
    flash_result(result)
    return redirect(url_for("auth.login"))


@bp.post("/first-login/password")
def first_login_password() -> Page:
    result = credflow().first_login.change_password(
        _first_flow(), request.form.get("new", ""), request.form.get("confirm", ""), locale=lang()
    )
    return after_step(result, RequiredAction.CHANGE_PASSWORD)


@bp.post("/first-login/question")
def first_login_question() -> Page:
    result = credflow().first_login.enroll_question(
        _first_flow(),
        request.form.get("question", ""),
        request.form.get("answer", ""),
        locale=lang(),
    )
    return after_step(result, RequiredAction.ENROLL_SECURITY_QUESTION)


@bp.post("/first-login/totp")
def first_login_totp() -> Page:
    try:
        result = credflow().first_login.confirm_totp(
            _first_flow(), request.form.get("code", ""), locale=lang()
        )
    except InvalidInput as error:
        show_invalid(error)
        return first_login_page(RequiredAction.ENROLL_TOTP)
    return after_step(result, RequiredAction.ENROLL_TOTP)


# -- second factor at login ------------------------------------------------------------------


@bp.get("/login/mfa")
def mfa_login() -> Page:
    return mfa_page()


def mfa_page() -> str:
    flow = str(session.get("flow_mfa") or "")
    methods = credflow().mfa.methods(flow)
    forms = [
        form(
            "mfa-form",
            url_for("auth.mfa_login_post"),
            [field("code", "field.code", autocomplete="one-time-code")],
            "button.verify",
        )
    ]
    if "sms" in methods:
        forms.append(form("mfa-sms-form", url_for("auth.mfa_send_sms"), [], "button.send_sms"))
    accepted = ", ".join(t(f"method.{m}") for m in methods)
    intro = [t("text.mfa_methods", methods=accepted)] if methods else []
    return page("page.mfa_login", intro=intro, forms=forms)


@bp.post("/login/mfa")
def mfa_login_post() -> Page:
    cf = credflow()
    try:
        result = cf.mfa.verify(
            str(session.get("flow_mfa") or ""), request.form.get("code", ""), locale=lang()
        )
    except InvalidInput as error:
        show_invalid(error)
        return mfa_page()
    if result.session is not None:
        flash_result(result)
        return signed_in(url_for("account.home"), result.session)
    if result.status is MfaStatus.REFUSED:
        show_result(result)
        return mfa_page()
    session.pop("flow_mfa", None)  # locked, expired, invalid: sign in again
    flash_result(result)
    return redirect(url_for("auth.login"))


@bp.post("/login/mfa/sms")
def mfa_send_sms() -> Page:
    result = credflow().mfa.send_code(str(session.get("flow_mfa") or ""), locale=lang())
    show_result(result)
    return mfa_page()


# -- change password from the login page (Sigma) ---------------------------------------------


@bp.get("/password/change")
def change_password() -> Page:
    return change_password_page()


def change_password_page(identifier: str = "") -> str:
    fields = [
        field("identifier", "field.identifier", value=identifier, autocomplete="username"),
        field("old", "field.old_password", "password", autocomplete="current-password"),
        *new_password_fields(),
    ]
    target = url_for("auth.change_password_post")
    return page(
        "page.change_password",
        intro=credflow().policy.describe(lang()).sentences,
        checklist=checklist(identifier_field="identifier"),
        forms=[form("change-password-form", target, fields, "button.save")],
    )


@bp.post("/password/change")
def change_password_post() -> Page:
    identifier = request.form.get("identifier", "")
    result = credflow().passwords.change(
        identifier,
        request.form.get("old", ""),
        request.form.get("new", ""),
        request.form.get("confirm", ""),
        locale=lang(),
    )
    if result.ok:
        flash_result(result)
        return redirect(url_for("auth.login"))
    show_result(result)
    return change_password_page(identifier)
