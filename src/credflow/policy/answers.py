"""Security answers: normalisation and the answer policy (Sigma: "au moins 4 caractères").

Answers are compared after ``normalize_answer`` (NFKC, case folding, accents stripped, spaces
collapsed), so "Bleu ", "bleu" and "BLÉU" are the same answer. The hashing layer hashes the
normalised form; this module only decides whether an answer is acceptable.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from credflow.errors import PolicyViolation
from credflow.messages import DEFAULT_MESSAGES, Messages
from credflow.policy.report import PolicyReport, RuleResult, RuleStatus
from credflow.policy.text import is_run

__all__ = ["COMMON_ANSWERS", "AnswerPolicy", "normalize_answer"]

COMMON_ANSWERS = frozenset(
    {
        "password", "motdepasse", "mot de passe", "secret", "test", "azerty", "qwerty",
        "admin", "administrateur", "none", "aucun", "aucune", "rien", "nothing", "reponse",
        "answer", "question", "inconnu", "unknown", "jesaispas", "je sais pas", "idk",
        "0000", "1111", "123", "1234", "12345", "123456", "oui", "non", "yes",
    }
)  # fmt: skip
"""Answers refused whatever the question (SQ-03), compared after ``normalize_answer``."""


def normalize_answer(answer: str) -> str:
    """NFKC, case-fold, strip accents, collapse and trim spaces.

    >>> normalize_answer("  BLÉU ") == normalize_answer("bleu")
    True
    """
    if not isinstance(answer, str):
        raise TypeError(f"answer must be a str, not {type(answer).__name__}")
    folded = unicodedata.normalize("NFKC", answer).casefold()
    if folded.isascii():  # nothing to decompose: the common case, without a pass per character
        return " ".join(folded.split())
    decomposed = unicodedata.normalize("NFD", folded)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(unicodedata.normalize("NFC", bare).split())


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class AnswerPolicy:
    """What a security answer must look like. Every check runs; all failures are reported.

    Codes: ``answer_max_length`` (checked first; over it, the others are skipped),
    ``answer_min_length``, ``answer_sequence``, ``answer_not_identifier``,
    ``answer_not_in_question`` (as whole words), ``answer_not_common``, ``answer_not_password``
    (skipped unless the current password is given).
    """

    min_length: int = Field(default=4, ge=1, le=64)
    max_length: int = Field(default=128, ge=8, le=512)
    no_sequence: bool = True
    not_identifier: bool = True
    not_in_question: bool = True
    not_common: bool = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerPolicy:
        """Build from a configuration mapping; errors name the field."""
        from credflow.policy.config import format_validation_error

        try:
            return TypeAdapter(cls).validate_python(data)
        except ValidationError as error:
            raise format_validation_error(error) from None

    def __post_init__(self) -> None:
        if self.min_length > self.max_length:
            raise ValueError("min_length must not exceed max_length")

    def evaluate(
        self,
        answer: str,
        *,
        question: str | None = None,
        identifier: str | None = None,
        email: str | None = None,
        password: str | None = None,
        locale: str = "fr",
        messages: Messages | None = None,
    ) -> PolicyReport:
        """Check ``answer`` and return one result per check, in order.

        ``password``, when given, is the account's current password: the answer must differ
        from it (SQ-03). The check is skipped without it.
        """
        if not isinstance(answer, str):
            raise TypeError(f"answer must be a str, not {type(answer).__name__}")
        catalogue = messages or DEFAULT_MESSAGES
        loc = catalogue.resolve(locale)
        if len(answer) > self.max_length * 8:
            key = answer[: self.max_length * 8]
        else:
            key = normalize_answer(answer)
        checks: list[tuple[str, dict[str, Any], bool | None]] = []
        over = len(key) > self.max_length
        checks.append(("answer_max_length", {"max": self.max_length}, not over))
        compact = key.replace(" ", "")
        names = _identity_keys(identifier, email)
        planned: list[tuple[str, dict[str, Any], bool, bool | None]] = [
            ("answer_min_length", {"min": self.min_length}, True, len(key) >= self.min_length),
            ("answer_sequence", {}, self.no_sequence, not is_run(compact)),
            ("answer_not_identifier", {}, self.not_identifier, key not in names),
            (
                "answer_not_in_question",
                {},
                self.not_in_question,
                None if question is None else not _contains_words(normalize_answer(question), key),
            ),
            ("answer_not_common", {}, self.not_common, key not in _COMMON_KEYS),
            (
                "answer_not_password",
                {},
                True,
                None if password is None else key != normalize_answer(password),
            ),
        ]
        for code, params, enabled, verdict in planned:
            if enabled:
                checks.append((code, params, None if over else verdict))
        results = tuple(
            _result(catalogue, loc, code, tuple(params.items()), _status(verdict))
            for code, params, verdict in checks
        )
        return PolicyReport(results, loc)

    def validate(
        self,
        answer: str,
        *,
        question: str | None = None,
        identifier: str | None = None,
        email: str | None = None,
        password: str | None = None,
        locale: str = "fr",
        messages: Messages | None = None,
    ) -> PolicyReport:
        """Like ``evaluate``, but raise ``PolicyViolation`` with every failure."""
        report = self.evaluate(
            answer,
            question=question,
            identifier=identifier,
            email=email,
            password=password,
            locale=locale,
            messages=messages,
        )
        if not report.ok:
            raise PolicyViolation(report.failures)
        return report

    def guidance(self, locale: str = "fr", messages: Messages | None = None) -> str:
        """The advice Sigma shows above the question form."""
        catalogue = messages or DEFAULT_MESSAGES
        return catalogue.render("answer.guidance", catalogue.resolve(locale))


_COMMON_KEYS = frozenset(normalize_answer(a) for a in COMMON_ANSWERS)


def _contains_words(text: str, words: str) -> bool:
    """True when ``words`` appears in ``text`` as whole words ("bleu" in "bleu ciel", not in
    "bleuet")."""
    return re.search(rf"(?<!\w){re.escape(words)}(?!\w)", text) is not None


@lru_cache(maxsize=512)
def _result(
    catalogue: Messages,
    loc: str,
    code: str,
    params: tuple[tuple[str, Any], ...],
    status: RuleStatus,
) -> RuleResult:
    """A ready-made, immutable result: rendering each message once per catalogue and locale."""
    values = dict(params)
    message = catalogue.render("answer." + code.removeprefix("answer_"), loc, values)
    return RuleResult(code, status, MappingProxyType(values), message)


@lru_cache(maxsize=1024)
def _identity_keys(identifier: str | None, email: str | None) -> frozenset[str]:
    keys: set[str] = set()
    for value in (identifier, email):
        if value:
            normal = normalize_answer(value)
            keys.add(normal)
            keys.add(normal.rpartition("@")[0] or normal)
    return frozenset(keys)


def _status(verdict: bool | None) -> RuleStatus:
    if verdict is None:
        return RuleStatus.SKIPPED
    return RuleStatus.PASSED if verdict else RuleStatus.FAILED
