"""Managing factors from a session: a new set of recovery codes, and removing a factor.

Both need proof beyond the session (SS-05): the current password, or for a removal a valid code
(a fresh TOTP step or an unused recovery code). A wrong proof counts toward lockout. Removing
the last confirmed factor drops the recovery codes and re-checks the password rule without MFA
(PW-02): NIST's 15/8 rule may then ask for a new password at the next login.
"""

from __future__ import annotations

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.errors import InvalidInput
from credflow.hashing import Hasher, too_long
from credflow.lockout import LockoutService
from credflow.mfa import totp
from credflow.mfa.checks import RECOVERY_CODE, CodeCheck
from credflow.mfa.enrolment import Enrolment
from credflow.mfa.entry import parse_code
from credflow.mfa.factors import has_confirmed_factor
from credflow.mfa.notices import Notices
from credflow.mfa.replies import Replies
from credflow.mfa.sms import SmsCodes
from credflow.mfa.verifier import Verifier
from credflow.policy import MinLength
from credflow.results import MfaResult, MfaStatus, Session
from credflow.settings import Settings
from credflow.storage.protocols import Storage
from credflow.storage.records import Account, MfaFactor, MfaKind, RequiredAction

__all__ = ["Removal"]

_ORDER = {action: index for index, action in enumerate(RequiredAction)}


