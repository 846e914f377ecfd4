"""Write the benchmark tables of docs/comparison.md from docs/data/bench.json.

The JSON is what ``python -m bench --json FILE`` wrote on one machine, copied into the repository
with the date and the machine it was measured on. This script turns it into markdown between
``<!-- bench:start -->`` and ``<!-- bench:end -->``; a test fails when the committed page does not
match the committed JSON.

    python scripts/bench_table.py           # rewrite the tables
    python scripts/bench_table.py --check   # exit 1 when they are stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "docs" / "data" / "bench.json"
PAGE = ROOT / "docs" / "comparison.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
BLOCK = re.compile(re.escape(START) + r"\n.*?" + re.escape(END), re.S)


class BenchTableError(Exception):
    """The JSON or the page cannot give a table."""


def duration(us: float) -> str:
    """A time per call in the unit a reader takes in at a glance."""
    if us >= 1_000_000:
        return f"{us / 1_000_000:,.2f} s"
    if us >= 1_000:
        return f"{us / 1_000:,.2f} ms"
    return f"{us:,.2f} µs"


def number(value: float) -> str:
    """The bench's own rounding: three decimals below 10, one above."""
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def _target(row: Mapping[str, Any]) -> str:
    target = row.get("target")
    return "info" if target is None else f"≤ {target:g}×"


def _limit(check: Mapping[str, Any]) -> str:
    limit = check.get("limit")
    if limit is None:
        return "info"
    sign = "≥" if check.get("at_least") else "≤"
    return f"{sign} {number(limit)} {check.get('unit', '')}".rstrip()


def _value(check: Mapping[str, Any]) -> str:
    return f"{number(check['value'])} {check.get('unit', '')}".rstrip()


def _ratio(row: Mapping[str, Any]) -> str:
    direct = row.get("direct_ratio")
    if direct is None:
        return f"{row['ratio']:.3f}"
    return f"{row['ratio']:.3f}; direct {direct:.4f}"


def _verdict(verdict: str) -> str:
    return f"**{verdict}**" if verdict == "misses" else verdict


def header(data: Mapping[str, Any]) -> list[str]:
    """Where and when the figures were measured."""
    env = data["environment"]
    settings = data.get("settings", {})
    cores = f"{env['cores']} cores"
    if env.get("usable_cores") not in (None, env["cores"]):
        cores += f" ({env['usable_cores']} usable)"
    packages = ", ".join(f"{name} {version}" for name, version in env["packages"].items())
    mode = "quick" if settings.get("quick") else "full"
    return [
        f"Measured on {env['date_utc']} on {env['cpu']}, {cores} "
        f"({env['platform']}), {env['python']}; {packages}. "
        f"{settings.get('repetitions', '?')} interleaved repetitions per side ({mode} run), "
        "medians reported. A ratio followed by *direct* is a row dominated by argon2: the first "
        "figure is the end-to-end ratio (the median of paired ratios, which carries argon2's "
        "run-to-run spread), the second the direct ratio, argon2 plus credflow's own cost "
        "measured inside each call, over argon2; the verdict reads the direct ratio unless the "
        "end-to-end interval lies wholly above the target.",
    ]


def table(benchmark: Mapping[str, Any]) -> list[str]:
    """One benchmark: its rows (time ratios), then its checks (other figures)."""
    subject, reference = benchmark["subject"], benchmark["reference"]
    lines = [f"### {benchmark['title']}", ""]
    if benchmark["rows"]:
        lines += [
            f"| Measured | {_cell(subject)} | {_cell(reference)} | Ratio | Target | Verdict |",
            "|---|--:|--:|--:|--:|---|",
        ]
        lines += [
            f"| {_cell(row['name'])} | {duration(row['credflow_us_per_call'])} "
            f"| {duration(row['reference_us_per_call'])} | {_ratio(row)} "
            f"| {_target(row)} | {_verdict(row['verdict'])} |"
            for row in benchmark["rows"]
        ]
    checks = benchmark.get("checks", [])
    if checks:
        if benchmark["rows"]:
            lines.append("")
        lines += ["| Check | Value | Limit | Verdict |", "|---|--:|--:|---|"]
        lines += [
            f"| {_cell(check['name'])} | {_cell(_value(check))} | {_cell(_limit(check))} "
            f"| {_verdict(check['verdict'])} |"
            for check in checks
        ]
    return lines


def render(data: Mapping[str, Any]) -> str:
    """The markdown between the markers (the markers included)."""
    try:
        lines = [START, "", *header(data)]
        for benchmark in data["benchmarks"]:
            lines += ["", *table(benchmark)]
    except (KeyError, TypeError, ValueError) as error:
        raise BenchTableError(f"unexpected bench JSON: {error!r}") from None
    return "\n".join([*lines, "", END])


def refresh(page: str, data: Mapping[str, Any]) -> str:
    """``page`` with the block between the markers replaced by fresh tables."""
    if len(BLOCK.findall(page)) != 1:
        raise BenchTableError(f"the page needs exactly one {START} … {END} block")
    block = render(data)
    return BLOCK.sub(lambda _: block, page)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the tables are stale")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--page", type=Path, default=PAGE)
    args = parser.parse_args(argv)
    page = args.page.read_text(encoding="utf-8")
    try:
        fresh = refresh(page, json.loads(args.data.read_text(encoding="utf-8")))
    except BenchTableError as error:
        print(f"bench_table: {error}", file=sys.stderr)
        return 1
    if fresh == page:
        return 0
    if args.check:
        print(f"{args.page} is stale: run python scripts/bench_table.py", file=sys.stderr)
        return 1
    args.page.write_text(fresh, encoding="utf-8")
    print(f"updated {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
