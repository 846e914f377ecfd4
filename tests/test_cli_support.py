"""Helpers for the ``test_cli_*`` modules (no tests here): running ``main`` with its own streams
and environment, real databases (a SQLite file, the PostgreSQL test server), seeded accounts and
an SMTP server on loopback that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import io
import socket
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from tests.storage_fixtures import empty_postgres_storage, postgres_url

from credflow import Credflow, Settings, StandardsDeviationWarning
from credflow.cli import main
from credflow.hashing import TESTING, Hasher
from credflow.notify import Outbox
from credflow.storage.records import (
    Account,
    AccountStatus,
    PasswordCredential,
    email_key,
    identifier_key,
    new_account_id,
)
from credflow.storage.sql import SQLStorage, metadata

KEY = "cli-test-secret-key-0123456789-abcdefghij"
BASE_URL = "https://portal.example.fr"
SENDER = "Espace client <no-reply@portal.example.fr>"
OLD_PASSWORD = "Ancien-Mot2passe!"
DATABASES = ("sqlite", "postgresql")


class TtyInput(io.StringIO):
    """Standard input that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


class TtyOutput(io.StringIO):
    """Standard error that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run(
    argv: list[str],
    stdin: str = "",
    env: Mapping[str, str] | None = None,
    *,
    tty: bool = False,
    tty_err: bool = False,
) -> Result:
    """``main(argv)`` with string streams and ``env`` as the whole environment."""
    out = io.StringIO()
    err = TtyOutput() if tty_err else io.StringIO()
    source = TtyInput(stdin) if tty else io.StringIO(stdin)
    code = main(argv, stdin=source, stdout=out, stderr=err, environ=dict(env or {}))
    return Result(code, out.getvalue(), err.getvalue())


def make_database(kind: str, tmp_path: Path) -> str:
    """An empty credflow database of ``kind`` (schema created) and its URL."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'portal.db'}"
        SQLStorage(url, create=True).dispose()
        return url
    empty_postgres_storage().dispose()
    return postgres_url()


def drop_schema(url: str) -> None:
    storage = SQLStorage(url)
    try:
        metadata.drop_all(storage.engine)
    finally:
        storage.dispose()


def settings(**overrides: Any) -> Settings:
    """The settings the commands build by default (classic), with the test key."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StandardsDeviationWarning)
        return Settings.classic(secret_key=KEY, base_url=BASE_URL, **overrides)


@contextmanager
def opened_cf(url: str, **overrides: Any) -> Iterator[Credflow]:
    """A Credflow on the same database, to set up and inspect what the commands did; its
    storage is disposed of when the block ends."""
    storage = SQLStorage(url)
    try:
        yield Credflow(storage=storage, settings=settings(**overrides), notifier=Outbox())
    finally:
        storage.dispose()


_HASHES: dict[str, str] = {}


def seed(
    url: str,
    count: int,
    *,
    prefix: str = "user",
    with_email: bool = True,
    status: AccountStatus = AccountStatus.ACTIVE,
    password_set: datetime | None = None,
) -> list[Account]:
    """``count`` accounts with the password ``OLD_PASSWORD`` (one TESTING hash for all), written
    straight to storage in transactions of 1,000: fast enough for 100,000."""
    hashed = _HASHES.get("old") or _HASHES.setdefault("old", Hasher(TESTING).hash(OLD_PASSWORD))
    set_at = password_set or datetime.now(UTC) - timedelta(days=30)
    storage = SQLStorage(url)
    accounts = []
    try:
        for start in range(0, count, 1000):
            with storage.transaction():
                for number in range(start, min(start + 1000, count)):
                    identifier = f"{prefix}{number:06d}"
                    address = f"{identifier}@example.fr" if with_email else None
                    account = Account(
                        id=new_account_id(),
                        identifier=identifier,
                        identifier_key=identifier_key(identifier),
                        email=address,
                        email_key=email_key(address) if address else None,
                        status=status,
                        created_at=set_at,
                        updated_at=set_at,
                    )
                    storage.create_account(account)
                    storage.set_password(
                        PasswordCredential(account_id=account.id, hash=hashed, set_at=set_at)
                    )
                    accounts.append(account)
    finally:
        storage.dispose()
    return accounts


# -- an SMTP server on loopback ------------------------------------------------------------------


@dataclass
class Mailbox:
    """An aiosmtpd handler keeping every mail; ``refuse`` names recipients it rejects."""

    refuse: set[str] = field(default_factory=set)
    mails: list[EmailMessage] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [mail for mail in self.mails if mail["To"] == address]

    def text(self, mail: EmailMessage) -> str:
        body = mail.get_body(preferencelist=("plain",))
        assert body is not None
        content = body.get_content()
        assert isinstance(content, str)
        return content


@dataclass
class MailServer:
    mailbox: Mailbox
    env: dict[str, str]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def smtp_env(port: int) -> dict[str, str]:
    return {
        "CREDFLOW_SMTP_HOST": "127.0.0.1",
        "CREDFLOW_SMTP_PORT": str(port),
        "CREDFLOW_SMTP_SENDER": SENDER,
        "CREDFLOW_SMTP_SECURITY": "none",
    }


def mail_server() -> Iterator[MailServer]:
    """Start the server (the body of a fixture); stop it afterwards."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield MailServer(mailbox, smtp_env(port))
    finally:
        controller.stop()
