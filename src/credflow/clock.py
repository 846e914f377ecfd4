"""Time as a port: every expiry in credflow reads an injected ``Clock``, never the system.

``FrozenClock`` makes expiry tests exact: a token is accepted at exactly its lifetime and refused
one second later.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FrozenClock", "SystemClock", "utc"]


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime; naive values are refused (they are ambiguous)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: give an aware datetime (UTC)")
    return value.astimezone(UTC)


@runtime_checkable
class Clock(Protocol):
    """A source of the current time, as an aware UTC datetime."""

    def now(self) -> datetime:
        """The current time (aware, UTC)."""
        ...


class SystemClock:
    """The real clock."""

    __slots__ = ()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class FrozenClock:
    """A clock that moves only when told to; thread-safe."""

    __slots__ = ("_lock", "_now")

    def __init__(self, start: datetime | None = None) -> None:
        self._now = utc(start) if start is not None else datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        # No lock for a read: one attribute load is atomic, and the datetime is immutable.
        return self._now

    def advance(self, seconds: float) -> datetime:
        """Move forward by ``seconds`` (may be fractional, never negative); return the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (aware)."""
        with self._lock:
            self._now = utc(when)

    def __repr__(self) -> str:
        return f"FrozenClock({self._now.isoformat()})"
