"""Password rules: each has a stable ``code``, parameters, and a pure ``check``.

Rules are frozen pydantic models, so the same classes validate a configuration file and build
the objects. ``check`` receives a candidate that is already NFKC-normalised and within the length
cap; it returns True (met), False (not met) or None (cannot judge: the context lacks what the
rule needs). Rules never see the clock, storage or the network, except ``not_breached``, whose
checker is the host's port.
"""

from __future__ import annotations

import importlib
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from credflow.deviations import Deviation
from credflow.errors import BreachCheckUnavailable, MissingDependency
from credflow.policy.breach import (
    BreachChecker,
    RangeBreachChecker,
    http_range_source,
    offline_range_source,
)
from credflow.policy.common import common_passwords, load_password_list
from credflow.policy.text import casefold_key, has_run

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "Digit",
    "History",
    "HistoryChecker",
    "Lowercase",
    "MaxLength",
    "MinLength",
    "MinStrength",
    "NoSequence",
    "NotBreached",
    "NotCommon",
    "NotIdentifier",
    "PolicyContext",
    "Rule",
    "Special",
    "Uppercase",
]

MAX_PASSWORD_LENGTH = 128
"""The hard cap, in code points, on any password credflow will evaluate or hash (PW-03)."""

DEFAULT_SPECIALS = "$?!&%*_@"

Check = Callable[[str, "PolicyContext"], bool | None]
"""A compiled rule: ``(candidate, context) -> True | False | None``."""

HistoryChecker = Callable[[str, int], bool]
"""``(candidate, count) -> True`` when the candidate is one of the account's last ``count``."""

_COMPOSITION = Deviation(
    code="composition_rules",
    subject="",
    requirements=("PW-12", "PW-13"),
    standards=("NIST SP 800-63B-4 §3.1.1.2", "OWASP ASVS 4.0.3 2.1.9", "OWASP ASVS 5.0 6.2.5"),
    summary="Composition rules (character classes) are discouraged by NIST and ASVS.",
)


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """What a rule may know beyond the candidate: who is choosing it, and their history."""

    identifier: str | None = None
    email: str | None = None
    has_mfa: bool = False
    history: HistoryChecker | None = None


EMPTY_CONTEXT = PolicyContext()


@dataclass(frozen=True, slots=True)
class Inline:
    """A rule's check as one boolean expression, for ``credflow.policy.compiler``.

    The expression may use ``c`` (the candidate), ``k`` (``c.casefold()``), ``a``
    (``c.isascii()``) and ``ctx``; ``{0}``, ``{1}``… stand for ``constants``, which the compiler
    passes as values, so no parameter ever becomes source text.
    """

    expression: str
    constants: tuple[object, ...] = ()


class Rule(BaseModel):
    """Base class of password rules. Subclasses set ``rule`` to a ``Literal`` code.

    ``composition`` marks character-class rules (reported as deviations, and the rules whose
    verdict appending characters can never break). ``clause`` marks rules that read as
    "must contain …" in the summary sentence.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    composition: ClassVar[bool] = False
    clause: ClassVar[bool] = False

    @property
    def code(self) -> str:
        """The stable code of the rule, as used in reports and messages."""
        return self.rule

    def params_for(self, has_mfa: bool = False) -> dict[str, Any]:
        """The parameters shown with the result; they may depend only on ``has_mfa``."""
        return self.model_dump(exclude={"rule"}, exclude_none=True)

    def message_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The values available to the message template (``params`` plus display forms)."""
        return dict(params)

    def check(self, candidate: str, context: PolicyContext = EMPTY_CONTEXT) -> bool | None:
        """True when ``candidate`` meets the rule, False when not, None when it cannot tell."""
        raise NotImplementedError

    def compile(self) -> Check:
        """A plain function equivalent to ``check``; rules close over their parameters."""
        return self.check

    def inline(self) -> Inline | None:
        """The check as an expression the policy compiler can inline, or None to be called."""
        return None

    def deviations(self) -> tuple[Deviation, ...]:
        """The ways this rule, with these parameters, departs from NIST/ASVS."""
        return ()


class MaxLength(Rule):
    """At most ``max`` code points (default and hard cap 128). Checked before any other rule."""

    rule: Literal["max_length"] = "max_length"
    max: int = Field(default=MAX_PASSWORD_LENGTH, ge=1, le=MAX_PASSWORD_LENGTH)

    def check(self, candidate: str, context: PolicyContext = EMPTY_CONTEXT) -> bool:
        return len(candidate) <= self.max

    def compile(self) -> Check:
        cap = self.max
        return lambda candidate, context: len(candidate) <= cap

    def inline(self) -> Inline:
        return Inline("len(c) <= {0}", (self.max,))

    def deviations(self) -> tuple[Deviation, ...]:
        if self.max >= 64:
            return ()
        return (
            Deviation(
                code="short_maximum",
                subject=self.code,
                requirements=("PW-03",),
                standards=("NIST SP 800-63B-3 §5.1.1.2", "OWASP ASVS 4.0.3 2.1.2"),
                summary=f"A maximum of {self.max} code points refuses passphrases under 64.",
            ),
        )


