"""Signed one-time tokens: outcomes, expiry boundary, tampering, purpose, rotation, single use."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import BadSignature, TimestampSigner
from tests.factories import KEY, OLD_KEY, clock, make_cf

from credflow.errors import ConfigurationError
from credflow.facade import Credflow
from credflow.storage.memory import MemoryStorage
from credflow.storage.records import Account
from credflow.tokens import TokenOutcome, TokenService, nonce_hash


@pytest.fixture
def cf() -> Credflow:
    return make_cf()


@pytest.fixture
def account(cf: Credflow) -> Account:
    return cf.accounts.create("adejoux", email="a.dejoux@example.fr").account


def test_valid_then_used(cf: Credflow, account: Account) -> None:
    issued = cf.tokens.issue(account, "reset")
    assert "token" not in repr(issued) or issued.token not in repr(issued)
    assert cf.tokens.check(issued.token, "reset").outcome is TokenOutcome.VALID
    first = cf.tokens.redeem(issued.token, "reset")
    assert first.ok
    assert first.account_id == account.id
    assert cf.tokens.redeem(issued.token, "reset").outcome is TokenOutcome.USED
    assert cf.tokens.check(issued.token, "reset").outcome is TokenOutcome.USED


@pytest.mark.req("RS-03")
def test_accepted_at_exactly_900_seconds_refused_at_901(cf: Credflow, account: Account) -> None:
    assert cf.tokens.lifetime("reset") == 900
    issued = cf.tokens.issue(account, "reset")
    clock(cf).advance(900)
    assert cf.tokens.check(issued.token, "reset").ok
    clock(cf).advance(1)
    expired = cf.tokens.redeem(issued.token, "reset")
    assert expired.outcome is TokenOutcome.EXPIRED
    assert expired.account_id == account.id  # so the UI can offer a resend


@pytest.mark.req("RS-03")
def test_stored_expiry_also_applies(cf: Credflow, account: Account) -> None:
    issued = cf.tokens.issue(account, "reset", lifetime=60)
    clock(cf).advance(61)
    assert cf.tokens.check(issued.token, "reset").outcome is TokenOutcome.EXPIRED
    assert cf.tokens.redeem(issued.token, "reset").outcome is TokenOutcome.EXPIRED


def test_lifetime_can_shorten_but_not_extend(cf: Credflow, account: Account) -> None:
    with pytest.raises(ConfigurationError):
        cf.tokens.issue(account, "reset", lifetime=901)
    with pytest.raises(ConfigurationError):
        cf.tokens.issue(account, "reset", lifetime=0)
    with pytest.raises(ConfigurationError):
        cf.tokens.issue(account, "no_such_purpose")


@pytest.mark.req("RS-03")
def test_token_signed_in_the_future_is_invalid(cf: Credflow, account: Account) -> None:
    clock(cf).advance(3600)
    issued = cf.tokens.issue(account, "reset")
    clock(cf).set(clock(cf).now() - timedelta(seconds=120))
    assert cf.tokens.check(issued.token, "reset").outcome is TokenOutcome.INVALID


@pytest.mark.req("RS-07")
def test_other_purpose_is_invalid(cf: Credflow, account: Account) -> None:
    issued = cf.tokens.issue(account, "reset")
    for purpose in ("unlock", "verify_email", "invite"):
        assert cf.tokens.redeem(issued.token, purpose).outcome is TokenOutcome.INVALID
    assert cf.tokens.redeem(issued.token, "reset").ok  # still unused by the wrong tries


@pytest.mark.req("RS-07", "RS-15")
@given(data=st.data())
def test_flipping_any_byte_gives_invalid(data: st.DataObject) -> None:
    cf = make_cf()
    account = cf.accounts.create("adejoux").account
    token = cf.tokens.issue(account, "reset").token
    # The draws must not depend on the token, which is random: hypothesis replays them.
    index = data.draw(st.integers(0, 2**16)) % len(token)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    shift = data.draw(st.integers(1, len(alphabet) - 1))
    replacement = alphabet[(alphabet.index(token[index]) + shift) % len(alphabet)]
    assert replacement != token[index]
    tampered = token[:index] + replacement + token[index + 1 :]
    outcome = cf.tokens.redeem(tampered, "reset").outcome
    assert outcome is TokenOutcome.INVALID
    assert cf.tokens.redeem(token, "reset").ok  # the genuine token was not consumed


@pytest.mark.req("RS-15")
@given(st.one_of(st.text(max_size=300), st.binary(max_size=50), st.none(), st.integers()))
def test_garbage_is_invalid_never_an_exception(garbage: object) -> None:
    cf = make_cf()
    assert cf.tokens.redeem(garbage, "reset").outcome is TokenOutcome.INVALID  # type: ignore[arg-type]


def test_huge_token_is_invalid(cf: Credflow) -> None:
    assert cf.tokens.check("a" * 5000, "reset").outcome is TokenOutcome.INVALID


@pytest.mark.req("RS-05", "PC-03")
def test_credential_change_voids_earlier_tokens(cf: Credflow, account: Account) -> None:
    issued = cf.tokens.issue(account, "reset")
    cf.accounts.set_temporary_password(account.id)
    assert cf.tokens.check(issued.token, "reset").outcome is TokenOutcome.INVALID
    assert cf.tokens.redeem(issued.token, "reset").outcome is TokenOutcome.INVALID
    fresh = cf.tokens.issue(cf.accounts.get(account.id), "reset")
    assert cf.tokens.redeem(fresh.token, "reset").ok


def test_deleted_account_voids_tokens(cf: Credflow, account: Account) -> None:
    issued = cf.tokens.issue(account, "unlock")
    cf.accounts.delete(account.id)
    assert cf.tokens.redeem(issued.token, "unlock").outcome is TokenOutcome.INVALID


def test_void_marks_outstanding_tokens_used(cf: Credflow, account: Account) -> None:
    reset = cf.tokens.issue(account, "reset")
    unlock = cf.tokens.issue(account, "unlock")
    assert cf.tokens.void(account.id, "reset") == 1
    assert cf.tokens.redeem(reset.token, "reset").outcome is TokenOutcome.USED
    assert cf.tokens.redeem(unlock.token, "unlock").ok


@pytest.mark.req("RS-10")
def test_rotation_newest_signs_old_keys_verify_while_listed() -> None:
    old = make_cf(secret_key=OLD_KEY)
    account = old.accounts.create("adejoux").account
    token = old.tokens.issue(account, "reset").token
    rotated = Credflow(
        storage=old.storage,
        settings=old.settings.replace(secret_key=KEY, fallback_keys=[OLD_KEY]),
        clock=old.clock,
    )
    assert rotated.tokens.check(token, "reset").ok
    newer = rotated.tokens.issue(account, "reset").token
    assert old.tokens.check(newer, "reset").outcome is TokenOutcome.INVALID  # signed with new key
    dropped = TokenService(
        old.storage, old.clock, secret_key=KEY.encode(), lifetimes={"reset": 900}
    )
    assert dropped.check(token, "reset").outcome is TokenOutcome.INVALID


@pytest.mark.req("RS-08")
def test_sha1_signed_token_is_refused(cf: Credflow, account: Account) -> None:
    sha1 = TimestampSigner(KEY, salt="credflow.reset")  # itsdangerous' default digest: SHA-1
    forged = sha1.sign(f"{account.id}.{'n' * 43}").decode()
    assert cf.tokens.check(forged, "reset").outcome is TokenOutcome.INVALID
    issued = cf.tokens.issue(account, "reset")
    with pytest.raises(BadSignature):
        sha1.unsign(issued.token)


@pytest.mark.req("RS-08", "RS-09")
def test_sha256_and_256_bit_nonce(cf: Credflow, account: Account) -> None:
    issued = cf.tokens.issue(account, "reset")
    signer = cf.tokens._signer("reset")
    assert signer.digest_method is hashlib.sha256
    nonce = signer.unsign(issued.token).decode().rpartition(".")[2]
    assert len(nonce) >= 43  # token_urlsafe(32): 256 bits
    stored = cf.storage.get_token(nonce_hash(nonce))
    assert stored is not None
    assert stored.nonce_hash != nonce
    assert nonce not in repr(stored)


def test_short_keys_refused() -> None:
    with pytest.raises(ConfigurationError):
        TokenService(MemoryStorage(), make_cf().clock, secret_key=b"short", lifetimes={})
