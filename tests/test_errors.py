"""The exception hierarchy of ``credflow.errors``."""

from __future__ import annotations

import pytest

import credflow
from credflow.errors import (
    BreachCheckUnavailable,
    ConcurrentUpdate,
    ConfigurationError,
    CredflowError,
    DuplicateIdentifier,
    InsecureConfiguration,
    InvalidEmail,
    InvalidIdentifier,
    InvalidInput,
    InvalidTransition,
    MissingDependency,
    PasswordTooLong,
    PolicyViolation,
    StandardsConflictError,
    StorageError,
    StorageUnavailable,
    UnknownAccount,
    UnsupportedLocale,
)
from credflow.policy import RuleResult, RuleStatus


def test_configuration_error() -> None:
    error = ConfigurationError("must be at least 1", field="rules[2].min")
    assert isinstance(error, ValueError)
    assert isinstance(error, CredflowError)
    assert error.field == "rules[2].min"
    assert str(error) == "rules[2].min: must be at least 1"
    plain = ConfigurationError("bad")
    assert plain.field is None
    assert str(plain) == "bad"


def test_insecure_configuration_is_a_configuration_error() -> None:
    error = InsecureConfiguration("too weak", field="argon2.memory")
    assert isinstance(error, ConfigurationError)
    assert error.field == "argon2.memory"


def test_missing_dependency() -> None:
    error = MissingDependency("the min_strength rule", "zxcvbn")
    assert isinstance(error, ImportError)
    assert isinstance(error, ConfigurationError)
    assert isinstance(error, CredflowError)
    assert error.extra == "zxcvbn"
    assert str(error) == (
        "the min_strength rule needs the optional dependency: pip install 'credflow[zxcvbn]'"
    )
    with pytest.raises(ImportError):
        raise error


def test_unsupported_locale() -> None:
    error = UnsupportedLocale("de", ["en", "fr"])
    assert isinstance(error, ValueError)
    assert isinstance(error, CredflowError)
    assert not isinstance(error, ConfigurationError)
    assert error.locale == "de"
    assert error.available == ("en", "fr")
    assert str(error) == "unsupported locale 'de'; available: en, fr"


def test_breach_check_unavailable() -> None:
    error = BreachCheckUnavailable("down")
    assert isinstance(error, CredflowError)
    assert not isinstance(error, ValueError)


def test_policy_violation_carries_every_failure() -> None:
    failures = [
        RuleResult("min_length", RuleStatus.FAILED, {"min": 8}, "Au moins 8 caractères"),
        RuleResult("digit", RuleStatus.FAILED, {"min": 1}, "Au moins un chiffre"),
    ]
    error = PolicyViolation(failures)
    assert isinstance(error, CredflowError)
    assert error.failures == tuple(failures)
    assert error.codes == ("min_length", "digit")
    assert str(error) == "policy not met: min_length, digit"
    assert PolicyViolation([]).codes == ()


def test_every_error_is_a_credflow_error() -> None:
    for name in credflow.errors.__all__:
        error_type = getattr(credflow.errors, name)
        assert issubclass(error_type, CredflowError), name
    assert list(credflow.errors.__all__) == sorted(credflow.errors.__all__)


def test_errors_are_exported() -> None:
    for name in (
        "BreachCheckUnavailable",
        "ConfigurationError",
        "CredflowError",
        "InsecureConfiguration",
        "MissingDependency",
        "PolicyViolation",
        "UnsupportedLocale",
    ):
        assert getattr(credflow, name) is getattr(credflow.errors, name)


def test_standards_conflict_is_a_configuration_error() -> None:
    error = StandardsConflictError("questions are off in preset N", field="questions.enabled")
    assert isinstance(error, ConfigurationError)
    assert error.field == "questions.enabled"
    assert str(error) == "questions.enabled: questions are off in preset N"


def test_invalid_input_family() -> None:
    error = InvalidInput("must not be empty", field="question")
    assert isinstance(error, ValueError)
    assert not isinstance(error, ConfigurationError)
    assert error.field == "question"
    assert str(error) == "question: must not be empty"
    identifier = InvalidIdentifier("holds a control character")
    assert isinstance(identifier, InvalidInput)
    assert identifier.field == "identifier"
    assert str(identifier) == "identifier: holds a control character"
    email = InvalidEmail("not an address")
    assert email.field == "email"
    assert InvalidEmail("not an address", field="new_email").field == "new_email"


def test_password_too_long_never_holds_the_password() -> None:
    error = PasswordTooLong(128)
    assert isinstance(error, InvalidInput)
    assert error.limit == 128
    assert error.field == "password"
    assert str(error) == "password: longer than 128 code points"


def test_unknown_account() -> None:
    error = UnknownAccount("acc-42")
    assert isinstance(error, LookupError)
    assert error.account_id == "acc-42"
    assert str(error) == "no account with id 'acc-42'"


def test_invalid_transition() -> None:
    error = InvalidTransition("first_login", "done", "submit")
    assert (error.flow, error.state, error.event) == ("first_login", "done", "submit")
    assert str(error) == "flow 'first_login': no transition from 'done' on 'submit'"


def test_storage_errors() -> None:
    for error_type in (StorageUnavailable, DuplicateIdentifier, ConcurrentUpdate):
        assert issubclass(error_type, StorageError)
    assert not issubclass(StorageError, ValueError)
