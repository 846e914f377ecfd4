"""Builders shared by the service tests: a Credflow on memory storage with the testing hasher."""

from __future__ import annotations

from typing import Any

from credflow import hashing
from credflow.clock import FrozenClock
from credflow.facade import Credflow
from credflow.notify import Outbox
from credflow.settings import Settings
from credflow.storage.memory import MemoryStorage
from credflow.storage.protocols import Storage

KEY = "k" * 32
OLD_KEY = "o" * 32
BASE_URL = "https://portal.example.fr"


def classic_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"hashing": hashing.TESTING, "secret_key": KEY, "base_url": BASE_URL}
    values.update(overrides)
    return Settings.classic(**values)


def make_cf(storage: Storage | None = None, **overrides: Any) -> Credflow:
    return Credflow(
        storage=storage if storage is not None else MemoryStorage(),
        settings=classic_settings(**overrides),
        notifier=Outbox(),
        clock=FrozenClock(),
    )


def outbox(cf: Credflow) -> Outbox:
    assert isinstance(cf.notifier, Outbox)
    return cf.notifier


def clock(cf: Credflow) -> FrozenClock:
    assert isinstance(cf.clock, FrozenClock)
    return cf.clock
