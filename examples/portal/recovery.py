"""Recovery pages: forgotten password (the steps the portal's settings list), forgotten
identifier (with the arithmetic check), the mailed reset and unlock links.

A link's token is moved from the URL into the signed session at once, then the page asks for a
click: the token leaves the address bar and the history, and a mail scanner that fetches the
link does not burn it."""

from __future__ import annotations

from typing import Any

from examples.portal.web import (
    checklist,
    credflow,
    field,
    flash_result,
    form,
    lang,
    new_password_fields,
    page,
    show_invalid,
    show_result,
    signed_in,
    t,
)
from flask import Blueprint, redirect, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from credflow import InvalidInput, RecoveryResult, RecoveryStatus, StepStatus
from credflow.settings import RecoveryStep

bp = Blueprint("recovery", __name__)
Page = str | BaseResponse


def challenge_form(
    form_id: str, action: str, fields: list[dict[str, Any]], human: bool
) -> dict[str, Any]:
    """A form with, when the settings ask for it, the arithmetic check: its prompt as the
    label of a ``human`` input, its signed token as the hidden ``challenge``."""
    hidden: dict[str, str] = {}
    if human:
        challenge = credflow().human_check.challenge(lang())
        prompt = t("field.human", prompt=challenge.prompt)  # "3 + 4 = ?"
        fields = [*fields, {**field("human", "field.human", autocomplete="off"), "label": prompt}]
        hidden["challenge"] = challenge.token
    return form(form_id, action, fields, "button.continue", hidden=hidden)


# -- forgotten password ----------------------------------------------------------------------


@bp.get("/password/forgot")
def forgot_password() -> Page:
    return forgot_password_page()


def forgot_password_page() -> str:
    config = credflow().settings.recovery
    by_email = config.start_from == "email"
    start = field("value", "field.email" if by_email else "field.identifier")
    human = config.steps[0] is RecoveryStep.HUMAN_CHECK
    return page(
        "page.forgot_password",
        forms=[
            challenge_form(
                "forgot-password-form", url_for("recovery.forgot_password_post"), [start], human
            )
        ],
    )


@bp.post("/password/forgot")
def forgot_password_post() -> Page:
    try:
        result = credflow().recovery.start(
            request.form.get("value", ""),
            challenge=request.form.get("challenge"),
            answer=request.form.get("human"),
            locale=lang(),
        )
    except InvalidInput as error:
        show_invalid(error)
        return forgot_password_page()
    if result.status is RecoveryStatus.REFUSED:
        show_result(result)
        return forgot_password_page()
    return follow(result)


def follow(result: RecoveryResult) -> Page:
    """Show the step a recovery result names, or its end."""
    if result.session is not None:
        flash_result(result)
        return signed_in(url_for("account.home"), result.session)
    if result.flow is not None and result.step is not None:
        session["flow_recovery"] = result.flow
        session["recovery_step"] = result.step
        session["recovery_question"] = result.question
    elif result.status is RecoveryStatus.MFA_REQUIRED:
        session["flow_mfa"] = result.flow
        flash_result(result)
        return redirect(url_for("auth.mfa_login"))
    else:
        for key in ("flow_recovery", "recovery_step", "recovery_question"):
            session.pop(key, None)
    show_result(result)
    return step_page(result.step if result.flow is not None else None)


@bp.get("/recovery")
def step() -> Page:
    return step_page(session.get("recovery_step") if session.get("flow_recovery") else None)


def step_page(name: str | None) -> str:
    """The page of one recovery step (question, code, second factor, new password)."""
    forms = []
    extra: dict[str, Any] = {}
    if name == "question":
        fields = [field("answer", "field.answer", "password", autocomplete="off")]
        forms.append(form("answer-form", url_for("recovery.answer"), fields, "button.continue"))
        extra["question"] = session.get("recovery_question")
    elif name == "code_sent":
        fields = [field("code", "field.code", autocomplete="one-time-code")]
        forms.append(form("code-form", url_for("recovery.code"), fields, "button.verify"))
        forms.append(form("code-resend-form", url_for("recovery.resend"), [], "button.resend"))
    elif name == "mfa":
        fields = [field("code", "field.code", autocomplete="one-time-code")]
        forms.append(form("recovery-mfa-form", url_for("recovery.mfa"), fields, "button.verify"))
        forms.append(form("recovery-sms-form", url_for("recovery.mfa_sms"), [], "button.send_sms"))
    elif name == "new_password":
        fields = new_password_fields()
        forms.append(
            form("new-password-form", url_for("recovery.new_password"), fields, "button.save")
        )
        extra["checklist"] = checklist()
        extra["intro"] = credflow().policy.describe(lang()).sentences
    return page("page.recovery", forms=forms, **extra)


def _flow() -> str:
    return str(session.get("flow_recovery") or "")


