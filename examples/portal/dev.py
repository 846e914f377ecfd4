"""``/outbox``: every mail and SMS the portal sent, for development only (``OUTBOX_PAGE``)."""

from __future__ import annotations

from examples.portal.web import outbox as sent_box
from examples.portal.web import t
from flask import Blueprint, abort, current_app, render_template

bp = Blueprint("dev", __name__)


@bp.get("/outbox")
def outbox() -> str:
    """The newest messages first, links clickable, codes readable."""
    if not current_app.config["OUTBOX_PAGE"]:
        abort(404)
    return render_template("outbox.html", title=t("app.outbox"), messages=sent_box().messages())
