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

A session also carries the active organisation (DEFI's client accounts). It is state in the
record, not in the token: ``switch_organisation`` changes it in place (compare-and-set) and the
token stays the same. ``organisation()`` re-checks the membership on every call, so a membership
deactivated (or still pending) is never reported as the active organisation.
"""

from __future__ import annotations

import contextlib
import secrets
from datetime import datetime, timedelta

from itsdangerous import BadData

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.errors import ConcurrentUpdate, InvalidInput, NotAuthorised
from credflow.messages import DEFAULT_MESSAGES, Messages
from credflow.results import Session, StepResult, StepStatus
from credflow.settings import Settings
from credflow.signing import plain_signer
from credflow.storage.protocols import Storage
from credflow.storage.records import (
    Account,
    AccountStatus,
    FlowRecord,
    Membership,
    MembershipStatus,
)
from credflow.tokens import canonical, nonce_hash

__all__ = ["SessionService"]


KIND = "session"
_TOUCH_EVERY = timedelta(seconds=60)
_SWITCH_TRIES = 3
_REFUSALS = {
    MembershipStatus.PENDING_APPROVAL: "organisation.pending_approval",
    MembershipStatus.DISABLED: "organisation.disabled",
}


class SessionService:
    """Issue, validate and revoke sessions (``cf.sessions``)."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        clock: Clock,
        audit: Audit,
        messages: Messages | None = None,
    ) -> None:
        key, fallbacks = settings.signing_keys
        self._messages = messages or DEFAULT_MESSAGES
        self._storage = storage
        self._settings = settings
        self._clock = clock
        self._audit = audit
        self._signer = plain_signer([*fallbacks, key], "credflow.session")

    def issue(self, account: Account, *, organisation: str | None = None) -> Session:
        """A new session for ``account``. Callers issue one only after a full authentication.

        ``organisation`` must be one where the account's membership is active (else
        NotAuthorised). Without it, the session takes the account's only active organisation
        when there is exactly one, and none otherwise: the host lets the person choose, then
        calls ``switch_organisation``.
        """
        organisation = self._initial_organisation(account.id, organisation)
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

    def _initial_organisation(self, account_id: str, requested: object) -> str | None:
        if requested is not None:
            if not isinstance(requested, str):
                raise InvalidInput("must be a str", field="organisation")
            if not _active(self._storage.get_membership(account_id, requested)):
                raise NotAuthorised("the account is not an active member of that organisation")
            return requested
        active = [m.organisation_id for m in self._storage.memberships_of(account_id) if _active(m)]
        return active[0] if len(active) == 1 else None

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
        """The session's active organisation: None when the session is not valid, when none is
        set, or when the membership is no longer active (checked on every call)."""
        found = self._record(token)
        if found is None:
            return None
        record, account = found
        org = record.data.get("org")
        if org is None or not _active(self._storage.get_membership(account.id, org)):
            return None
        return str(org)

    def switch_organisation(
        self, session: Session | str, organisation_id: str, *, locale: str | None = None
    ) -> StepResult:
        """Make ``organisation_id`` the session's active organisation, without a new login.

        ``completed`` carries the updated ``Session`` (same token). ``refused`` when the
        membership is pending (``organisation.pending_approval``), disabled
        (``organisation.disabled``) or absent (``organisation.not_member``, also for an unknown
        organisation); ``invalid`` (``session.invalid``) when the session is not valid. A
        refusal changes nothing.
        """
        lang = self._messages.resolve(locale or self._settings.locale)
        token = session.token if isinstance(session, Session) else session
        if not isinstance(organisation_id, str):
            raise InvalidInput("must be a str", field="organisation_id")
        for _ in range(_SWITCH_TRIES):
            with self._storage.transaction():
                found = self._record(token)
                if found is None:
                    return self._step(StepStatus.INVALID, "session.invalid", lang)
                record, account = found
                membership = self._storage.get_membership(account.id, organisation_id)
                named = self._storage.get_organisation(organisation_id)
                if named is None or not _active(membership):
                    code = "organisation.not_member"
                    if membership is not None:
                        code = _REFUSALS.get(membership.status, code)
                    self._audit.record(
                        "organisation_switch_refused",
                        account.id,
                        organisation=organisation_id,
                        reason=code.partition(".")[2],
                    )
                    return self._step(StepStatus.REFUSED, code, lang)
                if record.data.get("org") != organisation_id:
                    data = {**record.data, "org": organisation_id}
                    try:
                        self._storage.advance_flow(
                            record.model_copy(update={"data": data}), expected_state="active"
                        )
                    except ConcurrentUpdate:
                        continue  # touched by a parallel request: read it again
                self._audit.record(
                    "organisation_switched",
                    account.id,
                    organisation=organisation_id,
                    previous=record.data.get("org"),
                )
                switched = Session(
                    token, account.id, record.created_at, record.expires_at, organisation_id
                )
                message = self._messages.render(
                    "organisation.switched", lang, {"organisation": named.name}
                )
                return StepResult(
                    StepStatus.COMPLETED, "organisation.switched", message, session=switched
                )
        raise ConcurrentUpdate("the session changed during every try; try again")

    def _step(self, status: StepStatus, code: str, lang: str) -> StepResult:
        return StepResult(status, code, self._messages.render(code, lang))

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


def _active(membership: Membership | None) -> bool:
    return membership is not None and membership.status is MembershipStatus.ACTIVE
