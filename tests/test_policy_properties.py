"""Properties of ``PasswordPolicy.evaluate`` over arbitrary strings."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from credflow.messages import DEFAULT_MESSAGES
from credflow.policy import (
    Digit,
    History,
    Lowercase,
    MinLength,
    NoSequence,
    NotBreached,
    NotCommon,
    NotIdentifier,
    PasswordPolicy,
    PolicyContext,
    RangeBreachChecker,
    Rule,
    RuleStatus,
    Special,
    Uppercase,
    presets,
)
from credflow.policy.config import RULE_TYPES

# Every code point, surrogates included: a str from JSON may hold a lone surrogate.
surrogates = st.sampled_from(["\ud800", "\udc00", "\udfff"])
any_char = st.characters(exclude_categories=()) | surrogates
any_text = st.lists(any_char, max_size=200).map("".join)
# Long strings are built by repetition, so a 1,000,000-character case costs no generation time.
long_text = st.builds(
    lambda chunk, size: (chunk * (size // len(chunk) + 1))[:size],
    st.lists(any_char, min_size=1, max_size=8).map("".join),
    st.integers(min_value=100, max_value=1_000_000),
)


def everything_policy() -> PasswordPolicy:
    """One of each built-in rule that needs no optional dependency, with a breach source."""
    return PasswordPolicy(
        [
            MinLength(min=12, min_with_mfa=8),
            Lowercase(min=2),
            Uppercase(),
            Digit(),
            Special(),
            NotIdentifier(),
            NotCommon(strip_affixes=True),
            NoSequence(),
            History(),
            NotBreached(checker=RangeBreachChecker(lambda prefix: f"{'0' * 35}:1\n")),
        ]
    )


EVERYTHING = everything_policy()
POLICIES = [EVERYTHING, presets.classic(), presets.nist()]


@given(
    candidate=any_text | long_text,
    identifier=st.none() | st.lists(any_char, max_size=20).map("".join),
    has_mfa=st.booleans(),
    which=st.sampled_from(range(len(POLICIES))),
)
def test_evaluate_never_raises_for_any_str(
    candidate: str, identifier: str | None, has_mfa: bool, which: int
) -> None:
    policy = POLICIES[which]
    report = policy.evaluate(
        candidate,
        identifier=identifier,
        email=identifier,
        has_mfa=has_mfa,
        history=lambda c, n: False,
    )
    assert report.codes == tuple(rule.code for rule in policy.rules)
    assert all(isinstance(r.status, RuleStatus) for r in report)
    if len(candidate) > 8 * policy.max_length:
        assert report["max_length"].status is RuleStatus.FAILED
        assert all(r.status is RuleStatus.SKIPPED for r in report.results[1:])


@pytest.mark.parametrize("candidate", ["\ud800", "abc\udfffdef", "\udc00" * 200])
def test_lone_surrogates_do_not_raise(candidate: str) -> None:
    for policy in POLICIES:
        report = policy.evaluate(candidate, identifier="\ud800x")
        assert report.codes == tuple(rule.code for rule in policy.rules)


@pytest.mark.req("PW-07")
@given(candidate=st.text(max_size=60), has_mfa=st.booleans())
def test_nfc_and_nfd_give_the_same_report(candidate: str, has_mfa: bool) -> None:
    nfc = unicodedata.normalize("NFC", candidate)
    nfd = unicodedata.normalize("NFD", candidate)
    for policy in POLICIES:
        a = policy.evaluate(nfc, identifier="Zoë", has_mfa=has_mfa)
        b = policy.evaluate(nfd, identifier="Zoë", has_mfa=has_mfa)
        assert a == b


@pytest.mark.req("PW-07")
def test_nfc_and_nfd_of_accented_password() -> None:
    policy = PasswordPolicy([MinLength(min=8), Lowercase(min=8)])
    nfd = unicodedata.normalize("NFD", "éléphant")
    assert len(nfd) == 10
    assert policy.evaluate(nfd) == policy.evaluate("éléphant")
    assert policy.evaluate(nfd).ok


COMPOSITION = PasswordPolicy([Lowercase(), Uppercase(), Digit(), Special()])
COMPOSITION_MIN2 = PasswordPolicy(
    [Lowercase(min=2), Uppercase(min=2), Digit(min=2), Special(alphabet="#$-", min=2)]
)


@pytest.mark.req("PW-13")
@given(
    base=st.text(max_size=40),
    suffix=st.text(alphabet=st.characters(codec=None), max_size=20),
    which=st.sampled_from([COMPOSITION, COMPOSITION_MIN2]),
)
def test_appending_never_breaks_a_composition_rule(
    base: str, suffix: str, which: PasswordPolicy
) -> None:
    """Monotonicity (PW-13): once a composition rule passes, appending cannot make it fail."""
    assert all(rule.composition for rule in which.rules[1:])
    before = which.evaluate(base)
    after = which.evaluate(base + suffix)
    assume(after["max_length"].passed)
    for result in before.results[1:]:
        if result.passed:
            assert after[result.code].passed, result.code


@pytest.mark.req("PW-13")
@given(
    suffix=st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
)
def test_appending_to_a_valid_defi_password(suffix: str) -> None:
    defi = PasswordPolicy([MinLength(min=8), Digit(), Uppercase(), Special()])
    report = defi.evaluate("Abcdefg1$" + suffix)
    assume(report["max_length"].passed)
    assert report.ok


@pytest.mark.req("PW-09")
@given(
    candidate=st.text(max_size=30).map(lambda s: unicodedata.normalize("NFKC", s)),
    identifier=st.none() | st.sampled_from(["adejoux", "bob", "alain.dejoux"]),
    reused=st.booleans(),
)
def test_every_failing_rule_is_reported(
    candidate: str, identifier: str | None, reused: bool
) -> None:
    policy = EVERYTHING
    report = policy.evaluate(candidate, identifier=identifier, history=lambda c, n: reused)
    context = PolicyContext(identifier=identifier, history=lambda c, n: reused)
    expected = [r.code for r in policy.rules if r.check(candidate, context) is False]
    assert [r.code for r in report.failures] == expected
    assert report.ok is (not expected)


@pytest.mark.req("PW-09")
def test_a_candidate_breaking_several_rules_lists_them_all() -> None:
    report = presets.classic().evaluate("adejoux", identifier="adejoux")
    assert [r.code for r in report.failures] == [
        "min_length",
        "uppercase",
        "digit",
        "not_identifier",
    ]
    from credflow.errors import PolicyViolation

    with pytest.raises(PolicyViolation) as info:
        presets.classic().validate("adejoux", identifier="adejoux")
    assert info.value.codes == ("min_length", "uppercase", "digit", "not_identifier")


def all_rules() -> list[Rule]:
    rules: list[Rule] = []
    for rule_type in RULE_TYPES:
        if rule_type is NotBreached:
            rules.append(NotBreached(range_dir="."))
        else:
            rules.append(rule_type())
    return rules


def test_every_rule_code_has_messages_in_fr_and_en() -> None:
    rules = all_rules()
    assert len(rules) == len(RULE_TYPES) == 12
    for locale in ("fr", "en"):
        keys = DEFAULT_MESSAGES.keys(locale)
        for rule in rules:
            assert f"rule.{rule.code}" in keys, (locale, rule.code)
            kind = "clause" if rule.clause else "sentence"
            assert f"{kind}.{rule.code}" in keys, (locale, rule.code)
        for key in ("policy.summary", "policy.join.last", "answer.guidance"):
            assert key in keys


@pytest.mark.parametrize("has_mfa", [False, True])
@pytest.mark.parametrize("value", [1, 2, 5])
def test_every_rule_renders_in_fr_and_en(has_mfa: bool, value: int) -> None:
    """Every rule's label, clause and sentence render with its parameters, in both locales."""
    rules = [
        rule.model_copy(update={k: value for k in ("min", "count") if k in type(rule).model_fields})
        for rule in all_rules()
    ]
    policy = PasswordPolicy(rules)
    for locale in ("fr", "en"):
        report = policy.evaluate("x", locale=locale, has_mfa=has_mfa)
        assert all(r.message and "{" not in r.message for r in report)
        description = policy.describe(locale, has_mfa=has_mfa)
        assert len(description.items) == len(policy.rules)
        assert all("{" not in text for text in (*description.sentences, *description.items))


