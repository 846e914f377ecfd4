"""Password and answer hashing with argon2id (argon2-cffi).

Named profiles carry their provenance. ``RFC_9106_LOW_MEMORY`` is the default (ST-02);
parameters below the OWASP/ASVS floor are refused (ST-04) unless the profile is ``TESTING``,
which exists only to make test suites fast and must be asked for by name.

Passwords are NFKC-normalised before hashing and verifying, never trimmed or case-folded (PW-07),
and anything over 128 code points is refused before any hashing (PW-03). A semaphore bounds how
many hashes run at once, so a burst of logins cannot exhaust memory: peak hashing memory stays
under ``max_concurrent × memory_cost``.

An optional pepper (ST-07), a key kept with the application's settings and never in storage,
goes into every password and answer hash: argon2id hashes HMAC-SHA256(key, password), and the
stored string names the key by its id (``$pepper$k=<id>$argon2id$...``) so keys can rotate.
A stolen database alone then allows no guessing against a peppered hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import queue
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type, hash_secret, verify_secret

from credflow.errors import ConfigurationError, InsecureConfiguration, PasswordTooLong
from credflow.policy.answers import normalize_answer
from credflow.policy.rules import MAX_PASSWORD_LENGTH

__all__ = [
    "OWASP_MINIMUM",
    "RFC_9106_HIGH_MEMORY",
    "RFC_9106_LOW_MEMORY",
    "TESTING",
    "UNUSABLE",
    "Hasher",
    "Pepper",
    "Profile",
    "Verification",
    "too_long",
]


@dataclass(frozen=True, slots=True)
class Profile:
    """argon2id parameters. ``memory_cost`` is in KiB."""

    name: str
    time_cost: int
    memory_cost: int
    parallelism: int
    hash_len: int = 32
    salt_len: int = 16

    def meets_floor(self) -> bool:
        """True when the parameters are at least as costly as one row of the OWASP table.

        Rows (ST-04): t=1 with 46 MiB, t=2 with 19 MiB, t=3 with 12 MiB, t=4 with 9 MiB,
        t≥5 with 7 MiB; p ≥ 1; salt ≥ 16 bytes; tag ≥ 16 bytes.
        """
        if self.parallelism < 1 or self.salt_len < 16 or self.hash_len < 16:
            return False
        floors = {1: 46 * 1024, 2: 19 * 1024, 3: 12 * 1024, 4: 9 * 1024}
        need = floors.get(self.time_cost, 7 * 1024) if self.time_cost >= 1 else None
        return need is not None and self.memory_cost >= need


UNUSABLE = "!unusable"
"""A stored "hash" no password matches: credentials voided until a new password is set."""

RFC_9106_LOW_MEMORY = Profile("RFC_9106_LOW_MEMORY", time_cost=3, memory_cost=65536, parallelism=4)
"""RFC 9106 §4, second recommended option; argon2-cffi's default. credflow's default."""

RFC_9106_HIGH_MEMORY = Profile(
    "RFC_9106_HIGH_MEMORY", time_cost=1, memory_cost=2097152, parallelism=4
)
"""RFC 9106 §4, first recommended option (2 GiB per hash)."""

OWASP_MINIMUM = Profile("OWASP_MINIMUM", time_cost=2, memory_cost=19456, parallelism=1)
"""The OWASP Password Storage Cheat Sheet floor (19 MiB, t=2, p=1)."""

TESTING = Profile("TESTING", time_cost=1, memory_cost=8, parallelism=1, hash_len=16, salt_len=16)
"""argon2-cffi's cheapest parameters: for test suites only, never for real accounts. Only this
very object skips the floor check: an equal copy does not."""


MIN_PEPPER_BYTES = 16
"""A pepper key's minimum length: 128 bits, above NIST's 112 (ST-07)."""

_PEPPER_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_PEPPER_TAG = "$pepper$k="


@dataclass(frozen=True, slots=True)
class Pepper:
    """A pepper key and its id (ST-07). ``id``: 1 to 32 letters, digits, ``_``, ``.`` or ``-``,
    stored in each hash so the key can rotate; ``key``: at least 16 bytes (a ``str`` is taken
    as UTF-8), kept outside storage and out of every ``repr``."""

    id: str
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _PEPPER_ID.fullmatch(self.id):
            raise ConfigurationError(
                "a pepper id is 1 to 32 letters, digits, '_', '.' or '-'", field="peppers"
            )
        key = self.key.encode("utf-8") if isinstance(self.key, str) else self.key
        if not isinstance(key, bytes):
            raise ConfigurationError("a pepper key is bytes or str", field="peppers")
        if len(key) < MIN_PEPPER_BYTES:
            raise InsecureConfiguration(
                f"a pepper key must be at least {MIN_PEPPER_BYTES} bytes", field="peppers"
            )
        object.__setattr__(self, "key", key)

    def apply(self, secret: bytes) -> bytes:
        """What argon2id hashes instead of ``secret``: its HMAC-SHA256 under the key."""
        return hmac.digest(self.key, secret, hashlib.sha256)


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of a verify: ``ok``, and whether the hash should be upgraded."""

    ok: bool
    needs_rehash: bool = False

    def __bool__(self) -> bool:
        return self.ok


