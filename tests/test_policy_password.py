"""``PasswordPolicy``: bad input, the length guard, reports and violations."""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar

import pytest

from credflow.errors import ConfigurationError, PolicyViolation
from credflow.messages import Messages
from credflow.policy import (
    Digit,
    MaxLength,
    MinLength,
    PasswordPolicy,
    PolicyContext,
    PolicyReport,
    Rule,
    RuleResult,
    RuleStatus,
    presets,
)
from credflow.policy.rules import EMPTY_CONTEXT

SECRET = "Zq9$unique-Secret-4711"


class Recorder(Rule):
    """A custom rule that records every call (a spy)."""

    rule: str = "recorder"
    calls: ClassVar[list[str]] = []

    def check(self, candidate: str, context: PolicyContext = EMPTY_CONTEXT) -> bool | None:
        Recorder.calls.append(candidate)
        return True


RECORDER_MESSAGES = Messages(
    overrides={
        "fr": {"rule.recorder": "Enregistré", "sentence.recorder": "Enregistré."},
        "en": {"rule.recorder": "Recorded", "sentence.recorder": "Recorded."},
    }
)


@pytest.fixture
def recorder() -> list[str]:
    Recorder.calls = []
    return Recorder.calls


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("candidate", [b"password", None, 12345678, ["a"], 3.5])
def test_non_str_candidate_raises_type_error(candidate: Any) -> None:
    policy = presets.classic()
    with pytest.raises(
        TypeError, match=rf"candidate must be a str, not {type(candidate).__name__}"
    ):
        policy.evaluate(candidate)
    with pytest.raises(TypeError, match="must be a str"):
        policy.validate(candidate)


@pytest.mark.req("PW-03")
def test_one_megabyte_is_refused_fast_without_running_rules(recorder: list[str]) -> None:
    policy = PasswordPolicy([MinLength(), Digit(), Recorder()], messages=RECORDER_MESSAGES)
    assert policy.evaluate("abcdefgh1").ok
    assert recorder == ["abcdefgh1"]  # the spy works
    huge = "a1" * 500_000
    durations = []
    for _ in range(3):
        start = time.perf_counter()
        report = policy.evaluate(huge, identifier="adejoux")
        durations.append(time.perf_counter() - start)
    assert min(durations) < 0.01
    assert max(durations) < 0.05
    assert recorder == ["abcdefgh1"]  # never called for the huge input
    assert report["max_length"].status is RuleStatus.FAILED
    assert [r.status for r in report.results[1:]] == [RuleStatus.SKIPPED] * 3
    assert [r.code for r in report.failures] == ["max_length"]
    assert not report.ok


@pytest.mark.req("PW-03")
@pytest.mark.parametrize("length", [129, 1024, 1025, 4096])
def test_over_cap_skips_every_other_rule(length: int, recorder: list[str]) -> None:
    policy = PasswordPolicy([MinLength(), Recorder()], messages=RECORDER_MESSAGES)
    report = policy.evaluate("x" * length)
    assert [r.status for r in report] == ["failed", "skipped", "skipped"]
    assert recorder == []


@pytest.mark.req("PW-16")
def test_spaces_are_part_of_the_password() -> None:
    policy = PasswordPolicy([MinLength(min=8)])
    assert policy.evaluate("  abcd  ").ok
    assert not policy.evaluate("abcd").ok
    assert not policy.evaluate("abcd  ").ok  # 6 code points: spaces are not trimmed away


# -- reports ----------------------------------------------------------------------------------


def test_report_accessors() -> None:
    report = presets.classic().evaluate("abcdefgh", identifier="zz")
    assert not report.ok
    assert report.codes == (
        "max_length",
        "min_length",
        "lowercase",
        "uppercase",
        "digit",
        "not_identifier",
        "not_common",
    )
    assert [r.code for r in report.failures] == ["uppercase", "digit", "not_common"]
    assert report["digit"].status is RuleStatus.FAILED
    assert not report["digit"].passed
    assert report["lowercase"].passed
    assert report["min_length"].params == {"min": 8}
    assert report.locale == "fr"
    assert report["digit"].message == "Au moins un chiffre"
    assert len(report) == 7
    with pytest.raises(KeyError, match="special"):
        report["special"]


def test_skipped_rules_do_not_fail_a_candidate() -> None:
    from credflow.policy import History

    report = PasswordPolicy([MinLength(min=3), History()]).evaluate("abcd")
    assert report["history"].status is RuleStatus.SKIPPED
    assert not report["history"].passed
    assert report.ok
    assert report.failures == ()


def test_report_to_dict_is_json_ready() -> None:
    report = presets.classic().evaluate(SECRET, identifier="adejoux", locale="en")
    data = report.to_dict()
    text = json.dumps(data)
    assert json.loads(text) == data
    assert data["ok"] is True
    assert data["locale"] == "en"
    assert [rule["code"] for rule in data["rules"]] == list(report.codes)
    first = data["rules"][1]
    assert first == {
        "code": "min_length",
        "passed": True,
        "status": "passed",
        "params": {"min": 8},
        "message": "At least 8 characters",
    }
    assert SECRET not in text


def test_report_never_holds_the_candidate() -> None:
    policy = presets.classic()
    for candidate in (SECRET, "short"):
        report = policy.evaluate(candidate, identifier="adejoux")
        assert candidate not in repr(report)
        assert candidate not in json.dumps(report.to_dict())
        for result in report:
            assert candidate not in repr(result)
    with pytest.raises(PolicyViolation) as info:
        policy.validate("short")
    assert "short" not in str(info.value)
    assert "short" not in repr(info.value)
    assert "short" not in repr(info.value.failures)


