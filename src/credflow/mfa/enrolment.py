"""Enrolment building blocks: a new TOTP factor, its first code, and a factor's activation.

``cf.mfa`` (from a session) and ``cf.first_login`` (at its ``enroll_totp`` step) share them.
A new TOTP factor stores only a seed sealed under the current settings key (``seeds``, OT-08);
the secret shown in the URI and the QR code is derived, never stored. Activation happens inside
the caller's transaction: the TOTP's first step is marked used, the ``enroll_totp`` action
leaves the account, the first factor brings recovery codes, and the account is mailed.
"""

from __future__ import annotations

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.errors import ConcurrentUpdate
from credflow.hashing import Hasher
from credflow.mfa import recovery_codes, totp
from credflow.mfa.factors import confirmed
from credflow.mfa.notices import Notices
from credflow.mfa.replies import Replies
from credflow.mfa.totp import TotpSetup
from credflow.mfa.verifier import Verifier
from credflow.results import MfaStatus
from credflow.settings import MfaSettings
from credflow.storage.protocols import Storage
from credflow.storage.records import Account, MfaFactor, MfaKind, RequiredAction

__all__ = ["Enrolment"]


class Enrolment:
    """Starts, checks and activates second factors."""

    __slots__ = (
        "_audit",
        "_clock",
        "_config",
        "_hasher",
        "_notices",
        "_replies",
        "_storage",
        "_verifier",
    )

    def __init__(
        self,
        storage: Storage,
        config: MfaSettings,
        hasher: Hasher,
        clock: Clock,
        audit: Audit,
        replies: Replies,
        verifier: Verifier,
        notices: Notices,
    ) -> None:
        self._storage = storage
        self._config = config
        self._hasher = hasher
        self._clock = clock
        self._audit = audit
        self._replies = replies
        self._verifier = verifier
        self._notices = notices

    def __repr__(self) -> str:
        return "Enrolment()"

    def start_totp(self, account: Account, issuer: str, lang: str) -> TotpSetup:
        """Store a new unconfirmed TOTP seed for ``account`` and return its setup."""
        if MfaKind.TOTP in confirmed(self._storage, account.id):
            code = "mfa.already_enrolled"
            return TotpSetup(MfaStatus.REFUSED, code, self._replies.text(code, lang))
        stored, secret = self._verifier.new_secret(account.id)
        with self._storage.transaction():
            self._storage.save_mfa_factor(
                MfaFactor(
                    account_id=account.id,
                    kind=MfaKind.TOTP,
                    secret=stored,
                    created_at=self._clock.now(),
                )
            )
            self._audit.record("mfa_enrolled", account.id, kind=MfaKind.TOTP.value)
        uri = totp.otpauth_uri(secret, issuer=issuer, account_name=account.identifier)
        message = self._replies.text("mfa.totp_started", lang)
        return TotpSetup(MfaStatus.NEXT, "mfa.totp_started", message, secret, uri)

    def totp_step(self, account: Account, code: str) -> tuple[str | None, int | None]:
        """``(None, step)`` when ``code`` is right for the account's *unconfirmed* TOTP, else
        ``(refusal message code, None)``. Nothing is written but a failure's audit event."""
        factor = next(
            (f for f in self._storage.mfa_factors(account.id) if f.kind is MfaKind.TOTP), None
        )
        if factor is None:
            return "mfa.not_started", None
        if factor.confirmed:
            return "mfa.already_enrolled", None
        opened = self._verifier.secret(account.id, factor)
        if opened is None:  # begun under a key the settings no longer hold: begin again
            return "mfa.not_started", None
        step = self._verifier.matching_step(opened.secret, code)
        if step is None:
            self._audit.record("mfa_failed", account.id, method="totp", reason="enrolment")
            return "mfa.code_wrong", None
        return None, step

    def codes_for(self, account: Account) -> recovery_codes.NewSet | None:
        """A new set of recovery codes when the account has none left (hashed now, outside any
        transaction: ten argon2id hashes), else None."""
        if self._storage.recovery_codes_left(account.id):
            return None
        return self.new_codes(account.id)

    def new_codes(self, account_id: str) -> recovery_codes.NewSet:
        """A new set of recovery codes for the account (not stored yet)."""
        return recovery_codes.new_set(
            account_id, self._config.recovery_codes, self._hasher, self._clock.now()
        )

    def activate(
        self,
        account: Account,
        kind: MfaKind,
        *,
        step: int | None = None,
        phone: str | None = None,
        codes: recovery_codes.NewSet | None = None,
        lang: str | None = None,
    ) -> tuple[Account, tuple[str, ...]]:
        """Confirm a factor, inside the caller's transaction: the TOTP's first step is marked
        used (ConcurrentUpdate if it already was), ``enroll_totp`` leaves the required actions,
        the first factor brings new recovery codes (``codes`` when prepared, returned formatted
        to show once), and the account is mailed ``mfa_enabled``."""
        now = self._clock.now()
        if kind is MfaKind.TOTP:
            assert step is not None
            if not self._storage.use_totp_step(account.id, step):
                raise ConcurrentUpdate("that TOTP step was already used")
            factor = next(f for f in self._storage.mfa_factors(account.id) if f.kind is kind)
            self._storage.save_mfa_factor(factor.model_copy(update={"confirmed": True}))
        else:
            self._storage.save_mfa_factor(
                MfaFactor(
                    account_id=account.id, kind=kind, phone=phone, confirmed=True, created_at=now
                )
            )
        current = self._storage.get_account(account.id) or account
        if RequiredAction.ENROLL_TOTP in current.required_actions:
            actions = tuple(
                a for a in current.required_actions if a is not RequiredAction.ENROLL_TOTP
            )
            current = self._storage.update_account(
                current.model_copy(update={"required_actions": actions, "updated_at": now})
            )
        shown: tuple[str, ...] = ()
        if not self._storage.recovery_codes_left(account.id):
            made = codes or self.new_codes(account.id)
            self._storage.replace_recovery_codes(account.id, list(made.records))
            shown = made.shown
        self._audit.record("mfa_confirmed", account.id, kind=kind.value, recovery=bool(shown))
        self._notices.enabled(current, kind, self._replies.lang(lang))
        return current, shown
