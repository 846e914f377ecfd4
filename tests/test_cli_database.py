"""``credflow init`` and what every database command shares: the URL from ``--db`` or the
environment, the settings, the secret key, one-line errors and exit codes, the console script."""

from __future__ import annotations

import os
import runpy
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tests.storage_fixtures import closed_port
from tests.test_cli_support import (
    DATABASES,
    KEY,
    OLD_PASSWORD,
    drop_schema,
    make_database,
    opened_cf,
    run,
    seed,
)

from credflow import cli
from credflow.storage.sql import SQLStorage, metadata

TABLES = len(metadata.sorted_tables)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=DATABASES)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def tables(url: str) -> set[str]:
    import sqlalchemy as sa

    storage = SQLStorage(url)
    try:
        return set(sa.inspect(storage.engine).get_table_names())
    finally:
        storage.dispose()


# -- init ---------------------------------------------------------------------------------------


def test_init_creates_the_schema_then_says_it_is_there(kind: str, tmp_path: Path) -> None:
    url = make_database(kind, tmp_path)
    drop_schema(url)
    first = run(["--db", url, "init"])
    assert first.code == 0, first.err
    assert first.err == ""
    assert "created the schema in " in first.out
    assert f"({TABLES} tables)" in first.out
    assert {t.name for t in metadata.sorted_tables} <= tables(url)
    second = run(["--db", url, "init"])
    assert second.code == 0
    assert "schema already present" in second.out
    assert "nothing to do" in second.out


def test_init_keeps_the_data_and_completes_a_partial_schema(tmp_path: Path) -> None:
    url = make_database("sqlite", tmp_path)
    seed(url, 3)
    with sqlite3.connect(tmp_path / "portal.db") as db:
        db.execute("DROP TABLE credflow_events")
    result = run(["init", "--db", url])
    assert result.code == 0
    assert result.out.startswith("created 1 missing tables in ")
    assert result.out.rstrip().endswith(": credflow_events")
    listing = run(["users", "list", "--db", url])
    assert len(listing.out.splitlines()) == 1 + 3  # the header, then the accounts


def test_init_from_the_environment_on_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    result = run(["init"], env={"CREDFLOW_DATABASE_URL": f"sqlite:///{path}"})
    assert result.code == 0
    assert path.exists()


def test_the_url_shown_hides_its_password(tmp_path: Path) -> None:
    url = make_database("postgresql", tmp_path)
    with_password = url.replace("://credflow@", "://credflow:Pg-Secret-991@", 1)
    result = run(["--db", with_password, "init"])  # trust authentication ignores it
    assert result.code == 0, result.err
    assert "Pg-Secret-991" not in result.text
    assert "credflow:***@" in result.out


# -- the database URL ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["init"], ["users", "list"], ["users", "show", "x"], ["events"], ["users", "delete", "x"]],
)
def test_no_database_is_a_usage_error(argv: list[str]) -> None:
    result = run(argv, env={"CREDFLOW_SECRET_KEY": KEY})
    assert result.code == 2
    assert result.out == ""
    assert result.err == (
        "credflow: error: no database: pass --db URL or set CREDFLOW_DATABASE_URL\n"
    )


def test_db_option_before_or_after_the_command_and_over_the_environment(tmp_path: Path) -> None:
    url = make_database("sqlite", tmp_path)
    seed(url, 1, prefix="here")
    elsewhere = tmp_path / "elsewhere.db"
    env = {"CREDFLOW_DATABASE_URL": f"sqlite:///{elsewhere}"}
    assert "here000000" in run(["--db", url, "users", "list"], env=env).out
    assert "here000000" in run(["users", "list", "--db", url], env=env).out
    assert "here000000" in run(["users", "list"], env={"CREDFLOW_DATABASE_URL": url}).out
    assert not elsewhere.exists()


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    result = run(["--db", f"sqlite:///{path}", "users", "list"])
    assert result.code == 2
    assert result.err == (
        f"credflow: error: no database file at {path}; create it with `credflow init`\n"
    )
    assert not path.exists()


def test_a_database_without_the_schema_asks_for_init(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).close()
    result = run(["--db", f"sqlite:///{path}", "users", "list"])
    assert result.code == 2
    assert result.err.startswith("credflow: error: the database lacks credflow's tables (")
    assert result.err.endswith("; run `credflow init`\n")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://u@localhost/db", "unsupported database 'mysql'"),
        ("not a url", "not a database URL"),
    ],
)
def test_bad_urls_are_usage_errors(url: str, fragment: str) -> None:
    for argv in (["--db", url, "init"], ["--db", url, "users", "list"]):
        result = run(argv)
        assert result.code == 2, result
        assert fragment in result.err
        assert result.err.count("\n") == 1


def test_an_unreachable_server_is_a_failure_without_its_password() -> None:
    url = f"postgresql://operator:Pg-Secret-991@127.0.0.1:{closed_port()}/portal"
    for argv in (["--db", url, "init"], ["--db", url, "users", "list"]):
        result = run(argv)
        assert result.code == 1
        assert result.err.startswith("credflow: error: database unavailable")
        assert "Pg-Secret-991" not in result.text


