"""Exceptions raised by credflow.

Expected outcomes (a wrong password, an expired link, a rule not met during ``evaluate``) are
returned as values. Exceptions are for misuse of the API, bad configuration, and input that the
caller asked credflow to enforce (``validate``)::

    CredflowError                    base class, never raised itself
    ├── ConfigurationError           bad settings or policy config (also a ValueError)
    │   ├── InsecureConfiguration    parameters below the security floor
    │   └── MissingDependency        an optional extra is not installed (also an ImportError)
    ├── UnsupportedLocale            no message catalogue for the locale (also a ValueError)
    ├── BreachCheckUnavailable       the breached-password source could not answer
    └── PolicyViolation              a candidate failed one or more rules; carries them all

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
    "ConfigurationError",
    "CredflowError",
    "InsecureConfiguration",
    "MissingDependency",
    "PolicyViolation",
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


class MissingDependency(ConfigurationError, ImportError):
    """A feature needs an optional extra, e.g. ``pip install credflow[zxcvbn]``."""

    def __init__(self, feature: str, extra: str) -> None:
        self.extra = extra
        super().__init__(
            f"{feature} needs the optional dependency: pip install 'credflow[{extra}]'"
        )


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
