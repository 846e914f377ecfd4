"""``cf.email_change``: a signed-in person changes the account's address (Sage).

``start`` mails a code to the new address; nothing changes until ``confirm`` gets that code
(an unconfirmed address never replaces the old one). Confirming writes in one transaction: with
unique emails, the address is locked and checked (a taken address is refused there, the old one
stays); the account is updated by compare-and-set (its identifier too when it was the old
address); outstanding reset and password-setup links, which went to the old address, become
void; an audit event; and last, a notice to the old address (EV-08).
"""

from __future__ import annotations

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.code_flows import CodeFlows
from credflow.codes import check_code
from credflow.errors import ConcurrentUpdate, DuplicateIdentifier, InvalidInput
from credflow.flows import email_change as machine
from credflow.flows.registration import CodeEvent, CodeFacts, CodeState
from credflow.hashing import Hasher, too_long
from credflow.lockout import LockoutService
from credflow.messages import Messages
from credflow.notify import Message, Notifier
from credflow.results import VerificationResult, VerificationStatus
from credflow.sessions import SessionService
from credflow.settings import Settings
from credflow.storage.protocols import Storage
from credflow.storage.records import (
    Account,
    AccountStatus,
    FlowRecord,
    check_email,
    email_key,
    identifier_key,
)
from credflow.tokens import TokenService

__all__ = ["VOIDED_PURPOSES", "EmailChangeService"]

KIND = "email_change"
VOIDED_PURPOSES = ("reset", "password_setup")
"""Token purposes whose links were mailed to the old address: void once the address changes."""


