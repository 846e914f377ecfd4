"""Settings: one frozen object holding every policy choice of a deployment.

``Settings.nist(...)`` follows NIST SP 800-63B / OWASP ASVS; ``Settings.classic(...)`` follows the
portals (8-character composition rule, security questions at first login, Sigma's return to the
login page after a password change). Anything the standards discourage is allowed, never
silently: ``deviations()`` lists each departure with requirement IDs, and building such settings
emits a ``StandardsDeviationWarning``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretBytes,
    ValidationError,
    field_validator,
    model_validator,
)

from credflow.deviations import Deviation, StandardsDeviationWarning
from credflow.errors import ConfigurationError, InsecureConfiguration, StandardsConflictError
from credflow.hashing import RFC_9106_LOW_MEMORY, TESTING, Pepper, Profile
from credflow.policy import AnswerPolicy, PasswordPolicy, presets
from credflow.storage.records import RequiredAction

__all__ = [
    "Lifetimes",
    "LockoutSettings",
    "MfaSettings",
    "RecoverySettings",
    "RecoveryStep",
    "RegistrationSettings",
    "Settings",
]

MIN_KEY_BYTES = 32


class Lifetimes(BaseModel):
    """How long things live, in seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temporary_password: int = Field(default=86_400, ge=60, le=7 * 86_400)
    flow: int = Field(default=900, ge=60, le=86_400)
    recovery_link: int = Field(default=900, ge=60, le=86_400)
    unlock_link: int = Field(default=3_600, ge=60, le=7 * 86_400)
    email_verification: int = Field(default=600, ge=60, le=86_400)
    setup_link: int = Field(default=86_400, ge=60, le=30 * 86_400)
    invite: int = Field(default=7 * 86_400, ge=60, le=30 * 86_400)
    session_idle: int = Field(default=1_800, ge=60, le=30 * 86_400)
    session_absolute: int = Field(default=43_200, ge=60, le=30 * 86_400)

    def token_lifetimes(self) -> dict[str, int]:
        """Lifetimes keyed by token purpose, for the token service."""
        return {
            "reset": self.recovery_link,
            "unlock": self.unlock_link,
            "verify_email": self.email_verification,
            "password_setup": self.setup_link,
            "invite": self.invite,
        }


_PATH_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-._~")


class LinkPaths(BaseModel):
    """The host app's pages that mailed links open, as paths under ``base_url``.

    A link is ``{base_url}{path}?token=…``: only the path is the host's choice, so a link can
    never point outside ``base_url`` (RS-11). Password setup links open the reset page unless
    ``setup`` names another one. ``forgot`` is the page that starts a recovery, which the
    "you already have an account" mail of a registration points to (it carries no token).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reset: str = "/reset"
    unlock: str = "/unlock"
    setup: str = "/reset"
    forgot: str = "/password/forgot"

    @field_validator("reset", "unlock", "setup", "forgot")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or value.startswith("//"):
            raise ValueError("must be a path that starts with one /")
        if len(value) > 200:
            raise ValueError("must be at most 200 characters")
        if not set(value) <= _PATH_CHARACTERS or "/../" in f"{value}/":
            raise ValueError("must be a plain path: letters, digits, / - . _ ~, no ..")
        return value


class LockoutSettings(BaseModel):
    """Lock after ``threshold`` consecutive failures; wait ``base_wait`` seconds, doubling per
    further lock up to ``max_wait`` (or until unlocked when ``until_unlocked``). LK-01..LK-03."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: int = Field(default=5, ge=1, le=100)
    base_wait: int = Field(default=60, ge=1, le=86_400)
    max_wait: int = Field(default=3_600, ge=1, le=30 * 86_400)
    until_unlocked: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> LockoutSettings:
        if self.max_wait < self.base_wait:
            raise ValueError("max_wait must be at least base_wait")
        return self

    def wait_seconds(self, lockouts: int) -> int:
        """The wait for the ``lockouts``-th lock (1-based), doubling and capped; never overflows."""
        if lockouts <= 1:
            return self.base_wait
        doublings = min(lockouts - 1, 40)
        return min(self.base_wait * (1 << doublings), self.max_wait)


class RecoveryStep(StrEnum):
    """One step of a recovery or reminder, in the order the settings list them."""

    HUMAN_CHECK = "human_check"
    SECURITY_QUESTION = "security_question"
    EMAIL_LINK = "email_link"
    EMAIL_CODE = "email_code"


