"""Concurrency: 8 threads logging in at once, and a burst of 100, throughput and peak memory.

The issue's benchmark: "8 threads logging in at once. Throughput must be ≥ 0.9× raw argon2-cffi
with the same threads, and peak RSS must stay ≤ baseline + bound × 64 MiB + 50 MiB", and "peak
memory stays under bound × memory cost, even when 100 logins arrive at once".

Every measurement runs in a fresh interpreter (``python -m bench.concurrency --side …``), so each
peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``) belongs to that run alone. The parent hashes the
accounts once (production parameters) and hands both sides the same accounts, hashes and
passwords on stdin.

- credflow side: a ``MemoryStorage`` holding the accounts and ``Hasher(RFC_9106_LOW_MEMORY)``
  with its default bound (the CPU count); every thread runs the login path (find_account +
  get_password + verify).
- raw side: the same threads call ``argon2.PasswordHasher().verify`` on the same hashes, with no
  bound.

The baseline is ``VmRSS`` just before the threads start (after imports, the ``Hasher``'s own
dummy hash and one warm-up login); the threads wait on a ``threading.Barrier`` and the clock
starts when it opens. Throughput = logins / wall time. The 8-thread runs alternate sides
(credflow, raw, raw, credflow, …); the 100-thread bursts run once per side.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import Benchmark, Check, Measurement, Row, Settings, Table
from bench.fixtures import (
    Login,
    credflow_login,
    production_hasher,
    raw_verify,
    reference_hasher,
)

__all__ = ["BENCHMARK", "MEMORY_COST_MIB", "SLACK_MIB", "TARGET", "run"]

TARGET = 0.9
"""credflow's throughput must be at least this fraction of raw argon2-cffi's."""
MEMORY_COST_MIB = 64
SLACK_MIB = 50
THREADS = 8
BURST = 100
ACCOUNTS = 8
FULL = {"rounds": 5, "logins": 24}
QUICK = {"rounds": 1, "logins": 16}
"""Rounds of 8 threads per side, and logins per round. ``--quick`` also skips the raw burst
(information only; 100 unbounded argon2 verifies take half a minute on two cores)."""
CHILD_TIMEOUT_S = 900
ROOT = Path(__file__).resolve().parent.parent


# -- the child: one side, one run --------------------------------------------------------------


def _vmrss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _cpu_seconds() -> float:
    """User + system CPU time of the whole process, finished threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _credflow_side(logins: Sequence[Login]) -> tuple[Callable[[Login], None], int | None]:
    from credflow.storage.memory import MemoryStorage
    from credflow.storage.records import (
        Account,
        PasswordCredential,
        email_key,
        identifier_key,
        new_account_id,
    )

    storage = MemoryStorage()
    now = datetime.now(UTC)
    for login in logins:
        email = f"{login.identifier}@example.fr"
        account = Account(
            id=new_account_id(),
            identifier=login.identifier,
            identifier_key=identifier_key(login.identifier),
            email=email,
            email_key=email_key(email),
            created_at=now,
            updated_at=now,
        )
        storage.create_account(account)
        storage.set_password(PasswordCredential(account_id=account.id, hash=login.phc, set_at=now))
    hasher = production_hasher()

    def call(login: Login) -> None:
        credflow_login(storage, hasher, login)

    return call, hasher.max_concurrent


def _raw_side() -> tuple[Callable[[Login], None], int | None]:
    reference = reference_hasher()

    def call(login: Login) -> None:
        raw_verify(reference, login)

    return call, None


def child(side: str, threads: int, total: int, logins: Sequence[Login]) -> dict[str, Any]:
    """Run ``total`` logins on ``threads`` threads released together; return the figures."""
    call, bound = _credflow_side(logins) if side == "credflow" else _raw_side()
    call(logins[0])  # warm-up, both sides alike
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1, timeout=CHILD_TIMEOUT_S)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            for i in range(index, total, threads):
                call(logins[i % len(logins)])
        except BaseException as error:  # reported by the parent
            errors.append(error)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    gc.collect()
    gc.disable()
    baseline = _vmrss_kib()
    for thread in workers:
        thread.start()
    barrier.wait()
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    for thread in workers:
        thread.join()
    elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    if errors:
        raise RuntimeError(f"{len(errors)} thread(s) failed: {errors[0]!r}")
    return {
        "side": side,
        "threads": threads,
        "logins": total,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "baseline_kib": baseline,
        "peak_kib": peak,
        "bound": bound,
    }


