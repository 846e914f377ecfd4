"""TOTP secrets at rest (OT-08): storage keeps a random seed, the secret needs a key it never sees.

The stored ``MfaFactor.secret`` is ``"v1:<key id>:<seed>"``: a 160-bit seed from ``secrets`` in
base32, and the id of the settings key it was made under (8 hex digits of
``SHA-256("credflow.key-id:" + key)``, which names the key without revealing it). The secret the
authenticator app holds is derived from both::

    base32(HMAC-SHA-256(key, "credflow.totp:" + account id + ":" + seed bytes)[:20])   # 160 bits

So a copy of the storage alone (a dump, a backup, a read-only SQL injection) yields no secret,
and a seed copied to another account yields another secret. No cipher is involved, on purpose:
the derivation needs only ``hmac`` and ``hashlib``, and nothing is ever decrypted.

The key is found by its id among ``settings.signing_keys`` (the current key, then
``fallback_keys``): a factor enrolled under a rotated key keeps working while that key stays a
fallback, and stops when it goes (the person re-enrols, or signs in with a recovery code). A
factor cannot move to the new key: its secret would change under the app.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["VERSION", "Opened", "derive", "key_id", "new_seed", "seal", "unseal"]

VERSION = "v1"
SEED_BYTES = 20
"""160 random bits per seed; the derived secret has 160 bits too (OT-01)."""
SECRET_BYTES = 20
_SEED_CHARS = SEED_BYTES * 8 // 5
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_BASE32 = frozenset(_ALPHABET)
_AS_INT_DIGITS = str.maketrans(_ALPHABET, "0123456789abcdefghijklmnopqrstuv")
_KEY_ID = b"credflow.key-id:"
_DERIVE = b"credflow.totp:"


@functools.lru_cache(maxsize=16)
def key_id(key: bytes) -> str:
    """The public id of ``key``: 8 hex digits of a domain-separated SHA-256."""
    return hashlib.sha256(_KEY_ID + key).hexdigest()[:8]


def new_seed() -> str:
    """A fresh 160-bit seed in base32 (32 characters), from ``secrets``."""
    return base64.b32encode(secrets.token_bytes(SEED_BYTES)).decode("ascii")


def seal(key: bytes, seed: str) -> str:
    """What storage keeps for ``seed`` made under ``key``: ``v1:<key id>:<seed>``."""
    return f"{VERSION}:{key_id(key)}:{seed}"


def derive(key: bytes, account_id: str, seed: str) -> str:
    """The account's TOTP secret (32 base32 characters) from ``seed`` (as ``new_seed`` makes
    it, else ValueError) and ``key``."""
    if not _is_seed(seed):
        raise ValueError("not a seed: 32 base32 characters expected")
    # base32 digits as int()'s base-32 digits: the same bytes as b32decode, several times faster.
    raw = int(seed.translate(_AS_INT_DIGITS), 32).to_bytes(SEED_BYTES, "big")
    message = _DERIVE + account_id.encode("utf-8") + b":" + raw
    digest = hmac.new(key, message, hashlib.sha256).digest()[:SECRET_BYTES]
    return base64.b32encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class Opened:
    """A stored seed turned back into its secret; ``fallback`` when a fallback key did it."""

    secret: str = field(repr=False)
    fallback: bool = False


def unseal(stored: str | None, account_id: str, keys: Sequence[bytes]) -> Opened | None:
    """The secret of a stored seed, with the key whose id it carries among ``keys`` (the
    current key first). None when the value is not a seed of this version, or its key is
    gone: the factor then verifies nothing."""
    if stored is None:
        return None
    version, _, rest = stored.partition(":")
    wanted, _, seed = rest.partition(":")
    if version != VERSION:
        return None
    if not _is_seed(seed):
        return None
    for index, key in enumerate(keys):
        if key_id(key) == wanted:  # key ids are public: no need for a constant-time compare
            return Opened(derive(key, account_id, seed), fallback=index > 0)
    return None


def _is_seed(seed: str) -> bool:
    return len(seed) == _SEED_CHARS and _BASE32.issuperset(seed)
