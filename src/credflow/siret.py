"""French company registration numbers: SIREN (9 digits) and SIRET (14 digits).

A SIREN identifies a company; a SIRET is its SIREN followed by a 5-digit establishment number
(NIC). Both end in a Luhn check digit, and the SIREN inside a SIRET carries its own. La Poste is
the known exception: its establishments share the SIREN 356000000 and their SIRETs are checked by
"the sum of the digits is a multiple of 5" instead of Luhn (the head office, 35600000000048, still
passes Luhn). Certigna's form asks for the SIRET "sans aucun point, tiret, espace"; credflow also
accepts the spaces people copy from an extract ("123 456 789 00012") and stores the digits only.
"""

from __future__ import annotations

from credflow.errors import InvalidInput

__all__ = [
    "LA_POSTE_HEAD_OFFICE",
    "LA_POSTE_SIREN",
    "check_registration_number",
    "luhn_ok",
    "siren_ok",
    "siret_ok",
]

FIELD = "registration_number"
LA_POSTE_SIREN = "356000000"
LA_POSTE_HEAD_OFFICE = "35600000000048"
_SPACES = " \u00a0\u202f"  # space, no-break space, narrow no-break space (French grouping)
_MAX_INPUT = 64


def luhn_ok(digits: str) -> bool:
    """True when the ASCII digit string passes the Luhn check (ISO/IEC 7812-1)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def siren_ok(digits: str) -> bool:
    """True for 9 ASCII digits that pass the Luhn check."""
    return len(digits) == 9 and _ascii_digits(digits) and luhn_ok(digits)


def siret_ok(digits: str) -> bool:
    """True for 14 ASCII digits forming a valid SIRET: a valid SIREN, then Luhn over all 14
    digits, or, for La Poste's establishments, a digit sum that is a multiple of 5."""
    if len(digits) != 14 or not _ascii_digits(digits) or not siren_ok(digits[:9]):
        return False
    if digits.startswith(LA_POSTE_SIREN) and digits != LA_POSTE_HEAD_OFFICE:
        return sum(ord(c) - 48 for c in digits) % 5 == 0
    return luhn_ok(digits)


def check_registration_number(value: object, *, field: str = FIELD) -> str:
    """The normalised digits of a SIREN or a SIRET, or InvalidInput naming ``field``.

    Spaces (also no-break ones) are removed; anything else that is not an ASCII digit is refused.
    The messages tell a wrong length from a bad check digit, and never repeat the number.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"must be a str, not {type(value).__name__}", field=field)
    if len(value) > _MAX_INPUT:
        raise InvalidInput("too long for a SIREN or a SIRET", field=field)
    digits = "".join(c for c in value if c not in _SPACES)
    if not digits:
        raise InvalidInput("must not be empty", field=field)
    if not _ascii_digits(digits):
        raise InvalidInput("must contain only digits (spaces are allowed)", field=field)
    if len(digits) not in (9, 14):
        raise InvalidInput(
            f"must have 9 digits (SIREN) or 14 digits (SIRET), not {len(digits)}", field=field
        )
    if len(digits) == 9 and not siren_ok(digits):
        raise InvalidInput("not a valid SIREN: the check digit does not match", field=field)
    if len(digits) == 14 and not siret_ok(digits):
        raise InvalidInput("not a valid SIRET: the check digit does not match", field=field)
    return digits


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
