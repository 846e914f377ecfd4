"""The second factor of a login: the ``mfa`` flow opened when a password was right and the
account has a confirmed factor.

A right code (TOTP, SMS or recovery code, never used before) completes the login; a wrong one
leaves the flow ``pending`` for another try, unless it was the failure that locked the account,
which ends the flow in ``locked``. Sending an SMS code keeps the flow ``pending``. ``expire`` ends
a flow that outlived its lifetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from credflow.flows.machine import Machine, Transition

__all__ = ["MACHINE", "MfaEvent", "MfaFacts", "MfaState"]


class MfaState(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    LOCKED = "locked"
    EXPIRED = "expired"


class MfaEvent(StrEnum):
    CODE_RIGHT = "code_right"
    CODE_WRONG = "code_wrong"
    CODE_SENT = "code_sent"
    EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class MfaFacts:
    """``locked_now``: the wrong code just locked the account."""

    locked_now: bool = False


def locked_now(f: MfaFacts) -> bool:
    return f.locked_now


S, E = MfaState, MfaEvent

MACHINE: Machine[MfaState, MfaEvent, MfaFacts] = Machine(
    "mfa",
    MfaState,
    MfaEvent,
    [
        Transition(S.PENDING, E.CODE_RIGHT, S.COMPLETED),
        Transition(S.PENDING, E.CODE_WRONG, S.LOCKED, locked_now),
        Transition(S.PENDING, E.CODE_WRONG, S.PENDING),
        Transition(S.PENDING, E.CODE_SENT, S.PENDING),
        Transition(S.PENDING, E.EXPIRE, S.EXPIRED),
    ],
    initial=[S.PENDING],
    terminal=(S.COMPLETED, S.LOCKED, S.EXPIRED),
)
