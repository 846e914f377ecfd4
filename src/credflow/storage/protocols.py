"""The storage port: what every adapter (memory, SQL, a host's own) must provide.

Each method is atomic on its own. ``transaction()`` groups several calls into one all-or-nothing
unit: the services use it for every multi-write step (password set + token burn + counter reset +
event). The contract suite ``credflow.testing.StorageContract`` pins the exact behaviour.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol, runtime_checkable

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

__all__ = ["Storage"]


@runtime_checkable
class Storage(Protocol):
    """Accounts, credentials, tokens, flows, counters and audit events."""

    def transaction(self) -> AbstractContextManager[None]:
        """All writes inside commit together or not at all. Nested calls join the outer one."""
        ...

    # -- accounts ----------------------------------------------------------------------------

    def create_account(self, account: Account) -> None:
        """Insert ``account``. Raise DuplicateIdentifier when its identifier key is taken."""
        ...

    def get_account(self, account_id: str) -> Account | None:
        """The account with that id, or None."""
        ...

    def find_account(self, identifier_key: str) -> Account | None:
        """The account whose identifier key is ``identifier_key``, or None."""
        ...

    def find_accounts_by_email(self, email_key: str) -> list[Account]:
        """Every account whose email key is ``email_key`` (one email may have several)."""
        ...

    def list_accounts(self, *, after: str | None = None, limit: int = 100) -> list[Account]:
        """Accounts ordered by id, starting after ``after`` (keyset pagination)."""
        ...

    def update_account(self, account: Account) -> Account:
        """Replace the account if its stored version is ``account.version``.

        Returns the stored account with ``version`` incremented. Raises ConcurrentUpdate when
        the stored version differs (or the account is gone).
        """
        ...

    def delete_account(self, account_id: str) -> bool:
        """Remove the account and everything attached to it (credentials, tokens, flows,
        memberships, second factors, recovery codes); True when it existed."""
        ...

    def lock_email(self, email_key: str) -> None:
        """Inside a transaction, hold every other transaction that locks the same email key
        until this one ends, so "is this address free?" and the write that takes it are one
        atomic step (unique emails at confirmation). Adapters whose transactions are already
        serial (memory, SQLite) may do nothing."""
        ...

    # -- credentials -------------------------------------------------------------------------

    def get_password(self, account_id: str) -> PasswordCredential | None:
        """The account's current password credential."""
        ...

    def set_password(self, credential: PasswordCredential, *, keep_history: int = 0) -> None:
        """Replace the password. The replaced hash joins the history, trimmed to the newest
        ``keep_history`` entries (0 keeps none)."""
        ...

    def password_history(self, account_id: str, limit: int) -> list[PasswordHistoryEntry]:
        """The newest ``limit`` past password hashes, newest first."""
        ...

    def get_question(self, account_id: str) -> SecurityQuestion | None:
        """The account's security question."""
        ...

    def set_question(self, question: SecurityQuestion) -> None:
        """Replace the account's security question."""
        ...

    # -- one-time tokens ---------------------------------------------------------------------

    def save_token(self, token: TokenRecord) -> None:
        """Store a token record (its nonce hash must be new)."""
        ...

    def get_token(self, nonce_hash: str) -> TokenRecord | None:
        """The token record with that nonce hash."""
        ...

    def consume_token(
        self, nonce_hash: str, purpose: str, now: datetime
    ) -> tuple[ConsumeOutcome, TokenRecord | None]:
        """Mark the token used, atomically: of many concurrent callers exactly one consumes.

        Outcomes: ``consumed`` (this caller won), ``unknown`` (no such token for that purpose),
        ``used`` (already consumed), ``expired`` (past its expiry at ``now``).
        """
        ...

    def void_tokens(self, account_id: str, purpose: str | None, now: datetime) -> int:
        """Mark every unused token of the account (for ``purpose``, or all) as used."""
        ...

    # -- flows -------------------------------------------------------------------------------

    def save_flow(self, flow: FlowRecord) -> None:
        """Store a new flow (its handle hash must be new)."""
        ...

    def get_flow(self, handle_hash: str) -> FlowRecord | None:
        """The flow with that handle hash."""
        ...

    def advance_flow(self, flow: FlowRecord, *, expected_state: str) -> FlowRecord:
        """Replace the flow if it is still in ``expected_state`` at version ``flow.version``.

        Returns the stored flow with ``version`` incremented; raises ConcurrentUpdate otherwise,
        so a replayed or raced step is applied at most once.
        """
        ...

    def delete_flow(self, handle_hash: str) -> bool:
        """Remove a flow; True when it existed."""
        ...

    def purge_expired(self, before: datetime) -> int:
        """Delete every token and every flow (sessions included) whose expiry is earlier than
        ``before``, used or not; return how many records went."""
        ...

    # -- organisations and memberships -------------------------------------------------------

    def create_organisation(self, organisation: Organisation) -> None:
        """Insert ``organisation``. Raise DuplicateOrganisation when its id or its registration
        number is taken."""
        ...

    def get_organisation(self, organisation_id: str) -> Organisation | None:
        """The organisation with that id, or None."""
        ...

    def find_organisation(self, registration_number: str) -> Organisation | None:
        """The organisation with that (normalised) registration number, or None."""
        ...

    def create_membership(self, membership: Membership) -> None:
        """Insert a membership. Raise DuplicateMembership when the account already belongs to
        the organisation."""
        ...

    def get_membership(self, account_id: str, organisation_id: str) -> Membership | None:
        """The account's membership of the organisation, or None."""
        ...

    def update_membership(self, membership: Membership) -> Membership:
        """Replace the membership if its stored version is ``membership.version``; return it with
        ``version`` incremented. Raise ConcurrentUpdate otherwise (or when it is gone)."""
        ...

    def memberships_of(self, account_id: str) -> list[Membership]:
        """Every membership of the account, ordered by organisation id."""
        ...

    def members_of(
        self, organisation_id: str, *, after: str | None = None, limit: int = 100
    ) -> list[Membership]:
        """The organisation's memberships ordered by account id, starting after ``after``."""
        ...

    # -- second factors ----------------------------------------------------------------------

    def save_mfa_factor(self, factor: MfaFactor) -> None:
        """Insert or replace the account's factor of ``factor.kind``."""
        ...

    def mfa_factors(self, account_id: str) -> list[MfaFactor]:
        """The account's factors, ordered by kind."""
        ...

    def delete_mfa_factor(self, account_id: str, kind: MfaKind) -> bool:
        """Remove the account's factor of that kind; True when it existed."""
        ...

    def use_totp_step(self, account_id: str, step: int) -> bool:
        """Record ``step`` as the newest TOTP step used, atomically, only if it is newer than the
        stored one: of many concurrent callers with the same step, exactly one gets True."""
        ...

    def replace_recovery_codes(self, account_id: str, codes: list[RecoveryCode]) -> None:
        """Delete the account's recovery codes and store ``codes`` instead. Raise ValueError,
        changing nothing, when a code belongs to another account or a hash is repeated."""
        ...

    def recovery_codes(self, account_id: str, selector: str) -> list[RecoveryCode]:
        """The account's UNUSED recovery codes whose selector is exactly ``selector``, in no
        particular order: the candidates whose argon2id hash the service verifies."""
        ...

    def use_recovery_code(self, account_id: str, code_hash: str, now: datetime) -> bool:
        """Mark the account's unused code whose stored hash is exactly ``code_hash`` as used at
        ``now``, atomically; True for exactly one of many concurrent callers, False when no such
        unused code exists."""
        ...

    def recovery_codes_left(self, account_id: str) -> int:
        """How many unused recovery codes the account has."""
        ...

    # -- failure counters --------------------------------------------------------------------

    def increment_counter(self, key: str, now: datetime) -> int:
        """Add one to the counter ``key`` atomically and return the new value."""
        ...

    def get_counter(self, key: str) -> int:
        """The counter's value (0 when absent)."""
        ...

    def reset_counter(self, key: str) -> None:
        """Set the counter back to 0."""
        ...

    def purge_counters(self, before: datetime, prefix: str = "") -> int:
        """Delete the counters whose last increment was earlier than ``before`` (only those
        whose key starts with ``prefix``, when given); return how many went."""
        ...

    # -- audit -------------------------------------------------------------------------------

    def append_event(self, event: AuditEvent) -> None:
        """Append an audit event."""
        ...

    def events(
        self, *, account_id: str | None = None, since: datetime | None = None, limit: int = 1000
    ) -> list[AuditEvent]:
        """Events, oldest first, optionally for one account and from ``since`` on."""
        ...

    def pseudonymise_events(self, account_id: str, pseudonym: str) -> int:
        """Replace ``account_id`` by ``pseudonym`` in every event; return how many changed."""
        ...


def check_pagination(limit: int) -> None:
    """Refuse silly page sizes early."""
    if not 1 <= limit <= 10_000:
        raise ValueError("limit must be between 1 and 10000")
