"""Numeric one-time codes (email verification, email change, recovery by code).

A code is drawn with ``secrets`` (EV-01), checked for shape before anything is read or written
(digits only, the configured length: else ``InvalidInput(field="code")``), and stored only as an
HMAC-SHA-256 under the settings key (EV-07). The HMAC binds the code to the flow it was issued
in (the SHA-256 of the flow handle) and, when given, to what it proves (an address): a code
never verifies another flow or another address (EV-04), and a leaked database holds nothing
that can be tried offline without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from credflow.errors import InvalidInput

__all__ = ["check_code", "code_hash", "code_matches", "new_code"]

MIN_DIGITS = 6
MAX_DIGITS = 10


def new_code(digits: int) -> str:
    """A uniform random code of ``digits`` decimal digits (leading zeros kept)."""
    if not MIN_DIGITS <= digits <= MAX_DIGITS:
        raise ValueError(f"codes have between {MIN_DIGITS} and {MAX_DIGITS} digits")
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def check_code(code: object, digits: int) -> str:
    """``code`` without surrounding spaces, when it is ``digits`` ASCII digits; else raise
    ``InvalidInput(field="code")`` (the message never repeats the value)."""
    if not isinstance(code, str):
        raise InvalidInput(f"must be a str, not {type(code).__name__}", field="code")
    text = code.strip()
    if len(text) != digits or not (text.isascii() and text.isdigit()):
        raise InvalidInput(f"must be {digits} digits", field="code")
    return text


def code_hash(key: bytes, handle_hash: str, code: str, *, bound_to: str = "") -> str:
    """The HMAC-SHA-256 (hex) stored for ``code`` issued in the flow ``handle_hash``.

    ``bound_to`` adds what the code proves (an email key), in its own field, so the same code
    in the same flow does not verify another address.
    """
    fields = f"{handle_hash}:{code}" if not bound_to else f"{bound_to}\0{handle_hash}:{code}"
    return hmac.new(key, f"credflow.code:{fields}".encode(), hashlib.sha256).hexdigest()


def code_matches(
    stored: str, key: bytes, handle_hash: str, code: str, *, bound_to: str = ""
) -> bool:
    """True when ``code`` is the one ``stored`` was made from (constant-time compare)."""
    expected = code_hash(key, handle_hash, code, bound_to=bound_to)
    return bool(stored) and hmac.compare_digest(stored, expected)
