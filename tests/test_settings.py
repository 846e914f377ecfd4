"""Settings: presets, key length, URL, deviations and their warning, SQ-08."""

from __future__ import annotations

import warnings

import pytest
from tests.factories import BASE_URL, KEY, make_cf, outbox
from tests.test_login import GOOD, ready

from credflow import hashing
from credflow.deviations import StandardsDeviationWarning
from credflow.errors import ConfigurationError, InsecureConfiguration, StandardsConflictError
from credflow.settings import LockoutSettings, Settings
from credflow.storage.records import RequiredAction


def test_classic_settings_follow_the_portals() -> None:
    settings = Settings.classic(secret_key=KEY, base_url=BASE_URL)
    assert [r.code for r in settings.password_policy.rules][:5] == [
        "max_length",
        "min_length",
        "lowercase",
        "uppercase",
        "digit",
    ]
    assert settings.first_login_actions == (
        RequiredAction.CHANGE_PASSWORD,
        RequiredAction.ENROLL_SECURITY_QUESTION,
    )
    assert settings.reauthenticate_after_password_change
    assert settings.hashing is hashing.RFC_9106_LOW_MEMORY
    assert settings.lifetimes.recovery_link == 900


def test_nist_settings_have_no_deviation_and_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        settings = Settings.nist(secret_key=KEY, base_url=BASE_URL)
    assert settings.deviations() == ()
    assert settings.lifetimes.recovery_link == 600
    assert not settings.security_questions
    relaxed = settings.replace(lifetimes={"recovery_link": 900})
    assert [d.code for d in relaxed.deviations()] == ["long_recovery_link"]


@pytest.mark.req("SQ-08")
def test_nist_refuses_security_questions_without_override() -> None:
    with pytest.raises(StandardsConflictError):
        Settings.nist(secret_key=KEY, base_url=BASE_URL, security_questions=True)
    with pytest.warns(StandardsDeviationWarning, match="security_questions"):
        allowed = Settings.nist(
            secret_key=KEY, base_url=BASE_URL, security_questions=True, allow_knowledge_based=True
        )
    assert allowed.security_questions


def test_classic_emits_a_deviation_warning_listing_ids() -> None:
    with pytest.warns(StandardsDeviationWarning) as caught:
        settings = Settings.classic(secret_key=KEY, base_url=BASE_URL)
    text = str(caught[0].message)
    assert "composition_rules" in text
    assert "PW-12" in text
    assert "SQ-08" in text
    codes = {d.code for d in settings.deviations()}
    assert {
        "composition_rules",
        "short_minimum",
        "security_questions",
        "long_recovery_link",
    } <= codes


def test_mailed_temporary_password_and_expiry_are_deviations() -> None:
    settings = Settings.classic(
        secret_key=KEY, base_url=BASE_URL, mail_temporary_password=True, password_max_age=90 * 86400
    )
    codes = {d.code: d.requirements for d in settings.deviations()}
    assert codes["mailed_temporary_password"] == ("TP-05",)
    assert codes["password_expiry"] == ("PW-14",)


@pytest.mark.req("EV-08", "SS-05")
def test_email_change_without_reauthentication_is_a_deviation() -> None:
    assert "email_change_without_reauthentication" not in {
        d.code for d in Settings.nist(secret_key=KEY, base_url=BASE_URL).deviations()
    }
    with pytest.warns(StandardsDeviationWarning, match="EV-08/SS-05"):
        settings = Settings.nist(
            secret_key=KEY,
            base_url=BASE_URL,
            registration={"email_change_reauthenticate": False},
        )
    codes = {d.code: d.requirements for d in settings.deviations()}
    assert codes["email_change_without_reauthentication"] == ("EV-08", "SS-05")


@pytest.mark.req("RS-08")
@pytest.mark.parametrize("key", ["short", "x" * 31, b"y" * 31])
def test_keys_shorter_than_32_bytes_are_refused(key: str | bytes) -> None:
    with pytest.raises(InsecureConfiguration, match="32 bytes"):
        Settings.nist(secret_key=key, base_url=BASE_URL)
    with pytest.raises(InsecureConfiguration):
        Settings.nist(secret_key=KEY, base_url=BASE_URL, fallback_keys=[key])


