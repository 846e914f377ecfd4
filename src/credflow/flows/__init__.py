"""Pure flow machines: states, events and transition tables as data; no I/O, no clock.

``diagram(name)`` draws a flow's table as Mermaid; the docs embed these diagrams and a test
checks that the embedded copies are current.
"""

from __future__ import annotations

from credflow.flows import (
    email_change,
    first_login,
    lockout,
    login,
    membership,
    mfa,
    password_change,
    recovery,
    registration,
)
from credflow.flows.machine import AnyMachine, Machine, Transition

__all__ = ["MACHINES", "Machine", "Transition", "diagram"]

MACHINES: dict[str, AnyMachine] = {
    "login": login.MACHINE,
    "first_login": first_login.MACHINE,
    "password_change": password_change.MACHINE,
    "lockout": lockout.MACHINE,
    "recovery": recovery.MACHINE,
    "registration": registration.MACHINE,
    "email_change": email_change.MACHINE,
    "membership": membership.MACHINE,
    "mfa": mfa.MACHINE,
}


def diagram(name: str) -> str:
    """The Mermaid ``stateDiagram-v2`` text of flow ``name``."""
    try:
        return MACHINES[name].mermaid()
    except KeyError:
        raise KeyError(f"unknown flow {name!r}; known: {', '.join(sorted(MACHINES))}") from None
