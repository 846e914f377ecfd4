"""``credflow users create|list|show|disable|enable|approve|reject|unlock|delete|
temporary-password`` against a SQLite file and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from tests.test_cli_support import (
    KEY,
    MailServer,
    opened_cf,
    run,
    seed,
)

from credflow.flows.lockout import LockoutState
from credflow.hashing import UNUSABLE
from credflow.results import LoginStatus
from credflow.storage.records import (
    Account,
    AccountStatus,
    Membership,
    MembershipStatus,
    MfaFactor,
    MfaKind,
    RequiredAction,
    SecurityQuestion,
)

PASSWORD = "Zq9$unique-Secret-4711"
TEMPORARY = re.compile(r"^temporary password \(shown once\): (\S+)$", re.MULTILINE)


def users(url: str, *argv: str) -> list[str]:
    return ["--db", url, "users", *argv]


def no_secrets(text: str, *secrets: str) -> None:
    assert "$argon2" not in text
    assert UNUSABLE not in text
    assert KEY not in text
    for secret in secrets:
        assert secret not in text


# -- create ---------------------------------------------------------------------------------------


@pytest.mark.req("TP-01", "TP-05")
def test_create_with_a_temporary_password_shows_it_once(url: str) -> None:
    result = run(users(url, "create", "adejoux", "--email", "a.dejoux@example.fr", "--temporary"))
    assert result.code == 0, result.err
    assert result.err == ""
    match = TEMPORARY.search(result.out)
    assert match is not None
    password = match.group(1)
    assert result.out.count(password) == 1
    assert result.out.startswith("created adejoux (")
    assert "the first login changes it" in result.out
    no_secrets(result.out)
    with opened_cf(url) as cf:
        login = cf.login("adejoux", password)
        assert login.status is LoginStatus.ACTION_REQUIRED
        account = cf.accounts.find("adejoux")
        assert account is not None
        assert account.email == "a.dejoux@example.fr"
        assert RequiredAction.CHANGE_PASSWORD in account.required_actions
    shown = run(users(url, "show", "adejoux"))
    no_secrets(shown.text, password)


def test_create_mails_the_temporary_password(sqlite_url: str, smtp: MailServer) -> None:
    env = smtp.env | {"CREDFLOW_BASE_URL": "https://portal.example.fr"}
    argv = users(
        sqlite_url, "create", "adejoux", "--email", "a@example.fr", "--temporary", "--mail"
    )
    result = run([*argv, "--lang", "en"], env=env)
    assert result.code == 0, result.err
    assert "temporary password mailed to a@example.fr" in result.out
    assert TEMPORARY.search(result.out) is None
    mails = smtp.mailbox.to("a@example.fr")
    assert len(mails) == 2  # the identifier and the password, separately
    texts = [smtp.mailbox.text(mail) for mail in mails]
    assert "adejoux" in texts[0]
    found = [word for word in texts[1].split() if len(word) >= 16 and word.isprintable()]
    assert found, texts[1]
    with opened_cf(sqlite_url) as cf:
        assert any(
            cf.login("adejoux", word).status is LoginStatus.ACTION_REQUIRED for word in found
        )
    for word in found:
        assert word not in result.text


@pytest.mark.parametrize(
    ("extra", "env", "message"),
    [
        (["--mail"], {}, "--mail needs --temporary: a password you type is never mailed"),
        (["--temporary", "--mail"], {}, "--mail needs --email"),
        (
            ["--temporary", "--mail", "--email", "a@example.fr"],
            {"CREDFLOW_BASE_URL": "https://p.example.fr"},
            "mail needs an SMTP server: set CREDFLOW_SMTP_HOST and CREDFLOW_SMTP_SENDER (and "
            "CREDFLOW_SMTP_PORT, _SECURITY, _USERNAME, _PASSWORD as needed)",
        ),
        (
            ["--temporary", "--mail", "--email", "a@example.fr"],
            {"CREDFLOW_SMTP_HOST": "127.0.0.1", "CREDFLOW_SMTP_SENDER": "n@example.fr"},
            "mails need the portal's address: pass --base-url or set CREDFLOW_BASE_URL",
        ),
        (
            ["--temporary", "--mail", "--email", "a@example.fr", "--base-url", "https://p.fr"],
            {
                "CREDFLOW_SMTP_HOST": "127.0.0.1",
                "CREDFLOW_SMTP_SENDER": "n@example.fr",
                "CREDFLOW_SMTP_PORT": "smtp",
            },
            "CREDFLOW_SMTP_PORT must be a number",
        ),
        (["--email", "not-an-address"], {}, "email: not an email address"),
    ],
)
def test_create_usage_errors_change_nothing(
    sqlite_url: str, extra: list[str], env: dict[str, str], message: str
) -> None:
    result = run(users(sqlite_url, "create", "adejoux", *extra), PASSWORD + "\n", env)
    assert result.code == 2
    assert result.err == f"credflow: error: {message}\n"
    assert result.out == ""
    assert run(users(sqlite_url, "list")).out.count("\n") == 1  # the header only


def test_create_with_a_bad_identifier(sqlite_url: str) -> None:
    result = run(users(sqlite_url, "create", " padded "), PASSWORD + "\n")
    assert result.code == 2
    assert result.err == "credflow: error: identifier: must not start or end with spaces\n"


def test_create_when_the_mail_server_fails_creates_nothing(sqlite_url: str) -> None:
    from tests.storage_fixtures import closed_port

    env = {
        "CREDFLOW_SMTP_HOST": "127.0.0.1",
        "CREDFLOW_SMTP_PORT": str(closed_port()),
        "CREDFLOW_SMTP_SENDER": "n@example.fr",
        "CREDFLOW_SMTP_SECURITY": "none",
        "CREDFLOW_SMTP_USERNAME": "mailer",
        "CREDFLOW_SMTP_PASSWORD": "Smtp-Secret-77",
        "CREDFLOW_BASE_URL": "https://p.example.fr",
    }
    argv = users(
        sqlite_url, "create", "adejoux", "--email", "a@example.fr", "--temporary", "--mail"
    )
    result = run(argv, env=env)
    assert result.code == 1
    assert result.err.startswith("credflow: error: could not connect to the SMTP server")
    assert "Smtp-Secret-77" not in result.text
    assert run(users(sqlite_url, "show", "adejoux")).code == 1


@pytest.mark.req("PW-16")
def test_create_with_a_password_from_stdin(url: str) -> None:
    result = run(users(url, "create", "bdupont", "--email", "b@example.fr"), PASSWORD + "\n")
    assert result.code == 0, result.err
    assert result.out.startswith("created bdupont (")
    no_secrets(result.text, PASSWORD)
    with opened_cf(url) as cf:
        assert cf.login("bdupont", PASSWORD).status is LoginStatus.AUTHENTICATED
        account = cf.accounts.find("bdupont")
        assert account is not None
        events = [e.type for e in cf.storage.events(account_id=account.id)]
        assert events[:2] == ["account_created", "password_set"]


@pytest.mark.req("PW-01")
def test_create_refuses_a_password_the_policy_refuses(url: str) -> None:
    result = run(users(url, "create", "bdupont", "--lang", "en"), "bdupont1\n")
    assert result.code == 1
    assert result.err == "credflow: error: password refused: uppercase, not_identifier\n"
    assert "✗ At least one uppercase letter" in result.out
    assert "bdupont1" not in result.text
    assert run(users(url, "show", "bdupont")).code == 1


def test_create_reads_a_terminal_twice(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    typed = iter([PASSWORD, PASSWORD, PASSWORD, PASSWORD + "x"])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(typed)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert run(users(sqlite_url, "create", "one"), tty=True).code == 0
    assert prompts == ["Mot de passe / Password: ", "Confirmation: "]
    differs = run(users(sqlite_url, "create", "two"), tty=True)
    assert differs.code == 1
    assert differs.err == "credflow: error: the two passwords differ; nothing was created\n"
    assert run(users(sqlite_url, "show", "two")).code == 1


def test_create_a_taken_identifier(url: str) -> None:
    assert run(users(url, "create", "adejoux", "--temporary")).code == 0
    again = run(users(url, "create", "ADejoux"), PASSWORD + "\n")
    assert again.code == 1
    assert again.err == "credflow: error: the identifier 'ADejoux' is taken\n"
    temporary = run(users(url, "create", "adejoux", "--temporary"))
    assert temporary.code == 1
    assert temporary.out == ""
    assert "identifier" in temporary.err


# -- list and show ------------------------------------------------------------------------------


def test_list_pages_filters_and_continues(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("credflow.cli.users._PAGE", 3)  # several storage pages with few accounts
    active = seed(url, 7, prefix="act")
    seed(url, 2, prefix="dis", status=AccountStatus.DISABLED)
    everything = run(users(url, "list", "--limit", "0"))
    assert everything.code == 0
    lines = everything.out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "CREATED", "IDENTIFIER", "EMAIL"]
    assert len(lines) == 1 + 9
    assert [line.split()[0] for line in lines[1:]] == sorted(line.split()[0] for line in lines[1:])
    assert everything.err == ""

    first = run(users(url, "list", "--status", "active", "--limit", "4"))
    ids = [line.split()[0] for line in first.out.splitlines()[1:]]
    assert len(ids) == 4
    assert first.err == (
        f"credflow: 4 accounts shown; more follow: continue with --after={ids[-1]}\n"
    )
    rest = run(users(url, "list", "--status", "active", f"--after={ids[-1]}"))
    more = [line.split()[0] for line in rest.out.splitlines()[1:]]
    assert sorted(ids + more) == sorted(a.id for a in active)
    assert rest.err == ""
    one = run(users(url, "list", "--status", "disabled", "--limit", "1"))
    assert "1 account shown;" in one.err


def test_list_as_json_lines(url: str) -> None:
    seed(url, 2)
    with opened_cf(url) as cf:
        account = cf.accounts.find("user000001")
        assert account is not None
        cf.accounts.require_actions([account.id], [RequiredAction.CHANGE_PASSWORD])
        for _ in range(5):
            cf.login("user000001", "wrong-password")
    result = run(users(url, "list", "--json"))
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert [row["identifier"] for row in sorted(rows, key=lambda r: r["identifier"])] == [
        "user000000",
        "user000001",
    ]
    locked = next(row for row in rows if row["identifier"] == "user000001")
    assert locked["locked"] is True
    assert locked["required_actions"] == ["change_password"]
    assert set(locked) == {
        "id",
        "identifier",
        "email",
        "status",
        "created_at",
        "locked",
        "required_actions",
    }
    text = run(users(url, "list")).out
    assert "[locked] [change_password]" in text


def test_list_bad_limit_is_a_usage_error(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for value in ("-1", "many"):
        with pytest.raises(SystemExit) as info:
            run(users(sqlite_url, "list", "--limit", value))
        assert info.value.code == 2
    assert "argument --limit" in capsys.readouterr().err


@pytest.mark.req("PW-15", "OT-08")
def test_show_everything_but_secrets(url: str) -> None:
    seed(url, 1)
    now = datetime.now(UTC)
    with opened_cf(url) as cf:
        account = cf.accounts.find("user000000")
        assert account is not None
        cf.storage.save_mfa_factor(
            MfaFactor(
                account_id=account.id,
                kind=MfaKind.TOTP,
                secret="v1:k1:SEEDSEEDSEEDSEED",
                confirmed=True,
                created_at=now,
            )
        )
        cf.storage.save_mfa_factor(
            MfaFactor(account_id=account.id, kind=MfaKind.SMS, phone="+33612345678", created_at=now)
        )
        cf.storage.set_question(
            SecurityQuestion(
                account_id=account.id,
                question="Nom de votre premier animal ?",
                answer_hash="$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
                set_at=now,
            )
        )
        organisation = cf.organisations.create("DEFI Informatique")
        cf.storage.create_membership(
            Membership(
                account_id=account.id,
                organisation_id=organisation.id,
                roles=("admin",),
                status=MembershipStatus.ACTIVE,
                created_at=now,
                updated_at=now,
            )
        )
        for _ in range(5):
            cf.login("user000000", "wrong-password")
        assert cf.accounts.lock_state(account.id) is not LockoutState.OPEN
    result = run(users(url, "show", "user000000"))
    assert result.code == 0, result.err
    fields = dict(line.split(":", 1) for line in result.out.splitlines())
    fields = {k: v.strip() for k, v in fields.items()}
    assert fields["identifier"] == "user000000"
    assert fields["email"] == "user000000@example.fr"
    assert fields["status"] == "active"
    assert fields["lock"] in ("locked", "locked_until_unlocked")
    assert fields["failed attempts"] == "5"
    assert fields["password"].startswith("set ")
    assert fields["security question"] != "-"
    assert "totp (confirmed" in fields["second factors"]
    assert "sms (not confirmed" in fields["second factors"]
    assert "+33•••••••78" in fields["second factors"]
    assert fields["memberships"].startswith("DEFI Informatique (")
    assert "active, roles admin" in fields["memberships"]
    no_secrets(result.out, "SEEDSEED", "+33612345678", "premier animal", "c2FsdHNhbHQ")
    as_json = json.loads(run(users(url, "show", "--json", "--", account.id)).out)
    assert as_json["identifier"] == "user000000"
    assert as_json["memberships"][0]["status"] == MembershipStatus.ACTIVE.value
    assert [f["kind"] for f in as_json["second_factors"]] == ["sms", "totp"]
    assert as_json["second_factors"][0]["phone"] == "+33•••••••78"
    no_secrets(json.dumps(as_json), "SEEDSEED", "+33612345678", "c2FsdHNhbHQ")


def test_show_password_states(sqlite_url: str) -> None:
    assert run(users(sqlite_url, "create", "nopass", "--temporary")).code == 0
    seed(sqlite_url, 1, prefix="short", with_email=False)
    with opened_cf(sqlite_url) as cf:
        account = cf.accounts.find("short000000")
        assert account is not None
        cf.accounts.send_password_setup([account.id])
        bare = cf.accounts.create("bare", temporary=False).account
    assert "password:            temporary, set " in run(users(sqlite_url, "show", "nopass")).out
    voided = run(users(sqlite_url, "show", "short000000")).out
    assert "waiting for a new one" in voided
    assert "email:               -" in voided
    assert "password:            none" in run(users(sqlite_url, "show", "--", bare.id)).out


@pytest.mark.parametrize(
    "action",
    ["show", "disable", "enable", "approve", "reject", "unlock", "delete", "temporary-password"],
)
def test_an_unknown_account_is_refused(sqlite_url: str, action: str) -> None:
    confirmed = action in ("disable", "delete", "temporary-password")
    argv = users(sqlite_url, action, "nobody", *(["--yes"] if confirmed else []))
    result = run(argv, env={"CREDFLOW_SECRET_KEY": KEY})
    assert result.code == 1
    assert result.err == "credflow: error: no account with id or identifier 'nobody'\n"
    assert result.out == ""


def test_an_id_starting_with_a_dash_goes_after_double_dash(sqlite_url: str) -> None:
    now = datetime.now(UTC)
    account = Account(
        id="-dash-first-id-0000000",
        identifier="dashed",
        identifier_key="dashed",
        created_at=now,
        updated_at=now,
    )
    with opened_cf(sqlite_url) as cf:
        cf.storage.create_account(account)
    shown = run(users(sqlite_url, "show", "--json", "--", account.id))
    assert shown.code == 0
    assert json.loads(shown.out)["identifier"] == "dashed"
    events = run(["--db", sqlite_url, "events", f"--account={account.id}"])
    assert events.code == 0


def test_an_identifier_that_cannot_exist_is_unknown(sqlite_url: str) -> None:
    result = run(users(sqlite_url, "show", "x" * 300))
    assert result.code == 1


# -- status changes ----------------------------------------------------------------------------


def status_of(url: str, identifier: str) -> AccountStatus:
    with opened_cf(url) as cf:
        account = cf.accounts.find(identifier)
        assert account is not None
        return account.status


def test_disable_asks_first(url: str) -> None:
    seed(url, 1)
    piped = run(users(url, "disable", "user000000"))
    assert piped.code == 2
    assert piped.err.startswith("credflow: error: disable user000000 (")
    assert piped.err.endswith("): confirmation needed and no terminal to ask; use --yes\n")
    assert status_of(url, "user000000") is AccountStatus.ACTIVE

    declined = run(users(url, "disable", "user000000"), "n\n", tty=True)
    assert declined.code == 1
    assert "Disable user000000 (" in declined.err
    assert "[y/N]" in declined.err
    assert declined.err.endswith("credflow: error: cancelled; nothing was changed\n")
    assert status_of(url, "user000000") is AccountStatus.ACTIVE

    accepted = run(users(url, "disable", "user000000"), "oui\n", tty=True)
    assert accepted.code == 0
    assert accepted.out.startswith("disabled user000000 (")
    assert status_of(url, "user000000") is AccountStatus.DISABLED

    again = run(users(url, "disable", "user000000", "--yes"))
    assert again.code == 1
    assert again.err.endswith("): it is disabled\n")

    enabled = run(users(url, "enable", "user000000"))
    assert enabled.code == 0
    assert enabled.out.startswith("enabled user000000 (")
    assert status_of(url, "user000000") is AccountStatus.ACTIVE
    assert run(users(url, "disable", "user000000", "--yes")).code == 0


def test_approve_and_reject(url: str) -> None:
    seed(url, 2, status=AccountStatus.PENDING_APPROVAL)
    approved = run(users(url, "approve", "user000000"))
    assert approved.code == 0
    assert approved.out.startswith("approved user000000 (")
    assert status_of(url, "user000000") is AccountStatus.ACTIVE
    rejected = run(users(url, "reject", "user000001"))
    assert rejected.code == 0
    assert rejected.out.startswith("rejected user000001 (")
    assert status_of(url, "user000001") is AccountStatus.DISABLED
    twice = run(users(url, "approve", "user000000"))
    assert twice.code == 1
    assert twice.err.endswith("): it is active\n")


def test_unlock(url: str) -> None:
    seed(url, 1)
    with opened_cf(url) as cf:
        for _ in range(5):
            cf.login("user000000", "wrong-password")
        account = cf.accounts.find("user000000")
        assert account is not None
        assert cf.accounts.lock_state(account.id) is not LockoutState.OPEN
    result = run(users(url, "unlock", "user000000"))
    assert result.code == 0
    assert result.out.startswith("unlocked user000000 (")
    again = run(users(url, "unlock", "--", account.id))
    assert again.code == 0
    assert again.out.endswith(") was not locked; its failure count is reset\n")
    with opened_cf(url) as cf:
        assert cf.accounts.lock_state(account.id) is LockoutState.OPEN
        unlocked = [
            e for e in cf.storage.events(account_id=account.id) if e.type == "account_unlocked"
        ]
        assert [e.details for e in unlocked] == [{"by": "cli"}]


def test_delete(url: str) -> None:
    (account,) = seed(url, 1)
    env = {"CREDFLOW_SECRET_KEY": KEY}
    piped = run(users(url, "delete", "user000000"), env=env)
    assert piped.code == 2
    assert status_of(url, "user000000") is AccountStatus.ACTIVE
    result = run(users(url, "delete", "user000000"), "y\n", env, tty=True)
    assert result.code == 0, result.err
    assert "This cannot be undone." in result.err
    match = re.search(r"its audit events now name (anon:[0-9a-f]{24})$", result.out.strip())
    assert match is not None
    assert run(users(url, "show", "--", account.id)).code == 1
    trail = run(["--db", url, "events", "--account", match.group(1)])
    assert trail.code == 0
    assert "account_deleted" in trail.out
    no_secrets(result.text + trail.text)


@pytest.mark.req("TP-01")
def test_temporary_password(url: str, smtp: MailServer) -> None:
    seed(url, 1)
    seed(url, 1, prefix="nomail", with_email=False)
    printed = run(users(url, "temporary-password", "user000000", "--yes"))
    assert printed.code == 0, printed.err
    match = TEMPORARY.search(printed.out)
    assert match is not None
    with opened_cf(url) as cf:
        assert cf.login("user000000", match.group(1)).status is LoginStatus.ACTION_REQUIRED
    env = smtp.env | {"CREDFLOW_BASE_URL": "https://p.example.fr"}
    mailed = run(users(url, "temporary-password", "user000000", "--yes", "--mail"), env=env)
    assert mailed.code == 0, mailed.err
    assert mailed.out == (
        "temporary password mailed to user000000@example.fr (identifier and password in two "
        "separate mails)\n"
    )
    assert len(smtp.mailbox.to("user000000@example.fr")) == 2
    nowhere = run(users(url, "temporary-password", "nomail000000", "--yes", "--mail"), env=env)
    assert nowhere.code == 1
    assert nowhere.err.endswith(") has no email address to mail to\n")
    piped = run(users(url, "temporary-password", "nomail000000"))
    assert piped.code == 2
