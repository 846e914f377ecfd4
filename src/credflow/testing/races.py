"""Races for storage adapters: sixteen threads released together; compare-and-set has one winner.

``StorageContract`` checks one caller at a time; ``StorageRaces`` checks what the services rely on
when many requests arrive at once (DB-01, RS-06, LK-12, OT-04, RC-03): a token consumed once, no
lost counter increment, one account per identifier key, one winner per version or flow step, a
TOTP step and a recovery code accepted once, and ``lock_email`` serialising claims of an address.
Subclass it like the contract and supply a factory::

    from credflow.testing import StorageRaces

    class TestMyStorageRaces(StorageRaces):
        def make_storage(self) -> Storage:
            return MyStorage(...)  # a fresh, EMPTY storage, safe to share between threads

        def close_storage(self, storage: Storage) -> None:  # optional
            storage.close()

Each race runs ``rounds`` times (3), so a lost update is likely to show. ``race`` and ``WORKERS``
are public for races of your own. Needs pytest (``pip install credflow[testing]``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import ClassVar, TypeVar

import pytest

from credflow.errors import ConcurrentUpdate, DuplicateIdentifier
from credflow.storage.protocols import Storage
from credflow.storage.records import (
    Account,
    ConsumeOutcome,
    FlowRecord,
    Membership,
    MembershipStatus,
    email_key,
    identifier_key,
)
from credflow.testing.contract import (
    T0,
    make_account,
    make_code,
    make_factor,
    make_flow,
    make_membership,
    make_token,
    phc,
)

__all__ = ["WORKERS", "StorageRaces", "claim_email", "race"]

#: How many threads every race releases at once.
WORKERS = 16
R = TypeVar("R")


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


def _case_variants(word: str, count: int) -> list[str]:
    """``count`` distinct spellings of ``word`` that differ only in letter case."""
    variants = [
        "".join(c.upper() if n >> i & 1 else c for i, c in enumerate(word)) for n in range(count)
    ]
    assert len(set(variants)) == count
    return variants


def claim_email(storage: Storage, account_id: str, address: str, *, lock: bool) -> bool:
    """Give the account ``address`` if no account has it yet; True when this caller took it.

    The pause between the check and the write lets every racer check before anyone writes, so
    without the lock the race is lost for certain, not by chance.
    """
    key = email_key(address)
    with storage.transaction():
        if lock:
            storage.lock_email(key)
        if storage.find_accounts_by_email(key):
            return False
        time.sleep(0.05)
        account = storage.get_account(account_id)
        assert account is not None
        storage.update_account(account.model_copy(update={"email": address, "email_key": key}))
        return True


class StorageRaces:
    """The races every ``Storage`` adapter must win. Subclass it and define make_storage."""

    #: How many times each race runs, on fresh records.
    rounds: ClassVar[int] = 3

    tmp_path: Path

    def make_storage(self) -> Storage:
        """Return a fresh, empty storage that threads may share. Subclasses must override it."""
        raise NotImplementedError("define make_storage() in the StorageRaces subclass")

    def close_storage(self, storage: Storage) -> None:
        """Release what make_storage acquired (connections, files). Optional."""

    @pytest.fixture
    def storage(self, tmp_path: Path) -> Iterator[Storage]:
        self.tmp_path = tmp_path
        storage = self.make_storage()
        try:
            yield storage
        finally:
            self.close_storage(storage)

    @pytest.mark.req("DB-01", "RS-06")
    def test_one_token_sixteen_redeemers_exactly_one_consumes(self, storage: Storage) -> None:
        now = T0 + timedelta(minutes=1)
        for round_ in range(self.rounds):
            token = make_token(f"race-{round_}")
            storage.save_token(token)

            def redeem(_: int, nonce_hash: str = token.nonce_hash) -> ConsumeOutcome:
                return storage.consume_token(nonce_hash, "reset", now)[0]

            results = race(redeem)

            assert [r for r in results if isinstance(r, Exception)] == []
            assert Counter(results) == {ConsumeOutcome.CONSUMED: 1, ConsumeOutcome.USED: 15}
            stored = storage.get_token(token.nonce_hash)
            assert stored is not None
            assert stored.used_at == now

    @pytest.mark.req("LK-12")
    def test_parallel_increments_lose_no_update(self, storage: Storage) -> None:
        per_worker = 10
        for round_ in range(self.rounds):
            key = f"login:acc-{round_}"

            def increment(_: int, key: str = key) -> list[int]:
                return [storage.increment_counter(key, T0) for _ in range(per_worker)]

            results = race(increment)

            lists = [r for r in results if not isinstance(r, Exception)]
            assert len(lists) == WORKERS, [r for r in results if isinstance(r, Exception)]
            returned = [value for values in lists for value in values]
            assert sorted(returned) == list(range(1, WORKERS * per_worker + 1))
            assert storage.get_counter(key) == WORKERS * per_worker
            for values in lists:  # each worker saw its own increments in increasing order
                assert values == sorted(values)

    @pytest.mark.req("DB-01")
    def test_same_identifier_in_different_cases_one_account(self, storage: Storage) -> None:
        for round_ in range(self.rounds):
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
            by_email = storage.find_accounts_by_email(f"{word}@example.com")
            assert [a.id for a in by_email] == [stored.id]

    @pytest.mark.req("DB-01")
    def test_one_flow_step_sixteen_racers_one_advances(self, storage: Storage) -> None:
        for round_ in range(self.rounds):
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
    def test_one_account_version_sixteen_writers_one_updates(self, storage: Storage) -> None:
        for round_ in range(self.rounds):
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

    @pytest.mark.req("OT-04", "DB-01")
    def test_one_totp_step_sixteen_submitters_one_accepted(self, storage: Storage) -> None:
        for round_ in range(self.rounds):
            account_id = f"acc-{round_}"
            storage.save_mfa_factor(make_factor(account_id, last_step=1000 + round_))
            step = 1001 + round_

            def submit(_: int, account_id: str = account_id, step: int = step) -> bool:
                return storage.use_totp_step(account_id, step)

            results = race(submit)

            assert [r for r in results if isinstance(r, Exception)] == []
            assert Counter(results) == {True: 1, False: WORKERS - 1}
            assert storage.mfa_factors(account_id)[0].last_step == step

    @pytest.mark.req("RC-03", "DB-01")
    def test_one_recovery_code_sixteen_users_one_accepted(self, storage: Storage) -> None:
        # As the service does: find the candidates by selector, then use the one whose hash
        # verified. Racers that found it unused may still lose: exactly one marks it used.
        now = T0 + timedelta(minutes=1)
        for round_ in range(self.rounds):
            account_id = f"acc-{round_}"
            codes = [make_code(f"{account_id}-{n}", account_id, f"S{n % 5}") for n in range(10)]
            storage.replace_recovery_codes(account_id, codes)
            wanted = phc(f"{account_id}-3")

            def use(_: int, account_id: str = account_id, wanted: str = wanted) -> bool:
                storage.recovery_codes(account_id, "S3")  # what the service reads first
                return storage.use_recovery_code(account_id, wanted, now)

            results = race(use)

            assert [r for r in results if isinstance(r, Exception)] == []
            assert Counter(results) == {True: 1, False: WORKERS - 1}
            assert storage.recovery_codes_left(account_id) == 9
            assert [c.code_hash for c in storage.recovery_codes(account_id, "S3")] == [
                phc(f"{account_id}-8")
            ]
            assert storage.use_recovery_code(account_id, wanted, now) is False

    @pytest.mark.req("RC-03", "DB-01")
    def test_sixteen_users_of_sixteen_codes_all_accepted(self, storage: Storage) -> None:
        # Conditional updates of different rows do not block each other into failure.
        now = T0 + timedelta(minutes=1)
        for round_ in range(self.rounds):
            account_id = f"acc-{round_}"
            codes = [make_code(f"{account_id}-{n}", account_id) for n in range(WORKERS)]
            storage.replace_recovery_codes(account_id, codes)

            def use(n: int, account_id: str = account_id) -> bool:
                return storage.use_recovery_code(account_id, phc(f"{account_id}-{n}"), now)

            results = race(use)

            assert results == [True] * WORKERS
            assert storage.recovery_codes_left(account_id) == 0

    @pytest.mark.req("DB-01")
    def test_one_membership_version_sixteen_writers_one_updates(self, storage: Storage) -> None:
        for round_ in range(self.rounds):
            membership = make_membership(f"acc-{round_}", "org-1")
            storage.create_membership(membership)

            def write(n: int, membership: Membership = membership) -> Membership:
                changed = membership.model_copy(
                    update={"roles": (f"role-{n}",), "status": MembershipStatus.ACTIVE}
                )
                return storage.update_membership(changed)

            results = race(write)

            won = _one_winner(results, ConcurrentUpdate)
            stored = storage.get_membership(membership.account_id, "org-1")
            assert stored == won
            assert stored is not None
            assert stored.version == 2

    @pytest.mark.req("DB-01")
    def test_one_email_sixteen_claimants_one_takes_it(self, storage: Storage) -> None:
        # lock_email makes "is this address free?" and the write that takes it one step: on
        # PostgreSQL by an advisory lock; memory and SQLite transactions are already serial.
        for round_ in range(self.rounds):
            prefix = f"r{round_}"
            for n in range(WORKERS):
                storage.create_account(make_account(f"{prefix}-{n:02}", f"{prefix}-user{n}", None))
            address = f"Shared{round_}@Example.com"

            def claim(n: int, prefix: str = prefix, address: str = address) -> bool:
                return claim_email(storage, f"{prefix}-{n:02}", address, lock=True)

            results = race(claim)

            assert [r for r in results if isinstance(r, Exception)] == []
            assert Counter(results) == {True: 1, False: WORKERS - 1}
            owners = storage.find_accounts_by_email(email_key(address))
            assert len(owners) == 1
            assert owners[0].id == f"{prefix}-{results.index(True):02}"
