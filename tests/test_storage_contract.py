"""The storage contract (tests/storage_contract.py) against every adapter credflow ships (DB-03).

The last test checks the contract itself: it must fail on adapters with typical bugs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest

from credflow.storage.memory import MemoryStorage
from credflow.storage.protocols import Storage
from credflow.storage.records import (
    AuditEvent,
    ConsumeOutcome,
    PasswordCredential,
    TokenRecord,
)
from credflow.storage.sql import SQLStorage
from storage_contract import StorageContract
from storage_fixtures import empty_postgres_storage, sqlite_file_url


class TestMemoryStorage(StorageContract):
    def make_storage(self) -> Storage:
        return MemoryStorage()


class TestSQLiteMemoryStorage(StorageContract):
    def make_storage(self) -> Storage:
        return SQLStorage("sqlite://", create=True)

    def close_storage(self, storage: Storage) -> None:
        assert isinstance(storage, SQLStorage)
        storage.dispose()


class TestSQLiteFileStorage(StorageContract):
    def make_storage(self) -> Storage:
        return SQLStorage(sqlite_file_url(self.tmp_path), create=True)

    def close_storage(self, storage: Storage) -> None:
        assert isinstance(storage, SQLStorage)
        storage.dispose()


class TestPostgreSQLStorage(StorageContract):
    def make_storage(self) -> Storage:
        return empty_postgres_storage()

    def close_storage(self, storage: Storage) -> None:
        assert isinstance(storage, SQLStorage)
        storage.dispose()


# -- the contract has teeth: each broken adapter fails the named contract test ------------------


class _ExpiresOneTickEarly(MemoryStorage):
    def consume_token(
        self, nonce_hash: str, purpose: str, now: datetime
    ) -> tuple[ConsumeOutcome, TokenRecord | None]:
        token = self.get_token(nonce_hash)
        if token is not None and token.used_at is None and now >= token.expires_at:
            return ConsumeOutcome.EXPIRED, token
        return super().consume_token(nonce_hash, purpose, now)


class _IgnoresPurpose(MemoryStorage):
    def consume_token(
        self, nonce_hash: str, purpose: str, now: datetime
    ) -> tuple[ConsumeOutcome, TokenRecord | None]:
        token = self.get_token(nonce_hash)
        return super().consume_token(nonce_hash, purpose if token is None else token.purpose, now)


class _KeepsAllHistory(MemoryStorage):
    def set_password(self, credential: PasswordCredential, *, keep_history: int = 0) -> None:
        super().set_password(credential, keep_history=1000 if keep_history else 0)


class _NoVersionCheck(MemoryStorage):
    def update_account(self, account: Any) -> Any:
        current = self.get_account(account.id)
        if current is not None:
            account = account.model_copy(update={"version": current.version})
        return super().update_account(account)


class _NoRollback(MemoryStorage):
    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield


class _IgnoresAfter(MemoryStorage):
    def list_accounts(self, *, after: str | None = None, limit: int = 100) -> list[Any]:
        return super().list_accounts(limit=limit)


class _KeepsTokensOfDeletedAccounts(MemoryStorage):
    def delete_account(self, account_id: str) -> bool:
        kept = {k: t for k, t in self._tokens.items() if t.account_id == account_id}
        deleted = super().delete_account(account_id)
        self._tokens.update(kept)
        return deleted


class _NewestEventsFirst(MemoryStorage):
    def events(self, **kwargs: Any) -> list[AuditEvent]:
        return list(reversed(super().events(**kwargs)))


class _VoidCountsUsedTokens(MemoryStorage):
    def void_tokens(self, account_id: str, purpose: str | None, now: datetime) -> int:
        return super().void_tokens(account_id, purpose, now) + 1


@pytest.mark.parametrize(
    ("broken", "test_name"),
    [
        (_ExpiresOneTickEarly, "test_consume_at_exactly_the_expiry_succeeds"),
        (_IgnoresPurpose, "test_consume_with_the_wrong_purpose_is_unknown"),
        (_KeepsAllHistory, "test_keep_history_keeps_the_newest_entries_newest_first"),
        (_NoVersionCheck, "test_update_with_a_stale_version_raises_concurrent_update"),
        (_NoRollback, "test_transaction_rolls_back_every_write_on_error"),
        (_NoRollback, "test_nested_transaction_joins_the_outer_one"),
        (_IgnoresAfter, "test_list_accounts_paginates_with_after_and_limit"),
        (
            _KeepsTokensOfDeletedAccounts,
            "test_delete_account_removes_everything_attached_but_events",
        ),
        (_NewestEventsFirst, "test_events_come_back_oldest_first_with_their_details"),
        (_VoidCountsUsedTokens, "test_void_tokens_for_one_purpose"),
    ],
)
def test_the_contract_catches_a_broken_adapter(broken: type[Storage], test_name: str) -> None:
    contract = TestMemoryStorage()
    test = getattr(contract, test_name)
    test(MemoryStorage())  # the reference passes
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        test(broken())
