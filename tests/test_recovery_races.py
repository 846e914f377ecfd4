"""Recovery races: sixteen Credflow instances ("app servers") on one storage, sharing one frozen
clock and one outbox, sixteen threads released together by a barrier.

Run on the memory adapter, SQLite (a file, so every thread has its own connection) and
PostgreSQL (READ COMMITTED). Each race is repeated three rounds, on a fresh account each time.

- RS-06 / DB-01: one reset link opened sixteen times at once works once: one ``next``, fifteen
  ``invalid``.
- DB-02: one ``new_password`` flow submitted sixteen times sets the password once: one
  ``completed``, one ``password_changed`` event and notice, and the new password works.
- DB-01 / EV-03: one question flow answered right, or one code flow given the right code,
  sixteen times at once, moves on once.
- RS-12: sixteen simultaneous requests for one identifier (each typed in its own case) mail
  exactly ``rate_limit`` (5) links, and the newest voids the others (one link works).

One race is also replayed deterministically: a ``set_password`` paused between loading its flow
and checking the new password, while the same step completes, must answer ``invalid`` like the
first-login step does.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from tests.factories import make_cf, outbox
from tests.storage_fixtures import ADAPTERS, WORKERS, open_storage, race
from tests.test_login import GOOD, ready

from credflow.facade import Credflow
from credflow.notify import Message
from credflow.results import LoginStatus, RecoveryResult, RecoveryStatus
from credflow.storage.protocols import Storage

ROUNDS = 3
R = TypeVar("R")

LINK_ONLY: dict[str, Any] = {"recovery": {"steps": ["email_link"], "rate_limit": 5}}
SIGMA: dict[str, Any] = {"recovery": {"steps": ["security_question"]}}
ASP: dict[str, Any] = {"recovery": {"steps": ["human_check", "security_question", "email_link"]}}
RECOMMENDED: dict[str, Any] = {"recovery": {"steps": ["email_link", "security_question"]}}
CODE: dict[str, Any] = {"recovery": {"steps": ["email_code"]}}
CODE_THEN_QUESTION: dict[str, Any] = {"recovery": {"steps": ["email_code", "security_question"]}}


@pytest.fixture(params=ADAPTERS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    with open_storage(request.param, tmp_path) as storage:
        yield storage


def no_exceptions(results: list[R | Exception]) -> list[R]:
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    return [r for r in results if not isinstance(r, Exception)]


def servers(storage: Storage, **overrides: Any) -> list[Credflow]:
    """Sixteen facades on one storage, with one settings object, one clock and one outbox."""
    first = make_cf(storage, **overrides)
    return [first] + [
        Credflow(
            storage=storage, settings=first.settings, clock=first.clock, notifier=first.notifier
        )
        for _ in range(WORKERS - 1)
    ]


def case_variant(identifier: str, worker: int) -> str:
    """Every worker types the identifier in its own case (one identifier, one rate limit)."""
    return "".join(
        c.upper() if (worker >> (i % 4)) & 1 else c.lower() for i, c in enumerate(identifier)
    )


def mailed(cf: Credflow, kind: str, since: int = 0) -> list[Message]:
    return [m for m in outbox(cf).messages[since:] if m.kind == kind]


def token_of(cf: Credflow, message: Message) -> str:
    link = message.params["link"]
    prefix = cf.settings.base_url + "/reset?token="
    assert link.startswith(prefix)
    return link[len(prefix) :]


def events_after(storage: Storage, account_id: str, seen: int, kind: str) -> list[Any]:
    """The account's events of ``kind`` recorded after the first ``seen`` (the frozen clock
    stamps everything with one instant, so ``since`` cannot separate them)."""
    return [e for e in storage.events(account_id=account_id)[seen:] if e.type == kind]


def solved(cf: Credflow) -> dict[str, str]:
    """A fresh human check, solved: the keyword arguments of ``start``."""
    challenge = cf.human_check.challenge()
    found = re.fullmatch(r"(\d+) \+ (\d+) = \?", challenge.prompt)
    assert found is not None, challenge.prompt
    return {"challenge": challenge.token, "answer": str(int(found[1]) + int(found[2]))}


def start(cf: Credflow, identifier: str) -> RecoveryResult:
    steps = [s.value for s in cf.settings.recovery.steps]
    extra = solved(cf) if steps[0] == "human_check" else {}
    return cf.recovery.start(identifier, **extra)


def new_password_flow(cf: Credflow, identifier: str) -> str:
    """A flow at the ``new_password`` step, through a reset link (settings LINK_ONLY)."""
    assert start(cf, identifier).step == "link_sent"
    message = outbox(cf).last("reset_link")
    assert message is not None
    opened = cf.recovery.open_link(token_of(cf, message))
    assert opened.status is RecoveryStatus.NEXT and opened.step == "new_password"
    assert opened.flow is not None
    return opened.flow


def open_with(cfs: list[Credflow], token: str, worker: int) -> RecoveryResult:
    return cfs[worker].recovery.open_link(token)


def set_with(cfs: list[Credflow], flow: str, new: str, worker: int) -> RecoveryResult:
    return cfs[worker].recovery.set_password(flow, new, new)


def answer_with(cfs: list[Credflow], flow: str, worker: int) -> RecoveryResult:
    """The right answer, typed two ways (the answer is normalised)."""
    return cfs[worker].recovery.answer(flow, " BLEU " if worker % 2 else "bleu")


def code_with(cfs: list[Credflow], flow: str, code: str, worker: int) -> RecoveryResult:
    return cfs[worker].recovery.submit_code(flow, code)


def only_the_winner_moved_on(results: list[RecoveryResult], step: str) -> RecoveryResult:
    """One ``next`` at ``step``; every other caller told the request is no longer valid."""
    assert Counter(r.status for r in results) == {
        RecoveryStatus.NEXT: 1,
        RecoveryStatus.INVALID: WORKERS - 1,
    }
    won = next(r for r in results if r.status is RecoveryStatus.NEXT)
    assert won.step == step
    lost = [r for r in results if r.status is RecoveryStatus.INVALID]
    assert {r.code for r in lost} == {"recovery.invalid"}
    assert all(r.flow is None and r.session is None and r.step is None for r in lost)
    return won


# -- (a) one reset link, sixteen openers ------------------------------------------------------


@pytest.mark.req("RS-06", "RS-05", "DB-01")
@pytest.mark.parametrize(
    ("overrides", "step"),
    [(LINK_ONLY, "new_password"), (RECOMMENDED, "question")],
    ids=["link", "link-then-question"],
)
def test_one_reset_link_opened_sixteen_times_works_once(
    storage: Storage, overrides: dict[str, Any], step: str
) -> None:
    cfs = servers(storage, **overrides)
    cf = cfs[0]
    for round_ in range(ROUNDS):
        identifier = f"agent.link{round_}"
        account_id = ready(cf, identifier)
        seen = len(outbox(cf).messages)
        assert start(cf, identifier).step == "link_sent"
        links = mailed(cf, "reset_link", seen)
        assert [m.recipient for m in links] == [f"{identifier}@example.fr"]
        token = token_of(cf, links[0])
        before = len(storage.events(account_id=account_id))

        results = no_exceptions(race(partial(open_with, cfs, token)))

        assert Counter(r.status for r in results) == {
            RecoveryStatus.NEXT: 1,
            RecoveryStatus.INVALID: WORKERS - 1,
        }
        won = next(r for r in results if r.ok)
        assert won.step == step and won.flow is not None
        if step == "question":
            assert won.question == "Ma couleur préférée ?"
        lost = [r for r in results if not r.ok]
        assert {r.code for r in lost} == {"recovery.link_invalid"}
        assert all(r.flow is None and r.step is None for r in lost)
        assert len(events_after(storage, account_id, before, "recovery_link_opened")) == 1
        # The link stays spent; the winner's flow goes on.
        assert cfs[9].recovery.open_link(token).status is RecoveryStatus.INVALID
        if step == "question":
            won = cfs[3].recovery.answer(won.flow, "bleu")
            assert won.step == "new_password" and won.flow is not None
        new = f"Kx{round_:02d}77vbQm"
        completed = cfs[4].recovery.set_password(won.flow, new, new)
        assert completed.status is RecoveryStatus.COMPLETED
        assert cfs[5].login(identifier, new).status is LoginStatus.AUTHENTICATED


# -- (b) one new_password flow, sixteen submissions -------------------------------------------


@pytest.mark.req("DB-01", "DB-02", "RS-14", "PC-03", "PC-04", "LK-08")
def test_one_new_password_flow_submitted_sixteen_times_completes_once(storage: Storage) -> None:
    cfs = servers(storage, **LINK_ONLY)
    cf = cfs[0]
    for round_ in range(ROUNDS):
        identifier = f"agent.set{round_}"
        account_id = ready(cf, identifier)
        session = cf.login(identifier, GOOD).session
        assert session is not None
        for _ in range(5):  # locked: the reset must clear it (LK-08)
            cf.login(identifier, "Nope1234Zz")
        assert cf.lockout.is_locked(cf.accounts.get(account_id))
        flow = new_password_flow(cf, identifier)
        version = cf.accounts.get(account_id).credential_version
        seen_events = len(storage.events(account_id=account_id))
        seen_mail = len(outbox(cf).messages)
        new = f"Kx{round_:02d}88vbQm"

        results = no_exceptions(race(partial(set_with, cfs, flow, new)))

        statuses = Counter(r.status for r in results)
        assert statuses[RecoveryStatus.COMPLETED] == 1, statuses
        # The losers all say "invalid", even one overtaken between loading the flow and
        # checking the password (test_a_set_password_overtaken_by_the_same_step_is_invalid).
        lost = [r for r in results if r.status is not RecoveryStatus.COMPLETED]
        assert all(not r.ok and r.session is None for r in lost)
        assert {r.code for r in lost} == {"recovery.invalid"}
        assert all(r.session is None for r in results)  # no automatic login (RS-14)
        assert len(events_after(storage, account_id, seen_events, "password_changed")) == 1
        assert len(events_after(storage, account_id, seen_events, "recovery_completed")) == 1
        notices = mailed(cf, "password_changed", seen_mail)
        assert [m.recipient for m in notices] == [f"{identifier}@example.fr"]
        assert new not in repr(notices[0].params)
        account = cf.accounts.get(account_id)
        assert account.credential_version == version + 1
        assert not cf.lockout.is_locked(account)
        assert cf.sessions.validate(session.token) is None  # PC-03
        assert cfs[6].login(identifier, GOOD).status is LoginStatus.DENIED
        assert cfs[7].login(identifier, new).status is LoginStatus.AUTHENTICATED
        assert cfs[8].recovery.set_password(flow, new, new).status is RecoveryStatus.INVALID


@pytest.mark.req("DB-01")
def test_a_set_password_overtaken_by_the_same_step_is_invalid(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = make_cf(storage, **LINK_ONLY)
    paused = Credflow(
        storage=storage, settings=other.settings, clock=other.clock, notifier=other.notifier
    )
    ready(other, "agent.twice")
    flow = new_password_flow(other, "agent.twice")
    new = "Kx0101vbQm"
    check_new = paused.passwords.check_new

    def overtaken(account: Any, password: str, confirm: str, *, locale: str) -> Any:
        step = other.recovery.set_password(flow, password, confirm)
        assert step.status is RecoveryStatus.COMPLETED
        return check_new(account, password, confirm, locale=locale)

    monkeypatch.setattr(paused.passwords, "check_new", overtaken)

    result = paused.recovery.set_password(flow, new, new)

    assert result.status is RecoveryStatus.INVALID, result
    assert result.code == "recovery.invalid"
    assert result.flow is None


# -- (c) one question flow, sixteen right answers ---------------------------------------------


@pytest.mark.req("DB-01", "SQ-05", "SQ-06")
@pytest.mark.parametrize(
    ("overrides", "step"),
    [(SIGMA, "new_password"), (ASP, "link_sent"), (RECOMMENDED, "new_password")],
    ids=["sigma", "asp", "link-then-question"],
)
def test_one_question_answered_right_sixteen_times_moves_on_once(
    storage: Storage, overrides: dict[str, Any], step: str
) -> None:
    cfs = servers(storage, **overrides)
    cf = cfs[0]
    for round_ in range(ROUNDS):
        identifier = f"agent.answer{round_}"
        account_id = ready(cf, identifier)
        if overrides is RECOMMENDED:
            assert start(cf, identifier).step == "link_sent"
            message = outbox(cf).last("reset_link")
            assert message is not None
            asked = cf.recovery.open_link(token_of(cf, message))
        else:
            asked = start(cf, identifier)
        assert asked.step == "question" and asked.question == "Ma couleur préférée ?"
        flow = asked.flow
        assert flow is not None
        seen = len(outbox(cf).messages)

        results = no_exceptions(race(partial(answer_with, cfs, flow)))

        won = only_the_winner_moved_on(results, step)
        links = mailed(cf, "reset_link", seen)
        if step == "link_sent":
            assert won.flow is None
            assert [m.recipient for m in links] == [f"{identifier}@example.fr"]
            opened = cfs[2].recovery.open_link(token_of(cf, links[0]))
            assert opened.step == "new_password" and opened.flow is not None
            target = opened.flow
        else:
            assert links == []
            assert won.flow == flow
            target = flow
        # Nothing counted against the account: no wrong answer, no login failure.
        assert cf.lockout.failures(account_id) == 0
        new = f"Kx{round_:02d}66vbQm"
        assert cfs[3].recovery.set_password(target, new, new).status is RecoveryStatus.COMPLETED
        assert cfs[4].login(identifier, new).status is LoginStatus.AUTHENTICATED


# -- (d) one code flow, sixteen right codes ---------------------------------------------------


@pytest.mark.req("EV-03", "DB-01", "EV-06")
@pytest.mark.parametrize(
    ("overrides", "step"),
    [(CODE, "new_password"), (CODE_THEN_QUESTION, "question")],
    ids=["code", "code-then-question"],
)
def test_one_code_submitted_right_sixteen_times_moves_on_once(
    storage: Storage, overrides: dict[str, Any], step: str
) -> None:
    cfs = servers(storage, **overrides)
    cf = cfs[0]
    for round_ in range(ROUNDS):
        identifier = f"agent.code{round_}"
        ready(cf, identifier)
        seen = len(outbox(cf).messages)
        asked = start(cf, identifier)
        assert asked.step == "code_sent" and asked.flow is not None
        flow = asked.flow
        codes = mailed(cf, "reset_code", seen)
        assert [m.recipient for m in codes] == [f"{identifier}@example.fr"]
        code = codes[0].params["code"]

        results = no_exceptions(race(partial(code_with, cfs, flow, code)))

        won = only_the_winner_moved_on(results, step)
        assert won.flow == flow
        # The code is spent: the flow is past it.
        assert cfs[5].recovery.submit_code(flow, code).status is RecoveryStatus.INVALID
        if step == "question":
            assert won.question == "Ma couleur préférée ?"
            moved = cfs[6].recovery.answer(flow, "bleu")
            assert moved.step == "new_password"
        new = f"Kx{round_:02d}55vbQm"
        assert cfs[7].recovery.set_password(flow, new, new).status is RecoveryStatus.COMPLETED
        assert cfs[8].login(identifier, new).status is LoginStatus.AUTHENTICATED


# -- (e) sixteen requests for one identifier ---------------------------------------------------


def start_as(cfs: list[Credflow], identifier: str, worker: int) -> RecoveryResult:
    return cfs[worker].recovery.start(case_variant(identifier, worker))


@pytest.mark.req("RS-12", "RS-01", "RS-05", "LK-08", "DB-01")
def test_sixteen_simultaneous_requests_mail_exactly_the_rate_limit(storage: Storage) -> None:
    cfs = servers(storage, **LINK_ONLY)
    cf = cfs[0]
    assert cf.settings.recovery.rate_limit == 5
    for round_ in range(ROUNDS):
        identifier = f"agent.rate{round_}"
        account_id = ready(cf, identifier)
        before = cf.accounts.get(account_id)
        seen = len(outbox(cf).messages)

        results = no_exceptions(race(partial(start_as, cfs, identifier)))

        # Every caller sees the same page, mailed or not (RS-01, RS-12).
        assert len(set(results)) == 1
        assert results[0].status is RecoveryStatus.NEXT and results[0].step == "link_sent"
        links = mailed(cf, "reset_link", seen)
        assert len(links) == 5
        assert len(outbox(cf).messages) == seen + 5
        assert {m.recipient for m in links} == {f"{identifier}@example.fr"}
        # Requests never lock or change the account (LK-08).
        assert cf.accounts.get(account_id) == before
        assert cf.lockout.failures(account_id) == 0
        # Over the limit now, in any case.
        assert cfs[1].recovery.start(identifier.upper()).step == "link_sent"
        assert len(outbox(cf).messages) == seen + 5
        # Each new link voided the ones before it: of the five, only the last mailed works.
        opened = [cfs[2].recovery.open_link(token_of(cf, m)).status for m in links]
        assert opened == [RecoveryStatus.INVALID] * 4 + [RecoveryStatus.NEXT]
