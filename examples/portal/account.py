"""Pages of a signed-in person (home, second factors, email change, organisations) and
self-registration with a mailed code."""

from __future__ import annotations

from typing import Any

from examples.portal.auth import codes_page, totp_page
from examples.portal.web import (
    checklist,
    credflow,
    current_account,
    field,
    flash_result,
    form,
    lang,
    login_required,
    page,
    session_token,
    show,
    show_invalid,
    show_result,
    signed_in,
    t,
)
from flask import Blueprint, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from credflow import (
    DuplicateMembership,
    InvalidInput,
    MfaStatus,
    RequiredAction,
    VerificationResult,
    VerificationStatus,
)
from credflow.storage.records import Account, MembershipStatus, MfaKind

bp = Blueprint("account", __name__)
Page = str | BaseResponse


def _token() -> str:
    return session_token() or ""


def _me() -> Account:
    account = current_account()
    assert account is not None  # login_required
    return account


@bp.get("/")
@login_required
def home() -> str:
    cf = credflow()
    me = _me()
    organisation = cf.sessions.organisation(_token())
    name = cf.organisations.get(organisation).name if organisation else t("text.no_org")
    factors = ", ".join(k.value for k in cf.mfa.factors(_token())) or t("text.none")
    return render_template(
        "home.html",
        title=t("page.home"),
        me=me,
        organisation=name,
        factors=t("text.factors", factors=factors),
    )


# -- registration ----------------------------------------------------------------------------


@bp.get("/register")
def register() -> str:
    return register_page()


def register_page(email: str = "") -> str:
    fields = [
        field("email", "field.email", "email", value=email, autocomplete="email"),
        field("password", "field.password", "password", autocomplete="new-password", checklist=1),
        field("confirm", "field.confirm", "password", autocomplete="new-password"),
    ]
    return page(
        "page.register",
        intro=credflow().policy.describe(lang()).sentences,
        checklist=checklist(identifier_field="email"),
        forms=[form("register-form", url_for("account.register_post"), fields, "button.create")],
    )


@bp.post("/register")
def register_post() -> Page:
    email = request.form.get("email", "")
    try:
        result = credflow().registration.register(
            email, request.form.get("password", ""), request.form.get("confirm", ""), locale=lang()
        )
    except InvalidInput as error:
        show_invalid(error)
        return register_page(email)
    if result.status is VerificationStatus.NEXT:
        session["flow_registration"] = result.flow
        show_result(result)
        return verify_page("registration")
    show_result(result)
    return register_page(email)


def verify_page(kind: str) -> str:
    """The code form of a flow confirmed by a mailed code, and its resend button."""
    code = [field("code", "field.code", autocomplete="one-time-code")]
    return page(
        "page.verify",
        forms=[
            form(f"{kind}-code-form", url_for(f"account.{kind}_verify"), code, "button.verify"),
            form(f"{kind}-resend-form", url_for(f"account.{kind}_resend"), [], "button.resend"),
        ],
    )


def verification_done(result: VerificationResult, kind: str, after: str) -> Page:
    if result.session is not None:
        flash_result(result)
        return signed_in(url_for("account.home"), result.session)
    if result.status is VerificationStatus.COMPLETED:
        session.pop(f"flow_{kind}", None)
        flash_result(result)
        return redirect(after)
    show_result(result)
    if result.flow is None:
        session.pop(f"flow_{kind}", None)
        return page("page.verify")
    return verify_page(kind)


@bp.post("/register/verify")
def registration_verify() -> Page:
    try:
        result = credflow().registration.verify(
            str(session.get("flow_registration") or ""), request.form.get("code", ""), locale=lang()
        )
    except InvalidInput as error:
        show_invalid(error)
        return verify_page("registration")
    return verification_done(result, "registration", url_for("auth.login"))


@bp.post("/register/resend")
def registration_resend() -> Page:
    result = credflow().registration.resend(
        str(session.get("flow_registration") or ""), locale=lang()
    )
    return verification_done(result, "registration", url_for("auth.login"))


# -- second factors --------------------------------------------------------------------------