def _child_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.concurrency")
    parser.add_argument("--side", choices=("credflow", "raw"), required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--logins", type=int, required=True)
    args = parser.parse_args(argv)
    logins = [Login(**item) for item in json.load(sys.stdin)]
    print(json.dumps(child(args.side, args.threads, args.logins, logins)))
    return 0


# -- the parent ---------------------------------------------------------------------------------


def _spawn(side: str, threads: int, total: int, accounts: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.concurrency", "--side", side]
    command += ["--threads", str(threads), "--logins", str(total)]
    done = subprocess.run(  # noqa: S603 - our own interpreter and module, fixed arguments
        command,
        input=accounts,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:])} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _throughput_text(runs: Sequence[dict[str, Any]], total: int) -> str:
    """Per run: logins/s, the CPU the process got (cores) and its CPU time per login."""
    per_run = ", ".join(
        f"{total / r['seconds']:.2f} ({r['cpu_seconds'] / r['seconds']:.2f} cores, "
        f"{r['cpu_seconds'] / total * 1e3:.0f} ms CPU/login)"
        for r in runs
    )
    cpu = statistics.median(r["cpu_seconds"] / total * 1e3 for r in runs)
    return (
        f"logins/s per run, with the cores the process used and its CPU time per login: "
        f"{per_run}; median of {len(runs)}; median CPU per login {cpu:.0f} ms"
    )


def _mib(kib: float) -> float:
    return kib / 1024


def _limit_mib(run: dict[str, Any], bound: int) -> float:
    return _mib(run["baseline_kib"]) + bound * MEMORY_COST_MIB + SLACK_MIB


