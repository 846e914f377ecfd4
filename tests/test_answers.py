"""Security answers: normalisation and the answer policy (SQ-01 to SQ-03)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credflow.errors import ConfigurationError, PolicyViolation
from credflow.messages import Messages
from credflow.policy import AnswerPolicy, RuleStatus, load_answer_policy, normalize_answer
from credflow.policy.answers import COMMON_ANSWERS

PORTALS = Path(__file__).resolve().parent.parent / "examples" / "portals"
QUESTION = "Ma couleur préférée ?"
CODES = (
    "answer_max_length",
    "answer_min_length",
    "answer_sequence",
    "answer_not_identifier",
    "answer_not_in_question",
    "answer_not_common",
    "answer_not_password",
)


def failures(answer: str, **context: Any) -> list[str]:
    return [r.code for r in AnswerPolicy().evaluate(answer, **context).failures]


# -- normalisation ----------------------------------------------------------------------------


@pytest.mark.req("SQ-02")
def test_normalize_answer_equivalents() -> None:
    assert normalize_answer("Bleu ") == normalize_answer("bleu") == normalize_answer("BLÉU")
    assert normalize_answer("  Bleu   Ciel ") == "bleu ciel"
    assert normalize_answer("Ｂｌｅｕ") == "bleu"  # full width, NFKC
    assert normalize_answer("e\u0301te\u0301") == "ete"  # NFD accents stripped
    assert normalize_answer("Straße") == "strasse"


@pytest.mark.req("SQ-02")
@given(st.text(max_size=40))
def test_normalize_answer_is_idempotent(answer: str) -> None:
    once = normalize_answer(answer)
    assert normalize_answer(once) == once
    assert once == once.strip()
    assert "  " not in once


@pytest.mark.parametrize("value", [b"bleu", None, 42])
def test_normalize_answer_needs_a_str(value: Any) -> None:
    with pytest.raises(TypeError, match=f"answer must be a str, not {type(value).__name__}"):
        normalize_answer(value)


# -- the checks -------------------------------------------------------------------------------


def test_all_checks_run_in_order() -> None:
    report = AnswerPolicy().evaluate("bleu", question=QUESTION, identifier="adejoux")
    assert report.codes == CODES
    assert report.ok


@pytest.mark.req("SQ-01")
@pytest.mark.parametrize(
    ("answer", "passes"),
    [("abc", False), ("abcd", True), ("  ab  ", False), ("bleu", True), ("a b", False)],
)
def test_minimum_length_after_normalisation(answer: str, passes: bool) -> None:
    report = AnswerPolicy().evaluate(answer)
    assert report["answer_min_length"].passed is passes
    assert report["answer_min_length"].params == {"min": 4}


@pytest.mark.req("SQ-01")
def test_sigma_example_is_accepted() -> None:
    policy = AnswerPolicy()
    report = policy.validate(
        "bleu", question="Ma couleur préférée ?", identifier="adejoux", password="Bleu2024x"
    )
    assert report.ok
    assert all(r.status is RuleStatus.PASSED for r in report)


@pytest.mark.req("SQ-01")
@pytest.mark.parametrize("answer", ["1234", "abcdef", "azerty", "qwerty", "AZERTY", "aaaa", "9876"])
def test_obvious_runs_are_rejected(answer: str) -> None:
    assert "answer_sequence" in failures(answer)


@pytest.mark.parametrize("answer", ["bleu", "Marseille", "le chat noir", "1984 Orwell"])
def test_ordinary_answers_are_not_runs(answer: str) -> None:
    assert "answer_sequence" not in failures(answer)


def test_sequence_check_ignores_spaces() -> None:
    assert "answer_sequence" in failures("a b c d")


@pytest.mark.req("SQ-03")
@pytest.mark.parametrize(
    ("answer", "identifier", "email"),
    [
        ("adejoux", "adejoux", None),
        ("ADÉJOUX", "adejoux", None),
        (" Adejoux ", "adejoux", None),
        ("alain.dejoux", None, "Alain.Dejoux@example.org"),
        ("alain.dejoux@example.org", None, "Alain.Dejoux@example.org"),
        ("d.dupont@defi.fr", "d.dupont@defi.fr", None),
    ],
)
def test_answer_equal_to_identifier_is_rejected(
    answer: str, identifier: str | None, email: str | None
) -> None:
    assert failures(answer, identifier=identifier, email=email) == ["answer_not_identifier"]


def test_answer_containing_identifier_is_allowed() -> None:
    assert failures("adejoux bleu", identifier="adejoux") == []


@pytest.mark.req("SQ-03")
def test_answer_contained_in_question_is_rejected() -> None:
    assert failures("Couleur", question=QUESTION) == ["answer_not_in_question"]
    assert failures("préférée", question=QUESTION) == ["answer_not_in_question"]
    assert failures("PREFEREE", question=QUESTION) == ["answer_not_in_question"]
    assert failures("vert", question=QUESTION) == []


def test_question_check_skipped_without_question() -> None:
    report = AnswerPolicy().evaluate("bleu")
    assert report["answer_not_in_question"].status is RuleStatus.SKIPPED
    assert report.ok


@pytest.mark.req("SQ-03")
@pytest.mark.parametrize("answer", ["password", "Mot de passe", "MOTDEPASSE", "123", "0000", "Oui"])
def test_common_answers_are_rejected(answer: str) -> None:
    assert "answer_not_common" in failures(answer)


def test_common_answers_list() -> None:
    assert {"password", "123", "azerty", "motdepasse"} <= COMMON_ANSWERS


@pytest.mark.parametrize("length", [129, 1000, 1024, 1025, 100_000])
def test_over_max_length_skips_the_other_checks(length: int) -> None:
    report = AnswerPolicy().evaluate("b" * length, question=QUESTION, identifier="bbbb")
    assert report["answer_max_length"].status is RuleStatus.FAILED
    assert [r.status for r in report.results[1:]] == [RuleStatus.SKIPPED] * 6
    assert [r.code for r in report.failures] == ["answer_max_length"]


def test_max_length_counts_the_normalised_answer() -> None:
    padded = "  " + "bleu " * 25 + "  "  # 129 raw characters, 124 after collapsing spaces
    assert len(padded) > 128
    assert AnswerPolicy().evaluate(padded)["answer_max_length"].passed
    assert not AnswerPolicy(max_length=8).evaluate("bleu ciel!")["answer_max_length"].passed


def test_disabled_checks_are_not_reported() -> None:
    policy = AnswerPolicy(
        no_sequence=False, not_identifier=False, not_in_question=False, not_common=False
    )
    report = policy.evaluate("1234", question="1234?", identifier="1234")
    assert report.codes == ("answer_max_length", "answer_min_length", "answer_not_password")
    assert report.ok


def test_every_failure_is_reported_at_once() -> None:
    assert failures("123", identifier="123", question="123 ?") == [
        "answer_min_length",
        "answer_sequence",
        "answer_not_identifier",
        "answer_not_in_question",
        "answer_not_common",
    ]


def test_validate_raises_with_all_failures() -> None:
    with pytest.raises(PolicyViolation) as info:
        AnswerPolicy().validate("azerty", identifier="adejoux", locale="en")
    assert info.value.codes == ("answer_sequence", "answer_not_common")
    assert "azerty" not in str(info.value)
    assert info.value.failures[0].message == (
        "The answer is not an obvious run (1234, abcdef, qwerty…)"
    )


@pytest.mark.parametrize("value", [b"bleu", None, 1234])
def test_non_str_answer(value: Any) -> None:
    with pytest.raises(TypeError, match="answer must be a str"):
        AnswerPolicy().evaluate(value)


def test_report_never_holds_the_answer() -> None:
    report = AnswerPolicy().evaluate("Zanzibar-Sud", question=QUESTION, identifier="adejoux")
    assert "zanzibar" not in repr(report).casefold()
    assert "zanzibar" not in str(report.to_dict()).casefold()


# -- messages ---------------------------------------------------------------------------------


def test_messages_in_french_and_english() -> None:
    fr = AnswerPolicy().evaluate("abc")
    en = AnswerPolicy().evaluate("abc", locale="en-GB")
    assert fr["answer_min_length"].message == "La réponse compte au moins 4 caractères"
    assert en["answer_min_length"].message == "The answer has at least 4 characters"
    assert en.locale == "en"
    singular = AnswerPolicy(min_length=1).evaluate("a", locale="en")
    assert singular["answer_min_length"].message == "The answer has at least 1 character"


def test_host_messages() -> None:
    messages = Messages(overrides={"fr": {"answer.not_common": "Trop courant"}})
    report = AnswerPolicy().evaluate("password", messages=messages)
    assert report["answer_not_common"].message == "Trop courant"
    assert "Trop" in AnswerPolicy().guidance(
        messages=Messages(overrides={"fr": {"answer.guidance": "Trop facile"}})
    )


def test_guidance() -> None:
    fr = AnswerPolicy().guidance()
    en = AnswerPolicy().guidance("en")
    assert fr.startswith("La réponse ne doit être connue que de vous")
    assert "(1234, abcdef, azerty…)" in fr
    assert en.startswith("Only you, or a few people you trust, should know the answer.")
    assert fr != en


# -- configuration ----------------------------------------------------------------------------


def test_from_dict() -> None:
    policy = AnswerPolicy.from_dict({"min_length": 6, "not_common": False})
    assert policy.min_length == 6
    assert not policy.not_common
    assert policy.max_length == 128


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"min_length": 0}, "min_length"),
        ({"min_length": 65}, "min_length"),
        ({"max_length": 7}, "max_length"),
        ({"max_length": "long"}, "max_length"),
        ({"no_sequence": "maybe"}, "no_sequence"),
        ({"min_lenght": 4}, "min_lenght"),
    ],
)
def test_from_dict_errors_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        AnswerPolicy.from_dict(data)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


@pytest.mark.parametrize("name", ["sigma", "certigna", "defi", "asp", "sage", "recommended"])
def test_load_answer_policy_from_portal_files(name: str) -> None:
    policy = load_answer_policy(PORTALS / f"{name}.toml")
    assert policy.min_length == 4
    assert policy.evaluate("bleu", question=QUESTION, identifier="adejoux").ok
    assert not policy.evaluate("abc").ok


def test_file_without_answer_policy_gives_defaults(tmp_path: Path) -> None:
    file = tmp_path / "portal.json"
    file.write_text('{"password_policy": {"preset": "nist"}}', encoding="utf-8")
    assert load_answer_policy(file) == AnswerPolicy()
    assert load_answer_policy(PORTALS / "recommended.toml") == AnswerPolicy()


def test_load_answer_policy_with_settings(tmp_path: Path) -> None:
    file = tmp_path / "portal.toml"
    file.write_text("[answer_policy]\nmin_length = 6\nno_sequence = false\n", encoding="utf-8")
    policy = load_answer_policy(file)
    assert policy == AnswerPolicy(min_length=6, no_sequence=False)
    assert "answer_sequence" not in policy.evaluate("abcdef").codes


@pytest.mark.req("SQ-03")
def test_answer_equal_to_the_password_is_refused() -> None:
    report = AnswerPolicy().evaluate("Bleu2024x", password="bleu2024X ")
    assert [r.code for r in report.failures] == ["answer_not_password"]
    assert AnswerPolicy().evaluate("bleu")["answer_not_password"].status is RuleStatus.SKIPPED


def test_question_match_is_by_whole_words() -> None:
    assert AnswerPolicy().evaluate("ur p", question="Votre couleur préférée ?").ok
    report = AnswerPolicy().evaluate("paris", question="Ville natale (Paris, Lyon) ?")
    assert [r.code for r in report.failures] == ["answer_not_in_question"]


def test_min_length_above_max_length_is_refused() -> None:
    with pytest.raises(ValueError, match="min_length"):
        AnswerPolicy(min_length=40, max_length=8)
