"""Login: one attempt, decided from the facts the service gathered.

Every denial leads to the same ``denied`` state; the precise reason is the guard that matched,
which the service records in the audit event only (LK-09).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from credflow.flows.machine import Machine, Transition

__all__ = ["MACHINE", "LoginEvent", "LoginFacts", "LoginState", "denial_reason"]


class LoginState(StrEnum):
    START = "start"
    AUTHENTICATED = "authenticated"
    ACTION_REQUIRED = "action_required"
    MFA_REQUIRED = "mfa_required"
    DENIED = "denied"


class LoginEvent(StrEnum):
    ATTEMPT = "attempt"


@dataclass(frozen=True, slots=True)
class LoginFacts:
    """What the service found out about one attempt."""

    known: bool
    locked: bool
    password_ok: bool
    active: bool
    temporary_expired: bool
    actions_pending: bool
    mfa_enrolled: bool


def unknown_account(f: LoginFacts) -> bool:
    return not f.known


def account_locked(f: LoginFacts) -> bool:
    return f.locked


def wrong_password(f: LoginFacts) -> bool:
    return not f.password_ok


def account_not_active(f: LoginFacts) -> bool:
    return not f.active


def temporary_password_expired(f: LoginFacts) -> bool:
    return f.temporary_expired


def actions_pending(f: LoginFacts) -> bool:
    return f.actions_pending


def mfa_enrolled(f: LoginFacts) -> bool:
    return f.mfa_enrolled


_DENIALS = (
    unknown_account,
    account_locked,
    wrong_password,
    account_not_active,
    temporary_password_expired,
)

S, E = LoginState, LoginEvent
MACHINE: Machine[LoginState, LoginEvent, LoginFacts] = Machine(
    "login",
    LoginState,
    LoginEvent,
    [
        *(Transition(S.START, E.ATTEMPT, S.DENIED, guard) for guard in _DENIALS),
        Transition(S.START, E.ATTEMPT, S.ACTION_REQUIRED, actions_pending),
        Transition(S.START, E.ATTEMPT, S.MFA_REQUIRED, mfa_enrolled),
        Transition(S.START, E.ATTEMPT, S.AUTHENTICATED),
    ],
    initial=[S.START],
    terminal=[S.AUTHENTICATED, S.ACTION_REQUIRED, S.MFA_REQUIRED, S.DENIED],
)


def denial_reason(facts: LoginFacts) -> str | None:
    """The first denial guard that holds, as the audit reason (``wrong_password``…)."""
    for guard in _DENIALS:
        if guard(facts):
            return guard.__name__
    return None
