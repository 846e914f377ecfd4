"""Notifications: the ``Notifier`` port and the in-memory ``Outbox``.

credflow never renders or sends mail itself in its services: it hands a ``Message`` (a kind, a
recipient, a locale and parameters) to the notifier. ``credflow.notify.smtp.SMTPNotifier`` sends
them as mail, rendered with ``credflow.notify.templates``; the ``Outbox`` records what would be
sent, for tests and development. See docs/notifications.md.

Parameters that are secrets (a temporary password, a code, a link) are listed in
``secret_params``: ``repr`` masks them, so a message can be logged safely.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from credflow.errors import StorageError

__all__ = ["Message", "Notifier", "Outbox", "send_best_effort"]


@dataclass(frozen=True, slots=True)
class Message:
    """One notification to one recipient."""

    kind: str
    recipient: str
    locale: str
    params: Mapping[str, str] = field(default_factory=dict)
    channel: str = "email"
    secret_params: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __repr__(self) -> str:
        shown = {k: ("***" if k in self.secret_params else v) for k, v in self.params.items()}
        return (
            f"Message(kind={self.kind!r}, channel={self.channel!r}, recipient={self.recipient!r}, "
            f"locale={self.locale!r}, params={shown!r})"
        )


@runtime_checkable
class Notifier(Protocol):
    """Delivers messages. Raise an exception when delivery fails."""

    def send(self, message: Message) -> None:
        """Deliver ``message`` (or queue it for delivery)."""
        ...


def send_best_effort(notifier: Notifier, message: Message) -> str | None:
    """Deliver ``message``, or return the delivery error's type name instead of raising.

    For the notices whose failure must not undo what triggered them (the unlock link of a new
    lock, the ``second_factor_failed`` warning). A storage error still raises: a notifier that
    writes to storage failed there, and the caller's transaction is no longer usable.
    """
    try:
        notifier.send(message)
    except StorageError:
        raise
    except Exception as exc:  # any delivery failure, whatever the notifier raises
        return type(exc).__name__
    return None


class Outbox:
    """A notifier that keeps every message in memory, in order; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Message] = []

    def __repr__(self) -> str:
        return f"Outbox({len(self._messages)} messages)"

    def send(self, message: Message) -> None:
        with self._lock:
            self._messages.append(message)

    @property
    def messages(self) -> tuple[Message, ...]:
        """Every message sent, oldest first."""
        with self._lock:
            return tuple(self._messages)

    def for_recipient(self, recipient: str) -> tuple[Message, ...]:
        """Messages sent to ``recipient`` (compared case-insensitively)."""
        key = recipient.casefold()
        return tuple(m for m in self.messages if m.recipient.casefold() == key)

    def last(self, kind: str | None = None) -> Message | None:
        """The newest message (of ``kind``, when given)."""
        for message in reversed(self.messages):
            if kind is None or message.kind == kind:
                return message
        return None

    def clear(self) -> None:
        """Forget every message."""
        with self._lock:
            self._messages.clear()
