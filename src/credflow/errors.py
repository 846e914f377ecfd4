"""Exceptions raised by credflow.

Expected outcomes (a wrong password, an expired link, a rule not met during ``evaluate``) are
returned as values. Exceptions are for misuse of the API, bad configuration, and input that the
caller asked credflow to enforce (``validate``)::

    CredflowError                    base class, never raised itself
    ├── ConfigurationError           bad settings or policy config (also a ValueError)
    │   ├── InsecureConfiguration    parameters below the security floor
    │   ├── StandardsConflictError   a setting the chosen preset forbids, without the override
    │   └── MissingDependency        an optional extra is not installed (also an ImportError)
    ├── InvalidInput                 a malformed argument (also a ValueError); names the field
    │   ├── InvalidIdentifier        empty, too long, or control characters
    │   ├── InvalidEmail             not an address
    │   └── PasswordTooLong          over 128 code points, refused before any hashing
    ├── UnknownAccount               no account with that id (also a LookupError)
    ├── UnknownOrganisation          no organisation with that id (also a LookupError)
    ├── UnknownMembership            the account does not belong to it (also a LookupError)
    ├── NotAuthorised                the acting account may not do that (also a PermissionError)
    ├── UnsupportedLocale            no message catalogue for the locale (also a ValueError)
    ├── BreachCheckUnavailable       the breached-password source could not answer
    ├── PolicyViolation              a candidate failed one or more rules; carries them all
    ├── InvalidTransition            an event a flow's state does not accept (a misuse)
    ├── NotificationError            a notifier could not deliver a message; ``__cause__`` tells why
    └── StorageError                 the storage adapter could not do what was asked
        ├── StorageUnavailable       the database is down or unreachable; ``__cause__`` tells why
        ├── DuplicateIdentifier      the identifier (case-insensitively) is taken
        ├── DuplicateOrganisation    the organisation id or registration number is taken
        ├── DuplicateMembership      the account already belongs to the organisation
        └── ConcurrentUpdate         a compare-and-set lost: someone else changed the record

No exception message ever contains a secret (password, answer, token, code): messages name the
field and the rule, never the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from credflow.policy.report import RuleResult

__all__ = [
    "BreachCheckUnavailable",
    "ConcurrentUpdate",
    "ConfigurationError",
    "CredflowError",
    "DuplicateIdentifier",
    "DuplicateMembership",
    "DuplicateOrganisation",
    "InsecureConfiguration",
    "InvalidEmail",
    "InvalidIdentifier",
    "InvalidInput",
    "InvalidTransition",
    "MissingDependency",
    "NotAuthorised",
    "NotificationError",
    "PasswordTooLong",
    "PolicyViolation",
    "StandardsConflictError",
    "StorageError",
    "StorageUnavailable",
    "UnknownAccount",
    "UnknownMembership",
    "UnknownOrganisation",
    "UnsupportedLocale",
]


class CredflowError(Exception):
    """Base class of every credflow exception. It is never raised itself."""


class ConfigurationError(CredflowError, ValueError):
    """A setting or a policy configuration is invalid.

    ``field`` names the offending field as a dotted path (``rules[2].min``) when one is known.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class InsecureConfiguration(ConfigurationError):
    """Parameters fall below a security floor that only an explicit testing profile may cross."""


class StandardsConflictError(ConfigurationError):
    """A setting conflicts with the standards preset and no explicit override was given."""


class MissingDependency(ConfigurationError, ImportError):
    """A feature needs an optional extra, e.g. ``pip install credflow[zxcvbn]``."""

    def __init__(self, feature: str, extra: str) -> None:
        self.extra = extra
        super().__init__(
            f"{feature} needs the optional dependency: pip install 'credflow[{extra}]'"
        )


class InvalidInput(CredflowError, ValueError):
    """An argument is malformed. ``field`` names it; the message never repeats a secret."""

    def __init__(self, message: str, *, field: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")

    @property
    def code(self) -> str:
        """A stable message code for the page: ``invalid.<field>``; ``Messages.render_error``
        turns it into a sentence in the person's language."""
        return f"invalid.{self.field}"


class InvalidIdentifier(InvalidInput):
    """An identifier is empty, longer than 254 characters, or holds control characters."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="identifier")


class InvalidEmail(InvalidInput):
    """An email address is malformed."""

    def __init__(self, message: str, *, field: str = "email") -> None:
        super().__init__(message, field=field)


class PasswordTooLong(InvalidInput):
    """A password exceeds the cap; it is refused before any hashing (PW-03)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"longer than {limit} code points", field="password")


class UnknownAccount(CredflowError, LookupError):
    """No account has that id. Raised to administrators and services, never to end users."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        super().__init__(f"no account with id {account_id!r}")


class UnknownOrganisation(CredflowError, LookupError):
    """No organisation has that id."""

    def __init__(self, organisation_id: str) -> None:
        self.organisation_id = organisation_id
        super().__init__(f"no organisation with id {organisation_id!r}")


class UnknownMembership(CredflowError, LookupError):
    """The account does not belong to the organisation (not even pending)."""

    def __init__(self, account_id: str, organisation_id: str) -> None:
        self.account_id = account_id
        self.organisation_id = organisation_id
        super().__init__(f"account {account_id!r} is not a member of {organisation_id!r}")


class NotAuthorised(CredflowError, PermissionError):
    """The acting account may not perform the operation (it is not an active administrator of
    the organisation, for instance). Nothing was changed."""


class UnsupportedLocale(CredflowError, ValueError):
    """No message catalogue exists for the requested locale."""

    def __init__(self, locale: str, available: Sequence[str]) -> None:
        self.locale = locale
        self.available = tuple(available)
        super().__init__(f"unsupported locale {locale!r}; available: {', '.join(self.available)}")


class BreachCheckUnavailable(CredflowError):
    """A breached-password checker could not answer (network error, missing range file).

    The ``not_breached`` rule turns it into a skip (fail open) or a failure (fail closed).
    """


class PolicyViolation(CredflowError):
    """A candidate password or answer failed the policy.

    ``failures`` holds every failed rule result at once (never only the first), so a form can
    show all problems together. The candidate itself is never stored here.
    """

    def __init__(self, failures: Sequence[RuleResult]) -> None:
        self.failures: tuple[RuleResult, ...] = tuple(failures)
        super().__init__("policy not met: " + ", ".join(self.codes))

    @property
    def codes(self) -> tuple[str, ...]:
        """The stable codes of the failed rules, in policy order."""
        return tuple(result.code for result in self.failures)


class InvalidTransition(CredflowError):
    """A flow was asked to handle an event its current state does not accept."""

    def __init__(self, flow: str, state: str, event: str) -> None:
        self.flow, self.state, self.event = flow, state, event
        super().__init__(f"flow {flow!r}: no transition from {state!r} on {event!r}")


class NotificationError(CredflowError):
    """A notifier could not deliver a message (SMTP server down, refused, bad template).

    The original error, when there is one, is chained as ``__cause__``. The message names the
    message kind and what failed, never a parameter value or a server password.
    """


class StorageError(CredflowError):
    """The storage adapter could not complete an operation."""


class StorageUnavailable(StorageError):
    """The database is down or unreachable. The original error is chained as ``__cause__``."""


class DuplicateIdentifier(StorageError):
    """An account with the same identifier (compared case-insensitively) already exists."""


class DuplicateOrganisation(StorageError):
    """An organisation with that id or registration number already exists."""


class DuplicateMembership(StorageError):
    """The account already belongs to that organisation."""


class ConcurrentUpdate(StorageError):
    """A compare-and-set failed: the record changed since it was read."""
