"""Table tests at the boundary of every built-in password rule."""

from __future__ import annotations

import sys

import pytest

from credflow.errors import MissingDependency
from credflow.policy import (
    Digit,
    History,
    Lowercase,
    MaxLength,
    MinLength,
    MinStrength,
    NoSequence,
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
from credflow.policy.rules import DEFAULT_SPECIALS


def status(policy: PasswordPolicy, candidate: str, code: str, **context: object) -> RuleStatus:
    """The status of one rule for ``candidate`` (context passed to ``evaluate``)."""
    return policy.evaluate(candidate, **context)[code].status  # type: ignore[arg-type]


def single(rule: Rule) -> PasswordPolicy:
    return PasswordPolicy([rule])


# -- length ------------------------------------------------------------------------------------


@pytest.mark.req("PW-01")
@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("a" * 7, RuleStatus.FAILED),
        ("a" * 8, RuleStatus.PASSED),
        ("a" * 9, RuleStatus.PASSED),
        ("", RuleStatus.FAILED),
    ],
)
def test_min_length_boundary(candidate: str, expected: RuleStatus) -> None:
    policy = single(MinLength(min=8))
    assert status(policy, candidate, "min_length") is expected
    assert MinLength(min=8).check(candidate) is (expected is RuleStatus.PASSED)


@pytest.mark.req("PW-04")
@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("🙂" * 8, RuleStatus.PASSED),  # 8 code points, 32 UTF-8 bytes, 16 UTF-16 units
        ("🙂" * 7, RuleStatus.FAILED),  # 28 bytes: a byte count would pass it
        ("é" * 8, RuleStatus.PASSED),
        ("e\u0301" * 8, RuleStatus.PASSED),  # NFKC composes to 8 code points
        ("e\u0301" * 7, RuleStatus.FAILED),  # 14 raw code points, 7 after NFKC
    ],
)
def test_min_length_counts_code_points(candidate: str, expected: RuleStatus) -> None:
    assert status(single(MinLength(min=8)), candidate, "min_length") is expected


