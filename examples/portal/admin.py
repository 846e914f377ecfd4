"""An organisation administrator's pages (members: approve, deactivate, reactivate, unlock;
create a user with a temporary password; the DEFI migration), and organisation sign-up.

credflow checks the administrator role itself for membership changes (NotAuthorised). Account
operations (unlock, create, password setup) are operator tools in credflow, so the portal lets an
administrator use them only on members of the organisation the session has active."""

from __future__ import annotations

from typing import Any

from examples.portal.web import (
    credflow,
    current_account,
    field,
    form,
    lang,
    login_required,
    page,
    session_token,
    show,
    show_invalid,
    t,
)
from flask import Blueprint, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from credflow import (
    DuplicateIdentifier,
    DuplicateOrganisation,
    InvalidInput,
    InvalidTransition,
    NotAuthorised,
)
from credflow.organisations import ADMINISTRATOR
from credflow.storage.records import MembershipStatus

bp = Blueprint("admin", __name__)
Page = str | BaseResponse
MEMBER_ACTIONS = ("approve", "deactivate", "reactivate")


def _admin_of() -> tuple[str, str] | None:
    """(administrator account id, organisation id) when the session's active organisation is
    one the person administers (an active membership with the role), else None."""
    cf = credflow()
    me = current_account()
    organisation = cf.sessions.organisation(session_token() or "")
    if me is None or organisation is None:
        return None
    membership = cf.organisations.membership(me.id, organisation)
    if membership is None or membership.status is not MembershipStatus.ACTIVE:
        return None
    if ADMINISTRATOR not in membership.roles:
        return None
    return me.id, organisation


def _forbidden() -> str:
    show("admin.forbidden", t("error.forbidden"), False)
    return page(
        "page.admin",
        links=[(url_for("account.organisations"), t("nav.organisations"), "link-organisations")],
    )


@bp.get("/admin")
@login_required
def members() -> str:
    return members_page()


def members_page(**extra: Any) -> str:
    found = _admin_of()
    if found is None:
        return _forbidden()
    admin_id, organisation = found
    cf = credflow()
    rows = []
    for membership in cf.organisations.members(organisation, limit=500):
        account = cf.accounts.get(membership.account_id)
        rows.append(
            {
                "id": account.id,
                "identifier": account.identifier,
                "email": account.email or "",
                "status": membership.status.value,
                "roles": ", ".join(membership.roles),
                "lock": cf.lockout.state(account).value,
                "locked": cf.lockout.is_locked(account),
                "self": account.id == admin_id,
            }
        )
    new_user = [
        field("identifier", "field.identifier"),
        field("email", "field.email", "email"),
    ]
    return render_template(
        "admin.html",
        title=t("page.admin"),
        organisation=cf.organisations.get(organisation).name,
        rows=rows,
        create=form("create-user-form", url_for("admin.create_user"), new_user, "button.create"),
        force=form("force-reset-form", url_for("admin.force_reset"), [], "button.force_reset"),
        **extra,
    )


@bp.post("/admin/members/<account_id>/<action>")
@login_required
def member_action(account_id: str, action: str) -> str:
    found = _admin_of()
    if found is None or action not in MEMBER_ACTIONS:
        return _forbidden()
    admin_id, organisation = found
    cf = credflow()
    change = getattr(cf.organisations, action)
    try:
        membership = change(admin_id, organisation, account_id)
    except (NotAuthorised, LookupError, InvalidInput):
        show("admin.forbidden", t("error.forbidden"), False)
        return members_page()
    except InvalidTransition:  # sent twice (a reload, a second administrator): already done
        show("membership.unchanged", t("error.unchanged"), False)
        return members_page()
    identifier = cf.accounts.get(membership.account_id).identifier
    show(f"membership.{membership.status.value}", t(f"done.{action}", identifier=identifier), True)
    return members_page()


def _member(organisation: str, account_id: str) -> bool:
    membership = credflow().organisations.membership(account_id, organisation)
    return membership is not None


@bp.post("/admin/unlock/<account_id>")
@login_required
def unlock(account_id: str) -> str:
    found = _admin_of()
    if found is None or not _member(found[1], account_id):
        return _forbidden()
    credflow().accounts.unlock(account_id)
    message = credflow().messages.render("unlock.done", lang())
    show("unlock.done", message, True)
    return members_page()


@bp.post("/admin/users")
@login_required
def create_user() -> str:
    """A new account with a temporary password (the first login applies), made an active
    member of the organisation in one transaction; the password is shown here once (and mailed
    when the portal mails temporary passwords)."""
    found = _admin_of()
    if found is None:
        return _forbidden()
    admin_id, organisation = found
    try:
        created = credflow().organisations.create_member(
            admin_id,
            organisation,
            request.form.get("identifier", ""),
            email=request.form.get("email") or None,
            locale=lang(),
        )
    except InvalidInput as error:
        show_invalid(error)
        return members_page()
    except DuplicateIdentifier:
        show("account.taken", t("error.taken"), False)
        return members_page()
    except NotAuthorised:  # the administrator's role was withdrawn since the page was drawn
        return _forbidden()
    secret = {"label": t("text.temporary"), "value": created.temporary_password, "id": "temporary"}
    show("account.created", created.account.identifier, True)
    return members_page(secret=secret)


@bp.post("/admin/force-reset")
@login_required
def force_reset() -> str:
    """DEFI's migration: every other member gets a link to set a new password, and the old
    credentials stop working at once."""
    found = _admin_of()
    if found is None:
        return _forbidden()
    admin_id, organisation = found
    cf = credflow()
    ids = [
        m.account_id
        for m in cf.organisations.members(organisation, limit=10_000)
        if m.account_id != admin_id and m.status is not MembershipStatus.DISABLED
    ]
    count = cf.accounts.send_password_setup(ids, locale=lang())
    show("password_setup.sent", t("text.reset_sent", count=count), True)
    return members_page()


# -- organisation sign-up (Certigna) ---------------------------------------------------------


@bp.get("/organisations/signup")
def org_signup() -> str:
    return org_signup_page()


def org_signup_page() -> str:
    fields = [
        field("name", "field.name", autocomplete="organization"),
        field("siret", "field.siret"),
        field("identifier", "field.identifier"),
        field("email", "field.email", "email", autocomplete="email"),
    ]
    target = url_for("admin.org_signup_post")
    return page("page.org_signup", forms=[form("org-signup-form", target, fields, "button.send")])


@bp.post("/organisations/signup")
def org_signup_post() -> str:
    try:
        credflow().organisations.sign_up(
            request.form.get("name", ""),
            request.form.get("siret", ""),
            identifier=request.form.get("identifier", ""),
            email=request.form.get("email", ""),
            locale=lang(),
        )
    except InvalidInput as error:
        show_invalid(error)
        return org_signup_page()
    except DuplicateOrganisation:
        show("organisation.taken", t("error.org_taken"), False)
        return org_signup_page()
    except DuplicateIdentifier:
        show("account.taken", t("error.taken"), False)
        return org_signup_page()
    show("organisation.signed_up", t("text.signed_up"), True)
    return page("page.org_signup", links=[(url_for("auth.login"), t("nav.login"), "link-login")])
