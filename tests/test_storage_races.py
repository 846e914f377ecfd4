"""Races: sixteen threads released together by a barrier; compare-and-set has exactly one winner.

Run on the memory adapter, SQLite (file, so every thread has its own connection) and PostgreSQL
(READ COMMITTED, its default). Each race is repeated a few rounds, so a lost update is likely to
show (DB-01, RS-06, LK-12).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import pytest

from credflow.errors import ConcurrentUpdate, DuplicateIdentifier
from credflow.storage.protocols import Storage
from credflow.storage.records import Account, ConsumeOutcome, FlowRecord, identifier_key
from storage_contract import T0, make_account, make_flow, make_token
from storage_fixtures import ADAPTERS, open_storage, scratch_directory

WORKERS = 16
ROUNDS = 3
R = TypeVar("R")


@pytest.fixture(params=ADAPTERS)
def storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    with scratch_directory() as directory, open_storage(request.param, directory) as storage:
        yield storage


def race(work: Callable[[int], R]) -> list[R | Exception]:
    """Run ``work(0..15)`` on sixteen threads released at once; exceptions come back as values."""
    barrier = threading.Barrier(WORKERS)

    def run(worker: int) -> R | Exception:
        barrier.wait(timeout=30)
        try:
            return work(worker)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(run, range(WORKERS)))


def _one_winner(results: list[R | Exception], loser: type[Exception]) -> R:
    """Exactly one result is a value; every other one is a ``loser`` exception."""
    wins = [r for r in results if not isinstance(r, Exception)]
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, loser)]
    assert unexpected == []
    assert len(wins) == 1, f"{len(wins)} winners of {WORKERS}"
    return wins[0]


@pytest.mark.req("DB-01", "RS-06")
def test_one_token_sixteen_redeemers_exactly_one_consumes(storage: Storage) -> None:
    now = T0 + timedelta(minutes=1)
    for round_ in range(ROUNDS):
        token = make_token(f"race-{round_}")
        storage.save_token(token)

        def redeem(_: int, nonce_hash: str = token.nonce_hash) -> ConsumeOutcome:
            return storage.consume_token(nonce_hash, "reset", now)[0]

        results = race(redeem)

        assert [r for r in results if isinstance(r, Exception)] == []
        assert Counter(results) == {ConsumeOutcome.CONSUMED: 1, ConsumeOutcome.USED: 15}
        assert storage.get_token(token.nonce_hash).used_at == now  # type: ignore[union-attr]


@pytest.mark.req("LK-12")
def test_parallel_increments_lose_no_update(storage: Storage) -> None:
    per_worker = 10
    for round_ in range(ROUNDS):
        key = f"login:acc-{round_}"

        def increment(_: int, key: str = key) -> list[int]:
            return [storage.increment_counter(key, T0) for _ in range(per_worker)]

        results = race(increment)

        assert [r for r in results if isinstance(r, Exception)] == []
        returned = [value for values in results for value in values]  # type: ignore[union-attr]
        assert sorted(returned) == list(range(1, WORKERS * per_worker + 1))
        assert storage.get_counter(key) == WORKERS * per_worker
        for values in results:  # each worker saw its own increments in increasing order
            assert values == sorted(values)  # type: ignore[type-var]


def _case_variants(word: str, count: int) -> list[str]:
    """``count`` distinct spellings of ``word`` that differ only in letter case."""
    variants = [
        "".join(c.upper() if n >> i & 1 else c for i, c in enumerate(word)) for n in range(count)
    ]
    assert len(set(variants)) == count
    return variants


@pytest.mark.req("DB-01")
def test_same_identifier_in_different_cases_one_account(storage: Storage) -> None:
    for round_ in range(ROUNDS):
        word = f"racer{round_}x"
        variants = _case_variants(word, WORKERS)
        assert {identifier_key(v) for v in variants} == {word}

        def sign_up(n: int, prefix: str = f"r{round_}", variants: list[str] = variants) -> None:
            email = f"{variants[n]}@example.com"
            storage.create_account(make_account(f"{prefix}-{n:02}", variants[n], email))

        results = race(sign_up)

        _one_winner(results, DuplicateIdentifier)
        stored = storage.find_account(word)
        assert stored is not None
        winner = int(stored.id.rsplit("-", 1)[1])
        assert stored.identifier == variants[winner]
        ids = [a.id for a in storage.list_accounts() if a.id.startswith(f"r{round_}-")]
        assert ids == [stored.id]
        assert [a.id for a in storage.find_accounts_by_email(f"{word}@example.com")] == [stored.id]


@pytest.mark.req("DB-01")
def test_one_flow_step_sixteen_racers_one_advances(storage: Storage) -> None:
    for round_ in range(ROUNDS):
        flow = make_flow(f"race-{round_}")
        storage.save_flow(flow)

        def step(n: int, flow: FlowRecord = flow) -> FlowRecord:
            changed = flow.model_copy(update={"state": f"step-{n}", "data": {"winner": n}})
            return storage.advance_flow(changed, expected_state="start")

        results = race(step)

        won = _one_winner(results, ConcurrentUpdate)
        stored = storage.get_flow(flow.handle_hash)
        assert stored == won
        assert stored is not None
        assert stored.version == 2
        assert stored.state == f"step-{stored.data['winner']}"


@pytest.mark.req("DB-01")
def test_one_account_version_sixteen_writers_one_updates(storage: Storage) -> None:
    for round_ in range(ROUNDS):
        account = make_account(f"acc-{round_}", f"user{round_}", None)
        storage.create_account(account)

        def write(n: int, account: Account = account) -> Account:
            return storage.update_account(account.model_copy(update={"lockouts": n}))

        results = race(write)

        won = _one_winner(results, ConcurrentUpdate)
        stored = storage.get_account(account.id)
        assert stored == won
        assert stored is not None
        assert stored.version == 2