@pytest.mark.req("PW-03")
@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (64, RuleStatus.PASSED),
        (127, RuleStatus.PASSED),
        (128, RuleStatus.PASSED),
        (129, RuleStatus.FAILED),
        (1024, RuleStatus.FAILED),
        (1025, RuleStatus.FAILED),
    ],
)
def test_max_length_boundary(length: int, expected: RuleStatus) -> None:
    policy = PasswordPolicy([MinLength(min=8)])
    candidate = "Ab1$" * (length // 4) + "x" * (length % 4)
    assert len(candidate) == length
    report = policy.evaluate(candidate)
    assert report["max_length"].status is expected
    assert report.ok is (expected is RuleStatus.PASSED)
    assert MaxLength().check(candidate) is (expected is RuleStatus.PASSED)


@pytest.mark.req("PW-03")
def test_max_length_is_measured_after_nfkc() -> None:
    policy = single(MaxLength(max=10))
    assert policy.evaluate("e\u0301" * 10).ok  # 20 raw, 10 after NFKC
    assert not policy.evaluate("e\u0301" * 11).ok
    # U+FDFA expands to 18 code points under NFKC: one character is over a cap of 10.
    assert not policy.evaluate("\ufdfa").ok


@pytest.mark.req("PW-03")
def test_policy_always_starts_with_max_length() -> None:
    policy = PasswordPolicy([MinLength(), MaxLength(max=64), Digit()])
    assert [rule.code for rule in policy.rules] == ["max_length", "min_length", "digit"]
    assert policy.max_length == 64
    added = PasswordPolicy([Digit()])
    assert [rule.code for rule in added.rules] == ["max_length", "digit"]
    assert added.max_length == 128


def test_min_length_with_mfa() -> None:
    rule = MinLength(min=15, min_with_mfa=8)
    assert rule.check("a" * 8, PolicyContext(has_mfa=True))
    assert not rule.check("a" * 14, PolicyContext(has_mfa=False))
    assert rule.check("a" * 15)
    assert not rule.check("a" * 7, PolicyContext(has_mfa=True))
    assert rule.params_for(has_mfa=True) == {"min": 8}
    assert rule.params_for() == {"min": 15}
    assert MinLength(min=10).effective(has_mfa=True) == 10


# -- character classes ------------------------------------------------------------------------


@pytest.mark.req("PW-13")
@pytest.mark.parametrize("char", list(DEFAULT_SPECIALS))
def test_each_default_special_counts(char: str) -> None:
    assert Special().check(f"Abcdefg1{char}")
    assert status(single(Special()), f"abc{char}", "special") is RuleStatus.PASSED


def test_default_specials_are_the_portal_list() -> None:
    assert sorted(DEFAULT_SPECIALS) == sorted("$?!&%*_@")


@pytest.mark.req("PW-13")
@pytest.mark.parametrize("char", ["#", "-", "+", " ", ".", "é", "🙂", "~", "'", '"'])
def test_unlisted_characters_do_not_count_but_are_never_rejected(char: str) -> None:
    assert not Special().check(f"Abcdefg1{char}")
    defi = PasswordPolicy([MinLength(min=8), Digit(), Uppercase(), Special()])
    assert [r.code for r in defi.evaluate(f"Abcdefg1{char}").failures] == ["special"]
    assert defi.evaluate(f"Abcdefg1{char}$").ok


@pytest.mark.req("PW-13")
@pytest.mark.parametrize(
    ("candidate", "failures"),
    [
        ("Abcdefg1$", []),
        ("Abcdefg1#", ["special"]),
        ("Abcdefg1#$", []),
        ("abcdefg1$", ["uppercase"]),  # no lowercase rule in DEFI
        ("ABCDEFG1$", []),
        ("Abcdefgh$", ["digit"]),
        ("Abc1$", ["min_length"]),
    ],
)
def test_defi_like_policy(candidate: str, failures: list[str]) -> None:
    defi = PasswordPolicy([MinLength(min=8), Digit(), Uppercase(), Special()])
    assert [r.code for r in defi.evaluate(candidate).failures] == failures


def test_special_with_custom_alphabet_and_min() -> None:
    rule = Special(alphabet="#-", min=2)
    assert rule.check("ab#-")
    assert rule.check("##")
    assert not rule.check("ab#$")
    assert not rule.check("$$")
    assert rule.message_params({"min": 2}) == {"min": 2, "alphabet": "# -"}


@pytest.mark.parametrize(
    ("rule_type", "one", "none"),
    [
        (Lowercase, "ABCDEFa1", "ABCDEF12"),
        (Uppercase, "abcdefA1", "abcdef12"),
        (Digit, "abcdefA1", "abcdefAB"),
    ],
)
def test_character_class_min_one(rule_type: type[Rule], one: str, none: str) -> None:
    rule = rule_type()
    assert rule.check(one)
    assert not rule.check(none)
    assert not rule.check("")
    policy = single(rule)
    assert status(policy, one, rule.code) is RuleStatus.PASSED
    assert status(policy, none, rule.code) is RuleStatus.FAILED


@pytest.mark.parametrize(
    ("rule_type", "two", "one"),
    [
        (Lowercase, "ABCDab", "ABCDa1"),
        (Uppercase, "abcdAB", "abcdA1"),
        (Digit, "abcd12", "abcd1A"),
    ],
)
def test_character_class_min_two(rule_type: type[Rule], two: str, one: str) -> None:
    rule = rule_type(min=2)  # type: ignore[call-arg]
    assert rule.check(two)
    assert not rule.check(one)
    policy = single(rule)
    assert status(policy, two, rule.code) is RuleStatus.PASSED
    assert status(policy, one, rule.code) is RuleStatus.FAILED


@pytest.mark.parametrize(
    ("rule", "candidate", "expected"),
    [
        (Lowercase(), "ÉCOLEé", True),  # Unicode lowercase counts
        (Lowercase(), "ÉCOLE", False),
        (Uppercase(), "écoleÉ", True),
        (Uppercase(), "école", False),
        (Digit(), "abc١", True),  # Arabic-Indic digit is a decimal digit
        (Digit(), "abc²", False),  # superscript two is not decimal (and NFKC is the caller's job)
        (Lowercase(min=2), "ÉCOLEéè", True),
        (Uppercase(min=2), "écoleÉ", False),
    ],
)
def test_character_classes_are_unicode_aware(rule: Rule, candidate: str, expected: bool) -> None:
    assert rule.check(candidate) is expected


def test_full_width_digit_counts_after_nfkc() -> None:
    assert status(single(Digit()), "abc１", "digit") is RuleStatus.PASSED


# -- not_identifier ---------------------------------------------------------------------------

IDENTIFIER_CASES = [
    # (candidate, identifier, email, passes)
    ("HELLO@EXAMPLE.COM", None, "hello@example.com", False),
    ("HELLO@EXAMPLE.COM", "hello@example.com", None, False),
    ("123hello@example.com123", "hello@example.com", None, False),
    ("123Hello123", "hello@example.com", None, False),
    ("Example2024!", "hello@example.com", None, True),  # the domain is ignored
    ("Correct-Horse-42", "hello@example.com", None, True),
    ("xxADEJOUXxx", "adejoux", None, False),
    ("Adejoux2024", "adejoux", None, False),
    ("Ad3joux2024", "adejoux", None, True),
    ("MonAlainDeJeu1", "alain.dejoux", None, False),  # dotted identifier split into parts
    ("Dejoux2024", "alain.dejoux", None, False),
    ("Alaindejoux", "alain.dejoux", None, False),
    ("xAlXy", "al.dejoux", None, True),  # the part "al" is shorter than 3: ignored
    ("xDejoux", "al.dejoux", None, False),
    ("Whatever1", "", None, True),
    ("Whatever1", None, None, None),  # nothing to compare with: skipped, not passed
    ("ｄｅｊｏｕｘ99", "dejoux", None, False),  # full-width letters match after NFKC
]


@pytest.mark.req("PW-11")
@pytest.mark.parametrize(("candidate", "identifier", "email", "passes"), IDENTIFIER_CASES)
def test_not_identifier(
    candidate: str, identifier: str | None, email: str | None, passes: bool | None
) -> None:
    policy = single(NotIdentifier())
    expected = {True: RuleStatus.PASSED, False: RuleStatus.FAILED, None: RuleStatus.SKIPPED}[passes]
    got = status(policy, candidate, "not_identifier", identifier=identifier, email=email)
    assert got is expected


@pytest.mark.req("PW-11")
def test_not_identifier_min_part() -> None:
    rule = NotIdentifier(min_part=2)
    context = PolicyContext(identifier="al.dejoux")
    assert not rule.check("xalx", context)
    assert NotIdentifier().check("xalx", context)
    assert not NotIdentifier().check("xdejoux", PolicyContext(email="Al.Dejoux@Example.org"))


# -- not_common -------------------------------------------------------------------------------


@pytest.mark.req("PW-08")
@pytest.mark.parametrize("candidate", ["Password1!", "P@ssw0rd", "PASSWORD", "azerty123"])
def test_not_common_rejects_listed_passwords_case_insensitively(candidate: str) -> None:
    assert candidate.casefold() in common_passwords()
    assert not NotCommon().check(candidate.casefold())
    assert status(single(NotCommon()), candidate, "not_common") is RuleStatus.FAILED


@pytest.mark.req("PW-08")
def test_not_common_strip_affixes() -> None:
    assert "password1234567" not in common_passwords()
    assert "password" in common_passwords()
    plain, strip = NotCommon(), NotCommon(strip_affixes=True)
    assert plain.check("password1234567")
    assert not strip.check("password1234567")
    assert not strip.check("!soleil2024")
    assert not strip.check("Password")
    assert strip.check("correct horse battery staple")
    # the word left is shorter than 4 characters: not refused ("abc" is listed)
    assert "abc" in common_passwords()
    assert strip.check("!!abc!!")
    assert not strip.check("abc")


def test_not_common_accepts_unlisted() -> None:
    assert NotCommon().check("correct horse battery staple")
    assert NotCommon().size == len(common_passwords()) > 10_000


# -- no_sequence ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "passes"),
    [
        ("x1234x", False),
        ("abcdef", False),
        ("Bleu-Azerty", False),
        ("myqwertyx", False),
        ("dcba", False),
        ("4321", False),
        ("aaaa", False),
        ("AbCd", False),
        ("QWERTZ", False),
        ("a1b2c3d4", True),
        ("aaa", True),
        ("123", True),
        ("abd1", True),
        ("Bleu-Canard", True),
        ("", True),
    ],
)
def test_no_sequence(candidate: str, passes: bool) -> None:
    assert NoSequence().check(candidate) is passes
    expected = RuleStatus.PASSED if passes else RuleStatus.FAILED
    assert status(single(NoSequence()), candidate, "no_sequence") is expected


