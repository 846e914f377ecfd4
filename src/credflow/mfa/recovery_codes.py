"""MFA recovery codes: ten single-use codes of 80 random bits, shown once, stored argon2id-hashed.

A code is 16 base32 characters (A–Z, 2–7: no 0/O or 1/I to confuse), shown as four groups of
four (``ABCD-EFGH-JKLM-NPQR``). What the person types is normalised (spaces and dashes
dropped, upper case) before anything else, so ``abcd efgh jklm npqr`` works too.

Storage keeps, per code, a *selector* (its first 4 characters, to find it) and the hasher's
argon2id PHC string of the whole code (RC-02: codes under 112 bits are hashed like passwords).
The selector gives away 20 of the 80 bits; the 60 left stay behind argon2id. A set never holds
two codes with one selector, so checking a code is one lookup and one verify; a code whose
selector matches nothing costs one dummy verify instead, the same work. Hashing a new set costs
ten hashes: about a second with the production profile, once per set.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from credflow.hashing import Hasher
from credflow.storage.protocols import Storage
from credflow.storage.records import RecoveryCode

__all__ = [
    "ALPHABET",
    "BITS",
    "LENGTH",
    "SELECTOR_LENGTH",
    "NewSet",
    "format_code",
    "generate",
    "match",
    "new_set",
    "normalise",
    "selector",
]

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
LENGTH = 16
BITS = LENGTH * 5
"""80 bits of entropy per code (RC-01)."""
GROUP = 4
SELECTOR_LENGTH = 4
"""Characters of a code kept in clear to find it (20 bits)."""


def generate(count: int) -> list[str]:
    """``count`` distinct codes (compact form), from ``secrets``, no two with one selector."""
    if not 1 <= count <= 100:
        raise ValueError("count must be between 1 and 100")
    codes: dict[str, str] = {}
    while len(codes) < count:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        codes.setdefault(selector(code), code)
    return sorted(codes.values())


def format_code(compact: str) -> str:
    """``ABCDEFGHJKLMNPQR`` → ``ABCD-EFGH-JKLM-NPQR``, the form shown to the person."""
    return "-".join(compact[i : i + GROUP] for i in range(0, len(compact), GROUP))


def normalise(text: str) -> str | None:
    """The compact form of a typed code, or None when it cannot be a recovery code."""
    compact = text.replace(" ", "").replace("-", "").upper()
    if len(compact) != LENGTH or not all(c in ALPHABET for c in compact):
        return None
    return compact


def selector(compact: str) -> str:
    """The part of a compact code stored in clear to find it."""
    return compact[:SELECTOR_LENGTH]


@dataclass(frozen=True, slots=True)
class NewSet:
    """A new set: the codes to show once (formatted) and their storage records."""

    shown: tuple[str, ...] = field(repr=False)
    records: tuple[RecoveryCode, ...] = field(repr=False)


def new_set(account_id: str, count: int, hasher: Hasher, now: datetime) -> NewSet:
    """``count`` new codes for the account, hashed (``count`` argon2id hashes)."""
    codes = generate(count)
    records = tuple(
        RecoveryCode(
            account_id=account_id,
            selector=selector(code),
            code_hash=hasher.hash_code(code),
            created_at=now,
        )
        for code in codes
    )
    return NewSet(tuple(format_code(c) for c in codes), records)


def match(storage: Storage, hasher: Hasher, account_id: str, compact: str) -> str | None:
    """The stored hash of the account's *unused* code ``compact``, or None. One argon2id verify
    per code with its selector (one in a set made here); a dummy verify when there is none."""
    candidates = storage.recovery_codes(account_id, selector(compact))
    for candidate in candidates:
        if hasher.verify(candidate.code_hash, compact).ok:
            return candidate.code_hash
    if not candidates:
        hasher.dummy_verify(compact)
    return None
