"""Argument types for argparse: a bad value is a usage error (exit code 2) naming the problem."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

__all__ = ["count", "instant", "since"]

_DURATION = re.compile(r"^(\d{1,6})([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def count(text: str) -> int:
    """A whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def instant(text: str) -> datetime:
    """An ISO 8601 date or date and time (``2024-04-19``, ``2024-04-19T08:30:00+02:00``); one
    without a time zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date or date and time: {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def since(text: str) -> datetime:
    """An instant (see ``instant``) or a duration back from now: ``30m``, ``24h``, ``7d``,
    ``2w`` (seconds, minutes, hours, days, weeks)."""
    match = _DURATION.match(text.strip())
    if match is None:
        try:
            return instant(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"not a duration (24h, 7d) nor an ISO 8601 date: {text!r}"
            ) from None
    amount, unit = match.groups()
    try:
        return datetime.now(UTC) - timedelta(**{_UNITS[unit]: int(amount)})
    except OverflowError:
        raise argparse.ArgumentTypeError(f"too far back: {text!r}") from None
