"""itsdangerous configured once for credflow: HMAC-SHA-256, the injected clock, no compression.

Tokens, sessions and human checks all sign short JSON lists. Two costs of itsdangerous' defaults
are dropped here: the zlib attempt on every payload (pointless for ~60 bytes) and the key
derivation (an HMAC of the key and the salt) on every call, which is cached per key since both
inputs are fixed.
"""

from __future__ import annotations

import hashlib
from typing import Any

from itsdangerous import Signer, TimestampSigner, URLSafeSerializer, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.url_safe import URLSafeSerializerMixin

from credflow.clock import Clock

__all__ = ["plain_serializer", "plain_signer", "timed_serializer", "timed_signer"]


class _PlainTimed(URLSafeTimedSerializer):
    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(super(URLSafeSerializerMixin, self).dump_payload(obj))


class _Plain(URLSafeSerializer):
    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(super(URLSafeSerializerMixin, self).dump_payload(obj))


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


def timed_serializer(keys: list[bytes], salt: str, clock: Clock) -> URLSafeTimedSerializer:
    """A URL-safe timed serializer over ``keys`` (the last signs), reading ``clock``."""
    base = _caching(TimestampSigner)

    class ClockSigner(base):  # type: ignore[valid-type,misc]
        def get_timestamp(self) -> int:
            return int(clock.now().timestamp())

    return _PlainTimed(
        keys, salt=salt, signer=ClockSigner, signer_kwargs={"digest_method": hashlib.sha256}
    )


def plain_serializer(keys: list[bytes], salt: str) -> URLSafeSerializer:
    """A URL-safe serializer without a timestamp (sessions keep their times in storage)."""
    return _Plain(
        keys, salt=salt, signer=_caching(Signer), signer_kwargs={"digest_method": hashlib.sha256}
    )


def timed_signer(keys: list[bytes], salt: str, clock: Clock) -> TimestampSigner:
    """A timestamp signer over ``keys`` (the last signs), reading ``clock``: for tokens whose
    payload is already a short URL-safe string, without the JSON and base64 layers."""
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
