"""``credflow users require-reset``: DEFI's migration, in batches, resumable, on SQLite and
PostgreSQL, with a real SMTP server on loopback.

``test_require_reset_at_scale`` is slow-marked: 1,000 accounts by default (the mail server takes
most of the time: one SMTP connection per mail); set
``CREDFLOW_RESET_COUNT=100000`` to measure a full migration by hand (it prints the timing with
``-s``).
"""

from __future__ import annotations

import mailbox
import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from tests.test_cli_support import (
    BASE_URL,
    KEY,
    OLD_PASSWORD,
    MailServer,
    free_port,
    opened_cf,
    run,
    seed,
    smtp_env,
)
from tests.test_notify_smtp import Counting

from credflow.accounts import AccountService
from credflow.cli import reset
from credflow.errors import ConcurrentUpdate
from credflow.hashing import UNUSABLE
from credflow.results import LoginStatus, RecoveryStatus
from credflow.storage.records import Account, AccountStatus, RequiredAction

NEW_PASSWORD = "Nouveau-Mot2passe$"
BEFORE = re.compile(r"--before (\S+)")
LINK = re.compile(r"/reset\?token=(\S+)")


def mailing(smtp: MailServer) -> dict[str, str]:
    return smtp.env | {"CREDFLOW_SECRET_KEY": KEY, "CREDFLOW_BASE_URL": BASE_URL}


def reset_all(url: str, env: dict[str, str], *extra: str) -> Any:
    return run(["--db", url, "users", "require-reset", "--all", "--yes", *extra], env=env)


def credentials(url: str, accounts: list[Account]) -> dict[str, str]:
    """identifier → "unusable" or "old" (the seeded hash) or "other"."""
    with opened_cf(url) as cf:
        found = {}
        for account in accounts:
            credential = cf.storage.get_password(account.id)
            assert credential is not None
            if credential.hash == UNUSABLE:
                found[account.identifier] = "unusable"
            elif cf.hasher.verify(credential.hash, OLD_PASSWORD).ok:
                found[account.identifier] = "old"
            else:
                found[account.identifier] = "other"
        return found


def by_id(accounts: list[Account]) -> list[Account]:
    return sorted(accounts, key=lambda a: a.id)  # the order --all goes in


# -- link mode ---------------------------------------------------------------------------------


@pytest.mark.req("PW-14", "DB-02")
def test_require_reset_all_voids_and_mails_links(url: str, smtp: MailServer) -> None:
    active = seed(url, 5)
    (bare,) = seed(url, 1, prefix="nomail", with_email=False)
    (disabled,) = seed(url, 1, prefix="gone", status=AccountStatus.DISABLED)
    result = reset_all(url, mailing(smtp), "--batch-size", "2")
    assert result.code == 0, result.err
    before = BEFORE.search(result.err)
    assert before is not None
    assert result.out == (
        "require-reset: 7 accounts examined\n"
        "  reset: 6 (setup links mailed: 5; no email address, so no link: 1)\n"
        f"  already reset since {before.group(1)}: 0\n"
        "  not active, left alone: 1\n"
        f"  no email: nomail000000 ({bare.id})\n"
    )
    assert result.err.startswith(
        f"require-reset: passwords set before {before.group(1)}; to resume after an "
        f"interruption, run the same command with --before {before.group(1)}\n"
    )
    assert "require-reset: 0/7 (0 %)\n" in result.err
    assert result.err.endswith("require-reset: 7/7 (100 %)\n")
    states = credentials(url, [*active, bare, disabled])
    assert states == {a.identifier: "unusable" for a in [*active, bare]} | {"gone000000": "old"}
    assert sorted(m["To"] for m in smtp.mailbox.mails) == sorted(a.email or "" for a in active)
    tokens = [LINK.search(smtp.mailbox.text(m)) for m in smtp.mailbox.mails]
    assert all(tokens)
    for token in tokens:
        assert token is not None
        assert token.group(1) not in result.text
    assert KEY not in result.text
    with opened_cf(url) as cf:
        assert cf.login(active[0].identifier, OLD_PASSWORD).status is LoginStatus.DENIED
        assert cf.login(disabled.identifier, OLD_PASSWORD).status is LoginStatus.DENIED
        assert cf.storage.get_password(disabled.id) is not None
        sent = [e for e in cf.storage.events() if e.type == "password_setup_sent"]
        assert len(sent) == 6


