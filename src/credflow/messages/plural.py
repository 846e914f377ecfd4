"""Plural-aware message templates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Plural"]


@dataclass(frozen=True, slots=True)
class Plural:
    """A template with a singular and a plural form, chosen by the integer parameter ``by``.

    French uses the singular for 0 and 1, English only for 1 (CLDR plural rules).
    """

    by: str
    one: str
    other: str

    def select(self, locale: str, params: Mapping[str, object]) -> str:
        """Return the form that suits ``params[self.by]`` in ``locale``."""
        value = params.get(self.by)
        n = value if isinstance(value, int) else 2
        singular = n in (0, 1) if locale.startswith("fr") else n == 1
        return self.one if singular else self.other
