"""The ``credflow`` command line."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from credflow import __version__
from credflow.cli import main

ROOT = Path(__file__).resolve().parent.parent
PORTALS = ROOT / "examples" / "portals"
SECRET = "Zq9$unique-Secret-4711"


class TtyInput(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_check_passing_password() -> None:
    code, out, err = run(["policy", "check", "--identifier", "adejoux"], SECRET + "\n")
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 8  # one mark per classic rule, then the verdict
    assert all(line.startswith("✓ ") for line in lines[:7])
    _, unnamed, _ = run(["policy", "check"], SECRET + "\n")
    assert "– Ne contient pas votre identifiant" in unnamed  # skipped without an identifier
    assert lines[1] == "✓ Au moins 8 caractères"
    assert lines[-1] == "OK"
    assert SECRET not in out


def test_check_failing_password() -> None:
    code, out, _ = run(["policy", "check", "--identifier", "adejoux"], "adejoux\n")
    assert code == 1
    lines = out.splitlines()
    assert lines[-1] == "REFUSED: min_length, uppercase, digit, not_identifier"
    assert "✗ Au moins 8 caractères" in lines
    assert "✓ Au plus 128 caractères" in lines
    assert sum(line[0] in "✓✗–" for line in lines[:-1]) == 7


def test_check_over_the_cap_marks_skipped_rules() -> None:
    code, out, _ = run(["policy", "check"], "x" * 200 + "\n")
    assert code == 1
    assert out.count("– ") == 6
    assert "x" * 20 not in out


@pytest.mark.req("PW-16")
def test_spaces_around_the_password_are_kept() -> None:
    config = ["policy", "check", "--config", str(PORTALS / "sage.toml")]
    code, out, _ = run(config, "  zq9x  \n")  # 8 characters with the spaces, 4 without
    assert code == 0, out
    code, out, _ = run(config, "zq9x\n")
    assert code == 1
    assert "REFUSED: min_length" in out
    code, _, _ = run(config, "  zq9x  ")  # no trailing newline
    assert code == 0


def test_check_with_config_and_english() -> None:
    config = ["policy", "check", "--config", str(PORTALS / "defi.toml"), "--lang", "en"]
    code, out, _ = run(config, "Abcdefg1#\n")
    assert code == 1
    assert "✗ At least one special character from: $ ? ! & % * _ @" in out
    assert out.splitlines()[-1] == "REFUSED: special"
    code, out, _ = run(config, "Abcdefg1#$\n")
    assert code == 0
    assert "Abcdefg1" not in out


@pytest.mark.req("PW-02")
def test_check_nist_with_mfa() -> None:
    candidate = "vqzrkmwlt\n"
    assert run(["policy", "check", "--preset", "nist"], candidate)[0] == 1
    assert run(["policy", "check", "--preset", "nist", "--mfa"], candidate)[0] == 0


def test_check_with_email() -> None:
    code, out, _ = run(["policy", "check", "--email", "dupont@example.com"], "Dupont-2024!\n")
    assert code == 1
    assert out.splitlines()[-1] == "REFUSED: not_identifier"


def test_check_reads_from_a_terminal_without_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return SECRET

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    out = io.StringIO()
    code = main(["policy", "check"], stdin=TtyInput(), stdout=out, stderr=io.StringIO())
    assert code == 0
    assert prompts == ["Mot de passe / Password: "]
    assert SECRET not in out.getvalue()


def test_describe_default() -> None:
    code, out, err = run(["policy", "describe"])
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == (
        "Votre nouveau mot de passe doit contenir au moins 8 caractères, au moins une lettre "
        "minuscule, au moins une lettre majuscule, et au moins un chiffre."
    )
    assert [line for line in lines if line.startswith("- ")] == [
        "- Au plus 128 caractères",
        "- Au moins 8 caractères",
        "- Au moins une lettre minuscule",
        "- Au moins une lettre majuscule",
        "- Au moins un chiffre",
        "- Ne contient pas votre identifiant",
        "- N'est pas un mot de passe courant",
    ]


def test_describe_config_in_english() -> None:
    code, out, _ = run(
        ["policy", "describe", "--config", str(PORTALS / "defi.toml"), "--lang", "en"]
    )
    assert code == 0
    assert out.splitlines()[0] == (
        "Your new password must contain at least 8 characters, at least one digit, at least one "
        "uppercase letter, and at least one special character from $ ? ! & % * _ @."
    )


def test_describe_nist() -> None:
    code, out, _ = run(["policy", "describe", "--preset", "nist", "--lang", "en"])
    assert code == 0
    assert out.splitlines()[0] == "Your new password must contain at least 15 characters."


@pytest.mark.parametrize(
    ("content", "suffix", "fragment"),
    [
        ('[password_policy]\nrules = [{ rule = "nope" }]\n', ".toml", "rules[0].rule"),
        ("[password_policy\n", ".toml", "invalid TOML"),
        ("{", ".json", "invalid JSON"),
        ("preset: nist\n", ".yaml", "unsupported config file type"),
        (
            '[password_policy]\nrules = [{ rule = "not_common", path = "/nonexistent/w.txt" }]\n',
            ".toml",
            "cannot read password list",
        ),
    ],
)
def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, content: str, suffix: str, fragment: str
) -> None:
    file = tmp_path / f"portal{suffix}"
    file.write_text(content, encoding="utf-8")
    for action in ("describe", "check"):
        code, out, err = run(["policy", action, "--config", str(file)], SECRET + "\n")
        assert code == 2
        assert out == ""
        assert err.startswith("credflow: error: ")
        assert err.endswith("\n")
        assert err.count("\n") == 1
        assert fragment in err
        assert SECRET not in err


def test_missing_config_file(tmp_path: Path) -> None:
    code, _, err = run(["policy", "describe", "--config", str(tmp_path / "absent.toml")])
    assert code == 2
    assert "cannot read" in err


def test_unknown_language_exits_2() -> None:
    code, _, err = run(["policy", "check", "--lang", "de"], SECRET + "\n")
    assert code == 2
    assert err == "credflow: error: unsupported locale 'de'; available: en, fr\n"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["policy"],
        ["policy", "frobnicate"],
        ["policy", "check", "--preset", "strict"],
        ["policy", "check", "--preset", "nist", "--config", "x.toml"],
        ["unknown"],
    ],
)
def test_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv, stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO())
    assert info.value.code == 2
    assert "usage: credflow" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"credflow {__version__}\n"


def test_defaults_to_the_process_streams(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
    assert main(["policy", "check"]) == 0
    assert capsys.readouterr().out.endswith("OK\n")


def test_console_script() -> None:
    script = Path(sys.executable).parent / "credflow"
    assert script.exists()
    result = subprocess.run(
        [str(script), "policy", "describe", "--lang", "en"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Your new password must contain at least 8 characters")


def test_console_script_reads_stdin() -> None:
    script = Path(sys.executable).parent / "credflow"
    result = subprocess.run(
        [str(script), "policy", "check", "--lang", "en"],
        input="short\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "REFUSED: min_length, uppercase, digit"
    assert "short" not in result.stdout
