"""SIREN and SIRET validation (``credflow.siret``): lengths, Luhn, La Poste's rule, spaces, and
typed errors that name the field and never repeat the number."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from credflow.errors import InvalidInput
from credflow.siret import (
    LA_POSTE_HEAD_OFFICE,
    LA_POSTE_SIREN,
    check_registration_number,
    luhn_ok,
    siren_ok,
    siret_ok,
)

SIREN = "732829320"  # a real SIREN (Luhn-valid)
SIRET = "73282932000074"  # one of its establishments
LA_POSTE = "35600000049837"  # a La Poste establishment: Luhn fails, the digit sum is 45


def luhn_digit(body: str) -> str:
    """The digit that makes ``body + digit`` pass the Luhn check."""
    return next(d for d in "0123456789" if luhn_ok(body + d))


def with_luhn(body: str) -> str:
    return body + luhn_digit(body)


def near_la_poste(number: str) -> bool:
    """True when one digit change could move the SIREN part to or from La Poste's."""
    prefix = number[:9]
    return sum(a != b for a, b in zip(prefix, LA_POSTE_SIREN, strict=True)) <= 1


sirens = st.text("0123456789", min_size=8, max_size=8).map(with_luhn)


@st.composite
def sirets(draw: st.DrawFn) -> str:
    siren = draw(sirens)
    nic = draw(st.text("0123456789", min_size=4, max_size=4))
    return with_luhn(siren + nic)


def test_known_numbers() -> None:
    assert siren_ok(SIREN) and siret_ok(SIRET)
    assert check_registration_number(SIREN) == SIREN
    assert check_registration_number(SIRET) == SIRET


def test_luhn_examples() -> None:
    assert luhn_ok("79927398713")  # the textbook example
    assert not luhn_ok("79927398710")
    assert luhn_ok("") and luhn_ok("0")


@pytest.mark.parametrize(
    "typed",
    [
        "732 829 320 00074",
        "732 829 320",
        " 73282932000074 ",
        "732\u00a0829\u00a0320\u00a000074",  # no-break spaces, as word processors group digits
        "732\u202f829\u202f320",
    ],
)
def test_spaces_are_accepted_and_removed(typed: str) -> None:
    assert check_registration_number(typed) == typed.replace(" ", "").replace("\u00a0", "").replace(
        "\u202f", ""
    )


def test_la_poste_establishments_use_the_digit_sum() -> None:
    assert not luhn_ok(LA_POSTE)
    assert sum(map(int, LA_POSTE)) % 5 == 0
    assert siret_ok(LA_POSTE)
    assert check_registration_number("356 000 000 49837") == LA_POSTE
    # A digit sum not a multiple of 5 is refused, even when the number passes Luhn.
    luhn_only = with_luhn(LA_POSTE_SIREN + "0001")
    assert sum(map(int, luhn_only)) % 5 != 0
    assert not siret_ok(luhn_only)
    with pytest.raises(InvalidInput, match="check digit"):
        check_registration_number(luhn_only)


def test_la_poste_head_office_uses_luhn() -> None:
    assert luhn_ok(LA_POSTE_HEAD_OFFICE)
    assert sum(map(int, LA_POSTE_HEAD_OFFICE)) % 5 != 0
    assert siret_ok(LA_POSTE_HEAD_OFFICE)
    assert siren_ok(LA_POSTE_SIREN)


def test_a_siret_needs_a_valid_siren_part() -> None:
    bad_siren = "732829321"
    assert not siren_ok(bad_siren)
    number = with_luhn(bad_siren + "0007")
    assert luhn_ok(number) and not siret_ok(number)
    with pytest.raises(InvalidInput, match="not a valid SIRET"):
        check_registration_number(number)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("73282932", "must have 9 digits (SIREN) or 14 digits (SIRET), not 8"),
        ("7328293200007", "not 13"),
        ("732829320000740", "not 15"),
        ("732829321", "not a valid SIREN: the check digit does not match"),
        ("73282932000075", "not a valid SIRET: the check digit does not match"),
        ("73282932O00074", "only digits"),  # a letter O for a zero
        ("732-829-320", "only digits"),
        ("732.829.320", "only digits"),
        ("７３２８２９３２０", "only digits"),  # full-width digits are not ASCII
        ("732829320\n", "only digits"),
        ("1" * 65, "too long"),
    ],
)
def test_bad_numbers_raise_invalid_input(typed: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)) as caught:
        check_registration_number(typed)
    assert caught.value.field == "registration_number"
    if len(typed.strip()) >= 8:
        assert typed.strip() not in str(caught.value)  # the number is never repeated


@pytest.mark.parametrize("value", [None, 73282932000074, b"73282932000074", ["732829320"]])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput, match="must be a str") as caught:
        check_registration_number(value)
    assert caught.value.field == "registration_number"


def test_the_field_name_can_be_chosen() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_registration_number("123", field="siret")
    assert caught.value.field == "siret"


def test_predicates_refuse_other_shapes() -> None:
    assert not siren_ok(SIRET) and not siret_ok(SIREN)
    assert not siren_ok("73282932a") and not siret_ok("7328293200007a")


@given(sirens)
def test_every_luhn_valid_siren_is_accepted(siren: str) -> None:
    assert check_registration_number(siren) == siren


@given(sirets())
def test_every_luhn_valid_siret_is_accepted(siret: str) -> None:
    assume(not siret.startswith(LA_POSTE_SIREN))  # La Poste's establishments: the digit sum
    assert check_registration_number(siret) == siret
    grouped = f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"
    assert check_registration_number(grouped) == siret


@given(st.one_of(sirens, sirets()), st.data())
def test_changing_any_single_digit_is_refused(number: str, data: st.DataObject) -> None:
    """Luhn catches every single-digit change. Near La Poste's SIREN, one change can switch the
    rule to the digit sum (which misses changes by 5), so those numbers are left out."""
    assume(len(number) == 9 or not near_la_poste(number))
    position = data.draw(st.integers(0, len(number) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    changed = number[:position] + digit + number[position + 1 :]
    with pytest.raises(InvalidInput, match="check digit"):
        check_registration_number(changed)


@given(st.text("0123456789", min_size=1, max_size=20).filter(lambda s: len(s) not in (9, 14)))
def test_every_other_length_is_refused(digits: str) -> None:
    with pytest.raises(InvalidInput, match=f"not {len(digits)}"):
        check_registration_number(digits)


@given(st.text(min_size=1, max_size=20))
def test_any_text_is_either_digits_or_refused(text: str) -> None:
    """Whatever is typed: a normalised 9- or 14-digit number comes back, or InvalidInput."""
    digits = "".join(c for c in text if c not in " \u00a0\u202f")
    if digits.isascii() and digits.isdigit() and (siren_ok(digits) or siret_ok(digits)):
        assert check_registration_number(text) == digits
    else:
        with pytest.raises(InvalidInput) as caught:
            check_registration_number(text)
        assert caught.value.field == "registration_number"
