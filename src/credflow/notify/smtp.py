"""``SMTPNotifier``: deliver email messages through an SMTP server, with the standard library.

::

    notifier = SMTPNotifier("smtp.example.fr", 587, sender="Espace client <no-reply@example.fr>",
                            username="portal", password=SMTP_PASSWORD)
    cf = Credflow(storage=..., settings=..., notifier=notifier)

Each ``send`` renders the message with the templates (``credflow.notify.templates``) and,
outside a ``connection()`` block, opens one connection (``smtplib``), upgrades it with STARTTLS
or starts in TLS as configured, logs in when credentials are given, sends one
``multipart/alternative`` mail (plain text and HTML, UTF-8) and quits. Outside such a block it
holds no connection between sends, and inside one each thread has its own, so one notifier
serves many threads.

A bulk mailing (``credflow users require-reset`` mailing 100,000 links) wraps its sends in
``with notifier.connection():``: the sends this thread makes inside the block share one
connection, checked with ``NOOP`` before each reuse and replaced after ``per_connection`` mails,
when the server hung up, or after a failed send.

Every failure raises ``NotificationError`` with the original error as ``__cause__``. Its message
names the server, the step that failed and the message kind, never a parameter value (a link, a
code) nor the SMTP password.
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Literal

from credflow.errors import ConfigurationError, InsecureConfiguration, NotificationError
from credflow.notify.templates import DEFAULT_TEMPLATES, RenderedMail, Templates

if TYPE_CHECKING:
    from credflow.notify import Message

__all__ = ["SMTPNotifier", "Security"]

Security = Literal["starttls", "ssl", "none"]
_SECURITY: tuple[Security, ...] = ("starttls", "ssl", "none")
_LOOPBACK_NAMES = ("localhost", "localhost.")


def _address(value: str) -> Address | None:
    """The single address in ``value`` (``Name <user@host>`` or ``user@host``), or None."""
    probe = EmailMessage()
    try:
        probe["To"] = value
        addresses: tuple[Address, ...] = probe["To"].addresses
    except (ValueError, TypeError, IndexError):
        return None
    if len(addresses) != 1 or not addresses[0].username or not addresses[0].domain:
        return None
    return addresses[0]


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reason(exc: BaseException, timeout: float) -> str:
    """A short, secret-free description of a delivery error."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "the recipient was refused"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}, server replied {exc.smtp_code}"
    # smtplib reports a timeout while reading a reply as SMTPServerDisconnected.
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {exc.verify_message}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


