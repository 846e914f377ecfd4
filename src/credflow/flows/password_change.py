"""Password change (Sigma's page, or from a session): one submission, changed or refused.

Refusal reasons are told apart for the person (the old password is wrong, the new one breaks a
rule, the confirmation differs), except that a locked account looks like a wrong password.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from credflow.flows.machine import Machine, Transition

__all__ = ["MACHINE", "PasswordChangeEvent", "PasswordChangeFacts", "PasswordChangeState"]


class PasswordChangeState(StrEnum):
    FORM = "form"
    CHANGED = "changed"
    REFUSED = "refused"


class PasswordChangeEvent(StrEnum):
    SUBMIT = "submit"


@dataclass(frozen=True, slots=True)
class PasswordChangeFacts:
    locked: bool = False
    old_ok: bool = False
    confirmed: bool = False
    policy_ok: bool = False
    differs: bool = False


def account_locked(f: PasswordChangeFacts) -> bool:
    return f.locked


def old_password_wrong(f: PasswordChangeFacts) -> bool:
    return not f.old_ok


def confirmation_differs(f: PasswordChangeFacts) -> bool:
    return not f.confirmed


def policy_not_met(f: PasswordChangeFacts) -> bool:
    return not f.policy_ok


def same_as_old(f: PasswordChangeFacts) -> bool:
    return not f.differs


REFUSALS = (account_locked, old_password_wrong, confirmation_differs, policy_not_met, same_as_old)

S, E = PasswordChangeState, PasswordChangeEvent
MACHINE: Machine[PasswordChangeState, PasswordChangeEvent, PasswordChangeFacts] = Machine(
    "password_change",
    PasswordChangeState,
    PasswordChangeEvent,
    [
        *(Transition(S.FORM, E.SUBMIT, S.REFUSED, guard) for guard in REFUSALS),
        Transition(S.FORM, E.SUBMIT, S.CHANGED),
    ],
    initial=[S.FORM],
    terminal=[S.CHANGED, S.REFUSED],
)
