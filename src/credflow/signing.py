"""itsdangerous signers configured once for credflow: HMAC-SHA-256 and the injected clock.

Tokens, sessions and human checks sign short strings of URL-safe fields joined by dots, so they
use itsdangerous' signers directly, without a serializer's JSON and base64 layers. The key
derivation (an HMAC of the key and the salt), which itsdangerous redoes on every call, is cached
per key since both inputs are fixed.
"""

from __future__ import annotations

import hashlib

from itsdangerous import Signer, TimestampSigner

from credflow.clock import Clock

__all__ = ["plain_signer", "timed_signer"]


def _caching(base: type[Signer]) -> type[Signer]:
    derived: dict[bytes, bytes] = {}

    class Cached(base):  # type: ignore[valid-type,misc]
        def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
            key = self.secret_keys[-1] if secret_key is None else secret_key
            raw = key.encode() if isinstance(key, str) else key
            found = derived.get(raw)
            if found is None:
                found = derived[raw] = super().derive_key(secret_key)
            return found

    return Cached


def timed_signer(keys: list[bytes], salt: str, clock: Clock) -> TimestampSigner:
    """A timestamp signer over ``keys`` (the last signs, all verify) that reads ``clock``."""
    base = _caching(TimestampSigner)

    class ClockSigner(base):  # type: ignore[valid-type,misc]
        def get_timestamp(self) -> int:
            return int(clock.now().timestamp())

    signer: TimestampSigner = ClockSigner(keys, salt=salt, digest_method=hashlib.sha256)
    return signer


def plain_signer(keys: list[bytes], salt: str) -> Signer:
    """A signer without a timestamp, for session tokens (their times live in storage)."""
    signer: Signer = _caching(Signer)(keys, salt=salt, digest_method=hashlib.sha256)
    return signer
