"""The portal's development mailbox: every message, rendered, in a table of the SQLite file.

credflow calls ``send`` inside its own storage transaction, and SQLite has one writer at a time,
so the row cannot be written from that thread without waiting on itself. ``send`` renders the
message at once (a bad message still fails the caller's transaction) and hands the row to one
writer thread, which commits it as soon as credflow's transaction ends. ``flush`` waits for it.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from credflow.notify import Message, Notifier
from credflow.notify.templates import DEFAULT_TEMPLATES

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS portal_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sent_at TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text TEXT NOT NULL,
    html TEXT
)
"""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One row of the outbox, as the ``/outbox`` page shows it."""

    id: int
    sent_at: str
    channel: str
    kind: str
    recipient: str
    subject: str
    text: str
    html: str | None


class SQLiteOutbox:
    """A ``Notifier`` that keeps rendered messages (mail and SMS) in ``portal_outbox``."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._queue: queue.Queue[tuple[object, ...] | None] = queue.Queue()
        with self._connect() as db:
            db.execute(SCHEMA)
        self._writer = threading.Thread(target=self._write_rows, name="outbox", daemon=True)
        self._writer.start()

    def __repr__(self) -> str:
        return f"SQLiteOutbox({self._path.name!r})"

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=30)

    def send(self, message: Message) -> None:
        rendered = DEFAULT_TEMPLATES.render(message)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        row = (now, message.channel, message.kind, message.recipient, rendered.subject)
        self._queue.put((*row, rendered.text, rendered.html))

    def _write_rows(self) -> None:
        db = self._connect()
        while True:
            row = self._queue.get()
            try:
                if row is None:
                    db.close()
                    return
                with db:
                    db.execute(
                        "INSERT INTO portal_outbox (sent_at, channel, kind, recipient,"
                        " subject, text, html) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        row,
                    )
            except sqlite3.Error as error:  # the kind of failure only: rows hold secrets
                log.warning("outbox: a message could not be stored (%s)", type(error).__name__)
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait until every message sent so far is in the table."""
        self._queue.join()

    def close(self) -> None:
        """Write what is queued, then stop the writer thread."""
        self._queue.put(None)
        self._writer.join(timeout=10)

    def messages(self, limit: int = 100) -> list[StoredMessage]:
        """The newest messages first."""
        self.flush()
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, sent_at, channel, kind, recipient, subject, text, html"
                " FROM portal_outbox ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [StoredMessage(*row) for row in rows]


class Fanout:
    """Every message to the outbox; email messages also to a real server (SMTP)."""

    def __init__(self, outbox: SQLiteOutbox, mail: Notifier) -> None:
        self._outbox = outbox
        self._mail = mail

    def __repr__(self) -> str:
        return f"Fanout({self._outbox!r}, {self._mail!r})"

    def send(self, message: Message) -> None:
        self._outbox.send(message)
        if message.channel == "email":
            self._mail.send(message)