class Hasher:
    """argon2id hashing with a profile, a bound on concurrent hashes, and optional peppers: the
    first of ``peppers`` seals new hashes, the others still verify theirs (rotation)."""

    __slots__ = (
        "_bound",
        "_count",
        "_count_lock",
        "_current",
        "_dummy",
        "_hasher",
        "_header",
        "_peppers",
        "_profile",
        "_salt_b64",
        "_slots",
        "_tag_b64",
    )

    def __init__(
        self,
        profile: Profile = RFC_9106_LOW_MEMORY,
        *,
        max_concurrent: int | None = None,
        peppers: Sequence[Pepper] = (),
    ):
        if not isinstance(profile, Profile):
            raise ConfigurationError("profile must be a credflow.hashing.Profile", field="hashing")
        if profile is not TESTING and not profile.meets_floor():
            raise InsecureConfiguration(
                f"argon2id parameters below the floor (t={profile.time_cost}, "
                f"m={profile.memory_cost} KiB, p={profile.parallelism}); use a stronger profile, "
                "or hashing.TESTING by name in test suites",
                field="hashing",
            )
        bound = max_concurrent if max_concurrent is not None else (os.cpu_count() or 1)
        if bound < 1:
            raise ConfigurationError("max_concurrent must be at least 1", field="max_concurrent")
        if not all(isinstance(p, Pepper) for p in peppers):
            raise ConfigurationError("peppers must be credflow.hashing.Pepper", field="peppers")
        self._peppers = {p.id: p for p in peppers}
        if len(self._peppers) != len(peppers):
            raise ConfigurationError("two peppers share an id", field="peppers")
        self._current = peppers[0] if peppers else None
        self._profile = profile
        self._hasher = argon2.PasswordHasher(
            time_cost=profile.time_cost,
            memory_cost=profile.memory_cost,
            parallelism=profile.parallelism,
            hash_len=profile.hash_len,
            salt_len=profile.salt_len,
            type=argon2.Type.ID,
        )
        # A queue of ``bound`` tokens: get() blocks when all are taken. SimpleQueue is written in
        # C, several times cheaper per login than a Python-level semaphore.
        self._bound = bound
        self._slots: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(bound):
            self._slots.put(None)
        self._dummy = self._hasher.hash("credflow dummy password").encode("ascii")
        self._header = (
            f"$argon2id$v={argon2.low_level.ARGON2_VERSION}$m={profile.memory_cost},"
            f"t={profile.time_cost},p={profile.parallelism}"
        )
        self._salt_b64 = _b64_length(profile.salt_len)
        self._tag_b64 = _b64_length(profile.hash_len)
        self._count = 0
        self._count_lock = threading.Lock()

    @property
    def calls(self) -> int:
        """How many hash or verify operations ran (tests use it to prove equal work)."""
        return self._count

    def _run(self, phc: bytes | None, secret: bytes, kind: Type = Type.ID) -> bytes | bool:
        """One argon2id operation inside a concurrency slot, counted: a new PHC string when
        ``phc`` is None, else whether ``secret`` matches it. Calls the low-level API directly:
        the work is argon2-cffi's, without its per-call parameter handling."""
        self._slots.get()
        try:
            with self._count_lock:
                self._count += 1
            p = self._profile
            if phc is None:
                salt = os.urandom(p.salt_len)
                return hash_secret(
                    secret, salt, p.time_cost, p.memory_cost, p.parallelism, p.hash_len, Type.ID
                )
            try:
                return verify_secret(phc, secret, kind)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False
        finally:
            self._slots.put(None)

    @property
    def profile(self) -> Profile:
        """The parameters new hashes use."""
        return self._profile

    @property
    def max_concurrent(self) -> int:
        """How many hashes may run at once."""
        return self._bound

    @property
    def peppers(self) -> tuple[Pepper, ...]:
        """The peppers, the current one first."""
        return tuple(self._peppers.values())

    @property
    def pepper_id(self) -> str | None:
        """The id of the pepper new hashes use, or None without one."""
        return self._current.id if self._current is not None else None

    def __repr__(self) -> str:
        if self._current is None:
            return f"Hasher(profile={self._profile.name})"
        return f"Hasher(profile={self._profile.name}, pepper={self._current.id!r})"

    def hash(self, password: str) -> str:
        """The stored form of ``password`` (NFKC-normalised, ≤ 128 code points): a PHC string,
        behind ``$pepper$k=<id>`` when a pepper is set."""
        secret = _prepare(password).encode("utf-8")
        current = self._current
        if current is None:
            return self._new(secret)
        return f"{_PEPPER_TAG}{current.id}{self._new(current.apply(secret))}"

    def hash_code(self, code: str) -> str:
        """The plain argon2id PHC string of a random code (a recovery code), never peppered:
        its 80 random bits are its protection, and its record holds a bare PHC string."""
        return self._new(_prepare(code).encode("utf-8"))

    def _new(self, secret: bytes) -> str:
        phc = self._run(None, secret)
        assert isinstance(phc, bytes)
        return phc.decode("ascii")

    def verify(self, phc: str, password: str) -> Verification:
        """Check ``password`` against a stored hash; a malformed or unusable one (a pepper id
        these settings do not hold, say) is a mismatch, not a crash, and still costs a full
        verify (so it cannot be told from a wrong password). ``needs_rehash`` is also true for
        a hash under an older pepper, or under none while one is set."""
        normal = _prepare(password)
        secret = normal.encode("utf-8")
        stale = self._current is not None  # a plain hash while a pepper is set: upgrade it
        if phc.startswith(_PEPPER_TAG):
            kid, found, rest = phc[len(_PEPPER_TAG) :].partition("$")
            pepper = self._peppers.get(kid)
            if pepper is None or not found:
                return self.dummy_verify(normal)
            phc = "$" + rest
            secret = pepper.apply(secret)
            stale = pepper is not self._current
        kind = _TYPES.get(phc[: phc.find("$", 1) + 1])
        if kind is None or not phc.isascii():
            return self.dummy_verify(normal)
        if not self._run(phc.encode("ascii"), secret, kind):
            return Verification(False)
        return Verification(True, stale or self._needs_rehash(phc))

    def dummy_verify(self, password: str) -> Verification:
        """The same work as a real verify, always failing: used for unknown accounts (LK-10)."""
        try:
            secret = _prepare(password).encode("utf-8")
        except PasswordTooLong:
            secret = b"x"
        if self._current is not None:
            secret = self._current.apply(secret)
        self._run(self._dummy, secret)
        return Verification(False)

    def hash_answer(self, answer: str) -> str:
        """The PHC string of ``normalize_answer(answer)``: "Bleu " and "BLÉU" hash alike."""
        return self.hash(normalize_answer(answer))

    def verify_answer(self, phc: str, answer: str) -> Verification:
        """Check a security answer after normalisation."""
        return self.verify(phc, normalize_answer(answer))

    def _needs_rehash(self, phc: str) -> bool:
        """Whether ``phc`` was made with other parameters than the profile's.

        A plain comparison of the PHC header and the salt and tag lengths: the same answer as
        argon2-cffi's ``check_needs_rehash`` without parsing the string on every login.
        """
        head, _, tail = phc.rpartition("$")
        head, _, salt = head.rpartition("$")
        return head != self._header or len(salt) != self._salt_b64 or len(tail) != self._tag_b64


