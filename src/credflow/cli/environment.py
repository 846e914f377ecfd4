"""Where the commands find their database, settings, secret key and mail server.

Every value comes from an option or, failing that, from an environment variable, so a script can
set them once:

- ``--db URL`` or ``CREDFLOW_DATABASE_URL``: a SQLAlchemy URL (``sqlite:///portal.db``,
  ``postgresql://user@host/db``). Required by every command that touches accounts.
- ``--config FILE`` or ``CREDFLOW_CONFIG``: the portal file (``examples/portals/defi.toml``);
  ``--preset classic|nist`` instead. Without either, the ``classic`` preset.
- ``CREDFLOW_SECRET_KEY``: the application's secret key (the string it passes to ``Settings``).
  Only the commands that sign links or pseudonyms need it; the others run with a throwaway key.
- ``CREDFLOW_PEPPERS``: the application's password peppers, when it uses any, as
  ``id:key`` items separated by spaces, the current one first, each key the text the application
  passes. Without them a password the CLI sets is stored unpeppered until its next login.
- ``--base-url`` or ``CREDFLOW_BASE_URL``: the portal's address, for the links in mails.
- ``CREDFLOW_SMTP_HOST``, ``_PORT`` (587), ``_SENDER``, ``_SECURITY`` (starttls), ``_USERNAME``,
  ``_PASSWORD``, ``_TIMEOUT``: the mail server, for the commands that mail.

None of these values is ever printed; a database URL is shown with its password hidden.
"""

from __future__ import annotations

import argparse
import secrets
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credflow.cli.context import USAGE, CommandError, Streams
from credflow.deviations import StandardsDeviationWarning
from credflow.errors import NotificationError, StorageUnavailable
from credflow.facade import Credflow
from credflow.messages import DEFAULT_MESSAGES
from credflow.notify import Message, Notifier
from credflow.settings import Settings

if TYPE_CHECKING:
    from credflow.notify.smtp import SMTPNotifier
    from credflow.storage.sql import SQLStorage

__all__ = [
    "BASE_URL_ENV",
    "CONFIG_ENV",
    "DATABASE_ENV",
    "KEY_ENV",
    "PEPPERS_ENV",
    "NoMail",
    "add_database_option",
    "add_settings_options",
    "database_url",
    "open_credflow",
    "open_storage",
    "shown_url",
    "smtp_notifier",
]

DATABASE_ENV = "CREDFLOW_DATABASE_URL"
CONFIG_ENV = "CREDFLOW_CONFIG"
KEY_ENV = "CREDFLOW_SECRET_KEY"
PEPPERS_ENV = "CREDFLOW_PEPPERS"
BASE_URL_ENV = "CREDFLOW_BASE_URL"
SMTP_ENV = "CREDFLOW_SMTP_"
_NO_BASE_URL = "http://localhost"  # links are never made without a real one


class NoMail:
    """The notifier of commands that do not mail: anything sent is a bug, so it fails loudly
    (and the storage transaction around it rolls back) instead of vanishing."""

    def send(self, message: Message) -> None:
        raise NotificationError(f"this command sends no mail (message {message.kind!r})")


