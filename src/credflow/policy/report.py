"""Results of evaluating a candidate against a policy: one result per rule, in order."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["PolicyReport", "RuleResult", "RuleStatus"]


class RuleStatus(StrEnum):
    """Outcome of one rule for one candidate.

    ``skipped`` means the rule could not judge: the candidate is over the length cap, or the
    context lacks what the rule needs (no history checker, breach service down in fail-open mode).
    """

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One line of the checklist: the rule code, its outcome, its parameters and its message.

    It never holds the candidate. Results are shared between evaluations, so treat them as
    read-only values.
    """

    code: str
    status: RuleStatus
    params: Mapping[str, Any] = field(hash=False)  # a read-only mappingproxy is unhashable
    message: str

    @property
    def passed(self) -> bool:
        """True only when the rule ran and the candidate met it."""
        return self.status is RuleStatus.PASSED

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, for a live checklist endpoint."""
        return {
            "code": self.code,
            "passed": self.passed,
            "status": self.status.value,
            "params": dict(self.params),
            "message": self.message,
        }


class PolicyReport:
    """Every rule's result, in policy order. ``ok`` is true when no rule failed.

    A plain slotted class rather than a frozen dataclass: reports are built on every keystroke
    of a live checklist, and a frozen dataclass costs several times more to create.
    """

    __slots__ = ("_locale", "_results")

    def __init__(self, results: tuple[RuleResult, ...], locale: str) -> None:
        self._results = results
        self._locale = locale

    @property
    def results(self) -> tuple[RuleResult, ...]:
        """One result per rule, in policy order."""
        return self._results

    @property
    def locale(self) -> str:
        """The catalogue locale the messages are in."""
        return self._locale

    def __repr__(self) -> str:
        return f"PolicyReport(ok={self.ok}, results={list(self._results)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PolicyReport):
            return NotImplemented
        return self._results == other._results and self._locale == other._locale

    def __hash__(self) -> int:
        return hash((self._results, self._locale))

    @property
    def ok(self) -> bool:
        """True when no rule failed (skipped rules do not fail a candidate)."""
        return not any(r.status is RuleStatus.FAILED for r in self.results)

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        """The failed results, in policy order."""
        return tuple(r for r in self.results if r.status is RuleStatus.FAILED)

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes of every rule, in order."""
        return tuple(r.code for r in self.results)

    def __iter__(self) -> Iterator[RuleResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, code: str) -> RuleResult:
        """The result of the rule with ``code``."""
        for result in self.results:
            if result.code == code:
                return result
        raise KeyError(code)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view: ``{"ok": ..., "locale": ..., "rules": [...]}``."""
        return {
            "ok": self.ok,
            "locale": self.locale,
            "rules": [r.to_dict() for r in self.results],
        }
