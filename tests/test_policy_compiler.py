"""The compiled policy function agrees with the rules' own ``check`` on arbitrary input.

``credflow.policy.compiler`` joins the rules' inline expressions into one function; these
properties prove that the inlining changes nothing: for any candidate (NFKC, within the cap) and
any context, ``PasswordPolicy.evaluate`` gives each rule the verdict ``rule.check`` gives.
"""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from credflow.messages import Messages
from credflow.policy import (
    Digit,
    History,
    Lowercase,
    MaxLength,
    MinLength,
    NoSequence,
    NotBreached,
    NotCommon,
    NotIdentifier,
    PasswordPolicy,
    PolicyContext,
    Rule,
    RuleStatus,
    Special,
    Uppercase,
)
from credflow.policy.common import common_passwords
from credflow.policy.compiler import Outcomes, compile_rules
from credflow.policy.report import RuleResult
from credflow.policy.rules import EMPTY_CONTEXT

COMMON = sorted(common_passwords())[:2000]
IDENTIFIERS = ["adejoux", "alain.dejoux", "hello@example.com", "d.dupont@defi.fr", "Zoë", "ab"]


class FakeBreaches:
    """Breached when the candidate holds a ``!``; unavailable when it holds a ``?``."""

    def breach_count(self, password: str) -> int:
        if "?" in password:
            from credflow.errors import BreachCheckUnavailable

            raise BreachCheckUnavailable("down")
        return 3 if "!" in password else 0


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def verdict_status(verdict: bool | None) -> RuleStatus:
    if verdict is None:
        return RuleStatus.SKIPPED
    return RuleStatus.PASSED if verdict else RuleStatus.FAILED


def class_oracle(rule: Rule, candidate: str) -> bool:
    """The character-class rules' meaning, written independently of their fast paths."""
    tests = {"lowercase": str.islower, "uppercase": str.isupper, "digit": str.isdecimal}
    if isinstance(rule, Special):
        return sum(ch in rule.alphabet for ch in candidate) >= rule.min
    need: int = rule.min  # type: ignore[attr-defined]
    return sum(1 for ch in candidate if tests[rule.code](ch)) >= need


alphabets = st.text(alphabet=st.sampled_from("$?!&%*_@#-+.é€ß"), min_size=1, max_size=6).filter(
    lambda a: a == nfkc(a)
)

rule_sets = st.fixed_dictionaries(
    {
        "max": st.integers(64, 128),
        "min": st.integers(1, 20),
        "min_with_mfa": st.none() | st.integers(1, 20),
        "lower": st.integers(1, 3),
        "upper": st.integers(1, 3),
        "digit": st.integers(1, 3),
        "special_min": st.integers(1, 3),
        "alphabet": alphabets,
        "min_part": st.integers(1, 5),
        "strip": st.booleans(),
        "min_run": st.integers(3, 6),
        "count": st.integers(1, 24),
        "fail": st.sampled_from(["open", "closed"]),
        "max_breaches": st.integers(0, 5),
    }
)


def build_rules(p: dict[str, object]) -> list[Rule]:
    return [
        MaxLength(max=p["max"]),  # type: ignore[arg-type]
        MinLength(min=p["min"], min_with_mfa=p["min_with_mfa"]),  # type: ignore[arg-type]
        Lowercase(min=p["lower"]),  # type: ignore[arg-type]
        Uppercase(min=p["upper"]),  # type: ignore[arg-type]
        Digit(min=p["digit"]),  # type: ignore[arg-type]
        Special(alphabet=p["alphabet"], min=p["special_min"]),  # type: ignore[arg-type]
        NotIdentifier(min_part=p["min_part"]),  # type: ignore[arg-type]
        NotCommon(strip_affixes=p["strip"]),  # type: ignore[arg-type]
        NoSequence(min_run=p["min_run"]),  # type: ignore[arg-type]
        History(count=p["count"]),  # type: ignore[arg-type]
        NotBreached(
            checker=FakeBreaches(),
            fail=p["fail"],  # type: ignore[arg-type]
            max_breaches=p["max_breaches"],  # type: ignore[arg-type]
        ),
    ]