_EMAIL_STEPS = (RecoveryStep.EMAIL_LINK, RecoveryStep.EMAIL_CODE)
DECOY_QUESTIONS = (
    "Quel est le nom de votre premier animal de compagnie ?",
    "Dans quelle ville êtes-vous né(e) ?",
    "Quel est le nom de jeune fille de votre mère ?",
    "Quel était le nom de votre école primaire ?",
    "Quelle est votre couleur préférée ?",
    "Quel est le prénom de votre meilleur(e) ami(e) d'enfance ?",
    "Quel est le titre de votre livre préféré ?",
    "Quelle était la marque de votre première voiture ?",
)


class RecoverySettings(BaseModel):
    """How a forgotten password or identifier is recovered.

    ``steps`` is ordered: Sigma asks the question only; ASP checks a human, asks the question,
    then mails a link; Sage mails a link; the recommended order is the link, then the question.
    A human check may only come first. ``start_from`` says what the person types first.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: tuple[RecoveryStep, ...] = (RecoveryStep.EMAIL_LINK,)
    start_from: Literal["identifier", "email"] = "identifier"
    reminder_steps: tuple[RecoveryStep, ...] = (RecoveryStep.HUMAN_CHECK,)
    max_answer_attempts: int = Field(default=3, ge=1, le=10)
    answer_lock_threshold: int = Field(default=5, ge=1, le=100)
    answer_lock_window: int = Field(default=3_600, ge=60, le=30 * 86_400)
    rate_limit: int = Field(default=5, ge=1, le=100)
    rate_window: int = Field(default=900, ge=60, le=86_400)
    code_digits: int = Field(default=6, ge=6, le=8)
    code_lifetime: int = Field(default=600, ge=60, le=600)
    code_attempts: int = Field(default=5, ge=1, le=5)
    notify_unknown_recipients: bool = False
    login_after_reset: bool = False
    decoy_questions: tuple[str, ...] = Field(default=DECOY_QUESTIONS, min_length=1)

    @model_validator(mode="after")
    def _coherent(self) -> RecoverySettings:
        for name, steps in (("steps", self.steps), ("reminder_steps", self.reminder_steps)):
            if len(set(steps)) != len(steps):
                raise ValueError(f"{name}: a step appears twice")
            if RecoveryStep.HUMAN_CHECK in steps[1:]:
                raise ValueError(f"{name}: human_check can only come first")
        proving = [s for s in self.steps if s is not RecoveryStep.HUMAN_CHECK]
        if not proving:
            raise ValueError(
                "steps: give at least one of security_question, email_link, email_code"
            )
        if len([s for s in proving if s in _EMAIL_STEPS]) > 1:
            raise ValueError("steps: use email_link or email_code, not both")
        if self.start_from == "email" and proving[0] is not RecoveryStep.EMAIL_LINK:
            raise ValueError("start_from='email' needs email_link as the first step")
        if any(s in _EMAIL_STEPS for s in self.reminder_steps):
            raise ValueError("reminder_steps: only human_check and security_question")
        return self

    def question_before_possession(self) -> bool:
        """True when a security question is asked before any proof of mailbox possession."""
        for step in self.steps:
            if step in _EMAIL_STEPS:
                return False
            if step is RecoveryStep.SECURITY_QUESTION:
                return True
        return False


class RegistrationSettings(BaseModel):
    """Self-registration verified by a mailed code (Sage), and email change.

    A code has ``code_digits`` digits, lives ``code_lifetime`` seconds and allows
    ``code_attempts`` tries; a resend voids the previous code. Accounts still unverified after
    ``unverified_ttl`` seconds expire. ``login_after_verification`` issues a session when the
    code is confirmed. At most ``rate_limit`` mails go to one address (registration) or for one
    account (email change) per ``rate_window`` seconds, resends included.
    ``email_change_reauthenticate`` asks for the current password to start an email change
    (EV-08, SS-05); Sage's page asks only for the new address, which turning it off reproduces.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    code_digits: int = Field(default=6, ge=6, le=8)
    code_lifetime: int = Field(default=600, ge=60, le=3_600)
    code_attempts: int = Field(default=5, ge=1, le=10)
    unverified_ttl: int = Field(default=7 * 86_400, ge=3_600, le=90 * 86_400)
    login_after_verification: bool = False
    rate_limit: int = Field(default=5, ge=1, le=100)
    rate_window: int = Field(default=900, ge=60, le=86_400)
    email_change_reauthenticate: bool = True