def test_report_equality_and_hash() -> None:
    policy = presets.classic()
    a = policy.evaluate(SECRET)
    b = policy.evaluate("Another-Strong-Pass-99")
    c = policy.evaluate("abc")
    d = policy.evaluate(SECRET, locale="en")
    assert a == b
    assert hash(a) == hash(b)
    assert a != c
    assert a != d
    assert a != "report"
    assert repr(a).startswith("PolicyReport(ok=")


def test_rule_result_to_dict() -> None:
    result = RuleResult("digit", RuleStatus.SKIPPED, {"min": 1}, "m")
    same = RuleResult("digit", RuleStatus.SKIPPED, {"min": 1}, "m")
    assert result == same
    assert hash(result) == hash(same)
    assert result != RuleResult("digit", RuleStatus.SKIPPED, {"min": 2}, "m")
    assert result.to_dict() == {
        "code": "digit",
        "passed": False,
        "status": "skipped",
        "params": {"min": 1},
        "message": "m",
    }


def test_an_empty_report_is_ok() -> None:
    report = PolicyReport((), "fr")
    assert report.ok
    assert report.codes == ()


# -- validate and violations ------------------------------------------------------------------


@pytest.mark.req("PW-09")
def test_validate_returns_the_report_when_ok() -> None:
    policy = presets.classic()
    report = policy.validate(SECRET, identifier="adejoux", locale="en")
    assert report.ok
    assert report == policy.evaluate(SECRET, identifier="adejoux", locale="en")


@pytest.mark.req("PW-09")
def test_validate_raises_with_every_failure() -> None:
    policy = presets.classic()
    with pytest.raises(PolicyViolation) as info:
        policy.validate("password", locale="en")
    error = info.value
    assert error.codes == ("uppercase", "digit", "not_common")
    assert [r.code for r in error.failures] == list(error.codes)
    assert all(r.status is RuleStatus.FAILED for r in error.failures)
    assert str(error) == "policy not met: uppercase, digit, not_common"
    assert error.failures[0].message == "At least one uppercase letter"


def test_validate_passes_the_context_through() -> None:
    policy = PasswordPolicy([MinLength(min=15, min_with_mfa=8)])
    with pytest.raises(PolicyViolation):
        policy.validate("abcdefgh")
    assert policy.validate("abcdefgh", has_mfa=True).ok


# -- construction and inspection --------------------------------------------------------------


def test_policy_rejects_non_rules_and_duplicates() -> None:
    with pytest.raises(ConfigurationError) as info:
        PasswordPolicy([MinLength(), "digit"])  # type: ignore[list-item]
    assert info.value.field == "rules[1]"
    assert "str" in str(info.value)
    with pytest.raises(ConfigurationError, match="duplicate rule 'digit'") as dup:
        PasswordPolicy([Digit(), MinLength(), Digit(min=2)])
    assert dup.value.field == "rules[2]"
    with pytest.raises(ConfigurationError, match="duplicate rule 'max_length'"):
        PasswordPolicy([MaxLength(), MaxLength(max=64)])


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([MaxLength(max=10), MinLength(min=11)], "rules[1].min"),
        ([MaxLength(max=10), MinLength(min=8, min_with_mfa=11)], "rules[1].min_with_mfa"),
        ([MinLength(min=8), MaxLength(max=7)], "rules[0].min"),
    ],
)
def test_min_length_above_max_length_is_refused(rules: list[Rule], field: str) -> None:
    with pytest.raises(ConfigurationError, match="exceeds max_length") as info:
        PasswordPolicy(rules)
    assert info.value.field == field


def test_min_length_equal_to_max_length_is_allowed() -> None:
    policy = PasswordPolicy([MaxLength(max=10), MinLength(min=10)])
    assert policy.evaluate("a" * 10).ok
    assert not policy.evaluate("a" * 9).ok
    assert not policy.evaluate("a" * 11).ok


def test_policy_repr_eq_hash() -> None:
    a, b = presets.classic(), presets.classic()
    assert a == b
    assert hash(a) == hash(b)
    assert a != presets.nist()
    assert a != "classic"
    assert repr(a) == (
        "PasswordPolicy(['max_length', 'min_length', 'lowercase', 'uppercase', 'digit', "
        "'not_identifier', 'not_common'])"
    )


def test_with_messages_keeps_rules_and_changes_text() -> None:
    policy = presets.classic()
    custom = Messages(overrides={"fr": {"rule.digit": "Un chiffre, svp"}})
    other = policy.with_messages(custom)
    assert other == policy
    assert other.messages is custom
    assert policy.messages is not custom
    assert other.evaluate("abc")["digit"].message == "Un chiffre, svp"
    assert policy.evaluate("abc")["digit"].message == "Au moins un chiffre"


def test_reports_are_cached_per_locale_and_mfa() -> None:
    policy = PasswordPolicy([MinLength(min=15, min_with_mfa=8)])
    fr = policy.evaluate("abcdefgh")
    en = policy.evaluate("abcdefgh", locale="en")
    mfa = policy.evaluate("abcdefgh", has_mfa=True)
    assert fr["min_length"].message == "Au moins 15 caractères"
    assert en["min_length"].message == "At least 15 characters"
    assert mfa["min_length"].message == "Au moins 8 caractères"
    assert mfa["min_length"].params == {"min": 8}
    assert mfa.ok
    assert not fr.ok
    # asked again, the same ready-made results come back
    assert policy.evaluate("abcdefgh", locale="en")["min_length"] is en["min_length"]


def test_locale_variants_resolve() -> None:
    policy = presets.classic()
    assert policy.evaluate("x", locale="fr-FR").locale == "fr"
    assert policy.evaluate("x", locale="en_GB").locale == "en"
    from credflow.errors import UnsupportedLocale

    with pytest.raises(UnsupportedLocale):
        policy.evaluate("x", locale="de")
