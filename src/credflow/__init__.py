"""credflow: sign-in policy for customer portals.

    from credflow import Credflow, Settings
    from credflow.storage.memory import MemoryStorage

    cf = Credflow(storage=MemoryStorage(), settings=Settings.classic(secret_key=KEY,
                  base_url="https://portal.example.fr"))

See ``credflow.policy`` for the password rules, and the docs for every flow.
"""

from __future__ import annotations

from credflow.clock import FrozenClock, SystemClock
from credflow.deviations import Deviation, StandardsDeviationWarning
from credflow.errors import (
    BreachCheckUnavailable,
    ConcurrentUpdate,
    ConfigurationError,
    CredflowError,
    DuplicateIdentifier,
    DuplicateMembership,
    DuplicateOrganisation,
    InsecureConfiguration,
    InvalidEmail,
    InvalidIdentifier,
    InvalidInput,
    InvalidTransition,
    MissingDependency,
    NotAuthorised,
    NotificationError,
    PasswordTooLong,
    PolicyViolation,
    StandardsConflictError,
    StorageError,
    StorageUnavailable,
    UnknownAccount,
    UnknownMembership,
    UnknownOrganisation,
    UnsupportedLocale,
)
from credflow.facade import Credflow
from credflow.messages import Messages, Plural
from credflow.notify import Message, Outbox
from credflow.policy import AnswerPolicy, PasswordPolicy, PolicyReport, normalize_answer
from credflow.results import (
    LoginResult,
    LoginStatus,
    MfaResult,
    MfaStatus,
    RecoveryResult,
    RecoveryStatus,
    Session,
    StepResult,
    StepStatus,
    VerificationResult,
    VerificationStatus,
)
from credflow.settings import Settings
from credflow.storage.records import AccountStatus, RequiredAction

__all__ = [
    "AccountStatus",
    "AnswerPolicy",
    "BreachCheckUnavailable",
    "ConcurrentUpdate",
    "ConfigurationError",
    "Credflow",
    "CredflowError",
    "Deviation",
    "DuplicateIdentifier",
    "DuplicateMembership",
    "DuplicateOrganisation",
    "FrozenClock",
    "InsecureConfiguration",
    "InvalidEmail",
    "InvalidIdentifier",
    "InvalidInput",
    "InvalidTransition",
    "LoginResult",
    "LoginStatus",
    "Message",
    "Messages",
    "MfaResult",
    "MfaStatus",
    "MissingDependency",
    "NotAuthorised",
    "NotificationError",
    "Outbox",
    "PasswordPolicy",
    "PasswordTooLong",
    "Plural",
    "PolicyReport",
    "PolicyViolation",
    "RecoveryResult",
    "RecoveryStatus",
    "RequiredAction",
    "Session",
    "Settings",
    "StandardsConflictError",
    "StandardsDeviationWarning",
    "StepResult",
    "StepStatus",
    "StorageError",
    "StorageUnavailable",
    "SystemClock",
    "UnknownAccount",
    "UnknownMembership",
    "UnknownOrganisation",
    "UnsupportedLocale",
    "VerificationResult",
    "VerificationStatus",
    "__version__",
    "normalize_answer",
]

__version__ = "0.1.0.dev0"