# Candidates mix arbitrary text with the material the rules look for (common passwords,
# identifiers, runs, specials), so every rule sees both verdicts.
pieces = st.one_of(
    st.text(max_size=12),
    st.sampled_from(COMMON),
    st.sampled_from(IDENTIFIERS),
    st.sampled_from(["1234", "abcd", "azerty", "aaaa", "dcba", "A", "Z", "É", "7", "١"]),
    st.text(alphabet="$?!&%*_@#é€ßaA1 ", max_size=6),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=6),
)
mixed = st.lists(pieces, max_size=5).map("".join)
ascii_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=16)
affixes = st.text(alphabet="0123456789!?#_-. ", max_size=4)
common = st.sampled_from(COMMON)
recased = st.tuples(common, st.sampled_from([str.upper, str.title, str.swapcase])).map(
    lambda pair: pair[1](pair[0])
)
wrapped = st.tuples(affixes, common, affixes).map("".join)
local_parts = st.text(alphabet="abcdefghijklmnopqrstuvwxyz.-_0123456789é", min_size=1, max_size=10)
EMAIL = "{}@example.org"


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, object], PolicyContext, list[str]]:
    """A context and one candidate of each family, some holding the context's own values."""
    identifier = draw(st.none() | st.sampled_from(IDENTIFIERS) | st.text(max_size=10))
    email = draw(st.none() | st.sampled_from(IDENTIFIERS) | local_parts.map(EMAIL.format))
    has_mfa = draw(st.booleans())
    reused = draw(st.none() | st.booleans())
    history = None if reused is None else (lambda candidate, count: reused)
    kwargs = {"identifier": identifier, "email": email, "has_mfa": has_mfa, "history": history}
    own = [value.partition("@")[0] for value in (identifier, email) if value] or [""]
    chosen = own[draw(st.integers(0, len(own) - 1))].upper()
    found = [
        draw(mixed),
        draw(ascii_text),
        draw(common),
        draw(recased),
        draw(wrapped),
        draw(affixes) + chosen + draw(affixes),
    ]
    return kwargs, PolicyContext(identifier, email, has_mfa, history), [nfkc(c) for c in found]


def assert_agrees(
    policy: PasswordPolicy,
    rules: list[Rule],
    kwargs: dict[str, object],
    ctx: PolicyContext,
    candidate: str,
) -> None:
    if len(candidate) > policy.max_length:
        return
    report = policy.evaluate(candidate, **kwargs)  # type: ignore[arg-type]
    results = report.results[len(report.results) - len(rules) :]
    assert [r.code for r in results] == [rule.code for rule in rules]
    for rule, result in zip(rules, results, strict=True):
        assert result.status is verdict_status(rule.check(candidate, ctx)), (rule, candidate)
        if isinstance(rule, Lowercase | Uppercase | Digit | Special):
            assert result.passed is class_oracle(rule, candidate), (rule, candidate)


@given(params=rule_sets, case=cases())
def test_compiled_policy_agrees_with_every_rule(
    params: dict[str, object], case: tuple[dict[str, object], PolicyContext, list[str]]
) -> None:
    kwargs, ctx, found = case
    rules = build_rules(params)
    policy = PasswordPolicy(rules)
    assert policy.rules == tuple(rules)
    for candidate in found:
        assert_agrees(policy, rules, kwargs, ctx, candidate)


@given(case=cases())
def test_compiled_policy_in_other_orders(
    case: tuple[dict[str, object], PolicyContext, list[str]],
) -> None:
    """The default parameters (min 1 fast paths, no MFA minimum) in the reverse order."""
    kwargs, ctx, found = case
    rules: list[Rule] = [
        NotCommon(),
        NotIdentifier(),
        Special(),
        Digit(),
        Uppercase(),
        Lowercase(),
        MinLength(),
    ]
    policy = PasswordPolicy(rules)
    assert policy.rules[0].code == "max_length"
    for candidate in found:
        assert_agrees(policy, rules, kwargs, ctx, candidate)


