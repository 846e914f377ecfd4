"""The hypothesis strategies of credflow.testing: what they generate really passes (or fails)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from credflow.errors import InvalidIdentifier
from credflow.policy import (
    AnswerPolicy,
    Digit,
    History,
    Lowercase,
    MaxLength,
    MinLength,
    NoSequence,
    NotCommon,
    NotIdentifier,
    PasswordPolicy,
    Special,
    Uppercase,
    normalize_answer,
    presets,
)
from credflow.storage.records import check_email, check_identifier, email_key, identifier_key
from credflow.testing import strategies
from credflow.testing.strategies import BREAKABLE, answers, emails, identifiers, passwords

IDENTIFIER = "alain.dejoux"
EMAIL = "a.dejoux@example.fr"


def strict_policy() -> PasswordPolicy:
    """Every rule the strategies construct for, with demanding parameters."""
    return PasswordPolicy(
        [
            MaxLength(max=40),
            MinLength(min=12, min_with_mfa=9),
            Lowercase(min=2),
            Uppercase(min=2),
            Digit(min=2),
            Special(min=3, alphabet="#%&_"),
            NotIdentifier(),
            NotCommon(strip_affixes=True),
            NoSequence(min_run=3),
            History(),
        ]
    )


POLICIES = {"classic": presets.classic(), "nist": presets.nist(), "strict": strict_policy()}


def codes(policy: PasswordPolicy, password: str, *, has_mfa: bool = False) -> set[str]:
    report = policy.evaluate(password, identifier=IDENTIFIER, email=EMAIL, has_mfa=has_mfa)
    return {r.code for r in report.failures}


# -- identifiers and emails -----------------------------------------------------------------------


@given(identifier=identifiers())
def test_identifiers_are_accepted(identifier: str) -> None:
    assert check_identifier(identifier) == identifier
    assert 1 <= len(identifier) <= 32


@given(identifier=identifiers(min_size=5, max_size=8, unicode=False))
def test_ascii_identifiers_within_their_sizes(identifier: str) -> None:
    assert identifier.isascii()
    assert 5 <= len(identifier) <= 8
    assert identifier[0].isalpha()
    assert check_identifier(identifier) == identifier


@given(st.data())
def test_long_unicode_identifiers_stay_within_the_key_limit(data: st.DataObject) -> None:
    identifier = data.draw(identifiers(min_size=250, max_size=254))
    assert len(identifier_key(identifier)) <= 254


def test_identifier_sizes_are_checked() -> None:
    for sizes in ({"min_size": 0}, {"max_size": 255}, {"min_size": 9, "max_size": 8}):
        with pytest.raises(InvalidArgument):
            identifiers(**sizes)


def test_the_last_resort_filter_refuses_what_credflow_refuses() -> None:
    accepted = strategies._accepted(check_identifier, InvalidIdentifier)
    assert accepted("alice")
    assert not accepted(" alice")


@given(email=emails())
def test_emails_are_accepted_on_reserved_domains(email: str) -> None:
    assert check_email(email) == email
    assert email.rpartition("@")[2].endswith(("example.com", "example.org", "example.net"))


@given(email=emails(domains=["portal.test"]))
def test_emails_on_given_domains(email: str) -> None:
    assert check_email(email) == email
    assert email_key(email).endswith("portal.test")


def test_emails_need_a_domain() -> None:
    with pytest.raises(InvalidArgument, match="domains"):
        emails(domains=[])


# -- passwords --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(POLICIES))
@given(data=st.data())
def test_valid_passwords_pass_the_policy(name: str, data: st.DataObject) -> None:
    policy = POLICIES[name]
    has_mfa = data.draw(st.booleans())
    password = data.draw(passwords(policy, identifier=IDENTIFIER, email=EMAIL, has_mfa=has_mfa))
    assert codes(policy, password, has_mfa=has_mfa) == set()


@pytest.mark.parametrize("name", sorted(POLICIES))
@given(data=st.data())
def test_invalid_passwords_fail_the_policy(name: str, data: st.DataObject) -> None:
    policy = POLICIES[name]
    password = data.draw(passwords(policy, valid=False, identifier=IDENTIFIER, email=EMAIL))
    assert codes(policy, password) != set()


@pytest.mark.parametrize("code", sorted(BREAKABLE))
@given(data=st.data())
def test_invalid_passwords_fail_the_rule_asked_for(code: str, data: st.DataObject) -> None:
    policy = strict_policy()
    strategy = passwords(policy, valid=False, fails=code, identifier=IDENTIFIER, email=EMAIL)
    assert code in codes(policy, data.draw(strategy))


@given(data=st.data())
def test_an_email_alone_is_enough_to_break_not_identifier(data: st.DataObject) -> None:
    policy = presets.nist()
    password = data.draw(passwords(policy, valid=False, fails="not_identifier", email=EMAIL))
    report = policy.evaluate(password, email=EMAIL)
    assert "not_identifier" in {r.code for r in report.failures}


@given(data=st.data())
def test_specials_come_from_the_policy_alphabet_even_made_of_letters(data: st.DataObject) -> None:
    policy = PasswordPolicy([MinLength(min=8), Special(alphabet="xyz", min=2)])
    password = data.draw(passwords(policy))
    assert sum(c in "xyz" for c in password) >= 2


@pytest.fixture(scope="module")
def word_list(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("list") / "words.txt"
    path.write_text("zebulon2024\nmarsupilami\n", encoding="utf-8")
    return path


@given(data=st.data())
def test_a_custom_common_list_is_broken_from_its_own_words(
    data: st.DataObject, word_list: Path
) -> None:
    policy = PasswordPolicy([NotCommon(path=str(word_list))])
    password = data.draw(passwords(policy, valid=False, fails="not_common"))
    assert password in {"zebulon2024", "marsupilami"}


@given(data=st.data())
def test_a_policy_without_a_common_list_is_broken_otherwise(data: st.DataObject) -> None:
    policy = PasswordPolicy([MinLength(min=10)])
    password = data.draw(passwords(policy, valid=False))
    assert not policy.evaluate(password).ok
    with pytest.raises(InvalidArgument, match="'not_common'"):
        passwords(policy, valid=False, fails="not_common")


@given(data=st.data())
def test_a_policy_nobody_can_meet_can_still_be_broken(data: st.DataObject) -> None:
    policy = PasswordPolicy([Digit(min=100), NotIdentifier()])
    password = data.draw(passwords(policy, valid=False, identifier=IDENTIFIER))
    assert not policy.evaluate(password, identifier=IDENTIFIER).ok
    with pytest.raises(InvalidArgument, match="'not_identifier'"):  # no valid password to hold it
        passwords(policy, valid=False, fails="not_identifier", identifier=IDENTIFIER)


def test_passwords_refuse_misuse() -> None:
    nist = presets.nist()
    with pytest.raises(InvalidArgument, match="PasswordPolicy"):
        passwords("nist")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="valid=False"):
        passwords(nist, fails="min_length")
    with pytest.raises(InvalidArgument, match=r"'history'.*can break: max_length, min_length"):
        passwords(nist, valid=False, fails="history")
    with pytest.raises(InvalidArgument, match="'not_identifier'"):
        passwords(nist, valid=False, fails="not_identifier")  # no identifier to put inside
    with pytest.raises(InvalidArgument, match="no password can meet"):
        passwords(PasswordPolicy([Digit(min=100)]))


# -- answers ----------------------------------------------------------------------------------


@given(answer=answers())
def test_answers_pass_the_default_answer_policy(answer: str) -> None:
    assert AnswerPolicy().evaluate(answer).ok


@given(data=st.data())
def test_answers_pass_a_tight_policy_with_context(data: st.DataObject) -> None:
    policy = AnswerPolicy(min_length=7, max_length=10)
    context = {
        "question": "Quel est le nom de votre premier animal ?",
        "identifier": "bola",
        "email": "kipo@example.fr",
        "password": "Tokibala2024",
    }
    answer = data.draw(answers(policy, **context))
    assert policy.evaluate(answer, **context).ok
    assert 7 <= len(normalize_answer(answer)) <= 10


def test_answers_refuse_misuse() -> None:
    with pytest.raises(InvalidArgument, match="AnswerPolicy"):
        answers(presets.nist())  # type: ignore[arg-type]


def test_breakable_lists_what_the_strict_policy_can_break() -> None:
    with pytest.raises(InvalidArgument) as caught:
        passwords(strict_policy(), valid=False, fails="history", identifier=IDENTIFIER)
    listed = str(caught.value).rpartition("can break: ")[2].split(", ")
    assert set(listed) == BREAKABLE
