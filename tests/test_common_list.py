"""The bundled list of common passwords and custom lists (PW-08)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

import credflow.policy
from credflow.errors import ConfigurationError
from credflow.policy import NotCommon, PasswordPolicy, presets
from credflow.policy.common import common_passwords, load_password_list

DATA = Path(credflow.policy.__file__).parent / "data"


@pytest.mark.req("PW-08")
def test_bundled_list_size() -> None:
    words = common_passwords()
    assert len(words) >= 10_000
    assert all(word == word.casefold() and word == word.strip() and word for word in words)
    assert common_passwords() is words  # loaded once


@pytest.mark.req("PW-08")
def test_enough_entries_pass_the_classic_composition() -> None:
    """ASVS 5 6.2.4: at least 3,000 entries that the active policy would otherwise accept."""
    words = common_passwords()
    strong_looking = [
        w
        for w in words
        if len(w) >= 8 and any(c.isalpha() for c in w) and any(c.isdecimal() for c in w)
    ]
    assert len(strong_looking) >= 3000
    # Each of these, capitalised, passes every classic rule except not_common.
    classic = presets.classic()
    for word in strong_looking[:: len(strong_looking) // 50]:
        candidate = word[0].upper() + word[1:] if word[0].isalpha() else word + "A"
        report = classic.evaluate(candidate)
        expected = ["not_common"] if candidate.casefold() in words else []
        if any(c.islower() for c in candidate) and len(candidate) <= 128:
            assert [r.code for r in report.failures] == expected, candidate


def test_provenance_names_the_licence() -> None:
    provenance = DATA / "PROVENANCE.md"
    assert (DATA / "common-passwords.txt.gz").is_file()
    assert provenance.is_file()
    text = provenance.read_text(encoding="utf-8")
    assert "BSD-3-Clause" in text
    assert "Licence" in text
    assert "common-passwords.txt.gz" in text
    assert f"{len(common_passwords()):,}" in text


def test_custom_list_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "words.txt"
    path.write_text("Bleuet2024\n  Sigma-Client  \n\n# not a comment\n", encoding="utf-8")
    words = load_password_list(path)
    assert words == frozenset({"bleuet2024", "sigma-client", "# not a comment"})
    rule = NotCommon(path=str(path))
    assert rule.size == 3
    assert not rule.check("BLEUET2024")
    assert rule.check("password")  # the bundled list is replaced, not extended
    policy = PasswordPolicy([rule])
    assert not policy.evaluate("Sigma-Client").ok
    assert policy.to_dict()["rules"][1] == {
        "rule": "not_common",
        "strip_affixes": False,
        "path": str(path),
    }


def test_custom_list_gzip(tmp_path: Path) -> None:
    path = tmp_path / "words.gz"
    path.write_bytes(gzip.compress("Ünïcode-Pass\r\nzxcv1234\n".encode()))
    rule = NotCommon(path=str(path), strip_affixes=True)
    assert rule.size == 2
    assert not rule.check("ünïcode-pass")
    assert not rule.check("!!ÜNÏCODE-PASS2024")
    assert not rule.check("ZXCV1234")
    assert rule.check("!!zxcv1234")  # the core "zxcv" is not on this list


def test_custom_list_from_config(tmp_path: Path) -> None:
    path = tmp_path / "words.txt"
    path.write_text("portail-sigma\n", encoding="utf-8")
    policy = PasswordPolicy.from_dict({"rules": [{"rule": "not_common", "path": str(path)}]})
    assert not policy.evaluate("Portail-Sigma").ok


def test_unreadable_custom_list(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="cannot read password list"):
        NotCommon(path=str(tmp_path / "missing.txt"))
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("mot de passe élevé\n".encode("latin-1"))
    with pytest.raises(ConfigurationError):
        PasswordPolicy.from_dict({"rules": [{"rule": "not_common", "path": str(bad)}]})
