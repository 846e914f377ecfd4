"""The package imports and exposes a sorted, complete ``__all__``."""

from __future__ import annotations

import credflow


def test_public_names_are_sorted_and_importable() -> None:
    names = credflow.__all__
    assert list(names) == sorted(names)
    for name in names:
        assert hasattr(credflow, name), name
