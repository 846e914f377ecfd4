"""Signed, single-use tokens for links: reset, unlock, email verification, invitations.

A token is ``itsdangerous`` over ``[account_id, nonce]`` with HMAC-SHA-256 (RS-08), a salt per
purpose (RS-07), and a timestamp read from the injected clock. The nonce has 256 random bits
(RS-09); storage keeps only its SHA-256, the account, the purpose, the expiry, the account's
credential version and when it was used.

Redeeming checks, in order: the signature (any listed key: the newest signs, older ones still
verify — RS-10), the purpose, the age (accepted at exactly the lifetime, refused one second
later — RS-03; a timestamp in the future is invalid), then consumes the stored nonce atomically,
so exactly one of many concurrent redeemers succeeds (RS-06). A token whose account changed
credentials since it was issued is void (RS-05).

Outcomes are told apart: ``invalid`` (tampered, wrong purpose, unknown, or issued before the
account's credentials changed), ``expired`` (the UI may offer a resend), ``used`` (consumed, or
voided with ``void``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import overload

from itsdangerous import BadData, SignatureExpired, TimestampSigner
from itsdangerous.encoding import base64_decode, base64_encode

from credflow.clock import Clock
from credflow.errors import ConfigurationError
from credflow.signing import timed_signer
from credflow.storage.protocols import Storage
from credflow.storage.records import Account, ConsumeOutcome, TokenRecord

__all__ = ["IssuedToken", "Redemption", "TokenOutcome", "TokenService", "canonical", "nonce_hash"]

MAX_TOKEN_LENGTH = 1024


class TokenOutcome(StrEnum):
    """What became of a presented token."""

    VALID = "valid"
    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly signed token. ``token`` goes in the link; it is shown once and never logged."""

    token: str = field(repr=False)
    purpose: str
    account_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Redemption:
    """The result of checking or redeeming a token. ``account_id`` is set only when valid,
    or when expired/used (so a service can offer a resend without asking who it was)."""

    outcome: TokenOutcome
    account_id: str | None = None

    @property
    def ok(self) -> bool:
        """True when the token was valid."""
        return self.outcome is TokenOutcome.VALID


