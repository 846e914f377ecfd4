"""MFA secrets at rest and the notices: TOTP seeds derived with a key outside storage (OT-08),
recovery codes hashed with argon2id and found by selector (RC-02), mails when a factor or a code
changes (OT-09, RC-06, PC-04), the ``totp_replay`` event (OT-05) and the strict window (OT-03)."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import argon2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from tests.factories import KEY, OLD_KEY, clock, make_cf, outbox
from tests.storage_fixtures import open_storage
from tests.test_mfa import (
    GOOD,
    PHONE,
    account,
    code_now,
    enrol_sms,
    enrol_totp,
    events,
    last_sms,
    mfa_flow,
    other,
    session,
)
from tests.test_mfa_policy import at_mfa_step, organisation, recovery_cf

from credflow.errors import ConfigurationError
from credflow.facade import Credflow
from credflow.mfa import recovery_codes, seeds, totp
from credflow.notify import Message
from credflow.notify.templates import DEFAULT_TEMPLATES
from credflow.results import LoginStatus, MfaStatus, RecoveryStatus, StepStatus
from credflow.storage.memory import MemoryStorage
from credflow.storage.protocols import Storage
from credflow.storage.sql import SQLStorage, metadata

NEW_KEY = "n" * 32


# -- helpers ----------------------------------------------------------------------------------


def strings(value: object) -> Iterator[str]:
    """Every string held in ``value``, records and containers included (their real values,
    not their reprs, which hide secrets anyway)."""
    if isinstance(value, BaseModel):
        yield from strings(value.model_dump())
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from strings(item)
    elif isinstance(value, (str, bytes)):
        yield value if isinstance(value, str) else value.decode("latin-1")
    elif hasattr(value, "__dict__") and not callable(value):
        yield from strings(vars(value))


def memory_dump(storage: MemoryStorage) -> str:
    return "\n".join(strings(vars(storage)))


def sql_dump(storage: SQLStorage) -> str:
    """Every value of every credflow table, read back with SQL."""
    with storage.engine.connect() as conn:
        rows = [row for table in metadata.sorted_tables for row in conn.execute(table.select())]
    return "\n".join(str(value) for row in rows for value in row)


def forms(secret: str) -> list[str]:
    """The ways a base32 secret could sit in a dump: as is, in lower case, its bytes in hex,
    in base64."""
    raw = base64.b32decode(secret)
    return [secret, secret.lower(), raw.hex(), base64.b64encode(raw).decode()]


def on(storage: Storage, key: str = KEY, **overrides: Any) -> Credflow:
    """Another server on ``storage`` with the settings key ``key``, at the same time."""
    return make_cf(storage, secret_key=key, **overrides)


def same_time(target: Credflow, source: Credflow) -> None:
    clock(target).set(source.clock.now())


def mails(cf: Credflow, kind: str) -> list[Message]:
    return [m for m in outbox(cf).messages if m.kind == kind]


@pytest.fixture
def cf() -> Credflow:
    return make_cf()


# -- OT-08: TOTP secrets at rest ----------------------------------------------------------------


@pytest.mark.req("OT-08", "OT-01")
def test_memory_storage_holds_a_seed_and_never_the_secret(cf: Credflow) -> None:
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    assert cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).ok
    [factor] = cf.storage.mfa_factors(account_id)
    assert factor.secret is not None
    version, key_id, seed = factor.secret.split(":")
    assert (version, key_id) == ("v1", seeds.key_id(KEY.encode()))
    assert len(base64.b32decode(seed)) == 20 and seed != secret
    assert len(base64.b32decode(secret)) == 20  # the derived secret keeps 160 bits
    storage = cf.storage
    assert isinstance(storage, MemoryStorage)
    dump = memory_dump(storage)
    assert factor.secret in dump  # the dump does see stored values
    for form in forms(secret):
        assert form not in dump


@pytest.mark.req("OT-08")
@pytest.mark.parametrize("kind", ["sqlite-file", "postgresql"])
def test_sql_rows_and_files_hold_no_totp_secret(kind: str, tmp_path: Path) -> None:
    with open_storage(kind, tmp_path) as storage:
        assert isinstance(storage, SQLStorage)
        cf = make_cf(storage)
        account_id = account(cf)
        setup = cf.mfa.begin_totp(session(cf))
        assert setup.secret is not None and setup.uri is not None
        assert cf.mfa.confirm_totp(session(cf), code_now(cf, setup.secret)).ok
        clock(cf).advance(30)
        assert cf.mfa.verify(mfa_flow(cf), code_now(cf, setup.secret)).ok
        dump = sql_dump(storage)
        [factor] = cf.storage.mfa_factors(account_id)
        assert factor.secret is not None and factor.secret in dump
        for form in [*forms(setup.secret), setup.uri]:
            assert form not in dump
        files = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
        for form in forms(setup.secret):
            assert form.encode() not in files


@pytest.mark.req("OT-08")
def test_with_another_key_the_stored_factor_verifies_nothing(cf: Credflow) -> None:
    account_id = account(cf)
    secret, codes = enrol_totp(cf)
    stranger = on(cf.storage, NEW_KEY)
    same_time(stranger, cf)
    flow = mfa_flow(stranger)
    for offset in (0, -1):
        refused = stranger.mfa.verify(flow, code_now(stranger, secret, offset))
        assert (refused.status, refused.code) == (MfaStatus.REFUSED, "mfa.code_wrong")
    assert [e["reason"] for e in events(cf, account_id, "mfa_failed")] == ["key_unknown"] * 2
    assert stranger.lockout.failures(account_id) == 2  # a code it cannot check is a guess
    [factor] = cf.storage.mfa_factors(account_id)
    assert seeds.unseal(factor.secret, account_id, [NEW_KEY.encode()]) is None
    # A recovery code still works: the documented way back in.
    assert stranger.mfa.verify(flow, codes[0]).ok
    # The original key still opens it.
    assert cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).ok


@pytest.mark.req("OT-08")
def test_a_rotated_key_keeps_working_while_it_is_a_fallback(cf: Credflow) -> None:
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    rotated = on(cf.storage, NEW_KEY, fallback_keys=[KEY])
    same_time(rotated, cf)
    done = rotated.mfa.verify(mfa_flow(rotated), code_now(rotated, secret))
    assert done.ok
    assert events(cf, account_id, "mfa_verified")[-1] == {
        "method": "totp",
        "during": "login",
        "old_key": True,
    }
    # Re-enrolling moves the factor to the current key.
    assert done.session is not None
    assert rotated.mfa.disable(done.session, "totp", password=GOOD).ok
    setup = rotated.mfa.begin_totp(done.session)
    assert setup.secret is not None
    [factor] = cf.storage.mfa_factors(account_id)
    assert factor.secret is not None
    assert factor.secret.split(":")[1] == seeds.key_id(NEW_KEY.encode())
    assert rotated.mfa.confirm_totp(done.session, code_now(rotated, setup.secret)).ok
    clock(rotated).advance(30)
    assert rotated.mfa.verify(mfa_flow(rotated), code_now(rotated, setup.secret)).ok
    assert events(cf, account_id, "mfa_verified")[-1] == {"method": "totp", "during": "login"}
    # Without the key it was sealed under, the new factor opens nothing either.
    assert seeds.unseal(factor.secret, account_id, [KEY.encode(), OLD_KEY.encode()]) is None


@pytest.mark.req("OT-08")
def test_an_enrolment_begun_under_a_key_now_gone_starts_again(cf: Credflow) -> None:
    account(cf)
    setup = cf.mfa.begin_totp(session(cf))
    assert setup.secret is not None
    stranger = on(cf.storage, NEW_KEY)
    same_time(stranger, cf)
    current = session(stranger)
    refused = stranger.mfa.confirm_totp(current, code_now(stranger, setup.secret))
    assert (refused.status, refused.code) == (MfaStatus.REFUSED, "mfa.not_started")
    again = stranger.mfa.begin_totp(current)
    assert again.secret is not None
    assert stranger.mfa.confirm_totp(current, code_now(stranger, again.secret)).ok


@pytest.mark.req("OT-08")
def test_a_seed_copied_to_another_account_gives_another_secret(cf: Credflow) -> None:
    victim = account(cf)
    secret, _ = enrol_totp(cf)
    thief = account(cf, "intrus")
    [factor] = cf.storage.mfa_factors(victim)
    cf.storage.save_mfa_factor(factor.model_copy(update={"account_id": thief}))
    flow = mfa_flow(cf, "intrus")
    assert cf.mfa.verify(flow, code_now(cf, secret)).code == "mfa.code_wrong"


@pytest.mark.req("OT-08")
@pytest.mark.parametrize(
    "stored",
    [
        None,
        "",
        "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",  # a clear base32 secret, as before OT-08
        "v2:{key}:JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        "v1:{key}:",
        "v1:{key}:not base32!",
        "v1:{key}:JBSWY3DP",  # 40 bits: not a seed
        "v1:{key}:JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PX\u00e9",
        "v1:00000000:JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        "v1:\u00e9:JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        "v1:{key}:jbswy3dpehpk3pxpjbswy3dpehpk3pxp",
    ],
)
def test_what_is_not_a_sealed_seed_opens_nothing(stored: str | None) -> None:
    key = KEY.encode()
    value = stored.format(key=seeds.key_id(key)) if stored is not None else None
    assert seeds.unseal(value, "acc-1", [key]) is None


KEYS = st.binary(min_size=32, max_size=64)


@pytest.mark.req("OT-08", "OT-01")
@given(key=KEYS, other_key=KEYS, account_id=st.text(min_size=1, max_size=40))
def test_derivation_is_keyed_per_account_and_reversible_only_with_the_key(
    key: bytes, other_key: bytes, account_id: str
) -> None:
    seed = seeds.new_seed()
    stored = seeds.seal(key, seed)
    opened = seeds.unseal(stored, account_id, [other_key, key])
    assert opened is not None
    assert opened.secret == seeds.derive(key, account_id, seed)
    assert opened.fallback is (seeds.key_id(other_key) != seeds.key_id(key))
    assert len(base64.b32decode(opened.secret)) == 20
    assert opened.secret not in stored and opened.secret not in repr(opened)
    assert seeds.derive(key, account_id + "x", seed) != opened.secret
    if seeds.key_id(other_key) != seeds.key_id(key):
        assert seeds.unseal(stored, account_id, [other_key]) is None
        assert seeds.derive(other_key, account_id, seed) != opened.secret


@given(st.binary(min_size=20, max_size=20), KEYS, st.text(max_size=20))
def test_derive_reads_the_seed_as_base32(raw: bytes, key: bytes, account_id: str) -> None:
    seed = base64.b32encode(raw).decode()
    expected = hmac.new(key, b"credflow.totp:" + account_id.encode() + b":" + raw, "sha256")
    assert seeds.derive(key, account_id, seed) == base64.b32encode(expected.digest()[:20]).decode()


@pytest.mark.parametrize("seed", ["", "JBSWY3DP", "jbswy3dpehpk3pxpjbswy3dpehpk3pxp", "1" * 32])
def test_derive_refuses_what_is_not_a_seed(seed: str) -> None:
    with pytest.raises(ValueError, match="not a seed"):
        seeds.derive(KEY.encode(), "acc-1", seed)


def test_key_ids_name_the_key_without_showing_it() -> None:
    key = KEY.encode()
    assert len(seeds.key_id(key)) == 8 and int(seeds.key_id(key), 16) >= 0
    assert seeds.key_id(key) != seeds.key_id(OLD_KEY.encode())
    assert seeds.key_id(key) not in key.hex()


# -- RC-02 / RC-03: recovery codes under argon2id ---------------------------------------------


@pytest.mark.req("RC-02", "ST-01")
def test_recovery_codes_are_stored_as_argon2id_with_a_selector(cf: Credflow) -> None:
    account_id = account(cf)
    _, codes = enrol_totp(cf)
    storage = cf.storage
    assert isinstance(storage, MemoryStorage)
    stored = [c for code in codes for c in storage.recovery_codes(account_id, code[:4])]
    assert len(stored) == 10
    for code, record in zip(codes, stored, strict=True):
        assert record.selector == code[:4]
        assert argon2.extract_parameters(record.code_hash).type is argon2.Type.ID
    dump = memory_dump(storage)
    for code in codes:
        assert code not in dump and code.replace("-", "") not in dump
        assert code.replace("-", "")[4:] not in dump


@pytest.mark.req("RC-02", "LK-10")
def test_a_recovery_code_check_costs_one_verify_whatever_the_code(cf: Credflow) -> None:
    account(cf)
    _, codes = enrol_totp(cf)
    used = codes[0]
    assert cf.mfa.verify(mfa_flow(cf), used).ok
    known = codes[1].replace("-", "")
    unknown_selector = next(
        c for c in recovery_codes.generate(20) if c[:4] not in {x[:4] for x in codes}
    )
    cases = {
        "right": codes[2],
        "wrong, known selector": known[:4] + ("A" if known[4] != "A" else "B") + known[5:],
        "wrong, unknown selector": unknown_selector,
        "used": used,
    }
    work = {}
    for name, typed in cases.items():
        flow = mfa_flow(cf)
        before = cf.hasher.calls
        result = cf.mfa.verify(flow, typed)
        work[name] = cf.hasher.calls - before
        assert result.ok is (name == "right"), name
    assert work == dict.fromkeys(cases, 1)


@pytest.mark.req("RC-03")
def test_using_a_code_marks_exactly_that_code(cf: Credflow) -> None:
    account_id = account(cf)
    _, codes = enrol_totp(cf)
    assert cf.mfa.verify(mfa_flow(cf), codes[4]).codes_left == 9
    for index, code in enumerate(codes):
        found = cf.storage.recovery_codes(account_id, code[:4])
        assert len(found) == (0 if index == 4 else 1)


@pytest.mark.req("RC-02", "RC-05")
def test_regenerating_costs_one_verify_and_ten_hashes(cf: Credflow) -> None:
    account(cf)
    secret, _ = enrol_totp(cf)
    current = cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).session
    assert current is not None
    before = cf.hasher.calls
    made = cf.mfa.regenerate_recovery_codes(current, password=GOOD)
    assert made.ok and cf.hasher.calls - before == 1 + 10  # the password, then ten codes


# -- notices: OT-09, RC-06, PC-04 ---------------------------------------------------------------


def secrets_of(*values: object) -> list[str]:
    found: list[str] = []
    for value in values:
        if isinstance(value, str):
            found += [value, value.replace("-", "")]
        elif isinstance(value, (tuple, list)):
            found += secrets_of(*value)
    return found


def assert_clean(message: Message, secrets_: list[str]) -> None:
    """No secret in the message, its repr or the mail it renders to (text, HTML, subject)."""
    rendered = DEFAULT_TEMPLATES.render(message)
    parts = [repr(message), str(dict(message.params)), rendered.subject, rendered.text]
    text = "\n".join([*parts, rendered.html or ""])
    for secret in secrets_:
        assert secret not in text
    assert message.secret_params == frozenset()


@pytest.mark.req("OT-09", "PC-04", "SS-06")
def test_confirming_a_totp_mails_the_account(cf: Credflow) -> None:
    account(cf)
    current = session(cf)
    setup = cf.mfa.begin_totp(current)
    assert setup.secret is not None
    assert mails(cf, "mfa_enabled") == []  # begun is not added
    done = cf.mfa.confirm_totp(current, code_now(cf, setup.secret))
    [notice] = mails(cf, "mfa_enabled")
    assert (notice.recipient, notice.locale, notice.channel) == (
        "adejoux@example.fr",
        "fr",
        "email",
    )
    assert dict(notice.params) == {
        "identifier": "adejoux",
        "method": "une application d'authentification",
        "at": cf.clock.now().isoformat(),
        "url": cf.settings.base_url,
    }
    assert_clean(notice, secrets_of(setup.secret, setup.uri, done.recovery_codes))
    rendered = DEFAULT_TEMPLATES.render(notice)
    assert "une application d'authentification" in rendered.text
    assert rendered.subject == "Une méthode de vérification en deux étapes a été ajoutée"


@pytest.mark.req("OT-09", "PC-04")
def test_confirming_a_phone_mails_the_account_in_its_locale(cf: Credflow) -> None:
    account(cf)
    current = session(cf)
    cf.mfa.begin_sms(current, PHONE, locale="en")
    code = last_sms(cf)
    done = cf.mfa.confirm_sms(current, code, locale="en")
    assert done.ok
    [notice] = mails(cf, "mfa_enabled")
    assert (notice.locale, notice.params["method"]) == ("en", "a code sent by text message")
    assert_clean(notice, secrets_of(code, PHONE, done.recovery_codes))


@pytest.mark.req("OT-09", "PC-04")
def test_a_wrong_or_raced_confirmation_mails_nothing(cf: Credflow) -> None:
    account(cf)
    current = session(cf)
    setup = cf.mfa.begin_totp(current)
    assert setup.secret is not None
    assert not cf.mfa.confirm_totp(current, other(code_now(cf, setup.secret))).ok
    assert cf.mfa.confirm_totp(current, code_now(cf, setup.secret)).ok
    assert cf.mfa.confirm_totp(current, code_now(cf, setup.secret)).code == "mfa.already_enrolled"
    assert len(mails(cf, "mfa_enabled")) == 1


@pytest.mark.req("OT-09")
def test_the_first_login_enrolment_mails_the_account() -> None:
    cf = make_cf(mfa={"required_roles": ["administrator"]})
    organisation(cf, account(cf, "admin"), ("administrator",), "active")
    flow = cf.login("admin", GOOD).flow or ""
    setup = cf.first_login.begin_totp(flow)
    assert setup.secret is not None
    done = cf.first_login.confirm_totp(flow, code_now(cf, setup.secret))
    assert done.status is StepStatus.COMPLETED
    [notice] = mails(cf, "mfa_enabled")
    assert notice.recipient == "admin@example.fr"
    assert_clean(notice, secrets_of(setup.secret, done.recovery_codes))


@pytest.mark.req("OT-09", "PC-04")
def test_removing_a_factor_mails_the_account(cf: Credflow) -> None:
    account(cf)
    secret, codes = enrol_totp(cf)
    current = cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).session
    assert current is not None
    assert cf.mfa.disable(current, "totp", password="Nope1234x").code == "mfa.password_wrong"
    assert mails(cf, "mfa_disabled") == []
    assert cf.mfa.disable(current, "totp", password=GOOD, locale="en").ok
    [notice] = mails(cf, "mfa_disabled")
    assert (notice.locale, notice.params["method"]) == ("en", "an authentication app")
    assert_clean(notice, secrets_of(secret, codes, GOOD))
    # Cancelling an enrolment that was never confirmed removes nothing worth a mail.
    cf.mfa.begin_totp(current)
    assert cf.mfa.disable(current, "totp", password=GOOD).ok
    assert len(mails(cf, "mfa_disabled")) == 1


@pytest.mark.req("RC-06", "PC-04")
def test_a_recovery_code_login_mails_how_many_are_left(cf: Credflow) -> None:
    account(cf)
    _, codes = enrol_totp(cf)
    done = cf.mfa.verify(mfa_flow(cf), codes[0])
    assert done.codes_left == 9
    [notice] = mails(cf, "recovery_code_used")
    assert notice.params["left"] == "9"
    assert "Codes de récupération restants : 9." in DEFAULT_TEMPLATES.render(notice).text
    assert_clean(notice, secrets_of(codes))
    assert not cf.mfa.verify(mfa_flow(cf), codes[0]).ok  # a refused code mails nothing
    assert len(mails(cf, "recovery_code_used")) == 1


@pytest.mark.req("RC-06", "RS-13")
def test_a_recovery_code_at_the_recovery_step_mails_too() -> None:
    cf = recovery_cf("email_link")
    account(cf)
    _, codes = enrol_totp(cf)
    flow = at_mfa_step(cf)
    assert cf.recovery.submit_mfa(flow, codes[3]).status is RecoveryStatus.NEXT
    [notice] = mails(cf, "recovery_code_used")
    assert (notice.params["left"], notice.locale) == ("9", "fr")
    assert_clean(notice, secrets_of(codes))


@pytest.mark.req("RC-06", "OT-09")
def test_removing_a_factor_with_a_recovery_code(cf: Credflow) -> None:
    account_id = account(cf)
    secret, codes = enrol_totp(cf)
    current = cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).session
    assert current is not None
    assert cf.mfa.begin_sms(current, PHONE).ok
    assert cf.mfa.confirm_sms(current, last_sms(cf)).ok
    # One factor left: the code used is reported, with the count.
    assert cf.mfa.disable(current, "sms", code=codes[0]).ok
    assert [m.params["left"] for m in mails(cf, "recovery_code_used")] == ["9"]
    assert events(cf, account_id, "mfa_recovery_code_used")[-1] == {"left": 9, "during": "disable"}
    # The last factor: the codes go with it, so only the removal is mailed.
    assert cf.mfa.disable(current, "totp", code=codes[1]).ok
    assert len(mails(cf, "recovery_code_used")) == 1
    assert [m.params["method"] for m in mails(cf, "mfa_disabled")] == [
        "un code envoyé par SMS",
        "une application d'authentification",
    ]


@pytest.mark.req("RC-05", "PC-04")
def test_regenerating_the_codes_mails_the_account_without_them(cf: Credflow) -> None:
    account(cf)
    secret, old = enrol_totp(cf)
    current = cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).session
    assert current is not None
    assert not cf.mfa.regenerate_recovery_codes(current, password="Nope1234x").ok
    assert mails(cf, "recovery_codes_regenerated") == []
    made = cf.mfa.regenerate_recovery_codes(current, password=GOOD)
    [notice] = mails(cf, "recovery_codes_regenerated")
    assert set(notice.params) == {"identifier", "at", "url"}
    assert_clean(notice, secrets_of(made.recovery_codes, old, GOOD, secret))


def test_an_account_without_an_email_gets_no_notice(cf: Credflow) -> None:
    created = cf.accounts.create("sansmail", temporary=False)
    current = cf.sessions.issue(created.account)
    setup = cf.mfa.begin_totp(current)
    assert setup.secret is not None
    assert cf.mfa.confirm_totp(current, code_now(cf, setup.secret)).ok
    assert outbox(cf).messages == ()


def test_a_notice_that_cannot_be_sent_leaves_the_factor_unconfirmed(
    cf: Credflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = account(cf)
    current = session(cf)
    setup = cf.mfa.begin_totp(current)
    assert setup.secret is not None

    def down(message: Message) -> None:
        raise OSError("mail server down")

    monkeypatch.setattr(cf.notifier, "send", down)
    with pytest.raises(OSError, match="down"):
        cf.mfa.confirm_totp(current, code_now(cf, setup.secret))
    [factor] = cf.storage.mfa_factors(account_id)
    assert not factor.confirmed and cf.storage.recovery_codes_left(account_id) == 0


@pytest.mark.req("OT-10", "SS-06")
def test_notice_events_and_reprs_carry_no_secret(cf: Credflow) -> None:
    account_id = account(cf)
    secret, codes = enrol_totp(cf)
    current = cf.mfa.verify(mfa_flow(cf), codes[0]).session
    assert current is not None
    cf.mfa.regenerate_recovery_codes(current, password=GOOD)
    cf.mfa.disable(current, "totp", password=GOOD)
    text = "\n".join(
        [repr(cf.mfa), repr(cf.storage.events(account_id=account_id))]
        + [repr(vars(cf.mfa))]
        + [repr(m) for m in outbox(cf).messages]
    )
    for value in [*forms(secret), *secrets_of(codes)]:
        assert value not in text


# -- OT-05: a replay is an event of its own ------------------------------------------------------


@pytest.mark.req("OT-05", "OT-04")
def test_a_refused_replay_records_totp_replay(cf: Credflow) -> None:
    account_id = account(cf)
    secret, _ = enrol_totp(cf)
    code = code_now(cf, secret)
    assert cf.mfa.verify(mfa_flow(cf), code).ok
    assert cf.mfa.verify(mfa_flow(cf), other(code)).code == "mfa.code_wrong"
    assert events(cf, account_id, "totp_replay") == []  # a wrong code is no replay
    assert cf.mfa.verify(mfa_flow(cf), code).code == "mfa.code_wrong"
    assert events(cf, account_id, "totp_replay") == [{"during": "login"}]
    clock(cf).advance(30)
    signed = cf.mfa.verify(mfa_flow(cf), code_now(cf, secret)).session
    assert signed is not None
    assert cf.mfa.disable(signed, "totp", code=code_now(cf, secret)).code == "mfa.code_wrong"
    assert events(cf, account_id, "totp_replay")[-1] == {"during": "disable"}


# -- OT-03: the strict window -------------------------------------------------------------------


@pytest.mark.req("OT-03")
@pytest.mark.parametrize("into_step", [0, 29])
@pytest.mark.parametrize(
    ("window", "offset", "accepted"),
    [
        ("current", -2, False),
        ("current", -1, False),
        ("current", 0, True),
        ("current", 1, False),
        ("previous_and_current", -2, False),
        ("previous_and_current", -1, True),
        ("previous_and_current", 0, True),
        ("previous_and_current", 1, False),
    ],
)
def test_the_window_setting_at_exact_step_boundaries(
    window: str, into_step: int, offset: int, accepted: bool
) -> None:
    cf = make_cf(mfa={"totp_window": window})
    account(cf)
    secret, _ = enrol_totp(cf)
    clock(cf).advance(120 + into_step)
    assert int(cf.clock.now().timestamp()) % 30 == into_step
    code = code_now(cf, secret, offset)
    window_codes = [code_now(cf, secret, o) for o in totp.WINDOWS[window]]
    if not accepted and code in window_codes:
        pytest.skip("this secret's codes collide across steps")  # one chance in 500,000
    result = cf.mfa.verify(mfa_flow(cf), code)
    assert (result.ok, result.code) == (accepted, "mfa.verified" if accepted else "mfa.code_wrong")


@pytest.mark.req("OT-03")
def test_the_strict_window_applies_to_the_enrolment_code_too() -> None:
    cf = make_cf(mfa={"totp_window": "current"})
    account(cf)
    current = session(cf)
    setup = cf.mfa.begin_totp(current)
    assert setup.secret is not None
    clock(cf).advance(30 - int(cf.clock.now().timestamp()) % 30)  # second 0 of a new step
    late = code_now(cf, setup.secret, -1)
    if late != code_now(cf, setup.secret):
        assert cf.mfa.confirm_totp(current, late).code == "mfa.code_wrong"
    assert cf.mfa.confirm_totp(current, code_now(cf, setup.secret)).ok
    assert cf.settings.mfa.totp_window == "current"
    assert make_cf().settings.mfa.totp_window == "previous_and_current"


@pytest.mark.parametrize("window", ["next", "", "CURRENT", 1])
def test_a_bad_window_is_a_configuration_error(window: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_cf(mfa={"totp_window": window})
    assert "totp_window" in str(caught.value.field)


# -- the facade still wires one MfaService ------------------------------------------------------


def test_mfa_parts_have_plain_reprs(cf: Credflow) -> None:
    assert repr(cf.mfa) == "MfaService(issuer='credflow')"
    parts = [v for k, v in vars(cf.mfa).items() if k.startswith("_") and hasattr(v, "__slots__")]
    assert all(
        repr(p).endswith("()") for p in parts if type(p).__module__.startswith("credflow.mfa")
    )


def test_login_still_asks_for_the_factor_after_the_split(cf: Credflow) -> None:
    account(cf)
    enrol_sms(cf)
    flow = mfa_flow(cf)
    assert cf.login("adejoux", GOOD).status is LoginStatus.MFA_REQUIRED
    assert cf.mfa.send_code(flow).ok
    assert cf.mfa.verify(flow, last_sms(cf)).ok
