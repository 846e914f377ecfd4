"""Stored records: frozen pydantic models shared by every storage adapter.

Records hold hashes, never secrets: a password credential keeps its argon2id PHC string, a token
keeps the SHA-256 of its nonce, a flow keeps the SHA-256 of its handle.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from credflow.errors import InvalidEmail, InvalidIdentifier

__all__ = [
    "Account",
    "AccountStatus",
    "AuditEvent",
    "ConsumeOutcome",
    "FlowRecord",
    "Membership",
    "MembershipStatus",
    "MfaFactor",
    "MfaKind",
    "Organisation",
    "PasswordCredential",
    "PasswordHistoryEntry",
    "RecoveryCode",
    "RequiredAction",
    "SecurityQuestion",
    "TokenRecord",
    "check_email",
    "check_identifier",
    "email_key",
    "identifier_key",
    "new_account_id",
]

MAX_IDENTIFIER_LENGTH = 254
_FORBIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,253}$")


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return value


Instant = Annotated[datetime, AfterValidator(_aware)]


class AccountStatus(StrEnum):
    """Whether an account may sign in."""

    ACTIVE = "active"
    PENDING_VERIFICATION = "pending_verification"
    PENDING_APPROVAL = "pending_approval"
    DISABLED = "disabled"


class RequiredAction(StrEnum):
    """Something the person must do before getting a session, in the order listed."""

    CHANGE_PASSWORD = "change_password"  # noqa: S105 - an action name, not a password
    ENROLL_SECURITY_QUESTION = "enroll_security_question"
    VERIFY_EMAIL = "verify_email"
    ENROLL_TOTP = "enroll_totp"


def check_identifier(identifier: object) -> str:
    """Return ``identifier`` if acceptable, else raise InvalidIdentifier (never echoing it)."""
    if not isinstance(identifier, str):
        raise InvalidIdentifier(f"must be a str, not {type(identifier).__name__}")
    if not identifier or not identifier.strip():
        raise InvalidIdentifier("must not be empty")
    if len(identifier) > MAX_IDENTIFIER_LENGTH:
        raise InvalidIdentifier(f"longer than {MAX_IDENTIFIER_LENGTH} characters")
    if identifier != identifier.strip():
        raise InvalidIdentifier("must not start or end with spaces")
    plain = identifier.isascii() and identifier.isprintable()  # the usual case, checked in C
    if not plain and any(unicodedata.category(c) in _FORBIDDEN for c in identifier):
        raise InvalidIdentifier("must not contain control, invisible or line-break characters")
    if len(identifier_key(identifier)) > MAX_IDENTIFIER_LENGTH:
        raise InvalidIdentifier(f"longer than {MAX_IDENTIFIER_LENGTH} characters once normalised")
    return identifier


def identifier_key(identifier: str) -> str:
    """The unique, case-insensitive key of an identifier: NFKC then case folding."""
    return unicodedata.normalize("NFKC", identifier).casefold()


def check_email(email: object, field: str = "email") -> str:
    """Return ``email`` if it looks like an address (64@253, no spaces), else raise."""
    if not isinstance(email, str):
        raise InvalidEmail(f"must be a str, not {type(email).__name__}", field=field)
    if len(email) > MAX_IDENTIFIER_LENGTH or not _EMAIL.match(email):
        raise InvalidEmail("not an email address", field=field)
    if any(unicodedata.category(c) in _FORBIDDEN for c in email):
        raise InvalidEmail("must not contain control characters", field=field)
    if len(email_key(email)) > MAX_IDENTIFIER_LENGTH:
        raise InvalidEmail("too long once normalised", field=field)
    domain = email.rpartition("@")[2]
    if domain.startswith(".") or domain.endswith(".") or "." not in domain or ".." in domain:
        raise InvalidEmail("not an email address", field=field)
    return email


def email_key(email: str) -> str:
    """The lookup key of an address: NFKC, then lower case (``str.lower``, not case folding).

    Distinct addresses never merge by accident beyond case (RS-16): mail always goes to the
    stored address, never to the typed one.
    """
    local, _, domain = unicodedata.normalize("NFKC", email).rpartition("@")
    return f"{local.lower()}@{domain.lower()}"


def new_account_id() -> str:
    """An opaque, random account id (128 bits, URL-safe), never starting with ``-``: a command
    line would take such an id for an option."""
    while (value := secrets.token_urlsafe(16)).startswith("-"):
        pass  # one draw in 64; drawing again keeps the ids uniform
    return value


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Account(_Record):
    """A person's account. ``version`` increases on every write (compare-and-set).

    ``credential_version`` increases on every credential change and voids older tokens and
    sessions; ``locked_until`` and ``lockouts`` hold the lock state (a lock "until unlocked"
    uses the far future); ``session_epoch`` increases to end every session issued before
    (``revoke_all``, ``disable``, ``mark_compromised``) without touching the credentials.
    """

    id: str = Field(min_length=1, max_length=64)
    identifier: str
    identifier_key: str
    email: str | None = None
    email_key: str | None = None
    status: AccountStatus = AccountStatus.ACTIVE
    required_actions: tuple[RequiredAction, ...] = ()
    credential_version: int = Field(default=1, ge=1)
    version: int = Field(default=1, ge=1)
    locked_until: Instant | None = None
    lockouts: int = Field(default=0, ge=0)
    session_epoch: int = Field(default=0, ge=0)
    created_at: Instant
    updated_at: Instant


class PasswordCredential(_Record):
    """An account's current password, as an argon2id PHC string."""

    account_id: str
    hash: str = Field(repr=False)
    temporary: bool = False
    set_at: Instant
    expires_at: Instant | None = None