def test_no_sequence_min_run() -> None:
    assert not NoSequence(min_run=3).check("x123x")
    assert not NoSequence(min_run=3).check("aaa")
    assert NoSequence(min_run=5).check("x1234x")
    assert not NoSequence(min_run=5).check("x12345x")


# -- history ----------------------------------------------------------------------------------


@pytest.mark.req("PW-14")
def test_history_is_skipped_without_a_checker() -> None:
    assert History().check("anything") is None
    assert status(single(History()), "anything", "history") is RuleStatus.SKIPPED


@pytest.mark.req("PW-14")
@pytest.mark.parametrize(
    ("reused", "expected"), [(True, RuleStatus.FAILED), (False, RuleStatus.PASSED)]
)
def test_history_asks_the_checker(reused: bool, expected: RuleStatus) -> None:
    calls: list[tuple[str, int]] = []

    def checker(candidate: str, count: int) -> bool:
        calls.append((candidate, count))
        return reused

    policy = single(History(count=7))
    report = policy.evaluate("Cafe\u0301-Bleu", history=checker)
    assert report["history"].status is expected
    assert calls == [("Café-Bleu", 7)]  # the normalised candidate and the count


# -- min_strength -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "passes"),
    [("password", False), ("Tr0ub4dour&3", False), ("correct horse battery staple", True)],
)
def test_min_strength(candidate: str, passes: bool) -> None:
    assert MinStrength(score=3).check(candidate) is passes
    assert single(MinStrength()).evaluate(candidate).ok is passes


