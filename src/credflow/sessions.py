"""Sessions shared by several applications (Sigma's single sign-on, Sage's single account).

A session token is ``itsdangerous``-signed ``[account_id, nonce, credential_version]`` with the
salt ``credflow.session``; the nonce has 256 random bits and storage keeps only its SHA-256, as a
``session`` flow record with the creation and last-seen times. Two ``Credflow`` instances that
share storage and keys (two applications) accept each other's sessions; revoking in one ends the
session in both.

A session is valid while: the record exists, the absolute lifetime and the idle timeout have not
passed, the account exists and is active, its credential version is the one the session carries
(a password change ends every older session), and its epoch is the account's ``session_epoch``
(``revoke_all``, ``disable`` and ``mark_compromised`` move the epoch on: a counter, not a time, so
a session issued right after a revocation is valid whatever the clock's resolution).
"""

from __future__ import annotations

import contextlib
import secrets
from datetime import datetime, timedelta

from itsdangerous import BadData

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.errors import ConcurrentUpdate
from credflow.results import Session
from credflow.settings import Settings
from credflow.signing import plain_signer
from credflow.storage.protocols import Storage
from credflow.storage.records import Account, AccountStatus, FlowRecord
from credflow.tokens import canonical, nonce_hash

__all__ = ["SessionService"]


KIND = "session"
_TOUCH_EVERY = timedelta(seconds=60)


class SessionService:
    """Issue, validate and revoke sessions (``cf.sessions``)."""

    def __init__(self, storage: Storage, settings: Settings, clock: Clock, audit: Audit) -> None:
        key, fallbacks = settings.signing_keys
        self._storage = storage
        self._settings = settings
        self._clock = clock
        self._audit = audit
        self._signer = plain_signer([*fallbacks, key], "credflow.session")

    def issue(self, account: Account, *, organisation: str | None = None) -> Session:
        """A new session for ``account``. Callers issue one only after a full authentication."""
        nonce = secrets.token_urlsafe(32)
        now = self._clock.now()
        expires = now + timedelta(seconds=self._settings.lifetimes.session_absolute)
        self._storage.save_flow(
            FlowRecord(
                handle_hash=nonce_hash(nonce),
                kind=KIND,
                account_id=account.id,
                state="active",
                data={
                    "cv": account.credential_version,
                    "epoch": account.session_epoch,
                    "seen": now.isoformat(),
                    "org": organisation,
                },
                created_at=now,
                expires_at=expires,
            )
        )
        self._audit.record("session_issued", account.id)
        value = f"{account.id}.{nonce}.{account.credential_version}"
        token = self._signer.sign(value).decode("ascii")
        return Session(token, account.id, now, expires, organisation)

    def _open(self, token: object) -> tuple[str, str, int] | None:
        if not canonical(token):
            return None
        assert isinstance(token, str)
        try:
            text = self._signer.unsign(token).decode("utf-8")
        except (BadData, UnicodeError, ValueError):
            return None
        rest, _, version = text.rpartition(".")
        account_id, _, nonce = rest.rpartition(".")
        if not account_id or not nonce or not version.isascii() or not version.isdigit():
            return None
        return account_id, nonce, int(version)

    def _record(self, token: object) -> tuple[FlowRecord, Account] | None:
        opened = self._open(token)
        if opened is None:
            return None
        account_id, nonce, version = opened
        record = self._storage.get_flow(nonce_hash(nonce))
        if record is None or record.kind != KIND or record.account_id != account_id:
            return None
        now = self._clock.now()
        seen = datetime.fromisoformat(record.data["seen"])
        idle = timedelta(seconds=self._settings.lifetimes.session_idle)
        if now > record.expires_at or now > seen + idle:
            return None
        account = self._storage.get_account(account_id)
        if (
            account is None
            or account.status is not AccountStatus.ACTIVE
            or account.credential_version != version
            or record.data.get("cv") != version
            or record.data.get("epoch") != account.session_epoch
        ):
            return None
        return record, account

    def validate(self, token: str) -> Account | None:
        """The session's account, or None when the session is not (or no longer) valid."""
        found = self._record(token)
        if found is None:
            return None
        record, account = found
        now = self._clock.now()
        if now - datetime.fromisoformat(record.data["seen"]) >= _TOUCH_EVERY:
            data = {**record.data, "seen": now.isoformat()}
            # Another request may touch it at the same moment: either write is fine.
            with contextlib.suppress(ConcurrentUpdate):
                self._storage.advance_flow(
                    record.model_copy(update={"data": data}), expected_state="active"
                )
        return account

    def organisation(self, token: str) -> str | None:
        """The active organisation the session carries (None when invalid or unset)."""
        found = self._record(token)
        return None if found is None else found[0].data.get("org")

    def revoke(self, token: str) -> bool:
        """End one session (logout). True when it existed."""
        opened = self._open(token)
        if opened is None:
            return False
        account_id, nonce, _ = opened
        gone = self._storage.delete_flow(nonce_hash(nonce))
        if gone:
            self._audit.record("session_revoked", account_id, scope="one")
        return gone

    def revoke_all(self, account_id: str) -> None:
        """End every session of the account issued until now."""
        with self._storage.transaction():
            account = self._storage.get_account(account_id)
            if account is None:
                return
            self._storage.update_account(
                account.model_copy(
                    update={
                        "session_epoch": account.session_epoch + 1,
                        "updated_at": self._clock.now(),
                    }
                )
            )
            self._audit.record("session_revoked", account_id, scope="all")
