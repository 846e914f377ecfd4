"""The ``classic`` and ``nist`` presets, and the deviations every policy reports."""

from __future__ import annotations

import pytest

from credflow.policy import (
    Digit,
    History,
    MaxLength,
    MinLength,
    NotCommon,
    NotIdentifier,
    PasswordPolicy,
    presets,
)
from credflow.policy.presets import PRESETS


def deviation_codes(policy: PasswordPolicy) -> list[tuple[str, str]]:
    return [(d.code, d.subject) for d in policy.deviations()]


def test_presets_registry() -> None:
    assert set(PRESETS) == {"classic", "nist"}
    assert PRESETS["classic"]() == presets.classic()
    assert PRESETS["nist"]() == presets.nist()


def test_classic_rules_in_order() -> None:
    assert [rule.code for rule in presets.classic().rules] == [
        "max_length",
        "min_length",
        "lowercase",
        "uppercase",
        "digit",
        "not_identifier",
        "not_common",
    ]
    assert presets.classic().max_length == 128


@pytest.mark.req("PW-12")
def test_nist_has_no_composition_rule() -> None:
    nist = presets.nist()
    assert [rule.code for rule in nist.rules] == [
        "max_length",
        "min_length",
        "not_identifier",
        "not_common",
    ]
    assert not any(rule.composition for rule in nist.rules)
    assert any(rule.composition for rule in presets.classic().rules)


@pytest.mark.req("PW-12")
def test_nist_accepts_an_all_lowercase_passphrase() -> None:
    phrase = "correct horse battery staple"
    assert len(phrase) == 28
    report = presets.nist().evaluate(phrase)
    assert report.ok
    assert not presets.classic().evaluate(phrase).ok


@pytest.mark.req("PW-02")
@pytest.mark.parametrize(
    ("length", "has_mfa", "ok"),
    [
        (14, False, False),
        (15, False, True),
        (7, True, False),
        (8, True, True),
        (8, False, False),
    ],
)
def test_nist_minimum_depends_on_mfa(length: int, has_mfa: bool, ok: bool) -> None:
    candidate = "Vq7#mZ2kLw9xTr4pNs8y"[:length]
    assert len(candidate) == length
    report = presets.nist().evaluate(candidate, has_mfa=has_mfa)
    assert report["min_length"].passed is ok
    assert report.ok is ok


@pytest.mark.req("PW-08")
@pytest.mark.parametrize("candidate", ["password1234567", "!!Password2024!!", "SOLEIL1234567890"])
def test_nist_rejects_wrapped_common_passwords(candidate: str) -> None:
    report = presets.nist().evaluate(candidate)
    assert [r.code for r in report.failures] == ["not_common"]


@pytest.mark.req("PW-08")
@pytest.mark.parametrize("candidate", ["Password1!", "P@ssw0rd"])
def test_classic_rejects_common_passwords_that_pass_composition(candidate: str) -> None:
    report = presets.classic().evaluate(candidate)
    assert [r.code for r in report.failures] == ["not_common"]


@pytest.mark.req("PW-11")
def test_both_presets_refuse_the_identifier() -> None:
    for policy in (presets.classic(), presets.nist()):
        report = policy.evaluate("Adejoux-2024-Forever!", identifier="adejoux")
        assert [r.code for r in report.failures] == ["not_identifier"]


# -- deviations -------------------------------------------------------------------------------


@pytest.mark.req("PW-02", "PW-12", "PW-13")
def test_classic_deviations() -> None:
    deviations = presets.classic().deviations()
    assert deviation_codes(presets.classic()) == [
        ("short_minimum", "min_length"),
        ("composition_rules", "lowercase"),
        ("composition_rules", "uppercase"),
        ("composition_rules", "digit"),
    ]
    assert deviations[0].requirements == ("PW-02",)
    assert all(d.requirements == ("PW-12", "PW-13") for d in deviations[1:])
    assert all(d.standards and d.summary for d in deviations)


def test_nist_has_no_deviation() -> None:
    assert presets.nist().deviations() == ()


@pytest.mark.req("PW-08", "PW-11")
def test_missing_blocklist_and_context_check_are_deviations() -> None:
    policy = PasswordPolicy([MinLength(min=15)])
    deviations = {d.code: d for d in policy.deviations()}
    assert set(deviations) == {"no_blocklist", "no_context_check"}
    assert deviations["no_blocklist"].requirements == ("PW-08",)
    assert deviations["no_blocklist"].subject == "not_common"
    assert deviations["no_context_check"].requirements == ("PW-11",)
    assert deviations["no_context_check"].subject == "not_identifier"
    with_both = PasswordPolicy([MinLength(min=15), NotCommon(), NotIdentifier()])
    assert with_both.deviations() == ()


@pytest.mark.req("PW-14")
def test_history_is_a_deviation() -> None:
    policy = PasswordPolicy([MinLength(min=15), NotCommon(), NotIdentifier(), History()])
    assert deviation_codes(policy) == [("password_history", "history")]
    assert policy.deviations()[0].requirements == ("PW-14",)


@pytest.mark.req("PW-03")
@pytest.mark.parametrize(("cap", "deviates"), [(32, True), (63, True), (64, False), (128, False)])
def test_short_maximum(cap: int, deviates: bool) -> None:
    policy = PasswordPolicy([MaxLength(max=cap), MinLength(min=15), NotCommon(), NotIdentifier()])
    codes = deviation_codes(policy)
    assert (("short_maximum", "max_length") in codes) is deviates
    if deviates:
        (found,) = policy.deviations()
        assert found.requirements == ("PW-03",)
        assert str(cap) in found.summary


@pytest.mark.req("PW-01", "PW-02")
@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (MinLength(min=15), []),
        (MinLength(min=8), ["short_minimum"]),
        (MinLength(min=6), ["short_minimum", "below_floor_minimum"]),
        (MinLength(min=15, min_with_mfa=8), []),
        (MinLength(min=15, min_with_mfa=6), ["below_floor_minimum"]),
    ],
)
def test_minimum_deviations(rule: MinLength, expected: list[str]) -> None:
    policy = PasswordPolicy([rule, NotCommon(), NotIdentifier()])
    assert [d.code for d in policy.deviations()] == expected


@pytest.mark.req("PW-12")
def test_composition_deviation_names_each_rule() -> None:
    policy = PasswordPolicy([MinLength(min=15), Digit(), NotCommon(), NotIdentifier()])
    assert deviation_codes(policy) == [("composition_rules", "digit")]
