"""MFA building blocks: TOTP maths (RFC 6238 vectors through pyotp), the otpauth URI, issuers,
QR codes, recovery codes, and the shape checks of typed codes and phone numbers."""

from __future__ import annotations

import base64
import sys
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import argon2
import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from credflow import hashing
from credflow.errors import ConfigurationError, InvalidInput, MissingDependency
from credflow.hashing import Hasher
from credflow.mfa import recovery_codes, totp
from credflow.mfa.entry import EnteredCode, check_phone, parse_code
from credflow.mfa.qr import svg
from credflow.mfa.totp import TotpSetup, check_issuer, matching_step, otpauth_uri
from credflow.results import MfaStatus
from credflow.settings import MfaSettings, Settings

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


# -- RFC 6238 and our parameters ---------------------------------------------------------------


@pytest.mark.req("OT-02")
@pytest.mark.parametrize(("at", "expected"), RFC_VECTORS)
def test_rfc_6238_appendix_b_sha1_vectors(at: int, expected: str) -> None:
    assert pyotp.TOTP(RFC_SECRET, digits=8).at(at) == expected
    # The same HOTP core at the vector's step: our step maths agree with the RFC's T.
    assert pyotp.TOTP(RFC_SECRET, digits=8).generate_otp(totp.step_at(at)) == expected
    assert totp.code_at(RFC_SECRET, totp.step_at(at)) == expected[-6:]


@pytest.mark.req("OT-01")
def test_secrets_have_160_random_bits() -> None:
    secrets_ = {totp.new_secret() for _ in range(50)}
    assert len(secrets_) == 50
    for secret in secrets_:
        assert len(secret) == totp.SECRET_LENGTH == 32
        assert len(base64.b32decode(secret)) == 20  # 160 bits


@pytest.mark.req("OT-03")
def test_the_window_is_t_minus_one_and_t_exactly() -> None:
    secret = totp.new_secret()
    now = 1_700_000_015
    t = totp.step_at(now)
    assert matching_step(secret, totp.code_at(secret, t), t) == t
    assert matching_step(secret, totp.code_at(secret, t - 1), t) == t - 1
    for other in (t + 1, t - 2, t + 2):
        code = totp.code_at(secret, other)
        if code not in (totp.code_at(secret, t), totp.code_at(secret, t - 1)):
            assert matching_step(secret, code, t) is None
    assert matching_step(secret, totp.code_at(secret, 0), 0) == 0  # no step -1 at the epoch


@pytest.mark.req("OT-02")
def test_steps_change_every_thirty_seconds() -> None:
    assert [totp.step_at(t) for t in (0, 29, 29.999, 30, 59, 60)] == [0, 0, 0, 1, 1, 2]


# -- the otpauth URI and the issuer -------------------------------------------------------------


