"""Regression tests for the last review: lock re-checked after the verify, recovery limits on
unknown-recipient notices, setup links resolved first, bounded inputs, typed errors."""

from __future__ import annotations

import pytest
from tests.factories import make_cf, outbox
from tests.test_login import GOOD, ready

from credflow.errors import InvalidInput, UnknownAccount
from credflow.facade import Credflow
from credflow.results import LoginStatus, RecoveryStatus


def test_a_lock_taken_during_the_verify_refuses_the_login() -> None:
    cf = make_cf()
    account_id = ready(cf)
    real_verify = cf.hasher.verify

    def verify_then_lock(phc: str, password: str) -> object:
        result = real_verify(phc, password)
        for _ in range(5):  # a parallel attacker locks the account meanwhile
            cf.lockout.register_failure(cf.accounts.get(account_id), factor="password")
        return result

    class Racing:
        """The real hasher, but the account is locked while the password is verified."""

        verify = staticmethod(verify_then_lock)
        dummy_verify = staticmethod(cf.hasher.dummy_verify)

    cf._login._hasher = Racing()  # type: ignore[assignment]
    result = cf.login("adejoux", GOOD)
    assert result.status is LoginStatus.DENIED and result.session is None


def test_unknown_recipient_notices_respect_the_rate_limit() -> None:
    cf = make_cf(
        recovery={
            "steps": ["email_link"],
            "start_from": "email",
            "notify_unknown_recipients": True,
            "rate_limit": 2,
        }
    )
    for _ in range(5):
        cf.recovery.start("nobody@example.fr")
    assert len(outbox(cf).messages) == 2
    ready(cf, "marie", email="marie@example.fr")
    outbox(cf).clear()
    for _ in range(4):
        cf.recovery.start("marie@example.fr")
    kinds = [m.kind for m in outbox(cf).messages]
    assert kinds == ["reset_link", "reset_link"]  # over the limit: no "no account here" notice


def test_setup_links_for_a_list_with_an_unknown_id_send_nothing() -> None:
    cf = make_cf()
    account_id = ready(cf)
    outbox(cf).clear()
    with pytest.raises(UnknownAccount):
        cf.accounts.send_password_setup([account_id, "ghost"])
    assert outbox(cf).messages == ()
    assert cf.login("adejoux", GOOD).ok


def test_huge_inputs_are_refused_cheaply() -> None:
    cf = make_cf(recovery={"steps": ["human_check", "security_question"]})
    ready(cf)
    challenge = cf.human_check.challenge()
    assert not cf.human_check.verify(challenge.token, "9" * 5000)
    plain = make_cf(recovery={"steps": ["security_question"]})
    ready(plain)
    flow = plain.recovery.start("adejoux").flow or ""
    before = plain.hasher.calls
    result = plain.recovery.answer(flow, "bleu " * 100_000)
    assert result.status is RecoveryStatus.REFUSED and plain.hasher.calls == before


def test_delete_with_a_bad_id_is_a_typed_error() -> None:
    cf = make_cf()
    with pytest.raises(InvalidInput):
        cf.accounts.delete(None)  # type: ignore[arg-type]
    assert isinstance(cf, Credflow)