@bp.get("/mfa")
@login_required
def mfa() -> str:
    return mfa_page()


def mfa_page(*notes: str) -> str:
    """The factors in use, a form to add each missing one, a form to turn off each one in use
    (the current password or a code), and new recovery codes (the current password)."""
    cf = credflow()
    kinds = cf.mfa.factors(_token())
    intro = [t("text.factors", factors=", ".join(k.value for k in kinds) or t("text.none"))]
    forms = []
    if MfaKind.TOTP not in kinds:
        target = url_for("account.totp_begin")
        forms.append(form("totp-begin-form", target, [], "button.totp", heading="page.totp"))
    if MfaKind.SMS not in kinds:
        phone = [field("phone", "field.phone", "tel", autocomplete="tel")]
        target = url_for("account.sms_begin")
        forms.append(form("sms-begin-form", target, phone, "button.send_sms", heading="page.sms"))
    for kind in kinds:
        proof = [
            field("password", "field.current_password", "password", optional=1),
            field("code", "field.or_code", autocomplete="one-time-code", optional=1),
        ]
        target = url_for("account.mfa_disable", kind=kind.value)
        heading = f"heading.disable_{kind.value}"
        forms.append(
            form(f"disable-{kind.value}-form", target, proof, "button.disable", heading=heading)
        )
    if kinds:
        left = cf.mfa.recovery_codes_left(_token())
        intro.append(t("text.codes_left", count=left))
        password = [field("password", "field.current_password", "password")]
        target = url_for("account.regenerate_codes")
        forms.append(
            form(
                "regenerate-codes-form",
                target,
                password,
                "button.regenerate",
                heading="page.recovery_codes",
            )
        )
    return page("page.mfa", intro=[*intro, *notes], forms=forms)


@bp.post("/mfa/<kind>/disable")
@login_required
def mfa_disable(kind: str) -> str:
    """Turn a factor off. An empty input counts as not given: credflow wants exactly one
    proof, and says which field is wrong otherwise."""
    try:
        result = credflow().mfa.disable(
            _token(),
            kind,
            password=request.form.get("password") or None,
            code=request.form.get("code") or None,
            locale=lang(),
        )
    except InvalidInput as error:
        show_invalid(error)
        return mfa_page()
    show_result(result)
    if result.action is RequiredAction.CHANGE_PASSWORD:  # NIST's 15/8 rule, without MFA now
        return mfa_page(t("text.password_next"))
    return mfa_page()


@bp.post("/mfa/recovery-codes")
@login_required
def regenerate_codes() -> str:
    """A new set of recovery codes, shown once; the old set stops working."""
    result = credflow().mfa.regenerate_recovery_codes(
        _token(), password=request.form.get("password", ""), locale=lang()
    )
    show_result(result)
    if result.recovery_codes:
        return codes_page(result.recovery_codes)
    return mfa_page()


@bp.post("/mfa/totp")
@login_required
def totp_begin() -> str:
    setup = credflow().mfa.begin_totp(_token(), locale=lang())
    if not setup.ok:
        show_result(setup)
        return mfa_page()
    return totp_page(setup, url_for("account.totp_confirm"), "totp-confirm-form")


@bp.post("/mfa/totp/confirm")
@login_required
def totp_confirm() -> Page:
    try:
        result = credflow().mfa.confirm_totp(_token(), request.form.get("code", ""), locale=lang())
    except InvalidInput as error:
        show_invalid(error)
        return mfa_page()
    show_result(result)
    if result.status is MfaStatus.COMPLETED and result.recovery_codes:
        return codes_page(result.recovery_codes)
    return mfa_page()


@bp.post("/mfa/sms")
@login_required
def sms_begin() -> str:
    try:
        result = credflow().mfa.begin_sms(_token(), request.form.get("phone", ""), locale=lang())
    except InvalidInput as error:
        show_invalid(error)
        return mfa_page()
    show_result(result)
    if not result.ok:
        return mfa_page()
    return sms_code_page()