def add_database_option(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``--db URL``; on a subcommand it does not override a value given before the command."""
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None if top else argparse.SUPPRESS,
        help=f"database URL (default: ${DATABASE_ENV})",
    )


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` or ``--preset``, ``--base-url`` and ``--lang``."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--config", metavar="FILE", help=f"portal settings file (default: ${CONFIG_ENV})"
    )
    source.add_argument(
        "--preset", choices=("classic", "nist"), help="settings preset (default: classic)"
    )
    parser.add_argument(
        "--base-url", metavar="URL", help=f"the portal's address (default: ${BASE_URL_ENV})"
    )
    parser.add_argument("--lang", help="language of mails and messages (default: the settings')")


def database_url(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    """The URL from ``--db`` or the environment; a usage error when neither is set."""
    url = getattr(args, "db", None) or environ.get(DATABASE_ENV, "").strip()
    if not url:
        raise CommandError(f"no database: pass --db URL or set {DATABASE_ENV}", USAGE)
    return str(url)


def shown_url(storage: SQLStorage) -> str:
    """The storage's URL as it may be printed: any password replaced by ``***``."""
    return storage.engine.url.render_as_string(hide_password=True)


def open_storage(url: str, *, existing: bool = True) -> SQLStorage:
    """A ``SQLStorage`` on ``url``. With ``existing`` (every command but ``init``), the database
    must already hold credflow's tables: a usage error otherwise, and a SQLite file that does not
    exist is not created."""
    from credflow.storage.sql import SQLStorage

    if existing:
        _check_file(url)
    storage = SQLStorage(url, pool_size=2)
    if existing:
        try:
            _check_schema(storage)
        except BaseException:
            storage.dispose()
            raise
    return storage


def _check_file(url: str) -> None:
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return  # SQLStorage says what is wrong with it
    database = parsed.database
    is_file = parsed.get_backend_name() == "sqlite" and database not in (None, "", ":memory:")
    if is_file and not Path(str(database)).exists():
        raise CommandError(f"no database file at {database}; create it with `credflow init`", USAGE)


def _check_schema(storage: SQLStorage) -> None:
    missing = missing_tables(storage)
    if missing:
        raise CommandError(
            f"the database lacks credflow's tables ({', '.join(missing)}); run `credflow init`",
            USAGE,
        )


def missing_tables(storage: SQLStorage) -> list[str]:
    """credflow's tables that the database does not hold yet, in creation order."""
    import sqlalchemy as sa

    from credflow.storage.sql import metadata

    try:
        present = set(sa.inspect(storage.engine).get_table_names())
    except sa.exc.DBAPIError as exc:
        raise StorageUnavailable(f"database unavailable: {type(exc.orig).__name__}") from exc
    return [table.name for table in metadata.sorted_tables if table.name not in present]


def build_settings(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    *,
    key: bool = False,
    mail: bool = False,
    **overrides: Any,
) -> Settings:
    """Settings from ``--config``/``--preset`` and the environment.

    ``key``: the command signs something that must verify later, so the real secret key is
    required; otherwise a random one is used and forgotten. ``mail``: the command mails links,
    so the portal's base URL is required. Deviation warnings are for developers building
    settings in code, not for operators: they are not shown.
    """
    secret = environ.get(KEY_ENV, "")
    if key and not secret:
        raise CommandError(f"this command needs the application's secret key: set {KEY_ENV}", USAGE)
    base_url = getattr(args, "base_url", None) or environ.get(BASE_URL_ENV, "").strip()
    if mail and not base_url:
        raise CommandError(
            f"mails need the portal's address: pass --base-url or set {BASE_URL_ENV}", USAGE
        )
    values: dict[str, Any] = {
        "secret_key": secret if key else secrets.token_bytes(32),
        "base_url": base_url or _NO_BASE_URL,
        "peppers": _peppers(environ.get(PEPPERS_ENV, "")),
        **overrides,
    }
    config = getattr(args, "config", None)
    preset = getattr(args, "preset", None)
    if config is None and preset is None:
        config = environ.get(CONFIG_ENV, "").strip() or None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StandardsDeviationWarning)
        if config is not None:
            return Settings.from_file(config, **values)
        if preset == "nist":
            return Settings.nist(**values)
        return Settings.classic(**values)


def _peppers(text: str) -> list[tuple[str, str]]:
    """``id:key id:key`` from the environment; the keys are checked by ``Settings``."""
    pairs = []
    for item in text.split():
        kid, found, key = item.partition(":")
        if not found or not kid or not key:
            raise CommandError(f"{PEPPERS_ENV} holds 'id:key' items separated by spaces", USAGE)
        pairs.append((kid, key))
    return pairs


def smtp_notifier(environ: Mapping[str, str]) -> SMTPNotifier:
    """An ``SMTPNotifier`` from the ``CREDFLOW_SMTP_*`` variables; a usage error when the host or
    the sender is missing."""
    from credflow.notify.smtp import SMTPNotifier

    def get(name: str) -> str | None:
        value = environ.get(SMTP_ENV + name, "").strip()
        return value or None

    host, sender = get("HOST"), get("SENDER")
    if host is None or sender is None:
        raise CommandError(
            f"mail needs an SMTP server: set {SMTP_ENV}HOST and {SMTP_ENV}SENDER "
            f"(and {SMTP_ENV}PORT, _SECURITY, _USERNAME, _PASSWORD as needed)",
            USAGE,
        )
    return SMTPNotifier(
        host,
        _number(get("PORT") or "587", "PORT", int),
        sender=sender,
        security=get("SECURITY") or "starttls",  # type: ignore[arg-type]  # checked there
        username=get("USERNAME"),
        password=environ.get(SMTP_ENV + "PASSWORD") or None,
        timeout=_number(get("TIMEOUT") or "10", "TIMEOUT", float),
    )


def _number(value: str, name: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise CommandError(f"{SMTP_ENV}{name} must be a number", USAGE) from None


@contextmanager
def open_credflow(
    args: argparse.Namespace,
    streams: Streams,
    *,
    key: bool = False,
    mail: bool = False,
    **overrides: Any,
) -> Iterator[Credflow]:
    """A ``Credflow`` on the command's database and settings; the storage is closed afterwards.

    With ``mail``, messages go through the SMTP server of the environment, on one connection
    for the whole command (``SMTPNotifier.connection``); without it, a message is an error
    (``NoMail``).
    """
    settings = build_settings(args, streams.environ, key=key, mail=mail, **overrides)
    if getattr(args, "lang", None) is not None:
        args.lang = DEFAULT_MESSAGES.resolve(args.lang)  # fr-FR → fr; UnsupportedLocale early
    smtp = smtp_notifier(streams.environ) if mail else None
    notifier: Notifier = smtp if smtp is not None else NoMail()
    storage = open_storage(database_url(args, streams.environ))
    try:
        with smtp.connection() if smtp is not None else nullcontext():
            yield Credflow(storage=storage, settings=settings, notifier=notifier)
    finally:
        storage.dispose()