class PasswordHistoryEntry(_Record):
    """A past password hash, kept for the ``history`` rule."""

    account_id: str
    hash: str = Field(repr=False)
    set_at: Instant


class SecurityQuestion(_Record):
    """The question text and the argon2id hash of the normalised answer."""

    account_id: str
    question: str = Field(min_length=1, max_length=200)
    answer_hash: str = Field(repr=False)
    set_at: Instant


class TokenRecord(_Record):
    """What storage knows of a signed one-time token: never the nonce, only its SHA-256."""

    nonce_hash: str = Field(min_length=64, max_length=64)
    account_id: str
    purpose: str = Field(min_length=1, max_length=32)
    credential_version: int
    created_at: Instant
    expires_at: Instant
    used_at: Instant | None = None


class ConsumeOutcome(StrEnum):
    """The result of an atomic token consume."""

    CONSUMED = "consumed"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


class FlowRecord(_Record):
    """A multi-step flow in progress, found by the SHA-256 of its handle."""

    handle_hash: str = Field(min_length=64, max_length=64)
    kind: str = Field(min_length=1, max_length=32)
    account_id: str | None = None
    state: str
    data: dict[str, Any] = Field(default_factory=dict)
    attempts: int = Field(default=0, ge=0)
    version: int = Field(default=1, ge=1)
    created_at: Instant
    expires_at: Instant


class AuditEvent(_Record):
    """Something that happened, for the audit trail. ``details`` never hold a secret."""

    type: str = Field(min_length=1, max_length=64)
    account_id: str | None = None
    at: Instant
    details: dict[str, str | int | bool | None] = Field(default_factory=dict)


class Organisation(_Record):
    """A client organisation (DEFI, Certigna). ``registration_number`` is a normalised SIRET
    (14 digits) or SIREN (9 digits), unique among organisations when present."""

    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    registration_number: str | None = Field(default=None, pattern=r"^(\d{9}|\d{14})$")
    created_at: Instant


class MembershipStatus(StrEnum):
    """Where a person stands in one organisation."""

    PENDING_APPROVAL = "pending_approval"
    ACTIVE = "active"
    DISABLED = "disabled"


class Membership(_Record):
    """An account's place in an organisation: free-form roles and a status.

    ``version`` increases on every write (compare-and-set, as for accounts)."""

    account_id: str
    organisation_id: str
    roles: tuple[str, ...] = ()
    status: MembershipStatus = MembershipStatus.PENDING_APPROVAL
    version: int = Field(default=1, ge=1)
    created_at: Instant
    updated_at: Instant


class MfaKind(StrEnum):
    """A kind of second factor."""

    TOTP = "totp"
    SMS = "sms"


class MfaFactor(_Record):
    """An account's second factor, one per kind.

    For TOTP, ``secret`` holds a sealed seed, ``v1:<key id>:<seed>``, from which the shared
    secret is derived with the secret key (OT-08: storage alone cannot give it; never in reprs
    or events either), and ``last_step`` the newest 30-second step accepted, so a code is never
    accepted twice. For SMS,
    ``phone`` is the number codes go to. A factor counts only once ``confirmed``.
    """

    account_id: str
    kind: MfaKind
    secret: str | None = Field(default=None, repr=False)
    phone: str | None = Field(default=None, max_length=32)
    confirmed: bool = False
    last_step: int = -1
    created_at: Instant


_ARGON2ID_PHC = r"^\$argon2id\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$"


class RecoveryCode(_Record):
    """One MFA recovery code: a lookup ``selector`` and the argon2id hash of the whole code.

    The codes carry 80 random bits, under the 112 bits below which a code must be salted and
    hashed with argon2id (RC-02), so checking one costs a slow verify. ``selector`` (the service
    stores the first 4 characters of the normalised code) finds the one or two candidates to
    verify, instead of all ten. It is not a secret on its own, but it is part of a code: like
    ``code_hash`` (an argon2id PHC string) it is kept out of ``repr``.
    """

    account_id: str
    selector: str = Field(min_length=1, max_length=16, repr=False)
    code_hash: str = Field(max_length=255, pattern=_ARGON2ID_PHC, repr=False)
    created_at: Instant
    used_at: Instant | None = None
