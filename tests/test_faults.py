"""Fault injection (DB-02): a storage that fails on the Nth write, for every multi-write
operation and every N, leaves nothing half-written, on memory and on SQLite."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.factories import make_cf

from credflow.facade import Credflow
from credflow.notify import Message
from credflow.storage.memory import MemoryStorage
from credflow.storage.records import RequiredAction
from credflow.storage.sql import SQLStorage, metadata

WRITES = frozenset(
    {
        "create_account",
        "update_account",
        "delete_account",
        "set_password",
        "set_question",
        "save_token",
        "consume_token",
        "void_tokens",
        "save_flow",
        "advance_flow",
        "delete_flow",
        "increment_counter",
        "reset_counter",
        "append_event",
        "pseudonymise_events",
    }
)


class InjectedFault(RuntimeError):
    pass


class FaultyStorage:
    """Delegates to ``inner``; the ``fail_at``-th write call raises InjectedFault."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.fail_at: int | None = None
        self.writes = 0

    def transaction(self) -> AbstractContextManager[None]:
        return self.inner.transaction()  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in WRITES:
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            self.writes += 1
            if self.fail_at is not None and self.writes == self.fail_at:
                raise InjectedFault(name)
            return attr(*args, **kwargs)

        return write


def dump(storage: Any) -> Any:
    if isinstance(storage, MemoryStorage):
        return copy.deepcopy({k: v for k, v in vars(storage).items() if not k.startswith("_l")})
    assert isinstance(storage, SQLStorage)
    with storage.engine.connect() as conn:
        return {
            table.name: sorted(
                (tuple(sorted(dict(row._mapping).items())) for row in conn.execute(table.select())),
                key=repr,
            )
            for table in metadata.sorted_tables
        }


class FailingNotifier:
    def __init__(self) -> None:
        self.fail = False
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        if self.fail:
            raise InjectedFault("smtp down")
        self.sent.append(message)


@pytest.fixture(params=["memory", "sqlite"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """A factory of empty storages of one kind."""
    made: list[SQLStorage] = []

    def make() -> Any:
        if request.param == "memory":
            return MemoryStorage()
        storage = SQLStorage(f"sqlite:///{tmp_path}/faults{len(made)}.db", create=True)
        made.append(storage)
        return storage

    yield make
    for storage in made:
        storage.dispose()


def world(inner: Any) -> tuple[Credflow, FaultyStorage, dict[str, str]]:
    storage = FaultyStorage(inner)
    cf = make_cf(storage, mail_temporary_password=True)  # type: ignore[arg-type]
    ids = {
        name: cf.accounts.create(name, email=f"{name}@example.fr").account.id
        for name in ("alice", "bob", "carol")
    }
    cf.storage.increment_counter(f"login:{ids['alice']}", cf.clock.now())
    return cf, storage, ids


OPERATIONS: dict[str, Callable[[Credflow, dict[str, str]], object]] = {
    "create": lambda cf, ids: cf.accounts.create("dave", email="dave@example.fr"),
    "set_temporary_password": lambda cf, ids: cf.accounts.set_temporary_password(ids["alice"]),
    "delete": lambda cf, ids: cf.accounts.delete(ids["bob"]),
    "require_actions": lambda cf, ids: cf.accounts.require_actions(
        list(ids.values()), [RequiredAction.ENROLL_TOTP]
    ),
    "unlock": lambda cf, ids: cf.accounts.unlock(ids["alice"]),
    "disable": lambda cf, ids: cf.accounts.disable(ids["carol"]),
}


@pytest.mark.req("DB-02")
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_write_failure_leaves_the_old_state_whole(
    fresh: Callable[[], Any], operation: str
) -> None:
    cf, storage, ids = world(fresh())
    storage.writes = 0
    OPERATIONS[operation](cf, ids)
    total = storage.writes
    assert total >= 2, f"{operation} is not a multi-write operation ({total})"

    cf, storage, ids = world(fresh())
    for n in range(1, total + 1):
        before = dump(storage.inner)
        storage.writes, storage.fail_at = 0, n
        with pytest.raises(InjectedFault):
            OPERATIONS[operation](cf, ids)
        storage.fail_at = None
        assert dump(storage.inner) == before, f"{operation}: half-written after failing write {n}"


@pytest.mark.req("DB-02")
def test_notifier_failure_rolls_the_creation_back(fresh: Callable[[], Any]) -> None:
    backend = fresh()
    notifier = FailingNotifier()
    cf = Credflow(
        storage=backend,
        settings=make_cf(mail_temporary_password=True).settings,
        notifier=notifier,
        clock=make_cf().clock,
    )
    before = dump(backend)
    notifier.fail = True
    with pytest.raises(InjectedFault):
        cf.accounts.create("erin", email="erin@example.fr")
    assert dump(backend) == before
    notifier.fail = False
    assert cf.accounts.create("erin", email="erin@example.fr").account.identifier == "erin"
    assert [m.kind for m in notifier.sent] == ["identifier", "temporary_password"]


def test_dump_sees_changes() -> None:
    storage = MemoryStorage()
    before = dump(storage)
    make_cf(storage).accounts.create("x")
    assert dump(storage) != before
    assert sa.__version__
