"""``cf.registration``: self-registration verified by a mailed code (Sage).

``register`` creates the account in ``pending_verification`` with its password and mails a code;
``verify`` activates it. The answer never tells whether the address already has an account: such
an address gets the same result and a flow handle that looks the same but never verifies, and
the mailbox receives "you already have an account" instead of a code. Both paths cost the same
work: one password hash, one flow stored, one event, one mail. A separate identifier that is
taken cannot be hidden (the person chose it): that refusal is explicit.

An address held only by an unverified account is not "taken": registering again replaces that
account (its owner never proved the mailbox either), so nobody can squat an address. Pending
accounts never get a session; ``purge_unverified`` deletes those older than
``settings.registration.unverified_ttl``, and ``verify`` refuses them past it even before.
"""

from __future__ import annotations

from datetime import timedelta

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.code_flows import CodeFlows
from credflow.codes import check_code
from credflow.errors import ConcurrentUpdate, DuplicateIdentifier, InvalidInput
from credflow.flows import registration as machine
from credflow.flows.registration import CodeEvent, CodeFacts, CodeState
from credflow.hashing import Hasher
from credflow.login import LoginService
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
    PasswordCredential,
    check_email,
    check_identifier,
    email_key,
    identifier_key,
    new_account_id,
)

__all__ = ["RegistrationService"]

KIND = "registration"
PENDING = AccountStatus.PENDING_VERIFICATION
_PAGE = 200