def test_min_strength_uses_context_as_hints() -> None:
    rule = MinStrength(score=4)
    assert rule.check("zebulon-kerfuffle-1987")
    assert not rule.check("zebulon-kerfuffle-1987", PolicyContext(identifier="zebulon-kerfuffle"))


def test_min_strength_score_zero_accepts_anything() -> None:
    assert MinStrength(score=0).check("a")


@pytest.mark.parametrize("params", [{}, {"score": 2}])
def test_min_strength_without_zxcvbn(
    monkeypatch: pytest.MonkeyPatch, params: dict[str, int]
) -> None:
    monkeypatch.setitem(sys.modules, "zxcvbn", None)  # makes ``import zxcvbn`` fail
    with pytest.raises(MissingDependency, match=r"credflow\[zxcvbn\]") as info:
        MinStrength(**params)
    assert isinstance(info.value, ImportError)
    assert info.value.extra == "zxcvbn"


def test_min_strength_config_without_zxcvbn(monkeypatch: pytest.MonkeyPatch) -> None:
    from credflow.errors import ConfigurationError

    monkeypatch.setitem(sys.modules, "zxcvbn", None)
    with pytest.raises(MissingDependency, match=r"pip install 'credflow\[zxcvbn\]'") as info:
        PasswordPolicy.from_dict({"rules": [{"rule": "min_strength"}]})
    assert isinstance(info.value, ConfigurationError)  # and an ImportError


# -- rule objects -----------------------------------------------------------------------------


def test_rules_are_frozen_and_reject_unknown_parameters() -> None:
    from pydantic import ValidationError

    rule = MinLength(min=8)
    with pytest.raises(ValidationError):
        rule.min = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        MinLength(minimum=8)  # type: ignore[call-arg]


def test_base_rule_has_no_check() -> None:
    class Bare(Rule):
        rule: str = "bare"

    bare = Bare()
    assert bare.inline() is None
    assert bare.deviations() == ()
    assert bare.code == "bare"
    assert bare.message_params({"a": 1}) == {"a": 1}
    with pytest.raises(NotImplementedError):
        bare.check("x")
