"""The policy engine: what a password or a security answer must look like, and why.

``PasswordPolicy.evaluate`` returns the live checklist (every rule, passed or not, localised);
``validate`` raises ``PolicyViolation`` with every failure; ``describe`` gives the sentences a
form shows. Presets live in ``credflow.policy.presets``; see ``docs/policy.md``.
"""

from __future__ import annotations

from pathlib import Path

from credflow.errors import ConfigurationError
from credflow.messages import Messages
from credflow.policy import presets
from credflow.policy.answers import AnswerPolicy, normalize_answer
from credflow.policy.breach import (
    BreachChecker,
    RangeBreachChecker,
    http_range_source,
    offline_range_source,
)
from credflow.policy.config import policy_section, read_document
from credflow.policy.password import PasswordPolicy, PolicyDescription
from credflow.policy.report import PolicyReport, RuleResult, RuleStatus
from credflow.policy.rules import (
    MAX_PASSWORD_LENGTH,
    Digit,
    History,
    HistoryChecker,
    Lowercase,
    MaxLength,
    MinLength,
    MinStrength,
    NoSequence,
    NotBreached,
    NotCommon,
    NotIdentifier,
    PolicyContext,
    Rule,
    Special,
    Uppercase,
)

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "AnswerPolicy",
    "BreachChecker",
    "Digit",
    "History",
    "HistoryChecker",
    "Lowercase",
    "MaxLength",
    "MinLength",
    "MinStrength",
    "NoSequence",
    "NotBreached",
    "NotCommon",
    "NotIdentifier",
    "PasswordPolicy",
    "PolicyContext",
    "PolicyDescription",
    "PolicyReport",
    "RangeBreachChecker",
    "Rule",
    "RuleResult",
    "RuleStatus",
    "Special",
    "Uppercase",
    "http_range_source",
    "load_answer_policy",
    "load_policy",
    "normalize_answer",
    "offline_range_source",
    "presets",
]


def load_policy(path: str | Path, *, messages: Messages | None = None) -> PasswordPolicy:
    """Load a password policy from a ``.toml`` or ``.json`` file.

    A portal file keeps it in a ``password_policy`` table; a bare policy file works too.
    """
    return PasswordPolicy.from_dict(policy_section(read_document(path)), messages=messages)


def load_answer_policy(path: str | Path) -> AnswerPolicy:
    """Load the ``answer_policy`` table of a ``.toml`` or ``.json`` portal file.

    A file without that table gives the default answer policy.
    """
    section = read_document(path).get("answer_policy", {})
    if not isinstance(section, dict):
        raise ConfigurationError("must be a table", field="answer_policy")
    return AnswerPolicy.from_dict(section)
