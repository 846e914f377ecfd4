"""CPU time of single SQLStorage calls on a SQLite file, outside and inside a transaction.

Prints one markdown row per call: microseconds of process CPU time per call, the best of
``--rounds`` rounds of ``--calls`` calls each. "Outside" is a call on its own (its own
``BEGIN IMMEDIATE`` and commit); "inside" runs within an open ``storage.transaction()``.
``--url`` measures an empty database instead (PostgreSQL: the client's CPU time only; its tables
are created, and dropped afterwards). Run it from two checkouts (``PYTHONPATH=<checkout>/src``)
to compare them:

    .venv/bin/python scripts/storage_cost.py [--url postgresql://…]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from credflow.storage.records import (
    Account,
    AccountStatus,
    AuditEvent,
    FlowRecord,
    PasswordCredential,
)
from credflow.storage.sql import SQLStorage, metadata

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _calls(storage: SQLStorage) -> dict[str, Callable[[int], object]]:
    account = Account(
        id="acc-1",
        identifier="alice",
        identifier_key="alice",
        status=AccountStatus.ACTIVE,
        created_at=T0,
        updated_at=T0,
    )
    storage.create_account(account)
    storage.set_password(PasswordCredential(account_id="acc-1", hash="$argon2id$x", set_at=T0))
    return {
        "get_account": lambda i: storage.get_account("acc-1"),
        "find_account": lambda i: storage.find_account("alice"),
        "get_password": lambda i: storage.get_password("acc-1"),
        "get_counter": lambda i: storage.get_counter("lockout:acc-1"),
        "save_flow": lambda i: storage.save_flow(
            FlowRecord(
                handle_hash=f"{i:064x}",
                kind="session",
                account_id="acc-1",
                state="active",
                data={"cv": 1, "org": None},
                created_at=T0,
                expires_at=T0,
            )
        ),
        "append_event": lambda i: storage.append_event(
            AuditEvent(type="login_succeeded", account_id="acc-1", at=T0, details={"n": i})
        ),
        "mfa_factors": lambda i: storage.mfa_factors("acc-1"),
        "memberships_of": lambda i: storage.memberships_of("acc-1"),
    }


def _best(run: Callable[[int], object], start: int, calls: int, rounds: int) -> float:
    best = float("inf")
    for r in range(rounds):
        base = start + r * calls
        begin = time.process_time_ns()
        for i in range(base, base + calls):
            run(i)
        best = min(best, (time.process_time_ns() - begin) / calls / 1e3)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--url", help="an empty database (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'credflow.db'}"
        storage = SQLStorage(url, create=True)
        try:
            print("| Call | outside µs | inside µs |")
            print("|---|---:|---:|")
            step = args.calls * args.rounds
            for n, (name, run) in enumerate(_calls(storage).items()):
                run(10**9 + n)  # warm-up
                outside = _best(run, 2 * n * step, args.calls, args.rounds)
                with storage.transaction():
                    inside = _best(run, (2 * n + 1) * step, args.calls, args.rounds)
                print(f"| `{name}` | {outside:,.0f} | {inside:,.0f} |")
        finally:
            if args.url:
                metadata.drop_all(storage.engine)
            storage.dispose()


if __name__ == "__main__":
    main()
