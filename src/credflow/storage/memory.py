"""``MemoryStorage``: the reference adapter, thread-safe, for tests and single-process apps.

One re-entrant lock guards every structure. ``transaction()`` holds the lock for the whole block
and keeps an undo log, so a failure anywhere inside leaves the previous state whole.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, MutableMapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from credflow.errors import (
    ConcurrentUpdate,
    DuplicateIdentifier,
    DuplicateMembership,
    DuplicateOrganisation,
)
from credflow.storage.protocols import check_pagination
from credflow.storage.records import (
    Account,
    AuditEvent,
    ConsumeOutcome,
    FlowRecord,
    Membership,
    MfaFactor,
    MfaKind,
    Organisation,
    PasswordCredential,
    PasswordHistoryEntry,
    RecoveryCode,
    SecurityQuestion,
    TokenRecord,
)

__all__ = ["MemoryStorage"]

_MISSING: Any = object()
_KINDS = sorted(kind.value for kind in MfaKind)  # mfa_factors' order: by kind


class MemoryStorage:
    """Everything in dictionaries, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._local = threading.local()
        self._accounts: dict[str, Account] = {}
        self._by_identifier: dict[str, str] = {}
        self._by_email: dict[str, frozenset[str]] = {}
        self._passwords: dict[str, PasswordCredential] = {}
        self._history: dict[str, tuple[PasswordHistoryEntry, ...]] = {}
        self._questions: dict[str, SecurityQuestion] = {}
        self._tokens: dict[str, TokenRecord] = {}
        self._tokens_by_account: dict[str, set[str]] = {}  # every token, for deletion
        self._open_tokens: dict[str, set[str]] = {}  # unused tokens only, for voiding
        self._flows: dict[str, FlowRecord] = {}
        self._counters: dict[str, int] = {}
        self._counted_at: dict[str, datetime] = {}  # each counter's last increment
        self._events: list[AuditEvent] = []
        self._organisations: dict[str, Organisation] = {}
        self._by_number: dict[str, str] = {}
        self._memberships: dict[str, Membership] = {}  # key: account id NUL organisation id
        self._orgs_of: dict[str, set[str]] = {}  # account id -> organisation ids
        self._members: dict[str, set[str]] = {}  # organisation id -> account ids
        self._factors: dict[str, MfaFactor] = {}  # key: account id NUL kind
        self._recovery_codes: dict[str, tuple[RecoveryCode, ...]] = {}

    def __repr__(self) -> str:
        return f"MemoryStorage(accounts={len(self._accounts)})"

    # -- transactions and the undo log -------------------------------------------------------

    def transaction(self) -> AbstractContextManager[None]:
        return _Transaction(self)

    def _log(self, undo: Callable[[], None]) -> None:
        log = getattr(self._local, "undo", None)
        if log is not None:
            log.append(undo)

    def _put(self, table: MutableMapping[str, Any], key: str, value: Any) -> None:
        old = table.get(key, _MISSING)
        table[key] = value
        self._log(lambda: _restore(table, key, old))

    def _add(self, index: dict[str, set[str]], key: str, member: str) -> None:
        members = index.setdefault(key, set())
        if member not in members:
            members.add(member)
            self._log(lambda: members.discard(member))

    def _discard(self, index: dict[str, set[str]], key: str, member: str) -> None:
        members = index.get(key)
        if members is not None and member in members:
            members.discard(member)
            self._log(lambda: members.add(member))

    def _pop(self, table: MutableMapping[str, Any], key: str) -> Any:
        old = table.pop(key, _MISSING)
        if old is not _MISSING:
            self._log(lambda: _restore(table, key, old))
        return None if old is _MISSING else old

    # -- accounts ----------------------------------------------------------------------------

    def create_account(self, account: Account) -> None:
        with self._lock:
            if account.identifier_key in self._by_identifier or account.id in self._accounts:
                raise DuplicateIdentifier("identifier already taken")
            self._put(self._accounts, account.id, account)
            self._put(self._by_identifier, account.identifier_key, account.id)
            self._index_email(account.id, None, account.email_key)

    def _index_email(self, account_id: str, old: str | None, new: str | None) -> None:
        if old == new:
            return
        if old is not None:
            remaining = self._by_email.get(old, frozenset()) - {account_id}
            if remaining:
                self._put(self._by_email, old, remaining)
            else:
                self._pop(self._by_email, old)
        if new is not None:
            self._put(self._by_email, new, self._by_email.get(new, frozenset()) | {account_id})

    def get_account(self, account_id: str) -> Account | None:
        with self._lock:
            return self._accounts.get(account_id)

    def find_account(self, identifier_key: str) -> Account | None:
        with self._lock:
            account_id = self._by_identifier.get(identifier_key)
            return None if account_id is None else self._accounts.get(account_id)

    def find_accounts_by_email(self, email_key: str) -> list[Account]:
        with self._lock:
            ids = sorted(self._by_email.get(email_key, ()))
            return [self._accounts[i] for i in ids]

    def list_accounts(self, *, after: str | None = None, limit: int = 100) -> list[Account]:
        check_pagination(limit)
        with self._lock:
            ids = sorted(i for i in self._accounts if after is None or i > after)
            return [self._accounts[i] for i in ids[:limit]]

    def update_account(self, account: Account) -> Account:
        with self._lock:
            current = self._accounts.get(account.id)
            if current is None or current.version != account.version:
                raise ConcurrentUpdate("account changed since it was read")
            if account.identifier_key != current.identifier_key:
                if account.identifier_key in self._by_identifier:
                    raise DuplicateIdentifier("identifier already taken")
                self._pop(self._by_identifier, current.identifier_key)
                self._put(self._by_identifier, account.identifier_key, account.id)
            self._index_email(account.id, current.email_key, account.email_key)
            stored = account.model_copy(update={"version": account.version + 1})
            self._put(self._accounts, account.id, stored)
            return stored

    def delete_account(self, account_id: str) -> bool:
        with self._lock:
            account = self._pop(self._accounts, account_id)
            if account is None:
                return False
            self._pop(self._by_identifier, account.identifier_key)
            self._index_email(account_id, account.email_key, None)
            self._pop(self._passwords, account_id)
            self._pop(self._history, account_id)
            self._pop(self._questions, account_id)
            for key in list(self._tokens_by_account.get(account_id, ())):
                self._pop(self._tokens, key)
            self._pop(self._tokens_by_account, account_id)
            self._pop(self._open_tokens, account_id)
            for key, flow in list(self._flows.items()):
                if flow.account_id == account_id:
                    self._pop(self._flows, key)
            for organisation_id in list(self._orgs_of.get(account_id, ())):
                self._pop(self._memberships, f"{account_id}\0{organisation_id}")
                self._discard(self._members, organisation_id, account_id)
            self._pop(self._orgs_of, account_id)
            for kind in MfaKind:
                self._pop(self._factors, f"{account_id}\0{kind.value}")
            self._pop(self._recovery_codes, account_id)
            return True

    def lock_email(self, email_key: str) -> None:
        """Nothing to do: a memory transaction holds the one lock until it ends."""

    # -- credentials -------------------------------------------------------------------------

    def get_password(self, account_id: str) -> PasswordCredential | None:
        with self._lock:
            return self._passwords.get(account_id)

    def set_password(self, credential: PasswordCredential, *, keep_history: int = 0) -> None:
        with self._lock:
            old = self._passwords.get(credential.account_id)
            if old is not None and keep_history > 0:
                entry = PasswordHistoryEntry(
                    account_id=old.account_id, hash=old.hash, set_at=old.set_at
                )
                kept = (entry, *self._history.get(credential.account_id, ()))[:keep_history]
                self._put(self._history, credential.account_id, kept)
            self._put(self._passwords, credential.account_id, credential)

    def password_history(self, account_id: str, limit: int) -> list[PasswordHistoryEntry]:
        with self._lock:
            return list(self._history.get(account_id, ())[:limit])

    def get_question(self, account_id: str) -> SecurityQuestion | None:
        with self._lock:
            return self._questions.get(account_id)

    def set_question(self, question: SecurityQuestion) -> None:
        with self._lock:
            self._put(self._questions, question.account_id, question)

    # -- tokens ------------------------------------------------------------------------------

    def save_token(self, token: TokenRecord) -> None:
        with self._lock:
            if token.nonce_hash in self._tokens:
                raise ValueError("token already stored")
            self._put(self._tokens, token.nonce_hash, token)
            self._add(self._tokens_by_account, token.account_id, token.nonce_hash)
            if token.used_at is None:
                self._add(self._open_tokens, token.account_id, token.nonce_hash)

    def get_token(self, nonce_hash: str) -> TokenRecord | None:
        with self._lock:
            return self._tokens.get(nonce_hash)

    def consume_token(
        self, nonce_hash: str, purpose: str, now: datetime
    ) -> tuple[ConsumeOutcome, TokenRecord | None]:
        with self._lock:
            token = self._tokens.get(nonce_hash)
            if token is None or token.purpose != purpose:
                return ConsumeOutcome.UNKNOWN, None
            if token.used_at is not None:
                return ConsumeOutcome.USED, token
            if now > token.expires_at:
                return ConsumeOutcome.EXPIRED, token
            used = token.model_copy(update={"used_at": now})
            self._put(self._tokens, nonce_hash, used)
            self._discard(self._open_tokens, token.account_id, nonce_hash)
            return ConsumeOutcome.CONSUMED, used

    def void_tokens(self, account_id: str, purpose: str | None, now: datetime) -> int:
        with self._lock:
            count = 0
            for key in sorted(self._open_tokens.get(account_id, ())):
                token = self._tokens[key]
                if purpose is None or token.purpose == purpose:
                    self._put(self._tokens, key, token.model_copy(update={"used_at": now}))
                    self._discard(self._open_tokens, account_id, key)
                    count += 1
            return count

    # -- flows -------------------------------------------------------------------------------

    def save_flow(self, flow: FlowRecord) -> None:
        with self._lock:
            if flow.handle_hash in self._flows:
                raise ValueError("flow already stored")
            self._put(self._flows, flow.handle_hash, flow)

    def get_flow(self, handle_hash: str) -> FlowRecord | None:
        with self._lock:
            return self._flows.get(handle_hash)

    def advance_flow(self, flow: FlowRecord, *, expected_state: str) -> FlowRecord:
        with self._lock:
            current = self._flows.get(flow.handle_hash)
            if (
                current is None
                or current.state != expected_state
                or current.version != flow.version
            ):
                raise ConcurrentUpdate("flow changed since it was read")
            stored = flow.model_copy(update={"version": flow.version + 1})
            self._put(self._flows, flow.handle_hash, stored)
            return stored

    def delete_flow(self, handle_hash: str) -> bool:
        with self._lock:
            return self._pop(self._flows, handle_hash) is not None

    def purge_expired(self, before: datetime) -> int:
        with self._lock:
            flows = [key for key, flow in self._flows.items() if flow.expires_at < before]
            for key in flows:
                self._pop(self._flows, key)
            tokens = [key for key, token in self._tokens.items() if token.expires_at < before]
            for key in tokens:
                token = self._pop(self._tokens, key)
                self._discard(self._tokens_by_account, token.account_id, key)
                self._discard(self._open_tokens, token.account_id, key)
                for index in (self._tokens_by_account, self._open_tokens):
                    if not index.get(token.account_id, True):
                        self._pop(index, token.account_id)
            return len(flows) + len(tokens)

    # -- organisations and memberships -------------------------------------------------------

    def create_organisation(self, organisation: Organisation) -> None:
        with self._lock:
            number = organisation.registration_number
            if organisation.id in self._organisations or (
                number is not None and number in self._by_number
            ):
                raise DuplicateOrganisation("organisation already registered")
            self._put(self._organisations, organisation.id, organisation)
            if number is not None:
                self._put(self._by_number, number, organisation.id)

    def get_organisation(self, organisation_id: str) -> Organisation | None:
        with self._lock:
            return self._organisations.get(organisation_id)

    def find_organisation(self, registration_number: str) -> Organisation | None:
        with self._lock:
            found = self._by_number.get(registration_number)
            return None if found is None else self._organisations.get(found)

    def create_membership(self, membership: Membership) -> None:
        with self._lock:
            key = f"{membership.account_id}\0{membership.organisation_id}"
            if key in self._memberships:
                raise DuplicateMembership("already a member of this organisation")
            self._put(self._memberships, key, membership)
            self._add(self._orgs_of, membership.account_id, membership.organisation_id)
            self._add(self._members, membership.organisation_id, membership.account_id)

    def get_membership(self, account_id: str, organisation_id: str) -> Membership | None:
        with self._lock:
            return self._memberships.get(f"{account_id}\0{organisation_id}")

    def update_membership(self, membership: Membership) -> Membership:
        with self._lock:
            key = f"{membership.account_id}\0{membership.organisation_id}"
            current = self._memberships.get(key)
            if current is None or current.version != membership.version:
                raise ConcurrentUpdate("membership changed since it was read")
            stored = membership.model_copy(update={"version": membership.version + 1})
            self._put(self._memberships, key, stored)
            return stored

    def memberships_of(self, account_id: str) -> list[Membership]:
        with self._lock:
            return [
                self._memberships[f"{account_id}\0{organisation_id}"]
                for organisation_id in sorted(self._orgs_of.get(account_id, ()))
            ]

    def members_of(
        self, organisation_id: str, *, after: str | None = None, limit: int = 100
    ) -> list[Membership]:
        check_pagination(limit)
        with self._lock:
            members = sorted(
                account_id
                for account_id in self._members.get(organisation_id, ())
                if after is None or account_id > after
            )[:limit]
            return [self._memberships[f"{account_id}\0{organisation_id}"] for account_id in members]

    # -- second factors ----------------------------------------------------------------------

    def save_mfa_factor(self, factor: MfaFactor) -> None:
        with self._lock:
            self._put(self._factors, f"{factor.account_id}\0{factor.kind.value}", factor)

    def mfa_factors(self, account_id: str) -> list[MfaFactor]:
        with self._lock:
            found = (self._factors.get(f"{account_id}\0{kind}") for kind in _KINDS)
            return [factor for factor in found if factor is not None]

    def delete_mfa_factor(self, account_id: str, kind: MfaKind) -> bool:
        with self._lock:
            return self._pop(self._factors, f"{account_id}\0{MfaKind(kind).value}") is not None

    def use_totp_step(self, account_id: str, step: int) -> bool:
        with self._lock:
            key = f"{account_id}\0{MfaKind.TOTP.value}"
            factor = self._factors.get(key)
            if factor is None or step <= factor.last_step:
                return False
            self._put(self._factors, key, factor.model_copy(update={"last_step": step}))
            return True

    def replace_recovery_codes(self, account_id: str, codes: list[RecoveryCode]) -> None:
        with self._lock:
            if any(code.account_id != account_id for code in codes):
                raise ValueError("every recovery code must belong to the account")
            if len({code.code_hash for code in codes}) != len(codes):
                raise ValueError("recovery codes must be distinct")
            self._put(self._recovery_codes, account_id, tuple(codes))

    def recovery_codes(self, account_id: str, selector: str) -> list[RecoveryCode]:
        with self._lock:
            return [
                code
                for code in self._recovery_codes.get(account_id, ())
                if code.selector == selector and code.used_at is None
            ]

    def use_recovery_code(self, account_id: str, code_hash: str, now: datetime) -> bool:
        with self._lock:
            codes = self._recovery_codes.get(account_id, ())
            for index, code in enumerate(codes):
                if code.code_hash == code_hash and code.used_at is None:
                    used = code.model_copy(update={"used_at": now})
                    self._put(
                        self._recovery_codes,
                        account_id,
                        (*codes[:index], used, *codes[index + 1 :]),
                    )
                    return True
            return False

    def recovery_codes_left(self, account_id: str) -> int:
        with self._lock:
            return sum(1 for c in self._recovery_codes.get(account_id, ()) if c.used_at is None)

    # -- counters ----------------------------------------------------------------------------

    def increment_counter(self, key: str, now: datetime) -> int:
        with self._lock:
            value = self._counters.get(key, 0) + 1
            self._put(self._counters, key, value)
            self._put(self._counted_at, key, now)
            return value

    def get_counter(self, key: str) -> int:
        with self._lock:
            return self._counters.get(key, 0)

    def reset_counter(self, key: str) -> None:
        with self._lock:
            self._pop(self._counters, key)
            self._pop(self._counted_at, key)

    def purge_counters(self, before: datetime, prefix: str = "") -> int:
        with self._lock:
            stale = [
                key
                for key, at in self._counted_at.items()
                if key.startswith(prefix) and at < before
            ]
            for key in stale:
                self._pop(self._counters, key)
                self._pop(self._counted_at, key)
            return len(stale)

    # -- audit -------------------------------------------------------------------------------

    def append_event(self, event: AuditEvent) -> None:
        with self._lock:
            size = len(self._events)
            self._events.append(event)
            self._log(lambda: self._events.__delitem__(slice(size, None)))

    def events(
        self, *, account_id: str | None = None, since: datetime | None = None, limit: int = 1000
    ) -> list[AuditEvent]:
        check_pagination(limit)
        with self._lock:
            found = [
                e
                for e in self._events
                if (account_id is None or e.account_id == account_id)
                and (since is None or e.at >= since)
            ]
            return found[:limit]

    def pseudonymise_events(self, account_id: str, pseudonym: str) -> int:
        with self._lock:
            changed = 0
            for index, event in enumerate(self._events):
                if event.account_id == account_id:
                    self._events[index] = event.model_copy(update={"account_id": pseudonym})
                    self._log(_setter(self._events, index, event))
                    changed += 1
            return changed


class _Transaction:
    """Holds the storage lock for the block; the outermost one keeps the undo log and replays
    it backwards when the block raises. (A class, not a generator: it runs on every write.)"""

    __slots__ = ("_outer", "_storage")

    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage
        self._outer = False

    def __enter__(self) -> None:
        storage = self._storage
        storage._lock.acquire()
        self._outer = getattr(storage._local, "undo", None) is None
        if self._outer:
            storage._local.undo = []

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        storage = self._storage
        try:
            if self._outer:
                undo, storage._local.undo = storage._local.undo, None
                if kind is not None:
                    for step in reversed(undo):
                        step()
        finally:
            storage._lock.release()


def _restore(table: MutableMapping[str, Any], key: str, old: Any) -> None:
    if old is _MISSING:
        table.pop(key, None)
    else:
        table[key] = old


def _setter(items: list[AuditEvent], index: int, value: AuditEvent) -> Callable[[], None]:
    def undo() -> None:
        items[index] = value

    return undo
