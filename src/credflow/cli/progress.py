"""A progress line for long commands, on standard error.

On a terminal the line is redrawn in place (``\\r``), at most ten times a second; elsewhere (a
log file, a pipe) a new line is written at every tenth of the way, so logs stay short.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``label: done/total (pct %)``, for example ``require-reset: 42,000/100,000 (42 %)``."""

    def __init__(
        self,
        label: str,
        total: int,
        stream: TextIO,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 0.1,
    ) -> None:
        self._label = label
        self._total = total
        self._stream = stream
        self._tty = stream.isatty()
        self._clock = clock
        self._interval = interval
        self._shown_at: float | None = None
        self._tenth = -1  # the last tenth written, off a terminal
        self._done = 0

    def line(self, done: int) -> str:
        """The text for ``done`` items."""
        percent = 100 if self._total == 0 else done * 100 // self._total
        return f"{self._label}: {done:,}/{self._total:,} ({percent} %)"

    def update(self, done: int) -> None:
        """Show that ``done`` items are finished (when it is time to)."""
        self._done = done
        if self._tty:
            now = self._clock()
            if self._shown_at is None or now - self._shown_at >= self._interval:
                self._shown_at = now
                self._stream.write("\r" + self.line(done))
                self._stream.flush()
            return
        tenth = 10 if self._total == 0 else done * 10 // self._total
        if tenth > self._tenth:
            self._tenth = tenth
            self._stream.write(self.line(done) + "\n")
            self._stream.flush()

    def finish(self) -> None:
        """Write the final count and end the line."""
        if self._tty:
            self._stream.write("\r" + self.line(self._done) + "\n")
        elif self._tenth < 10:  # else the complete count is the last line written
            self._stream.write(self.line(self._done) + "\n")
        self._stream.flush()
