"""``cf.mfa.recovery_codes_left(session)``: the count an account page shows, following every
change of the set (first factor, a code used, a new set, the last factor removed)."""

from __future__ import annotations

import pytest
from tests.factories import make_cf
from tests.test_mfa import GOOD, account, code_now, enrol_totp, mfa_flow, session

from credflow.errors import InvalidInput
from credflow.facade import Credflow


def signed_in(cf: Credflow, secret: str) -> str:
    current = cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).session
    assert current is not None
    return current.token


@pytest.mark.req("RC-06")
def test_the_count_follows_the_set() -> None:
    cf = make_cf()
    account(cf)
    assert cf.mfa.recovery_codes_left(session(cf)) == 0  # no factor, no codes
    secret, codes = enrol_totp(cf)
    token = signed_in(cf, secret)
    assert cf.mfa.recovery_codes_left(token) == 10

    used = cf.mfa.verify(mfa_flow(cf), codes[0])
    assert used.session is not None and used.codes_left == 9
    assert cf.mfa.recovery_codes_left(used.session) == 9

    fresh = cf.mfa.regenerate_recovery_codes(token, password=GOOD)
    assert len(fresh.recovery_codes) == 10
    assert cf.mfa.recovery_codes_left(token) == 10

    assert cf.mfa.disable(token, "totp", password=GOOD).ok
    assert cf.mfa.recovery_codes_left(token) == 0  # the codes go with the last factor


def test_an_invalid_session_has_none_and_a_non_string_is_refused() -> None:
    cf = make_cf()
    assert cf.mfa.recovery_codes_left("not a session") == 0
    with pytest.raises(InvalidInput) as caught:
        cf.mfa.recovery_codes_left(42)  # type: ignore[arg-type]
    assert caught.value.field == "session"
