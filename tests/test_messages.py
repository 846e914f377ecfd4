"""Message catalogues: completeness, plural forms, locales and host overrides."""

from __future__ import annotations

import string

import pytest

from credflow.errors import (
    InvalidEmail,
    InvalidIdentifier,
    InvalidInput,
    PasswordTooLong,
    UnsupportedLocale,
)
from credflow.messages import DEFAULT_LOCALE, DEFAULT_MESSAGES, Messages, Plural, en, fr
from credflow.policy import PasswordPolicy, presets
from credflow.policy.config import RULE_TYPES


def fields(template: str | Plural) -> set[str]:
    forms = (template.one, template.other) if isinstance(template, Plural) else (template,)
    return {name for form in forms for _, name, _, _ in string.Formatter().parse(form) if name}


def test_catalogues_have_identical_keys() -> None:
    assert set(fr.CATALOG) == set(en.CATALOG)
    assert DEFAULT_MESSAGES.keys("fr") == frozenset(fr.CATALOG)
    assert DEFAULT_MESSAGES.keys("en-GB") == frozenset(en.CATALOG)


def test_fr_and_en_templates_use_the_same_fields() -> None:
    for key, template in fr.CATALOG.items():
        other = en.CATALOG[key]
        assert fields(template) == fields(other), key
        if isinstance(template, Plural):
            assert isinstance(other, Plural)
            assert template.by == other.by, key


def test_every_rule_code_has_its_keys() -> None:
    codes = {rule_type.model_fields["rule"].default for rule_type in RULE_TYPES}
    assert len(codes) == len(RULE_TYPES)
    for catalogue in (fr.CATALOG, en.CATALOG):
        for code in codes:
            assert f"rule.{code}" in catalogue
            assert f"clause.{code}" in catalogue or f"sentence.{code}" in catalogue


def test_plural_selection_by_locale() -> None:
    plural = Plural("n", "{n} chose", "{n} choses")
    assert plural.select("fr", {"n": 0}) == "{n} chose"
    assert plural.select("fr", {"n": 1}) == "{n} chose"
    assert plural.select("fr-CA", {"n": 2}) == "{n} choses"
    assert plural.select("en", {"n": 0}) == "{n} choses"
    assert plural.select("en", {"n": 1}) == "{n} chose"
    assert plural.select("en", {}) == "{n} choses"  # no count: the plural
    assert plural.select("fr", {"n": "1"}) == "{n} choses"  # not an int: the plural


def test_render() -> None:
    messages = Messages()
    assert messages.render("rule.digit", "fr", {"min": 1}) == "Au moins un chiffre"
    assert messages.render("rule.digit", "fr", {"min": 3}) == "Au moins 3 chiffres"
    assert messages.render("rule.digit", "en", {"min": 0}) == "At least 0 digits"
    assert messages.render("policy.join.last", "en") == ", and "
    with pytest.raises(KeyError, match=r"no message for key 'rule\.nope'"):
        messages.render("rule.nope", "fr")


def test_default_locale_and_locales() -> None:
    assert DEFAULT_LOCALE == "fr"
    assert DEFAULT_MESSAGES.locales == ("en", "fr")


@pytest.mark.parametrize(
    ("locale", "resolved"),
    [("fr", "fr"), ("fr-FR", "fr"), ("fr_BE", "fr"), ("en_GB", "en"), ("EN", "en")],
)
def test_resolve(locale: str, resolved: str) -> None:
    assert DEFAULT_MESSAGES.resolve(locale) == resolved


@pytest.mark.parametrize("locale", ["de", "", "zz-FR", "french"])
def test_unsupported_locale(locale: str) -> None:
    with pytest.raises(UnsupportedLocale) as info:
        DEFAULT_MESSAGES.resolve(locale)
    assert isinstance(info.value, ValueError)
    assert "available: en, fr" in str(info.value)


def test_resolve_needs_a_str() -> None:
    with pytest.raises(TypeError, match="locale must be a str, not NoneType"):
        DEFAULT_MESSAGES.resolve(None)  # type: ignore[arg-type]


def test_overrides_do_not_leak_into_defaults() -> None:
    custom = Messages(overrides={"fr": {"rule.digit": "Un chiffre !"}})
    assert custom.render("rule.digit", "fr", {"min": 1}) == "Un chiffre !"
    assert DEFAULT_MESSAGES.render("rule.digit", "fr", {"min": 1}) == "Au moins un chiffre"
    assert Messages().render("rule.digit", "fr", {"min": 1}) == "Au moins un chiffre"


def test_regional_override_wins_over_the_base_language() -> None:
    custom = Messages(overrides={"fr-CA": {"rule.digit": "Au moins un chiffre, svp"}})
    assert custom.resolve("fr-CA") == "fr-ca"
    assert custom.resolve("fr_ca") == "fr-ca"
    assert custom.render("rule.digit", "fr-CA", {"min": 1}) == "Au moins un chiffre, svp"
    assert custom.render("rule.digit", "fr-FR", {"min": 1}) == "Au moins un chiffre"
    # keys the regional catalogue lacks fall back to English, then French
    assert custom.render("rule.lowercase", "fr-CA", {"min": 1}) == "At least one lowercase letter"


def test_new_locale_falls_back_to_english_then_french() -> None:
    custom = Messages(
        overrides={
            "de": {"rule.min_length": Plural("min", "Mind. {min} Zeichen", "Mind. {min} Zeichen")},
            "fr": {"only.fr": "Seulement en français"},
        }
    )
    assert custom.locales == ("de", "en", "fr")
    policy = PasswordPolicy([], messages=custom)
    assert policy.evaluate("x", locale="de")["max_length"].message == "At most 128 characters"
    assert custom.render("rule.min_length", "de-CH", {"min": 8}) == "Mind. 8 Zeichen"
    assert custom.render("only.fr", "de") == "Seulement en français"
    description = presets.classic().with_messages(custom).describe("de")
    assert description.items[1] == "Mind. 8 Zeichen"
    assert description.sentences[0].startswith("Your new password must contain at least 8")


def test_override_locale_keys_are_normalised_like_lookups() -> None:
    """An override given as ``fr_CA`` is found when ``fr_CA`` or ``fr-CA`` is asked for."""
    custom = Messages(overrides={"fr_CA": {"rule.digit": "Un chiffre, svp"}})
    assert custom.resolve("fr_CA") == "fr-ca"
    assert custom.render("rule.digit", "fr_CA", {"min": 1}) == "Un chiffre, svp"
    assert custom.render("rule.digit", "fr-CA", {"min": 1}) == "Un chiffre, svp"


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize(
    "error",
    [
        InvalidEmail("not an email address"),
        InvalidIdentifier("longer than 254 characters"),
        PasswordTooLong(128),
        InvalidInput("must be 6 digits", field="code"),
        InvalidInput("bad checksum", field="registration_number"),
        InvalidInput("not international", field="phone"),
    ],
)
def test_malformed_input_gets_a_sentence_of_its_own(error: InvalidInput, locale: str) -> None:
    text = DEFAULT_MESSAGES.render_error(error, locale)
    assert error.code == f"invalid.{error.field}"
    assert text != DEFAULT_MESSAGES.render("invalid.input", locale)
    assert str(error).split(": ", 1)[1] not in text  # the developer's text stays out


def test_an_unknown_field_gets_the_generic_sentence() -> None:
    error = InvalidInput("anything", field="colour")
    assert DEFAULT_MESSAGES.render_error(error, "fr") == "Saisie invalide."
    assert DEFAULT_MESSAGES.render_error(error, "en-GB") == "Invalid input."
