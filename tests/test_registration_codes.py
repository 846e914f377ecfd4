"""``credflow.codes``: numeric one-time codes, their shape check and their HMAC."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credflow.codes import check_code, code_hash, code_matches, new_code
from credflow.errors import InvalidInput

KEY = b"k" * 32
FLOW = "f" * 64


@pytest.mark.req("EV-01")
def test_codes_are_uniform_digits() -> None:
    draws = [new_code(6) for _ in range(20_000)]
    assert all(len(c) == 6 and c.isdigit() for c in draws)
    counts = Counter(c[0] for c in draws) + Counter(c[-1] for c in draws)
    expected = 40_000 / 10
    chi_square = sum((counts[d] - expected) ** 2 / expected for d in "0123456789")
    assert chi_square < 35  # 9 degrees of freedom: p < 1e-4 for a fair draw
    assert len(set(draws)) > 19_000
    assert len(new_code(8)) == 8


@pytest.mark.parametrize("digits", [5, 11, 0])
def test_code_lengths_are_bounded(digits: int) -> None:
    with pytest.raises(ValueError, match="between 6 and 10"):
        new_code(digits)


@pytest.mark.parametrize(
    ("value", "expected"), [("012345", "012345"), (" 012345\n", "012345"), ("98765432", None)]
)
def test_check_code_accepts_digits_of_the_length(value: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InvalidInput):
            check_code(value, 6)
        assert check_code(value, 8) == value
    else:
        assert check_code(value, 6) == expected


@given(st.one_of(st.text(max_size=12), st.integers(), st.none(), st.binary(max_size=6)))
def test_check_code_refuses_everything_else_without_echoing_it(value: object) -> None:
    text = value.strip() if isinstance(value, str) else None
    if text is not None and len(text) == 6 and text.isascii() and text.isdigit():
        assert check_code(value, 6) == text
        return
    with pytest.raises(InvalidInput) as caught:
        check_code(value, 6)
    assert caught.value.field == "code"
    assert str(caught.value) in (  # a fixed message: the value never appears in it
        "code: must be 6 digits",
        f"code: must be a str, not {type(value).__name__}",
    )


@pytest.mark.req("EV-04", "EV-07")
def test_the_hmac_binds_the_code_to_its_flow_and_address() -> None:
    stored = code_hash(KEY, FLOW, "123456", bound_to="a@example.fr")
    assert "123456" not in stored and len(stored) == 64
    assert code_matches(stored, KEY, FLOW, "123456", bound_to="a@example.fr")
    assert not code_matches(stored, KEY, FLOW, "123457", bound_to="a@example.fr")
    assert not code_matches(stored, KEY, FLOW, "123456", bound_to="b@example.fr")
    assert not code_matches(stored, KEY, "e" * 64, "123456", bound_to="a@example.fr")
    assert not code_matches(stored, b"o" * 32, FLOW, "123456", bound_to="a@example.fr")
    assert not code_matches(stored, KEY, FLOW, "123456")
    assert not code_matches("", KEY, FLOW, "123456")  # a used code (emptied) never matches


def test_unbound_hashes_keep_the_recovery_format() -> None:
    """Recovery codes issued before ``credflow.codes`` existed still verify."""
    legacy = hmac.new(KEY, f"credflow.code:{FLOW}:123456".encode(), hashlib.sha256).hexdigest()
    assert code_hash(KEY, FLOW, "123456") == legacy
