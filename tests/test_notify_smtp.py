"""SMTPNotifier against real SMTP servers on loopback.

Every test that delivers mail starts an ``aiosmtpd`` server on 127.0.0.1 with a free port, sends
through ``SMTPNotifier`` and parses the bytes the server received. The TLS tests use a throwaway
self-signed certificate made with the ``openssl`` command; a machine without it fails them
(it does not skip them).
"""

from __future__ import annotations

import email
import email.policy
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from credflow.errors import ConfigurationError, InsecureConfiguration, NotificationError
from credflow.notify import Message, Notifier
from credflow.notify.smtp import SMTPNotifier
from credflow.notify.templates import MailTemplate, Templates

SENDER = "Espace client <no-reply@portal.example.fr>"
LINK = "https://portal.example.fr/reset?token=Zm9vYmFy.aW-Q2Jk.Sg7_xWq"
EXTRA_SECRET = "EXTRA-SECRET-8c1f0e"
USER, PASSWORD = "portal-mailer", "s3cret-Smtp-Pa55"


# -- servers -------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    authenticated: bool | None

    def parse(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps every envelope; ``data_reply`` answers DATA."""

    data_reply: str = "250 OK"
    rcpt_reply: str | None = None
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content or envelope.content,
                server.transport.get_extra_info("ssl_object") is not None,
                session.authenticated,
            )
        )
        return self.data_reply


class Authenticator:
    """Accepts USER/PASSWORD only; remembers the logins it saw."""

    def __init__(self) -> None:
        self.logins: list[bytes] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append(auth_data.login)
        ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    port: int
    handler: Recorder


@pytest.fixture
def start_server() -> Iterator[Callable[..., Server]]:
    """Start aiosmtpd servers on loopback (``Controller`` keyword arguments pass through)."""
    controllers: list[Controller] = []

    def start(handler: Recorder | None = None, **kwargs: Any) -> Server:
        handler = handler if handler is not None else Recorder()
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return Server(port, handler)

    yield start
    for controller in controllers:
        controller.stop()


def notifier(port: int, **kwargs: Any) -> SMTPNotifier:
    kwargs.setdefault("security", "none")
    kwargs.setdefault("timeout", 5.0)
    return SMTPNotifier("127.0.0.1", port, sender=SENDER, **kwargs)


def reset_link(locale: str = "fr", **extra: str) -> Message:
    return Message(
        "reset_link",
        "Alain.Dejoux@client.example.fr",
        locale,
        {"identifier": "adejoux", "link": LINK, "expires_minutes": "15", **extra},
        secret_params=frozenset({"link", *extra}),
    )


def parts(mail: EmailMessage) -> tuple[str, str]:
    plain = mail.get_body(preferencelist=("plain",))
    rich = mail.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    assert isinstance(plain, EmailMessage) and isinstance(rich, EmailMessage)
    # Parsed from the wire, the parts keep SMTP's CRLF line ends.
    return plain.get_content().replace("\r\n", "\n"), rich.get_content().replace("\r\n", "\n")


# -- delivery ------------------------------------------------------------------------------------


def test_reset_link_in_french_is_delivered_with_the_link_once_and_no_other_secret(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()
    sender = notifier(server.port)
    assert isinstance(sender, Notifier)

    sender.send(reset_link("fr-FR", temporary_password=EXTRA_SECRET))

    [received] = server.handler.received
    assert received.mail_from == "no-reply@portal.example.fr"
    assert received.rcpt_tos == ["Alain.Dejoux@client.example.fr"]
    mail = received.parse()
    assert mail["From"] == SENDER
    assert mail["To"] == "Alain.Dejoux@client.example.fr"
    assert mail["Subject"] == "Réinitialisation de votre mot de passe"
    assert mail["Content-Language"] == "fr"
    assert mail["Date"] and mail["Message-ID"].endswith("@portal.example.fr>")
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in mail.iter_parts())
    text, html = parts(mail)
    assert text.count(LINK) == 1
    assert html.count(LINK) == 1
    assert f'href="{LINK}"' in html
    assert "adejoux" in text and "15 min" in text
    assert "Si vous n'êtes pas à l'origine de cette demande" in text
    assert EXTRA_SECRET not in received.content.decode("ascii")
    assert EXTRA_SECRET not in text + html
    assert not received.tls and received.authenticated is None


def test_identifier_reminder_in_english_lists_every_identifier(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()
    message = Message(
        "identifier_reminder",
        "pat@client.example.com",
        "en",
        {"identifiers": "pmartin\npmartin2", "login_url": "https://portal.example.fr/"},
    )

    notifier(server.port).send(message)

    mail = server.handler.received[0].parse()
    assert mail["To"] == "pat@client.example.com"
    assert mail["Subject"] == "Your sign-in identifier"
    assert mail["Content-Language"] == "en"
    text, html = parts(mail)
    assert "pmartin\npmartin2" in text
    assert "pmartin<br>\npmartin2" in html
    assert text.count("https://portal.example.fr/") == 1
    assert html.count("https://portal.example.fr/") == 1
    assert "If you did not ask for this" in text
    assert '<html lang="en">' in html


def test_a_locale_without_templates_is_sent_in_english(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()
    notifier(server.port).send(reset_link("de-AT"))
    mail = server.handler.received[0].parse()
    assert mail["Content-Language"] == "en"
    assert mail["Subject"] == "Reset your password"


def test_custom_templates_are_used(start_server: Callable[..., Server]) -> None:
    server = start_server()
    base = Templates().get("reset_link", "fr")
    custom = MailTemplate("Sigma : mot de passe", base.text, base.html)
    templates = Templates(overrides={"fr": {"reset_link": custom}})
    sender = notifier(server.port, templates=templates)
    assert sender.templates is templates
    sender.send(reset_link())
    assert server.handler.received[0].parse()["Subject"] == "Sigma : mot de passe"


def test_non_ascii_subject_and_body_survive_the_trip(start_server: Callable[..., Server]) -> None:
    server = start_server()
    message = Message(
        "identifier",
        "fsenez@client.example.fr",
        "fr",
        {"identifier": "Frédéric-Sénez", "login_url": "https://www.certigna.example/espace"},
    )
    notifier(server.port).send(message)
    mail = server.handler.received[0].parse()
    assert mail["Subject"] == "Votre identifiant de connexion"
    text, html = parts(mail)
    assert "Frédéric-Sénez" in text and "Frédéric-Sénez" in html
    assert "Votre mot de passe temporaire vous est envoyé dans un message séparé" in text


# -- authentication ------------------------------------------------------------------------------


def test_credentials_are_accepted(start_server: Callable[..., Server]) -> None:
    auth = Authenticator()
    server = start_server(authenticator=auth, auth_require_tls=False)
    notifier(server.port, username=USER, password=PASSWORD).send(reset_link())
    assert auth.logins == [USER.encode()]
    assert server.handler.received[0].authenticated is True


def test_wrong_credentials_raise_without_the_password(start_server: Callable[..., Server]) -> None:
    auth = Authenticator()
    server = start_server(authenticator=auth, auth_require_tls=False)
    sender = notifier(server.port, username=USER, password="wrong-Pa55word")
    with pytest.raises(NotificationError) as caught:
        sender.send(reset_link())
    error = caught.value
    assert "could not log in to the SMTP server" in str(error)
    assert "535" in str(error)
    assert isinstance(error.__cause__, smtplib.SMTPAuthenticationError)
    assert "wrong-Pa55word" not in str(error) and LINK not in str(error)
    assert server.handler.received == []


def test_login_to_a_server_without_auth_raises(start_server: Callable[..., Server]) -> None:
    server = start_server()
    with pytest.raises(NotificationError, match="could not log in") as caught:
        notifier(server.port, username=USER, password=PASSWORD).send(reset_link())
    assert isinstance(caught.value.__cause__, smtplib.SMTPNotSupportedError)


def test_repr_hides_the_password() -> None:
    sender = SMTPNotifier("smtp.example.fr", 587, sender=SENDER, username=USER, password=PASSWORD)
    assert PASSWORD not in repr(sender)
    assert "password='***'" in repr(sender)
    assert "username='portal-mailer'" in repr(sender)
    assert "password=None" in repr(SMTPNotifier("smtp.example.fr", 25, sender=SENDER))


# -- failures ------------------------------------------------------------------------------------


def test_a_closed_port_raises_quickly_with_the_cause() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(NotificationError) as caught:
        notifier(port, timeout=0.5).send(reset_link())
    assert time.monotonic() - started < 5
    error = caught.value
    assert isinstance(error.__cause__, ConnectionRefusedError)
    assert f"could not connect to the SMTP server 127.0.0.1:{port}" in str(error)
    assert "'reset_link' not sent" in str(error)
    assert LINK not in str(error) and "adejoux" not in str(error)


def test_a_5xx_reply_to_data_raises(start_server: Callable[..., Server]) -> None:
    server = start_server(Recorder(data_reply="554 5.7.1 Message rejected"))
    with pytest.raises(NotificationError) as caught:
        notifier(server.port).send(reset_link(temporary_password=EXTRA_SECRET))
    error = caught.value
    assert isinstance(error.__cause__, smtplib.SMTPDataError)
    assert "could not send the message through" in str(error)
    assert "554" in str(error)
    for secret in (LINK, EXTRA_SECRET, "adejoux"):
        assert secret not in str(error)


def test_a_refused_recipient_raises(start_server: Callable[..., Server]) -> None:
    server = start_server(Recorder(rcpt_reply="550 5.1.1 No such user"))
    with pytest.raises(NotificationError, match="the recipient was refused") as caught:
        notifier(server.port).send(reset_link())
    assert isinstance(caught.value.__cause__, smtplib.SMTPRecipientsRefused)


@pytest.fixture
def raw_server() -> Iterator[Callable[[bytes | None], int]]:
    """A one-connection TCP server that sends ``greeting`` (or nothing) and then hangs up."""
    sockets: list[socket.socket] = []
    done = threading.Event()

    def start(greeting: bytes | None) -> int:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        sockets.append(listener)

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                if greeting is None:
                    done.wait(10)  # say nothing until the client gave up
                else:
                    conn.sendall(greeting)
                    conn.recv(1024)

        threading.Thread(target=serve, daemon=True).start()
        port: int = listener.getsockname()[1]
        return port

    yield start
    done.set()
    for listener in sockets:
        listener.close()


def test_a_refusing_greeting_raises(raw_server: Callable[[bytes | None], int]) -> None:
    port = raw_server(b"554 5.3.2 Too busy, go away\r\n")
    with pytest.raises(NotificationError, match=r"could not connect.*server replied 554") as caught:
        notifier(port).send(reset_link())
    assert isinstance(caught.value.__cause__, smtplib.SMTPConnectError)


def test_a_silent_server_times_out(raw_server: Callable[[bytes | None], int]) -> None:
    port = raw_server(None)
    started = time.monotonic()
    with pytest.raises(NotificationError, match=r"timed out after 0.3 s") as caught:
        notifier(port, timeout=0.3).send(reset_link())
    assert time.monotonic() - started < 5
    cause = caught.value.__cause__
    assert isinstance(cause, TimeoutError) or isinstance(cause.__context__, TimeoutError)


def test_a_server_hanging_up_raises(raw_server: Callable[[bytes | None], int]) -> None:
    port = raw_server(b"220 ready\r\n")
    with pytest.raises(NotificationError, match="SMTPServerDisconnected") as caught:
        notifier(port).send(reset_link())
    assert isinstance(caught.value.__cause__, smtplib.SMTPServerDisconnected)


def test_other_channels_are_refused_before_connecting() -> None:
    sms = Message(
        "sms_code",
        "+33600000000",
        "fr",
        {"code": "493027", "expires_minutes": "5"},
        channel="sms",
        secret_params=frozenset({"code"}),
    )
    with pytest.raises(NotificationError, match="only sends email") as caught:
        notifier(free_port()).send(sms)
    assert caught.value.__cause__ is None
    assert "493027" not in str(caught.value)


def test_rendering_errors_are_raised_before_connecting() -> None:
    message = Message("reset_link", "bob@example.fr", "fr", {"identifier": "bob"})
    with pytest.raises(NotificationError, match="lacks the parameter"):
        notifier(free_port()).send(message)


@pytest.mark.parametrize(
    "recipient", ["not an address", "bob@example.fr\nBcc: eve@example.fr", "a@b.fr, c@d.fr", ""]
)
def test_a_recipient_that_is_not_one_address_is_refused(recipient: str) -> None:
    message = Message(
        "reset_link", recipient, "fr", reset_link().params, secret_params=frozenset({"link"})
    )
    with pytest.raises(NotificationError, match="the recipient is not an address"):
        notifier(free_port()).send(message)


def test_build_makes_a_text_only_mail_when_there_is_no_html() -> None:
    sender = notifier(25)
    message = Message(
        "sms_code", "bob@example.fr", "en", {"code": "1", "expires_minutes": "5"}, channel="sms"
    )
    mail = sender.build(message, sender.templates.render(message))
    assert mail.get_content_type() == "text/plain"
    assert mail["Content-Language"] == "en"


# -- TLS -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def make_certificate(folder: Path, names: str) -> Certificate:
    """A self-signed certificate for ``names`` (a subjectAltName value), valid two days."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the TLS tests need the openssl command (Debian package openssl)")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=credflow test",
            "-addext",
            f"subjectAltName={names}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return Certificate(cert, key)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A certificate for 127.0.0.1 and localhost."""
    return make_certificate(tmp_path_factory.mktemp("tls"), "IP:127.0.0.1,DNS:localhost")


