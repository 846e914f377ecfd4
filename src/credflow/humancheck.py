"""Human checks before recovery and reminder requests (ASP's "9 + 0 = ?").

``HumanCheck`` is the port: ``challenge(locale)`` gives a prompt and an opaque token, ``verify``
says whether an answer to that token is right. The built-in ``ArithmeticCheck`` is stateless: the
token is an ``itsdangerous`` signature (HMAC-SHA-256, its own salt) over the two operands and a
random nonce; it expires (5 minutes by default) and works once, the nonce being claimed through an
atomic storage counter. A host app plugs a real captcha in by implementing the protocol.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from itsdangerous import BadData

from credflow.clock import Clock
from credflow.signing import timed_signer
from credflow.storage.protocols import Storage
from credflow.tokens import canonical, nonce_hash

__all__ = ["ArithmeticCheck", "Challenge", "HumanCheck"]


@dataclass(frozen=True, slots=True)
class Challenge:
    """What the form shows (``prompt``) and sends back with the answer (``token``)."""

    prompt: str
    token: str = field(repr=False)


@runtime_checkable
class HumanCheck(Protocol):
    """Tells people from scripts, well enough to slow down automated recovery requests."""

    def challenge(self, locale: str = "fr") -> Challenge:
        """A new challenge to show."""
        ...

    def verify(self, token: str, answer: str) -> bool:
        """True when ``answer`` solves the challenge behind ``token`` (at most once)."""
        ...


class ArithmeticCheck:
    """ "a + b = ?" with small numbers, signed, expiring, single use."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        *,
        secret_key: bytes,
        fallback_keys: tuple[bytes, ...] = (),
        lifetime: int = 300,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._lifetime = lifetime

        self._signer = timed_signer([*fallback_keys, secret_key], "credflow.human_check", clock)

    def __repr__(self) -> str:
        return f"ArithmeticCheck(lifetime={self._lifetime})"

    def challenge(self, locale: str = "fr") -> Challenge:
        left, right = secrets.randbelow(10), secrets.randbelow(10)
        token = self._signer.sign(f"{left}.{right}.{secrets.token_urlsafe(16)}").decode("ascii")
        return Challenge(f"{left} + {right} = ?", token)

    def verify(self, token: str, answer: str) -> bool:
        if not canonical(token) or not isinstance(answer, str):
            return False
        try:
            value = self._signer.unsign(token, max_age=self._lifetime).decode("ascii")
            first, second, nonce = value.split(".")
            left, right = int(first), int(second)
        except (BadData, UnicodeError, ValueError):
            return False  # tampered, expired (SignatureExpired is a BadData), or malformed
        text = answer.strip()
        if len(text) > 3 or not text.isascii() or not text.isdigit() or int(text) != left + right:
            return False
        # Single use: the first verification claims the nonce; replays find the counter taken.
        return self._storage.increment_counter("human:" + nonce_hash(nonce), self._clock.now()) == 1
