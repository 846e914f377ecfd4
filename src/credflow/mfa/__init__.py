"""Second factors (``cf.mfa``): TOTP apps, codes sent by SMS, and recovery codes.

- ``totp``: RFC 6238 through pyotp, the ``otpauth://`` URI and ``TotpSetup``;
- ``seeds``: TOTP secrets at rest, a stored seed and a key outside storage (OT-08);
- ``qr``: the QR code as SVG (segno, the ``qr`` extra);
- ``recovery_codes``: ten single-use codes of 80 bits, stored argon2id-hashed (RC-02);
- ``entry``: the shape checks of typed codes and phone numbers;
- ``factors``: which factors an account has;
- ``service``: ``MfaService``, wired by the facade as ``cf.mfa``, and its parts: ``verifier``
  (check a code, use it once), ``enrolment``, ``login_step``, ``removal``, ``sms``,
  ``notices`` (the mails), ``replies`` (results) and ``checks`` (``CodeCheck``).

This package imports no service eagerly, so the password and login modules can ask
``factors.has_confirmed_factor`` without an import cycle.
"""

from __future__ import annotations

from credflow.mfa.entry import EnteredCode, check_phone, parse_code
from credflow.mfa.factors import has_confirmed_factor
from credflow.mfa.totp import TotpSetup, check_issuer, otpauth_uri

__all__ = [
    "EnteredCode",
    "TotpSetup",
    "check_issuer",
    "check_phone",
    "has_confirmed_factor",
    "otpauth_uri",
    "parse_code",
]
