"""The bundled list of common passwords, loaded once on first use.

See ``data/PROVENANCE.md`` for where the list comes from and its licence.
"""

from __future__ import annotations

import gzip
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["common_passwords", "load_password_list"]


def load_password_list(path: str | Path) -> frozenset[str]:
    """Read a password list (one per line, optionally gzip-compressed) as case-folded keys."""
    raw = Path(path).read_bytes()
    return _parse(raw)


def _parse(raw: bytes) -> frozenset[str]:
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    lines = raw.decode("utf-8").splitlines()
    return frozenset(line.strip().casefold() for line in lines if line.strip())


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords, case-folded."""
    data = resources.files("credflow.policy").joinpath("data/common-passwords.txt.gz")
    return _parse(data.read_bytes())