_TYPES = {"$argon2id$": Type.ID, "$argon2i$": Type.I, "$argon2d$": Type.D}


def _b64_length(size: int) -> int:
    """The length of ``size`` bytes in unpadded base64, as in a PHC string."""
    return (size * 4 + 2) // 3


def too_long(password: str) -> bool:
    """True when ``password`` exceeds 128 code points after NFKC: it is refused unhashed.

    Services test this first, so an oversized password costs no hash whether or not the
    account exists (work parity, LK-10).
    """
    if not isinstance(password, str):
        raise TypeError(f"password must be a str, not {type(password).__name__}")
    if len(password) > MAX_PASSWORD_LENGTH * 8:
        return True
    return len(unicodedata.normalize("NFKC", password)) > MAX_PASSWORD_LENGTH


def _prepare(password: str) -> str:
    if not isinstance(password, str):
        raise TypeError(f"password must be a str, not {type(password).__name__}")
    if len(password) > MAX_PASSWORD_LENGTH * 8:
        raise PasswordTooLong(MAX_PASSWORD_LENGTH)
    normal = (
        password
        if unicodedata.is_normalized("NFKC", password)
        else unicodedata.normalize("NFKC", password)
    )
    if len(normal) > MAX_PASSWORD_LENGTH:
        raise PasswordTooLong(MAX_PASSWORD_LENGTH)
    return normal
