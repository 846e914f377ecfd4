"""StorageRaces (credflow.testing) has teeth: adapters that check, then act, lose its races.

Each broken adapter reads, pauses (so that every racer reads before anyone writes), then trusts
what it read: the lost update a conditional ``UPDATE ... WHERE`` or a lock prevents.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import ClassVar

import pytest

from credflow.storage.memory import MemoryStorage
from credflow.storage.protocols import Storage
from credflow.storage.records import ConsumeOutcome, MfaKind, TokenRecord
from credflow.testing import StorageRaces
from credflow.testing.contract import make_account
from credflow.testing.races import WORKERS, claim_email, race

PAUSE = 0.02


class _ConsumesWhatItSawUnused(MemoryStorage):
    def consume_token(
        self, nonce_hash: str, purpose: str, now: datetime
    ) -> tuple[ConsumeOutcome, TokenRecord | None]:
        token = self.get_token(nonce_hash)
        seen_unused = token is not None and token.used_at is None
        time.sleep(PAUSE)
        outcome, record = super().consume_token(nonce_hash, purpose, now)
        if seen_unused and outcome is ConsumeOutcome.USED:
            return ConsumeOutcome.CONSUMED, record
        return outcome, record


class _IncrementsWhatItRead(MemoryStorage):
    def increment_counter(self, key: str, now: datetime) -> int:
        value = self.get_counter(key) + 1
        time.sleep(PAUSE / 10)
        self.reset_counter(key)
        for _ in range(value):
            super().increment_counter(key, now)
        return value


class _AcceptsAStepItSawNew(MemoryStorage):
    def use_totp_step(self, account_id: str, step: int) -> bool:
        factors = [f for f in self.mfa_factors(account_id) if f.kind is MfaKind.TOTP]
        seen_new = bool(factors) and step > (factors[0].last_step or 0)
        time.sleep(PAUSE)
        return super().use_totp_step(account_id, step) or seen_new


class _OneRound(StorageRaces):
    rounds: ClassVar[int] = 1

    def __init__(self, storage: Storage) -> None:
        self._made = storage

    def make_storage(self) -> Storage:
        return self._made


@pytest.mark.req("DB-01")
@pytest.mark.parametrize(
    ("broken", "test_name"),
    [
        (_ConsumesWhatItSawUnused, "test_one_token_sixteen_redeemers_exactly_one_consumes"),
        (_IncrementsWhatItRead, "test_parallel_increments_lose_no_update"),
        (_AcceptsAStepItSawNew, "test_one_totp_step_sixteen_submitters_one_accepted"),
    ],
)
def test_the_races_catch_a_check_then_act_adapter(
    broken: type[MemoryStorage], test_name: str
) -> None:
    getattr(_OneRound(MemoryStorage()), test_name)(MemoryStorage())  # the reference passes
    with pytest.raises(AssertionError):
        getattr(_OneRound(broken()), test_name)(broken())


def test_make_storage_must_be_defined() -> None:
    with pytest.raises(NotImplementedError, match="make_storage"):
        StorageRaces().make_storage()


def test_race_releases_sixteen_workers_and_returns_exceptions_as_values() -> None:
    def work(worker: int) -> int:
        if worker == 3:
            raise ValueError("worker 3")
        return worker * 2

    results = race(work)
    assert len(results) == WORKERS
    assert isinstance(results[3], ValueError)
    assert [r for i, r in enumerate(results) if i != 3] == [i * 2 for i in range(WORKERS) if i != 3]


def test_claim_email_gives_a_free_address_once() -> None:
    storage = MemoryStorage()
    for n in (1, 2):
        storage.create_account(make_account(f"acc-{n}", f"user{n}", None))
    assert claim_email(storage, "acc-1", "Shared@Example.com", lock=False) is True
    assert claim_email(storage, "acc-2", "shared@example.com", lock=True) is False
    assert [a.id for a in storage.find_accounts_by_email("shared@example.com")] == ["acc-1"]
