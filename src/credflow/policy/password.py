"""``PasswordPolicy``: an ordered list of rules that evaluates, validates and explains itself."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Self

from credflow.deviations import Deviation
from credflow.errors import ConfigurationError, PolicyViolation
from credflow.messages import DEFAULT_MESSAGES, Messages
from credflow.policy.compiler import Compiled, Outcomes, compile_rules
from credflow.policy.report import PolicyReport, RuleResult, RuleStatus
from credflow.policy.rules import (
    EMPTY_CONTEXT,
    HistoryChecker,
    MaxLength,
    MinLength,
    NotCommon,
    NotIdentifier,
    PolicyContext,
    Rule,
)

__all__ = ["PasswordPolicy", "PolicyDescription"]

# NFKC can shrink a string: composition folds a base character and up to 4 marks into one.
# A raw string longer than this factor times the cap cannot come back under the cap, so it is
# refused without normalising (a 1 MB paste costs nothing).
_SHRINK_FACTOR = 8
_MAX_SPELLINGS = 32


@dataclass(frozen=True, slots=True)
class PolicyDescription:
    """What a form shows before the person types: sentences and one label per rule."""

    sentences: tuple[str, ...]
    items: tuple[str, ...]

    @property
    def text(self) -> str:
        """The sentences joined into one paragraph."""
        return " ".join(self.sentences)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class _Table:
    locale: str
    run: Compiled
    over_cap: tuple[RuleResult, ...]


class PasswordPolicy:
    """An ordered list of password rules.

    ``max_length`` always comes first (one is added with the 128 default when missing), and a
    candidate over it skips every other rule. Everything else runs, so a report lists every
    problem at once (PW-09). Candidates are NFKC-normalised and measured in code points.
    """

    __slots__ = ("_cache", "_max", "_messages", "_rules")

    def __init__(self, rules: Iterable[Rule], *, messages: Messages | None = None) -> None:
        ordered = list(rules)
        for index, rule in enumerate(ordered):
            if not isinstance(rule, Rule):
                raise ConfigurationError(
                    f"expected a Rule, got {type(rule).__name__}", field=f"rules[{index}]"
                )
        codes = [rule.code for rule in ordered]
        for index, code in enumerate(codes):
            if code in codes[:index]:
                raise ConfigurationError(f"duplicate rule {code!r}", field=f"rules[{index}]")
        caps = [rule for rule in ordered if isinstance(rule, MaxLength)]
        cap = caps[0] if caps else MaxLength()
        for index, rule in enumerate(ordered):
            if isinstance(rule, MinLength):
                for name, value in (("min", rule.min), ("min_with_mfa", rule.min_with_mfa)):
                    if value is not None and value > cap.max:
                        raise ConfigurationError(
                            f"{value} exceeds max_length ({cap.max})",
                            field=f"rules[{index}].{name}",
                        )
        ordered = [cap, *(rule for rule in ordered if rule is not cap)]
        self._rules: tuple[Rule, ...] = tuple(ordered)
        self._max = cap.max
        self._messages = messages or DEFAULT_MESSAGES
        self._cache: dict[tuple[str, bool], _Table] = {}

    # -- construction helpers --------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, messages: Messages | None = None) -> Self:
        """Build a policy from ``{"rules": [...]}`` or ``{"preset": "classic"}``."""
        from credflow.policy.config import policy_from_mapping

        return cls(policy_from_mapping(data), messages=messages)

    @classmethod
    def from_json(cls, text: str, *, messages: Messages | None = None) -> Self:
        """Build a policy from JSON text (a ``password_policy`` key is looked into)."""
        from credflow.policy.config import parse_json, policy_section

        return cls.from_dict(policy_section(parse_json(text)), messages=messages)

    @classmethod
    def from_toml(cls, text: str, *, messages: Messages | None = None) -> Self:
        """Build a policy from TOML text (a ``[password_policy]`` table is looked into)."""
        from credflow.policy.config import parse_toml, policy_section

        return cls.from_dict(policy_section(parse_toml(text)), messages=messages)

    def to_dict(self) -> dict[str, Any]:
        """The configuration that rebuilds this policy with ``from_dict``."""
        return {"rules": [rule.model_dump(exclude_none=True) for rule in self._rules]}

    def with_messages(self, messages: Messages) -> PasswordPolicy:
        """The same rules rendered with other message catalogues (host overrides)."""
        return PasswordPolicy(self._rules, messages=messages)

    # -- inspection ------------------------------------------------------------------------

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules, ``max_length`` first."""
        return self._rules

    @property
    def max_length(self) -> int:
        """The cap in code points; longer candidates are refused before any other work."""
        return self._max

    @property
    def messages(self) -> Messages:
        """The message catalogues used for reports and descriptions."""
        return self._messages

    def __repr__(self) -> str:
        return f"PasswordPolicy({[rule.code for rule in self._rules]!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PasswordPolicy):
            return NotImplemented
        return self._rules == other._rules

    def __hash__(self) -> int:
        return hash(self._rules)

    def deviations(self) -> tuple[Deviation, ...]:
        """Every departure of this policy from NIST SP 800-63B and OWASP ASVS, as data."""
        found = [d for rule in self._rules for d in rule.deviations()]
        if not any(isinstance(rule, NotCommon) for rule in self._rules):
            found.append(
                Deviation(
                    code="no_blocklist",
                    subject="not_common",
                    requirements=("PW-08",),
                    standards=("NIST SP 800-63B-3 §5.1.1.2", "OWASP ASVS 5.0 6.2.4"),
                    summary="New passwords are not compared with a list of common passwords.",
                )
            )
        if not any(isinstance(rule, NotIdentifier) for rule in self._rules):
            found.append(
                Deviation(
                    code="no_context_check",
                    subject="not_identifier",
                    requirements=("PW-11",),
                    standards=("NIST SP 800-63B-3 §5.1.1.2", "OWASP ASVS 5.0 6.2.11"),
                    summary="Passwords may contain the identifier or the email.",
                )
            )
        return tuple(found)

    # -- evaluation ------------------------------------------------------------------------

    def evaluate(
        self,
        candidate: str,
        *,
        identifier: str | None = None,
        email: str | None = None,
        has_mfa: bool = False,
        history: HistoryChecker | None = None,
        locale: str = "fr",
    ) -> PolicyReport:
        """Check ``candidate`` against every rule and return the full checklist.

        Never raises for any ``str``; a non-str raises TypeError. The candidate is not kept.
        """
        if not isinstance(candidate, str):
            raise TypeError(f"candidate must be a str, not {type(candidate).__name__}")
        table = self._cache.get((locale, has_mfa)) or self._table(locale, has_mfa)
        if len(candidate) > self._max * _SHRINK_FACTOR:
            return PolicyReport(table.over_cap, table.locale)
        if not unicodedata.is_normalized("NFKC", candidate):
            candidate = unicodedata.normalize("NFKC", candidate)
        if len(candidate) > self._max:
            return PolicyReport(table.over_cap, table.locale)
        if identifier is None and email is None and history is None and not has_mfa:
            context = EMPTY_CONTEXT
        else:
            context = PolicyContext(identifier, email, has_mfa, history)
        return PolicyReport(table.run(candidate, context), table.locale)

    def validate(
        self,
        candidate: str,
        *,
        identifier: str | None = None,
        email: str | None = None,
        has_mfa: bool = False,
        history: HistoryChecker | None = None,
        locale: str = "fr",
    ) -> PolicyReport:
        """Like ``evaluate``, but raise ``PolicyViolation`` with every failure when not ok."""
        report = self.evaluate(
            candidate,
            identifier=identifier,
            email=email,
            has_mfa=has_mfa,
            history=history,
            locale=locale,
        )
        if not report.ok:
            raise PolicyViolation(report.failures)
        return report

    def describe(self, locale: str = "fr", *, has_mfa: bool = False) -> PolicyDescription:
        """The requirement sentences and checklist labels, e.g. Sigma's

        "Votre nouveau mot de passe doit contenir au moins 8 caractères, au moins une lettre
        minuscule, au moins une lettre majuscule, et au moins un chiffre."
        """
        loc = self._messages.resolve(locale)
        render = self._messages.render
        clauses: list[str] = []
        others: list[str] = []
        items: list[str] = []
        for rule in self._rules:
            values = rule.message_params(rule.params_for(has_mfa))
            items.append(render(f"rule.{rule.code}", loc, values))
            if rule.clause:
                clauses.append(render(f"clause.{rule.code}", loc, values))
            elif not (isinstance(rule, MaxLength) and rule.max == MaxLength().max):
                others.append(render(f"sentence.{rule.code}", loc, values))
        sentences: list[str] = []
        if clauses:
            joined = clauses[0]
            if len(clauses) == 2:
                joined = clauses[0] + render("policy.join.pair", loc) + clauses[1]
            elif len(clauses) > 2:
                last = render("policy.join.last", loc)
                joined = ", ".join(clauses[:-1]) + last + clauses[-1]
            sentences.append(render("policy.summary", loc, {"clauses": joined}))
        sentences.extend(others)
        return PolicyDescription(tuple(sentences), tuple(items))

    def _table(self, locale: str, has_mfa: bool) -> _Table:
        """The compiled table for ``locale``, compiled once per *resolved* locale.

        Spellings (``fr``, ``fr-FR``, ``FR_ca``) share one table, and at most a few dozen raw
        spellings are remembered, so a caller passing user-supplied locales cannot grow the
        cache or make every call compile.
        """
        loc = self._messages.resolve(locale)
        table = self._cache.get((loc, has_mfa)) or self._build(loc, has_mfa)
        if len(self._cache) < _MAX_SPELLINGS:
            self._cache[(locale, has_mfa)] = table
        return table

    def _build(self, loc: str, has_mfa: bool) -> _Table:
        outcomes = []
        for rule in self._rules:
            params = MappingProxyType(rule.params_for(has_mfa))
            message = self._messages.render(f"rule.{rule.code}", loc, rule.message_params(params))
            outcomes.append(
                Outcomes(
                    RuleResult(rule.code, RuleStatus.PASSED, params, message),
                    RuleResult(rule.code, RuleStatus.FAILED, params, message),
                    RuleResult(rule.code, RuleStatus.SKIPPED, params, message),
                )
            )
        over_cap = (outcomes[0].failed, *(outcome.skipped for outcome in outcomes[1:]))
        table = _Table(loc, compile_rules(self._rules, outcomes), over_cap)
        self._cache[(loc, has_mfa)] = table
        return table
