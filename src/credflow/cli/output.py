"""Small formatting helpers shared by the commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["count_of", "when", "write_json"]


def count_of(number: int, noun: str) -> str:
    """``1 account``, ``2,000 accounts``: the number with thousands separators, then the noun."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def when(moment: datetime | None) -> str:
    """An instant as ISO 8601 in UTC, to the second (``2024-04-19T08:30:00+00:00``), or ``-``."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def write_json(stream: TextIO, value: Any) -> None:
    """``value`` as one line of JSON (JSON Lines), non-ASCII characters kept."""
    stream.write(json.dumps(value, ensure_ascii=False, sort_keys=False) + "\n")
