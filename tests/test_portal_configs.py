"""The portal configurations in ``examples/portals`` do what their documents say.

Sources (``shared/seeds``): 000 Sigma, 001 Certigna, 002 DEFI, 003 ASP, 004 Sage.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from credflow.policy import PasswordPolicy, load_answer_policy, load_policy, presets
from credflow.policy.common import common_passwords

PORTALS = Path(__file__).resolve().parent.parent / "examples" / "portals"
NAMES = ["sigma", "certigna", "defi", "asp", "sage", "recommended", "link-then-question"]


def load(name: str) -> PasswordPolicy:
    return load_policy(PORTALS / f"{name}.toml")


def failures(policy: PasswordPolicy, candidate: str, **context: str) -> list[str]:
    return [r.code for r in policy.evaluate(candidate, **context).failures]  # type: ignore[arg-type]


def test_every_portal_file_is_present_and_parses() -> None:
    files = sorted(PORTALS.glob("*.toml"))
    assert sorted(f.stem for f in files) == sorted(NAMES)
    for file in files:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
        assert "password_policy" in document
        assert document["portal"]["name"]
        policy = load_policy(file)
        assert policy.rules[0].code == "max_length"
        load_answer_policy(file)


@pytest.mark.parametrize("name", NAMES)
def test_every_portal_has_the_baseline(name: str) -> None:
    """max_length 128, not_identifier and not_common in every portal (PW-03, PW-08, PW-11)."""
    policy = load(name)
    codes = [rule.code for rule in policy.rules]
    assert policy.max_length == 128
    assert {"not_identifier", "not_common"} <= set(codes)
    assert not any(d.code in {"no_blocklist", "no_context_check"} for d in policy.deviations())


@pytest.mark.parametrize(
    "name", [n for n in NAMES if n not in ("recommended", "link-then-question")]
)
def test_every_portal_file_names_its_seed(name: str) -> None:
    document = tomllib.loads((PORTALS / f"{name}.toml").read_text(encoding="utf-8"))
    seed = document["portal"]["seed"]
    assert seed.startswith(("000_", "001_", "002_", "003_", "004_"))


# -- Sigma (000): 8+, lower, upper, digit, not the identifier ----------------------------------

SIGMA_SENTENCE = (
    "Votre nouveau mot de passe doit contenir au moins 8 caractères, au moins une lettre "
    "minuscule, au moins une lettre majuscule, et au moins un chiffre."
)


@pytest.mark.req("PW-01", "PW-11")
@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("Bleuet2024", []),
        ("Bleuet24", []),
        ("Bleu24x", ["min_length"]),
        ("bleuet2024", ["uppercase"]),
        ("BLEUET2024", ["lowercase"]),
        ("Bleuet-Ciel", ["digit"]),
        ("Adejoux2024", ["not_identifier"]),
        ("monADEJOUX9", ["not_identifier"]),
        ("Password1", ["not_common"]),
        ("Bleuet 2024 #", []),  # spaces and other characters are allowed
    ],
)
def test_sigma(candidate: str, expected: list[str]) -> None:
    assert failures(load("sigma"), candidate, identifier="adejoux") == expected


def test_sigma_sentence() -> None:
    assert load("sigma").describe("fr").sentences[0] == SIGMA_SENTENCE
    assert "Votre mot de passe ne doit pas contenir votre identifiant." in (
        load("sigma").describe("fr").sentences
    )


def test_sigma_answer_policy() -> None:
    answers = load_answer_policy(PORTALS / "sigma.toml")
    question = "Ma couleur préférée ?"
    assert answers.evaluate("bleu", question=question, identifier="adejoux").ok
    report = answers.evaluate("1234", question=question, identifier="adejoux")
    assert "answer_sequence" in [r.code for r in report.failures]
    assert not answers.evaluate("abc", question=question).ok


# -- DEFI (002): 8+, digit, uppercase, one of $ ? ! & % * _ @ -----------------------------------


@pytest.mark.req("PW-13")
@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("Abcdefg1$", []),
        ("ABCDEFG1$", []),  # no lowercase required
        ("Abcdefg1#", ["special"]),
        ("Abcdefg1#$", []),  # "#" is allowed, it just does not count
        ("abcdefg1$", ["uppercase"]),
        ("Abcdefgh$", ["digit"]),
        ("Abcde1$", ["min_length"]),
        ("Ddupont1$", ["not_identifier"]),
    ],
)
def test_defi(candidate: str, expected: list[str]) -> None:
    assert failures(load("defi"), candidate, identifier="d.dupont@defi.fr") == expected


@pytest.mark.req("PW-13")
@pytest.mark.parametrize("char", list("$?!&%*_@"))
def test_defi_each_listed_special(char: str) -> None:
    assert load("defi").evaluate(f"Xyzzyq7{char}").ok


def test_defi_special_alphabet_matches_the_document() -> None:
    (special,) = [rule for rule in load("defi").rules if rule.code == "special"]
    assert sorted(special.alphabet) == sorted("$?!&%*_@")  # type: ignore[attr-defined]
    assert not any(rule.code == "lowercase" for rule in load("defi").rules)


# -- Certigna (001): 8 minimum, complexity only preferred ---------------------------------------


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("lavandebleue", []),  # no class required
        ("LAVANDEBLEUE", []),
        ("12973468", []),
        ("lavande", ["min_length"]),
        ("password", ["not_common"]),
    ],
)
def test_certigna(candidate: str, expected: list[str]) -> None:
    assert failures(load("certigna"), candidate, identifier="EK700962") == expected


def test_certigna_has_no_composition_rule() -> None:
    assert not any(rule.composition for rule in load("certigna").rules)


# -- Sage (004): 8 minimum, any characters, passphrases welcome ---------------------------------


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("maison jardin soleil", []),  # three words
        ("maison-jardin-soleil", []),
        ("😀 café ☕ thé 🍵", []),
        ("        ", []),  # any characters: eight spaces meet the minimum
        ("vqzrkm", ["min_length"]),
        ("sunshine", ["not_common"]),
    ],
)
def test_sage(candidate: str, expected: list[str]) -> None:
    assert failures(load("sage"), candidate, email="dupont@example.com") == expected


def test_sage_accepts_a_long_passphrase() -> None:
    phrase = "les experts recommandent au moins trois mots " * 2
    assert len(phrase) < 128
    assert load("sage").evaluate(phrase.strip()).ok


# -- ASP (003): no rule in the document, the classic preset ------------------------------------


def test_asp_uses_the_classic_preset() -> None:
    assert load("asp") == presets.classic()
    assert load("asp").evaluate("Bleuet2024", identifier="adejoux").ok
    assert not load("asp").evaluate("bleuet2024").ok


# -- Recommended: the NIST preset --------------------------------------------------------------


@pytest.mark.req("PW-02", "PW-12")
def test_recommended_is_nist() -> None:
    policy = load("recommended")
    assert policy == presets.nist()
    assert policy.evaluate("correct horse battery staple").ok
    assert not policy.evaluate("Bleuet2024").ok
    assert policy.evaluate("Bleuet2024", has_mfa=True).ok


def test_sample_passwords_are_not_on_the_common_list() -> None:
    """Guards the tables above: an accepted sample must not be accepted by accident."""
    words = common_passwords()
    for sample in ("bleuet2024", "lavandebleue", "maison jardin soleil", "abcdefg1$"):
        assert sample not in words