# -- settings and the secret key ------------------------------------------------------------------


def test_settings_from_config_option_environment_or_preset(tmp_path: Path) -> None:
    url = make_database("sqlite", tmp_path)
    defi = str(ROOT / "examples" / "portals" / "defi.toml")

    def actions(name: str, *extra: str, env: dict[str, str] | None = None) -> str:
        created = run(["--db", url, "users", "create", name, "--temporary", *extra], env=env)
        assert created.code == 0, created.err
        return run(["--db", url, "users", "show", name]).out

    assert "change_password, enroll_security_question" in actions("classic1")
    assert "required actions:    change_password\n" in actions("defi1", "--config", defi)
    assert "required actions:    change_password\n" in actions(
        "defi2", env={"CREDFLOW_CONFIG": defi}
    )
    nist = actions("nist1", "--preset", "nist", env={"CREDFLOW_CONFIG": defi})
    assert "required actions:    change_password\n" in nist  # the preset wins over the env


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--config", "/nonexistent/portal.toml"], "cannot read"),
        (["--lang", "de"], "unsupported locale 'de'"),
        (["--base-url", "ftp://x"], "base_url"),
    ],
)
def test_bad_settings_are_usage_errors(tmp_path: Path, extra: list[str], fragment: str) -> None:
    url = make_database("sqlite", tmp_path)
    result = run(["--db", url, "users", "create", "adejoux", "--temporary", *extra])
    assert result.code == 2
    assert fragment in result.err
    assert result.out == ""
    with opened_cf(url) as cf:
        assert cf.accounts.find("adejoux") is None


def test_commands_that_sign_need_the_secret_key_and_never_print_it(tmp_path: Path) -> None:
    url = make_database("sqlite", tmp_path)
    seed(url, 1)
    without = run(["--db", url, "users", "delete", "user000000", "--yes"])
    assert without.code == 2
    assert without.err == (
        "credflow: error: this command needs the application's secret key: set "
        "CREDFLOW_SECRET_KEY\n"
    )
    short = run(
        ["--db", url, "users", "delete", "user000000", "--yes"],
        env={"CREDFLOW_SECRET_KEY": "too-short"},
    )
    assert short.code == 2
    assert "secret keys must be at least 32 bytes" in short.err
    assert "too-short" not in short.text
    done = run(
        ["--db", url, "users", "delete", "user000000", "--yes"], env={"CREDFLOW_SECRET_KEY": KEY}
    )
    assert done.code == 0
    assert KEY not in done.text


# -- the console script ------------------------------------------------------------------------


def script_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDFLOW_")}
    env |= {"CREDFLOW_DATABASE_URL": url, "CREDFLOW_SECRET_KEY": KEY}
    return env


def credflow(
    argv: list[str], env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "credflow"
    return subprocess.run(
        [str(script), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_console_script_end_to_end(tmp_path: Path) -> None:
    env = script_env(f"sqlite:///{tmp_path / 'portal.db'}")
    assert credflow(["init"], env).returncode == 0
    again = credflow(["init"], env)
    assert again.returncode == 0
    assert "nothing to do" in again.stdout
    created = credflow(
        ["users", "create", "adejoux", "--email", "a@example.fr"], env, "Bleu-2024x\n"
    )
    assert created.returncode == 0, created.stderr
    assert "Bleu-2024x" not in created.stdout + created.stderr
    refused = credflow(["users", "create", "bdupont"], env, "court\n")
    assert refused.returncode == 1
    assert refused.stderr == "credflow: error: password refused: min_length, uppercase, digit\n"
    shown = credflow(["users", "show", "adejoux"], env)
    assert shown.returncode == 0
    assert "$argon2" not in shown.stdout
    unknown = credflow(["users", "show", "nobody"], env)
    assert unknown.returncode == 1
    assert unknown.stderr == "credflow: error: no account with id or identifier 'nobody'\n"
    piped = credflow(["users", "delete", "adejoux"], env)  # stdin is not a terminal
    assert piped.returncode == 2
    assert "use --yes" in piped.stderr
    usage = credflow(["users", "frobnicate"], env)
    assert usage.returncode == 2
    assert "usage: credflow users" in usage.stderr
    with opened_cf(env["CREDFLOW_DATABASE_URL"]) as cf:
        assert cf.login("adejoux", "Bleu-2024x").status.value == "authenticated"


def test_python_dash_m(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["credflow", "flows", "list"])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(Path(cli.__file__).parent / "__main__.py"), run_name="__main__")
    assert info.value.code == 0
    assert "lockout\n" in capsys.readouterr().out


def test_main_reads_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from credflow.cli import main

    url = make_database("sqlite", tmp_path)
    seed(url, 1, prefix="fromenv")
    monkeypatch.setenv("CREDFLOW_DATABASE_URL", url)
    assert main(["users", "list"]) == 0
    assert "fromenv000000" in capsys.readouterr().out


def test_seeded_passwords_work(tmp_path: Path) -> None:
    url = make_database("sqlite", tmp_path)
    seed(url, 1)
    with opened_cf(url) as cf:
        assert cf.login("user000000", OLD_PASSWORD).status.value == "authenticated"