def test_uri_is_percent_encoded_and_complete() -> None:
    uri = otpauth_uri("ABCDEFGH" * 4, issuer="Espace client Sigma", account_name="a.dejoux/é:x")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.path == "/Espace%20client%20Sigma:a.dejoux%2F%C3%A9%3Ax"
    assert unquote(parts.path[1:]) == "Espace client Sigma:a.dejoux/é:x"
    assert "+" not in uri
    query = parse_qs(parts.query)
    assert query == {
        "secret": ["ABCDEFGH" * 4],
        "issuer": ["Espace client Sigma"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.issuer == "Espace client Sigma"
    assert parsed.now() == pyotp.TOTP("ABCDEFGH" * 4).now()


@pytest.mark.parametrize(
    "issuer",
    ["", "   ", "Sage:ID", "x" * 65, "Sage\nID", "Sage\x00", "Sage\u200bID", 42, None],
)
def test_bad_issuers_are_refused(issuer: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_issuer(issuer)
    assert caught.value.field == "issuer"


@pytest.mark.parametrize("issuer", ["Sage", "Espace client", "x" * 64, "Société Générale"])
def test_good_issuers_pass(issuer: str) -> None:
    assert check_issuer(issuer) == issuer


# -- QR codes -----------------------------------------------------------------------------------


def test_totp_setup_draws_its_qr_code_and_hides_its_secret() -> None:
    secret = totp.new_secret()
    uri = otpauth_uri(secret, issuer="Sage", account_name="bob")
    setup = TotpSetup(MfaStatus.NEXT, "mfa.totp_started", "…", secret, uri)
    drawn = setup.svg()
    assert drawn.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert drawn.rstrip().endswith("</svg>")
    assert secret not in drawn
    assert setup.svg(scale=8) != drawn
    assert secret not in repr(setup) and "otpauth" not in repr(setup)
    assert setup.ok


def test_a_refused_setup_has_nothing_to_draw() -> None:
    setup = TotpSetup(MfaStatus.REFUSED, "mfa.already_enrolled", "…")
    assert not setup.ok
    with pytest.raises(InvalidInput):
        setup.svg()


@pytest.mark.parametrize("scale", [0, 41, True, 2.5])
def test_qr_scale_is_checked(scale: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        svg("otpauth://totp/x", scale=scale)  # type: ignore[arg-type]
    assert caught.value.field == "scale"


def test_missing_segno_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "segno", None)
    with pytest.raises(MissingDependency) as caught:
        svg("otpauth://totp/x")
    assert caught.value.extra == "qr"
    assert "credflow[qr]" in str(caught.value)
    assert isinstance(caught.value, ImportError)


# -- recovery codes -----------------------------------------------------------------------------


@pytest.mark.req("RC-01")
def test_recovery_codes_have_80_bits_and_are_distinct() -> None:
    codes = recovery_codes.generate(10)
    assert len(set(codes)) == 10
    assert recovery_codes.BITS == 80
    for code in codes:
        assert len(code) == 16 and set(code) <= set(recovery_codes.ALPHABET)
        shown = recovery_codes.format_code(code)
        assert len(shown) == 19 and shown.count("-") == 3
        assert recovery_codes.normalise(shown.lower()) == code
        assert recovery_codes.normalise(shown.replace("-", " ")) == code


def test_recovery_code_count_is_bounded() -> None:
    with pytest.raises(ValueError, match="between"):
        recovery_codes.generate(0)


@pytest.mark.req("RC-02")
def test_a_new_set_is_argon2id_hashed_with_distinct_selectors() -> None:
    hasher = Hasher(hashing.TESTING)
    made = recovery_codes.new_set("acc-1", 10, hasher, datetime(2026, 1, 1, tzinfo=UTC))
    assert len(made.shown) == len(made.records) == 10
    assert len({r.selector for r in made.records}) == 10
    for shown, record in zip(made.shown, made.records, strict=True):
        compact = shown.replace("-", "")
        assert record.selector == compact[:4] == recovery_codes.selector(compact)
        assert argon2.extract_parameters(record.code_hash).type is argon2.Type.ID
        assert compact not in record.code_hash and compact[4:] not in repr(record)
        assert hasher.verify(record.code_hash, compact).ok
    assert made.shown[0] not in repr(made)


def test_generated_sets_never_share_a_selector(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter("AAAA" + "B" * 12 + "AAAA" + "C" * 12 + "DDDD" + "E" * 12)
    monkeypatch.setattr(recovery_codes.secrets, "choice", lambda alphabet: next(drawn))
    assert recovery_codes.generate(2) == ["AAAABBBBBBBBBBBB", "DDDDEEEEEEEEEEEE"]


# -- typed codes and phones ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("123456", EnteredCode("digits", "123456")),
        (" 123 456 ", EnteredCode("digits", "123456")),
        ("12345678", EnteredCode("digits", "12345678")),
        ("abcd-efgh-ijkl-mnop", EnteredCode("recovery", "ABCDEFGHIJKLMNOP")),
        ("ABCD EFGH IJKL MNOP", EnteredCode("recovery", "ABCDEFGHIJKLMNOP")),
        ("abcdefgh23456722", EnteredCode("recovery", "ABCDEFGH23456722")),
    ],
)
def test_codes_are_told_apart_by_shape(typed: str, expected: EnteredCode) -> None:
    assert parse_code(typed, digits=(6, 8)) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "12a456",
        "12345",
        "1234567",
        "",
        "１２３４５６",
        "abcd-efgh-ijkl-mno",
        "ABCD-EFGH-IJKL-MN01",
        "1" * 100,
        "abcdefghijklmnop0",
    ],
)
def test_malformed_codes_raise_a_typed_error(typed: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_code(typed, digits=(6, 8))
    assert caught.value.field == "code"
    assert typed.strip() not in str(caught.value) or not typed.strip()


def test_a_recovery_code_where_only_digits_are_expected() -> None:
    with pytest.raises(InvalidInput, match=r"6 digits$"):
        parse_code("ABCD-EFGH-IJKL-MNOP", recovery=False)
    with pytest.raises(InvalidInput, match="must be a str"):
        parse_code(123456)


@given(st.text(max_size=30))
def test_parse_code_accepts_only_digits_or_recovery_shapes(typed: str) -> None:
    try:
        entered = parse_code(typed)
    except InvalidInput as error:
        fields = {error.field}
    else:
        fields = set()
    if fields:
        assert fields == {"code"}
        return
    if entered.kind == "digits":
        assert entered.value.isascii() and entered.value.isdigit() and len(entered.value) == 6
    else:
        assert recovery_codes.normalise(entered.value) == entered.value


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("+33612345678", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("+44.20.7946.0958", "+442079460958"),
    ],
)
def test_good_phones(typed: str, expected: str) -> None:
    assert check_phone(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "0612345678",
        "+0612345678",
        "+3361234",
        "+3361234567890123",
        "+33 6 12 34 56 7a",
        "",
        "+٣٣٦١٢٣٤٥٦٧٨",
        None,
        33612345678,
    ],
)
def test_bad_phones_raise_a_typed_error(typed: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_phone(typed)
    assert caught.value.field == "phone"


@pytest.mark.parametrize("issuer", ["Sage:ID", "Sage\u0007", "", "x" * 65])
def test_settings_refuse_a_bad_issuer(issuer: str) -> None:
    with pytest.raises(ValueError, match="issuer"):
        MfaSettings(issuer=issuer)
    with pytest.raises(ConfigurationError) as caught:
        Settings(secret_key="k" * 32, base_url="https://x.example.fr", mfa={"issuer": issuer})
    assert caught.value.field == "mfa.issuer"


def test_settings_keep_a_good_issuer() -> None:
    assert MfaSettings(issuer="Compte Sage").issuer == "Compte Sage"