@pytest.fixture(scope="module")
def foreign_certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A certificate for another host name only."""
    return make_certificate(tmp_path_factory.mktemp("tls"), "DNS:mail.example.invalid")


def test_starttls_with_a_trusted_certificate_and_login(
    start_server: Callable[..., Server], certificate: Certificate
) -> None:
    auth = Authenticator()
    server = start_server(
        tls_context=certificate.server_context(), require_starttls=True, authenticator=auth
    )
    sender = notifier(
        server.port,
        security="starttls",
        ssl_context=certificate.client_context(),
        username=USER,
        password=PASSWORD,
    )
    sender.send(reset_link())
    [received] = server.handler.received
    assert received.tls and received.authenticated is True
    assert auth.logins == [USER.encode()]
    assert parts(received.parse())[0].count(LINK) == 1


def test_starttls_verifies_the_certificate_by_default(
    start_server: Callable[..., Server], certificate: Certificate
) -> None:
    server = start_server(tls_context=certificate.server_context(), require_starttls=True)
    with pytest.raises(NotificationError, match="could not start TLS with") as caught:
        notifier(server.port, security="starttls").send(reset_link())
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
    assert "certificate verification failed" in str(caught.value)
    assert server.handler.received == []


def test_starttls_checks_the_host_name(
    start_server: Callable[..., Server], foreign_certificate: Certificate
) -> None:
    # A trusted certificate, but for another name than 127.0.0.1: refused.
    server = start_server(tls_context=foreign_certificate.server_context())
    sender = notifier(
        server.port, security="starttls", ssl_context=foreign_certificate.client_context()
    )
    with pytest.raises(NotificationError, match="certificate verification failed") as caught:
        sender.send(reset_link())
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
    assert "mismatch" in caught.value.__cause__.verify_message
    assert server.handler.received == []


def test_starttls_against_a_server_without_it_raises(start_server: Callable[..., Server]) -> None:
    server = start_server()
    with pytest.raises(NotificationError, match="could not start TLS with") as caught:
        notifier(server.port, security="starttls").send(reset_link())
    assert isinstance(caught.value.__cause__, smtplib.SMTPNotSupportedError)
    assert server.handler.received == []


def test_implicit_tls(start_server: Callable[..., Server], certificate: Certificate) -> None:
    server = start_server(ssl_context=certificate.server_context())
    sender = notifier(server.port, security="ssl", ssl_context=certificate.client_context())
    sender.send(reset_link("en"))
    [received] = server.handler.received
    assert received.tls
    assert received.parse()["Content-Language"] == "en"


def test_implicit_tls_verifies_the_certificate_by_default(
    start_server: Callable[..., Server], certificate: Certificate
) -> None:
    server = start_server(ssl_context=certificate.server_context())
    with pytest.raises(NotificationError, match="could not connect to") as caught:
        notifier(server.port, security="ssl").send(reset_link())
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)


# -- one connection for a bulk mailing -------------------------------------------------------------


@dataclass
class Counting(Recorder):
    """A Recorder that also counts the connections (EHLO) and the goodbyes (QUIT)."""

    hellos: int = 0
    quits: int = 0

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.hellos += 1
        session.host_name = hostname  # what aiosmtpd does itself when there is no hook
        return responses

    async def handle_QUIT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        self.quits += 1
        return "221 Bye"


def test_sends_inside_connection_share_one_connection(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(Counting())
    handler = server.handler
    assert isinstance(handler, Counting)
    sender = notifier(server.port)
    with sender.connection():
        for _ in range(5):
            sender.send(reset_link())
        with sender.connection():  # a nested block joins the outer one
            sender.send(reset_link())
        assert handler.quits == 0  # still open
    assert len(handler.received) == 6
    assert (handler.hellos, handler.quits) == (1, 1)
    sender.send(reset_link())  # outside a block: a connection of its own, closed at once
    assert (handler.hellos, handler.quits) == (2, 2)


def test_a_connection_is_replaced_after_per_connection_mails(
    start_server: Callable[..., Server],
) -> None:
    server = start_server(Counting())
    sender = notifier(server.port, per_connection=2)
    with sender.connection():
        for _ in range(5):
            sender.send(reset_link())
    handler = server.handler
    assert isinstance(handler, Counting)
    assert len(handler.received) == 5
    assert (handler.hellos, handler.quits) == (3, 3)


def test_a_server_that_went_away_is_reconnected_to(
    start_server: Callable[..., Server],
) -> None:
    """The server restarts between two sends of a block: NOOP finds the old connection dead
    and the mail goes through a new one."""
    first = Counting()
    port = free_port()
    controller = Controller(first, hostname="127.0.0.1", port=port)
    controller.start()
    sender = notifier(port)
    try:
        with sender.connection():
            sender.send(reset_link())
            controller.stop()
            second = Counting()
            controller = Controller(second, hostname="127.0.0.1", port=port)
            controller.start()
            started = time.monotonic()
            sender.send(reset_link())
            assert time.monotonic() - started < 4  # found dead by NOOP, not by the timeout
    finally:
        controller.stop()
    assert (len(first.received), len(second.received)) == (1, 1)
    assert second.hellos == 1


def test_a_failed_send_drops_the_connection_and_the_next_send_opens_one(
    start_server: Callable[..., Server],
) -> None:
    handler = Counting()
    server = start_server(handler)
    sender = notifier(server.port)
    with sender.connection():
        sender.send(reset_link())
        handler.data_reply = "554 5.7.1 Message rejected"
        with pytest.raises(NotificationError, match="554"):
            sender.send(reset_link())
        handler.data_reply = "250 OK"
        sender.send(reset_link())
    assert len(handler.received) == 3  # the server saw the rejected one too
    assert (handler.hellos, handler.quits) == (2, 2)


def test_an_error_inside_the_block_still_closes_the_connection(
    start_server: Callable[..., Server],
) -> None:
    handler = Counting()
    server = start_server(handler)
    sender = notifier(server.port)

    def mail_then_fail() -> None:
        with sender.connection():
            sender.send(reset_link())
            raise RuntimeError("the caller's own error")

    with pytest.raises(RuntimeError, match="the caller's own"):
        mail_then_fail()
    assert (handler.hellos, handler.quits) == (1, 1)
    sender.send(reset_link())  # and the notifier still works, a connection per mail again
    assert (handler.hellos, handler.quits) == (2, 2)


@dataclass
class BusyNoop(Counting):
    """Answers NOOP with a refusal, as a server about to close might."""

    async def handle_NOOP(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, arg: str
    ) -> str:
        return "421 closing soon"


def test_a_connection_whose_noop_is_refused_is_replaced(
    start_server: Callable[..., Server],
) -> None:
    handler = BusyNoop()
    server = start_server(handler)
    sender = notifier(server.port)
    started = time.monotonic()
    with sender.connection():
        for _ in range(3):
            sender.send(reset_link())
    assert time.monotonic() - started < 4  # replaced at once, not after a timeout
    assert len(handler.received) == 3
    assert handler.hellos == 3


def test_other_threads_keep_a_connection_per_mail(start_server: Callable[..., Server]) -> None:
    handler = Counting()
    server = start_server(handler)
    sender = notifier(server.port)
    with sender.connection():
        sender.send(reset_link())
        worker = threading.Thread(target=lambda: [sender.send(reset_link()) for _ in range(2)])
        worker.start()
        worker.join()
        sender.send(reset_link())
    assert len(handler.received) == 4
    assert handler.hellos == 3  # the block's one, and one per mail of the other thread


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"host": ""}, "host"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"port": True}, "port"),
        ({"port": "25"}, "port"),
        ({"security": "tls"}, "security"),
        ({"sender": "not an address"}, "sender"),
        ({"sender": "a@b.fr, c@d.fr"}, "sender"),
        ({"sender": None}, "sender"),
        ({"username": "u"}, "username"),
        ({"password": "p"}, "username"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"security": "none", "ssl_context": ssl.create_default_context()}, "ssl_context"),
        ({"templates": {}}, "templates"),
        ({"per_connection": 0}, "per_connection"),
        ({"per_connection": True}, "per_connection"),
        ({"per_connection": 2.5}, "per_connection"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], field: str) -> None:
    settings: dict[str, Any] = {"host": "smtp.example.fr", "port": 587, "sender": SENDER}
    settings.update(kwargs)
    host, port = settings.pop("host"), settings.pop("port")
    with pytest.raises(ConfigurationError) as caught:
        SMTPNotifier(host, port, **settings)
    assert caught.value.field == field


def test_credentials_in_clear_are_refused_except_on_loopback() -> None:
    with pytest.raises(InsecureConfiguration, match="in clear"):
        SMTPNotifier(
            "smtp.example.fr", 25, sender=SENDER, security="none", username="u", password="p"
        )
    for host in ("localhost", "127.0.0.1", "::1"):
        SMTPNotifier(host, 25, sender=SENDER, security="none", username="u", password="p")
    SMTPNotifier("smtp.example.fr", 587, sender=SENDER, username="u", password="p")
    SMTPNotifier("smtp.example.fr", 465, sender=SENDER, security="ssl", username="u", password="p")
