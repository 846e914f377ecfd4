"""Loading password policies from a dict, JSON or TOML, with errors that name the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from credflow.errors import ConfigurationError, UnsupportedLocale
from credflow.messages import Messages, Plural
from credflow.policy import (
    MinLength,
    NotBreached,
    PasswordPolicy,
    load_answer_policy,
    load_policy,
    presets,
)
from credflow.policy.config import RULE_TYPES, policy_section, read_document

ALL_RULES: dict[str, Any] = {
    "rules": [
        {"rule": "max_length", "max": 100},
        {"rule": "min_length", "min": 10, "min_with_mfa": 8},
        {"rule": "lowercase", "min": 2},
        {"rule": "uppercase"},
        {"rule": "digit", "min": 3},
        {"rule": "special", "alphabet": "#-", "min": 2},
        {"rule": "not_identifier", "min_part": 4},
        {"rule": "not_common", "strip_affixes": True},
        {"rule": "no_sequence", "min_run": 5},
        {"rule": "not_breached", "range_dir": "ranges", "fail": "closed"},
        {"rule": "history", "count": 3},
        {"rule": "min_strength", "score": 2},
    ]
}


def error_for(data: Any) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        PasswordPolicy.from_dict(data)
    return info.value


# -- sources ----------------------------------------------------------------------------------


def test_from_dict_with_rules() -> None:
    policy = PasswordPolicy.from_dict({"rules": [{"rule": "min_length", "min": 12}]})
    assert [rule.code for rule in policy.rules] == ["max_length", "min_length"]
    assert policy.rules[1] == MinLength(min=12)


def test_every_rule_type_loads() -> None:
    policy = PasswordPolicy.from_dict(ALL_RULES)
    assert [rule.code for rule in policy.rules] == [r["rule"] for r in ALL_RULES["rules"]]
    assert {type(rule) for rule in policy.rules} == set(RULE_TYPES)
    assert policy.max_length == 100


@pytest.mark.parametrize("name", ["classic", "nist"])
def test_from_dict_preset(name: str) -> None:
    policy = PasswordPolicy.from_dict({"preset": name})
    assert policy == getattr(presets, name)()


def test_from_json_and_toml() -> None:
    text = json.dumps({"rules": [{"rule": "digit", "min": 2}]})
    assert PasswordPolicy.from_json(text).rules[1].code == "digit"
    toml = '[password_policy]\npreset = "nist"\n\n[answer_policy]\nmin_length = 6\n'
    assert PasswordPolicy.from_toml(toml) == presets.nist()
    wrapped = json.dumps({"password_policy": {"preset": "classic"}, "portal": {"name": "x"}})
    assert PasswordPolicy.from_json(wrapped) == presets.classic()


def test_policy_section() -> None:
    assert policy_section({"password_policy": {"preset": "nist"}}) == {"preset": "nist"}
    assert policy_section({"preset": "nist"}) == {"preset": "nist"}
    with pytest.raises(ConfigurationError) as info:
        policy_section({"password_policy": "nist"})
    assert info.value.field == "password_policy"


@pytest.mark.parametrize("suffix", [".toml", ".json", ".TOML"])
def test_load_policy_from_files(tmp_path: Path, suffix: str) -> None:
    file = tmp_path / f"portal{suffix}"
    if suffix.lower() == ".json":
        file.write_text(json.dumps({"password_policy": {"preset": "nist"}}), encoding="utf-8")
    else:
        file.write_text('[password_policy]\npreset = "nist"\n', encoding="utf-8")
    assert load_policy(file) == presets.nist()
    assert load_policy(str(file)) == presets.nist()


def test_load_policy_with_messages(tmp_path: Path) -> None:
    file = tmp_path / "p.toml"
    file.write_text('preset = "classic"\n', encoding="utf-8")
    messages = Messages(overrides={"fr": {"rule.digit": "Un chiffre"}})
    policy = load_policy(file, messages=messages)
    assert policy.evaluate("x")["digit"].message == "Un chiffre"


# -- errors -----------------------------------------------------------------------------------


def test_unknown_rule_names_the_field_and_lists_expected_names() -> None:
    error = error_for({"rules": [{"rule": "min_length"}, {"rule": "no_emoji"}]})
    assert error.field == "rules[1].rule"
    message = str(error)
    assert "unknown rule 'no_emoji'" in message
    for rule_type in RULE_TYPES:
        assert rule_type.model_fields["rule"].default in message
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        ({"rules": [{"rule": "min_length", "min": 0}]}, "rules[0].min", "greater than or equal"),
        ({"rules": [{"rule": "digit"}, {"rule": "digit", "min": -1}]}, "rules[1].min", ""),
        ({"rules": [{"rule": "max_length", "max": 129}]}, "rules[0].max", "less than or equal"),
        ({"rules": [{"rule": "min_length", "min": 8.5}]}, "rules[0].min", "integer"),
        ({"rules": [{"rule": "special", "alphabet": ""}]}, "rules[0].alphabet", "at least 1"),
        ({"rules": [{"rule": "no_sequence", "min_run": 2}]}, "rules[0].min_run", ""),
        ({"rules": [{"rule": "min_strength", "score": 5}]}, "rules[0].score", ""),
        ({"rules": [{"rule": "not_breached", "range_dir": "d", "fail": "x"}]}, "rules[0].fail", ""),
        ({"rules": [{"rule": "min_length", "minimum": 8}]}, "rules[0].minimum", "Extra inputs"),
        ({"rules": [], "version": 2}, "version", "Extra inputs"),
        ({"preset": "strict"}, "preset", "'classic' or 'nist'"),
        ({"rules": "min_length"}, "rules", "valid list"),
        ({"rules": [3]}, "rules[0]", ""),
        ({"rules": [{"min": 3}]}, "rules[0]", "discriminator"),
    ],
)
def test_bad_parameters_name_the_field(data: Any, field: str, fragment: str) -> None:
    error = error_for(data)
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    assert fragment in str(error)


@pytest.mark.parametrize("data", [{"preset": "nist", "rules": []}, {}])
def test_exactly_one_of_preset_and_rules(data: dict[str, Any]) -> None:
    error = error_for(data)
    assert "give either 'preset' or 'rules'" in str(error)


def test_not_a_mapping() -> None:
    error = error_for([{"rule": "digit"}])
    assert "expected a mapping, got list" in str(error)
    assert error.field is None


def test_min_length_over_max_length() -> None:
    error = error_for(
        {"rules": [{"rule": "max_length", "max": 10}, {"rule": "min_length", "min": 12}]}
    )
    assert error.field == "rules[1].min"
    assert "12 exceeds max_length (10)" in str(error)


def test_duplicate_rule() -> None:
    error = error_for({"rules": [{"rule": "digit"}, {"rule": "digit", "min": 2}]})
    assert error.field == "rules[1]"
    assert "duplicate rule 'digit'" in str(error)


@pytest.mark.parametrize(
    "source",
    [{}, {"range_dir": "a", "range_url": "https://example.invalid/{prefix}"}],
)
def test_not_breached_needs_exactly_one_source(source: dict[str, str]) -> None:
    error = error_for({"rules": [{"rule": "not_breached", **source}]})
    assert error.field == "rules[0]"
    assert "give exactly one of checker, range_dir or range_url" in str(error)


def test_not_breached_url_must_be_http() -> None:
    error = error_for({"rules": [{"rule": "not_breached", "range_url": "ftp://h/{prefix}"}]})
    assert "http(s) URL" in str(error)


def test_missing_password_list_is_a_configuration_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    error = error_for({"rules": [{"rule": "not_common", "path": str(missing)}]})
    assert error.field == "rules[0]"
    assert "nope.txt" in str(error)


def test_bad_json() -> None:
    with pytest.raises(ConfigurationError, match=r"invalid JSON: .* \(line 1\)"):
        PasswordPolicy.from_json("{rules: ")
    with pytest.raises(ConfigurationError, match="must be an object"):
        PasswordPolicy.from_json("[1, 2]")


def test_bad_toml() -> None:
    with pytest.raises(ConfigurationError, match="invalid TOML"):
        PasswordPolicy.from_toml("preset = ")


def test_file_errors(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("preset: nist\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"unsupported config file type '\.yaml'"):
        load_policy(tmp_path / "policy.yaml")
    with pytest.raises(ConfigurationError, match=r"cannot read .*missing\.toml"):
        load_policy(tmp_path / "missing.toml")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="invalid JSON"):
        load_policy(tmp_path / "bad.json")
    (tmp_path / "bad.toml").write_text("[password_policy\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="invalid TOML"):
        load_policy(tmp_path / "bad.toml")
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ConfigurationError, match="cannot read"):
        read_document(tmp_path / "dir.toml")


def test_answer_policy_section_must_be_a_table(tmp_path: Path) -> None:
    file = tmp_path / "portal.toml"
    file.write_text('answer_policy = "strict"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        load_answer_policy(file)
    assert info.value.field == "answer_policy"


# -- round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy",
    [
        presets.classic(),
        presets.nist(),
        PasswordPolicy.from_dict(ALL_RULES),
    ],
)
def test_to_dict_round_trips(policy: PasswordPolicy) -> None:
    data = policy.to_dict()
    again = PasswordPolicy.from_dict(data)
    assert again.to_dict() == data
    assert PasswordPolicy.from_json(json.dumps(data)).to_dict() == data
    assert [type(rule) for rule in again.rules] == [type(rule) for rule in policy.rules]
    if not any(isinstance(rule, NotBreached) for rule in policy.rules):
        assert again == policy


def test_to_dict_shape() -> None:
    assert presets.nist().to_dict() == {
        "rules": [
            {"rule": "max_length", "max": 128},
            {"rule": "min_length", "min": 15, "min_with_mfa": 8},
            {"rule": "not_identifier", "min_part": 3},
            {"rule": "not_common", "strip_affixes": True},
        ]
    }


def test_checker_based_rule_is_dropped_from_to_dict() -> None:
    class Never:
        def breach_count(self, password: str) -> int:
            return 0

    policy = PasswordPolicy([NotBreached(checker=Never())])
    assert "checker" not in policy.to_dict()["rules"][1]


# -- messages ---------------------------------------------------------------------------------


def test_with_messages_host_override_in_french() -> None:
    messages = Messages(
        overrides={
            "fr": {
                "rule.min_length": Plural(
                    "min", one="Au moins {min} caractère", other="Au moins {min} caractères !"
                ),
                "policy.summary": "Le mot de passe doit contenir {clauses}.",
            }
        }
    )
    policy = presets.classic().with_messages(messages)
    assert policy.evaluate("x")["min_length"].message == "Au moins 8 caractères !"
    assert policy.describe().sentences[0].startswith("Le mot de passe doit contenir au moins 8")
    # English is untouched
    assert policy.evaluate("x", locale="en")["min_length"].message == "At least 8 characters"


def test_new_locale_falls_back_to_english() -> None:
    messages = Messages(overrides={"DE": {"rule.digit": "Mindestens eine Ziffer"}})
    assert "de" in messages.locales
    policy = presets.classic().with_messages(messages)
    report = policy.evaluate("x", locale="de-AT")
    assert report.locale == "de"
    assert report["digit"].message == "Mindestens eine Ziffer"
    assert report["min_length"].message == "At least 8 characters"
    assert report["uppercase"].message == "At least one uppercase letter"


@pytest.mark.parametrize(
    ("locale", "resolved"),
    [
        ("fr", "fr"),
        ("fr-FR", "fr"),
        ("FR_ca", "fr"),
        ("en", "en"),
        ("en_GB", "en"),
        ("EN-us", "en"),
    ],
)
def test_resolve_locale_variants(locale: str, resolved: str) -> None:
    assert Messages().resolve(locale) == resolved


def test_unknown_locale() -> None:
    with pytest.raises(UnsupportedLocale) as info:
        Messages().resolve("pt-BR")
    assert isinstance(info.value, ValueError)
    assert info.value.locale == "pt-BR"
    assert info.value.available == ("en", "fr")
    assert "available: en, fr" in str(info.value)
