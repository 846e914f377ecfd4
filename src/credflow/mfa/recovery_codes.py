"""MFA recovery codes: ten single-use codes of 80 random bits, shown once, stored hashed.

A code is 16 base32 characters (A–Z, 2–7: no 0/O or 1/I to confuse), shown as four groups of
four (``ABCD-EFGH-JKLM-NPQR``). What the person types is normalised (spaces and dashes
dropped, upper case) before it is hashed, so ``abcd efgh jklm npqr`` works too.

Storage keeps ``SHA-256("credflow.recovery-code:" + account id + ":" + code)``: the account id
salts the hash, so a stolen table must be attacked one account at a time (2^80 / 10 guesses
each). Checking a code is one lookup by its hash, never ten slow verifies.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from credflow.storage.records import RecoveryCode

__all__ = ["ALPHABET", "BITS", "LENGTH", "code_hash", "format_code", "generate", "records"]

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
LENGTH = 16
BITS = LENGTH * 5
"""80 bits of entropy per code (RC-01)."""
GROUP = 4


def generate(count: int) -> list[str]:
    """``count`` distinct codes (compact form), from ``secrets``."""
    if not 1 <= count <= 100:
        raise ValueError("count must be between 1 and 100")
    codes: set[str] = set()
    while len(codes) < count:
        codes.add("".join(secrets.choice(ALPHABET) for _ in range(LENGTH)))
    return sorted(codes)


def format_code(compact: str) -> str:
    """``ABCDEFGHJKLMNPQR`` → ``ABCD-EFGH-JKLM-NPQR``, the form shown to the person."""
    return "-".join(compact[i : i + GROUP] for i in range(0, len(compact), GROUP))


def normalise(text: str) -> str | None:
    """The compact form of a typed code, or None when it cannot be a recovery code."""
    compact = text.replace(" ", "").replace("-", "").upper()
    if len(compact) != LENGTH or not all(c in ALPHABET for c in compact):
        return None
    return compact


def code_hash(account_id: str, compact: str) -> str:
    """The stored SHA-256 (hex) of a compact code, salted by the account id."""
    return hashlib.sha256(f"credflow.recovery-code:{account_id}:{compact}".encode()).hexdigest()


def records(account_id: str, codes: list[str], now: datetime) -> list[RecoveryCode]:
    """The storage records of a new set."""
    return [
        RecoveryCode(account_id=account_id, code_hash=code_hash(account_id, c), created_at=now)
        for c in codes
    ]