def test_character_classes_on_every_latin_character() -> None:
    """Each character alone (the ASCII fast path) and beside a non-ASCII one (the slow path)."""
    rule_sets: list[list[Rule]] = [
        [Lowercase(), Uppercase(), Digit(), Special()],
        [Lowercase(min=2), Uppercase(min=2), Digit(min=2), Special(alphabet="#$é", min=2)],
    ]
    for rules in rule_sets:
        policy = PasswordPolicy(rules)
        for code_point in range(0x250):
            char = nfkc(chr(code_point))
            for candidate in (char, char + "\u0394", char * 2, char * 2 + "\u03b4"):
                report = policy.evaluate(candidate)
                for rule, result in zip(rules, report.results[1:], strict=True):
                    assert result.passed is class_oracle(rule, candidate), (rule, candidate)


@given(candidate=st.text(max_size=40).map(nfkc))
def test_compile_matches_check_for_each_rule(candidate: str) -> None:
    """``Rule.compile`` (the non-inlined path) agrees with ``Rule.check`` too."""
    ctx_sets = [PolicyContext(), PolicyContext(identifier="adejoux", has_mfa=True)]
    rules: list[Rule] = [
        MaxLength(max=20),
        MinLength(min=10, min_with_mfa=5),
        MinLength(min=3),
        Lowercase(),
        Lowercase(min=2),
        Uppercase(min=3),
        Digit(),
        Special(),
        Special(alphabet="#é", min=2),
        NotIdentifier(),
        NotCommon(),
        NotCommon(strip_affixes=True),
        NoSequence(),
    ]
    for rule in rules:
        compiled = rule.compile()
        for ctx in ctx_sets:
            assert compiled(candidate, ctx) == rule.check(candidate, ctx), rule.code


def test_compiler_never_turns_parameters_into_source() -> None:
    """A parameter that looks like code is matched as data by the compiled function."""
    alphabet = "')+__import__('os')#"
    rule = Special(alphabet=alphabet, min=2)
    policy = PasswordPolicy([rule])
    assert policy.evaluate("xx''").ok
    assert not policy.evaluate("xx'").ok
    assert policy.evaluate("(os)").ok


def test_compile_rules_calls_rules_without_an_expression() -> None:
    calls: list[str] = []

    class Spy(Rule):
        rule: str = "spy"

        def check(self, candidate: str, context: PolicyContext = EMPTY_CONTEXT) -> bool | None:
            calls.append(candidate)
            return {"yes": True, "no": False}.get(candidate)

    def outcomes(code: str) -> Outcomes:
        return Outcomes(
            *(
                RuleResult(code, status, {}, code) for status in RuleStatus
            )  # passed, failed, skipped
        )

    run = compile_rules([Spy(), MinLength(min=3)], [outcomes("spy"), outcomes("min_length")])
    assert [r.status for r in run("yes", PolicyContext())] == ["passed", "passed"]
    assert [r.status for r in run("no", PolicyContext())] == ["failed", "failed"]
    assert [r.status for r in run("maybe", PolicyContext())] == ["skipped", "passed"]
    assert calls == ["yes", "no", "maybe"]


def test_custom_rule_runs_inside_a_policy() -> None:
    class NoBleu(Rule):
        rule: str = "no_bleu"

        def check(self, candidate: str, context: PolicyContext = EMPTY_CONTEXT) -> bool | None:
            return "bleu" not in candidate.casefold()

    messages = Messages(
        overrides={"fr": {"rule.no_bleu": "Sans « bleu »", "sentence.no_bleu": "Pas de bleu."}}
    )
    policy = PasswordPolicy([MinLength(min=4), NoBleu()], messages=messages)
    assert policy.evaluate("rouge").ok
    report = policy.evaluate("BLEU")
    assert [r.code for r in report.failures] == ["no_bleu"]
    assert report["no_bleu"].message == "Sans « bleu »"
    assert policy.describe("fr").sentences[-1] == "Pas de bleu."