class MinLength(Rule):
    """At least ``min`` code points, or ``min_with_mfa`` when the account has MFA."""

    rule: Literal["min_length"] = "min_length"
    min: int = Field(default=8, ge=1, le=MAX_PASSWORD_LENGTH)
    min_with_mfa: int | None = Field(default=None, ge=1, le=MAX_PASSWORD_LENGTH)
    clause: ClassVar[bool] = True

    def effective(self, has_mfa: bool) -> int:
        """The minimum that applies to an account with or without MFA."""
        if has_mfa and self.min_with_mfa is not None:
            return self.min_with_mfa
        return self.min

    def params_for(self, has_mfa: bool = False) -> dict[str, Any]:
        return {"min": self.effective(has_mfa)}

    def check(self, candidate: str, context: PolicyContext = EMPTY_CONTEXT) -> bool:
        return len(candidate) >= self.effective(context.has_mfa)

    def compile(self) -> Check:
        plain, with_mfa = self.min, self.effective(True)
        return lambda c, ctx: len(c) >= (with_mfa if ctx.has_mfa else plain)

    def inline(self) -> Inline:
        if self.min_with_mfa is None:
            return Inline("len(c) >= {0}", (self.min,))
        return Inline("len(c) >= ({1} if ctx.has_mfa else {0})", (self.min, self.min_with_mfa))

    def deviations(self) -> tuple[Deviation, ...]:
        found: list[Deviation] = []
        if self.min < 15:
            found.append(
                Deviation(
                    code="short_minimum",
                    subject=self.code,
                    requirements=("PW-02",),
                    standards=("NIST SP 800-63B-4 §3.1.1.2", "OWASP ASVS 4.0.3 2.1.1"),
                    summary=(
                        f"A minimum of {self.min} characters for single-factor accounts; "
                        "NIST asks for 15 without MFA."
                    ),
                )
            )
        if min(self.min, self.min_with_mfa or self.min) < 8:
            found.append(
                Deviation(
                    code="below_floor_minimum",
                    subject=self.code,
                    requirements=("PW-01",),
                    standards=("NIST SP 800-63B-3 §5.1.1.2", "OWASP ASVS 5.0 6.2.1"),
                    summary="A minimum under 8 characters is below every standard's floor.",
                )
            )
        return tuple(found)


class _CharacterClass(Rule):
    """At least ``min`` characters for which ``char_test`` holds."""

    min: int = Field(default=1, ge=1, le=MAX_PASSWORD_LENGTH)
    composition: ClassVar[bool] = True
    clause: ClassVar[bool] = True
    char_test: ClassVar[Callable[[str], bool]]
    ascii_chars: ClassVar[frozenset[str]]

    def check(self, candidate: str, context: PolicyContext = EMPTY_CONTEXT) -> bool:
        return self.compile()(candidate, context) is True

    def compile(self) -> Check:
        test, ascii_chars, need = type(self).char_test, type(self).ascii_chars, self.min
        if need == 1:

            def one(candidate: str, context: PolicyContext) -> bool:
                if candidate.isascii():  # O(1) flag check; the set test is the fast path
                    return not ascii_chars.isdisjoint(candidate)
                return any(map(test, candidate))

            return one
        return lambda candidate, context: sum(map(test, candidate)) >= need

    def inline(self) -> Inline:
        test, ascii_chars = type(self).char_test, type(self).ascii_chars
        if self.min == 1:
            return Inline("(not {0}.isdisjoint(c)) if a else any(map({1}, c))", (ascii_chars, test))
        return Inline("sum(map({0}, c)) >= {1}", (test, self.min))

    def deviations(self) -> tuple[Deviation, ...]:
        return (_with_subject(_COMPOSITION, self.code),)


class Lowercase(_CharacterClass):
    """At least ``min`` lowercase letters (Unicode lowercase, not only a–z)."""

    rule: Literal["lowercase"] = "lowercase"
    char_test = str.islower
    ascii_chars = frozenset(string.ascii_lowercase)


class Uppercase(_CharacterClass):
    """At least ``min`` uppercase letters (Unicode uppercase, not only A–Z)."""

    rule: Literal["uppercase"] = "uppercase"
    char_test = str.isupper
    ascii_chars = frozenset(string.ascii_uppercase)