class MfaSettings(BaseModel):
    """Second factors: TOTP apps, codes by SMS (Sage) and recovery codes.

    ``issuer`` names the service in authenticator apps (no ``:``, no control character, at most
    64 characters). ``required`` asks every account for a second factor; ``required_roles``
    asks it of accounts holding one of those roles in an active membership. SMS codes have
    ``sms_code_digits`` digits, live ``sms_code_lifetime`` seconds and allow
    ``sms_code_attempts`` tries; ``recovery_codes`` codes are made per set. ``totp_window``
    accepts a TOTP code of the current step or the one before (RFC 6238's one step of delay),
    or with ``"current"`` of the current step only (ASVS 5.0 §6.5.5's 30-second lifetime).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(default="credflow", min_length=1, max_length=64, pattern=r"^[^:]+$")
    required: bool = False
    required_roles: tuple[str, ...] = ()
    sms_code_digits: int = Field(default=6, ge=6, le=8)
    sms_code_lifetime: int = Field(default=300, ge=60, le=600)
    sms_code_attempts: int = Field(default=5, ge=1, le=5)
    recovery_codes: int = Field(default=10, ge=10, le=20)
    totp_window: Literal["previous_and_current", "current"] = "previous_and_current"

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        from credflow.mfa.totp import check_issuer

        return check_issuer(value)


class Settings(BaseModel):
    """Every choice credflow makes, in one frozen, validated object."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    secret_key: SecretBytes
    fallback_keys: tuple[SecretBytes, ...] = ()
    base_url: str
    password_policy: PasswordPolicy = Field(default_factory=presets.nist)
    answer_policy: AnswerPolicy = Field(default_factory=AnswerPolicy)
    hashing: Profile = RFC_9106_LOW_MEMORY
    peppers: tuple[Pepper, ...] = Field(default=(), exclude=True)
    hash_concurrency: int | None = Field(default=None, ge=1, le=1024)
    lifetimes: Lifetimes = Field(default_factory=Lifetimes)
    links: LinkPaths = Field(default_factory=LinkPaths)
    lockout: LockoutSettings = Field(default_factory=LockoutSettings)
    recovery: RecoverySettings = Field(default_factory=RecoverySettings)
    registration: RegistrationSettings = Field(default_factory=RegistrationSettings)
    mfa: MfaSettings = Field(default_factory=MfaSettings)
    unique_emails: bool = False
    first_login_actions: tuple[RequiredAction, ...] = (RequiredAction.CHANGE_PASSWORD,)
    security_questions: bool = False
    question_choices: tuple[str, ...] = ()
    allow_knowledge_based: bool = False
    mail_temporary_password: bool = False
    reauthenticate_after_password_change: bool = False
    password_max_age: int | None = Field(default=None, ge=86_400)
    locale: str = "fr"

    def __init__(self, **values: Any) -> None:
        """Validate ``values``; every problem is a ConfigurationError naming its field."""
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise _configuration_error(error) from None

    @field_validator("secret_key", mode="before")
    @classmethod
    def _key(cls, value: Any) -> Any:
        return _as_bytes(value)

    @field_validator("fallback_keys", mode="before")
    @classmethod
    def _keys(cls, value: Any) -> Any:
        return tuple(_as_bytes(v) for v in value) if isinstance(value, (list, tuple)) else value

    @field_validator("peppers", mode="before")
    @classmethod
    def _peppers(cls, value: Any) -> Any:
        """``Pepper``s, ``(id, key)`` pairs, or ``{"id": ..., "key": ...}`` mappings; the first
        is the current one. A bad id or a short key raises from ``Pepper`` itself."""
        if not isinstance(value, (list, tuple)):
            return value
        made = []
        for item in value:
            if isinstance(item, Mapping) and set(item) == {"id", "key"}:
                item = Pepper(item["id"], item["key"])
            elif isinstance(item, tuple) and len(item) == 2:
                item = Pepper(*item)
            elif not isinstance(item, Pepper):
                raise ConfigurationError(
                    "a pepper is a Pepper, an (id, key) pair or {id, key}", field="peppers"
                )
            made.append(item)
        if len({p.id for p in made}) != len(made):
            raise ConfigurationError("two peppers share an id", field="peppers")
        return tuple(made)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or a fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        if len(self.secret_key.get_secret_value()) < MIN_KEY_BYTES:
            raise InsecureConfiguration(
                f"secret keys must be at least {MIN_KEY_BYTES} bytes", field="secret_key"
            )
        if any(len(k.get_secret_value()) < MIN_KEY_BYTES for k in self.fallback_keys):
            raise InsecureConfiguration(
                f"secret keys must be at least {MIN_KEY_BYTES} bytes", field="fallback_keys"
            )
        if self.security_questions and not self.allow_knowledge_based:
            raise StandardsConflictError(
                "security questions are not allowed by NIST/ASVS; pass "
                "allow_knowledge_based=True to enable them anyway",
                field="security_questions",
            )
        uses_questions = RecoveryStep.SECURITY_QUESTION in (
            *self.recovery.steps,
            *self.recovery.reminder_steps,
        )
        if uses_questions and not self.security_questions:
            raise ConfigurationError(
                "recovery asks a security question but security_questions is off",
                field="recovery.steps",
            )
        if self.hashing is not TESTING and not self.hashing.meets_floor():
            raise InsecureConfiguration(
                "argon2id parameters below the floor; use a stronger profile, or "
                "hashing.TESTING by name in test suites",
                field="hashing",
            )
        enrolls = RequiredAction.ENROLL_SECURITY_QUESTION in self.first_login_actions
        if enrolls and not self.security_questions:
            raise ConfigurationError(
                "enroll_security_question needs security_questions=True",
                field="first_login_actions",
            )
        return self

    def model_post_init(self, context: Any, /) -> None:
        found = self.deviations()
        if found:
            listed = ", ".join(f"{d.code} ({'/'.join(d.requirements)})" for d in found)
            warnings.warn(
                f"these settings depart from NIST/ASVS: {listed}",
                StandardsDeviationWarning,
                stacklevel=_caller_level(),
            )

    @classmethod
    def build(cls, **values: Any) -> Self:
        """Construct (an alias of the constructor, kept for symmetry with the presets)."""
        return cls(**values)

    @classmethod
    def nist(cls, *, secret_key: str | bytes, base_url: str, **overrides: Any) -> Self:
        """Settings on NIST SP 800-63B-4: ``presets.nist()``, no security questions, and
        recovery links of 600 s (ASVS 5.0 6.5.5; the portals' 900 s is a deviation).

        Enabling security questions raises StandardsConflictError unless
        ``allow_knowledge_based=True`` is given as well (SQ-08).
        """
        values: dict[str, Any] = {
            "password_policy": presets.nist(),
            "lifetimes": Lifetimes(recovery_link=600),
        }
        values.update(overrides)
        return cls.build(secret_key=secret_key, base_url=base_url, **values)

    @classmethod
    def classic(cls, *, secret_key: str | bytes, base_url: str, **overrides: Any) -> Self:
        """Settings on the portals' rules: ``presets.classic()``, first login changes the
        password then enrols a security question, and a password change sends the person back
        to the login page (Sigma)."""
        values: dict[str, Any] = {
            "password_policy": presets.classic(),
            "first_login_actions": (
                RequiredAction.CHANGE_PASSWORD,
                RequiredAction.ENROLL_SECURITY_QUESTION,
            ),
            "security_questions": True,
            "allow_knowledge_based": True,
            "reauthenticate_after_password_change": True,
        }
        values.update(overrides)
        return cls.build(secret_key=secret_key, base_url=base_url, **values)

    @classmethod
    def from_mapping(
        cls,
        document: Mapping[str, Any],
        *,
        secret_key: str | bytes,
        base_url: str,
        **overrides: Any,
    ) -> Self:
        """Settings from a portal document: ``[settings]`` (``preset`` = ``classic`` or
        ``nist``, then any field), ``[password_policy]`` and ``[answer_policy]``.

        Secrets never come from the file: the key and the base URL are arguments.
        """
        section = dict(document.get("settings", {}))
        preset = section.pop("preset", "nist")
        if preset not in ("classic", "nist"):
            raise ConfigurationError("must be 'classic' or 'nist'", field="settings.preset")
        for forbidden in ("secret_key", "fallback_keys", "peppers"):
            if forbidden in section:
                raise ConfigurationError(
                    "keys do not belong in a file", field=f"settings.{forbidden}"
                )
        if "password_policy" in document:
            section["password_policy"] = PasswordPolicy.from_dict(document["password_policy"])
        if "answer_policy" in document:
            section["answer_policy"] = AnswerPolicy.from_dict(dict(document["answer_policy"]))
        section.update(overrides)
        build = cls.classic if preset == "classic" else cls.nist
        return build(secret_key=secret_key, base_url=base_url, **section)

    @classmethod
    def from_file(
        cls, path: str | Path, *, secret_key: str | bytes, base_url: str, **overrides: Any
    ) -> Self:
        """Settings from a ``.toml`` or ``.json`` portal file (see ``from_mapping``)."""
        from credflow.policy.config import read_document

        return cls.from_mapping(
            read_document(path), secret_key=secret_key, base_url=base_url, **overrides
        )

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied and validated again (``model_copy`` does not validate).

        Key rotation: ``settings.replace(secret_key=new, fallback_keys=[old])``.
        """
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values.update(changes)
        return self.build(**values)

    def link(self, page: Literal["reset", "unlock", "setup"], token: str) -> str:
        """The URL a mail carries for ``token``: ``base_url``, the page's path, the token."""
        return f"{self.base_url}{getattr(self.links, page)}?token={token}"

    @property
    def signing_keys(self) -> tuple[bytes, tuple[bytes, ...]]:
        """The current key and the fallbacks, as bytes."""
        return (
            self.secret_key.get_secret_value(),
            tuple(k.get_secret_value() for k in self.fallback_keys),
        )

    def deviations(self) -> tuple[Deviation, ...]:
        """Every departure of these settings from NIST/ASVS, with requirement IDs."""
        found = list(self.password_policy.deviations())
        if self.security_questions:
            found.append(
                Deviation(
                    code="security_questions",
                    subject="security_questions",
                    requirements=("SQ-04", "SQ-08"),
                    standards=("NIST SP 800-63B-3 §5.1.1.2", "OWASP ASVS 5.0 6.4.2"),
                    summary="Security questions (knowledge-based answers) are enabled.",
                )
            )
        if self.recovery.question_before_possession():
            found.append(
                Deviation(
                    code="question_before_possession",
                    subject="recovery.steps",
                    requirements=("SQ-04",),
                    standards=("OWASP Forgot Password CS", "OWASP ASVS 5.0 6.4.2"),
                    summary=(
                        "The security question comes before any proof of mailbox possession "
                        "(the only factor when no email step follows)."
                    ),
                )
            )
        if self.lifetimes.recovery_link > 600:
            found.append(
                Deviation(
                    code="long_recovery_link",
                    subject="lifetimes.recovery_link",
                    requirements=("RS-04",),
                    standards=("OWASP ASVS 4.0.3 2.7.2", "OWASP ASVS 5.0 6.5.5"),
                    summary=(
                        f"Recovery links live {self.lifetimes.recovery_link} s; ASVS asks for "
                        "at most 600 s."
                    ),
                )
            )
        if self.mail_temporary_password:
            found.append(
                Deviation(
                    code="mailed_temporary_password",
                    subject="mail_temporary_password",
                    requirements=("TP-05",),
                    standards=("OWASP ASVS 4.0.3 2.5.1",),
                    summary="Temporary passwords are sent by mail in clear text.",
                )
            )
        if not self.registration.email_change_reauthenticate:
            found.append(
                Deviation(
                    code="email_change_without_reauthentication",
                    subject="registration.email_change_reauthenticate",
                    requirements=("EV-08", "SS-05"),
                    standards=("OWASP ASVS 5.0 7.5.1",),
                    summary="An email change starts without asking for the current password.",
                )
            )
        if self.password_max_age is not None:
            found.append(
                Deviation(
                    code="password_expiry",
                    subject="password_max_age",
                    requirements=("PW-14",),
                    standards=("NIST SP 800-63B-4 §3.1.1.2", "OWASP ASVS 5.0 6.2.10"),
                    summary="Passwords expire periodically.",
                )
            )
        return tuple(found)

    def __repr__(self) -> str:
        codes = [rule.code for rule in self.password_policy.rules]
        return (
            f"Settings(base_url={self.base_url!r}, policy={codes}, hashing={self.hashing.name}, "
            f"security_questions={self.security_questions})"
        )


def _configuration_error(error: ValidationError) -> ConfigurationError:
    """The credflow error behind a pydantic one, keeping its type (InsecureConfiguration…)."""
    from credflow.policy.config import format_validation_error

    for item in error.errors():
        original = item.get("ctx", {}).get("error")
        if isinstance(original, ConfigurationError):
            return original
    return format_validation_error(error)


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside credflow/pydantic."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not (name.startswith(("credflow.", "pydantic")) or name == "credflow"):
            return level
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level  # pragma: no cover - there is always a caller


def _as_bytes(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8")
    return value
