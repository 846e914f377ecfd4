"""``PasswordPolicy.describe``: the sentences and checklist labels a form shows."""

from __future__ import annotations

import pytest

from credflow.errors import UnsupportedLocale
from credflow.policy import (
    Digit,
    History,
    Lowercase,
    MaxLength,
    MinLength,
    NoSequence,
    NotCommon,
    PasswordPolicy,
    Special,
    Uppercase,
    presets,
)

SIGMA = (
    "Votre nouveau mot de passe doit contenir au moins 8 caractères, au moins une lettre "
    "minuscule, au moins une lettre majuscule, et au moins un chiffre."
)


def test_classic_in_french_is_sigmas_sentence() -> None:
    description = presets.classic().describe()
    assert description.sentences[0] == SIGMA
    assert description.sentences[1:] == (
        "Votre mot de passe ne doit pas contenir votre identifiant.",
        "Votre mot de passe ne doit pas être un mot de passe courant.",
    )
    assert description.text == " ".join(description.sentences)
    assert str(description) == description.text


def test_classic_in_english() -> None:
    description = presets.classic().describe("en")
    assert description.sentences[0] == (
        "Your new password must contain at least 8 characters, at least one lowercase letter, "
        "at least one uppercase letter, and at least one digit."
    )
    assert description.items == (
        "At most 128 characters",
        "At least 8 characters",
        "At least one lowercase letter",
        "At least one uppercase letter",
        "At least one digit",
        "Does not contain your identifier",
        "Is not a common password",
    )


@pytest.mark.parametrize("policy", [presets.classic(), presets.nist()])
@pytest.mark.parametrize("locale", ["fr", "en", "fr-CA", "en_US"])
def test_one_item_per_rule(policy: PasswordPolicy, locale: str) -> None:
    description = policy.describe(locale)
    assert len(description.items) == len(policy.rules)


def test_plural_forms_in_french() -> None:
    policy = PasswordPolicy(
        [MinLength(min=12), Lowercase(min=2), Uppercase(min=3), Digit(min=2), Special(min=2)]
    )
    assert policy.describe().sentences == (
        "Votre nouveau mot de passe doit contenir au moins 12 caractères, au moins 2 lettres "
        "minuscules, au moins 3 lettres majuscules, au moins 2 chiffres, et au moins 2 "
        "caractères spéciaux parmi $ ? ! & % * _ @.",
    )
    assert policy.describe().items[4] == "Au moins 2 chiffres"


def test_plural_forms_in_english() -> None:
    policy = PasswordPolicy([MinLength(min=1), Digit(min=2)])
    assert policy.describe("en").sentences == (
        "Your new password must contain at least 1 character and at least 2 digits.",
    )


def test_singular_minimum_in_french() -> None:
    policy = PasswordPolicy([MinLength(min=1)])
    assert policy.describe().sentences == (
        "Votre nouveau mot de passe doit contenir au moins 1 caractère.",
    )


def test_special_alphabet_is_listed() -> None:
    policy = PasswordPolicy([Special(alphabet="#-+")])
    assert policy.describe().sentences == (
        "Votre nouveau mot de passe doit contenir au moins un caractère spécial parmi # - +.",
    )
    assert policy.describe().items[1] == "Au moins un caractère spécial parmi : # - +"


@pytest.mark.req("PW-02")
def test_has_mfa_changes_the_nist_minimum() -> None:
    nist = presets.nist()
    assert nist.describe().sentences[0] == (
        "Votre nouveau mot de passe doit contenir au moins 15 caractères."
    )
    assert nist.describe(has_mfa=True).sentences[0] == (
        "Votre nouveau mot de passe doit contenir au moins 8 caractères."
    )
    assert nist.describe("en", has_mfa=True).items[1] == "At least 8 characters"


def test_non_clause_rules_get_their_own_sentence() -> None:
    policy = PasswordPolicy([MaxLength(max=64), NoSequence(min_run=5), History(count=1)])
    assert policy.describe().sentences == (
        "Votre mot de passe ne doit pas dépasser 64 caractères.",
        "Votre mot de passe ne doit pas contenir de suite évidente de 5 caractères "
        "(1234, abcd, azerty…).",
        "Votre mot de passe doit être différent du précédent.",
    )
    assert PasswordPolicy([History(count=3)]).describe("en").sentences == (
        "Your password must differ from the previous 3.",
    )


def test_default_cap_has_no_sentence() -> None:
    description = PasswordPolicy([NotCommon()]).describe()
    assert description.sentences == (
        "Votre mot de passe ne doit pas être un mot de passe courant.",
    )
    assert description.items == ("Au plus 128 caractères", "N'est pas un mot de passe courant")


def test_unknown_locale() -> None:
    with pytest.raises(UnsupportedLocale, match="available: en, fr"):
        presets.classic().describe("de")
