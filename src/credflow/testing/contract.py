"""The storage contract: one suite that every credflow storage adapter must pass (DB-03).

It pins the behaviour documented in ``credflow.storage.protocols.Storage``, one thread at a time.
To check an adapter, subclass ``StorageContract`` in a test module (its class name must start with
``Test``) and supply a factory::

    from credflow.testing import StorageContract

    class TestMyStorage(StorageContract):
        def make_storage(self) -> Storage:
            return MyStorage(...)  # a fresh, EMPTY storage for every test

        def close_storage(self, storage: Storage) -> None:  # optional
            storage.close()

``self.tmp_path`` is a fresh temporary directory (``pathlib.Path``) when ``make_storage`` runs,
for adapters that keep files. The class itself has no ``Test`` prefix, so pytest only collects
it through subclasses. Concurrency (exactly one winner of a race) is ``StorageRaces``, in
``credflow.testing.races``. The record builders below are public: adapter authors may reuse them.
Needs pytest (``pip install credflow[testing]``).
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import pytest

from credflow.errors import (
    ConcurrentUpdate,
    DuplicateIdentifier,
    DuplicateMembership,
    DuplicateOrganisation,
)
from credflow.storage.protocols import Storage
from credflow.storage.records import (
    Account,
    AccountStatus,
    AuditEvent,
    ConsumeOutcome,
    FlowRecord,
    Membership,
    MembershipStatus,
    MfaFactor,
    MfaKind,
    Organisation,
    PasswordCredential,
    RecoveryCode,
    RequiredAction,
    SecurityQuestion,
    TokenRecord,
    email_key,
    identifier_key,
)

__all__ = [
    "T0",
    "StorageContract",
    "make_account",
    "make_code",
    "make_credential",
    "make_event",
    "make_factor",
    "make_flow",
    "make_membership",
    "make_organisation",
    "make_token",
    "phc",
    "sha",
]

#: A fixed instant with microseconds, so a lossy round trip shows.
T0 = datetime(2025, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)
US = timedelta(microseconds=1)


# -- record builders (public: adapter authors may reuse them) ---------------------------------


def sha(name: str) -> str:
    """A 64-hex-digit hash standing for a nonce or handle hash."""
    return hashlib.sha256(name.encode()).hexdigest()


def make_account(
    account_id: str = "acc-1",
    identifier: str = "Alice",
    email: str | None = "alice@example.com",
    **changes: Any,
) -> Account:
    """An account whose keys are derived from ``identifier`` and ``email``."""
    fields: dict[str, Any] = {
        "id": account_id,
        "identifier": identifier,
        "identifier_key": identifier_key(identifier),
        "email": email,
        "email_key": None if email is None else email_key(email),
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(changes)
    return Account(**fields)


def make_credential(
    account_id: str = "acc-1", hash_: str = "$argon2id$p0", set_at: datetime = T0, **changes: Any
) -> PasswordCredential:
    return PasswordCredential(account_id=account_id, hash=hash_, set_at=set_at, **changes)


def make_token(
    name: str = "t1",
    account_id: str = "acc-1",
    purpose: str = "reset",
    expires_at: datetime = T0 + timedelta(hours=1),
    **changes: Any,
) -> TokenRecord:
    fields: dict[str, Any] = {
        "nonce_hash": sha(name),
        "account_id": account_id,
        "purpose": purpose,
        "credential_version": 1,
        "created_at": T0,
        "expires_at": expires_at,
    }
    fields.update(changes)
    return TokenRecord(**fields)


def make_flow(
    name: str = "f1", state: str = "start", account_id: str | None = "acc-1", **changes: Any
) -> FlowRecord:
    fields: dict[str, Any] = {
        "handle_hash": sha(name),
        "kind": "recovery",
        "account_id": account_id,
        "state": state,
        "data": {"step": 1, "channel": "email", "nested": {"ok": True, "list": [1, "two", None]}},
        "created_at": T0,
        "expires_at": T0 + timedelta(minutes=15),
    }
    fields.update(changes)
    return FlowRecord(**fields)


def make_event(
    type_: str = "signed_in", account_id: str | None = "acc-1", at: datetime = T0, **details: Any
) -> AuditEvent:
    return AuditEvent(type=type_, account_id=account_id, at=at, details=details)


def make_organisation(
    organisation_id: str = "org-1", registration_number: str | None = None, **changes: Any
) -> Organisation:
    fields: dict[str, Any] = {
        "id": organisation_id,
        "name": f"Organisation {organisation_id}",
        "registration_number": registration_number,
        "created_at": T0,
    }
    fields.update(changes)
    return Organisation(**fields)


def make_membership(
    account_id: str = "acc-1",
    organisation_id: str = "org-1",
    roles: tuple[str, ...] = ("user",),
    **changes: Any,
) -> Membership:
    fields: dict[str, Any] = {
        "account_id": account_id,
        "organisation_id": organisation_id,
        "roles": roles,
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(changes)
    return Membership(**fields)


def make_factor(
    account_id: str = "acc-1", kind: MfaKind = MfaKind.TOTP, **changes: Any
) -> MfaFactor:
    """A confirmed factor: TOTP with a base32 secret, SMS with a phone number."""
    fields: dict[str, Any] = {"account_id": account_id, "kind": kind, "confirmed": True}
    if kind is MfaKind.TOTP:
        fields["secret"] = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    else:
        fields["phone"] = "+33 6 12 34 56 78"
    fields["created_at"] = T0
    fields.update(changes)
    return MfaFactor(**fields)


def phc(name: str) -> str:
    """A distinct argon2id PHC string standing for the hash of the recovery code ``name``.

    Storage never verifies it, so it needs only the shape: ``$argon2id$``, parameters, salt and
    hash in unpadded base64 (97 characters).
    """
    salt = base64.b64encode(hashlib.sha256(f"salt:{name}".encode()).digest()[:16]).decode()
    digest = base64.b64encode(hashlib.sha256(name.encode()).digest()).decode()
    return f"$argon2id$v=19$m=65536,t=3,p=4${salt.rstrip('=')}${digest.rstrip('=')}"


def make_code(
    name: str, account_id: str = "acc-1", selector: str | None = None, **changes: Any
) -> RecoveryCode:
    """A recovery code whose hash is ``phc(name)``; its selector is ``selector``, or ``name``
    itself (cut to 16 characters)."""
    return RecoveryCode(
        account_id=account_id,
        selector=name[:16] if selector is None else selector,
        code_hash=phc(name),
        created_at=T0,
        **changes,
    )


def _snapshot(storage: Storage, account_ids: list[str], token_names: list[str]) -> dict[str, Any]:
    """Everything observable about some accounts, tokens, flows, counters and events."""
    return {
        "accounts": [storage.get_account(i) for i in account_ids],
        "by_key": [storage.find_account(identifier_key(i)) for i in ("Alice", "Bob", "Carol")],
        "by_email": storage.find_accounts_by_email("alice@example.com"),
        "list": storage.list_accounts(),
        "passwords": [storage.get_password(i) for i in account_ids],
        "history": [storage.password_history(i, 10) for i in account_ids],
        "questions": [storage.get_question(i) for i in account_ids],
        "tokens": [storage.get_token(sha(n)) for n in token_names],
        "flows": [storage.get_flow(sha(n)) for n in ("f1", "f2", "f3")],
        "counters": [storage.get_counter(k) for k in ("k1", "k2", "k3")],
        "events": storage.events(),
    }


class _Boom(Exception):
    """Raised inside a transaction to force a rollback."""


def _fail_in_transaction(storage: Storage, work: Callable[[], object]) -> None:
    """Run ``work`` inside a transaction, then fail (raise _Boom) before it commits."""
    with storage.transaction():
        work()
        raise _Boom


class StorageContract:
    """The contract every ``Storage`` adapter must meet. Subclass it and define make_storage."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.req("DB-03")]

    tmp_path: Path

    def make_storage(self) -> Storage:
        """Return a fresh, empty storage. Subclasses must override this."""
        raise NotImplementedError("define make_storage() in the StorageContract subclass")

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

    # -- the protocol --------------------------------------------------------------------------

    def test_is_a_storage(self, storage: Storage) -> None:
        assert isinstance(storage, Storage)

    def test_starts_empty(self, storage: Storage) -> None:
        assert storage.list_accounts() == []
        assert storage.events() == []
        assert storage.get_counter("k1") == 0

    # -- accounts: create, get, find -----------------------------------------------------------

    def test_create_then_get_returns_an_equal_account(self, storage: Storage) -> None:
        account = make_account(
            "acc-ü",
            "Jürgen.Straße-名前",
            "Jürgen@Example.COM",
            status=AccountStatus.PENDING_APPROVAL,
            required_actions=(RequiredAction.VERIFY_EMAIL, RequiredAction.CHANGE_PASSWORD),
            credential_version=3,
            version=7,
            locked_until=T0 + timedelta(minutes=5, microseconds=1),
            lockouts=2,
            session_epoch=4,
            updated_at=T0 + timedelta(seconds=1),
        )
        storage.create_account(account)
        assert storage.get_account("acc-ü") == account

    def test_records_at_their_maximum_lengths_round_trip(self, storage: Storage) -> None:
        # The longest identifier and email credflow accepts (254), the longest id (64), purpose
        # and kind (32), question (200) and event type (64).
        email = "e" * 64 + "@" + "d" * 184 + ".test"
        account = make_account("i" * 64, "I" * 254, email)
        assert len(account.identifier_key) == len(account.email_key or "") == 254
        storage.create_account(account)
        question = SecurityQuestion(
            account_id=account.id,
            question="?" * 200,
            answer_hash="$argon2id$" + "a" * 90,
            set_at=T0,
        )
        storage.set_question(question)
        token = make_token(account_id=account.id, purpose="p" * 32)
        storage.save_token(token)
        flow = make_flow(account_id=account.id, kind="k" * 32)
        storage.save_flow(flow)
        event = make_event("t" * 64, account.id)
        storage.append_event(event)
        assert storage.get_account(account.id) == account
        assert storage.find_account("i" * 254) == account
        assert storage.find_accounts_by_email(account.email_key or "") == [account]
        assert storage.get_question(account.id) == question
        assert storage.get_token(token.nonce_hash) == token
        assert storage.get_flow(flow.handle_hash) == flow
        assert storage.events(account_id=account.id) == [event]

    def test_account_without_email_round_trips(self, storage: Storage) -> None:
        account = make_account(email=None)
        storage.create_account(account)
        assert storage.get_account(account.id) == account
        assert storage.find_account(account.identifier_key) == account

    def test_get_unknown_account_is_none(self, storage: Storage) -> None:
        storage.create_account(make_account())
        assert storage.get_account("acc-2") is None
        assert storage.get_account("") is None

    def test_find_account_by_identifier_key(self, storage: Storage) -> None:
        alice = make_account("acc-1", "Alice")
        bob = make_account("acc-2", "Bob", "bob@example.com")
        storage.create_account(alice)
        storage.create_account(bob)
        assert storage.find_account("alice") == alice
        assert storage.find_account("bob") == bob
        assert storage.find_account("carol") is None

    def test_find_account_compares_the_key_exactly(self, storage: Storage) -> None:
        # Folding is the caller's job (identifier_key); the adapter looks the key up as given.
        storage.create_account(make_account("acc-1", "Alice"))
        assert storage.find_account("Alice") is None
        assert storage.find_account("alice ") is None
        assert storage.find_account("alic") is None

    def test_find_accounts_by_email_returns_every_account_ordered_by_id(
        self, storage: Storage
    ) -> None:
        for account_id, identifier in (("acc-3", "Carol"), ("acc-1", "Alice"), ("acc-2", "Al")):
            storage.create_account(make_account(account_id, identifier, "Alice@Example.com"))
        storage.create_account(make_account("acc-0", "Bob", "bob@example.com"))
        found = storage.find_accounts_by_email("alice@example.com")
        assert [a.id for a in found] == ["acc-1", "acc-2", "acc-3"]
        assert found[0] == storage.get_account("acc-1")
        assert [a.id for a in storage.find_accounts_by_email("bob@example.com")] == ["acc-0"]

    def test_find_accounts_by_unknown_email_is_empty(self, storage: Storage) -> None:
        storage.create_account(make_account())
        storage.create_account(make_account("acc-2", "Bob", None))
        assert storage.find_accounts_by_email("nobody@example.com") == []

    # -- accounts: list_accounts ---------------------------------------------------------------

    def test_list_accounts_orders_by_id_in_code_point_order(self, storage: Storage) -> None:
        ids = ["b", "A", "_x", "a", "-y", "0", "Z9", "aa"]
        for n, account_id in enumerate(ids):
            storage.create_account(make_account(account_id, f"user{n}", None))
        assert [a.id for a in storage.list_accounts()] == sorted(ids)

    def test_list_accounts_paginates_with_after_and_limit(self, storage: Storage) -> None:
        ids = [f"acc-{n}" for n in (5, 1, 7, 3, 2, 6, 4)]
        for account_id in ids:
            storage.create_account(make_account(account_id, f"user-{account_id}", None))
        pages: list[list[str]] = []
        after: str | None = None
        for _ in range(10):  # bounded, so an adapter that ignores ``after`` fails, not hangs
            page = storage.list_accounts(after=after, limit=3)
            if not page:
                break
            pages.append([a.id for a in page])
            after = page[-1].id
        assert pages == [["acc-1", "acc-2", "acc-3"], ["acc-4", "acc-5", "acc-6"], ["acc-7"]]
        assert [a.id for a in storage.list_accounts(after="acc-3x", limit=2)] == ["acc-4", "acc-5"]
        assert storage.list_accounts(after="acc-7") == []
        assert [a.id for a in storage.list_accounts(after="", limit=1)] == ["acc-1"]

    def test_list_accounts_default_limit_is_100(self, storage: Storage) -> None:
        with storage.transaction():
            for n in range(101):
                storage.create_account(make_account(f"acc-{n:03}", f"user{n}", None))
        listed = storage.list_accounts()
        assert len(listed) == 100
        assert listed[-1].id == "acc-099"
        assert storage.list_accounts(limit=10_000)[-1].id == "acc-100"

    @pytest.mark.parametrize("limit", [0, -1, 10_001])
    def test_list_accounts_refuses_a_limit_out_of_bounds(
        self, storage: Storage, limit: int
    ) -> None:
        storage.create_account(make_account())
        with pytest.raises(ValueError, match="limit"):
            storage.list_accounts(limit=limit)

    @pytest.mark.parametrize("limit", [1, 10_000])
    def test_list_accounts_accepts_the_limit_bounds(self, storage: Storage, limit: int) -> None:
        storage.create_account(make_account())
        storage.create_account(make_account("acc-2", "Bob"))
        assert len(storage.list_accounts(limit=limit)) == min(limit, 2)

    # -- accounts: uniqueness ------------------------------------------------------------------

    def test_duplicate_identifier_key_is_refused(self, storage: Storage) -> None:
        original = make_account("acc-1", "Alice")
        storage.create_account(original)
        with pytest.raises(DuplicateIdentifier):
            storage.create_account(make_account("acc-2", "ALICE", "other@example.com"))
        assert storage.get_account("acc-2") is None
        assert storage.find_account("alice") == original
        assert storage.find_accounts_by_email("other@example.com") == []
        assert storage.list_accounts() == [original]

    def test_duplicate_account_id_is_refused(self, storage: Storage) -> None:
        original = make_account("acc-1", "Alice")
        storage.create_account(original)
        with pytest.raises(DuplicateIdentifier):
            storage.create_account(make_account("acc-1", "Bob", "bob@example.com"))
        assert storage.get_account("acc-1") == original
        assert storage.find_account("bob") is None
        assert storage.find_accounts_by_email("bob@example.com") == []

    # -- accounts: update_account (compare-and-set) --------------------------------------------

    def test_update_account_replaces_it_and_increments_the_version(self, storage: Storage) -> None:
        storage.create_account(make_account(version=4))
        changed = make_account(
            version=4,
            status=AccountStatus.DISABLED,
            required_actions=(RequiredAction.ENROLL_TOTP,),
            credential_version=2,
            locked_until=T0 + timedelta(hours=1, microseconds=3),
            lockouts=1,
            updated_at=T0 + timedelta(seconds=30, microseconds=1),
        )
        stored = storage.update_account(changed)
        assert stored == changed.model_copy(update={"version": 5})
        assert storage.get_account("acc-1") == stored

    def test_update_account_returns_exactly_what_is_stored(self, storage: Storage) -> None:
        storage.create_account(make_account())
        every_field_changed = make_account(
            "acc-1",
            "Alicia",
            "alicia@example.org",
            status=AccountStatus.PENDING_VERIFICATION,
            required_actions=(RequiredAction.CHANGE_PASSWORD, RequiredAction.VERIFY_EMAIL),
            credential_version=9,
            locked_until=T0,
            lockouts=3,
            session_epoch=7,
            created_at=T0 - timedelta(days=1),
            updated_at=T0 + timedelta(days=1),
        )
        stored = storage.update_account(every_field_changed)
        assert storage.get_account("acc-1") == stored
        assert stored.model_dump(exclude={"version"}) == every_field_changed.model_dump(
            exclude={"version"}
        )

    def test_update_account_chains_with_the_returned_version(self, storage: Storage) -> None:
        storage.create_account(make_account())
        current = storage.get_account("acc-1")
        assert current is not None
        for n in range(1, 4):
            current = storage.update_account(current.model_copy(update={"lockouts": n}))
            assert current.version == n + 1
        assert storage.get_account("acc-1") == current

    def test_update_with_a_stale_version_raises_concurrent_update(self, storage: Storage) -> None:
        storage.create_account(make_account())
        first = storage.update_account(make_account(lockouts=1))
        for version in (1, 3):
            with pytest.raises(ConcurrentUpdate):
                storage.update_account(make_account(version=version, lockouts=2))
        assert storage.get_account("acc-1") == first

    @pytest.mark.parametrize("deleted", [True, False], ids=["deleted", "never-existed"])
    def test_update_of_a_missing_account_raises_concurrent_update(
        self, storage: Storage, deleted: bool
    ) -> None:
        storage.create_account(make_account("acc-2", "Bob"))
        if deleted:
            storage.create_account(make_account())
            assert storage.delete_account("acc-1")
        with pytest.raises(ConcurrentUpdate):
            storage.update_account(make_account(lockouts=1))
        assert storage.get_account("acc-1") is None
        assert [a.id for a in storage.list_accounts()] == ["acc-2"]

    def test_update_to_a_taken_identifier_raises_duplicate(self, storage: Storage) -> None:
        alice = make_account("acc-1", "Alice")
        bob = make_account("acc-2", "Bob", "bob@example.com")
        storage.create_account(alice)
        storage.create_account(bob)
        with pytest.raises(DuplicateIdentifier):
            storage.update_account(
                bob.model_copy(update={"identifier": "ALICE", "identifier_key": "alice"})
            )
        assert storage.get_account("acc-2") == bob
        assert storage.find_account("alice") == alice
        assert storage.find_account("bob") == bob
        # The failed update consumed no version: the next one with version 1 succeeds.
        assert storage.update_account(bob.model_copy(update={"lockouts": 1})).version == 2

    def test_update_of_the_identifier_moves_the_key(self, storage: Storage) -> None:
        storage.create_account(make_account("acc-1", "Alice"))
        renamed = storage.update_account(make_account("acc-1", "Alicia"))
        assert storage.find_account("alice") is None
        assert storage.find_account("alicia") == renamed
        # The old key is free again.
        storage.create_account(make_account("acc-2", "ALICE", None))
        assert storage.find_account("alice") == storage.get_account("acc-2")

    def test_update_keeping_the_identifier_is_not_a_duplicate(self, storage: Storage) -> None:
        storage.create_account(make_account("acc-1", "Alice"))
        stored = storage.update_account(make_account("acc-1", "ALICE"))
        assert stored.identifier == "ALICE"
        assert storage.find_account("alice") == stored

    def test_email_index_follows_updates(self, storage: Storage) -> None:
        storage.create_account(make_account("acc-1", "Alice", "shared@example.com"))
        storage.create_account(make_account("acc-2", "Bob", "shared@example.com"))
        moved = storage.update_account(make_account("acc-1", "Alice", "alice@example.com"))
        assert [a.id for a in storage.find_accounts_by_email("shared@example.com")] == ["acc-2"]
        assert storage.find_accounts_by_email("alice@example.com") == [moved]
        cleared = storage.update_account(
            moved.model_copy(update={"email": None, "email_key": None})
        )
        assert cleared.email_key is None
        assert storage.find_accounts_by_email("alice@example.com") == []
        back = storage.update_account(
            cleared.model_copy(update={"email": "s@x.io", "email_key": "shared@example.com"})
        )
        assert storage.find_accounts_by_email("shared@example.com") == [
            back,
            storage.get_account("acc-2"),
        ]

    # -- accounts: delete_account --------------------------------------------------------------

    def _populate(self, storage: Storage, account_id: str, identifier: str) -> None:
        storage.create_account(make_account(account_id, identifier, "shared@example.com"))
        for n in range(3):
            storage.set_password(
                make_credential(account_id, f"$argon2id${account_id}-{n}", T0 + n * US),
                keep_history=5,
            )
        storage.set_question(
            SecurityQuestion(account_id=account_id, question="Q?", answer_hash="$a", set_at=T0)
        )
        storage.save_token(make_token(f"{account_id}-reset", account_id))
        storage.save_token(make_token(f"{account_id}-verify", account_id, "verify"))
        storage.save_flow(make_flow(f"{account_id}-flow", account_id=account_id))
        storage.append_event(make_event("account_created", account_id))
        storage.append_event(make_event("signed_in", account_id, T0 + US))

    def _attached(self, storage: Storage, account_id: str) -> list[Any]:
        return [
            storage.get_account(account_id),
            storage.get_password(account_id),
            storage.password_history(account_id, 10),
            storage.get_question(account_id),
            storage.get_token(sha(f"{account_id}-reset")),
            storage.get_token(sha(f"{account_id}-verify")),
            storage.get_flow(sha(f"{account_id}-flow")),
            storage.events(account_id=account_id),
        ]

    def test_delete_account_removes_everything_attached_but_events(self, storage: Storage) -> None:
        self._populate(storage, "acc-1", "Alice")
        self._populate(storage, "acc-2", "Bob")
        storage.save_flow(make_flow("anonymous", account_id=None))
        bob_before = self._attached(storage, "acc-2")
        events_before = storage.events()

        assert storage.delete_account("acc-1") is True

        assert storage.get_account("acc-1") is None
        assert storage.find_account("alice") is None
        assert [a.id for a in storage.find_accounts_by_email("shared@example.com")] == ["acc-2"]
        assert storage.get_password("acc-1") is None
        assert storage.password_history("acc-1", 10) == []
        assert storage.get_question("acc-1") is None
        assert storage.get_token(sha("acc-1-reset")) is None
        assert storage.get_token(sha("acc-1-verify")) is None
        assert storage.get_flow(sha("acc-1-flow")) is None
        outcome, _ = storage.consume_token(sha("acc-1-reset"), "reset", T0)
        assert outcome is ConsumeOutcome.UNKNOWN
        # The audit trail is kept (it is pseudonymised, not deleted).
        assert storage.events() == events_before
        assert len(storage.events(account_id="acc-1")) == 2
        # Other records are untouched.
        assert self._attached(storage, "acc-2") == bob_before
        assert storage.get_flow(sha("anonymous")) is not None
        assert storage.get_flow(sha("acc-2-flow")) is not None

    def test_a_deleted_account_frees_its_identifier_and_id(self, storage: Storage) -> None:
        self._populate(storage, "acc-1", "Alice")
        assert storage.delete_account("acc-1")
        fresh = make_account("acc-1", "ALICE", "alice@example.com")
        storage.create_account(fresh)
        assert storage.find_account("alice") == fresh
        assert storage.get_password("acc-1") is None
        assert storage.password_history("acc-1", 10) == []
        assert storage.get_question("acc-1") is None

    def test_delete_unknown_account_is_false(self, storage: Storage) -> None:
        storage.create_account(make_account())
        assert storage.delete_account("acc-2") is False
        assert storage.delete_account("acc-1") is True
        assert storage.delete_account("acc-1") is False
        assert storage.list_accounts() == []

    # -- passwords -----------------------------------------------------------------------------

    def test_no_password_is_none(self, storage: Storage) -> None:
        storage.create_account(make_account())
        assert storage.get_password("acc-1") is None
        assert storage.password_history("acc-1", 5) == []

    def test_set_password_round_trips(self, storage: Storage) -> None:
        storage.create_account(make_account())
        credential = make_credential(
            temporary=True, expires_at=T0 + timedelta(days=1, microseconds=9)
        )
        storage.set_password(credential)
        assert storage.get_password("acc-1") == credential
        permanent = make_credential(hash_="$argon2id$p1", set_at=T0 + US)
        storage.set_password(permanent)
        assert storage.get_password("acc-1") == permanent
        assert storage.get_password("acc-1").expires_at is None  # type: ignore[union-attr]

    def test_a_first_password_adds_no_history(self, storage: Storage) -> None:
        storage.create_account(make_account())
        storage.set_password(make_credential(), keep_history=5)
        assert storage.password_history("acc-1", 5) == []

    def test_keep_history_keeps_the_newest_entries_newest_first(self, storage: Storage) -> None:
        storage.create_account(make_account())
        for n in range(6):
            storage.set_password(
                make_credential(hash_=f"h{n}", set_at=T0 + n * timedelta(days=1)), keep_history=3
            )
        history = storage.password_history("acc-1", 10)
        assert [(e.hash, e.set_at) for e in history] == [
            ("h4", T0 + timedelta(days=4)),
            ("h3", T0 + timedelta(days=3)),
            ("h2", T0 + timedelta(days=2)),
        ]
        assert {e.account_id for e in history} == {"acc-1"}
        assert storage.get_password("acc-1").hash == "h5"  # type: ignore[union-attr]

    def test_password_history_limit_returns_the_newest(self, storage: Storage) -> None:
        storage.create_account(make_account())
        for n in range(5):
            storage.set_password(
                make_credential(hash_=f"h{n}", set_at=T0 + n * US), keep_history=10
            )
        assert [e.hash for e in storage.password_history("acc-1", 2)] == ["h3", "h2"]
        assert [e.hash for e in storage.password_history("acc-1", 1)] == ["h3"]
        assert [e.hash for e in storage.password_history("acc-1", 99)] == ["h3", "h2", "h1", "h0"]

    def test_keep_history_zero_keeps_none(self, storage: Storage) -> None:
        storage.create_account(make_account())
        for n in range(3):
            storage.set_password(make_credential(hash_=f"h{n}", set_at=T0 + n * US))
        for n in range(3, 5):
            storage.set_password(make_credential(hash_=f"h{n}", set_at=T0 + n * US), keep_history=0)
        assert storage.password_history("acc-1", 10) == []
        assert storage.get_password("acc-1").hash == "h4"  # type: ignore[union-attr]

    def test_a_smaller_keep_history_trims_older_entries(self, storage: Storage) -> None:
        storage.create_account(make_account())
        for n in range(5):
            storage.set_password(make_credential(hash_=f"h{n}", set_at=T0 + n * US), keep_history=5)
        assert len(storage.password_history("acc-1", 10)) == 4
        storage.set_password(make_credential(hash_="h5", set_at=T0 + 5 * US), keep_history=2)
        assert [e.hash for e in storage.password_history("acc-1", 10)] == ["h4", "h3"]

    def test_password_history_is_per_account(self, storage: Storage) -> None:
        storage.create_account(make_account())
        storage.create_account(make_account("acc-2", "Bob"))
        for account_id in ("acc-1", "acc-2"):
            for n in range(3):
                storage.set_password(
                    make_credential(account_id, f"{account_id}-{n}", T0 + n * US), keep_history=5
                )
        assert [e.hash for e in storage.password_history("acc-2", 5)] == ["acc-2-1", "acc-2-0"]
        assert [e.hash for e in storage.password_history("acc-1", 5)] == ["acc-1-1", "acc-1-0"]
        assert storage.get_password("acc-1").hash == "acc-1-2"  # type: ignore[union-attr]

    # -- security questions --------------------------------------------------------------------

    def test_set_question_upserts(self, storage: Storage) -> None:
        storage.create_account(make_account())
        storage.create_account(make_account("acc-2", "Bob"))
        assert storage.get_question("acc-1") is None
        first = SecurityQuestion(account_id="acc-1", question="Pet?", answer_hash="$a1", set_at=T0)
        storage.set_question(first)
        assert storage.get_question("acc-1") == first
        second = SecurityQuestion(
            account_id="acc-1", question="Città natale?", answer_hash="$a2", set_at=T0 + US
        )
        storage.set_question(second)
        assert storage.get_question("acc-1") == second
        assert storage.get_question("acc-2") is None

    # -- one-time tokens -----------------------------------------------------------------------

    def test_save_and_get_token(self, storage: Storage) -> None:
        token = make_token(credential_version=4)
        storage.save_token(token)
        assert storage.get_token(token.nonce_hash) == token
        assert storage.get_token(sha("other")) is None

    def test_a_token_saved_as_used_stays_used(self, storage: Storage) -> None:
        token = make_token(used_at=T0 + US)
        storage.save_token(token)
        assert storage.get_token(token.nonce_hash) == token
        assert storage.consume_token(token.nonce_hash, "reset", T0)[0] is ConsumeOutcome.USED

    def test_saving_a_token_twice_raises_value_error(self, storage: Storage) -> None:
        token = make_token()
        storage.save_token(token)
        with pytest.raises(ValueError):
            storage.save_token(make_token(account_id="acc-2", purpose="verify"))
        assert storage.get_token(token.nonce_hash) == token

    @pytest.mark.req("DB-01")
    def test_consume_outcomes(self, storage: Storage) -> None:
        token = make_token()
        storage.save_token(token)
        now = T0 + timedelta(minutes=3, microseconds=7)

        outcome, record = storage.consume_token(token.nonce_hash, "reset", now)
        assert outcome is ConsumeOutcome.CONSUMED
        assert record == token.model_copy(update={"used_at": now})
        assert storage.get_token(token.nonce_hash) == record

        outcome, again = storage.consume_token(token.nonce_hash, "reset", now + US)
        assert outcome is ConsumeOutcome.USED
        assert again == record

        assert storage.consume_token(sha("nope"), "reset", now) == (ConsumeOutcome.UNKNOWN, None)

    @pytest.mark.req("DB-01")
    def test_consume_with_the_wrong_purpose_is_unknown(self, storage: Storage) -> None:
        token = make_token()
        storage.save_token(token)
        assert storage.consume_token(token.nonce_hash, "verify", T0) == (
            ConsumeOutcome.UNKNOWN,
            None,
        )
        assert storage.get_token(token.nonce_hash) == token
        assert storage.consume_token(token.nonce_hash, "reset", T0)[0] is ConsumeOutcome.CONSUMED
        assert storage.consume_token(token.nonce_hash, "verify", T0) == (
            ConsumeOutcome.UNKNOWN,
            None,
        )

    @pytest.mark.req("DB-01")
    def test_consume_at_exactly_the_expiry_succeeds(self, storage: Storage) -> None:
        token = make_token()
        storage.save_token(token)
        outcome, record = storage.consume_token(token.nonce_hash, "reset", token.expires_at)
        assert outcome is ConsumeOutcome.CONSUMED
        assert record is not None
        assert record.used_at == token.expires_at

    @pytest.mark.req("DB-01")
    @pytest.mark.parametrize("late", [US, timedelta(seconds=1)], ids=["1us", "1s"])
    def test_consume_after_the_expiry_is_expired(self, storage: Storage, late: timedelta) -> None:
        token = make_token()
        storage.save_token(token)
        outcome, record = storage.consume_token(token.nonce_hash, "reset", token.expires_at + late)
        assert outcome is ConsumeOutcome.EXPIRED
        assert record == token
        assert storage.get_token(token.nonce_hash) == token

    def test_void_tokens_for_one_purpose(self, storage: Storage) -> None:
        used_at = T0 + timedelta(minutes=1)
        storage.save_token(make_token("r1"))
        storage.save_token(make_token("r2", expires_at=T0 - timedelta(days=1)))
        storage.save_token(make_token("r3", used_at=used_at))
        storage.save_token(make_token("v1", purpose="verify"))
        storage.save_token(make_token("other", account_id="acc-2"))
        now = T0 + timedelta(minutes=2, microseconds=5)

        assert storage.void_tokens("acc-1", "reset", now) == 2

        for name in ("r1", "r2"):
            voided = storage.get_token(sha(name))
            assert voided is not None
            assert voided.used_at == now
            assert storage.consume_token(sha(name), "reset", T0)[0] is ConsumeOutcome.USED
        assert storage.get_token(sha("r3")).used_at == used_at  # type: ignore[union-attr]
        assert storage.consume_token(sha("v1"), "verify", T0)[0] is ConsumeOutcome.CONSUMED
        assert storage.consume_token(sha("other"), "reset", T0)[0] is ConsumeOutcome.CONSUMED
        assert storage.void_tokens("acc-1", "reset", now) == 0

    def test_void_tokens_for_every_purpose(self, storage: Storage) -> None:
        for name, purpose in (("r1", "reset"), ("v1", "verify"), ("l1", "login")):
            storage.save_token(make_token(name, purpose=purpose))
        storage.save_token(make_token("other", account_id="acc-2", purpose="verify"))
        assert storage.void_tokens("acc-1", None, T0) == 3
        for name, purpose in (("r1", "reset"), ("v1", "verify"), ("l1", "login")):
            assert storage.consume_token(sha(name), purpose, T0)[0] is ConsumeOutcome.USED
        assert storage.void_tokens("acc-1", None, T0) == 0
        assert storage.void_tokens("acc-9", None, T0) == 0
        assert storage.get_token(sha("other")).used_at is None  # type: ignore[union-attr]

    # -- flows ---------------------------------------------------------------------------------

    def test_save_and_get_flow(self, storage: Storage) -> None:
        flow = make_flow(attempts=2, version=3)
        anonymous = make_flow("f2", account_id=None, data={})
        storage.save_flow(flow)
        storage.save_flow(anonymous)
        assert storage.get_flow(flow.handle_hash) == flow
        assert storage.get_flow(anonymous.handle_hash) == anonymous
        assert storage.get_flow(sha("f3")) is None

    def test_saving_a_flow_twice_raises_value_error(self, storage: Storage) -> None:
        flow = make_flow()
        storage.save_flow(flow)
        with pytest.raises(ValueError):
            storage.save_flow(make_flow(state="other"))
        assert storage.get_flow(flow.handle_hash) == flow

    def test_advance_flow_replaces_it_and_increments_the_version(self, storage: Storage) -> None:
        flow = make_flow()
        storage.save_flow(flow)
        step = flow.model_copy(update={"state": "code_sent", "data": {"code": "h"}, "attempts": 1})
        stored = storage.advance_flow(step, expected_state="start")
        assert stored == step.model_copy(update={"version": 2})
        assert storage.get_flow(flow.handle_hash) == stored
        final = storage.advance_flow(
            stored.model_copy(update={"state": "done"}), expected_state="code_sent"
        )
        assert final.version == 3
        assert storage.get_flow(flow.handle_hash) == final

    def test_advance_flow_from_the_wrong_state_raises(self, storage: Storage) -> None:
        flow = make_flow()
        storage.save_flow(flow)
        with pytest.raises(ConcurrentUpdate):
            storage.advance_flow(flow.model_copy(update={"state": "x"}), expected_state="done")
        assert storage.get_flow(flow.handle_hash) == flow

    def test_advance_flow_with_a_stale_version_raises(self, storage: Storage) -> None:
        flow = make_flow()
        storage.save_flow(flow)
        advanced = storage.advance_flow(flow, expected_state="start")  # same state, version 2
        for version in (1, 3):
            with pytest.raises(ConcurrentUpdate):
                storage.advance_flow(
                    flow.model_copy(update={"state": "x", "version": version}),
                    expected_state="start",
                )
        assert storage.get_flow(flow.handle_hash) == advanced

    def test_a_replayed_step_is_applied_once(self, storage: Storage) -> None:
        flow = make_flow()
        storage.save_flow(flow)
        step = flow.model_copy(update={"state": "verified"})
        storage.advance_flow(step, expected_state="start")
        with pytest.raises(ConcurrentUpdate):
            storage.advance_flow(step, expected_state="start")
        assert storage.get_flow(flow.handle_hash).version == 2  # type: ignore[union-attr]

    def test_advance_a_missing_flow_raises(self, storage: Storage) -> None:
        with pytest.raises(ConcurrentUpdate):
            storage.advance_flow(make_flow(), expected_state="start")
        assert storage.get_flow(sha("f1")) is None

    def test_delete_flow(self, storage: Storage) -> None:
        storage.save_flow(make_flow())
        storage.save_flow(make_flow("f2"))
        assert storage.delete_flow(sha("f1")) is True
        assert storage.get_flow(sha("f1")) is None
        assert storage.delete_flow(sha("f1")) is False
        assert storage.get_flow(sha("f2")) is not None
        with pytest.raises(ConcurrentUpdate):
            storage.advance_flow(make_flow(), expected_state="start")

    def test_purge_expired_drops_tokens_and_flows_expired_before_the_cutoff(
        self, storage: Storage
    ) -> None:
        cutoff = T0 + timedelta(hours=1)
        storage.save_token(make_token("old", expires_at=cutoff - US))
        storage.save_token(make_token("edge", expires_at=cutoff))
        storage.save_token(make_token("used", expires_at=cutoff - US, used_at=T0))
        storage.save_flow(make_flow("old-flow", expires_at=cutoff - US))
        storage.save_flow(make_flow("live-flow", expires_at=cutoff + US))
        assert storage.purge_expired(cutoff) == 3
        assert storage.get_token(sha("old")) is None
        assert storage.get_token(sha("used")) is None
        assert storage.get_token(sha("edge")) is not None
        assert storage.get_flow(sha("old-flow")) is None
        assert storage.get_flow(sha("live-flow")) is not None
        assert storage.purge_expired(cutoff) == 0
        # the purged token no longer counts for its account; the kept one still does
        assert storage.void_tokens("acc-1", None, T0) == 1

    def test_purge_expired_rolls_back_with_its_transaction(self, storage: Storage) -> None:
        storage.save_token(make_token("old", expires_at=T0))
        with pytest.raises(_Boom):
            _fail_in_transaction(storage, lambda: storage.purge_expired(T0 + US))
        assert storage.get_token(sha("old")) is not None

    # -- organisations -------------------------------------------------------------------------

    def test_create_then_get_organisation_round_trips(self, storage: Storage) -> None:
        siret = make_organisation(
            "o" * 64, "73282932000074", name="Défi Informatique — Agence de Lyon " + "x" * 165
        )
        assert len(siret.name) == 200
        siren = make_organisation("org-2", "732829320", created_at=T0 + US)
        unnumbered = make_organisation("org-3")
        for organisation in (siret, siren, unnumbered):
            storage.create_organisation(organisation)
        assert storage.get_organisation("o" * 64) == siret
        assert storage.get_organisation("org-2") == siren
        assert storage.get_organisation("org-3") == unnumbered

    def test_get_unknown_organisation_is_none(self, storage: Storage) -> None:
        storage.create_organisation(make_organisation())
        assert storage.get_organisation("org-2") is None
        assert storage.get_organisation("ORG-1") is None
        assert storage.get_organisation("") is None

    def test_find_organisation_by_registration_number(self, storage: Storage) -> None:
        siret = make_organisation("org-1", "73282932000074")
        siren = make_organisation("org-2", "732829320")
        storage.create_organisation(siret)
        storage.create_organisation(siren)
        storage.create_organisation(make_organisation("org-3"))
        assert storage.find_organisation("73282932000074") == siret
        assert storage.find_organisation("732829320") == siren
        # The number is compared exactly: normalising it is the caller's job.
        assert storage.find_organisation("732 829 320") is None
        assert storage.find_organisation("73282932000075") is None
        assert storage.find_organisation("") is None

    def test_duplicate_organisation_id_is_refused(self, storage: Storage) -> None:
        original = make_organisation("org-1", "732829320")
        storage.create_organisation(original)
        with pytest.raises(DuplicateOrganisation):
            storage.create_organisation(make_organisation("org-1", "73282932000074", name="B"))
        assert storage.get_organisation("org-1") == original
        assert storage.find_organisation("73282932000074") is None
        assert storage.find_organisation("732829320") == original

    def test_duplicate_registration_number_is_refused(self, storage: Storage) -> None:
        original = make_organisation("org-1", "73282932000074")
        storage.create_organisation(original)
        with pytest.raises(DuplicateOrganisation):
            storage.create_organisation(make_organisation("org-2", "73282932000074"))
        assert storage.get_organisation("org-2") is None
        assert storage.find_organisation("73282932000074") == original

    def test_organisations_without_a_number_are_not_duplicates(self, storage: Storage) -> None:
        for n in range(3):
            storage.create_organisation(make_organisation(f"org-{n}"))
        assert [storage.get_organisation(f"org-{n}") is not None for n in range(3)] == [True] * 3

    # -- memberships ---------------------------------------------------------------------------

    def test_create_then_get_membership_round_trips(self, storage: Storage) -> None:
        # Roles keep their order (and their case), whatever it is.
        membership = make_membership(
            "acc-1",
            "org-1",
            ("viewer", "Admin", "facturation-é", "approver"),
            status=MembershipStatus.ACTIVE,
            version=3,
            updated_at=T0 + timedelta(days=1, microseconds=1),
        )
        no_roles = make_membership("acc-2", "org-1", ())
        storage.create_membership(membership)
        storage.create_membership(no_roles)
        stored = storage.get_membership("acc-1", "org-1")
        assert stored == membership
        assert stored is not None
        assert stored.roles == ("viewer", "Admin", "facturation-é", "approver")
        assert storage.get_membership("acc-2", "org-1") == no_roles
        assert storage.get_membership("acc-2", "org-1").roles == ()  # type: ignore[union-attr]

    def test_a_new_membership_is_pending_approval_by_default(self, storage: Storage) -> None:
        storage.create_membership(make_membership())
        stored = storage.get_membership("acc-1", "org-1")
        assert stored is not None
        assert stored.status is MembershipStatus.PENDING_APPROVAL
        assert stored.version == 1

    def test_get_unknown_membership_is_none(self, storage: Storage) -> None:
        storage.create_membership(make_membership("acc-1", "org-1"))
        assert storage.get_membership("acc-1", "org-2") is None
        assert storage.get_membership("acc-2", "org-1") is None
        assert storage.get_membership("org-1", "acc-1") is None

    def test_duplicate_membership_is_refused(self, storage: Storage) -> None:
        original = make_membership("acc-1", "org-1", ("admin",))
        storage.create_membership(original)
        with pytest.raises(DuplicateMembership):
            storage.create_membership(
                make_membership("acc-1", "org-1", ("user",), status=MembershipStatus.ACTIVE)
            )
        assert storage.get_membership("acc-1", "org-1") == original
        assert storage.memberships_of("acc-1") == [original]
        assert storage.members_of("org-1") == [original]
        # Another organisation, or another account, is not a duplicate.
        storage.create_membership(make_membership("acc-1", "org-2"))
        storage.create_membership(make_membership("acc-2", "org-1"))

    def test_update_membership_replaces_it_and_increments_the_version(
        self, storage: Storage
    ) -> None:
        storage.create_membership(make_membership(version=4))
        changed = make_membership(
            roles=("admin", "user"),
            status=MembershipStatus.DISABLED,
            version=4,
            created_at=T0 - timedelta(days=1),
            updated_at=T0 + timedelta(seconds=30, microseconds=1),
        )
        stored = storage.update_membership(changed)
        assert stored == changed.model_copy(update={"version": 5})
        assert storage.get_membership("acc-1", "org-1") == stored
        again = storage.update_membership(stored.model_copy(update={"roles": ()}))
        assert again.version == 6
        assert storage.get_membership("acc-1", "org-1") == again

    def test_update_membership_with_a_stale_version_raises(self, storage: Storage) -> None:
        storage.create_membership(make_membership())
        first = storage.update_membership(make_membership(status=MembershipStatus.ACTIVE))
        for version in (1, 3):
            with pytest.raises(ConcurrentUpdate):
                storage.update_membership(
                    make_membership(status=MembershipStatus.DISABLED, version=version)
                )
        assert storage.get_membership("acc-1", "org-1") == first

    def test_update_of_a_missing_membership_raises(self, storage: Storage) -> None:
        storage.create_membership(make_membership("acc-1", "org-2"))
        with pytest.raises(ConcurrentUpdate):
            storage.update_membership(make_membership("acc-1", "org-1"))
        assert storage.get_membership("acc-1", "org-1") is None
        assert [m.organisation_id for m in storage.memberships_of("acc-1")] == ["org-2"]

    def test_memberships_of_orders_by_organisation_id(self, storage: Storage) -> None:
        for organisation_id in ("org-b", "org-A", "org-a", "org-0"):
            storage.create_membership(make_membership("acc-1", organisation_id))
        storage.create_membership(make_membership("acc-2", "org-a"))
        found = storage.memberships_of("acc-1")
        assert [m.organisation_id for m in found] == ["org-0", "org-A", "org-a", "org-b"]
        assert {m.account_id for m in found} == {"acc-1"}
        assert found[2] == storage.get_membership("acc-1", "org-a")
        assert storage.memberships_of("acc-9") == []

    def test_members_of_orders_by_account_id_and_paginates(self, storage: Storage) -> None:
        ids = [f"acc-{n}" for n in (5, 1, 7, 3, 2, 6, 4)]
        for account_id in ids:
            storage.create_membership(make_membership(account_id, "org-1"))
        storage.create_membership(make_membership("acc-0", "org-2"))
        pages: list[list[str]] = []
        after: str | None = None
        for _ in range(10):  # bounded, so an adapter that ignores ``after`` fails, not hangs
            page = storage.members_of("org-1", after=after, limit=3)
            if not page:
                break
            pages.append([m.account_id for m in page])
            after = page[-1].account_id
        assert pages == [["acc-1", "acc-2", "acc-3"], ["acc-4", "acc-5", "acc-6"], ["acc-7"]]
        assert [m.account_id for m in storage.members_of("org-1")] == sorted(ids)
        assert [m.account_id for m in storage.members_of("org-1", after="acc-3x", limit=2)] == [
            "acc-4",
            "acc-5",
        ]
        assert storage.members_of("org-1", after="acc-7") == []
        assert [m.account_id for m in storage.members_of("org-2")] == ["acc-0"]
        assert storage.members_of("org-9") == []

    def test_members_of_default_limit_is_100(self, storage: Storage) -> None:
        with storage.transaction():
            for n in range(101):
                storage.create_membership(make_membership(f"acc-{n:03}", "org-1"))
        assert len(storage.members_of("org-1")) == 100
        assert storage.members_of("org-1", limit=10_000)[-1].account_id == "acc-100"
        assert len(storage.members_of("org-1", limit=1)) == 1

    @pytest.mark.parametrize("limit", [0, -1, 10_001])
    def test_members_of_refuses_a_limit_out_of_bounds(self, storage: Storage, limit: int) -> None:
        storage.create_membership(make_membership())
        with pytest.raises(ValueError, match="limit"):
            storage.members_of("org-1", limit=limit)

    # -- second factors ------------------------------------------------------------------------

    def test_save_mfa_factor_round_trips(self, storage: Storage) -> None:
        totp = make_factor(last_step=58_000_000_123, created_at=T0 + US)
        sms = make_factor(kind=MfaKind.SMS, confirmed=False)
        storage.save_mfa_factor(totp)
        storage.save_mfa_factor(sms)
        factors = storage.mfa_factors("acc-1")
        assert factors == [sms, totp]  # ordered by kind: "sms" < "totp"
        assert factors[1].secret == "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        assert factors[1].last_step == 58_000_000_123
        assert factors[0].phone == "+33 6 12 34 56 78"
        assert factors[0].secret is None

    def test_a_new_totp_factor_has_no_step_used(self, storage: Storage) -> None:
        storage.save_mfa_factor(make_factor(confirmed=False))
        (stored,) = storage.mfa_factors("acc-1")
        assert stored.last_step == -1
        assert stored.confirmed is False

    def test_save_mfa_factor_replaces_the_factor_of_that_kind(self, storage: Storage) -> None:
        storage.save_mfa_factor(make_factor(confirmed=False))
        storage.save_mfa_factor(make_factor(kind=MfaKind.SMS))
        storage.save_mfa_factor(make_factor("acc-2"))
        replaced = make_factor(
            secret="GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", last_step=42, created_at=T0 + US
        )
        storage.save_mfa_factor(replaced)
        assert storage.mfa_factors("acc-1") == [make_factor(kind=MfaKind.SMS), replaced]
        assert storage.mfa_factors("acc-2") == [make_factor("acc-2")]

    def test_mfa_factors_of_an_account_without_any_is_empty(self, storage: Storage) -> None:
        storage.save_mfa_factor(make_factor("acc-2"))
        assert storage.mfa_factors("acc-1") == []

    def test_delete_mfa_factor(self, storage: Storage) -> None:
        storage.save_mfa_factor(make_factor())
        storage.save_mfa_factor(make_factor(kind=MfaKind.SMS))
        storage.save_mfa_factor(make_factor("acc-2"))
        assert storage.delete_mfa_factor("acc-1", MfaKind.TOTP) is True
        assert storage.mfa_factors("acc-1") == [make_factor(kind=MfaKind.SMS)]
        assert storage.delete_mfa_factor("acc-1", MfaKind.TOTP) is False
        assert storage.delete_mfa_factor("acc-9", MfaKind.SMS) is False
        assert storage.mfa_factors("acc-2") == [make_factor("acc-2")]
        assert storage.use_totp_step("acc-1", 1) is False

    @pytest.mark.req("OT-04")
    def test_use_totp_step_accepts_only_strictly_newer_steps(self, storage: Storage) -> None:
        storage.save_mfa_factor(make_factor())
        assert storage.use_totp_step("acc-1", 100) is True
        assert storage.use_totp_step("acc-1", 100) is False  # a replay
        assert storage.use_totp_step("acc-1", 99) is False  # an older code after a newer one
        assert storage.mfa_factors("acc-1")[0].last_step == 100
        assert storage.use_totp_step("acc-1", 101) is True
        assert storage.use_totp_step("acc-1", 58_000_000_000) is True
        assert storage.use_totp_step("acc-1", 101) is False
        (stored,) = storage.mfa_factors("acc-1")
        assert stored == make_factor(last_step=58_000_000_000)

    @pytest.mark.req("OT-04")
    def test_use_totp_step_starts_above_the_saved_last_step(self, storage: Storage) -> None:
        storage.save_mfa_factor(make_factor())  # last_step -1: step 0 is newer
        assert storage.use_totp_step("acc-1", 0) is True
        storage.save_mfa_factor(make_factor("acc-2", last_step=500))
        assert storage.use_totp_step("acc-2", 500) is False
        assert storage.use_totp_step("acc-2", 501) is True

    @pytest.mark.req("OT-04")
    def test_use_totp_step_without_a_totp_factor_is_false(self, storage: Storage) -> None:
        assert storage.use_totp_step("acc-1", 1) is False
        storage.save_mfa_factor(make_factor(kind=MfaKind.SMS))
        storage.save_mfa_factor(make_factor("acc-2", last_step=5))
        assert storage.use_totp_step("acc-1", 1) is False
        assert storage.mfa_factors("acc-1") == [make_factor(kind=MfaKind.SMS)]
        assert storage.mfa_factors("acc-2")[0].last_step == 5

    @pytest.mark.req("OT-04")
    def test_totp_steps_are_per_account(self, storage: Storage) -> None:
        storage.save_mfa_factor(make_factor("acc-1"))
        storage.save_mfa_factor(make_factor("acc-2"))
        assert storage.use_totp_step("acc-1", 7) is True
        assert storage.use_totp_step("acc-2", 7) is True
        assert storage.use_totp_step("acc-2", 7) is False
        assert [storage.mfa_factors(a)[0].last_step for a in ("acc-1", "acc-2")] == [7, 7]

    # -- recovery codes ------------------------------------------------------------------------

    @pytest.mark.req("RC-06")
    def test_recovery_codes_left_counts_unused_codes(self, storage: Storage) -> None:
        assert storage.recovery_codes_left("acc-1") == 0
        codes = [make_code(f"c{n}") for n in range(10)]
        storage.replace_recovery_codes("acc-1", codes)
        assert storage.recovery_codes_left("acc-1") == 10
        assert storage.recovery_codes_left("acc-2") == 0
        assert storage.use_recovery_code("acc-1", phc("c3"), T0) is True
        assert storage.recovery_codes_left("acc-1") == 9

    @pytest.mark.req("RC-03")
    def test_use_recovery_code_works_once(self, storage: Storage) -> None:
        storage.replace_recovery_codes("acc-1", [make_code("c1"), make_code("c2")])
        now = T0 + timedelta(minutes=1, microseconds=3)
        assert storage.use_recovery_code("acc-1", phc("c1"), now) is True
        assert storage.use_recovery_code("acc-1", phc("c1"), now + US) is False
        assert storage.recovery_codes_left("acc-1") == 1
        assert storage.use_recovery_code("acc-1", phc("c2"), now) is True
        assert storage.use_recovery_code("acc-1", phc("c2"), now) is False
        assert storage.recovery_codes_left("acc-1") == 0

    @pytest.mark.req("RC-03")
    def test_use_of_an_unknown_recovery_code_is_false(self, storage: Storage) -> None:
        storage.replace_recovery_codes("acc-1", [make_code("c1")])
        storage.replace_recovery_codes("acc-2", [make_code("c2", "acc-2")])
        assert storage.use_recovery_code("acc-1", phc("nope"), T0) is False
        assert storage.use_recovery_code("acc-1", phc("c2"), T0) is False  # another account's
        assert storage.use_recovery_code("acc-9", phc("c1"), T0) is False
        assert storage.recovery_codes_left("acc-1") == 1
        assert storage.recovery_codes_left("acc-2") == 1

    @pytest.mark.req("RC-03")
    def test_a_code_saved_as_used_stays_used(self, storage: Storage) -> None:
        storage.replace_recovery_codes("acc-1", [make_code("c1", used_at=T0 + US), make_code("c2")])
        assert storage.recovery_codes_left("acc-1") == 1
        assert storage.use_recovery_code("acc-1", phc("c1"), T0) is False
        assert storage.use_recovery_code("acc-1", phc("c2"), T0) is True

    @pytest.mark.req("RC-05")
    def test_replace_recovery_codes_replaces_the_whole_set(self, storage: Storage) -> None:
        storage.replace_recovery_codes("acc-1", [make_code(f"old{n}") for n in range(10)])
        storage.replace_recovery_codes("acc-2", [make_code("other", "acc-2")])
        assert storage.use_recovery_code("acc-1", phc("old0"), T0) is True

        storage.replace_recovery_codes("acc-1", [make_code("new0"), make_code("new1")])

        assert storage.recovery_codes_left("acc-1") == 2
        for n in range(10):  # every old code is void, used or not
            assert storage.use_recovery_code("acc-1", phc(f"old{n}"), T0) is False
        assert storage.use_recovery_code("acc-1", phc("new1"), T0) is True
        assert storage.recovery_codes_left("acc-2") == 1
        # The set may be the same codes again, fresh; or nothing at all.
        storage.replace_recovery_codes("acc-1", [make_code("new0"), make_code("new1")])
        assert storage.recovery_codes_left("acc-1") == 2
        storage.replace_recovery_codes("acc-1", [])
        assert storage.recovery_codes_left("acc-1") == 0
        assert storage.use_recovery_code("acc-1", phc("new0"), T0) is False

    @pytest.mark.parametrize(
        "codes",
        [[make_code("c1"), make_code("c2", "acc-2")], [make_code("c1"), make_code("c1")]],
        ids=["another-account", "duplicate"],
    )
    def test_replace_recovery_codes_refuses_a_bad_set(
        self, storage: Storage, codes: list[RecoveryCode]
    ) -> None:
        storage.replace_recovery_codes("acc-1", [make_code("kept")])
        with pytest.raises(ValueError):
            storage.replace_recovery_codes("acc-1", codes)
        assert storage.recovery_codes_left("acc-1") == 1
        assert storage.recovery_codes_left("acc-2") == 0
        assert storage.use_recovery_code("acc-1", phc("kept"), T0) is True

    @pytest.mark.req("RC-02")
    def test_recovery_codes_finds_the_unused_codes_of_a_selector(self, storage: Storage) -> None:
        storage.replace_recovery_codes(
            "acc-1",
            [
                make_code("a1", selector="ABCD"),
                make_code("a2", selector="ABCD"),  # two codes may share a selector
                make_code("a3", selector="ABCD", used_at=T0 + US),
                make_code("b1", selector="EFGH"),
            ],
        )
        storage.replace_recovery_codes("acc-2", [make_code("x1", "acc-2", selector="ABCD")])

        def found(account_id: str, selector: str) -> list[RecoveryCode]:
            return sorted(storage.recovery_codes(account_id, selector), key=lambda c: c.code_hash)

        assert found("acc-1", "ABCD") == sorted(
            [make_code("a1", selector="ABCD"), make_code("a2", selector="ABCD")],
            key=lambda c: c.code_hash,
        )
        assert found("acc-1", "EFGH") == [make_code("b1", selector="EFGH")]
        assert found("acc-2", "ABCD") == [make_code("x1", "acc-2", selector="ABCD")]
        # The selector and the account are compared exactly.
        for account_id, selector in [("acc-1", "abcd"), ("acc-1", "ABC"), ("acc-1", "ABCDE")]:
            assert found(account_id, selector) == []
        assert found("acc-3", "ABCD") == []

        assert storage.use_recovery_code("acc-1", phc("a1"), T0) is True
        assert found("acc-1", "ABCD") == [make_code("a2", selector="ABCD")]
        assert storage.use_recovery_code("acc-1", phc("a2"), T0) is True
        assert found("acc-1", "ABCD") == []
        assert found("acc-2", "ABCD") == [make_code("x1", "acc-2", selector="ABCD")]

    def test_recovery_codes_round_trip_at_their_maximum_lengths(self, storage: Storage) -> None:
        longest = make_code("long", selector="Z" * 16).model_copy(
            update={"code_hash": phc("long").ljust(255, "A")}
        )
        code = RecoveryCode.model_validate(longest.model_dump())  # still a valid record
        assert (len(code.code_hash), len(code.selector)) == (255, 16)
        storage.replace_recovery_codes("acc-1", [code])
        assert storage.recovery_codes("acc-1", "Z" * 16) == [code]
        assert storage.use_recovery_code("acc-1", code.code_hash[:-1], T0) is False
        assert storage.use_recovery_code("acc-1", code.code_hash, T0) is True

    @pytest.mark.req("RC-03")
    def test_use_recovery_code_compares_the_stored_hash_exactly(self, storage: Storage) -> None:
        storage.replace_recovery_codes("acc-1", [make_code("c1", selector="ABCD")])
        stored = phc("c1")
        for near in (stored[:-1], stored + "A", stored.upper(), " " + stored, "ABCD", ""):
            assert storage.use_recovery_code("acc-1", near, T0) is False
        assert storage.recovery_codes_left("acc-1") == 1
        assert storage.use_recovery_code("acc-1", stored, T0) is True

    def test_a_used_code_keeps_its_selector_and_stays_out_of_the_candidates(
        self, storage: Storage
    ) -> None:
        storage.replace_recovery_codes("acc-1", [make_code("c1", selector="ABCD")])
        assert storage.use_recovery_code("acc-1", phc("c1"), T0 + timedelta(minutes=1)) is True
        assert storage.recovery_codes("acc-1", "ABCD") == []
        # Replacing the set with the same code again brings it back, unused.
        storage.replace_recovery_codes("acc-1", [make_code("c1", selector="ABCD")])
        assert storage.recovery_codes("acc-1", "ABCD") == [make_code("c1", selector="ABCD")]

    # -- everything attached to an account goes with it ----------------------------------------

    def _enrol(self, storage: Storage, account_id: str, identifier: str) -> None:
        storage.create_account(make_account(account_id, identifier, None))
        for organisation_id in ("org-1", "org-2"):
            storage.create_membership(make_membership(account_id, organisation_id))
        storage.save_mfa_factor(make_factor(account_id))
        storage.save_mfa_factor(make_factor(account_id, MfaKind.SMS))
        storage.replace_recovery_codes(
            account_id, [make_code(f"{account_id}-{n}", account_id) for n in range(3)]
        )

    def test_delete_account_removes_memberships_factors_and_recovery_codes(
        self, storage: Storage
    ) -> None:
        storage.create_organisation(make_organisation("org-1", "732829320"))
        self._enrol(storage, "acc-1", "Alice")
        self._enrol(storage, "acc-2", "Bob")
        bob = (
            storage.memberships_of("acc-2"),
            storage.mfa_factors("acc-2"),
            storage.recovery_codes_left("acc-2"),
        )

        assert storage.delete_account("acc-1") is True

        assert storage.memberships_of("acc-1") == []
        assert storage.get_membership("acc-1", "org-1") is None
        assert [m.account_id for m in storage.members_of("org-1")] == ["acc-2"]
        assert storage.mfa_factors("acc-1") == []
        assert storage.use_totp_step("acc-1", 1) is False
        assert storage.recovery_codes_left("acc-1") == 0
        assert storage.use_recovery_code("acc-1", phc("acc-1-0"), T0) is False
        assert storage.recovery_codes("acc-1", "acc-1-0") == []
        # The organisation stays, and so does everything of the other account.
        assert storage.get_organisation("org-1") == make_organisation("org-1", "732829320")
        assert (
            storage.memberships_of("acc-2"),
            storage.mfa_factors("acc-2"),
            storage.recovery_codes_left("acc-2"),
        ) == bob
        # An account created again under the same id starts with nothing.
        storage.create_account(make_account("acc-1", "Alice", None))
        assert storage.memberships_of("acc-1") == []
        assert storage.mfa_factors("acc-1") == []
        assert storage.recovery_codes_left("acc-1") == 0

    # -- transactions over the new records (DB-02) ---------------------------------------------

    def _snapshot_of_second_factors(self, storage: Storage) -> dict[str, Any]:
        return {
            "organisations": [storage.get_organisation(f"org-{n}") for n in (1, 2, 3)],
            "by_number": [storage.find_organisation(n) for n in ("732829320", "552100554")],
            "memberships": [storage.memberships_of(a) for a in ("acc-1", "acc-2", "acc-3")],
            "members": [storage.members_of(f"org-{n}") for n in (1, 2, 3)],
            "factors": [storage.mfa_factors(a) for a in ("acc-1", "acc-2")],
            "codes_left": [storage.recovery_codes_left(a) for a in ("acc-1", "acc-2")],
            "codes": [storage.recovery_codes(a, f"{a}-0") for a in ("acc-1", "acc-2")],
        }

    @pytest.mark.req("DB-02")
    def test_transaction_rolls_back_writes_to_organisations_factors_and_codes(
        self, storage: Storage
    ) -> None:
        storage.create_organisation(make_organisation("org-1", "732829320"))
        storage.create_organisation(make_organisation("org-2"))
        self._enrol(storage, "acc-1", "Alice")
        self._enrol(storage, "acc-2", "Bob")
        before = self._snapshot_of_second_factors(storage)

        def write_everything() -> None:
            storage.create_organisation(make_organisation("org-3", "552100554"))
            storage.create_membership(make_membership("acc-3", "org-3"))
            current = storage.get_membership("acc-1", "org-1")
            assert current is not None
            storage.update_membership(current.model_copy(update={"roles": ("admin",)}))
            storage.save_mfa_factor(make_factor("acc-1", secret="GEZDGNBVGY3TQOJQ"))
            assert storage.delete_mfa_factor("acc-1", MfaKind.SMS)
            assert storage.use_totp_step("acc-2", 10)
            assert storage.use_recovery_code("acc-2", phc("acc-2-0"), T0)
            storage.replace_recovery_codes("acc-1", [make_code("fresh")])
            assert storage.delete_account("acc-2")

        with pytest.raises(_Boom):
            _fail_in_transaction(storage, write_everything)
        assert self._snapshot_of_second_factors(storage) == before
        assert storage.use_totp_step("acc-2", 10) is True  # the step was not recorded
        assert storage.use_recovery_code("acc-2", phc("acc-2-0"), T0) is True

    @pytest.mark.parametrize("duplicate", ["organisation", "membership"])
    def test_a_duplicate_inside_a_transaction_rolls_it_back(
        self, storage: Storage, duplicate: str
    ) -> None:
        storage.create_organisation(make_organisation("org-1", "732829320"))
        storage.create_membership(make_membership())
        storage.save_mfa_factor(make_factor())

        def sign_up() -> None:
            with storage.transaction():
                storage.use_totp_step("acc-1", 3)
                storage.replace_recovery_codes("acc-1", [make_code("c1")])
                storage.create_organisation(make_organisation("org-2"))
                if duplicate == "organisation":
                    storage.create_organisation(make_organisation("org-3", "732829320"))
                else:
                    storage.create_membership(make_membership())

        with pytest.raises((DuplicateOrganisation, DuplicateMembership)) as raised:
            sign_up()
        assert type(raised.value) is (
            DuplicateOrganisation if duplicate == "organisation" else DuplicateMembership
        )
        assert storage.get_organisation("org-2") is None
        assert storage.get_organisation("org-3") is None
        assert storage.mfa_factors("acc-1")[0].last_step == -1
        assert storage.recovery_codes_left("acc-1") == 0

    # -- lock_email ----------------------------------------------------------------------------

    def test_lock_email_inside_a_transaction(self, storage: Storage) -> None:
        storage.create_account(make_account("acc-1", "Alice", None))
        key = email_key("Alice@Example.com")
        with storage.transaction():
            storage.lock_email(key)
            storage.lock_email(key)  # twice in one transaction: no self-deadlock
            storage.lock_email("other@example.com")
            with storage.transaction():  # a nested block joins the same transaction
                storage.lock_email(key)
            assert storage.find_accounts_by_email(key) == []
            alice = storage.get_account("acc-1")
            assert alice is not None
            storage.update_account(
                alice.model_copy(update={"email": "Alice@Example.com", "email_key": key})
            )
        assert [a.id for a in storage.find_accounts_by_email(key)] == ["acc-1"]

    @pytest.mark.parametrize("ending", ["commit", "rollback"])
    def test_lock_email_is_released_when_the_transaction_ends(
        self, storage: Storage, ending: str
    ) -> None:
        key = "alice@example.com"
        if ending == "commit":
            with storage.transaction():
                storage.lock_email(key)
        else:
            with pytest.raises(_Boom):
                _fail_in_transaction(storage, lambda: storage.lock_email(key))
        done = threading.Event()

        def lock_again() -> None:  # another thread, so another transaction and connection
            with storage.transaction():
                storage.lock_email(key)
            done.set()

        thread = threading.Thread(target=lock_again, daemon=True)
        thread.start()
        thread.join(timeout=10)
        assert done.is_set(), "the email lock was still held after its transaction ended"

    # -- counters ------------------------------------------------------------------------------

    @pytest.mark.req("LK-12")
    def test_increment_counter_returns_the_new_value(self, storage: Storage) -> None:
        assert [storage.increment_counter("k1", T0 + n * US) for n in range(3)] == [1, 2, 3]
        assert storage.get_counter("k1") == 3
        assert storage.increment_counter("k2", T0) == 1
        assert storage.get_counter("k1") == 3
        assert storage.get_counter("k3") == 0

    def test_reset_counter(self, storage: Storage) -> None:
        storage.increment_counter("k1", T0)
        storage.increment_counter("k1", T0)
        storage.increment_counter("k2", T0)
        storage.reset_counter("k1")
        assert storage.get_counter("k1") == 0
        assert storage.get_counter("k2") == 1
        assert storage.increment_counter("k1", T0) == 1
        storage.reset_counter("never-set")
        assert storage.get_counter("never-set") == 0

    def test_purge_counters_drops_idle_ones(self, storage: Storage) -> None:
        storage.increment_counter("recovery:a:1", T0)
        storage.increment_counter("recovery:b:1", T0)
        storage.increment_counter("recovery:b:1", T0 + 10 * US)  # touched later: kept
        storage.increment_counter("recovery%:c", T0)  # a LIKE wildcard in the key
        storage.increment_counter("login:acc-1", T0)
        assert storage.purge_counters(T0 + 5 * US, "recovery%") == 1
        assert storage.get_counter("recovery%:c") == 0
        assert storage.purge_counters(T0 + 5 * US, "recovery:") == 1
        assert storage.get_counter("recovery:a:1") == 0
        assert storage.get_counter("recovery:b:1") == 2
        assert storage.get_counter("login:acc-1") == 1
        assert storage.purge_counters(T0 + 11 * US) == 2
        assert storage.get_counter("recovery:b:1") == 0
        assert storage.get_counter("login:acc-1") == 0
        assert storage.increment_counter("login:acc-1", T0) == 1

    @pytest.mark.parametrize("wildcard", ["_", "/", "\\", "%"])
    def test_purge_counters_takes_the_prefix_literally(
        self, storage: Storage, wildcard: str
    ) -> None:
        # LIKE's wildcards and common escape characters in the prefix match only themselves.
        prefix = f"rate{wildcard}"
        for key in (f"rate{wildcard}a", "rateXa", "rate/a", "rate\\a", "rate_a", "rate%a"):
            storage.increment_counter(key, T0)
        assert storage.purge_counters(T0 + US, prefix) == 1
        assert storage.get_counter(f"rate{wildcard}a") == 0
        others = {"rateXa", "rate/a", "rate\\a", "rate_a", "rate%a"} - {f"rate{wildcard}a"}
        assert [storage.get_counter(k) for k in sorted(others)] == [1] * len(others)

    def test_counter_keys_are_exact(self, storage: Storage) -> None:
        key = "login:acc-1:" + "x" * 150
        assert storage.increment_counter(key, T0) == 1
        assert storage.get_counter(key.upper()) == 0
        assert storage.get_counter(key) == 1

    # -- audit events --------------------------------------------------------------------------

    def test_events_come_back_oldest_first_with_their_details(self, storage: Storage) -> None:
        appended = [
            make_event("account_created", "acc-1", T0, temporary=True, by=None),
            make_event("signed_in", "acc-2", T0 + US, method="password", attempts=3),
            make_event("system_start", None, T0 + 2 * US, version="1.0", ok=False, n=-1),
        ]
        for event in appended:
            storage.append_event(event)
        assert storage.events() == appended
        assert storage.events()[0].details == {"temporary": True, "by": None}
        assert storage.events()[2].details == {"version": "1.0", "ok": False, "n": -1}

    def test_events_with_the_same_instant_keep_their_order(self, storage: Storage) -> None:
        appended = [make_event(f"e{n}", "acc-1", T0) for n in range(5)]
        for event in appended:
            storage.append_event(event)
        assert [e.type for e in storage.events()] == ["e0", "e1", "e2", "e3", "e4"]

    def test_events_filter_by_account_and_since(self, storage: Storage) -> None:
        for n in range(6):
            storage.append_event(make_event(f"e{n}", f"acc-{n % 2}", T0 + n * US))
        assert [e.type for e in storage.events(account_id="acc-1")] == ["e1", "e3", "e5"]
        assert [e.type for e in storage.events(since=T0 + 3 * US)] == ["e3", "e4", "e5"]
        assert [e.type for e in storage.events(account_id="acc-0", since=T0 + 2 * US)] == [
            "e2",
            "e4",
        ]
        assert storage.events(since=T0 + 6 * US) == []
        assert storage.events(account_id="acc-9") == []

    def test_events_limit_returns_the_oldest(self, storage: Storage) -> None:
        for n in range(5):
            storage.append_event(make_event(f"e{n}", "acc-1", T0 + n * US))
        assert [e.type for e in storage.events(limit=2)] == ["e0", "e1"]
        assert [e.type for e in storage.events(limit=2, since=T0 + 2 * US)] == ["e2", "e3"]
        assert len(storage.events(limit=1)) == 1

    @pytest.mark.parametrize("limit", [0, -5, 10_001])
    def test_events_refuse_a_limit_out_of_bounds(self, storage: Storage, limit: int) -> None:
        storage.append_event(make_event())
        with pytest.raises(ValueError, match="limit"):
            storage.events(limit=limit)

    def test_pseudonymise_events(self, storage: Storage) -> None:
        for n in range(5):
            storage.append_event(make_event(f"e{n}", "acc-1" if n != 2 else "acc-2", T0 + n * US))
        before = storage.events()

        assert storage.pseudonymise_events("acc-1", "anon-7f3a") == 4

        assert storage.events(account_id="acc-1") == []
        after = storage.events()
        assert after == [
            e.model_copy(update={"account_id": "anon-7f3a"}) if e.account_id == "acc-1" else e
            for e in before
        ]
        assert [e.type for e in storage.events(account_id="anon-7f3a")] == ["e0", "e1", "e3", "e4"]
        assert storage.pseudonymise_events("acc-1", "anon-other") == 0
        assert storage.pseudonymise_events("acc-9", "anon-9") == 0
        assert storage.events() == after

    # -- datetimes -----------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "instant",
        [
            T0,
            datetime(1970, 1, 1, tzinfo=UTC),
            datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
            datetime(2038, 1, 19, 3, 14, 8, 1, tzinfo=UTC),
            datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        ],
        ids=["t0", "epoch", "before-epoch", "after-2038", "max"],
    )
    def test_datetimes_round_trip_exactly(self, storage: Storage, instant: datetime) -> None:
        later = instant - US if instant.year == 9999 else instant + US
        storage.create_account(
            make_account(
                created_at=instant,
                updated_at=later,
                locked_until=instant,
            )
        )
        storage.set_password(make_credential(hash_="h1", set_at=later))
        storage.set_password(make_credential(set_at=instant, expires_at=later), keep_history=1)
        storage.set_question(
            SecurityQuestion(account_id="acc-1", question="Q?", answer_hash="$a", set_at=instant)
        )
        storage.save_token(make_token(created_at=instant, expires_at=instant, used_at=later))
        storage.save_flow(make_flow(created_at=instant, expires_at=later))
        storage.append_event(make_event(at=instant))

        values = [
            storage.get_account("acc-1").created_at,  # type: ignore[union-attr]
            storage.get_account("acc-1").locked_until,  # type: ignore[union-attr]
            storage.get_password("acc-1").set_at,  # type: ignore[union-attr]
            storage.get_question("acc-1").set_at,  # type: ignore[union-attr]
            storage.get_token(sha("t1")).created_at,  # type: ignore[union-attr]
            storage.get_token(sha("t1")).expires_at,  # type: ignore[union-attr]
            storage.get_flow(sha("f1")).created_at,  # type: ignore[union-attr]
            storage.events()[0].at,
        ]
        for value in values:
            assert value == instant
            assert value is not None
            assert value.microsecond == instant.microsecond
            assert value.utcoffset() == timedelta(0)
        assert storage.get_account("acc-1").updated_at == later  # type: ignore[union-attr]
        assert storage.get_password("acc-1").expires_at == later  # type: ignore[union-attr]
        assert storage.password_history("acc-1", 1)[0].set_at == later
        assert storage.get_token(sha("t1")).used_at == later  # type: ignore[union-attr]
        assert storage.get_flow(sha("f1")).expires_at == later  # type: ignore[union-attr]
        assert [e.type for e in storage.events(since=instant)] == ["signed_in"]
        if instant.year < 9999:
            assert storage.events(since=instant + US) == []

    def test_datetimes_in_another_offset_keep_their_instant(self, storage: Storage) -> None:
        india = timezone(timedelta(hours=5, minutes=30))
        local = datetime(2025, 3, 14, 20, 39, 26, 535_897, tzinfo=india)
        assert local == T0
        storage.create_account(make_account(created_at=local, updated_at=local))
        storage.save_token(make_token(expires_at=local))
        stored = storage.get_account("acc-1")
        assert stored is not None
        assert stored.created_at == T0
        assert stored.created_at.utcoffset() is not None
        assert storage.consume_token(sha("t1"), "reset", T0)[0] is ConsumeOutcome.CONSUMED

    # -- transactions (DB-02) ------------------------------------------------------------------

    def test_transaction_commits_when_no_error(self, storage: Storage) -> None:
        with storage.transaction():
            storage.create_account(make_account())
            storage.set_password(make_credential())
            storage.increment_counter("k1", T0)
            storage.append_event(make_event())
        assert storage.get_account("acc-1") == make_account()
        assert storage.get_password("acc-1") == make_credential()
        assert storage.get_counter("k1") == 1
        assert storage.events() == [make_event()]

    def test_reads_inside_a_transaction_see_its_writes(self, storage: Storage) -> None:
        with storage.transaction():
            storage.create_account(make_account())
            assert storage.find_account("alice") == make_account()
            assert storage.increment_counter("k1", T0) == 1
            assert storage.increment_counter("k1", T0) == 2
            storage.save_token(make_token())
            assert storage.consume_token(sha("t1"), "reset", T0)[0] is ConsumeOutcome.CONSUMED
            assert storage.consume_token(sha("t1"), "reset", T0)[0] is ConsumeOutcome.USED

    def _seed(self, storage: Storage) -> None:
        storage.create_account(make_account("acc-1", "Alice"))
        storage.create_account(make_account("acc-2", "Bob", "bob@example.com"))
        storage.set_password(make_credential("acc-1", "$old", T0))
        storage.set_password(make_credential("acc-1", "$current", T0 + US), keep_history=3)
        storage.set_question(
            SecurityQuestion(account_id="acc-1", question="Q?", answer_hash="$a", set_at=T0)
        )
        storage.save_token(make_token("t1"))
        storage.save_token(make_token("t2", purpose="verify"))
        storage.save_token(make_token("t3", account_id="acc-2"))
        storage.save_flow(make_flow("f1"))
        storage.save_flow(make_flow("f2", account_id="acc-2"))
        storage.increment_counter("k1", T0)
        storage.increment_counter("k1", T0)
        storage.increment_counter("k2", T0)
        storage.append_event(make_event("account_created", "acc-1"))

    def _write_everything(self, storage: Storage) -> None:
        now = T0 + timedelta(minutes=1)
        storage.create_account(make_account("acc-3", "Carol", "alice@example.com"))
        alice = storage.get_account("acc-1")
        assert alice is not None
        storage.update_account(alice.model_copy(update={"lockouts": 5, "email_key": "x@y.z"}))
        storage.set_password(make_credential("acc-1", "$new", now), keep_history=3)
        storage.set_question(
            SecurityQuestion(account_id="acc-1", question="New?", answer_hash="$b", set_at=now)
        )
        assert storage.consume_token(sha("t1"), "reset", now)[0] is ConsumeOutcome.CONSUMED
        assert storage.void_tokens("acc-1", None, now) == 1
        storage.save_token(make_token("t4"))
        storage.save_flow(make_flow("f3"))
        storage.advance_flow(make_flow("f1", state="done"), expected_state="start")
        assert storage.delete_flow(sha("f2"))
        assert storage.increment_counter("k1", now) == 3
        storage.increment_counter("k3", now)
        storage.reset_counter("k2")
        storage.append_event(make_event("password_changed", "acc-1", now))
        assert storage.pseudonymise_events("acc-1", "anon") == 2
        assert storage.delete_account("acc-2")

    @pytest.mark.req("DB-02")
    def test_transaction_rolls_back_every_write_on_error(self, storage: Storage) -> None:
        self._seed(storage)
        tokens = ["t1", "t2", "t3", "t4"]
        before = _snapshot(storage, ["acc-1", "acc-2", "acc-3"], tokens)
        with pytest.raises(_Boom):
            _fail_in_transaction(storage, lambda: self._write_everything(storage))
        assert _snapshot(storage, ["acc-1", "acc-2", "acc-3"], tokens) == before

    @pytest.mark.req("DB-02")
    def test_a_transaction_that_completes_keeps_every_write(self, storage: Storage) -> None:
        self._seed(storage)
        with storage.transaction():
            self._write_everything(storage)
        assert storage.get_account("acc-3") is not None
        assert storage.get_account("acc-2") is None
        assert storage.get_account("acc-1").lockouts == 5  # type: ignore[union-attr]
        assert storage.get_password("acc-1").hash == "$new"  # type: ignore[union-attr]
        assert [e.hash for e in storage.password_history("acc-1", 5)] == ["$current", "$old"]
        assert storage.get_token(sha("t2")).used_at is not None  # type: ignore[union-attr]
        assert storage.get_flow(sha("f1")).state == "done"  # type: ignore[union-attr]
        assert storage.get_counter("k1") == 3
        assert storage.get_counter("k2") == 0
        assert [e.account_id for e in storage.events()] == ["anon", "anon"]

    @pytest.mark.req("DB-02")
    def test_a_failed_step_leaves_the_token_unused(self, storage: Storage) -> None:
        # The DB-02 fault injection: a failure after the password write commits nothing.
        self._seed(storage)
        now = T0 + timedelta(minutes=1)

        def reset_password() -> None:
            outcome, _ = storage.consume_token(sha("t1"), "reset", now)
            assert outcome is ConsumeOutcome.CONSUMED
            storage.set_password(make_credential("acc-1", "$new", now), keep_history=3)
            # ... and the step fails before its counter reset and audit event.

        with pytest.raises(_Boom):
            _fail_in_transaction(storage, reset_password)
        assert storage.get_password("acc-1").hash == "$current"  # type: ignore[union-attr]
        assert [e.hash for e in storage.password_history("acc-1", 5)] == ["$old"]
        assert storage.consume_token(sha("t1"), "reset", now)[0] is ConsumeOutcome.CONSUMED

    def test_a_rolled_back_transaction_leaves_the_storage_usable(self, storage: Storage) -> None:
        with pytest.raises(_Boom):
            _fail_in_transaction(storage, lambda: storage.create_account(make_account()))
        with storage.transaction():
            storage.create_account(make_account())
        assert storage.get_account("acc-1") == make_account()
        storage.create_account(make_account("acc-2", "Bob"))
        assert len(storage.list_accounts()) == 2

    def test_a_storage_error_inside_a_transaction_rolls_it_back(self, storage: Storage) -> None:
        storage.create_account(make_account())

        def sign_up_twice() -> None:
            with storage.transaction():
                storage.increment_counter("k1", T0)
                storage.append_event(make_event())
                storage.create_account(make_account("acc-2", "ALICE"))

        with pytest.raises(DuplicateIdentifier):
            sign_up_twice()
        assert storage.get_counter("k1") == 0
        assert storage.events() == []
        assert storage.get_account("acc-2") is None

    def test_nested_transaction_joins_the_outer_one(self, storage: Storage) -> None:

        def work() -> None:
            storage.create_account(make_account())
            with storage.transaction():
                storage.increment_counter("k1", T0)
                storage.save_token(make_token())
                storage.append_event(make_event())
            # The inner block is over, but it committed nothing on its own.
            assert storage.get_counter("k1") == 1

        with pytest.raises(_Boom):
            _fail_in_transaction(storage, work)
        assert storage.get_account("acc-1") is None
        assert storage.get_counter("k1") == 0
        assert storage.get_token(sha("t1")) is None
        assert storage.events() == []

    def test_an_error_in_a_nested_transaction_rolls_back_the_outer_one(
        self, storage: Storage
    ) -> None:

        def work() -> None:
            storage.create_account(make_account())
            _fail_in_transaction(storage, lambda: storage.save_flow(make_flow()))

        with pytest.raises(_Boom):
            _fail_in_transaction(storage, work)
        assert storage.get_account("acc-1") is None
        assert storage.get_flow(sha("f1")) is None

    def test_nested_transactions_commit_with_the_outer_one(self, storage: Storage) -> None:
        with storage.transaction():
            storage.create_account(make_account())
            with storage.transaction():
                storage.increment_counter("k1", T0)
                with storage.transaction():
                    storage.append_event(make_event())
        assert storage.get_account("acc-1") == make_account()
        assert storage.get_counter("k1") == 1
        assert storage.events() == [make_event()]