class RegistrationService:
    """Register, resend the code, verify, and purge accounts never verified."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        hasher: Hasher,
        clock: Clock,
        audit: Audit,
        notifier: Notifier,
        sessions: SessionService,
        messages: Messages,
        login: LoginService,
    ) -> None:
        self._storage = storage
        self._settings = settings
        self._config = settings.registration
        self._hasher = hasher
        self._clock = clock
        self._audit = audit
        self._notifier = notifier
        self._sessions = sessions
        self._messages = messages
        self._login = login
        self._flows = CodeFlows(KIND, machine.MACHINE, storage, settings, clock, messages)

    # -- registering -------------------------------------------------------------------------

    def register(
        self,
        email: str,
        password: str,
        confirm: str,
        *,
        identifier: str | None = None,
        locale: str | None = None,
    ) -> VerificationResult:
        """Create a pending account and mail a code to ``email``: ``next`` with a flow handle.

        The email is the identifier unless ``identifier`` is given. A password that breaks the
        policy or differs from ``confirm`` is refused with the checklist (nothing stored).
        Raises InvalidEmail, InvalidIdentifier or InvalidInput for malformed input.
        """
        lang = self._messages.resolve(locale or self._settings.locale)
        check_email(email)
        chosen = email if identifier is None else identifier
        check_identifier(chosen)
        for name, value in (("password", password), ("confirm", confirm)):
            if not isinstance(value, str):
                raise InvalidInput(f"must be a str, not {type(value).__name__}", field=name)
        if not self._config.enabled:
            return self._flows.result(VerificationStatus.REFUSED, "disabled", lang)
        report = self._settings.password_policy.evaluate(
            password, identifier=chosen, email=email, locale=lang
        )
        if password != confirm or not report.ok:
            refusal = "confirmation_differs" if password != confirm else "policy_not_met"
            return self._flows.result(
                VerificationStatus.REFUSED,
                "",
                lang,
                failures=report.failures,
                code=f"password.{refusal}",
            )
        phc = self._hasher.hash(password)  # on every path, outside the transaction
        for _ in range(2):  # once more when a racing registration took the identifier
            try:
                with self._storage.transaction():
                    return self._register(email, chosen, identifier is not None, phc, lang)
            except DuplicateIdentifier:
                continue
        return self._flows.result(VerificationStatus.REFUSED, "identifier_taken", lang)

    def _register(
        self, email: str, chosen: str, separate: bool, phc: str, lang: str
    ) -> VerificationResult:
        ekey, ikey = email_key(email), identifier_key(chosen)
        if not self._flows.within_rate(ekey):
            return self._flows.result(VerificationStatus.REFUSED, "too_many", lang)
        self._storage.lock_email(ekey)
        same_email = self._storage.find_accounts_by_email(ekey)
        holder = self._storage.find_account(ikey)
        if holder is not None and holder.status is PENDING and holder.email_key == ekey:
            holder = None  # an earlier registration of the same address: replaced below
        if holder is not None and separate:
            self._audit.record("registration_refused", None, reason="identifier_taken")
            return self._flows.result(VerificationStatus.REFUSED, "identifier_taken", lang)
        existing = [a for a in same_email if a.status is not PENDING]
        if existing or holder is not None:
            return self._existing(email, existing, holder, lang)
        for stale in same_email:  # unverified accounts of this address give way
            self._storage.delete_account(stale.id)
            self._audit.record("unverified_account_replaced", stale.id)
        now = self._clock.now()
        account = Account(
            id=new_account_id(),
            identifier=chosen,
            identifier_key=ikey,
            email=email,
            email_key=ekey,
            status=PENDING,
            created_at=now,
            updated_at=now,
        )
        self._storage.create_account(account)
        self._storage.set_password(PasswordCredential(account_id=account.id, hash=phc, set_at=now))
        handle, code = self._flows.open(account.id, ekey, {"deadline": self._flows.deadline(now)})
        self._audit.record("registration_started", account.id)
        self._mail_code(email, code, lang)
        return self._code_sent(handle, lang)

    def _existing(
        self, email: str, existing: list[Account], holder: Account | None, lang: str
    ) -> VerificationResult:
        """The address (or the identifier it makes) already has an account: the same answer,
        a flow that never verifies, and "you already have an account" to the mailbox."""
        recipients = sorted({a.email for a in existing if a.email is not None}) or [email]
        now = self._clock.now()
        handle, _ = self._flows.open(
            None,
            email_key(email),
            {"deadline": self._flows.deadline(now), "notify": recipients},
        )
        found = existing or [a for a in (holder,) if a is not None]
        only = found[0].id if len(found) == 1 else None
        # One storage write in place of the account and password a real registration writes,
        # so both paths do about the same work (the password was hashed on both).
        self._flows.within_rate("decoys")
        self._audit.record("registration_existing_account", only)
        self._mail_exists(recipients, lang)
        return self._code_sent(handle, lang)

    # -- resending and verifying -------------------------------------------------------------

    def resend(self, flow: str, *, locale: str | None = None) -> VerificationResult:
        """Mail a new code in place of the previous one, which stops working; the tries left
        carry over. At most ``settings.registration.rate_limit`` mails per address and window."""
        lang = self._messages.resolve(locale or self._settings.locale)
        try:
            with self._storage.transaction():
                loaded = self._flows.load(flow, lang)
                if isinstance(loaded, VerificationResult):
                    return loaded
                if not self._flows.within_rate(loaded.data["bound"]):
                    return self._flows.result(
                        VerificationStatus.REFUSED, "too_many", lang, flow=flow
                    )
                code = self._flows.renew(loaded)
                account = self._pending(loaded)
                self._audit.record("registration_code_resent", loaded.account_id)
                if account is not None and account.email is not None:
                    self._mail_code(account.email, code, lang)
                else:
                    self._mail_exists(list(loaded.data.get("notify", [])), lang)
        except ConcurrentUpdate:
            return self._flows.result(VerificationStatus.INVALID, "invalid", lang)
        return self._flows.result(VerificationStatus.NEXT, "code_resent", lang, flow=flow)

    def verify(self, flow: str, code: str, *, locale: str | None = None) -> VerificationResult:
        """Check the mailed code: a right one activates the account (``completed``; with a
        session when ``login_after_verification``), and the flow ends. A malformed code raises
        InvalidInput(field="code") and changes nothing."""
        lang = self._messages.resolve(locale or self._settings.locale)
        text = check_code(code, self._config.code_digits)
        try:
            with self._storage.transaction():
                loaded = self._flows.load(flow, lang)
                if isinstance(loaded, VerificationResult):
                    return loaded
                if self._flows.code_expired(loaded):
                    return self._flows.expired_code(flow, lang)
                account = self._pending(loaded)
                if account is None or not self._flows.matches(loaded, text):
                    self._audit.record("registration_code_wrong", loaded.account_id)
                    return self._flows.wrong(loaded, flow, lang)
                return self._activate(loaded, account, lang)
        except ConcurrentUpdate:
            return self._flows.result(VerificationStatus.INVALID, "invalid", lang)

    def _activate(self, record: FlowRecord, account: Account, lang: str) -> VerificationResult:
        ekey = record.data["bound"]
        self._storage.lock_email(ekey)
        free = not self._settings.unique_emails or not any(
            other.id != account.id and other.status is not PENDING
            for other in self._storage.find_accounts_by_email(ekey)
        )
        target = self._flows.finish(record, CodeEvent.CODE_RIGHT, CodeFacts(address_free=free))
        if target is CodeState.TAKEN:
            self._storage.delete_account(account.id)  # it can never be activated
            self._audit.record("registration_refused", account.id, reason="email_taken")
            return self._flows.result(VerificationStatus.REFUSED, "email_taken", lang)
        updated = self._storage.update_account(
            account.model_copy(
                update={"status": AccountStatus.ACTIVE, "updated_at": self._clock.now()}
            )
        )
        self._audit.record("account_verified", updated.id, by="registration")
        session = None
        if self._may_log_in(updated):
            self._audit.record("login_succeeded", updated.id, after="registration")
            session = self._sessions.issue(updated)
        return self._flows.result(
            VerificationStatus.COMPLETED,
            "verified",
            lang,
            account_id=updated.id,
            session=session,
        )

    def _may_log_in(self, account: Account) -> bool:
        """A session right away only when the settings ask for one and nothing else is due
        (a second factor, or MFA required of everyone, is never skipped)."""
        return (
            self._config.login_after_verification
            and not self._settings.mfa.required
            and not account.required_actions
            and not self._login.second_factor(account)
        )

    def _pending(self, record: FlowRecord) -> Account | None:
        """The flow's account while it still waits for verification (else None: the flow then
        behaves like one that can never verify)."""
        if record.account_id is None:
            return None
        account = self._storage.get_account(record.account_id)
        return account if account is not None and account.status is PENDING else None

    # -- purging -----------------------------------------------------------------------------

    def purge_unverified(self) -> int:
        """Delete the accounts still pending verification ``unverified_ttl`` seconds after their
        creation (kept at exactly the TTL); return how many. Each delete is its own transaction,
        so a long purge never holds a lock for long."""
        ttl = timedelta(seconds=self._config.unverified_ttl)
        purged = 0
        after: str | None = None
        while page := self._storage.list_accounts(after=after, limit=_PAGE):
            after = page[-1].id
            for account in page:
                if account.status is PENDING and self._clock.now() > account.created_at + ttl:
                    purged += self._purge(account.id, ttl)
        return purged

    def _purge(self, account_id: str, ttl: timedelta) -> int:
        with self._storage.transaction():
            account = self._storage.get_account(account_id)  # it may have changed since
            if (
                account is None
                or account.status is not PENDING
                or self._clock.now() <= account.created_at + ttl
            ):
                return 0
            self._storage.delete_account(account_id)
            self._audit.record("unverified_account_purged", account_id)
            return 1

    # -- mail and results --------------------------------------------------------------------

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

    def _mail_exists(self, recipients: list[str], lang: str) -> None:
        base = self._settings.base_url
        for address in recipients:
            self._notifier.send(
                Message(
                    "account_exists",
                    address,
                    lang,
                    {"login_url": base + "/", "reset_url": base + self._settings.links.forgot},
                )
            )

    def _code_sent(self, handle: str, lang: str) -> VerificationResult:
        return self._flows.result(VerificationStatus.NEXT, "code_sent", lang, flow=handle)