class Digit(_CharacterClass):
    """At least ``min`` decimal digits (after NFKC, so full-width digits count as 0–9)."""

    rule: Literal["digit"] = "digit"
    char_test = str.isdecimal
    ascii_chars = frozenset(string.digits)


class Special(Rule):
    """At least ``min`` characters from ``alphabet``.

    The alphabet only decides what *counts*: no character is ever rejected (PW-13).
    """

    rule: Literal["special"] = "special"
    alphabet: str = Field(default=DEFAULT_SPECIALS, min_length=1, max_length=256)
    min: int = Field(default=1, ge=1, le=MAX_PASSWORD_LENGTH)
    composition: ClassVar[bool] = True
    clause: ClassVar[bool] = True

    def message_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**params, "alphabet": " ".join(self.alphabet)}

    def check(self, candidate: str, context: PolicyContext = EMPTY_CONTEXT) -> bool:
        return self.compile()(candidate, context) is True

    def compile(self) -> Check:
        chars, need = frozenset(self.alphabet), self.min
        if need == 1:
            return lambda candidate, context: not chars.isdisjoint(candidate)
        return lambda candidate, context: sum(c in chars for c in candidate) >= need

    def inline(self) -> Inline:
        chars = frozenset(self.alphabet)
        if self.min == 1:
            return Inline("not {0}.isdisjoint(c)", (chars,))
        return Inline("sum(map({0}.__contains__, c)) >= {1}", (chars, self.min))

    def deviations(self) -> tuple[Deviation, ...]:
        return (_with_subject(_COMPOSITION, self.code),)


_SPLIT = re.compile(r"[\W_]+")


@lru_cache(maxsize=1024)
def _identifier_parts(identifier: str | None, email: str | None, min_part: int) -> tuple[str, ...]:
    """The case-folded strings a password must not contain, for one person."""
    sources = []
    for value in (identifier, email):
        if value:
            local = casefold_key(value).rpartition("@")[0] or casefold_key(value)
            sources.append(local)
    parts: set[str] = set()
    for local in sources:
        parts.add(local)
        parts.update(_SPLIT.split(local))
    return tuple(sorted(p for p in parts if len(p) >= min_part))


class NotIdentifier(Rule):
    """The candidate must not contain the identifier or the email's local part.

    Comparison is case-insensitive after NFKC. An address-shaped identifier counts by its local
    part only (the domain is public and shared). Each value also counts by its pieces split on
    punctuation (``alain.dejoux`` gives ``alain`` and ``dejoux``). Parts shorter than
    ``min_part`` are ignored.
    """

    rule: Literal["not_identifier"] = "not_identifier"
    min_part: int = Field(default=3, ge=1, le=64)

    def check(self, candidate: str, context: PolicyContext = EMPTY_CONTEXT) -> bool | None:
        return self.compile()(candidate, context)

    def compile(self) -> Check:
        min_part = self.min_part

        def check(candidate: str, context: PolicyContext) -> bool | None:
            if context.identifier is None and context.email is None:
                return None  # nothing to compare with: skipped, not passed
            parts = _identifier_parts(context.identifier, context.email, min_part)
            key = candidate.casefold()
            return not any(part in key for part in parts)

        return check

    def inline(self) -> None:
        return None  # three outcomes (skipped without an identifier): called, not inlined


_AFFIX = re.compile(r"^[\W\d_]+|[\W\d_]+$")


class NotCommon(Rule):
    """The candidate is not on the list of common passwords (case-insensitive).

    ``strip_affixes`` also refuses a common password wrapped in digits or symbols
    (``password1234567``, ``!soleil2024``) when the word left is 4 characters or more.
    ``path`` replaces the bundled list with a file (one password per line, gzip allowed).
    """

    rule: Literal["not_common"] = "not_common"
    strip_affixes: bool = False
    path: str | None = None
    _words: frozenset[str] = PrivateAttr(default=frozenset())

    def model_post_init(self, context: Any, /) -> None:
        if self.path is None:
            self._words = common_passwords()
            return
        try:
            self._words = load_password_list(self.path)
        except OSError as exc:  # a ValueError, so pydantic reports it like a bad parameter
            raise ValueError(f"cannot read password list {self.path}: {exc.strerror}") from None

    @property
    def size(self) -> int:
        """How many entries the list holds."""
        return len(self._words)

    def params_for(self, has_mfa: bool = False) -> dict[str, Any]:
        # The list's path is the server's business: it never reaches a report or a browser.
        return {"strip_affixes": self.strip_affixes}

    def check(self, candidate: str, context: PolicyContext = EMPTY_CONTEXT) -> bool:
        return self.compile()(candidate, context) is True

    def compile(self) -> Check:
        words, strip = self._words, self.strip_affixes

        def check(candidate: str, context: PolicyContext) -> bool:
            key = candidate.casefold()
            if key in words:
                return False
            if strip:
                core = _AFFIX.sub("", key)
                if core != key and len(core) >= 4 and core in words:
                    return False
            return True

        return check

    def inline(self) -> Inline:
        if self.strip_affixes:
            return Inline("{0}(c, ctx)", (self.compile(),))
        return Inline("k not in {0}", (self._words,))


