"""The arithmetic human check: right answers once, expiry, tampering, the protocol."""

from __future__ import annotations

import re

import pytest

from credflow.clock import FrozenClock
from credflow.humancheck import ArithmeticCheck, Challenge, HumanCheck
from credflow.storage.memory import MemoryStorage


@pytest.fixture
def check() -> ArithmeticCheck:
    return ArithmeticCheck(MemoryStorage(), FrozenClock(), secret_key=b"k" * 32)


def solve(challenge: Challenge) -> str:
    match = re.fullmatch(r"(\d) \+ (\d) = \?", challenge.prompt)
    assert match is not None
    return str(int(match.group(1)) + int(match.group(2)))


def test_right_answer_works_once(check: ArithmeticCheck) -> None:
    challenge = check.challenge()
    assert isinstance(check, HumanCheck)
    assert challenge.token not in repr(challenge)
    assert check.verify(challenge.token, f" {solve(challenge)} ")
    assert not check.verify(challenge.token, solve(challenge))


def test_wrong_answers(check: ArithmeticCheck) -> None:
    challenge = check.challenge()
    wrong = str(int(solve(challenge)) + 1)
    for answer in (wrong, "", "abc", "٣", "-1", "1e1"):
        assert not check.verify(challenge.token, answer)
    assert check.verify(challenge.token, solve(challenge))  # wrong tries did not burn it


def test_expiry_at_the_limit() -> None:
    clock = FrozenClock()
    check = ArithmeticCheck(MemoryStorage(), clock, secret_key=b"k" * 32, lifetime=300)
    first, second = check.challenge(), check.challenge()
    clock.advance(300)
    assert check.verify(first.token, solve(first))
    clock.advance(1)
    assert not check.verify(second.token, solve(second))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", None, 12])
def test_garbage_tokens(check: ArithmeticCheck, token: object) -> None:
    assert not check.verify(token, "3")  # type: ignore[arg-type]


def test_tampered_or_foreign_tokens(check: ArithmeticCheck) -> None:
    challenge = check.challenge()
    other = ArithmeticCheck(MemoryStorage(), FrozenClock(), secret_key=b"z" * 32).challenge()
    assert not check.verify(other.token, solve(other))
    flipped = (
        challenge.token[:-2] + ("A" if challenge.token[-2] != "A" else "B") + challenge.token[-1]
    )
    assert not check.verify(flipped, solve(challenge))
    assert "ArithmeticCheck" in repr(check)
