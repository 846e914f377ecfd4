"""Setting and changing passwords (``cf.passwords``).

``change`` is Sigma's page without a session (identifier, old, new, confirmation); ``change_in_
session`` is the same from a session (old, new, confirmation). Both check the old password (a
wrong one counts toward lockout), run the policy with the identifier in context, refuse the
current password and, when the policy has a ``history`` rule, the last N. A change bumps the
credential version, so every other session and every outstanding token dies (PC-03), and sends a
"password changed" notice without the password (PC-04).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.flows import password_change
from credflow.flows.password_change import (
    PasswordChangeEvent,
    PasswordChangeFacts,
    PasswordChangeState,
)
from credflow.hashing import UNUSABLE, Hasher, too_long
from credflow.lockout import LockoutService
from credflow.messages import Messages
from credflow.mfa.factors import has_confirmed_factor
from credflow.notify import Message, Notifier
from credflow.policy import History
from credflow.policy.report import PolicyReport, RuleResult
from credflow.results import Session, StepResult, StepStatus
from credflow.sessions import SessionService
from credflow.settings import Settings
from credflow.storage.protocols import Storage
from credflow.storage.records import (
    Account,
    AccountStatus,
    PasswordCredential,
    RequiredAction,
    check_identifier,
    identifier_key,
)

__all__ = ["NewPassword", "PasswordService", "changed_during_hash"]

_REFUSAL_CODES = {
    "account_locked": "password.old_wrong",
    "old_password_wrong": "password.old_wrong",
    "confirmation_differs": "password.confirmation_differs",
    "policy_not_met": "password.policy_not_met",
    "same_as_old": "password.same_as_old",
}


@dataclass(frozen=True, slots=True)
class NewPassword:
    """The checks of a proposed new password: confirmation, policy report, differs from current."""

    confirmed: bool
    report: PolicyReport
    differs: bool

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return self.confirmed and self.report.ok and self.differs

    @property
    def refusal_code(self) -> str:
        """The message code of the first check that failed (meaningless when ``ok``)."""
        if not self.confirmed:
            return "password.confirmation_differs"
        if not self.report.ok:
            return "password.policy_not_met"
        return "password.same_as_old"


class PasswordService:
    """Password changes, and the shared "set a new password" step used by other flows."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        hasher: Hasher,
        clock: Clock,
        audit: Audit,
        notifier: Notifier,
        lockout: LockoutService,
        sessions: SessionService,
        messages: Messages,
    ) -> None:
        self._storage = storage
        self._settings = settings
        self._hasher = hasher
        self._clock = clock
        self._audit = audit
        self._notifier = notifier
        self._lockout = lockout
        self._sessions = sessions
        self._messages = messages
        self._history = max(
            (r.count for r in settings.password_policy.rules if isinstance(r, History)), default=0
        )

    # -- shared building blocks --------------------------------------------------------------

    def check_new(self, account: Account, new: str, confirm: str, *, locale: str) -> NewPassword:
        """Run every check on a proposed password; nothing is written. The policy sees whether
        the account has a confirmed second factor (``has_mfa``: NIST's 8 instead of 15)."""
        if not isinstance(new, str) or not isinstance(confirm, str):
            raise TypeError("passwords must be str")
        report = self._settings.password_policy.evaluate(
            new,
            identifier=account.identifier,
            email=account.email,
            has_mfa=has_confirmed_factor(self._storage, account.id),  # NIST: 8 with MFA, else 15
            history=lambda candidate, count: self._reused(account.id, candidate, count),
            locale=locale,
        )
        differs = True
        current = self._storage.get_password(account.id)
        if report.ok and current is not None:
            differs = not self._hasher.verify(current.hash, new).ok
        return NewPassword(new == confirm, report, differs)

    def _reused(self, account_id: str, candidate: str, count: int) -> bool:
        return any(
            self._hasher.verify(entry.hash, candidate).ok
            for entry in self._storage.password_history(account_id, count)
        )

    def apply(self, account: Account, new: str, *, event_by: str, locale: str) -> Account:
        """Store ``new`` (already checked), bump the credential version, clear the
        ``change_password`` action, record the event and send the notice. Call it inside the
        caller's transaction."""
        now = self._clock.now()
        self._storage.set_password(
            PasswordCredential(account_id=account.id, hash=self._hasher.hash(new), set_at=now),
            keep_history=self._history,
        )
        actions = tuple(
            a for a in account.required_actions if a is not RequiredAction.CHANGE_PASSWORD
        )
        updated = self._storage.update_account(
            account.model_copy(
                update={
                    "credential_version": account.credential_version + 1,
                    "required_actions": actions,
                    "updated_at": now,
                }
            )
        )
        self._audit.record("password_changed", account.id, by=event_by)
        if updated.email is not None:
            self._notifier.send(
                Message(
                    "password_changed",
                    updated.email,
                    locale,
                    {
                        "identifier": updated.identifier,
                        "at": now.isoformat(),
                        "url": self._settings.base_url,
                    },
                )
            )
        return updated

    def unusable(self, account_id: str) -> PasswordCredential:
        """A credential no password matches (``hashing.UNUSABLE``): the old password stops
        working at once, without costing a hash, until a new one is set."""
        return PasswordCredential(account_id=account_id, hash=UNUSABLE, set_at=self._clock.now())

    def temporary_expired(self, credential: PasswordCredential) -> bool:
        """True when a temporary password is past its expiry."""
        return (
            credential.temporary
            and credential.expires_at is not None
            and self._clock.now() > credential.expires_at
        )

    def too_old(self, credential: PasswordCredential) -> bool:
        """True when ``settings.password_max_age`` is set and the password is older."""
        max_age = self._settings.password_max_age
        if max_age is None or credential.temporary:
            return False
        return self._clock.now() > credential.set_at + timedelta(seconds=max_age)

    # -- public operations -------------------------------------------------------------------

    def change(
        self, identifier: str, old: str, new: str, confirm: str, *, locale: str | None = None
    ) -> StepResult:
        """Sigma's "Changer de mot de passe" page: identifier, old, new, confirmation."""
        lang = self._messages.resolve(locale or self._settings.locale)
        if not isinstance(identifier, str):
            raise TypeError("identifier must be a str")
        try:
            check_identifier(identifier)
            account = self._storage.find_account(identifier_key(identifier))
        except ValueError:
            account = None
        return self._change(account, old, new, confirm, lang, by="form", new_session=False)

    def change_in_session(
        self, session: str, old: str, new: str, confirm: str, *, locale: str | None = None
    ) -> StepResult:
        """From a session: old, new, confirmation. Returns a fresh session (the others end),
        unless the settings send the person back to the login page."""
        lang = self._messages.resolve(locale or self._settings.locale)
        account = self._sessions.validate(session)
        if account is None:
            return self._result(StepStatus.INVALID, "flow.invalid", lang)
        reissue = not self._settings.reauthenticate_after_password_change
        return self._change(account, old, new, confirm, lang, by="session", new_session=reissue)

    def _change(
        self,
        account: Account | None,
        old: str,
        new: str,
        confirm: str,
        lang: str,
        *,
        by: str,
        new_session: bool,
    ) -> StepResult:
        for value in (old, new, confirm):
            if not isinstance(value, str):
                raise TypeError("passwords must be str")
        credential = self._storage.get_password(account.id) if account is not None else None
        locked = account is not None and self._lockout.is_locked(account)
        if too_long(old):
            old_ok = False  # refused unhashed, whatever the account (LK-10)
        elif account is None or credential is None or locked:
            old_ok = self._hasher.dummy_verify(old).ok
        else:
            old_ok = self._hasher.verify(credential.hash, old).ok
        usable = (
            account is not None
            and credential is not None
            and account.status is AccountStatus.ACTIVE
            and not self.temporary_expired(credential)
        )
        old_ok = old_ok and usable
        check = None
        if old_ok and not locked:
            assert account is not None
            check = self.check_new(account, new, confirm, locale=lang)
        facts = PasswordChangeFacts(
            locked=locked,
            old_ok=old_ok,
            confirmed=check is not None and check.confirmed,
            policy_ok=check is not None and check.report.ok,
            differs=check is not None and check.differs,
        )
        state = password_change.MACHINE.next(
            PasswordChangeState.FORM, PasswordChangeEvent.SUBMIT, facts
        )
        if state is PasswordChangeState.REFUSED:
            reason = next(g.__name__ for g in password_change.REFUSALS if g(facts))
            with self._storage.transaction():
                if account is not None and reason == "old_password_wrong" and usable:
                    self._lockout.register_failure(account, factor="password", locale=lang)
                self._audit.record(
                    "password_change_refused", account.id if account else None, reason=reason
                )
            failures = check.report.failures if check is not None else ()
            return self._result(StepStatus.REFUSED, _REFUSAL_CODES[reason], lang, failures=failures)
        assert account is not None
        with self._storage.transaction():
            fresh = self._storage.get_account(account.id)
            if changed_during_hash(account, fresh):  # deleted, disabled or a new password
                self._audit.record("password_change_refused", account.id, reason="account_changed")
                return self._result(StepStatus.REFUSED, "password.old_wrong", lang)
            assert fresh is not None
            if self._lockout.is_locked(fresh):  # locked by a parallel attempt during the verify
                self._audit.record("password_change_refused", account.id, reason="account_locked")
                return self._result(StepStatus.REFUSED, "password.old_wrong", lang)
            account = self._lockout.register_success(fresh, fresh=True)
            updated = self.apply(account, new, event_by=by, locale=lang)
        session = self._sessions.issue(updated) if new_session else None
        status = StepStatus.COMPLETED if session is not None else StepStatus.REAUTHENTICATE
        return self._result(status, "password.changed", lang, session=session)

    def _result(
        self,
        status: StepStatus,
        code: str,
        lang: str,
        *,
        failures: tuple[RuleResult, ...] = (),
        session: Session | None = None,
    ) -> StepResult:
        return StepResult(
            status, code, self._messages.render(code, lang), session=session, failures=failures
        )


def changed_during_hash(before: Account, now: Account | None) -> bool:
    """True when the account read before the hash is no longer one the verified password may
    open: deleted, no longer active, or given a new password (credential version) meanwhile."""
    return (
        now is None
        or now.status is not AccountStatus.ACTIVE
        or now.credential_version != before.credential_version
    )