class NoSequence(Rule):
    """No run of ``min_run`` characters: 1234, abcd, azerty, qwerty, or one repeated character."""

    rule: Literal["no_sequence"] = "no_sequence"
    min_run: int = Field(default=4, ge=3, le=16)

    def check(self, candidate: str, context: PolicyContext = EMPTY_CONTEXT) -> bool:
        return not has_run(candidate, self.min_run)


class NotBreached(Rule):
    """The candidate is not in a breach corpus, asked through the k-anonymity range format.

    Give ``checker`` (any ``BreachChecker``), or ``range_dir`` (offline range files), or
    ``range_url`` (HTTP range API). ``fail`` decides what an unavailable source means:
    ``open`` skips the rule, ``closed`` fails it. ``max_breaches`` is the tolerated count.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    rule: Literal["not_breached"] = "not_breached"
    max_breaches: int = Field(default=0, ge=0)
    fail: Literal["open", "closed"] = "open"
    range_dir: str | None = None
    range_url: str | None = None
    timeout: float = Field(default=2.0, gt=0, le=30)
    checker: BreachChecker | None = Field(default=None, exclude=True, repr=False)
    _source: BreachChecker | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_source(self) -> NotBreached:
        given = [x for x in (self.checker, self.range_dir, self.range_url) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of checker, range_dir or range_url")
        return self

    def model_post_init(self, context: Any, /) -> None:
        if self.checker is not None:
            self._source = self.checker
        elif self.range_dir is not None:
            self._source = RangeBreachChecker(offline_range_source(self.range_dir))
        elif self.range_url is not None:  # none given: ``_one_source`` reports it
            self._source = RangeBreachChecker(
                http_range_source(self.range_url, timeout=self.timeout)
            )

    def params_for(self, has_mfa: bool = False) -> dict[str, Any]:
        return {"max_breaches": self.max_breaches, "fail": self.fail}

    def check(self, candidate: str, context: PolicyContext = EMPTY_CONTEXT) -> bool | None:
        assert self._source is not None
        try:
            return self._source.breach_count(candidate) <= self.max_breaches
        except BreachCheckUnavailable:
            return None if self.fail == "open" else False


class History(Rule):
    """The candidate is none of the account's last ``count`` passwords.

    The comparison needs the account's stored hashes, so the caller supplies a checker in the
    context; without one the rule is skipped (as in a checklist before sign-in).
    """

    rule: Literal["history"] = "history"
    count: int = Field(default=5, ge=1, le=24)

    def check(self, candidate: str, context: PolicyContext = EMPTY_CONTEXT) -> bool | None:
        if context.history is None:
            return None
        return not context.history(candidate, self.count)

    def deviations(self) -> tuple[Deviation, ...]:
        return (
            Deviation(
                code="password_history",
                subject=self.code,
                requirements=("PW-14",),
                standards=("NIST SP 800-63B-4 §3.1.1.2", "OWASP ASVS 5.0 6.2.10"),
                summary="Password history pushes people toward predictable changes.",
            ),
        )


class MinStrength(Rule):
    """A zxcvbn score of at least ``score`` (0–4). Needs ``pip install credflow[zxcvbn]``."""

    rule: Literal["min_strength"] = "min_strength"
    score: int = Field(default=3, ge=0, le=4)
    _estimate: Callable[..., Mapping[str, Any]] = PrivateAttr()

    def __init__(self, /, **data: Any) -> None:
        # Import before pydantic runs: raised inside validation, MissingDependency (also a
        # ValueError) would come out wrapped in a pydantic ValidationError.
        _import_zxcvbn()
        super().__init__(**data)

    def model_post_init(self, context: Any, /) -> None:
        self._estimate = _import_zxcvbn().zxcvbn

    def check(self, candidate: str, context: PolicyContext = EMPTY_CONTEXT) -> bool:
        hints = [v for v in (context.identifier, context.email) if v]
        result = self._estimate(candidate, user_inputs=hints)
        return int(result["score"]) >= self.score


def _import_zxcvbn() -> Any:
    try:
        return importlib.import_module("zxcvbn")
    except ImportError:
        raise MissingDependency("the min_strength rule", "zxcvbn") from None


def _with_subject(deviation: Deviation, subject: str) -> Deviation:
    return Deviation(
        code=deviation.code,
        subject=subject,
        requirements=deviation.requirements,
        standards=deviation.standards,
        summary=deviation.summary,
    )
