"""``CodeCheck``: what a typed second-factor code matched, before anything is written."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RECOVERY_CODE", "CodeCheck"]

RECOVERY_CODE = "recovery_code"


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """What a typed code matched, before anything is written.

    ``method`` is ``totp``, ``sms`` or ``recovery_code``. ``matched`` says the code is right
    (for a recovery code: an unused code of the account, which only ``consume`` can still find
    used meanwhile). ``step`` is the TOTP step it matched; ``digest`` the recovery code's
    stored hash; ``expired`` marks a right SMS code past its lifetime; ``burned`` an SMS code
    out of tries; ``key_unknown`` a TOTP whose key is no longer in the settings;
    ``fallback_key`` a TOTP matched under a fallback key.
    """

    method: str
    matched: bool
    step: int | None = None
    digest: str | None = field(default=None, repr=False)
    expired: bool = False
    burned: bool = False
    key_unknown: bool = False
    fallback_key: bool = False
