"""``python -m bench``: run the registered benchmarks and print one table each.

Options: ``--only NAME`` (repeatable, or comma-separated), ``--quick`` (fewer repetitions, for
smoke tests), ``--repetitions N``, ``--json FILE`` (also write the rows as JSON). To add a
benchmark, write a module exposing ``BENCHMARK`` and add it to ``BENCHMARKS`` below.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import concurrency, flows, login, mfa, policy, recovery, registration, scale
from bench.common import Benchmark, Settings, environment, format_header, format_table

BENCHMARKS: tuple[Benchmark, ...] = (
    policy.BENCHMARK,
    login.BENCHMARK,
    scale.BENCHMARK,
    concurrency.BENCHMARK,
    flows.BENCHMARK,
    recovery.BENCHMARK,
    registration.BENCHMARK,
    mfa.BENCHMARK,
)
"""Every benchmark, in the order they run and print."""

FULL_REPETITIONS = 15
QUICK_REPETITIONS = 3


def _parser() -> argparse.ArgumentParser:
    names = ", ".join(benchmark.name for benchmark in BENCHMARKS)
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=f"credflow benchmarks ({names})."
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these benchmarks (repeatable or comma-separated): {names}",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_REPETITIONS} repetitions instead of {FULL_REPETITIONS} (smoke test)",
    )
    parser.add_argument(
        "--repetitions", type=int, metavar="N", help="timed repetitions per side (overrides)"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON")
    return parser


def _select(parser: argparse.ArgumentParser, only: Sequence[str]) -> list[Benchmark]:
    wanted = [name.strip() for item in only for name in item.split(",") if name.strip()]
    if not wanted:
        return list(BENCHMARKS)
    known = {benchmark.name: benchmark for benchmark in BENCHMARKS}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [benchmark for benchmark in BENCHMARKS if benchmark.name in wanted]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks, print their tables, optionally write JSON."""
    parser = _parser()
    args = parser.parse_args(argv)
    selected = _select(parser, args.only)
    repetitions = args.repetitions or (QUICK_REPETITIONS if args.quick else FULL_REPETITIONS)
    if repetitions < 1:
        parser.error("--repetitions must be at least 1")
    settings = Settings(repetitions=repetitions, quick=args.quick)
    env = environment()
    print(format_header(env, settings), flush=True)
    results: list[dict[str, Any]] = []
    for benchmark in selected:
        started = time.perf_counter()
        table = benchmark.run(settings)
        elapsed = time.perf_counter() - started
        print()
        print(format_table(table))
        print(f"  ({benchmark.name}: {elapsed:.1f} s)", flush=True)
        results.append(
            {
                "benchmark": benchmark.name,
                "seconds": elapsed,
                "title": table.title,
                "subject": table.subject,
                "reference": table.reference,
                "rows": [row.to_json() for row in table.rows],
                "checks": [check.to_json() for check in table.checks],
                "notes": list(table.notes),
            }
        )
    if args.json is not None:
        document = {
            "environment": env,
            "settings": {"repetitions": settings.repetitions, "quick": settings.quick},
            "benchmarks": results,
        }
        args.json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
