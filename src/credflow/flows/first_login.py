"""First login (and any login with required actions): one restricted step per action.

The flow starts at the state of the first required action. Completing an action moves to the
next one, to ``completed`` when none is left, to ``mfa_required`` when none is left but the
account has a second factor, or to ``reauthenticate`` after a password change when the settings
send the person back to the login page (Sigma). No session exists until the flow completes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from credflow.flows.machine import Machine, Transition
from credflow.storage.records import RequiredAction

__all__ = ["ACTION_STATES", "MACHINE", "FirstLoginEvent", "FirstLoginFacts", "FirstLoginState"]


class FirstLoginState(StrEnum):
    CHANGE_PASSWORD = "change_password"
    ENROLL_SECURITY_QUESTION = "enroll_security_question"
    VERIFY_EMAIL = "verify_email"
    ENROLL_TOTP = "enroll_totp"
    COMPLETED = "completed"
    MFA_REQUIRED = "mfa_required"
    REAUTHENTICATE = "reauthenticate"
    EXPIRED = "expired"


class FirstLoginEvent(StrEnum):
    PASSWORD_CHANGED = "password_changed"
    QUESTION_ENROLLED = "question_enrolled"
    EMAIL_VERIFIED = "email_verified"
    TOTP_ENROLLED = "totp_enrolled"
    EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class FirstLoginFacts:
    """``remaining``: the actions still required after this one; ``reauthenticate``: send the
    person back to the login page now; ``second_factor``: the account has MFA, which a
    completed flow must still pass (required actions never skip it)."""

    remaining: tuple[RequiredAction, ...] = ()
    reauthenticate: bool = False
    second_factor: bool = False


S, E = FirstLoginState, FirstLoginEvent

ACTION_STATES: dict[RequiredAction, FirstLoginState] = {
    RequiredAction.CHANGE_PASSWORD: S.CHANGE_PASSWORD,
    RequiredAction.ENROLL_SECURITY_QUESTION: S.ENROLL_SECURITY_QUESTION,
    RequiredAction.VERIFY_EMAIL: S.VERIFY_EMAIL,
    RequiredAction.ENROLL_TOTP: S.ENROLL_TOTP,
}
_COMPLETES = {
    S.CHANGE_PASSWORD: E.PASSWORD_CHANGED,
    S.ENROLL_SECURITY_QUESTION: E.QUESTION_ENROLLED,
    S.VERIFY_EMAIL: E.EMAIL_VERIFIED,
    S.ENROLL_TOTP: E.TOTP_ENROLLED,
}


def reauthenticate(f: FirstLoginFacts) -> bool:
    return f.reauthenticate


def next_is_password(f: FirstLoginFacts) -> bool:
    return bool(f.remaining) and f.remaining[0] is RequiredAction.CHANGE_PASSWORD


def next_is_question(f: FirstLoginFacts) -> bool:
    return bool(f.remaining) and f.remaining[0] is RequiredAction.ENROLL_SECURITY_QUESTION


def next_is_email(f: FirstLoginFacts) -> bool:
    return bool(f.remaining) and f.remaining[0] is RequiredAction.VERIFY_EMAIL


def next_is_totp(f: FirstLoginFacts) -> bool:
    return bool(f.remaining) and f.remaining[0] is RequiredAction.ENROLL_TOTP


def second_factor_next(f: FirstLoginFacts) -> bool:
    return not f.remaining and f.second_factor


def nothing_left(f: FirstLoginFacts) -> bool:
    return not f.remaining


_ROUTES = (
    (S.REAUTHENTICATE, reauthenticate),
    (S.CHANGE_PASSWORD, next_is_password),
    (S.ENROLL_SECURITY_QUESTION, next_is_question),
    (S.VERIFY_EMAIL, next_is_email),
    (S.ENROLL_TOTP, next_is_totp),
    (S.MFA_REQUIRED, second_factor_next),
    (S.COMPLETED, nothing_left),
)


def _table() -> list[Transition[FirstLoginState, FirstLoginEvent, FirstLoginFacts]]:
    table = []
    for state, event in _COMPLETES.items():
        for target, guard in _ROUTES:
            if target is not state:
                table.append(Transition(state, event, target, guard))
        table.append(Transition(state, E.EXPIRE, S.EXPIRED))
    return table


MACHINE: Machine[FirstLoginState, FirstLoginEvent, FirstLoginFacts] = Machine(
    "first_login",
    FirstLoginState,
    FirstLoginEvent,
    _table(),
    initial=list(_COMPLETES),
    terminal=[S.COMPLETED, S.MFA_REQUIRED, S.REAUTHENTICATE, S.EXPIRED],
)