def canonical(token: object) -> bool:
    """True when ``token`` is a str of sane length whose signature is in canonical base64.

    The last base64 character of a 32-byte signature carries 2 unused bits, so three other
    characters decode to the same bytes; refusing non-canonical forms makes every altered
    character of a token invalid.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return False
    signature = token.rpartition(".")[2]
    try:
        return base64_encode(base64_decode(signature)).decode("ascii") == signature
    except (BadData, ValueError):
        return False


def nonce_hash(nonce: str) -> str:
    """The SHA-256 hex digest storage keeps instead of a nonce or a handle."""
    return hashlib.sha256(nonce.encode("ascii", errors="replace")).hexdigest()


class TokenService:
    """Issue and redeem purpose-bound, single-use signed tokens."""

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        *,
        secret_key: bytes,
        fallback_keys: Sequence[bytes] = (),
        lifetimes: Mapping[str, int],
    ) -> None:
        if len(secret_key) < 32 or any(len(k) < 32 for k in fallback_keys):
            raise ConfigurationError("signing keys must be at least 32 bytes", field="secret_key")
        self._storage = storage
        self._clock = clock
        self._keys = [*fallback_keys, secret_key]  # itsdangerous signs with the last key
        self._lifetimes = dict(lifetimes)
        self._signers: dict[str, TimestampSigner] = {}
        epoch = datetime.fromtimestamp(0, UTC)
        # A decoy's pseudo-account is a copy of this record, renamed per request.
        self._stand_in = Account(
            id="decoy:", identifier="-", identifier_key="-", created_at=epoch, updated_at=epoch
        )

    def __repr__(self) -> str:
        return f"TokenService(keys={len(self._keys)}, purposes={sorted(self._lifetimes)})"

    def lifetime(self, purpose: str) -> int:
        """The lifetime in seconds of tokens for ``purpose``."""
        try:
            return self._lifetimes[purpose]
        except KeyError:
            raise ConfigurationError(f"no lifetime for purpose {purpose!r}") from None

    def _signer(self, purpose: str) -> TimestampSigner:
        signer = self._signers.get(purpose)
        if signer is None:
            signer = timed_signer(self._keys, f"credflow.{purpose}", self._clock)
            self._signers[purpose] = signer
        return signer

    def issue(self, account: Account, purpose: str, *, lifetime: int | None = None) -> IssuedToken:
        """Sign a new token for ``account`` and store its nonce hash.

        ``lifetime`` may shorten, never extend, the purpose's configured lifetime.
        """
        ceiling = self.lifetime(purpose)
        seconds = ceiling if lifetime is None else lifetime
        if not 0 < seconds <= ceiling:
            raise ConfigurationError(
                f"lifetime must be between 1 and {ceiling} seconds for {purpose!r}",
                field="lifetime",
            )
        return self._issue(account, purpose, seconds)[0]

    def _issue(self, account: Account, purpose: str, seconds: int) -> tuple[IssuedToken, str]:
        """Sign and store a token; return it and its nonce hash."""
        nonce = secrets.token_urlsafe(32)
        now = self._clock.now()
        token = self._signer(purpose).sign(f"{account.id}.{nonce}").decode("ascii")
        # The signature's timestamp has whole seconds; the stored expiry matches it exactly.
        expires = now.replace(microsecond=0) + timedelta(seconds=seconds)
        digest = nonce_hash(nonce)
        self._storage.save_token(
            TokenRecord(
                nonce_hash=digest,
                account_id=account.id,
                purpose=purpose,
                credential_version=account.credential_version,
                created_at=now,
                expires_at=expires,
            )
        )
        return IssuedToken(token, purpose, account.id, expires), digest

    def check(self, token: str, purpose: str) -> Redemption:
        """Verify signature, purpose, age and stored state without consuming the token."""
        opened = self._open(token, purpose)
        if isinstance(opened, Redemption):
            return opened
        account_id, digest = opened
        record = self._storage.get_token(digest)
        if record is None or record.purpose != purpose or record.account_id != account_id:
            return Redemption(TokenOutcome.INVALID)
        if record.used_at is not None:
            return Redemption(TokenOutcome.USED, account_id)
        if self._clock.now() > record.expires_at:
            return Redemption(TokenOutcome.EXPIRED, account_id)
        if not self._current(record):
            return Redemption(TokenOutcome.INVALID)
        return Redemption(TokenOutcome.VALID, account_id)

    def redeem(self, token: str, purpose: str) -> Redemption:
        """Check the token and consume it atomically: of concurrent callers, one gets ``valid``.

        Call it inside the same ``storage.transaction()`` as the action it authorises, so a
        failure of that action leaves the token unused.
        """
        opened = self._open(token, purpose)
        if isinstance(opened, Redemption):
            return opened
        account_id, digest = opened
        outcome, record = self._storage.consume_token(digest, purpose, self._clock.now())
        if record is None or record.account_id != account_id:
            return Redemption(TokenOutcome.INVALID)
        if outcome is ConsumeOutcome.USED:
            return Redemption(TokenOutcome.USED, account_id)
        if outcome is ConsumeOutcome.EXPIRED:
            return Redemption(TokenOutcome.EXPIRED, account_id)
        if not self._current(record):
            return Redemption(TokenOutcome.INVALID)
        return Redemption(TokenOutcome.VALID, account_id)

    def decoy(self, purpose: str, pseudonym: str, *, read_back: bool = True) -> IssuedToken:
        """Do the work of a real link for nobody: ``void`` then ``issue`` (the same code) for a
        stand-in account record, copied per request as a real request builds the account it read,
        and (``read_back``) read the stored record back as the real request read the account's
        row. For a request that must not reveal by its duration that no account was found. A
        caller that did read an account (one without an address) passes ``read_back=False``.

        The stand-in is the pseudo-account ``decoy:<pseudonym>``. The caller derives
        ``pseudonym`` from what the person typed with an HMAC under the secret key (a digest it
        needs anyway, for its rate limit; never pass raw input), so a repeated request voids the
        previous decoy just as a repeated real one voids the previous link. The returned token
        is never sent, and could not be redeemed anyway: no account has the pseudo-account's id.
        ``purge_expired`` removes the record with the real ones.
        """
        stand_in = self._stand_in.model_copy(update={"id": "decoy:" + pseudonym})
        self.void(stand_in.id, purpose)
        issued, digest = self._issue(stand_in, purpose, self.lifetime(purpose))
        if read_back:
            self._storage.get_token(digest)
        return issued

    def expired_outstanding(self, token: str, purpose: str) -> str | None:
        """The account of a genuine token that expired while still unused (the one a resend may
        replace), or None for any other token: valid, used, voided, forged or unknown."""
        opened = self._open(token, purpose, expired_fields=True)
        if not isinstance(opened, tuple) or opened[2] is not True:
            return None
        account_id, digest, _ = opened
        record = self._storage.get_token(digest)
        if record is None or record.used_at is not None or record.purpose != purpose:
            return None
        if record.account_id != account_id or not self._current(record):
            return None  # voided by a credential change: nothing to replace
        account = self._storage.get_account(account_id)
        if account is None or account.status != "active":
            return None
        return account_id

    def verify_signature(self, token: str, purpose: str) -> Redemption:
        """Signature, purpose and age only, without reading storage: ``valid`` means "looks
        genuine and fresh", not "usable". Use ``check`` or ``redeem`` before acting on a link."""
        opened = self._open(token, purpose)
        return (
            opened if isinstance(opened, Redemption) else Redemption(TokenOutcome.VALID, opened[0])
        )

    def void(self, account_id: str, purpose: str | None = None) -> int:
        """Void every outstanding token of the account (for one purpose, or all)."""
        return self._storage.void_tokens(account_id, purpose, self._clock.now())

    @overload
    def _open(self, token: object, purpose: str) -> tuple[str, str] | Redemption: ...

    @overload
    def _open(
        self, token: object, purpose: str, *, expired_fields: bool
    ) -> tuple[str, str, bool] | Redemption: ...

    def _open(
        self, token: object, purpose: str, *, expired_fields: bool = False
    ) -> tuple[str, str] | tuple[str, str, bool] | Redemption:
        """Verify the signature (any listed key), the purpose (the salt) and the age.

        Returns ``(account_id, nonce_hash)``; with ``expired_fields``, a third item tells
        whether the token had expired (then its fields are still returned, for a resend).
        """
        invalid = Redemption(TokenOutcome.INVALID)
        if not canonical(token):
            return invalid
        assert isinstance(token, str)
        expired = False
        value: object
        try:
            value = self._signer(purpose).unsign(token, max_age=self.lifetime(purpose))
        except SignatureExpired as exc:
            if exc.date_signed is None or exc.date_signed > self._clock.now():
                return invalid  # signed "in the future": never trust it
            value, expired = exc.payload, True
        except (BadData, UnicodeError, ValueError):
            return invalid
        fields = _fields(value)
        if fields is None:
            return invalid
        if expired_fields:
            return fields[0], nonce_hash(fields[1]), expired
        if expired:
            return Redemption(TokenOutcome.EXPIRED, fields[0])
        return fields[0], nonce_hash(fields[1])

    def _current(self, record: TokenRecord) -> bool:
        account = self._storage.get_account(record.account_id)
        return account is not None and account.credential_version == record.credential_version


def _fields(value: object) -> tuple[str, str] | None:
    """``account_id.nonce`` back into its parts (the nonce, URL-safe base64, has no dot)."""
    if not isinstance(value, bytes):
        return None
    try:
        text = value.decode("utf-8")
    except UnicodeError:
        return None
    account_id, dot, nonce = text.rpartition(".")
    if not dot or not 0 < len(account_id) <= 128 or not 0 < len(nonce) <= 128:
        return None
    return account_id, nonce
