"""Checking a typed second-factor code, then using it once: the core of every MFA step.

``check`` compares the code with the account's factors and writes nothing (but an SMS try);
``consume`` uses what matched, atomically, inside the caller's transaction; ``passed`` and
``failed`` record the outcome (audit, lockout, the notice of a recovery code used). The login
(``cf.mfa.verify``), the recovery's ``mfa`` step and ``cf.mfa.disable`` all go through here,
so a code is checked the same way wherever it is typed.
"""

from __future__ import annotations

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.hashing import Hasher
from credflow.lockout import FailureOutcome, LockoutService
from credflow.mfa import recovery_codes, seeds, totp
from credflow.mfa.checks import RECOVERY_CODE, CodeCheck
from credflow.mfa.entry import EnteredCode
from credflow.mfa.factors import confirmed
from credflow.mfa.notices import Notices
from credflow.mfa.replies import Replies
from credflow.mfa.sms import SmsCodes
from credflow.settings import Settings
from credflow.storage.protocols import Storage
from credflow.storage.records import Account, FlowRecord, MfaFactor, MfaKind

__all__ = ["Verifier"]


class Verifier:
    """Checks and uses second-factor codes for one facade's services."""

    __slots__ = (
        "_audit",
        "_clock",
        "_hasher",
        "_keys",
        "_lockout",
        "_notices",
        "_replies",
        "_settings",
        "_sms",
        "_storage",
    )

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        hasher: Hasher,
        clock: Clock,
        audit: Audit,
        lockout: LockoutService,
        replies: Replies,
        sms: SmsCodes,
        notices: Notices,
    ) -> None:
        self._storage = storage
        self._settings = settings
        self._hasher = hasher
        self._clock = clock
        self._audit = audit
        self._lockout = lockout
        self._replies = replies
        self._sms = sms
        self._notices = notices
        key, fallbacks = settings.signing_keys
        self._keys = (key, *fallbacks)

    def __repr__(self) -> str:
        return "Verifier()"

    def secret(self, account_id: str, factor: MfaFactor) -> seeds.Opened | None:
        """The TOTP secret of ``factor``, derived with its key; None when the key is gone."""
        return seeds.unseal(factor.secret, account_id, self._keys)

    def new_secret(self, account_id: str) -> tuple[str, str]:
        """A new TOTP factor's ``(stored seed, secret)``, under the current key (OT-08)."""
        seed, key = seeds.new_seed(), self._keys[0]
        return seeds.seal(key, seed), seeds.derive(key, account_id, seed)

    def matching_step(self, secret: str, code: str) -> int | None:
        """The step of the settings' window whose code is ``code``, at the clock's time."""
        now_step = totp.step_at(self._clock.now().timestamp())
        return totp.matching_step(secret, code, now_step, window=self._settings.mfa.totp_window)

    def check(self, account: Account, entered: EnteredCode, record: FlowRecord | None) -> CodeCheck:
        """Compare ``entered`` with the account's factors (and the SMS code of ``record``, when
        one was sent). Nothing is written, except the SMS try counter (atomic, so parallel
        guesses cannot exceed the tries). A recovery code costs one argon2id verify."""
        if entered.kind == "recovery":
            digest = recovery_codes.match(self._storage, self._hasher, account.id, entered.value)
            return CodeCheck(RECOVERY_CODE, digest is not None, digest=digest)
        factors = confirmed(self._storage, account.id)
        sms = self._sms.live(record, factors.get(MfaKind.SMS), entered.value)
        if sms is not None and (sms.matched or sms.expired):
            return sms
        factor = factors.get(MfaKind.TOTP)
        if factor is None or len(entered.value) != totp.DIGITS:
            return sms or CodeCheck("totp", False)
        opened = self.secret(account.id, factor)
        if opened is None:
            return sms or CodeCheck("totp", False, key_unknown=True)
        step = self.matching_step(opened.secret, entered.value)
        if step is not None:
            return CodeCheck("totp", True, step=step, fallback_key=opened.fallback)
        return sms or CodeCheck("totp", False)

    def consume(self, account: Account, check: CodeCheck) -> bool:
        """Use a matched code, atomically, inside the caller's transaction: the TOTP step must
        be newer than every step used before; the recovery code must be unused. An SMS code is
        consumed with its flow (the caller's compare-and-set)."""
        if check.method == "totp":
            assert check.step is not None
            return self._storage.use_totp_step(account.id, check.step)
        if check.method == RECOVERY_CODE:
            assert check.digest is not None
            return self._storage.use_recovery_code(account.id, check.digest, self._clock.now())
        return True

    def passed(
        self, account: Account, check: CodeCheck, *, during: str, locale: str | None = None
    ) -> int | None:
        """Record a passed second factor, inside the caller's transaction; for a recovery code,
        mail the notice and return how many are left (RC-06)."""
        if check.fallback_key:  # the factor needs its old key: re-enrolment moves it on
            self._audit.record(
                "mfa_verified", account.id, method=check.method, during=during, old_key=True
            )
        else:
            self._audit.record("mfa_verified", account.id, method=check.method, during=during)
        if check.method != RECOVERY_CODE:
            return None
        left = self._storage.recovery_codes_left(account.id)
        self._audit.record("mfa_recovery_code_used", account.id, left=left, during=during)
        self._notices.code_used(account, left, self._replies.lang(locale))
        return left

    def failed(
        self, account: Account, check: CodeCheck, *, during: str, locale: str
    ) -> FailureOutcome | None:
        """Record a failed code in its own transaction and count it toward lockout (a right
        SMS code past its lifetime is not counted: it was no guess). A refused TOTP replay is
        also a ``totp_replay`` event (OT-05)."""
        reason = "expired" if check.expired else "burned" if check.burned else "wrong"
        if check.key_unknown:
            reason = "key_unknown"
        if check.matched:
            reason = "replayed" if check.method == "totp" else "used"
        with self._storage.transaction():
            self._audit.record(
                "mfa_failed", account.id, method=check.method, reason=reason, during=during
            )
            if reason == "replayed":
                self._audit.record("totp_replay", account.id, during=during)
            if check.expired:
                return None
            return self._lockout.register_failure(account, factor=check.method, locale=locale)

    @staticmethod
    def refusal_code(check: CodeCheck) -> str:
        """The message code of a refused code."""
        if check.expired:
            return "mfa.code_expired"
        if check.burned:
            return "mfa.code_burned"
        return "mfa.code_wrong"
