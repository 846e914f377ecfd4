"""Unicode helpers shared by the rules: NFKC, case-insensitive keys, obvious runs."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

__all__ = ["casefold_key", "has_run", "is_run", "nfkc"]

# Each string is a line of characters a person may type in order; runs are read both ways.
_SEQUENCES = (
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789",
    "azertyuiop",
    "qsdfghjklm",
    "wxcvbn",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "qwertzuiop",
    "yxcvbnm",
)


def nfkc(text: str) -> str:
    """NFKC-normalise ``text``, skipping the work when it is already normal."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def casefold_key(text: str) -> str:
    """The key used for case-insensitive comparison: NFKC, then case folding."""
    return nfkc(text).casefold()


@lru_cache(maxsize=16)
def _windows(length: int) -> frozenset[str]:
    found: set[str] = set()
    for line in _SEQUENCES:
        for seq in (line, line[::-1]):
            found.update(seq[i : i + length] for i in range(len(seq) - length + 1))
    return frozenset(found)


def has_run(text: str, min_run: int) -> bool:
    """True when ``text`` (case-insensitively) holds a run of ``min_run`` or more characters.

    A run is a stretch of one repeated character (``aaaa``), or consecutive characters of the
    alphabet, the digits, or a keyboard row, in either direction (``1234``, ``dcba``,
    ``azerty``, ``qwerty``).
    """
    key = text.casefold()
    if len(key) < min_run:
        return False
    windows = _windows(min_run)
    for i in range(len(key) - min_run + 1):
        chunk = key[i : i + min_run]
        if chunk in windows or chunk == chunk[0] * min_run:
            return True
    return False


def is_run(text: str) -> bool:
    """True when the whole of ``text`` is one obvious run (see ``has_run``)."""
    return len(text) > 1 and has_run(text, len(text))
