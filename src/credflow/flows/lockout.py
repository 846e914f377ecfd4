"""Lockout: consecutive failures lock an account; a wait, an unlock link, an administrator or
a completed password reset opens it again.

``locked`` waits out a growing delay; ``locked_until_unlocked`` needs an unlock. The hard cap of
100 consecutive failures always locks until unlocked (LK-01). Failures while locked are not
counted (LK-04); the service simply does not send them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from credflow.flows.machine import Machine, Transition

__all__ = ["HARD_CAP", "MACHINE", "LockoutEvent", "LockoutFacts", "LockoutState"]

HARD_CAP = 100


class LockoutState(StrEnum):
    OPEN = "open"
    LOCKED = "locked"
    LOCKED_UNTIL_UNLOCKED = "locked_until_unlocked"


class LockoutEvent(StrEnum):
    FAILURE = "failure"
    SUCCESS = "success"
    WAIT_ELAPSED = "wait_elapsed"
    UNLOCKED = "unlocked"
    RESET_COMPLETED = "reset_completed"


@dataclass(frozen=True, slots=True)
class LockoutFacts:
    """``failures``: the consecutive failures counted so far, this one included."""

    failures: int = 0
    threshold: int = 5
    until_unlocked: bool = False


def hard_cap_reached(f: LockoutFacts) -> bool:
    return f.failures >= HARD_CAP


def threshold_reached_until_unlocked(f: LockoutFacts) -> bool:
    return f.failures >= f.threshold and f.until_unlocked


def threshold_reached(f: LockoutFacts) -> bool:
    return f.failures >= f.threshold


S, E = LockoutState, LockoutEvent
MACHINE: Machine[LockoutState, LockoutEvent, LockoutFacts] = Machine(
    "lockout",
    LockoutState,
    LockoutEvent,
    [
        Transition(S.OPEN, E.FAILURE, S.LOCKED_UNTIL_UNLOCKED, hard_cap_reached),
        Transition(S.OPEN, E.FAILURE, S.LOCKED_UNTIL_UNLOCKED, threshold_reached_until_unlocked),
        Transition(S.OPEN, E.FAILURE, S.LOCKED, threshold_reached),
        Transition(S.OPEN, E.FAILURE, S.OPEN),
        Transition(S.OPEN, E.SUCCESS, S.OPEN),
        Transition(S.OPEN, E.UNLOCKED, S.OPEN),
        Transition(S.OPEN, E.RESET_COMPLETED, S.OPEN),
        Transition(S.LOCKED, E.WAIT_ELAPSED, S.OPEN),
        Transition(S.LOCKED, E.UNLOCKED, S.OPEN),
        Transition(S.LOCKED, E.RESET_COMPLETED, S.OPEN),
        Transition(S.LOCKED_UNTIL_UNLOCKED, E.UNLOCKED, S.OPEN),
        Transition(S.LOCKED_UNTIL_UNLOCKED, E.RESET_COMPLETED, S.OPEN),
    ],
    initial=[S.OPEN],
    terminal=[],
)
