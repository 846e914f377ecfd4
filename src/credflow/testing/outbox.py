"""``TestOutbox``: the in-memory ``Outbox`` plus the lookups a test needs.

A test usually wants "the newest reset link mailed to Alice" or "the code just sent". Reading
``message.params["link"]`` by hand repeats the kind names and fails with a bare ``KeyError`` or
``AttributeError`` on ``None``; these helpers raise ``NoMessage``, which names what was looked for
and the kinds the outbox holds, never a link, code or password.

Kinds credflow sends, by helper:

- ``last_link(purpose)``: ``reset_link``, ``unlock_link``, ``password_setup_link`` (purpose
  ``reset``, ``unlock``, ``password_setup``);
- ``last_code(purpose)``: ``reset_code``, ``email_verification_code``, ``sms_code`` (purpose
  ``reset``, ``email_verification``, ``sms``; ``None``: any of them);
- ``last_message(kind)``: any kind, e.g. ``temporary_password`` or ``password_changed``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

from credflow.errors import CredflowError
from credflow.notify import Message, Outbox

__all__ = ["NoMessage", "TestOutbox"]


class NoMessage(CredflowError, LookupError):
    """The outbox holds no message of the kind looked for (for that recipient, when given).

    ``wanted`` is what was looked for (``"reset link"``), ``recipient`` the filter or None, and
    ``kinds`` the kinds the outbox held, oldest first. The message repeats no secret.
    """

    def __init__(self, wanted: str, recipient: str | None, kinds: tuple[str, ...]) -> None:
        self.wanted = wanted
        self.recipient = recipient
        self.kinds = kinds
        to = f" for {recipient}" if recipient is not None else ""
        held = ", ".join(kinds) if kinds else "nothing"
        super().__init__(f"no {wanted}{to} in the outbox; it holds: {held}")


class TestOutbox(Outbox):
    """An ``Outbox`` whose lookups raise ``NoMessage`` instead of returning None.

    Thread-safe, like ``Outbox``. ``recipient`` filters compare case-insensitively.
    """

    __test__: ClassVar[bool] = False  # a helper, not a test class: pytest must not collect it

    def __repr__(self) -> str:
        return f"TestOutbox({len(self.messages)} messages)"

    def last_message(self, kind: str | None = None, *, recipient: str | None = None) -> Message:
        """The newest message (of ``kind``, to ``recipient``, when given)."""
        wanted = "message" if kind is None else f"{kind} message"
        return self._newest(wanted, recipient, lambda m: kind is None or m.kind == kind)

    def last_link(self, purpose: str, *, recipient: str | None = None) -> str:
        """The link of the newest ``<purpose>_link`` message (``reset``, ``unlock``...)."""
        kind = f"{purpose}_link"
        message = self._newest(
            f"{purpose} link", recipient, lambda m: m.kind == kind and "link" in m.params
        )
        return message.params["link"]

    def last_token(self, purpose: str, *, recipient: str | None = None) -> str:
        """The ``token`` query parameter of ``last_link(purpose)``: what the page behind the
        link hands to credflow (``cf.recovery.open_link(token)``, ``cf.unlock(token)``...)."""
        link = self.last_link(purpose, recipient=recipient)
        tokens = parse_qs(urlsplit(link).query).get("token")
        if not tokens:
            raise NoMessage(f"{purpose} link with a token", recipient, self._kinds())
        return tokens[0]

    def last_code(self, purpose: str | None = None, *, recipient: str | None = None) -> str:
        """The code of the newest message that carries one (of kind ``<purpose>_code``)."""
        kind = None if purpose is None else f"{purpose}_code"
        wanted = "code" if purpose is None else f"{purpose} code"
        message = self._newest(
            wanted, recipient, lambda m: "code" in m.params and (kind is None or m.kind == kind)
        )
        return message.params["code"]

    def kinds(self, *, recipient: str | None = None) -> tuple[str, ...]:
        """The kinds of the messages sent (to ``recipient``), oldest first."""
        return self._kinds(recipient)

    def _kinds(self, recipient: str | None = None) -> tuple[str, ...]:
        sent = self.messages if recipient is None else self.for_recipient(recipient)
        return tuple(m.kind for m in sent)

    def _newest(
        self, wanted: str, recipient: str | None, match: Callable[[Message], bool]
    ) -> Message:
        sent = self.messages if recipient is None else self.for_recipient(recipient)
        for message in reversed(sent):
            if match(message):
                return message
        raise NoMessage(wanted, recipient, self._kinds())
