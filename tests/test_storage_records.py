"""The stored recovery-code record (RC-02): an argon2id PHC string and a short selector, both
kept out of reprs; anything else is refused before it reaches an adapter."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from credflow import hashing
from credflow.storage.records import RecoveryCode, new_account_id
from credflow.testing.contract import T0, make_code, phc

SHA256_HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def _code(**changes: Any) -> RecoveryCode:
    fields: dict[str, Any] = {
        "account_id": "acc-1",
        "selector": "ABCD",
        "code_hash": phc("c1"),
        "created_at": T0,
    }
    fields.update(changes)
    return RecoveryCode(**fields)


@pytest.mark.req("RC-02")
def test_a_real_argon2id_hash_of_a_code_is_accepted() -> None:
    hasher = hashing.Hasher(hashing.TESTING)
    stored = hasher.hash("ABCDEFGHJKLMNPQR")
    code = _code(code_hash=stored)
    assert code.code_hash == stored
    assert code.code_hash.startswith("$argon2id$")
    assert hasher.verify(code.code_hash, "ABCDEFGHJKLMNPQR").ok


@pytest.mark.req("RC-02")
@pytest.mark.parametrize(
    "code_hash",
    [
        SHA256_HEX,  # what codes were stored as before: a fast hash, refused now
        "$argon2i$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "$argon2d$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "$2b$12$abcdefghijklmnopqrstuu5fVhGhVGuEJ6qtSFSUzQM5jT3iZvc2m",  # bcrypt
        "argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        " $argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "$ARGON2ID$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        "$argon2id$",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA",  # no hash part
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA\n",
        "",
        phc("c1").ljust(256, "A"),
    ],
    ids=[
        "sha256",
        "argon2i",
        "argon2d",
        "bcrypt",
        "no-dollar",
        "leading-space",
        "upper-case",
        "prefix-only",
        "no-hash",
        "newline",
        "empty",
        "too-long",
    ],
)
def test_a_code_hash_that_is_not_an_argon2id_phc_string_is_refused(code_hash: str) -> None:
    with pytest.raises(ValidationError):
        _code(code_hash=code_hash)


def test_the_code_hash_may_take_its_255_characters() -> None:
    assert len(_code(code_hash=phc("c1").ljust(255, "A")).code_hash) == 255


@pytest.mark.parametrize("selector", ["", "A" * 17])
def test_a_selector_must_hold_1_to_16_characters(selector: str) -> None:
    with pytest.raises(ValidationError):
        _code(selector=selector)


def test_selectors_of_1_and_16_characters_are_accepted() -> None:
    assert _code(selector="A").selector == "A"
    assert _code(selector="A" * 16).selector == "A" * 16


def test_a_recovery_code_needs_a_selector() -> None:
    with pytest.raises(ValidationError, match="selector"):
        RecoveryCode(account_id="acc-1", code_hash=phc("c1"), created_at=T0)  # type: ignore[call-arg]


def test_a_recovery_code_is_frozen() -> None:
    code = make_code("c1")
    with pytest.raises(ValidationError):
        code.selector = "WXYZ"  # type: ignore[misc]


@pytest.mark.req("RC-02")
@given(
    selector=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=4, max_size=16),
    name=st.text(min_size=1, max_size=20),
)
def test_repr_and_str_show_neither_the_selector_nor_the_hash(selector: str, name: str) -> None:
    code = _code(selector=selector, code_hash=phc(name))
    for text in (repr(code), str(code)):
        assert selector not in text
        assert code.code_hash not in text
        assert code.code_hash.split("$")[-1] not in text  # not even the digest part
        assert "acc-1" in text  # the rest is still there to debug with


def test_new_account_ids_never_start_with_a_dash() -> None:
    """A command line would read such an id as an option; one draw in 64 starts with '-'."""
    ids = [new_account_id() for _ in range(5000)]
    assert not [i for i in ids if i.startswith("-")]
    assert len(set(ids)) == 5000 and {len(i) for i in ids} == {22}
