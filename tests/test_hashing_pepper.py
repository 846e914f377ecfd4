"""ST-07: an optional pepper, an HMAC key kept with the settings and never in storage, with a
key id in each hash so it can rotate."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import argon2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.factories import classic_settings, make_cf
from tests.test_cli_support import make_database, opened_cf, run
from tests.test_docs import example_pairs
from tests.test_docs import run as run_example

from credflow.errors import ConfigurationError, InsecureConfiguration
from credflow.facade import Credflow
from credflow.hashing import TESTING, Hasher, Pepper, Verification
from credflow.notify import Outbox
from credflow.policy import History, MinLength, PasswordPolicy
from credflow.results import LoginStatus, StepStatus
from credflow.settings import Settings
from credflow.storage.memory import MemoryStorage
from credflow.storage.records import PasswordCredential

A = Pepper("2026a", b"pepper-key-A-0123456789")
A_OTHER_KEY = Pepper("2026a", b"pepper-key-A-9876543210")
B = Pepper("2026b", b"pepper-key-B-0123456789")
GOOD = "Bleu2024x"


def hasher(*peppers: Pepper) -> Hasher:
    return Hasher(TESTING, peppers=peppers)


@pytest.mark.req("ST-07")
def test_a_hash_made_with_pepper_a_does_not_verify_under_pepper_b() -> None:
    stored = hasher(A).hash(GOOD)
    assert hasher(A).verify(stored, GOOD).ok
    assert not hasher(A_OTHER_KEY).verify(stored, GOOD).ok  # same id, another key
    assert not hasher(B).verify(stored, GOOD).ok  # an id these settings do not hold
    assert not hasher().verify(stored, GOOD).ok  # the pepper removed


@pytest.mark.req("ST-07")
@settings(max_examples=30, deadline=None)
@given(
    password=st.text(min_size=1, max_size=40),
    first=st.binary(min_size=16, max_size=40),
    second=st.binary(min_size=16, max_size=40),
)
def test_no_other_key_verifies_a_peppered_hash(password: str, first: bytes, second: bytes) -> None:
    stored = hasher(Pepper("k", first)).hash(password)
    assert hasher(Pepper("k", first)).verify(stored, password).ok
    assert hasher(Pepper("k", second)).verify(stored, password).ok is (first == second)


@pytest.mark.req("ST-07")
def test_the_stored_string_names_the_key_and_hashes_the_hmac_not_the_password() -> None:
    stored = hasher(A).hash(GOOD)
    assert stored.startswith("$pepper$k=2026a$argon2id$v=19$")
    assert A.key.decode() not in stored
    inner = stored.removeprefix("$pepper$k=2026a")
    raw = argon2.PasswordHasher()
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        raw.verify(inner, GOOD)  # the password alone does not open the argon2 hash
    assert raw.verify(inner, hmac.digest(A.key, GOOD.encode(), hashlib.sha256))


@pytest.mark.req("ST-07", "ST-06")
def test_rotation_old_keys_verify_and_ask_for_a_rehash() -> None:
    under_a = hasher(A).hash(GOOD)
    rotated = hasher(B, A)
    assert rotated.verify(under_a, GOOD) == Verification(
        True, True
    )  # ok, rehash under the current key
    assert rotated.verify(rotated.hash(GOOD), GOOD) == Verification(True, False)
    plain = hasher().hash(GOOD)
    assert rotated.verify(plain, GOOD) == Verification(True, True)  # no pepper yet: upgrade it
    assert hasher().verify(plain, GOOD) == Verification(True, False)


@pytest.mark.req("ST-07", "LK-10")
def test_an_unknown_key_id_costs_one_verify_like_a_wrong_password() -> None:
    h = hasher(A)
    for stored in (hasher(B).hash(GOOD), "$pepper$k=2026a", "$pepper$k=$argon2id$x"):
        before = h.calls
        assert not h.verify(stored, GOOD).ok
        assert h.calls == before + 1
    before = h.calls
    assert not h.dummy_verify(GOOD).ok
    assert h.calls == before + 1


@pytest.mark.req("ST-07")
def test_a_login_moves_the_stored_hash_to_the_current_key() -> None:
    storage = MemoryStorage()
    old = make_cf(storage, peppers=[A])
    created = old.accounts.create("adejoux", temporary=False).account
    old.storage.set_password(
        PasswordCredential(
            account_id=created.id, hash=old.hasher.hash(GOOD), set_at=old.clock.now()
        )
    )
    assert old.login("adejoux", GOOD).ok
    new = make_cf(storage, peppers=[B, A])
    assert new.login("adejoux", GOOD).ok
    credential = storage.get_password(created.id)
    assert credential is not None and credential.hash.startswith("$pepper$k=2026b$")
    # Once every hash has moved, the old key can go.
    only_b = make_cf(storage, peppers=[B])
    assert only_b.login("adejoux", GOOD).ok
    assert make_cf(storage, peppers=[A]).login("adejoux", GOOD).status is LoginStatus.DENIED


@pytest.mark.req("ST-07", "PW-11")
def test_answers_and_history_are_peppered_and_recovery_codes_are_not() -> None:
    policy = PasswordPolicy([MinLength(min=8), History(count=3)])
    cf = make_cf(peppers=[A], password_policy=policy)
    created = cf.accounts.create("adejoux")
    assert created.temporary_password is not None
    flow = cf.login("adejoux", created.temporary_password).flow or ""
    assert cf.first_login.change_password(flow, GOOD, GOOD).status is StepStatus.REAUTHENTICATE
    flow = cf.login("adejoux", GOOD).flow or ""
    assert cf.first_login.enroll_question(flow, "Couleur ?", "bleu").ok
    question = cf.storage.get_question(created.account.id)
    assert question is not None and question.answer_hash.startswith("$pepper$k=2026a$")
    # The history rule still recognises a past password through the pepper.
    assert cf.passwords.change("adejoux", GOOD, "Vert2025y", "Vert2025y").ok
    back = cf.passwords.change("adejoux", "Vert2025y", GOOD, GOOD)
    assert not back.ok
    assert "history" in [failure.code for failure in back.failures]
    codes = cf.hasher.hash_code("ABCD-EFGH-IJKL-MNOP")
    assert codes.startswith("$argon2id$") and cf.hasher.verify(codes, "ABCD-EFGH-IJKL-MNOP").ok


@pytest.mark.req("ST-07", "SS-06")
def test_keys_stay_out_of_reprs_dumps_and_errors() -> None:
    key = "a-secret-pepper-key-that-is-long"
    settings = classic_settings(peppers=[("k1", key)])
    assert settings.peppers == (Pepper("k1", key.encode()),)
    for text in (repr(settings), str(settings.model_dump()), repr(settings.peppers[0])):
        assert key not in text
    cf = Credflow(storage=MemoryStorage(), settings=settings, notifier=Outbox())
    assert repr(cf.hasher) == "Hasher(profile=TESTING, pepper='k1')"
    assert cf.hasher.pepper_id == "k1" and Hasher(TESTING).pepper_id is None
    with pytest.raises(InsecureConfiguration) as short:
        classic_settings(peppers=[("k1", "too-short")])
    assert "too-short" not in str(short.value)


@pytest.mark.req("ST-07")
@pytest.mark.parametrize(
    ("peppers", "error"),
    [
        ([("", "x" * 16)], ConfigurationError),
        ([("a b", "x" * 16)], ConfigurationError),
        ([("x" * 33, "x" * 16)], ConfigurationError),
        ([("k", "x" * 15)], InsecureConfiguration),
        ([("k", 12345)], ConfigurationError),
        ([("k", "x" * 16), ("k", "y" * 16)], ConfigurationError),
        (["k:xxxxxxxxxxxxxxxx"], ConfigurationError),
        ([{"id": "k"}], ConfigurationError),
    ],
)
def test_bad_peppers_are_refused(peppers: list[object], error: type[Exception]) -> None:
    with pytest.raises(error):
        classic_settings(peppers=peppers)


def test_a_hasher_takes_only_peppers_with_distinct_ids() -> None:
    with pytest.raises(ConfigurationError):
        Hasher(TESTING, peppers=[A, A_OTHER_KEY])
    with pytest.raises(ConfigurationError):
        Hasher(TESTING, peppers=[("k", b"x" * 16)])  # type: ignore[list-item]


@pytest.mark.req("ST-07")
def test_peppers_never_come_from_a_portal_file() -> None:
    with pytest.raises(ConfigurationError, match=r"settings\.peppers"):
        Settings.from_mapping(
            {"settings": {"peppers": [["k", "x" * 16]]}},
            secret_key="k" * 32,
            base_url="https://portal.example.fr",
        )


@pytest.mark.req("ST-07")
def test_the_cli_hashes_with_the_peppers_from_the_environment(tmp_path: Path) -> None:
    url = make_database("sqlite", tmp_path)
    env = {"CREDFLOW_PEPPERS": "2026b:pepper-key-B-0123456789 2026a:pepper-key-A-0123456789"}
    argv = ["--db", url, "users", "create", "bdupont", "--email", "b@example.fr"]
    created = run(argv, "Zq9$unique-Secret-4711\n", env)
    assert created.code == 0, created.err
    assert "pepper-key" not in created.text
    with opened_cf(url, peppers=[B]) as cf:
        assert cf.login("bdupont", "Zq9$unique-Secret-4711").ok
    argv = ["--db", url, "users", "create", "cmartin", "--email", "c@example.fr"]
    for bad, said in (
        ("nocolon", "CREDFLOW_PEPPERS"),
        (":x", "CREDFLOW_PEPPERS"),
        ("k:tiny", "16"),
    ):
        refused = run(argv, "Zq9$unique-Secret-4711\n", {"CREDFLOW_PEPPERS": bad})
        assert refused.code == 2, refused
        assert said in refused.err and "tiny" not in refused.err
        assert refused.err.count("\n") == 1
    with opened_cf(url, peppers=[B]) as cf:
        assert cf.accounts.find("cmartin") is None


def test_the_accounts_page_example_prints_what_it_shows() -> None:
    [(code, shown)] = [p for p in example_pairs("accounts.md") if "Pepper(" in p[0]]
    assert run_example(code) == shown


@pytest.mark.req("ST-07")
def test_a_hasher_given_with_peppered_settings_must_seal_with_their_pepper() -> None:
    settings = classic_settings(peppers=[A])
    with pytest.raises(ConfigurationError, match="pepper") as caught:
        Credflow(storage=MemoryStorage(), settings=settings, hasher=Hasher(TESTING))
    assert caught.value.field == "hasher"
    with pytest.raises(ConfigurationError):
        Credflow(storage=MemoryStorage(), settings=settings, hasher=hasher(B, A))
    with pytest.raises(ConfigurationError):  # the right id, another key
        Credflow(storage=MemoryStorage(), settings=settings, hasher=hasher(A_OTHER_KEY))
    cf = Credflow(storage=MemoryStorage(), settings=settings, hasher=hasher(A))
    assert cf.hasher.pepper_id == "2026a" and cf.hasher.peppers == (A,)
