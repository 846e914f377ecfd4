"""A membership's status in one organisation (DEFI, Certigna).

A person who asks to join starts ``pending_approval``; an administrator who adds someone starts
them ``active``. Administrators approve, deactivate (staff leaving, or a request refused) and
reactivate. No guard: the administrator's authority is checked by the service before it asks.
"""

from __future__ import annotations

from enum import StrEnum

from credflow.flows.machine import Machine, Transition
from credflow.storage.records import MembershipStatus

__all__ = ["MACHINE", "MembershipEvent"]


class MembershipEvent(StrEnum):
    APPROVE = "approve"
    DEACTIVATE = "deactivate"
    REACTIVATE = "reactivate"


S, E = MembershipStatus, MembershipEvent
MACHINE: Machine[MembershipStatus, MembershipEvent, None] = Machine(
    "membership",
    MembershipStatus,
    MembershipEvent,
    [
        Transition(S.PENDING_APPROVAL, E.APPROVE, S.ACTIVE),
        Transition(S.PENDING_APPROVAL, E.DEACTIVATE, S.DISABLED),
        Transition(S.ACTIVE, E.DEACTIVATE, S.DISABLED),
        Transition(S.DISABLED, E.REACTIVATE, S.ACTIVE),
    ],
    initial=[S.PENDING_APPROVAL, S.ACTIVE],
    terminal=[],
)
