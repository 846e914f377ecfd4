"""Breached-password checks in the k-anonymity range format (Have I Been Pwned).

Only the first five hex digits of the password's SHA-1 ever leave the process: a *range source*
maps that prefix to the text of the range (``SUFFIX:COUNT`` lines), and the checker looks the
remaining 35 digits up locally. Sources are plain callables, so a host app can plug in its own
HTTP client, cache or mirror; two are built in: ``http_range_source`` and ``offline_range_source``.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from credflow.errors import BreachCheckUnavailable

__all__ = [
    "PWNED_RANGE_URL",
    "BreachChecker",
    "RangeBreachChecker",
    "RangeSource",
    "http_range_source",
    "offline_range_source",
]

PWNED_RANGE_URL = "https://api.pwnedpasswords.com/range/{prefix}"

RangeSource = Callable[[str], str]
"""Maps a 5-hex-digit SHA-1 prefix (upper case) to the range text. Raises on failure."""


@runtime_checkable
class BreachChecker(Protocol):
    """Tells how many times a password appears in known breaches.

    Raise ``BreachCheckUnavailable`` when the answer cannot be had.
    """

    def breach_count(self, password: str) -> int:
        """The number of times ``password`` was seen in breaches (0 when never)."""
        ...


class RangeBreachChecker:
    """A ``BreachChecker`` over a k-anonymity range source."""

    __slots__ = ("_source",)

    def __init__(self, source: RangeSource) -> None:
        self._source = source

    def __repr__(self) -> str:
        return f"RangeBreachChecker({self._source!r})"

    def breach_count(self, password: str) -> int:
        # surrogatepass: a str may hold a lone surrogate (from JSON); it must not raise here.
        raw = password.encode("utf-8", "surrogatepass")
        digest = hashlib.sha1(raw, usedforsecurity=False).hexdigest().upper()
        prefix, suffix = digest[:5], digest[5:]
        try:
            text = self._source(prefix)
        except BreachCheckUnavailable:
            raise
        except Exception as exc:
            raise BreachCheckUnavailable(f"range source failed: {type(exc).__name__}") from exc
        for line in text.splitlines():
            found, _, count = line.strip().partition(":")
            if found.upper() == suffix:
                try:
                    return int(count)
                except ValueError:
                    raise BreachCheckUnavailable("malformed range line") from None
        return 0


def http_range_source(url_template: str = PWNED_RANGE_URL, *, timeout: float = 2.0) -> RangeSource:
    """A range source that fetches ``url_template.format(prefix=...)`` over HTTP(S).

    It sends ``Add-Padding: true`` so response sizes do not hint at the prefix.
    """
    if not url_template.startswith(("https://", "http://")):
        raise ValueError("url_template must be an http(s) URL")
    try:
        sample = url_template.format(prefix="ABCDE")
    except (KeyError, IndexError, ValueError):
        raise ValueError("url_template may hold no placeholder but {prefix}") from None
    if "ABCDE" not in sample or url_template.count("{prefix}") != 1:
        raise ValueError("url_template must hold {prefix} exactly once")

    def fetch(prefix: str) -> str:
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url_template.format(prefix=prefix),
            headers={"Add-Padding": "true", "User-Agent": "credflow"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                body: bytes = response.read()
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise BreachCheckUnavailable(f"range request failed: {type(exc).__name__}") from exc
        return body.decode("utf-8", errors="replace")

    return fetch


def offline_range_source(directory: str | Path) -> RangeSource:
    """A range source reading ``<directory>/<PREFIX>.txt`` files (a downloaded range dump).

    A missing file means the dump is incomplete: the check is unavailable, not negative.
    """
    root = Path(directory)

    def read(prefix: str) -> str:
        path = root / f"{prefix}.txt"
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BreachCheckUnavailable(f"no offline range file for prefix {prefix}") from exc

    return read