class EmailChangeService:
    """Start, resend and confirm a change of the account's email address."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        hasher: Hasher,
        clock: Clock,
        audit: Audit,
        notifier: Notifier,
        sessions: SessionService,
        tokens: TokenService,
        lockout: LockoutService,
        messages: Messages,
    ) -> None:
        self._storage = storage
        self._settings = settings
        self._hasher = hasher
        self._clock = clock
        self._audit = audit
        self._notifier = notifier
        self._sessions = sessions
        self._tokens = tokens
        self._lockout = lockout
        self._messages = messages
        self._flows = CodeFlows(KIND, machine.MACHINE, storage, settings, clock, messages)

    def start(
        self,
        session: str,
        new_email: str,
        *,
        password: str | None = None,
        locale: str | None = None,
    ) -> VerificationResult:
        """Mail a code to ``new_email`` for the session's account: ``next`` with a flow handle.

        With ``settings.registration.email_change_reauthenticate`` (the default), the current
        ``password`` is asked first (a wrong one counts toward lockout). Raises
        InvalidEmail(field="new_email") for a malformed address.
        """
        lang = self._messages.resolve(locale or self._settings.locale)
        check_email(new_email, field="new_email")
        if password is not None and not isinstance(password, str):
            raise InvalidInput(f"must be a str, not {type(password).__name__}", field="password")
        account = self._sessions.validate(session) if isinstance(session, str) else None
        if account is None:
            return self._flows.result(VerificationStatus.INVALID, "invalid", lang)
        if self._settings.registration.email_change_reauthenticate:
            if password is None:
                return self._flows.result(VerificationStatus.REFUSED, "password_required", lang)
            if not self._password_ok(account, password, lang):
                return self._flows.result(VerificationStatus.REFUSED, "password_wrong", lang)
        if new_email == account.email:
            return self._flows.result(VerificationStatus.REFUSED, "same_address", lang)
        with self._storage.transaction():
            if not self._flows.within_rate(account.id):
                return self._flows.result(VerificationStatus.REFUSED, "too_many", lang)
            handle, code = self._flows.open(
                account.id,
                email_key(new_email),
                {
                    "new_email": new_email,
                    "cv": account.credential_version,
                    "epoch": account.session_epoch,
                    "deadline": self._flows.deadline(self._clock.now()),
                },
            )
            self._audit.record("email_change_requested", account.id)
            self._mail_code(new_email, code, lang)
        return self._flows.result(VerificationStatus.NEXT, "code_sent", lang, flow=handle)

    def resend(self, flow: str, *, locale: str | None = None) -> VerificationResult:
        """Mail a new code to the new address; the previous code stops working and the tries
        left carry over. At most ``settings.registration.rate_limit`` mails per account and
        window, starts included."""
        lang = self._messages.resolve(locale or self._settings.locale)
        try:
            with self._storage.transaction():
                loaded = self._load(flow, lang)
                if isinstance(loaded, VerificationResult):
                    return loaded
                record, account = loaded
                if not self._flows.within_rate(account.id):
                    return self._flows.result(
                        VerificationStatus.REFUSED, "too_many", lang, flow=flow
                    )
                code = self._flows.renew(record)
                self._audit.record("email_change_code_resent", account.id)
                self._mail_code(record.data["new_email"], code, lang)
        except ConcurrentUpdate:
            return self._flows.result(VerificationStatus.INVALID, "invalid", lang)
        return self._flows.result(VerificationStatus.NEXT, "code_resent", lang, flow=flow)

    def confirm(self, flow: str, code: str, *, locale: str | None = None) -> VerificationResult:
        """Check the code mailed to the new address and, when right, apply the change
        (``completed``). A malformed code raises InvalidInput(field="code") and changes
        nothing."""
        lang = self._messages.resolve(locale or self._settings.locale)
        text = check_code(code, self._settings.registration.code_digits)
        try:
            with self._storage.transaction():
                loaded = self._load(flow, lang)
                if isinstance(loaded, VerificationResult):
                    return loaded
                record, account = loaded
                if self._flows.code_expired(record):
                    return self._flows.expired_code(flow, lang)
                if not self._flows.matches(record, text):
                    self._audit.record("email_change_code_wrong", account.id)
                    return self._flows.wrong(record, flow, lang)
                return self._apply(record, account, lang)
        except ConcurrentUpdate:
            return self._flows.result(VerificationStatus.INVALID, "invalid", lang)
        except DuplicateIdentifier:  # the identifier the address makes was taken meanwhile
            return self._flows.result(VerificationStatus.REFUSED, "email_taken", lang)

    # -- internals ---------------------------------------------------------------------------

    def _apply(self, record: FlowRecord, account: Account, lang: str) -> VerificationResult:
        new_email: str = record.data["new_email"]
        new_key = email_key(new_email)
        self._storage.lock_email(new_key)
        changes: dict[str, object] = {
            "email": new_email,
            "email_key": new_key,
            "updated_at": self._clock.now(),
        }
        free = not self._settings.unique_emails or not any(
            other.id != account.id and other.status is not AccountStatus.PENDING_VERIFICATION
            for other in self._storage.find_accounts_by_email(new_key)
        )
        if account.email is not None and account.identifier_key == identifier_key(account.email):
            # The address was the identifier (a registration without one): it follows.
            holder = self._storage.find_account(identifier_key(new_email))
            squatter = (
                holder is not None
                and holder.id != account.id
                and holder.status is AccountStatus.PENDING_VERIFICATION
            )
            free = free and (holder is None or holder.id == account.id or squatter)
            if free and squatter:
                # An unverified registration never holds an address: it gives way, as it does
                # when somebody registers the same address again.
                assert holder is not None
                self._storage.delete_account(holder.id)
                self._audit.record("registration_discarded", holder.id, reason="address_claimed")
            changes.update(identifier=new_email, identifier_key=identifier_key(new_email))
        target = self._flows.finish(record, CodeEvent.CODE_RIGHT, CodeFacts(address_free=free))
        if target is CodeState.TAKEN:
            self._audit.record("email_change_refused", account.id, reason="address_taken")
            return self._flows.result(VerificationStatus.REFUSED, "email_taken", lang)
        updated = self._storage.update_account(account.model_copy(update=changes))
        for purpose in VOIDED_PURPOSES:
            self._tokens.void(updated.id, purpose)
        self._audit.record("email_changed", updated.id)
        if account.email is not None:
            self._notifier.send(
                Message(
                    "email_change_notice",
                    account.email,
                    lang,
                    {"identifier": account.identifier, "new_email": new_email},
                )
            )
        return self._flows.result(
            VerificationStatus.COMPLETED, "completed", lang, account_id=updated.id
        )

    def _load(self, flow: object, lang: str) -> tuple[FlowRecord, Account] | VerificationResult:
        """The flow and its account, while the account is active and has kept the credentials
        and the sessions it had at ``start`` (a password change or "sign out everywhere" ends a
        pending change)."""
        loaded = self._flows.load(flow, lang)
        if isinstance(loaded, VerificationResult):
            return loaded
        account = self._storage.get_account(loaded.account_id or "")
        if (
            account is None
            or account.status is not AccountStatus.ACTIVE
            or account.credential_version != loaded.data["cv"]
            or account.session_epoch != loaded.data["epoch"]
        ):
            return self._flows.result(VerificationStatus.INVALID, "invalid", lang)
        return loaded, account

    def _password_ok(self, account: Account, password: str, lang: str) -> bool:
        """The re-authentication: the current password, one verify, counted on failure."""
        credential = self._storage.get_password(account.id)
        locked = self._lockout.is_locked(account)
        if too_long(password):
            ok = False
        elif credential is None or locked:
            ok = self._hasher.dummy_verify(password).ok
        else:
            ok = self._hasher.verify(credential.hash, password).ok
        if not ok:
            with self._storage.transaction():
                if not locked and credential is not None:
                    self._lockout.register_failure(account, factor="password", locale=lang)
                self._audit.record("email_change_refused", account.id, reason="password_wrong")
        return ok

    def _mail_code(self, address: str, code: str, lang: str) -> None:
        self._notifier.send(
            Message(
                "email_verification_code",
                address,
                lang,
                {"code": code, "expires_minutes": self._flows.minutes},
                secret_params=frozenset({"code"}),
            )
        )
