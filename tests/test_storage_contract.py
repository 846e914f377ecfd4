"""The published storage contract (credflow.testing.StorageContract) against every adapter
credflow ships (DB-03), imported as an adapter author would.

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
    Membership,
    MfaKind,
    PasswordCredential,
    RecoveryCode,
    TokenRecord,
)
from credflow.storage.sql import SQLStorage
from credflow.testing import StorageContract
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


class _AcceptsTheSameTotpStep(MemoryStorage):
    def use_totp_step(self, account_id: str, step: int) -> bool:
        return super().use_totp_step(account_id, step) or any(
            f.kind is MfaKind.TOTP and f.last_step == step for f in self.mfa_factors(account_id)
        )


class _RecoveryCodesNeverWearOut(MemoryStorage):
    def use_recovery_code(self, account_id: str, code_hash: str, now: datetime) -> bool:
        super().use_recovery_code(account_id, code_hash, now)
        return any(c.code_hash == code_hash for c in self._recovery_codes.get(account_id, ()))


class _AppendsRecoveryCodes(MemoryStorage):
    def replace_recovery_codes(self, account_id: str, codes: list[RecoveryCode]) -> None:
        kept = list(self._recovery_codes.get(account_id, ()))
        super().replace_recovery_codes(account_id, kept + codes)


class _CandidatesIgnoreTheSelector(MemoryStorage):
    def recovery_codes(self, account_id: str, selector: str) -> list[RecoveryCode]:
        return [c for c in self._recovery_codes.get(account_id, ()) if c.used_at is None]


class _CandidatesIncludeUsedCodes(MemoryStorage):
    def recovery_codes(self, account_id: str, selector: str) -> list[RecoveryCode]:
        return [c for c in self._recovery_codes.get(account_id, ()) if c.selector == selector]


class _CandidatesFoldCase(MemoryStorage):
    def recovery_codes(self, account_id: str, selector: str) -> list[RecoveryCode]:
        return [
            c
            for c in self._recovery_codes.get(account_id, ())
            if c.selector.casefold() == selector.casefold() and c.used_at is None
        ]


class _UsesACodeByItsPrefix(MemoryStorage):
    def use_recovery_code(self, account_id: str, code_hash: str, now: datetime) -> bool:
        for code in self._recovery_codes.get(account_id, ()):
            if code.used_at is None and code_hash and code.code_hash.startswith(code_hash):
                return super().use_recovery_code(account_id, code.code_hash, now)
        return False


class _NoMembershipVersionCheck(MemoryStorage):
    def update_membership(self, membership: Membership) -> Membership:
        current = self.get_membership(membership.account_id, membership.organisation_id)
        if current is not None:
            membership = membership.model_copy(update={"version": current.version})
        return super().update_membership(membership)


class _IgnoresMembersAfter(MemoryStorage):
    def members_of(
        self, organisation_id: str, *, after: str | None = None, limit: int = 100
    ) -> list[Membership]:
        return super().members_of(organisation_id, limit=limit)


class _KeepsFactorsOfDeletedAccounts(MemoryStorage):
    def delete_account(self, account_id: str) -> bool:
        kept = dict(self._factors)
        deleted = super().delete_account(account_id)
        self._factors.update(kept)
        return deleted


class _KeepsOneOrganisationWithoutANumber(MemoryStorage):
    def create_organisation(self, organisation: Any) -> None:
        if organisation.registration_number is None and any(
            o.registration_number is None for o in self._organisations.values()
        ):
            return  # as an upsert on a NULL number would
        super().create_organisation(organisation)


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
        (_AcceptsTheSameTotpStep, "test_use_totp_step_accepts_only_strictly_newer_steps"),
        (_RecoveryCodesNeverWearOut, "test_use_recovery_code_works_once"),
        (_AppendsRecoveryCodes, "test_replace_recovery_codes_replaces_the_whole_set"),
        (_CandidatesIgnoreTheSelector, "test_recovery_codes_finds_the_unused_codes_of_a_selector"),
        (_CandidatesIncludeUsedCodes, "test_recovery_codes_finds_the_unused_codes_of_a_selector"),
        (
            _CandidatesIncludeUsedCodes,
            "test_a_used_code_keeps_its_selector_and_stays_out_of_the_candidates",
        ),
        (_CandidatesFoldCase, "test_recovery_codes_finds_the_unused_codes_of_a_selector"),
        (_UsesACodeByItsPrefix, "test_use_recovery_code_compares_the_stored_hash_exactly"),
        (_UsesACodeByItsPrefix, "test_recovery_codes_round_trip_at_their_maximum_lengths"),
        (_NoMembershipVersionCheck, "test_update_membership_with_a_stale_version_raises"),
        (_IgnoresMembersAfter, "test_members_of_orders_by_account_id_and_paginates"),
        (
            _KeepsFactorsOfDeletedAccounts,
            "test_delete_account_removes_memberships_factors_and_recovery_codes",
        ),
        (
            _KeepsOneOrganisationWithoutANumber,
            "test_organisations_without_a_number_are_not_duplicates",
        ),
        (_NoRollback, "test_transaction_rolls_back_writes_to_organisations_factors_and_codes"),
    ],
)
def test_the_contract_catches_a_broken_adapter(broken: type[Storage], test_name: str) -> None:
    contract = TestMemoryStorage()
    test = getattr(contract, test_name)
    test(MemoryStorage())  # the reference passes
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        test(broken())
