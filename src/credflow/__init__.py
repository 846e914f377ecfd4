"""credflow: sign-in policy for customer portals.

The policy engine is ready (``credflow.policy``); accounts, login, recovery and MFA follow.
"""

from __future__ import annotations

from credflow.deviations import Deviation, StandardsDeviationWarning
from credflow.errors import (
    BreachCheckUnavailable,
    ConfigurationError,
    CredflowError,
    InsecureConfiguration,
    MissingDependency,
    PolicyViolation,
    UnsupportedLocale,
)
from credflow.messages import Messages, Plural
from credflow.policy import AnswerPolicy, PasswordPolicy, PolicyReport, normalize_answer

__all__ = [
    "AnswerPolicy",
    "BreachCheckUnavailable",
    "ConfigurationError",
    "CredflowError",
    "Deviation",
    "InsecureConfiguration",
    "Messages",
    "MissingDependency",
    "PasswordPolicy",
    "Plural",
    "PolicyReport",
    "PolicyViolation",
    "StandardsDeviationWarning",
    "UnsupportedLocale",
    "__version__",
    "normalize_answer",
]

__version__ = "0.1.0.dev0"
