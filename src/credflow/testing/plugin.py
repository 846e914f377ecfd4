"""The credflow pytest plugin: fixtures for host apps' tests, loaded by the ``pytest11`` entry
point as soon as credflow and pytest are installed (``pip install credflow[testing]``).

Fixtures (each one fresh for every test):

- ``credflow_settings``: ``make_settings()``, the NIST preset with a test key and
  ``hashing.TESTING``. Override it in your ``conftest.py`` to test with your own settings;
- ``credflow_storage``: an empty ``MemoryStorage``. Override it to run on your adapter;
- ``frozen_clock``: the ``FrozenClock`` of the app (``advance(seconds)``, ``set(when)``);
- ``outbox``: the ``TestOutbox`` of the app (``last_link``, ``last_token``, ``last_code``...);
- ``credflow_app``: a ``Credflow`` wired from the four above, hashing with ``hashing.TESTING``.

This module imports nothing from credflow at import time: pytest loads plugins before coverage
starts, and whatever they import early would show as never run. Every import is in a fixture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from credflow.clock import FrozenClock
    from credflow.facade import Credflow
    from credflow.settings import Settings
    from credflow.storage.protocols import Storage
    from credflow.testing.outbox import TestOutbox

# Before anything imports them: adapter authors get pytest's detailed assertion messages.
pytest.register_assert_rewrite("credflow.testing.contract", "credflow.testing.races")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``req`` marker the published suites carry, for ``--strict-markers``."""
    config.addinivalue_line(
        "markers", "req(*ids): the credflow security requirement IDs a test proves"
    )


@pytest.fixture
def credflow_settings() -> Settings:
    """The settings of ``credflow_app``: NIST preset, test key and base URL, fast hashing."""
    from credflow.testing.app import make_settings

    return make_settings()


@pytest.fixture
def credflow_storage() -> Storage:
    """The storage of ``credflow_app``: an empty ``MemoryStorage``."""
    from credflow.storage.memory import MemoryStorage

    return MemoryStorage()


@pytest.fixture
def frozen_clock() -> FrozenClock:
    """The clock of ``credflow_app``; it moves only with ``advance`` or ``set``."""
    from credflow.clock import FrozenClock

    return FrozenClock()


@pytest.fixture
def outbox() -> TestOutbox:
    """The notifier of ``credflow_app``: every message it sent, with lookups."""
    from credflow.testing.outbox import TestOutbox

    return TestOutbox()


@pytest.fixture
def credflow_app(
    credflow_settings: Settings,
    credflow_storage: Storage,
    frozen_clock: FrozenClock,
    outbox: TestOutbox,
) -> Credflow:
    """A ``Credflow`` on ``credflow_storage``, ``frozen_clock`` and ``outbox``."""
    from credflow.testing.app import make_app

    return make_app(credflow_settings, storage=credflow_storage, clock=frozen_clock, outbox=outbox)