def test_the_link_sets_a_new_password_and_a_rerun_leaves_it(url: str, smtp: MailServer) -> None:
    accounts = seed(url, 3)
    first = reset_all(url, mailing(smtp))
    assert first.code == 0
    before = BEFORE.search(first.err)
    assert before is not None
    mail = smtp.mailbox.to(accounts[0].email or "")[0]
    token = LINK.search(smtp.mailbox.text(mail))
    assert token is not None
    with opened_cf(url) as cf:
        opened = cf.recovery.open_link(token.group(1))
        assert opened.flow is not None, opened
        done = cf.recovery.set_password(opened.flow, NEW_PASSWORD, NEW_PASSWORD)
        assert done.status is RecoveryStatus.COMPLETED
    again = reset_all(url, mailing(smtp), "--before", before.group(1))
    assert again.code == 0
    assert "  reset: 0 (" in again.out
    assert f"  already reset since {before.group(1)}: 3\n" in again.out
    assert len(smtp.mailbox.mails) == 3  # nobody mailed twice
    with opened_cf(url) as cf:
        assert cf.login(accounts[0].identifier, NEW_PASSWORD).status is LoginStatus.AUTHENTICATED


def test_an_interrupted_run_resumes_without_mailing_twice(
    url: str, smtp: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = by_id(seed(url, 10))
    real = reset.reset_batch
    calls = 0

    def interrupted(*args: Any, **kwargs: Any) -> reset.Tally:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(reset, "reset_batch", interrupted)
    first = reset_all(url, mailing(smtp), "--batch-size", "3")
    assert first.code == 130
    before = BEFORE.search(first.err)
    assert before is not None
    assert first.err.endswith(
        "require-reset: 6/10 (60 %)\n"
        "credflow: error: interrupted after 6 accounts (6 reset, kept); run the same command "
        f"with --before {before.group(1)} to resume\n"
    )
    assert first.out == ""
    states = credentials(url, accounts)
    assert [states[a.identifier] for a in accounts] == ["unusable"] * 6 + ["old"] * 4
    monkeypatch.setattr(reset, "reset_batch", real)
    second = reset_all(url, mailing(smtp), "--batch-size", "3", "--before", before.group(1))
    assert second.code == 0, second.err
    assert "  reset: 4 (setup links mailed: 4;" in second.out
    assert f"  already reset since {before.group(1)}: 6\n" in second.out
    assert set(credentials(url, accounts).values()) == {"unusable"}
    assert Counter(m["To"] for m in smtp.mailbox.mails) == {a.email: 1 for a in accounts}


@pytest.mark.req("DB-02")
def test_a_failing_batch_is_rolled_back_whole(url: str, smtp: MailServer) -> None:
    accounts = by_id(seed(url, 7))
    smtp.mailbox.refuse.add(accounts[4].email or "")  # the second batch of three
    result = reset_all(url, mailing(smtp), "--batch-size", "3")
    assert result.code == 1
    assert "credflow: error: could not send the message through the SMTP server" in result.err
    assert "the recipient was refused" in result.err
    states = credentials(url, accounts)
    assert [states[a.identifier] for a in accounts] == ["unusable"] * 3 + ["old"] * 4
    with opened_cf(url) as cf:
        assert cf.login(accounts[3].identifier, OLD_PASSWORD).status is LoginStatus.AUTHENTICATED


def test_a_batch_that_loses_a_race_is_tried_again(
    sqlite_url: str, smtp: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = seed(sqlite_url, 3)
    real = AccountService.send_password_setup
    failures = iter([True, False])

    def racing(self: AccountService, ids: Any, **kwargs: Any) -> int:
        if next(failures, False):
            raise ConcurrentUpdate("lost a race")
        return real(self, ids, **kwargs)

    monkeypatch.setattr(AccountService, "send_password_setup", racing)
    result = reset_all(sqlite_url, mailing(smtp))
    assert result.code == 0, result.err
    assert set(credentials(sqlite_url, accounts).values()) == {"unusable"}
    assert len(smtp.mailbox.mails) == 3

    def always(self: AccountService, ids: Any, **kwargs: Any) -> int:
        raise ConcurrentUpdate("lost a race")

    monkeypatch.setattr(AccountService, "send_password_setup", always)
    seed(sqlite_url, 1, prefix="late")
    lost = reset_all(sqlite_url, mailing(smtp))
    assert lost.code == 1
    assert lost.err.endswith("credflow: error: lost a race\n")


def test_accounts_deleted_meanwhile_are_counted(
    sqlite_url: str, smtp: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(sqlite_url, 2)
    real = reset._batches

    def with_a_ghost(*args: Any) -> Iterator[list[Account | str]]:
        for batch in real(*args):
            yield [*batch, "deleted-meanwhile"]

    monkeypatch.setattr(reset, "_batches", with_a_ghost)
    result = reset_all(sqlite_url, mailing(smtp))
    assert result.code == 0
    assert "  deleted meanwhile: 1\n" in result.out
    assert "require-reset: 3 accounts examined\n" in result.out


# -- next-login mode, named accounts, dry run ------------------------------------------------------


@pytest.mark.req("PW-14")
def test_next_login_mode_needs_no_mail_nor_key(url: str) -> None:
    accounts = seed(url, 4)
    result = reset_all(url, {}, "--mode", "next-login")
    assert result.code == 0, result.err
    assert "  reset: 4 (a password change at their next login)\n" in result.out
    with opened_cf(url) as cf:
        for account in accounts:
            stored = cf.storage.get_account(account.id)
            assert stored is not None
            assert stored.required_actions == (RequiredAction.CHANGE_PASSWORD,)
        login = cf.login(accounts[0].identifier, OLD_PASSWORD)
        assert login.status is LoginStatus.ACTION_REQUIRED
    again = reset_all(url, {}, "--mode", "next-login")
    assert "  reset: 0 (" in again.out
    assert ": 4\n" in again.out  # already required


def test_named_accounts(url: str, smtp: MailServer) -> None:
    (active,) = seed(url, 1)
    (disabled,) = seed(url, 1, prefix="gone", status=AccountStatus.DISABLED)
    argv = ["--db", url, "users", "require-reset", "--yes"]
    unknown = run([*argv, active.identifier, "nobody"], env=mailing(smtp))
    assert unknown.code == 1
    assert unknown.err == "credflow: error: no account with id or identifier 'nobody'\n"
    assert set(credentials(url, [active, disabled]).values()) == {"old"}
    named = run([*argv, "--", active.identifier, disabled.id, active.id], env=mailing(smtp))
    assert named.code == 0, named.err
    assert "require-reset: 2 accounts examined\n" in named.out
    assert set(credentials(url, [active, disabled]).values()) == {"unusable"}
    assert len(smtp.mailbox.mails) == 2


def test_dry_run_changes_nothing(url: str) -> None:
    accounts = seed(url, 3)
    result = reset_all(url, {}, "--dry-run")
    assert result.code == 0, result.err
    assert "  would reset: 3 (setup links mailed: 3;" in result.out
    assert set(credentials(url, accounts).values()) == {"old"}
    one = run(["--db", url, "users", "require-reset", "--dry-run", accounts[0].identifier])
    assert one.out.startswith("require-reset: 1 account examined\n  would reset: 1 (")


# -- confirmation, usage errors, progress --------------------------------------------------------


def test_require_reset_asks_first(sqlite_url: str, smtp: MailServer) -> None:
    accounts = seed(sqlite_url, 2)
    argv = ["--db", sqlite_url, "users", "require-reset", "--all"]
    piped = run(argv, env=mailing(smtp))
    assert piped.code == 2
    assert piped.err == (
        "credflow: error: require-reset: confirmation needed and no terminal to ask; use --yes\n"
    )
    declined = run(argv, "\n", mailing(smtp), tty=True)
    assert declined.code == 1
    assert declined.err.startswith(
        "Void the password of every active account (2 accounts in the database) and mail each a "
        "link to set a new one? The old passwords stop working at once. [y/N] "
    )
    assert set(credentials(sqlite_url, accounts).values()) == {"old"}
    assert smtp.mailbox.mails == []
    named = run([*argv[:-1], "--mode", "next-login", accounts[0].identifier], "n\n", tty=True)
    assert "Require 1 account to change password at the next login? [y/N] " in named.err
    accepted = run(argv, "yes\n", mailing(smtp), tty=True)
    assert accepted.code == 0
    assert set(credentials(sqlite_url, accounts).values()) == {"unusable"}


@pytest.mark.parametrize(
    ("extra", "env", "message"),
    [
        (["--all", "someone"], None, "name the accounts, or give --all (not both)"),
        ([], None, "name the accounts, or give --all (not both)"),
        (["--all", "--batch-size", "0"], None, "--batch-size must be from 1 to 10000"),
        (["--all"], {}, "this command needs the application's secret key: set CREDFLOW_SECRET_KEY"),
        (
            ["--all"],
            {"CREDFLOW_SECRET_KEY": KEY},
            "mails need the portal's address: pass --base-url or set CREDFLOW_BASE_URL",
        ),
        (
            ["--all", "--base-url", BASE_URL],
            {"CREDFLOW_SECRET_KEY": KEY},
            "mail needs an SMTP server: set CREDFLOW_SMTP_HOST and CREDFLOW_SMTP_SENDER (and "
            "CREDFLOW_SMTP_PORT, _SECURITY, _USERNAME, _PASSWORD as needed)",
        ),
    ],
)
def test_require_reset_usage_errors_change_nothing(
    sqlite_url: str, smtp: MailServer, extra: list[str], env: dict[str, str] | None, message: str
) -> None:
    accounts = seed(sqlite_url, 1)
    argv = ["--db", sqlite_url, "users", "require-reset", "--yes", *extra]
    result = run(argv, env=mailing(smtp) if env is None else env)
    assert result.code == 2
    assert result.err == f"credflow: error: {message}\n"
    assert set(credentials(sqlite_url, accounts).values()) == {"old"}


def test_progress_is_redrawn_in_place_on_a_terminal(sqlite_url: str) -> None:
    seed(sqlite_url, 5)
    argv = ["--db", sqlite_url, "users", "require-reset", "--all", "--yes", "--mode", "next-login"]
    result = run([*argv, "--batch-size", "2"], tty_err=True)
    assert result.code == 0
    progress = result.err.split("\n", 1)[1]
    assert progress.startswith("\rrequire-reset: 0/5 (0 %)")
    assert progress.endswith("\rrequire-reset: 5/5 (100 %)\n")
    assert progress.count("\n") == 1


def test_reset_batch_directly(sqlite_url: str) -> None:
    (account,) = seed(sqlite_url, 1)
    with opened_cf(sqlite_url) as cf:
        tally = reset.reset_batch(
            cf, [account.id, "nope"], before=datetime.now(UTC), link=False, dry_run=True
        )
        assert (tally.examined, tally.reset, tally.gone, tally.already) == (2, 1, 1, 0)


# -- at scale ----------------------------------------------------------------------------------


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """aiosmtpd in its own process (a server in this process would share its interpreter lock
    and slow the run down threefold), keeping every mail in a Maildir."""
    port = free_port()
    maildir = tmp_path / "maildir"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Mailbox",
            str(maildir),
        ],
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        yield smtp_env(port), maildir
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.req("PW-14")
def test_require_reset_at_scale(url: str, sink: tuple[dict[str, str], Path]) -> None:
    count = int(os.environ.get("CREDFLOW_RESET_COUNT", "1000"))
    env, maildir = sink
    started = time.perf_counter()
    accounts = seed(url, count)
    seeded = time.perf_counter()
    result = reset_all(url, env | {"CREDFLOW_SECRET_KEY": KEY, "CREDFLOW_BASE_URL": BASE_URL})
    finished = time.perf_counter()
    assert result.code == 0, result.err
    assert f"require-reset: {count:,} accounts examined\n" in result.out
    assert f"  reset: {count:,} (setup links mailed: {count:,};" in result.out
    assert result.err.count("\n") == 1 + 11  # the --before line, then every tenth
    recipients = Counter(message["To"] for message in mailbox.Maildir(maildir, create=False))
    assert recipients == {a.email: 1 for a in accounts}
    sample = accounts[:: max(1, count // 50)]
    assert set(credentials(url, sample).values()) == {"unusable"}
    print(
        f"\nrequire-reset of {count:,} accounts on {url.split(':')[0]}: seed "
        f"{seeded - started:.1f} s, reset {finished - seeded:.1f} s "
        f"({count / (finished - seeded):,.0f} accounts/s)"
    )


def test_a_mailing_run_uses_one_smtp_connection(sqlite_url: str) -> None:
    """Every link of a run, across batches, over one connection (SMTPNotifier.connection)."""
    seed(sqlite_url, 5)
    handler = Counting()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env = smtp_env(port) | {"CREDFLOW_SECRET_KEY": KEY, "CREDFLOW_BASE_URL": BASE_URL}
        result = reset_all(sqlite_url, env, "--batch-size", "2")
    finally:
        controller.stop()
    assert result.code == 0, result.err
    assert len(handler.received) == 5
    assert (handler.hellos, handler.quits) == (1, 1)
