"""Audit events: what happened, to which account, when, with details that are never secrets.

``Audit.record`` refuses detail keys that name a secret (password, answer, token, code, secret,
nonce, hash), so a careless caller cannot leak one into the trail (SS-06).
"""

from __future__ import annotations

import re

from credflow.clock import Clock
from credflow.storage.protocols import Storage
from credflow.storage.records import AuditEvent

__all__ = ["Audit"]

_SCALARS = (str, int, bool, type(None))
_SECRET = re.compile("password|answer|token|code|secret|nonce|hash|otp", re.IGNORECASE)


class Audit:
    """Appends audit events to storage, stamped with the injected clock."""

    __slots__ = ("_clock", "_keys", "_storage")

    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock
        self._keys: set[str] = set()  # detail keys already checked: the services use a few

    def record(
        self, type: str, account_id: str | None = None, **details: str | int | bool | None
    ) -> AuditEvent:
        """Append an event of ``type``; ``details`` must not name a secret."""
        for key in details:
            if key not in self._keys:
                if _SECRET.search(key):
                    raise ValueError(f"audit detail {key!r} looks like a secret; refusing it")
                if len(self._keys) < 256:
                    self._keys.add(key)
            if not isinstance(details[key], _SCALARS):
                raise TypeError(f"audit detail {key!r} must be a str, int, bool or None")
        event = AuditEvent(type=type, account_id=account_id, at=self._clock.now(), details=details)
        self._storage.append_event(event)
        return event
