"""Hypothesis strategies for host apps' property tests: identifiers, emails, passwords, answers.

Each strategy builds values that meet (or break) the rules by construction, and checks them with
credflow itself (``check_identifier``, ``policy.evaluate``...) only as a last resort, so hypothesis
seldom throws a draw away::

    from hypothesis import given
    from credflow.testing.strategies import identifiers, passwords

    @given(identifier=identifiers(), password=passwords(POLICY, identifier="alice"))
    def test_sign_up_accepts_any_good_password(identifier: str, password: str) -> None: ...

Needs hypothesis (``pip install credflow[testing]``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from functools import lru_cache

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from credflow.errors import InvalidEmail, InvalidIdentifier
from credflow.policy import (
    AnswerPolicy,
    Digit,
    Lowercase,
    MinLength,
    NoSequence,
    NotCommon,
    NotIdentifier,
    PasswordPolicy,
    Special,
    Uppercase,
)
from credflow.policy.common import common_passwords, load_password_list
from credflow.storage.records import check_email, check_identifier

__all__ = ["BREAKABLE", "answers", "emails", "identifiers", "passwords"]

_LOWER = string.ascii_lowercase
_UPPER = string.ascii_uppercase
_DIGITS = string.digits
_ACCENTED = "éèêàâçëïîôöüùñ"
_SPECIALS = "!?$%&*@#+="  # none is a word character, so none can belong to an identifier part
_WORD = re.compile(r"\w")

BREAKABLE = frozenset(
    {
        "min_length",
        "max_length",
        "lowercase",
        "uppercase",
        "digit",
        "special",
        "not_identifier",
        "not_common",
        "no_sequence",
    }
)
"""The rule codes ``passwords(policy, valid=False, fails=code)`` knows how to break."""


def identifiers(
    *, min_size: int = 1, max_size: int = 32, unicode: bool = True
) -> st.SearchStrategy[str]:
    """Identifiers ``cf.accounts.create`` accepts: a letter, then letters, digits, ``.-_``.

    With ``unicode``, letters include accented ones (``é``, ``ß``...), so case-insensitive
    lookups are exercised beyond ASCII.
    """
    if not 1 <= min_size <= max_size <= 254:
        raise InvalidArgument("need 1 <= min_size <= max_size <= 254")
    letters = _LOWER + _UPPER + (_ACCENTED + _ACCENTED.upper() if unicode else "")
    if unicode and max_size <= 127:  # "ß" folds to "ss": the key may grow to twice the length
        letters += "ß"
    first = st.sampled_from(letters)
    rest = st.text(alphabet=letters + _DIGITS + ".-_", min_size=min_size - 1, max_size=max_size - 1)
    built = st.builds(lambda a, b: a + b, first, rest)
    return built.filter(_accepted(check_identifier, InvalidIdentifier))


def emails(*, domains: Sequence[str] | None = None) -> st.SearchStrategy[str]:
    """Addresses ``check_email`` accepts, on reserved domains (``example.com``...) by default.

    The local part mixes cases (``Alice.Martin7``), so lookups by email key are exercised.
    """
    choices = (
        tuple(domains) if domains is not None else ("example.com", "example.org", "example.net")
    )
    if not choices:
        raise InvalidArgument("domains must not be empty")
    segment = st.text(alphabet=_LOWER + _UPPER + _DIGITS, min_size=1, max_size=12)
    local = st.lists(segment, min_size=1, max_size=3).map(".".join)
    label = st.text(alphabet=_LOWER + _DIGITS, min_size=1, max_size=10)
    domain = st.one_of(
        st.sampled_from(choices),
        st.builds(lambda sub, base: f"{sub}.{base}", label, st.sampled_from(choices)),
    )
    built = st.builds(lambda a, b: f"{a}@{b}", local, domain)
    return built.filter(_accepted(check_email, InvalidEmail))


def passwords(
    policy: PasswordPolicy,
    *,
    valid: bool = True,
    identifier: str | None = None,
    email: str | None = None,
    has_mfa: bool = False,
    fails: str | None = None,
) -> st.SearchStrategy[str]:
    """Passwords that ``policy.evaluate(..., identifier=, email=, has_mfa=)`` accepts (``valid``)
    or refuses (``valid=False``; with ``fails``, refuses with that rule code among the failures).

    Valid ones are built to pass: the minimum length and counts of each character class, a
    character that is no letter or digit every third position (so no identifier part of three
    or more and no run of three or more can form). Invalid ones break one rule on purpose: too
    short or too long, a class missing, the identifier inside, a common password, a run.
    Rules that depend on outside data (``not_breached``, ``history``, ``min_strength``) are
    checked, not constructed: a policy they make unmeetable gives hypothesis nothing to draw.
    """
    if not isinstance(policy, PasswordPolicy):
        raise InvalidArgument(f"policy must be a PasswordPolicy, not {type(policy).__name__}")
    shape = _Shape.of(policy, has_mfa)

    def report_ok(candidate: str) -> bool:
        return policy.evaluate(candidate, identifier=identifier, email=email, has_mfa=has_mfa).ok

    if valid:
        if fails is not None:
            raise InvalidArgument("fails= only goes with valid=False")
        shortest = shape.shortest()
        if shortest is None:
            raise InvalidArgument("no password can meet this policy's lengths and class counts")
        return _valid(shape, shortest).filter(report_ok)
    breakers = _breakers(policy, shape, identifier, email)
    if fails is not None:
        if fails not in breakers:
            raise InvalidArgument(
                f"cannot build passwords failing {fails!r} for this policy; it can break: "
                + ", ".join(sorted(breakers))
            )

        def fails_it(candidate: str) -> bool:
            report = policy.evaluate(candidate, identifier=identifier, email=email, has_mfa=has_mfa)
            return fails in {r.code for r in report.failures}

        return breakers[fails].filter(fails_it)
    # Never empty: every policy has a max_length rule, so there is always a way to break it.
    return st.one_of(*breakers.values()).filter(lambda c: not report_ok(c))


def answers(
    policy: AnswerPolicy | None = None,
    *,
    question: str | None = None,
    identifier: str | None = None,
    email: str | None = None,
    password: str | None = None,
) -> st.SearchStrategy[str]:
    """Security answers that ``policy.evaluate`` (default ``AnswerPolicy()``) accepts.

    Built from syllables (``ba``, ``lé``, ``tu``...) in one to a few words, some capitalised,
    some accented, within the length bounds once normalised; never a run or a repeated letter.
    """
    chosen = policy if policy is not None else AnswerPolicy()
    if not isinstance(chosen, AnswerPolicy):
        raise InvalidArgument(f"policy must be an AnswerPolicy, not {type(chosen).__name__}")
    low = -(-chosen.min_length // 2)
    high = max(low, chosen.max_length // 2)
    syllable = st.builds(
        lambda c, v: c + v, st.sampled_from("bcdfgjklmnprstvz"), st.sampled_from("aeiouéèàô")
    )

    @st.composite
    def build(draw: st.DrawFn) -> str:
        parts = draw(st.lists(syllable, min_size=low, max_size=min(high, low + 8)))
        room = chosen.max_length - 2 * len(parts)
        spaces = draw(st.sets(st.integers(1, max(1, len(parts) - 1)), max_size=max(0, room)))
        words: list[str] = []
        current = ""
        for index, part in enumerate(parts):
            if index in spaces and current:
                words.append(current)
                current = ""
            current += part
        words.append(current)
        capitals = draw(st.lists(st.booleans(), min_size=len(words), max_size=len(words)))
        return " ".join(w.capitalize() if up else w for w, up in zip(words, capitals, strict=True))

    def accepted(answer: str) -> bool:
        return chosen.evaluate(
            answer, question=question, identifier=identifier, email=email, password=password
        ).ok

    return build().filter(accepted)


# -- passwords, by construction ------------------------------------------------------------------


class _Shape:
    """What a policy asks of a password's shape: lengths, class counts, specials, run length."""

    __slots__ = (
        "digits",
        "lower",
        "max",
        "min",
        "min_part",
        "run",
        "special_min",
        "specials",
        "upper",
    )

    def __init__(self) -> None:
        self.min = 1
        self.max = 128
        self.lower = self.upper = self.digits = self.special_min = 0
        self.specials = _SPECIALS
        self.run = 0
        self.min_part = 0

    @classmethod
    def of(cls, policy: PasswordPolicy, has_mfa: bool) -> _Shape:
        shape = cls()
        shape.max = policy.max_length
        for rule in policy.rules:
            # A policy holds each rule at most once.
            if isinstance(rule, MinLength):
                shape.min = rule.effective(has_mfa)
            elif isinstance(rule, Lowercase):
                shape.lower = rule.min
            elif isinstance(rule, Uppercase):
                shape.upper = rule.min
            elif isinstance(rule, Digit):
                shape.digits = rule.min
            elif isinstance(rule, Special):
                shape.special_min = rule.min
                plain = "".join(c for c in rule.alphabet if not _WORD.match(c))
                shape.specials = plain or rule.alphabet
            elif isinstance(rule, NoSequence):
                shape.run = rule.min_run
            elif isinstance(rule, NotIdentifier):
                shape.min_part = rule.min_part
        return shape

    def shortest(self) -> int | None:
        """The shortest valid length, or None when no length up to the cap fits."""
        words = self.lower + self.upper + self.digits
        for length in range(max(self.min, 1), self.max + 1):
            specials = max(length // 3, self.special_min)
            if length - specials >= words and specials <= (2 * length + 2) // 3:
                return length
        return None


@st.composite
def _shaped(
    draw: st.DrawFn,
    shape: _Shape,
    lengths: st.SearchStrategy[int],
    *,
    without: str = "",
    specials: bool = True,
) -> str:
    """A length from ``lengths``, then as many characters: a special in every third slot (more
    when the shape needs them), the class counts of ``shape`` among the others; ``without`` names
    classes left out."""
    length = draw(lengths)
    pools = {"lower": _LOWER, "upper": _UPPER, "digit": _DIGITS}
    allowed = "".join(pool for name, pool in pools.items() if name != without)
    slots = [specials and i % 3 == 2 for i in range(length)]
    wanted = shape.special_min if specials else 0
    for i in range(0, length, 3):  # more specials: the first slot of a pair, never three in a row
        if sum(slots) >= wanted:
            break
        slots[i] = True
    word_count = length - sum(slots)
    needed = [
        *(draw(st.sampled_from(_LOWER)) for _ in range(0 if without == "lower" else shape.lower)),
        *(draw(st.sampled_from(_UPPER)) for _ in range(0 if without == "upper" else shape.upper)),
        *(draw(st.sampled_from(_DIGITS)) for _ in range(0 if without == "digit" else shape.digits)),
    ][:word_count]
    filler = draw(
        st.text(
            alphabet=allowed, min_size=word_count - len(needed), max_size=word_count - len(needed)
        )
    )
    words = iter(draw(st.permutations([*needed, *filler])))
    marks = iter(draw(st.text(alphabet=shape.specials, min_size=sum(slots), max_size=sum(slots))))
    return "".join(next(marks) if special else next(words) for special in slots)


def _valid(shape: _Shape, shortest: int) -> st.SearchStrategy[str]:
    return _shaped(shape, st.integers(shortest, min(shape.max, shortest + 24)))


def _breakers(
    policy: PasswordPolicy, shape: _Shape, identifier: str | None, email: str | None
) -> dict[str, st.SearchStrategy[str]]:
    """One strategy per rule code this policy has and that construction can break."""
    codes = {rule.code for rule in policy.rules}
    found: dict[str, st.SearchStrategy[str]] = {}
    if "min_length" in codes and shape.min > 1:
        found["min_length"] = _shaped(shape, st.integers(0, shape.min - 1))
    found["max_length"] = _shaped(shape, st.integers(shape.max + 1, shape.max + 16))  # always
    for code, name in (("lowercase", "lower"), ("uppercase", "upper"), ("digit", "digit")):
        if code in codes:
            found[code] = _shaped(shape, _lengths(shape), without=name)
    if "special" in codes:
        found["special"] = _shaped(shape, _lengths(shape), specials=False)
    words = _common_words(policy)
    if words:  # the policy has a not_common rule, and its list is not empty
        found["not_common"] = st.sampled_from(words)
    shortest = shape.shortest()
    if shortest is None:  # nothing valid to put a piece into
        return found
    names = [n for n in (identifier, email and email.rpartition("@")[0]) if n]
    names = [n for n in names if len(n) >= shape.min_part]
    if "not_identifier" in codes and names:
        found["not_identifier"] = _inserted(shape, shortest, st.sampled_from(names))
    runs = [
        s[: shape.run] for s in (_LOWER, _LOWER[::-1], _DIGITS, "7" * 16) if len(s) >= shape.run
    ]
    if "no_sequence" in codes and runs:
        found["no_sequence"] = _inserted(shape, shortest, st.sampled_from(runs))
    return found


def _lengths(shape: _Shape) -> st.SearchStrategy[int]:
    low = max(shape.min, 1)
    return st.integers(low, max(low, min(shape.max, low + 24)))


@st.composite
def _inserted(draw: st.DrawFn, shape: _Shape, shortest: int, pieces: st.SearchStrategy[str]) -> str:
    """A piece inside a password of the valid shape, short enough to stay under the cap when
    the piece fits (over the cap, only ``max_length`` would fail)."""
    piece = draw(pieces)
    longest = max(shortest, min(shape.max - len(piece), shortest + 24))
    password = draw(_shaped(shape, st.integers(shortest, longest)))
    cut = draw(st.integers(0, len(password)))
    return password[:cut] + piece + password[cut:]


def _common_words(policy: PasswordPolicy) -> tuple[str, ...]:
    for rule in policy.rules:
        if isinstance(rule, NotCommon):
            return _word_list(rule.path)
    return ()


@lru_cache(maxsize=8)
def _word_list(path: str | None) -> tuple[str, ...]:
    words = common_passwords() if path is None else load_password_list(path)
    return tuple(sorted(words))


def _accepted(check: Callable[[str], object], error: type[Exception]) -> Callable[[str], bool]:
    def accepted(value: str) -> bool:
        try:
            check(value)
        except error:
            return False
        return True

    return accepted