def _span(values: Sequence[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.1f}" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}–{high:.1f}"


def _rss_text(runs: Sequence[dict[str, Any]], bound: int) -> str:
    peaks = [_mib(run["peak_kib"]) for run in runs]
    baselines = [_mib(run["baseline_kib"]) for run in runs]
    limits = [_limit_mib(run, bound) for run in runs]
    return (
        f"{len(runs)} run(s): peak {_span(peaks)} MiB, baseline {_span(baselines)} MiB, "
        f"limit {_span(limits)} MiB, growth over baseline "
        f"{_span([p - b for p, b in zip(peaks, baselines, strict=True)])} MiB"
    )


def _rss_check(name: str, runs: Sequence[dict[str, Any]], bound: int, *, info: bool) -> Check:
    """The run closest to (or furthest past) its own limit, with every run in the detail."""
    worst = max(runs, key=lambda run: _mib(run["peak_kib"]) - _limit_mib(run, bound))
    within = all(_mib(run["peak_kib"]) <= _limit_mib(run, bound) for run in runs)
    detail = _rss_text(runs, bound)
    if not info and not within:
        detail += " (at least one run over its limit)"
    return Check(
        name,
        _mib(worst["peak_kib"]),
        "MiB",
        None if info else _limit_mib(worst, bound),
        detail=f"ru_maxrss; limit = baseline + {bound} × {MEMORY_COST_MIB} MiB + {SLACK_MIB} MiB"
        f" (bound {bound}). {detail}",
    )


def _accounts(count: int) -> list[Login]:
    hasher = production_hasher()
    logins = []
    for index in range(count):
        identifier = f"user{index:06d}"
        password = f"Mot-de-passe-{index:02d}!"
        logins.append(Login(identifier, password, hasher.hash(password)))
    return logins


def run(settings: Settings) -> Table:
    """Spawn the runs, alternating sides, and return the table."""
    plan = QUICK if settings.quick else FULL
    rounds, total = plan["rounds"], plan["logins"]
    accounts = json.dumps([asdict(login) for login in _accounts(ACCOUNTS)])
    runs: dict[str, list[dict[str, Any]]] = {"credflow": [], "raw": []}
    for index in range(rounds):
        order = ("credflow", "raw") if index % 2 == 0 else ("raw", "credflow")
        for side in order:
            runs[side].append(_spawn(side, THREADS, total, accounts))
    burst_sides = ("credflow",) if settings.quick else ("credflow", "raw")
    bursts = {side: _spawn(side, BURST, BURST, accounts) for side in burst_sides}

    bound = int(runs["credflow"][0]["bound"])
    ours = Measurement(tuple(r["seconds"] for r in runs["credflow"]), total)
    theirs = Measurement(tuple(r["seconds"] for r in runs["raw"]), total)
    rows = [Row(f"{THREADS} threads, {total} logins (wall per login)", ours, theirs, None)]
    if "raw" in bursts:
        rows.append(
            Row(
                f"burst: {BURST} threads, 1 login each (wall per login)",
                Measurement((bursts["credflow"]["seconds"],), BURST),
                Measurement((bursts["raw"]["seconds"],), BURST),
                None,
            )
        )
    throughput_ours = total / ours.median
    throughput_theirs = total / theirs.median
    paired = [
        b["seconds"] / a["seconds"] for a, b in zip(runs["credflow"], runs["raw"], strict=True)
    ]
    checks = [
        Check(
            f"throughput credflow, {THREADS} threads",
            throughput_ours,
            "logins/s",
            detail=_throughput_text(runs["credflow"], total),
        ),
        Check(
            f"throughput raw argon2-cffi, {THREADS} threads",
            throughput_theirs,
            "logins/s",
            detail=_throughput_text(runs["raw"], total),
        ),
        Check(
            "throughput ratio credflow / raw",
            throughput_ours / throughput_theirs,
            "×",
            TARGET,
            at_least=True,
            detail=f"ratio of the medians; per-round ratios {', '.join(f'{p:.3f}' for p in paired)}"
            f" (median {statistics.median(paired):.3f})",
        ),
        _rss_check(f"peak RSS credflow, {THREADS} threads", runs["credflow"], bound, info=False),
        _rss_check(f"peak RSS raw, {THREADS} threads", runs["raw"], bound, info=True),
        _rss_check(f"peak RSS credflow, burst of {BURST}", [bursts["credflow"]], bound, info=False),
    ]
    burst_text = f"one burst of {BURST} threads per side"
    if "raw" in bursts:
        checks.append(
            _rss_check(f"peak RSS raw, burst of {BURST}", [bursts["raw"]], bound, info=True)
        )
    else:
        burst_text = (
            f"one burst of {BURST} threads on the credflow side (--quick skips the raw one)"
        )
    notes = (
        f"each run is a fresh `python -m bench.concurrency` process; {rounds} round(s) of "
        f"{THREADS} threads × {total // THREADS} logins per side, the order alternating; then "
        f"{burst_text}, the threads of each run released together by a threading.Barrier.",
        f"the same {ACCOUNTS} accounts, hashes (RFC_9106_LOW_MEMORY: t=3, m=64 MiB, p=4) and "
        "passwords on both sides; thread i takes logins i, i+threads, …",
        f"credflow: MemoryStorage + Hasher(RFC_9106_LOW_MEMORY), default bound = os.cpu_count() "
        f"= {os.cpu_count()} → {bound}; raw: argon2.PasswordHasher().verify, no bound.",
        "baseline = VmRSS before the threads start; peak = ru_maxrss at the end (the whole "
        "process's high-water mark, so it also covers start-up and the warm-up login).",
        "cores = the process's user + system CPU time over the timed phase / its wall time: "
        "below 2 means other processes took part of the machine during that run (the raw side, "
        "with 8 verifies × 4 argon2 lanes runnable against credflow's bound × 4, gets a larger "
        "share of a contended machine).",
        f"row ratio = credflow wall time / raw wall time (information); the throughput target "
        f"≥ {TARGET}× is checked below it.",
    )
    return Table(
        title=f"Concurrency: {THREADS} threads logging in at once, and a burst of {BURST}",
        reference="argon2-cffi",
        rows=tuple(rows),
        checks=tuple(checks),
        notes=notes,
    )


BENCHMARK = Benchmark(
    name="concurrency",
    summary="8 threads (and a burst of 100) logging in: throughput and peak RSS vs raw argon2",
    run=run,
)


if __name__ == "__main__":
    sys.exit(_child_main())