class Removal:
    """``regenerate_recovery_codes`` and ``disable`` of ``cf.mfa``."""

    __slots__ = (
        "_audit",
        "_clock",
        "_enrolment",
        "_hasher",
        "_lockout",
        "_notices",
        "_replies",
        "_settings",
        "_sms",
        "_storage",
        "_verifier",
    )

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        hasher: Hasher,
        clock: Clock,
        audit: Audit,
        lockout: LockoutService,
        parts: tuple[Replies, Verifier, Enrolment, SmsCodes, Notices],
    ) -> None:
        self._storage = storage
        self._settings = settings
        self._hasher = hasher
        self._clock = clock
        self._audit = audit
        self._lockout = lockout
        self._replies, self._verifier, self._enrolment, self._sms, self._notices = parts

    def __repr__(self) -> str:
        return "Removal()"

    def regenerate(self, session: Session | str, password: object, lang: str) -> MfaResult:
        """See ``MfaService.regenerate_recovery_codes``."""
        if not isinstance(password, str):
            raise InvalidInput("must be a str", field="password")
        reply = self._replies.result
        account = self._replies.account(session)
        if account is None:
            return reply(MfaStatus.INVALID, "session.invalid", lang)
        if not has_confirmed_factor(self._storage, account.id):
            return reply(MfaStatus.REFUSED, "mfa.not_enrolled", lang)
        if self._lockout.is_locked(account):
            return reply(MfaStatus.LOCKED, "mfa.locked", lang)
        if not self._password_ok(account, password):
            return self._password_refused(account, "regenerate", lang)
        made = self._enrolment.new_codes(account.id)  # ten hashes, before the transaction
        with self._storage.transaction():
            fresh = self._lockout.register_success(account)
            self._storage.replace_recovery_codes(fresh.id, list(made.records))
            self._audit.record("mfa_recovery_codes_regenerated", fresh.id, count=len(made.shown))
            self._notices.regenerated(fresh, lang)
        return reply(MfaStatus.COMPLETED, "mfa.recovery_codes", lang, recovery_codes=made.shown)

    def disable(
        self,
        session: Session | str,
        kind: object,
        password: object,
        code: object,
        lang: str,
    ) -> MfaResult:
        """See ``MfaService.disable``."""
        factor_kind = _kind(kind)
        if (password is None) == (code is None):
            raise InvalidInput("give the current password or a code, not both", field="password")
        if password is not None and not isinstance(password, str):
            raise InvalidInput("must be a str", field="password")
        entered = parse_code(code, digits=(totp.DIGITS,)) if code is not None else None
        reply = self._replies.result
        account = self._replies.account(session)
        if account is None:
            return reply(MfaStatus.INVALID, "session.invalid", lang)
        factor = next(
            (f for f in self._storage.mfa_factors(account.id) if f.kind is factor_kind), None
        )
        if factor is None:
            return reply(MfaStatus.REFUSED, "mfa.not_enrolled", lang)
        if self._lockout.is_locked(account):
            return reply(MfaStatus.LOCKED, "mfa.locked", lang)
        check = None
        if entered is not None:
            check = self._verifier.check(account, entered, None)
        elif not self._password_ok(account, str(password)):
            return self._password_refused(account, "disable", lang)
        with self._storage.transaction():
            proven = check is None or (check.matched and self._verifier.consume(account, check))
            if proven:
                known = password if isinstance(password, str) else None
                action = self._remove(account, factor, known, check, lang)
        if not proven:
            assert check is not None
            outcome = self._verifier.failed(account, check, during="disable", locale=lang)
            if outcome is not None and outcome.locked:
                return reply(MfaStatus.LOCKED, "mfa.locked", lang)
            return reply(MfaStatus.REFUSED, self._verifier.refusal_code(check), lang)
        return reply(MfaStatus.COMPLETED, "mfa.disabled", lang, action=action)

    def _remove(
        self,
        account: Account,
        factor: MfaFactor,
        password: str | None,
        check: CodeCheck | None,
        lang: str,
    ) -> RequiredAction | None:
        """Delete ``factor`` inside the caller's transaction, record it and mail the notices;
        return the required action the removal added, if any."""
        self._storage.delete_mfa_factor(account.id, factor.kind)
        if factor.kind is MfaKind.SMS:
            self._storage.delete_flow(self._sms.enrol_hash(account.id))
        last = factor.confirmed and not has_confirmed_factor(self._storage, account.id)
        action = self._without_mfa(account, password) if last else None
        self._audit.record(
            "mfa_disabled",
            account.id,
            kind=factor.kind.value,
            by="password" if check is None else check.method,
            must_change=action is not None,
        )
        if factor.confirmed:
            self._notices.disabled(account, factor.kind, lang)
        if check is not None and check.method == RECOVERY_CODE and not last:
            left = self._storage.recovery_codes_left(account.id)
            self._audit.record("mfa_recovery_code_used", account.id, left=left, during="disable")
            self._notices.code_used(account, left, lang)
        return action

    def _without_mfa(self, account: Account, password: str | None) -> RequiredAction | None:
        """The last factor is gone: drop the recovery codes and re-check the password rule."""
        self._storage.replace_recovery_codes(account.id, [])
        if not self._fails_without_mfa(account, password):
            return None
        current = self._storage.get_account(account.id) or account
        if RequiredAction.CHANGE_PASSWORD not in current.required_actions:
            actions = (RequiredAction.CHANGE_PASSWORD, *current.required_actions)
            self._storage.update_account(
                current.model_copy(
                    update={
                        "required_actions": tuple(sorted(actions, key=_ORDER.__getitem__)),
                        "updated_at": self._clock.now(),
                    }
                )
            )
        return RequiredAction.CHANGE_PASSWORD

    def _fails_without_mfa(self, account: Account, password: str | None) -> bool:
        """Whether the password rule, applied without MFA, refuses the current password (or,
        the password unknown, might: the rule's MFA minimum is lower than its plain one)."""
        policy = self._settings.password_policy
        if password is None:
            return any(
                isinstance(r, MinLength) and r.effective(True) < r.effective(False)
                for r in policy.rules
            )
        report = policy.evaluate(
            password, identifier=account.identifier, email=account.email, has_mfa=False
        )
        return not report.ok

    def _password_ok(self, account: Account, password: str) -> bool:
        if too_long(password):
            return False  # refused unhashed (PW-03)
        credential = self._storage.get_password(account.id)
        if credential is None:
            self._hasher.dummy_verify(password)
            return False
        return self._hasher.verify(credential.hash, password).ok

    def _password_refused(self, account: Account, during: str, lang: str) -> MfaResult:
        with self._storage.transaction():
            self._audit.record(
                "mfa_failed", account.id, method="password", reason="wrong", during=during
            )
            outcome = self._lockout.register_failure(account, factor="password", locale=lang)
        if outcome.locked:
            return self._replies.result(MfaStatus.LOCKED, "mfa.locked", lang)
        return self._replies.result(MfaStatus.REFUSED, "mfa.password_wrong", lang)


def _kind(kind: object) -> MfaKind:
    """``kind`` as an MfaKind, else InvalidInput(field="kind")."""
    if isinstance(kind, str) and kind in {k.value for k in MfaKind}:
        return MfaKind(kind)
    raise InvalidInput("must be 'totp' or 'sms'", field="kind")