def sms_code_page() -> str:
    """The form for the code sent to the phone being enrolled."""
    code = [field("code", "field.code", autocomplete="one-time-code")]
    return page(
        "page.sms",
        forms=[form("sms-confirm-form", url_for("account.sms_confirm"), code, "button.verify")],
    )


@bp.post("/mfa/sms/confirm")
@login_required
def sms_confirm() -> str:
    try:
        result = credflow().mfa.confirm_sms(_token(), request.form.get("code", ""), locale=lang())
    except InvalidInput as error:
        show_invalid(error)
        return sms_code_page()
    show_result(result)
    if result.recovery_codes:
        return codes_page(result.recovery_codes)
    if result.code == "mfa.code_wrong":  # another try with the same code; else begin again
        return sms_code_page()
    return mfa_page()


# -- email change ----------------------------------------------------------------------------


@bp.get("/email")
@login_required
def email() -> str:
    return email_page()


def email_page() -> str:
    fields = [field("new_email", "field.new_email", "email", autocomplete="email")]
    if credflow().settings.registration.email_change_reauthenticate:
        fields.append(field("password", "field.password", "password"))
    return page(
        "page.email",
        intro=[_me().email or ""],
        forms=[form("email-form", url_for("account.email_post"), fields, "button.send")],
    )


@bp.post("/email")
@login_required
def email_post() -> str:
    try:
        result = credflow().email_change.start(
            _token(),
            request.form.get("new_email", ""),
            password=request.form.get("password"),
            locale=lang(),
        )
    except InvalidInput as error:
        show_invalid(error)
        return email_page()
    show_result(result)
    if result.status is not VerificationStatus.NEXT:
        return email_page()
    session["flow_email_change"] = result.flow
    return verify_page("email_change")


@bp.post("/email/verify")
@login_required
def email_change_verify() -> Page:
    try:
        result = credflow().email_change.confirm(
            str(session.get("flow_email_change") or ""), request.form.get("code", ""), locale=lang()
        )
    except InvalidInput as error:
        show_invalid(error)
        return verify_page("email_change")
    return verification_done(result, "email_change", url_for("account.home"))


@bp.post("/email/resend")
@login_required
def email_change_resend() -> Page:
    result = credflow().email_change.resend(
        str(session.get("flow_email_change") or ""), locale=lang()
    )
    return verification_done(result, "email_change", url_for("account.home"))


# -- organisations ---------------------------------------------------------------------------


@bp.get("/organisations")
@login_required
def organisations() -> str:
    return organisations_page()


def organisations_page() -> str:
    cf = credflow()
    active = cf.sessions.organisation(_token())
    rows: list[dict[str, Any]] = []
    for membership in cf.organisations.memberships(_me().id):
        rows.append(
            {
                "id": membership.organisation_id,
                "name": cf.organisations.get(membership.organisation_id).name,
                "status": membership.status.value,
                "roles": ", ".join(membership.roles),
                "active": membership.organisation_id == active,
                "usable": membership.status is MembershipStatus.ACTIVE,
            }
        )
    siret = [field("siret", "field.siret")]
    join = form("join-form", url_for("account.join"), siret, "button.join")
    return render_template(
        "organisations.html", title=t("page.organisations"), rows=rows, join=join
    )


@bp.post("/organisations/switch")
@login_required
def switch() -> Page:
    organisation = request.form.get("organisation", "")
    try:
        result = credflow().sessions.switch_organisation(_token(), organisation, locale=lang())
    except InvalidInput as error:
        show_invalid(error)
        return organisations_page()
    show_result(result)
    return organisations_page()


@bp.post("/organisations/join")
@login_required
def join() -> str:
    cf = credflow()
    try:
        found = cf.organisations.find(request.form.get("siret", ""))
    except InvalidInput as error:
        show_invalid(error)
        return organisations_page()
    if found is None:
        show("organisation.unknown", t("error.not_found"), False)
        return organisations_page()
    try:
        cf.organisations.join(_me().id, found.id)
    except DuplicateMembership:
        show("organisation.duplicate", t("error.member"), False)
        return organisations_page()
    message = cf.messages.render("organisation.pending_approval", lang())
    show("organisation.pending_approval", message, True)
    return organisations_page()
