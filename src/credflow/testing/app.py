"""Builders behind the plugin's fixtures, for tests that want a ``Credflow`` without them.

``make_settings`` fills what a test never cares about (a fixed signing key, a base URL, the
``hashing.TESTING`` profile); ``make_app`` wires a ``Credflow`` on memory storage, a
``FrozenClock`` and a ``TestOutbox``, hashing with ``hashing.TESTING`` whatever the settings say,
so a test stays fast even when a host app passes its production settings.
"""

from __future__ import annotations

from typing import Any, Literal

from credflow import hashing
from credflow.clock import FrozenClock
from credflow.errors import ConfigurationError
from credflow.facade import Credflow
from credflow.settings import Settings
from credflow.storage.memory import MemoryStorage
from credflow.storage.protocols import Storage
from credflow.testing.outbox import TestOutbox

__all__ = ["TEST_BASE_URL", "TEST_SECRET_KEY", "make_app", "make_settings"]

TEST_SECRET_KEY = "credflow-testing-key-not-secret!"
"""The signing key of test settings: 32 bytes, public, never for a real deployment."""

TEST_BASE_URL = "https://portal.example.test"
"""The base URL of test settings (``.test`` is reserved: no real site has it)."""


def make_settings(preset: Literal["nist", "classic"] = "nist", **overrides: Any) -> Settings:
    """Settings from ``Settings.nist`` (the default) or ``Settings.classic``, with the test key,
    ``TEST_BASE_URL`` and ``hashing.TESTING``; ``overrides`` replace any field.

    The NIST preset departs from no standard, so it raises no ``StandardsDeviationWarning``
    (a suite that turns warnings into errors keeps working); ``classic`` warns, as it should.
    """
    values: dict[str, Any] = {
        "secret_key": TEST_SECRET_KEY,
        "base_url": TEST_BASE_URL,
        "hashing": hashing.TESTING,
    }
    values.update(overrides)
    if preset == "classic":
        return Settings.classic(**values)
    if preset == "nist":
        return Settings.nist(**values)
    raise ConfigurationError("must be 'nist' or 'classic'", field="preset")


def make_app(
    settings: Settings | None = None,
    *,
    storage: Storage | None = None,
    clock: FrozenClock | None = None,
    outbox: TestOutbox | None = None,
) -> Credflow:
    """A ``Credflow`` for a test: each part given, or a fresh default (``make_settings()``,
    ``MemoryStorage``, ``FrozenClock``, ``TestOutbox``). Passwords hash with ``TESTING``."""
    chosen = settings if settings is not None else make_settings()
    return Credflow(
        storage=storage if storage is not None else MemoryStorage(),
        settings=chosen,
        notifier=outbox if outbox is not None else TestOutbox(),
        clock=clock if clock is not None else FrozenClock(),
        hasher=hashing.Hasher(
            hashing.TESTING, max_concurrent=chosen.hash_concurrency, peppers=chosen.peppers
        ),
    )