def test_fr_and_en_catalogues_have_the_same_keys() -> None:
    from credflow.messages import en, fr

    assert set(fr.CATALOG) == set(en.CATALOG)
    assert DEFAULT_MESSAGES.keys("fr") == DEFAULT_MESSAGES.keys("en")
    used = {f"answer.{c}" for c in ("max_length", "min_length", "sequence", "not_identifier")}
    used |= {"answer.not_in_question", "answer.not_common", "answer.guidance"}
    assert used <= DEFAULT_MESSAGES.keys("fr")


@given(candidate=st.text(max_size=130))
def test_report_has_one_result_per_rule_in_order(candidate: str) -> None:
    report = presets.classic().evaluate(candidate)
    assert len(report) == 7
    assert list(report) == list(report.results)
    assert report.ok is (not report.failures)


# Printable: letters, marks, numbers, punctuation, symbols (emoji included) and spaces.
printable = st.characters(categories=("L", "M", "N", "P", "S", "Zs"))


@pytest.mark.req("PW-06")
@given(
    candidate=st.lists(printable, min_size=1, max_size=80).map("".join),
    identifier=st.text(printable, min_size=1, max_size=20),
    has_mfa=st.booleans(),
)
def test_nist_refuses_no_printable_character(
    candidate: str, identifier: str, has_mfa: bool
) -> None:
    """Preset N accepts any printable string, emoji and spaces included, whose length (code
    points after NFKC) is within bounds and which the blocklist and the context checks, each
    run alone, let through: no character class is ever a reason to refuse."""
    nist = presets.nist()
    assert {rule.code for rule in nist.rules} == {
        "max_length",
        "min_length",
        "not_identifier",
        "not_common",
    }
    length = len(unicodedata.normalize("NFKC", candidate))
    long_enough = length >= (8 if has_mfa else 15) and length <= 64
    alone = [PasswordPolicy([NotIdentifier()]), PasswordPolicy([NotCommon(strip_affixes=True)])]
    allowed = all(p.evaluate(candidate, identifier=identifier).ok for p in alone)
    report = nist.evaluate(candidate, identifier=identifier, has_mfa=has_mfa)
    assert report.ok is (long_enough and allowed)


@pytest.mark.req("PW-06")
@pytest.mark.parametrize(
    "candidate",
    [
        "🦊🐢🦉 dans la forêt 🌲🌲",
        "correct horse battery staple",
        "日本語のパスワードです、長いですね",
        "Пароль из кириллицы и цифр 2024",
        "~!@#$%^&*()_+{}|:<>? []\\;',./`",
    ],
)
def test_emoji_spaces_and_other_scripts_are_accepted(candidate: str) -> None:
    assert presets.nist().evaluate(candidate, identifier="adejoux").ok