@bp.post("/recovery/answer")
def answer() -> Page:
    return follow(
        credflow().recovery.answer(_flow(), request.form.get("answer", ""), locale=lang())
    )


@bp.post("/recovery/code")
def code() -> Page:
    try:
        result = credflow().recovery.submit_code(
            _flow(), request.form.get("code", ""), locale=lang()
        )
    except InvalidInput as error:
        show_invalid(error)
        return step_page("code_sent")
    return follow(result)


@bp.post("/recovery/resend")
def resend() -> Page:
    return follow(credflow().recovery.resend_code(_flow(), locale=lang()))


@bp.post("/recovery/mfa")
def mfa() -> Page:
    try:
        result = credflow().recovery.submit_mfa(
            _flow(), request.form.get("code", ""), locale=lang()
        )
    except InvalidInput as error:
        show_invalid(error)
        return step_page("mfa")
    return follow(result)


@bp.post("/recovery/mfa/sms")
def mfa_sms() -> Page:
    return follow(credflow().recovery.send_mfa_code(_flow(), locale=lang()))


@bp.post("/recovery/password")
def new_password() -> Page:
    result = credflow().recovery.set_password(
        _flow(), request.form.get("new", ""), request.form.get("confirm", ""), locale=lang()
    )
    if result.status is RecoveryStatus.COMPLETED and result.session is None:
        flash_result(result)
        return redirect(url_for("auth.login"))
    return follow(result)


# -- the mailed links ------------------------------------------------------------------------


@bp.get("/reset")
def reset_link() -> BaseResponse:
    """``/reset?token=…`` from the mail: keep the token, drop it from the address."""
    token = request.args.get("token", "")
    if token:
        session["reset_token"] = token
    return redirect(url_for("recovery.reset_open"))


@bp.get("/reset/open")
def reset_open() -> str:
    return link_page("reset")


def link_page(kind: str, *, expired: bool = False) -> str:
    forms = [form(f"{kind}-open-form", url_for(f"recovery.{kind}_post"), [], "button.continue")]
    resend = url_for(f"recovery.{kind}_resend")
    if expired:
        forms.append(form(f"{kind}-resend-form", resend, [], "button.resend_link"))
    title = "page.reset_link" if kind == "reset" else "page.unlock"
    return page(title, intro=[t("text.link_open")] if not expired else [], forms=forms)


@bp.post("/reset/open")
def reset_post() -> Page:
    result = credflow().recovery.open_link(str(session.get("reset_token") or ""), locale=lang())
    if result.status is RecoveryStatus.EXPIRED:
        show_result(result)
        return link_page("reset", expired=True)
    session.pop("reset_token", None)
    return follow(result)


@bp.post("/reset/resend")
def reset_resend() -> Page:
    result = credflow().recovery.resend_link(str(session.pop("reset_token", "")), locale=lang())
    show_result(result)
    return page("page.reset_link")


@bp.get("/unlock")
def unlock_link() -> BaseResponse:
    token = request.args.get("token", "")
    if token:
        session["unlock_token"] = token
    return redirect(url_for("recovery.unlock_open"))


@bp.get("/unlock/open")
def unlock_open() -> str:
    return link_page("unlock")


@bp.post("/unlock/open")
def unlock_post() -> Page:
    result = credflow().unlock(str(session.get("unlock_token") or ""), locale=lang())
    show_result(result)
    if result.status is StepStatus.EXPIRED:
        return link_page("unlock", expired=True)
    session.pop("unlock_token", None)
    return page("page.unlock", links=[(url_for("auth.login"), t("nav.login"), "link-login")])


@bp.post("/unlock/resend")
def unlock_resend() -> str:
    result = credflow().resend_unlock(str(session.pop("unlock_token", "")), locale=lang())
    show_result(result)
    return page("page.unlock")


# -- forgotten identifier (ASP, Certigna) ----------------------------------------------------


@bp.get("/identifier/forgot")
def forgot_identifier() -> str:
    return forgot_identifier_page()


def forgot_identifier_page() -> str:
    steps = credflow().settings.recovery.reminder_steps
    human = bool(steps) and steps[0] is RecoveryStep.HUMAN_CHECK
    email = [field("email", "field.email", "email", autocomplete="email")]
    target = url_for("recovery.forgot_identifier_post")
    return page(
        "page.forgot_identifier",
        forms=[challenge_form("forgot-identifier-form", target, email, human)],
    )


@bp.post("/identifier/forgot")
def forgot_identifier_post() -> Page:
    try:
        result = credflow().recovery.remind_identifier(
            request.form.get("email", ""),
            challenge=request.form.get("challenge"),
            answer=request.form.get("human"),
            locale=lang(),
        )
    except InvalidInput as error:
        show_invalid(error)
        return forgot_identifier_page()
    if result.status is RecoveryStatus.REFUSED:
        show_result(result)
        return forgot_identifier_page()
    return follow(result)
