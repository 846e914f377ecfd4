"""Registration (Sage): an account waits in ``code_sent`` until the mailed code confirms its
address.

A right code verifies the address, unless (unique emails) another account took the address
meanwhile: then the flow ends in ``taken``. A wrong code moves back to ``code_sent`` while tries
remain, then to ``failed``; an expired code stays in ``code_sent`` (a resend is offered), and a
resend stays there with a new code. ``expire`` ends the flow when the flow itself, or the
unverified account, has lived too long. The same table drives the email change
(``flows.email_change``), whose code confirms the new address.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from credflow.flows.machine import Machine, Transition

__all__ = ["MACHINE", "TERMINAL", "CodeEvent", "CodeFacts", "CodeState", "table"]


class CodeState(StrEnum):
    CODE_SENT = "code_sent"
    VERIFIED = "verified"
    TAKEN = "taken"
    FAILED = "failed"
    EXPIRED = "expired"


class CodeEvent(StrEnum):
    CODE_RIGHT = "code_right"
    CODE_WRONG = "code_wrong"
    CODE_EXPIRED = "code_expired"
    RESEND = "resend"
    EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class CodeFacts:
    """``attempts_left``: tries remaining after this wrong code; ``address_free``: no other
    account holds the address (always true unless emails must be unique)."""

    attempts_left: int = 0
    address_free: bool = True


def address_free(f: CodeFacts) -> bool:
    return f.address_free


def attempts_left(f: CodeFacts) -> bool:
    return f.attempts_left > 0


S, E = CodeState, CodeEvent
TERMINAL = (S.VERIFIED, S.TAKEN, S.FAILED, S.EXPIRED)


def table() -> list[Transition[CodeState, CodeEvent, CodeFacts]]:
    """The transitions shared by registration and email change."""
    return [
        Transition(S.CODE_SENT, E.CODE_RIGHT, S.VERIFIED, address_free),
        Transition(S.CODE_SENT, E.CODE_RIGHT, S.TAKEN),
        Transition(S.CODE_SENT, E.CODE_WRONG, S.CODE_SENT, attempts_left),
        Transition(S.CODE_SENT, E.CODE_WRONG, S.FAILED),
        Transition(S.CODE_SENT, E.CODE_EXPIRED, S.CODE_SENT),
        Transition(S.CODE_SENT, E.RESEND, S.CODE_SENT),
        Transition(S.CODE_SENT, E.EXPIRE, S.EXPIRED),
    ]


MACHINE: Machine[CodeState, CodeEvent, CodeFacts] = Machine(
    "registration", CodeState, CodeEvent, table(), initial=[S.CODE_SENT], terminal=TERMINAL
)
