"""``create_app(config)``: one portal application on credflow's public API.

Config keys (all optional):

- ``PORTAL``: ``sage`` (default), ``sigma``, ``certigna``, ``defi`` or ``asp``; the settings come
  from ``examples/portals/<name>.toml``.
- ``APP_NAME``: the application's name ("Portail documentaire", "Portail assistance").
- ``BASE_URL``: where mailed links point (``http://127.0.0.1:5000``).
- ``OTHER_APP_URL``: the other application of the single sign-on, for a link in the header.
- ``INSTANCE``: the instance folder (``examples/portal/instance``); ``DATABASE``: the SQLite file
  (``<instance>/portal.sqlite3``), shared by credflow's tables and the outbox.
- ``SECRET``: the secret key; by default ``CREDFLOW_SECRET_KEY`` or a file made in the instance.
- ``OUTBOX_PAGE``: serve ``/outbox`` (development only; on by default).
- ``CREDFLOW_OVERRIDES``: extra ``Settings`` fields (tests pass the cheap hashing profile);
  ``CLOCK``: a credflow clock (tests pass a ``FrozenClock``); ``STORAGE``: a credflow store in
  place of the SQLite one (tests share one ``MemoryStorage`` between two applications).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from examples.portal import account, admin, auth, dev, recovery
from examples.portal.keys import derive, load_secret
from examples.portal.mailbox import Fanout, SQLiteOutbox
from examples.portal.web import (
    HttpsAwareSessions,
    choose_language,
    current_account,
    no_store,
    pop_flash,
    remember_language,
    t,
)
from flask import Flask
from flask_wtf.csrf import CSRFProtect

from credflow import Credflow, Settings
from credflow.notify import Notifier
from credflow.storage.sql import SQLStorage

HERE = Path(__file__).resolve().parent
PORTALS = HERE.parent / "portals"
VARIANTS = ("sage", "sigma", "certigna", "defi", "asp")

DEFAULTS: dict[str, Any] = {
    "PORTAL": "sage",
    "APP_NAME": "Portail documentaire",
    "BASE_URL": "http://127.0.0.1:5000",
    "OTHER_APP_URL": None,
    "INSTANCE": HERE / "instance",
    "DATABASE": None,
    "SECRET": None,
    "OUTBOX_PAGE": True,
    "CREDFLOW_OVERRIDES": {},
    "CLOCK": None,
    "STORAGE": None,
    "SSO_COOKIE": "credflow_session",
    "SESSION_COOKIE_NAME": "portal_documentaire",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,  # and True whenever the request came over HTTPS
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the portal application; the database and the instance folder are made if absent."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    if app.config["PORTAL"] not in VARIANTS:
        raise ValueError(f"PORTAL must be one of {', '.join(VARIANTS)}")
    instance = Path(app.config["INSTANCE"])
    instance.mkdir(parents=True, exist_ok=True)
    database = Path(app.config["DATABASE"] or instance / "portal.sqlite3")
    secret = app.config["SECRET"] or load_secret(instance)
    app.secret_key = derive(secret, "flask-session")
    app.session_interface = HttpsAwareSessions()

    mailbox = SQLiteOutbox(database)
    app.extensions["portal_outbox"] = mailbox
    app.extensions["credflow"] = build_credflow(app.config, secret, database, mailbox)
    CSRFProtect(app)
    portal_file = PORTALS / f"{app.config['PORTAL']}.toml"
    portal_name = tomllib.loads(portal_file.read_text(encoding="utf-8"))["portal"]["name"]

    for module in (auth, recovery, account, admin, dev):
        app.register_blueprint(module.bp)
    app.before_request(choose_language)
    app.before_request(pop_flash)
    app.after_request(remember_language)
    app.after_request(no_store)

    @app.context_processor
    def context() -> dict[str, Any]:
        return {
            "t": t,
            "app_name": app.config["APP_NAME"],
            "portal": app.config["PORTAL"],
            "portal_name": portal_name,
            "other_app_url": app.config["OTHER_APP_URL"],
            "outbox_page": app.config["OUTBOX_PAGE"],
            "account": current_account(),
        }

    return app


def build_credflow(
    config: Mapping[str, Any], secret: str, database: Path, notifier: SQLiteOutbox
) -> Credflow:
    """The portal's Credflow: its settings file, the shared SQLite store, the outbox."""
    settings = Settings.from_file(
        PORTALS / f"{config['PORTAL']}.toml",
        secret_key=secret,
        base_url=config["BASE_URL"],
        **config["CREDFLOW_OVERRIDES"],
    )
    storage = config["STORAGE"] or SQLStorage(f"sqlite:///{database}", create=True)
    return Credflow(
        storage=storage, settings=settings, notifier=with_smtp(notifier), clock=config["CLOCK"]
    )


def with_smtp(outbox: SQLiteOutbox) -> Notifier:
    """The outbox, plus a real SMTP server when ``CREDFLOW_SMTP_HOST`` is set (with
    ``CREDFLOW_SMTP_PORT``, ``_SENDER``, ``_SECURITY``, ``_USERNAME``, ``_PASSWORD``)."""
    host = os.environ.get("CREDFLOW_SMTP_HOST")
    if not host:
        return outbox
    from credflow.notify.smtp import SMTPNotifier

    smtp = SMTPNotifier(
        host,
        int(os.environ.get("CREDFLOW_SMTP_PORT", "587")),
        sender=os.environ.get("CREDFLOW_SMTP_SENDER", "Espace client <no-reply@example.fr>"),
        security=os.environ.get("CREDFLOW_SMTP_SECURITY", "starttls"),  # type: ignore[arg-type]
        username=os.environ.get("CREDFLOW_SMTP_USERNAME"),
        password=os.environ.get("CREDFLOW_SMTP_PASSWORD"),
    )
    return Fanout(outbox, smtp)