def test_secret_keys_never_appear_in_reprs() -> None:
    settings = Settings.nist(secret_key="s3cr3t-" * 6, base_url=BASE_URL, fallback_keys=["f" * 40])
    for text in (repr(settings), str(settings.model_dump()), repr(settings.secret_key)):
        assert "s3cr3t" not in text
        assert "f" * 40 not in text
    assert settings.signing_keys == (("s3cr3t-" * 6).encode(), (b"f" * 40,))


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://portal.example.fr", True),
        ("https://portal.example.fr/", True),
        ("http://127.0.0.1:8000/app", True),
        ("ftp://portal.example.fr", False),
        ("portal.example.fr", False),
        ("https://portal.example.fr/?next=evil", False),
        ("https://portal.example.fr/#x", False),
    ],
)
def test_base_url(url: str, ok: bool) -> None:
    if ok:
        assert not Settings.nist(secret_key=KEY, base_url=url).base_url.endswith("/")
    else:
        with pytest.raises(ConfigurationError, match="base_url"):
            Settings.nist(secret_key=KEY, base_url=url)


def test_bad_field_named_in_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.nist(secret_key=KEY, base_url=BASE_URL, lockout={"threshold": 101})
    assert caught.value.field == "lockout.threshold"
    with pytest.raises(ConfigurationError, match="security_questions"):
        Settings.nist(
            secret_key=KEY,
            base_url=BASE_URL,
            first_login_actions=("change_password", "enroll_security_question"),
        )


@pytest.mark.req("LK-01", "LK-13")
@pytest.mark.parametrize(
    "values",
    [{"threshold": 0}, {"threshold": 101}, {"base_wait": -1}, {"base_wait": 60, "max_wait": 10}],
)
def test_lockout_rejects_bad_values(values: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        LockoutSettings(**values)


@pytest.mark.req("LK-03", "LK-13")
def test_lockout_wait_doubles_capped_without_overflow() -> None:
    lockout = LockoutSettings(base_wait=60, max_wait=3600)
    assert [lockout.wait_seconds(n) for n in range(1, 9)] == [
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]
    huge = LockoutSettings(base_wait=86_400, max_wait=30 * 86_400)
    assert huge.wait_seconds(10**9) == 30 * 86_400


@pytest.mark.parametrize(
    "path",
    ["reset", "//evil.example/reset", "/a/../reset", "/reset?x=1", "/reset#top", "/ré", "/a b"],
)
def test_link_paths_must_be_plain_paths(path: str) -> None:
    with pytest.raises(ConfigurationError, match="links"):
        Settings.nist(secret_key=KEY, base_url=BASE_URL, links={"reset": path})


@pytest.mark.req("RS-11")
def test_mailed_links_open_the_host_apps_pages() -> None:
    """Reset, unlock and setup links carry the host's paths, always under base_url."""
    paths = {"reset": "/accounts/password/reset", "unlock": "/accounts/unlock", "setup": "/setup"}
    cf = make_cf(links=paths, recovery={"steps": ["email_link"]})
    account_id = ready(cf)
    cf.recovery.start("adejoux")
    for _ in range(5):
        cf.login("adejoux", GOOD + "x")
    cf.accounts.send_password_setup([account_id])
    links = {
        kind: outbox(cf).last(kind).params["link"]  # type: ignore[union-attr]
        for kind in ("reset_link", "unlock_link", "password_setup_link")
    }
    for kind, page in (
        ("reset_link", paths["reset"]),
        ("unlock_link", paths["unlock"]),
        ("password_setup_link", paths["setup"]),
    ):
        assert links[kind].startswith(f"{BASE_URL}{page}?token="), kind
    cf.registration.register("adejoux@example.fr", GOOD, GOOD)  # the address is taken
    exists = outbox(cf).last("account_exists")
    assert exists is not None
    assert exists.params["reset_url"] == f"{BASE_URL}/password/forgot"
    moved = make_cf(links={"forgot": "/accounts/forgot"})
    ready(moved)
    moved.registration.register("adejoux@example.fr", GOOD, GOOD)
    assert outbox(moved).last("account_exists").params["reset_url"] == (  # type: ignore[union-attr]
        f"{BASE_URL}/accounts/forgot"
    )
    default = Settings.nist(secret_key=KEY, base_url=BASE_URL)
    assert default.link("setup", "t") == f"{BASE_URL}/reset?token=t"
    assert default.link("unlock", "t") == f"{BASE_URL}/unlock?token=t"
