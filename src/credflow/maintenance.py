"""Housekeeping: drop what has expired, so storage does not grow without bound.

Expired tokens and flows (sessions included) stay a while after their expiry (``grace``), so an
expired link can still be told from a forged one and offered a resend; counters (rate windows,
human-check nonces, failure counts) go once idle for longer than any window that reads them.
Run ``cf.maintenance.purge()`` from a scheduler (cron, a worker) every hour or so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.errors import InvalidInput
from credflow.storage.protocols import Storage

__all__ = ["MaintenanceService", "PurgeReport"]

DEFAULT_GRACE = 7 * 86_400
COUNTER_IDLE = 31 * 86_400
"""Longer than the longest counting window settings allow (30 days)."""


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """How many records one purge removed."""

    records: int
    """Expired tokens, flows and sessions."""
    counters: int
    """Idle counters."""
    accounts: int
    """Unverified registrations past their time to live."""


class MaintenanceService:
    """Purges expired records (``cf.maintenance``)."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        audit: Audit,
        purge_accounts: Callable[[], int] | None = None,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._audit = audit
        self._purge_accounts = purge_accounts

    def purge(self, *, grace: int = DEFAULT_GRACE) -> PurgeReport:
        """Delete tokens and flows expired more than ``grace`` seconds ago, counters idle for
        longer than any window (``COUNTER_IDLE``), and unverified accounts past their time to
        live."""
        if isinstance(grace, bool) or not isinstance(grace, int) or grace < 0:
            raise InvalidInput("must be a whole number of seconds, 0 or more", field="grace")
        now = self._clock.now()
        with self._storage.transaction():
            records = self._storage.purge_expired(now - timedelta(seconds=grace))
            counters = self._storage.purge_counters(now - timedelta(seconds=COUNTER_IDLE))
        accounts = self._purge_accounts() if self._purge_accounts is not None else 0
        self._audit.record("storage_purged", records=records, counters=counters, accounts=accounts)
        return PurgeReport(records, counters, accounts)
