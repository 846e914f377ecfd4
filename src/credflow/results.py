"""Results that end users see: a status, a stable message code, a localised message.

Expected outcomes (a wrong password, an expired step, a rule not met) are results, never
exceptions. Handles and session tokens are kept out of ``repr`` so results can be logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from credflow.policy.report import RuleResult
from credflow.storage.records import RequiredAction

__all__ = [
    "LoginResult",
    "LoginStatus",
    "MfaResult",
    "MfaStatus",
    "RecoveryResult",
    "RecoveryStatus",
    "Session",
    "StepResult",
    "StepStatus",
    "VerificationResult",
    "VerificationStatus",
]


@dataclass(frozen=True, slots=True)
class Session:
    """A signed session token for the browser cookie, and what it stands for."""

    token: str = field(repr=False)
    account_id: str
    created_at: datetime
    expires_at: datetime
    organisation: str | None = None


class LoginStatus(StrEnum):
    """The outcome of ``cf.login``."""

    AUTHENTICATED = "authenticated"
    ACTION_REQUIRED = "action_required"
    MFA_REQUIRED = "mfa_required"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class LoginResult:
    """What a login attempt gave. ``flow`` is the restricted handle for the next step."""

    status: LoginStatus
    code: str
    message: str
    action: RequiredAction | None = None
    flow: str | None = field(default=None, repr=False)
    session: Session | None = None

    @property
    def ok(self) -> bool:
        """True when a session was issued."""
        return self.status is LoginStatus.AUTHENTICATED


class StepStatus(StrEnum):
    """The outcome of one step of a multi-step flow (first login, password change…)."""

    NEXT = "next"
    COMPLETED = "completed"
    MFA_REQUIRED = "mfa_required"
    REAUTHENTICATE = "reauthenticate"
    REFUSED = "refused"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class StepResult:
    """A step's outcome; ``failures`` lists the rules a refused password or answer broke.
    ``recovery_codes`` holds the MFA recovery codes made by a TOTP enrolment, shown once."""

    status: StepStatus
    code: str
    message: str
    action: RequiredAction | None = None
    flow: str | None = field(default=None, repr=False)
    session: Session | None = None
    failures: tuple[RuleResult, ...] = ()
    recovery_codes: tuple[str, ...] = field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        """True when the step was applied."""
        return self.status in (
            StepStatus.NEXT,
            StepStatus.COMPLETED,
            StepStatus.MFA_REQUIRED,
            StepStatus.REAUTHENTICATE,
        )


class RecoveryStatus(StrEnum):
    """The outcome of a recovery or reminder call."""

    NEXT = "next"
    COMPLETED = "completed"
    REFUSED = "refused"
    FAILED = "failed"
    SUPPORT_REQUIRED = "support_required"
    MFA_REQUIRED = "mfa_required"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class RecoveryResult:
    """What to show next. ``step`` names the page (``question``, ``link_sent``, ``code_sent``,
    ``new_password``); ``question`` is the text to ask (real or decoy: the caller cannot tell,
    and neither can the person); ``flow`` is the handle for the next call."""

    status: RecoveryStatus
    code: str
    message: str
    step: str | None = None
    question: str | None = None
    flow: str | None = field(default=None, repr=False)
    session: Session | None = None
    failures: tuple[RuleResult, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the call moved the recovery forward."""
        return self.status in (
            RecoveryStatus.NEXT,
            RecoveryStatus.COMPLETED,
            RecoveryStatus.MFA_REQUIRED,
        )


class VerificationStatus(StrEnum):
    """The outcome of a step of a flow confirmed by a mailed code (registration, email change)."""

    NEXT = "next"
    COMPLETED = "completed"
    REFUSED = "refused"
    FAILED = "failed"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """What to show next. ``flow`` is the handle for ``verify``/``confirm`` and ``resend``;
    ``attempts_left`` counts the tries left after a wrong code; ``failures`` lists the rules a
    refused password broke; ``account_id`` and ``session`` are set only once a code is confirmed.
    When only the code expired (``*.code_expired``), the flow stays usable: offer a resend."""

    status: VerificationStatus
    code: str
    message: str
    flow: str | None = field(default=None, repr=False)
    attempts_left: int | None = None
    failures: tuple[RuleResult, ...] = ()
    account_id: str | None = None
    session: Session | None = None

    @property
    def ok(self) -> bool:
        """True when the call moved the flow forward (a code sent, or the code confirmed)."""
        return self.status in (VerificationStatus.NEXT, VerificationStatus.COMPLETED)


class MfaStatus(StrEnum):
    """The outcome of a ``cf.mfa`` call."""

    NEXT = "next"
    COMPLETED = "completed"
    REFUSED = "refused"
    LOCKED = "locked"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class MfaResult:
    """What a second-factor step gave. ``session`` is set once a login's second factor passed;
    ``recovery_codes`` are new recovery codes, shown once (never in ``repr``); ``codes_left``
    counts the unused recovery codes after one was used; ``action`` is a required action the
    change added (``change_password`` when removing MFA leaves a password the policy refuses)."""

    status: MfaStatus
    code: str
    message: str
    flow: str | None = field(default=None, repr=False)
    session: Session | None = None
    recovery_codes: tuple[str, ...] = field(default=(), repr=False)
    codes_left: int | None = None
    action: RequiredAction | None = None

    @property
    def ok(self) -> bool:
        """True when the call did what was asked (a code sent, a factor confirmed…)."""
        return self.status in (MfaStatus.NEXT, MfaStatus.COMPLETED)
