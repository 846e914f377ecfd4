"""Email change (Sage): the new address is applied only once the code mailed to it is right.

The table is registration's (``flows.registration``): ``verified`` means the new address is
confirmed and applied; ``taken`` that, with unique emails, another account holds it (the old
address stays).
"""

from __future__ import annotations

from credflow.flows.machine import Machine
from credflow.flows.registration import TERMINAL, CodeEvent, CodeFacts, CodeState, table

__all__ = ["MACHINE"]

MACHINE: Machine[CodeState, CodeEvent, CodeFacts] = Machine(
    "email_change",
    CodeState,
    CodeEvent,
    table(),
    initial=[CodeState.CODE_SENT],
    terminal=TERMINAL,
)
