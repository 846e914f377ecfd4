"""Lockout bookkeeping shared by every check of a secret (password, answer, TOTP, code).

Failures are counted in storage, per account (so every case variant of an identifier shares one
counter, LK-06, and every app server sees the same count, LK-12). The pure ``lockout`` machine
decides when to lock; this service writes the lock, mails the unlock link and records the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.errors import ConcurrentUpdate
from credflow.flows import lockout
from credflow.flows.lockout import LockoutEvent, LockoutFacts, LockoutState
from credflow.notify import Message, Notifier, send_best_effort
from credflow.settings import Settings
from credflow.storage.protocols import Storage
from credflow.storage.records import Account
from credflow.tokens import TokenService

__all__ = ["FOREVER", "LockoutService", "counter_key"]

FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
"""``locked_until`` of a lock that lasts until someone unlocks it."""


def counter_key(account_id: str) -> str:
    """The storage key of an account's consecutive-failure counter."""
    return f"login:{account_id}"


@dataclass(frozen=True, slots=True)
class FailureOutcome:
    """What one counted failure did: the new count, and whether it locked the account."""

    failures: int
    locked: bool


class LockoutService:
    """Counts failures, locks, unlocks."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        clock: Clock,
        audit: Audit,
        tokens: TokenService,
        notifier: Notifier,
    ) -> None:
        self._storage = storage
        self._settings = settings
        self._clock = clock
        self._audit = audit
        self._tokens = tokens
        self._notifier = notifier

    def state(self, account: Account, now: datetime | None = None) -> LockoutState:
        """The account's lock state at ``now``. A lock is in force up to and including
        ``locked_until``; one second later it has lapsed."""
        until = account.locked_until
        if until is None or (now or self._clock.now()) > until:
            return LockoutState.OPEN
        return LockoutState.LOCKED_UNTIL_UNLOCKED if until >= FOREVER else LockoutState.LOCKED

    def is_locked(self, account: Account) -> bool:
        """True while a lock is in force."""
        return self.state(account) is not LockoutState.OPEN

    def failures(self, account_id: str) -> int:
        """The consecutive failures counted for the account."""
        return self._storage.get_counter(counter_key(account_id))

    def register_failure(
        self, account: Account, *, factor: str, locale: str | None = None
    ) -> FailureOutcome:
        """Count one failure of ``factor`` (password, answer, totp…); lock when the machine says.

        Call it only for an account that is not locked: failures while locked do not count.
        """
        now = self._clock.now()
        count = self._storage.increment_counter(counter_key(account.id), now)
        facts = LockoutFacts(
            count, self._settings.lockout.threshold, self._settings.lockout.until_unlocked
        )
        target = lockout.MACHINE.next(LockoutState.OPEN, LockoutEvent.FAILURE, facts)
        if target is LockoutState.OPEN:
            return FailureOutcome(count, False)
        self._lock(account, target, count, factor, locale)
        return FailureOutcome(count, True)

    def _lock(
        self, account: Account, target: LockoutState, count: int, factor: str, locale: str | None
    ) -> None:
        now = self._clock.now()
        for _ in range(5):
            current = self._storage.get_account(account.id)
            if current is None or self.state(current, now) is not LockoutState.OPEN:
                return  # gone, or a concurrent failure locked it first
            lockouts = current.lockouts + 1
            if target is LockoutState.LOCKED_UNTIL_UNLOCKED:
                until = FOREVER
            else:
                until = now + timedelta(seconds=self._settings.lockout.wait_seconds(lockouts))
            try:
                locked = self._storage.update_account(
                    current.model_copy(
                        update={"locked_until": until, "lockouts": lockouts, "updated_at": now}
                    )
                )
                break
            except ConcurrentUpdate:
                continue
        else:  # pragma: no cover - five lost races in a row
            raise ConcurrentUpdate("could not record the lock")
        self._audit.record(
            "account_locked",
            account.id,
            failures=count,
            factor=factor,
            until=None if until >= FOREVER else until.isoformat(),
        )
        self.send_unlock_link(locked, locale, must_deliver=False)

    def send_unlock_link(
        self, account: Account, locale: str | None = None, *, must_deliver: bool = True
    ) -> bool:
        """Mail a fresh single-use unlock link (voiding older ones); False without an email.

        The URL is built from ``settings.base_url`` only, never from a request. A failed
        delivery raises, so the caller's transaction rolls back, unless ``must_deliver`` is
        False: then the new link is voided, an ``unlock_link_failed`` event is recorded and
        False returned. Locking uses that, because a lock must hold even when the mail server
        is down or refuses the address: a lock undone by a failed mail would give unlimited
        guesses.
        """
        if account.email is None:
            return False
        self._tokens.void(account.id, "unlock")
        issued = self._tokens.issue(account, "unlock")
        link = self._settings.link("unlock", issued.token)
        message = Message(
            "unlock_link",
            account.email,
            locale or self._settings.locale,
            {"identifier": account.identifier, "link": link},
            secret_params=frozenset({"link"}),
        )
        if must_deliver:
            self._notifier.send(message)
            return True
        error = send_best_effort(self._notifier, message)
        if error is not None:
            self._tokens.void(account.id, "unlock")
            self._audit.record("unlock_link_failed", account.id, error=error)
        return error is None

    def register_success(self, account: Account, *, fresh: bool = False) -> Account:
        """A secret was verified: reset the counter (LK-05) and the lock escalation.

        Works on a fresh read, retrying when a concurrent request changed the account first:
        two simultaneous successes both succeed. ``fresh=True`` says ``account`` was read in the
        caller's transaction, which saves the first re-read (a hot path on the login).
        """
        if self._storage.get_counter(counter_key(account.id)):
            self._storage.reset_counter(counter_key(account.id))
        for attempt in range(5):
            current = (
                account
                if fresh and not attempt
                else self._storage.get_account(account.id) or account
            )
            if not current.lockouts and current.locked_until is None:
                return current
            try:
                return self._storage.update_account(
                    current.model_copy(
                        update={
                            "lockouts": 0,
                            "locked_until": None,
                            "updated_at": self._clock.now(),
                        }
                    )
                )
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate("could not record the success")  # pragma: no cover

    def clear(self, account: Account, *, by: str) -> Account:
        """Unlock now (link, administrator, completed reset) and reset the counter."""
        self._storage.reset_counter(counter_key(account.id))
        updated = self._storage.update_account(
            account.model_copy(
                update={"locked_until": None, "lockouts": 0, "updated_at": self._clock.now()}
            )
        )
        if account.locked_until is not None:
            self._audit.record("account_unlocked", account.id, by=by)
        return updated
