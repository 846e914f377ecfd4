"""Named password policies.

- ``classic()``: the portals' rule (Sigma's, and ASP's by default): 8 characters, a lowercase
  letter, an uppercase letter and a digit, not the identifier, not a common password. It departs
  from NIST/ASVS on composition and length; ``deviations()`` says so.
- ``nist()``: NIST SP 800-63B-4: 15 characters, or 8 when the account has MFA; no composition;
  not the identifier; not a common password, even wrapped in digits or symbols.

Both cap length at 128 code points.
"""

from __future__ import annotations

from collections.abc import Callable

from credflow.policy.password import PasswordPolicy
from credflow.policy.rules import (
    Digit,
    Lowercase,
    MaxLength,
    MinLength,
    NotCommon,
    NotIdentifier,
    Uppercase,
)

__all__ = ["PRESETS", "classic", "nist"]


def classic() -> PasswordPolicy:
    """The portals' rule: ≥ 8, lowercase, uppercase, digit, not the identifier, not common."""
    return PasswordPolicy(
        [
            MaxLength(),
            MinLength(min=8),
            Lowercase(),
            Uppercase(),
            Digit(),
            NotIdentifier(),
            NotCommon(),
        ]
    )


def nist() -> PasswordPolicy:
    """NIST SP 800-63B-4: ≥ 15 (≥ 8 with MFA), no composition, not identifier, not common."""
    return PasswordPolicy(
        [
            MaxLength(),
            MinLength(min=15, min_with_mfa=8),
            NotIdentifier(),
            NotCommon(strip_affixes=True),
        ]
    )


PRESETS: dict[str, Callable[[], PasswordPolicy]] = {"classic": classic, "nist": nist}
