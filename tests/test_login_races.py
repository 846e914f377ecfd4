"""Sign-in races: sixteen Credflow instances (sixteen "app servers") on one storage, sixteen
threads released together by a barrier.

Run on the memory adapter, SQLite (a file, so every thread has its own connection) and
PostgreSQL (READ COMMITTED). Each race is repeated a few rounds, on a fresh account each time.

- LK-12: parallel wrong passwords are all counted (no lost update) and the lock engages; an
  attempt that read the account after the lock is denied as locked and not counted (LK-04).
- DB-01: one first-login handle used sixteen times at once changes the password once.
- RS-06: one unlock link redeemed sixteen times at once unlocks once.
- SS-02: sixteen parallel correct logins give sixteen distinct, valid sessions, also right
  after a lock lapsed (every success resets the lock escalation: LK-05).

Two races are also replayed deterministically, one request paused at the worst moment while
another completes: a first-login step overtaken by its twin answers ``invalid`` (not "same as
the current password"), and a login overtaken by another success still succeeds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from tests.factories import classic_settings, clock, make_cf, outbox
from tests.storage_fixtures import ADAPTERS, WORKERS, open_storage, race

from credflow.clock import FrozenClock
from credflow.facade import Credflow
from credflow.hashing import Hasher, Verification
from credflow.notify import Outbox
from credflow.results import LoginResult, LoginStatus, StepResult, StepStatus
from credflow.storage.protocols import Storage
from credflow.storage.records import RequiredAction

ROUNDS = 3
R = TypeVar("R")

CHANGE = RequiredAction.CHANGE_PASSWORD
ENROLL = RequiredAction.ENROLL_SECURITY_QUESTION
#: First login is one password change, and it ends with a session.
DIRECT: dict[str, Any] = {
    "first_login_actions": (CHANGE,),
    "reauthenticate_after_password_change": False,
}
WRONG = "Nope1234Zz"
GOOD = "Kx0001vbQm"


@pytest.fixture(params=ADAPTERS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    with open_storage(request.param, tmp_path) as storage:
        yield storage


def servers(storage: Storage, **overrides: Any) -> list[Credflow]:
    """Sixteen facades on one storage, as sixteen app servers; their clocks read the same."""
    return [make_cf(storage, **overrides) for _ in range(WORKERS)]


def advance(cfs: list[Credflow], seconds: float) -> None:
    for cf in cfs:
        clock(cf).advance(seconds)


def no_exceptions(results: list[R | Exception]) -> list[R]:
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    return [r for r in results if not isinstance(r, Exception)]


def case_variant(identifier: str, worker: int) -> str:
    """Every worker types the identifier in its own case (one account, one counter: LK-06)."""
    return "".join(
        c.upper() if (worker >> (i % 4)) & 1 else c.lower() for i, c in enumerate(identifier)
    )


def login_as(cfs: list[Credflow], identifier: str, password: str, worker: int) -> LoginResult:
    """Worker ``worker`` logs in through its own server, typing its own case variant."""
    return cfs[worker].login(case_variant(identifier, worker), password)


def first_login_step(cfs: list[Credflow], flow: str, new: str, worker: int) -> StepResult:
    return cfs[worker].first_login.change_password(flow, new, new)


def unlock_with(cfs: list[Credflow], token: str, worker: int) -> StepResult:
    return cfs[worker].unlock(token)


def ready(cf: Credflow, identifier: str) -> str:
    """An account past its first login (settings DIRECT), with password GOOD; returns its id."""
    created = cf.accounts.create(identifier, email=f"{identifier.lower()}@example.fr")
    assert created.temporary_password is not None
    result = cf.login(identifier, created.temporary_password)
    assert result.status is LoginStatus.ACTION_REQUIRED
    step = cf.first_login.change_password(result.flow or "", GOOD, GOOD)
    assert step.status is StepStatus.COMPLETED
    return created.account.id


def events_after(storage: Storage, account_id: str, seen: int, kind: str) -> list[Any]:
    """The account's events of ``kind`` recorded after the first ``seen`` (the frozen clocks
    stamp everything with one instant, so ``since`` cannot separate them)."""
    return [e for e in storage.events(account_id=account_id)[seen:] if e.type == kind]


def event_count(storage: Storage, account_id: str) -> int:
    return len(storage.events(account_id=account_id))


# -- LK-12: parallel wrong passwords ----------------------------------------------------------


@pytest.mark.req("LK-12", "LK-04", "LK-06", "LK-03")
def test_parallel_wrong_passwords_are_all_counted_and_lock_once(storage: Storage) -> None:
    cfs = servers(storage, **DIRECT)
    for round_ in range(ROUNDS):
        identifier = f"Agent.Wrong{round_}"
        account_id = ready(cfs[0], identifier)
        seen = event_count(storage, account_id)
        mailed_before = sum(len(outbox(cf).messages) for cf in cfs)

        results = no_exceptions(race(partial(login_as, cfs, identifier, WRONG)))

        assert all(r.status is LoginStatus.DENIED for r in results)
        assert {r.code for r in results} == {"login.denied"}
        counted = cfs[0].lockout.failures(account_id)
        failed = events_after(storage, account_id, seen, "login_failed")
        reasons = Counter(e.details["reason"] for e in failed)
        assert len(failed) == WORKERS
        # Each attempt either read an open account and was counted, or read the lock and was
        # not: together exactly sixteen, and the first five always counted.
        assert reasons["wrong_password"] == counted
        assert reasons["account_locked"] == WORKERS - counted
        assert set(reasons) <= {"wrong_password", "account_locked"}
        assert 5 <= counted <= WORKERS
        account = cfs[0].accounts.get(account_id)
        assert cfs[0].lockout.is_locked(account)
        assert account.lockouts == 1
        assert len(events_after(storage, account_id, seen, "account_locked")) == 1
        links = [m for cf in cfs for m in outbox(cf).messages if m.kind == "unlock_link"]
        assert len(links) == round_ + 1
        assert sum(len(outbox(cf).messages) for cf in cfs) == mailed_before + 1
        # Locked: even the right password is refused, and not counted.
        assert cfs[1].login(identifier, GOOD).status is LoginStatus.DENIED
        assert cfs[0].lockout.failures(account_id) == counted


@pytest.mark.req("LK-12", "LK-06")
def test_parallel_wrong_passwords_under_a_high_threshold_are_all_counted(
    storage: Storage,
) -> None:
    cfs = servers(storage, lockout={"threshold": 100}, **DIRECT)
    for round_ in range(ROUNDS):
        identifier = f"Agent.High{round_}"
        account_id = ready(cfs[0], identifier)
        seen = event_count(storage, account_id)

        for expected in (WORKERS, 2 * WORKERS):
            results = no_exceptions(race(partial(login_as, cfs, identifier, WRONG)))

            assert all(r.status is LoginStatus.DENIED for r in results)
            assert cfs[0].lockout.failures(account_id) == expected
            failed = events_after(storage, account_id, seen, "login_failed")
            assert Counter(e.details["reason"] for e in failed) == {"wrong_password": expected}
            assert not cfs[0].lockout.is_locked(cfs[0].accounts.get(account_id))
        assert events_after(storage, account_id, seen, "account_locked") == []
        # A success resets the counter (LK-05).
        assert cfs[0].login(identifier, GOOD).status is LoginStatus.AUTHENTICATED
        assert cfs[0].lockout.failures(account_id) == 0


# -- DB-01: one first-login handle, sixteen submissions ----------------------------------------


@pytest.mark.req("DB-01", "TP-02", "TP-03", "PC-03")
@pytest.mark.parametrize(
    ("overrides", "winner"),
    [
        ({}, StepStatus.REAUTHENTICATE),
        ({"reauthenticate_after_password_change": False}, StepStatus.NEXT),
        (DIRECT, StepStatus.COMPLETED),
    ],
    ids=["classic", "no-reauthentication", "direct"],
)
def test_one_first_login_step_submitted_sixteen_times_applies_once(
    storage: Storage, overrides: dict[str, Any], winner: StepStatus
) -> None:
    cfs = servers(storage, **overrides)
    for round_ in range(ROUNDS):
        identifier = f"Agent.First{round_}"
        created = cfs[0].accounts.create(identifier, email=f"first{round_}@example.fr")
        temporary = created.temporary_password
        assert temporary is not None
        account_id = created.account.id
        flow = cfs[0].login(identifier, temporary).flow
        assert flow is not None
        seen = event_count(storage, account_id)
        new = f"Kx{round_:02d}99vbQm"

        results = no_exceptions(race(partial(first_login_step, cfs, flow, new)))

        assert Counter(r.status for r in results) == {winner: 1, StepStatus.INVALID: WORKERS - 1}
        lost = [r for r in results if r.status is StepStatus.INVALID]
        assert {r.code for r in lost} == {"flow.invalid"}
        assert all(r.session is None and r.flow is None for r in lost)
        applied = [r for r in results if r.ok]
        assert len(events_after(storage, account_id, seen, "password_changed")) == 1
        account = cfs[0].accounts.get(account_id)
        assert account.credential_version == 2
        assert CHANGE not in account.required_actions
        won = applied[0]
        if winner is StepStatus.COMPLETED:
            assert won.session is not None
            assert cfs[5].sessions.validate(won.session.token) is not None
            sessions = [r.session for r in results if r.session is not None]
            assert len(sessions) == 1
        else:
            assert all(r.session is None for r in results)
        # The new password works (TP-03), the temporary one is spent (TP-02).
        assert cfs[3].login(identifier, temporary).status is LoginStatus.DENIED
        after = cfs[4].login(identifier, new)
        if winner is StepStatus.COMPLETED:
            assert after.status is LoginStatus.AUTHENTICATED
        else:
            assert after.status is LoginStatus.ACTION_REQUIRED
            assert after.action is ENROLL


@pytest.mark.req("DB-01")
def test_a_first_login_step_overtaken_by_the_same_step_is_invalid(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    other, paused = make_cf(storage, **DIRECT), make_cf(storage, **DIRECT)
    created = other.accounts.create("Agent.Twice", email="twice@example.fr")
    assert created.temporary_password is not None
    flow = other.login("Agent.Twice", created.temporary_password).flow
    assert flow is not None
    check_new = paused.passwords.check_new

    def overtaken(account: Any, new: str, confirm: str, *, locale: str) -> Any:
        step = other.first_login.change_password(flow, new, confirm)
        assert step.status is StepStatus.COMPLETED
        return check_new(account, new, confirm, locale=locale)

    monkeypatch.setattr(paused.passwords, "check_new", overtaken)

    result = paused.first_login.change_password(flow, GOOD, GOOD)

    assert result.status is StepStatus.INVALID
    assert result.code == "flow.invalid"
    assert result.flow is None


# -- RS-06: one unlock link, sixteen redeemers ------------------------------------------------


@pytest.mark.req("RS-06", "DB-01", "LK-03")
def test_one_unlock_link_redeemed_sixteen_times_unlocks_once(storage: Storage) -> None:
    cfs = servers(storage, **DIRECT)
    for round_ in range(ROUNDS):
        identifier = f"Agent.Unlock{round_}"
        account_id = ready(cfs[0], identifier)
        for _ in range(5):
            assert cfs[0].login(identifier, WRONG).status is LoginStatus.DENIED
        assert cfs[0].lockout.is_locked(cfs[0].accounts.get(account_id))
        message = outbox(cfs[0]).last("unlock_link")
        assert message is not None
        assert message.recipient == f"{identifier.lower()}@example.fr"
        token = message.params["link"].split("token=", 1)[1]
        seen = event_count(storage, account_id)

        results = no_exceptions(race(partial(unlock_with, cfs, token)))

        assert Counter(r.status for r in results) == {
            StepStatus.COMPLETED: 1,
            StepStatus.INVALID: WORKERS - 1,
        }
        assert {r.code for r in results} == {"unlock.done", "unlock.invalid"}
        unlocked = events_after(storage, account_id, seen, "account_unlocked")
        assert [e.details["by"] for e in unlocked] == ["link"]
        account = cfs[0].accounts.get(account_id)
        assert not cfs[0].lockout.is_locked(account)
        assert account.lockouts == 0
        assert cfs[0].lockout.failures(account_id) == 0
        assert cfs[7].unlock(token).status is StepStatus.INVALID
        assert cfs[8].login(identifier, GOOD).status is LoginStatus.AUTHENTICATED


# -- SS-02: parallel correct logins -----------------------------------------------------------


@pytest.mark.req("SS-01", "SS-02", "LK-05")
def test_parallel_correct_logins_give_sixteen_valid_sessions(storage: Storage) -> None:
    cfs = servers(storage, **DIRECT)
    for round_ in range(ROUNDS):
        identifier = f"Agent.Right{round_}"
        account_id = ready(cfs[0], identifier)
        # A few failures first: every success resets the counter, concurrently (LK-05).
        for _ in range(3):
            cfs[0].login(identifier, WRONG)
        seen = event_count(storage, account_id)

        results = no_exceptions(race(partial(login_as, cfs, identifier, GOOD)))

        assert all(r.status is LoginStatus.AUTHENTICATED for r in results)
        sessions = [r.session for r in results if r.session is not None]
        assert len(sessions) == WORKERS
        assert len({s.token for s in sessions}) == WORKERS
        for index, session in enumerate(sessions):
            validated = cfs[(index + 1) % WORKERS].sessions.validate(session.token)
            assert validated is not None
            assert validated.id == account_id
        assert len(events_after(storage, account_id, seen, "session_issued")) == WORKERS
        assert len(events_after(storage, account_id, seen, "login_succeeded")) == WORKERS
        assert cfs[0].lockout.failures(account_id) == 0


# -- LK-05: successes racing after a lapsed lock ------------------------------------------------
# A success resets the lock escalation (lockouts) on the account; two successes that both read
# the account before either wrote must both succeed (ConcurrentUpdate escaped cf.login once).


class PausingHasher(Hasher):
    """Runs ``pause`` once, right after its next verify: between the login's read of the
    account and its transaction."""

    def __init__(self, pause: Callable[[], None]) -> None:
        super().__init__(classic_settings().hashing)
        self.pause: Callable[[], None] | None = pause

    def verify(self, phc: str, password: str) -> Verification:
        outcome = super().verify(phc, password)
        pause, self.pause = self.pause, None
        if pause is not None:
            pause()
        return outcome


def _lapsed_lock(cfs: list[Credflow], identifier: str) -> str:
    account_id = ready(cfs[0], identifier)
    for _ in range(5):
        cfs[0].login(identifier, WRONG)
    assert cfs[0].accounts.get(account_id).lockouts == 1
    advance(cfs, 61)
    assert not cfs[0].lockout.is_locked(cfs[0].accounts.get(account_id))
    return account_id


@pytest.mark.req("LK-05", "LK-12")
def test_a_login_overtaken_by_another_success_after_a_lapsed_lock_still_succeeds(
    storage: Storage,
) -> None:
    other = make_cf(storage, **DIRECT)
    identifier = "Agent.Overtaken"
    account_id = _lapsed_lock([other], identifier)

    def overtake() -> None:
        assert other.login(identifier, GOOD).status is LoginStatus.AUTHENTICATED

    paused = Credflow(
        storage=storage,
        settings=classic_settings(**DIRECT),
        notifier=Outbox(),
        clock=FrozenClock(other.clock.now()),
        hasher=PausingHasher(overtake),
    )

    result = paused.login(identifier, GOOD)

    assert result.status is LoginStatus.AUTHENTICATED
    assert result.session is not None
    assert other.sessions.validate(result.session.token) is not None
    assert paused.accounts.get(account_id).lockouts == 0
    assert paused.accounts.get(account_id).locked_until is None


@pytest.mark.req("LK-05", "LK-12", "SS-02")
def test_parallel_correct_logins_after_a_lapsed_lock_all_succeed(storage: Storage) -> None:
    cfs = servers(storage, **DIRECT)
    for round_ in range(ROUNDS):
        identifier = f"Agent.Lapsed{round_}"
        account_id = _lapsed_lock(cfs, identifier)

        results = no_exceptions(race(partial(login_as, cfs, identifier, GOOD)))

        assert all(r.status is LoginStatus.AUTHENTICATED for r in results)
        sessions = [r.session for r in results if r.session is not None]
        assert len({s.token for s in sessions}) == WORKERS
        assert all(cfs[0].sessions.validate(s.token) is not None for s in sessions)
        account = cfs[0].accounts.get(account_id)
        assert account.lockouts == 0
        assert account.locked_until is None
        assert cfs[0].lockout.failures(account_id) == 0


# -- the account changed while the hash ran -------------------------------------------------------
# The verify takes ~100 ms in production; whatever happened to the account meanwhile wins over
# a password checked against the hash read before it.

OTHER_NEW = "Zq7000newPass"


def _changes(cf: Credflow, account_id: str) -> dict[str, Callable[[], None]]:
    return {
        "new password": lambda: (
            cf.passwords.apply(cf.accounts.get(account_id), OTHER_NEW, event_by="test", locale="fr")
            and None
        ),
        "disabled": lambda: cf.accounts.disable(account_id),
        "deleted": lambda: cf.accounts.delete(account_id) and None,
    }


def _paused_during_the_hash(change: str) -> tuple[Credflow, Credflow]:
    """A ready account on ``plain``, and a second app on the same storage whose hasher makes
    ``change`` to the account while it hashes."""
    plain = make_cf(**DIRECT)
    account_id = ready(plain, "Agent.Changed")
    paused = Credflow(
        storage=plain.storage,
        settings=classic_settings(**DIRECT),
        notifier=Outbox(),
        clock=FrozenClock(plain.clock.now()),
        hasher=PausingHasher(_changes(plain, account_id)[change]),
    )
    return plain, paused


@pytest.mark.req("LK-12", "SS-03")
@pytest.mark.parametrize("change", ["new password", "disabled", "deleted"])
def test_a_login_whose_account_changed_during_the_hash_is_denied(change: str) -> None:
    plain, paused = _paused_during_the_hash(change)

    result = paused.login("Agent.Changed", GOOD)

    assert result.status is LoginStatus.DENIED
    reasons = [e.details.get("reason") for e in plain.storage.events() if e.type == "login_failed"]
    assert reasons == ["account_changed"]
    assert not [e for e in plain.storage.events() if e.type == "session_issued"][1:]


@pytest.mark.req("LK-12")
@pytest.mark.parametrize("change", ["new password", "disabled", "deleted"])
def test_a_password_change_whose_account_changed_during_the_hash_is_refused(change: str) -> None:
    plain, paused = _paused_during_the_hash(change)

    result = paused.passwords.change("Agent.Changed", GOOD, "Yb8111other", "Yb8111other")

    assert result.status is StepStatus.REFUSED
    refused = [e for e in plain.storage.events() if e.type == "password_change_refused"]
    assert [e.details.get("reason") for e in refused] == ["account_changed"]
    if change == "new password":
        assert plain.login("Agent.Changed", OTHER_NEW).ok
