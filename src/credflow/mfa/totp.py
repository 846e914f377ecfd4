"""TOTP maths (RFC 6238 through pyotp), the ``otpauth://`` URI, and ``TotpSetup``.

The parameters are the authenticator apps' defaults, fixed on purpose: a 160-bit secret (32
base32 characters, OT-01; ``cf.mfa`` derives it from a stored seed, see ``seeds``), 30-second
steps, 6 digits and
HMAC-SHA-1 (OT-02; SHA-1 stays for interoperability: every app reads it, few read anything
else). A code is accepted for the current step T or the one before, never T+1 (OT-03); the
strict window (``settings.mfa.totp_window = "current"``, ASVS 5.0 §6.5.5) accepts T only. Time
always comes from the injected clock as an integer, never from the caller (OT-07).
"""

from __future__ import annotations

import hmac
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import quote

import pyotp

from credflow.errors import InvalidInput
from credflow.results import MfaStatus

__all__ = [
    "DIGITS",
    "MAX_ISSUER_LENGTH",
    "PERIOD",
    "SECRET_LENGTH",
    "WINDOWS",
    "TotpSetup",
    "check_issuer",
    "code_at",
    "matching_step",
    "new_secret",
    "otpauth_uri",
    "step_at",
]

SECRET_LENGTH = 32
"""Base32 characters in a secret: 32 × 5 = 160 bits (RFC 4226's recommendation)."""
PERIOD = 30
DIGITS = 6
MAX_ISSUER_LENGTH = 64
WINDOWS: dict[str, tuple[int, ...]] = {"previous_and_current": (0, -1), "current": (0,)}
"""The steps tried, relative to the current one, per ``settings.mfa.totp_window``: T, then T-1
(RFC 6238 §5.2's one step of network delay), or T alone. Never T+1: a code from the future is
refused."""


def new_secret() -> str:
    """A fresh 160-bit secret in base32, from ``secrets`` (pyotp uses ``SystemRandom``)."""
    return pyotp.random_base32(SECRET_LENGTH)


def step_at(timestamp: float) -> int:
    """The 30-second step (RFC 6238's T) of a Unix time: ``floor(t / 30)``."""
    return int(timestamp) // PERIOD


def code_at(secret: str, step: int) -> str:
    """The 6-digit code of ``secret`` for ``step``."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).generate_otp(step)


def matching_step(
    secret: str, code: str, now_step: int, *, window: str = "previous_and_current"
) -> int | None:
    """The step of the ``window`` ({T, T-1}, or {T} for ``"current"``) whose code is ``code``,
    or None. Compared in constant time."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    for offset in WINDOWS[window]:
        step = now_step + offset
        if step >= 0 and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def check_issuer(issuer: object) -> str:
    """``issuer`` when it can name the service in an app, else InvalidInput(field="issuer").

    Not empty or blank, at most 64 characters, no ``:`` (the label separator of the URI) and no
    control or invisible character.
    """
    if not isinstance(issuer, str):
        raise InvalidInput(f"must be a str, not {type(issuer).__name__}", field="issuer")
    if not issuer.strip():
        raise InvalidInput("must not be empty", field="issuer")
    if len(issuer) > MAX_ISSUER_LENGTH:
        raise InvalidInput(f"longer than {MAX_ISSUER_LENGTH} characters", field="issuer")
    if ":" in issuer:
        raise InvalidInput("must not contain ':'", field="issuer")
    if any(unicodedata.category(c)[0] in "CZ" and c != " " for c in issuer):
        raise InvalidInput("must not contain control or invisible characters", field="issuer")
    return issuer


def otpauth_uri(secret: str, *, issuer: str, account_name: str) -> str:
    """The ``otpauth://totp/ISSUER:NAME?secret=…&issuer=…`` URI an app scans.

    Both label parts and the issuer parameter are percent-encoded in full (a space is ``%20``,
    never ``+``; a ``:`` or ``/`` in the account name is encoded), and the parameters are all
    spelled out, so every app reads the same thing.
    """
    label = f"{quote(issuer, safe='')}:{quote(account_name, safe='')}"
    query = (
        f"secret={secret}&issuer={quote(issuer, safe='')}"
        f"&algorithm=SHA1&digits={DIGITS}&period={PERIOD}"
    )
    return f"otpauth://totp/{label}?{query}"


@dataclass(frozen=True, slots=True)
class TotpSetup:
    """A TOTP enrolment in progress, or why it could not start.

    When ``ok``, ``secret`` (to type by hand) and ``uri`` (to scan) are set; both hold the
    secret and stay out of ``repr``. ``svg()`` draws ``uri`` as a QR code (``credflow[qr]``).
    The factor counts only once ``confirm_totp`` has checked a first code.
    """

    status: MfaStatus
    code: str
    message: str
    secret: str | None = field(default=None, repr=False)
    uri: str | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when a secret was made and stored, waiting for its first code."""
        return self.status is MfaStatus.NEXT

    def svg(self, *, scale: int = 4) -> str:
        """The QR code of ``uri`` as an SVG document (needs segno: ``credflow[qr]``)."""
        if self.uri is None:
            raise InvalidInput("no TOTP setup to draw: the enrolment did not start", field="uri")
        from credflow.mfa.qr import svg

        return svg(self.uri, scale=scale)
