"""What a person types at a second-factor prompt, checked for shape before anything is read.

``parse_code`` tells a digit code (TOTP, or a code sent by SMS) from a recovery code by its
shape alone; anything else raises ``InvalidInput(field="code")`` without repeating the value.
``check_phone`` accepts E.164-style numbers only.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

from credflow.errors import InvalidInput
from credflow.mfa import recovery_codes

__all__ = ["EnteredCode", "check_phone", "parse_code"]

_PHONE = re.compile(r"\+[1-9][0-9]{7,14}")
_SEPARATORS = str.maketrans("", "", " .-()")
_MAX_INPUT = 64


@dataclass(frozen=True, slots=True)
class EnteredCode:
    """A typed code, normalised: ``digits`` (TOTP or SMS) or ``recovery`` (compact form)."""

    kind: Literal["digits", "recovery"]
    value: str = field(repr=False)


def parse_code(
    code: object, *, digits: Collection[int] = (6,), recovery: bool = True
) -> EnteredCode:
    """Normalise ``code``: digits of one of the ``digits`` lengths (spaces allowed, as apps
    show ``123 456``), or, when ``recovery``, a recovery code (spaces, dashes, any case).
    Anything else raises InvalidInput(field="code")."""
    if not isinstance(code, str):
        raise InvalidInput(f"must be a str, not {type(code).__name__}", field="code")
    text = code.strip()
    if len(text) > _MAX_INPUT:
        raise InvalidInput("too long to be a code", field="code")
    compact = text.replace(" ", "")
    if compact.isascii() and compact.isdigit():
        if len(compact) in digits:
            return EnteredCode("digits", compact)
        lengths = " or ".join(str(n) for n in sorted(set(digits)))
        raise InvalidInput(f"must be {lengths} digits", field="code")
    found = recovery_codes.normalise(text) if recovery else None
    if found is None:
        lengths = " or ".join(str(n) for n in sorted(set(digits)))
        also = f", or a recovery code of {recovery_codes.LENGTH} characters" if recovery else ""
        raise InvalidInput(f"must be {lengths} digits{also}", field="code")
    return EnteredCode("recovery", found)


def check_phone(phone: object) -> str:
    """``phone`` in E.164 form (``+33612345678``): a ``+``, then 8 to 15 digits, the first not
    0. Spaces, dots, dashes and brackets between digits are dropped. Else InvalidInput."""
    if not isinstance(phone, str):
        raise InvalidInput(f"must be a str, not {type(phone).__name__}", field="phone")
    compact = phone.strip().translate(_SEPARATORS)
    if not compact.isascii() or not _PHONE.fullmatch(compact):
        raise InvalidInput("must be '+' then 8 to 15 digits (E.164)", field="phone")
    return compact
