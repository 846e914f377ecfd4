"""Recovery: the configured steps, one state each, then a new password.

The steps come from ``RecoverySettings.steps`` (the human check is done before the flow starts).
A flow that mails a link ends in ``link_sent``: opening the link starts a new flow for the steps
after the link, the link itself being the proof of possession. Wrong answers and wrong codes
move back to the same state while attempts remain, then to ``failed``. ``support_required`` is
reached only when a question is due after the person has proven possession of the mailbox and
the account has none (ASP: contact support); before that, a missing question is a decoy.

An account with a confirmed second factor passes it in ``mfa`` after the last configured step,
*before* the new password is set (RS-13: a recovery never bypasses MFA): a TOTP code, an SMS
code or a recovery code; wrong codes move back to ``mfa`` while attempts remain, then to
``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from credflow.flows.machine import Machine, Transition

__all__ = ["MACHINE", "RecoveryEvent", "RecoveryFacts", "RecoveryState"]


class RecoveryState(StrEnum):
    QUESTION = "question"
    LINK_SENT = "link_sent"
    CODE_SENT = "code_sent"
    MFA = "mfa"
    NEW_PASSWORD = "new_password"
    COMPLETED = "completed"
    FAILED = "failed"
    SUPPORT_REQUIRED = "support_required"
    EXPIRED = "expired"


class RecoveryEvent(StrEnum):
    ANSWER_RIGHT = "answer_right"
    ANSWER_WRONG = "answer_wrong"
    NO_QUESTION = "no_question"
    LINK_OPENED = "link_opened"
    CODE_RIGHT = "code_right"
    CODE_WRONG = "code_wrong"
    MFA_RIGHT = "mfa_right"
    MFA_WRONG = "mfa_wrong"
    PASSWORD_SET = "password_set"
    EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class RecoveryFacts:
    """``next_step``: the configured step after this one (None when only the new password is
    left); ``attempts_left``: tries remaining after this wrong one; ``second_factor``: the
    account has a confirmed second factor, to pass before the new password."""

    next_step: str | None = None
    attempts_left: int = 0
    second_factor: bool = False


def next_is_question(f: RecoveryFacts) -> bool:
    return f.next_step == "security_question"


def next_is_link(f: RecoveryFacts) -> bool:
    return f.next_step == "email_link"


def next_is_code(f: RecoveryFacts) -> bool:
    return f.next_step == "email_code"


def second_factor_left(f: RecoveryFacts) -> bool:
    return f.next_step is None and f.second_factor


def nothing_left(f: RecoveryFacts) -> bool:
    return f.next_step is None


def attempts_left(f: RecoveryFacts) -> bool:
    return f.attempts_left > 0


S, E = RecoveryState, RecoveryEvent
_ROUTES = (
    (S.QUESTION, next_is_question),
    (S.LINK_SENT, next_is_link),
    (S.CODE_SENT, next_is_code),
    (S.MFA, second_factor_left),
    (S.NEW_PASSWORD, nothing_left),
)


def _table() -> list[Transition[RecoveryState, RecoveryEvent, RecoveryFacts]]:
    table: list[Transition[RecoveryState, RecoveryEvent, RecoveryFacts]] = []
    for state, event in (
        (S.QUESTION, E.ANSWER_RIGHT),
        (S.LINK_SENT, E.LINK_OPENED),
        (S.CODE_SENT, E.CODE_RIGHT),
    ):
        table += [Transition(state, event, target, guard) for target, guard in _ROUTES]
    table += [
        Transition(S.QUESTION, E.ANSWER_WRONG, S.QUESTION, attempts_left),
        Transition(S.QUESTION, E.ANSWER_WRONG, S.FAILED),
        Transition(S.QUESTION, E.NO_QUESTION, S.SUPPORT_REQUIRED),
        Transition(S.CODE_SENT, E.CODE_WRONG, S.CODE_SENT, attempts_left),
        Transition(S.CODE_SENT, E.CODE_WRONG, S.FAILED),
        Transition(S.MFA, E.MFA_RIGHT, S.NEW_PASSWORD),
        Transition(S.MFA, E.MFA_WRONG, S.MFA, attempts_left),
        Transition(S.MFA, E.MFA_WRONG, S.FAILED),
        Transition(S.NEW_PASSWORD, E.PASSWORD_SET, S.COMPLETED),
    ]
    table += [
        Transition(state, E.EXPIRE, S.EXPIRED)
        for state in (S.QUESTION, S.LINK_SENT, S.CODE_SENT, S.MFA, S.NEW_PASSWORD)
    ]
    return table


MACHINE: Machine[RecoveryState, RecoveryEvent, RecoveryFacts] = Machine(
    "recovery",
    RecoveryState,
    RecoveryEvent,
    _table(),
    initial=[S.QUESTION, S.LINK_SENT, S.CODE_SENT, S.MFA, S.NEW_PASSWORD],
    terminal=[S.COMPLETED, S.FAILED, S.SUPPORT_REQUIRED, S.EXPIRED],
)