class SMTPNotifier:
    """A ``Notifier`` that sends email messages through an SMTP server.

    ``security`` is ``"starttls"`` (connect in clear, then upgrade; port 587), ``"ssl"`` (TLS
    from the first byte; port 465) or ``"none"`` (a local relay only when credentials are given).
    TLS verifies the server's certificate and host name with ``ssl_context``, by default
    ``ssl.create_default_context()``. ``timeout`` (seconds) bounds connecting and each exchange.
    """

    __slots__ = (
        "_context",
        "_held",
        "_host",
        "_local_hostname",
        "_password",
        "_per_connection",
        "_port",
        "_security",
        "_sender",
        "_sender_domain",
        "_templates",
        "_timeout",
        "_username",
    )

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        templates: Templates | None = None,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        per_connection: int = 100,
    ) -> None:
        """Check the settings; no connection is made until ``send``.

        Raises ConfigurationError for a bad setting, and InsecureConfiguration when credentials
        would cross the network in clear (``security="none"`` to a host that is not loopback).
        """
        if not isinstance(host, str) or not host.strip():
            raise ConfigurationError("must be a non-empty host name", field="host")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigurationError("must be an integer from 1 to 65535", field="port")
        if security not in _SECURITY:
            raise ConfigurationError(
                f"must be one of {', '.join(_SECURITY)}, not {security!r}", field="security"
            )
        address = _address(sender) if isinstance(sender, str) else None
        if address is None:
            raise ConfigurationError("must be one email address", field="sender")
        if (username is None) != (password is None):
            raise ConfigurationError(
                "give both username and password, or neither", field="username"
            )
        if password is not None and security == "none" and not _is_loopback(host):
            raise InsecureConfiguration(
                "SMTP credentials would be sent in clear: use starttls or ssl",
                field="security",
            )
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ConfigurationError("must be a positive number of seconds", field="timeout")
        if ssl_context is not None and security == "none":
            raise ConfigurationError("is only used with starttls or ssl", field="ssl_context")
        if templates is not None and not isinstance(templates, Templates):
            raise ConfigurationError("must be a Templates", field="templates")
        if isinstance(per_connection, bool) or not isinstance(per_connection, int):
            per_connection = 0  # refused just below, with the same message
        if per_connection < 1:
            raise ConfigurationError("must be a positive integer", field="per_connection")
        self._host = host.strip()
        self._port = port
        self._sender = sender
        self._sender_domain = address.domain
        self._security: Security = security
        self._username = username
        self._password = password
        self._timeout = float(timeout)
        self._templates = templates if templates is not None else DEFAULT_TEMPLATES
        self._context = ssl_context
        self._local_hostname = local_hostname
        self._per_connection = per_connection
        self._held = threading.local()  # this thread's connection inside ``connection()``

    def __repr__(self) -> str:
        password = None if self._password is None else "***"
        return (
            f"SMTPNotifier(host={self._host!r}, port={self._port}, sender={self._sender!r}, "
            f"security={self._security!r}, username={self._username!r}, password={password!r}, "
            f"timeout={self._timeout})"
        )

    @property
    def templates(self) -> Templates:
        """The templates the notifier renders messages with."""
        return self._templates

    def send(self, message: Message) -> None:
        """Render ``message``, then deliver it; raises NotificationError when either fails."""
        if message.channel != "email":
            raise NotificationError(
                f"the SMTP notifier only sends email; message {message.kind!r} is for the "
                f"{message.channel!r} channel"
            )
        rendered = self._templates.render(message)
        self._deliver(self.build(message, rendered), message.kind)

    def build(self, message: Message, rendered: RenderedMail) -> EmailMessage:
        """The mail ``send`` delivers for ``message`` rendered as ``rendered``."""
        if _address(message.recipient) is None:
            raise NotificationError(f"message {message.kind!r}: the recipient is not an address")
        mail = EmailMessage()
        mail["From"] = self._sender
        mail["To"] = message.recipient
        mail["Subject"] = rendered.subject
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = make_msgid(domain=self._sender_domain)
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(rendered.text, charset="utf-8", cte="quoted-printable")
        if rendered.html is not None:
            mail.add_alternative(
                rendered.html, subtype="html", charset="utf-8", cte="quoted-printable"
            )
        # After the content: set_content and add_alternative move Content-* headers.
        mail["Content-Language"] = rendered.locale
        return mail

    def _context_for_tls(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl.create_default_context()
        return self._context

    def _open(self) -> smtplib.SMTP:
        """Connect and read the greeting (smtplib closes the socket when either fails)."""
        if self._security == "ssl":
            return smtplib.SMTP_SSL(
                self._host,
                self._port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
                context=self._context_for_tls(),
            )
        return smtplib.SMTP(
            self._host, self._port, local_hostname=self._local_hostname, timeout=self._timeout
        )

    @contextmanager
    def connection(self) -> Iterator[None]:
        """Share one connection among the sends this thread makes inside the block.

        For bulk mailings: one TLS handshake and one login for up to ``per_connection`` mails
        instead of one per mail. Before each reuse a ``NOOP`` checks that the server is still
        there; a connection it closed, a full one, or one where a send failed is replaced by a
        new one at the next send. The connection is closed when the block ends. Nested blocks
        join the outer one; other threads keep one connection per mail.
        """
        held = self._held
        if getattr(held, "depth", 0):
            held.depth += 1
            try:
                yield
            finally:
                held.depth -= 1
            return
        held.depth, held.smtp, held.sent = 1, None, 0
        try:
            yield
        finally:
            held.depth = 0
            self._drop()

    def _drop(self) -> None:
        """Close the held connection, if any."""
        smtp, self._held.smtp = getattr(self._held, "smtp", None), None
        if smtp is not None:
            _close(smtp)

    def _reusable(self) -> smtplib.SMTP | None:
        """The held connection when it can take one more mail, else None (closed first)."""
        held = self._held
        smtp: smtplib.SMTP | None = getattr(held, "smtp", None)
        if smtp is None:
            return None
        if held.sent < self._per_connection:
            try:
                if smtp.noop()[0] == 250:
                    return smtp
            except (smtplib.SMTPException, OSError):
                pass
        self._drop()
        return None

    def _deliver(self, mail: EmailMessage, kind: str) -> None:
        holding = getattr(self._held, "depth", 0) > 0
        smtp = self._reusable() if holding else None
        step = "send the message through" if smtp is not None else "connect to"
        kept = False
        try:
            if smtp is None:
                smtp = self._open()
                if self._security == "starttls":
                    step = "start TLS with"
                    smtp.starttls(context=self._context_for_tls())
                if self._username is not None and self._password is not None:
                    step = "log in to"
                    smtp.login(self._username, self._password)
                step = "send the message through"
                if holding:
                    self._held.smtp, self._held.sent = smtp, 0
            smtp.send_message(mail)
            kept = holding
            if holding:
                self._held.sent += 1
        except (smtplib.SMTPException, OSError) as exc:
            raise NotificationError(
                f"could not {step} the SMTP server {self._host}:{self._port} "
                f"({_reason(exc, self._timeout)}); message {kind!r} not sent"
            ) from exc
        finally:
            if not kept and smtp is not None:
                if holding:
                    self._held.smtp = None
                _close(smtp)


def _close(smtp: smtplib.SMTP) -> None:
    """Say QUIT when the connection is still up, then close it; never raises."""
    try:
        if smtp.sock is not None:
            smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        smtp.close()
