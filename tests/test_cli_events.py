"""``credflow events`` (the audit trail) and ``credflow flows list|diagram``."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.test_cli_support import (
    KEY,
    OLD_PASSWORD,
    opened_cf,
    run,
    seed,
)

from credflow.cli.arguments import since
from credflow.flows import MACHINES, diagram


def trail(url: str) -> str:
    """Two accounts with a few events each; returns the first one's id."""
    first, _ = seed(url, 2)
    with opened_cf(url) as cf:
        cf.login("user000000", "wrong-" + OLD_PASSWORD)
        cf.login("user000000", OLD_PASSWORD)
        cf.login("user000001", OLD_PASSWORD)
        cf.accounts.disable(first.id)
    return first.id


@pytest.mark.req("SS-06")
def test_events_of_one_account(url: str) -> None:
    account_id = trail(url)
    by_identifier = run(["--db", url, "events", "--account", "user000000"])
    assert by_identifier.code == 0, by_identifier.err
    assert by_identifier.err == ""
    lines = by_identifier.out.splitlines()
    types = [line.split()[1] for line in lines]
    assert types[0] == "login_failed"
    assert "login_succeeded" in types
    assert types[-1] == "account_disabled"
    assert all(line.split()[2] == account_id for line in lines)
    assert lines[-1].endswith("previous=active")
    assert run(["--db", url, "events", f"--account={account_id}"]).out == by_identifier.out
    assert OLD_PASSWORD not in by_identifier.out
    assert "$argon2" not in by_identifier.out


def test_events_of_everyone_since_and_limit(url: str) -> None:
    trail(url)
    everyone = run(["--db", url, "events", "--since", "1h"])
    assert everyone.code == 0
    assert len({line.split()[2] for line in everyone.out.splitlines()}) == 2  # both accounts
    assert len(everyone.out.splitlines()) > 4
    future = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert run(["--db", url, "events", "--since", future]).out == ""
    limited = run(["--db", url, "events", "--limit", "2"])
    assert len(limited.out.splitlines()) == 2
    last = limited.out.splitlines()[-1].split()[0]
    assert limited.err == (
        "credflow: the first 2 events shown; more may follow: raise --limit or use "
        f"--since {last}\n"
    )


def test_events_as_json_lines(url: str) -> None:
    account_id = trail(url)
    result = run(["--db", url, "events", "--account", "user000000", "--json"])
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert rows[-1]["type"] == "account_disabled"
    assert rows[-1]["details"] == {"previous": "active"}
    assert {row["account_id"] for row in rows} == {account_id}
    assert datetime.fromisoformat(rows[0]["at"]).tzinfo is not None


def test_events_of_a_deleted_account_by_pseudonym(url: str) -> None:
    trail(url)
    deleted = run(
        ["--db", url, "users", "delete", "user000000", "--yes"], env={"CREDFLOW_SECRET_KEY": KEY}
    )
    pseudonym = deleted.out.split()[-1]
    assert pseudonym.startswith("anon:")
    result = run(["--db", url, "events", "--account", pseudonym])
    assert result.code == 0
    assert "account_deleted" in result.out
    assert "login_failed" in result.out


def test_events_errors(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    unknown = run(["--db", url, "events", "--account", "nobody"])
    assert unknown.code == 1
    assert unknown.err == "credflow: error: no account with id or identifier 'nobody'\n"
    for limit in ("0", "10001"):
        result = run(["--db", url, "events", "--limit", limit])
        assert result.code == 2
        assert result.err == "credflow: error: --limit must be from 1 to 10000\n"
    with pytest.raises(SystemExit) as info:
        run(["--db", url, "events", "--since", "yesterday"])
    assert info.value.code == 2
    assert "not a duration (24h, 7d) nor an ISO 8601 date: 'yesterday'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-04-19", datetime(2024, 4, 19, tzinfo=UTC)),
        ("2024-04-19T08:30:00", datetime(2024, 4, 19, 8, 30, tzinfo=UTC)),
        ("2024-04-19T08:30:00+02:00", datetime(2024, 4, 19, 6, 30, tzinfo=UTC)),
    ],
)
def test_since_instants(text: str, expected: datetime) -> None:
    assert since(text) == expected


@given(amount=st.integers(0, 999_999), unit=st.sampled_from("smhdw"))
def test_since_durations_go_back_from_now(amount: int, unit: str) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit] * amount
    try:
        datetime.now(UTC) - timedelta(seconds=seconds + 60)
    except OverflowError:  # before year 1 (or within a minute of it)
        with pytest.raises(argparse.ArgumentTypeError, match="too far back"):
            since(f"{amount}{unit}")
        return
    before = datetime.now(UTC)
    moment = since(f"{amount}{unit}")
    after = datetime.now(UTC)
    assert before - timedelta(seconds=seconds) <= moment <= after - timedelta(seconds=seconds)


@given(st.text(max_size=20))
def test_since_refuses_or_returns_an_aware_instant(text: str) -> None:
    try:
        moment = since(text)
    except argparse.ArgumentTypeError as exc:
        message = str(exc)
    else:
        assert moment.tzinfo is not None
        return
    assert message.startswith(("not a duration", "too far back"))


# -- flows ------------------------------------------------------------------------------------


def test_flows_list() -> None:
    result = run(["flows", "list"])
    assert result.code == 0
    assert result.out.splitlines() == sorted(MACHINES)


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_flows_diagram(name: str) -> None:
    result = run(["flows", "diagram", name])
    assert result.code == 0
    assert result.out.startswith("stateDiagram-v2\n")
    assert result.out.rstrip("\n") == diagram(name).rstrip("\n")


def test_flows_diagram_of_an_unknown_flow() -> None:
    result = run(["flows", "diagram", "checkout"])
    assert result.code == 2
    assert result.out == ""
    assert result.err == (
        f"credflow: error: unknown flow 'checkout'; known: {', '.join(sorted(MACHINES))}\n"
    )
