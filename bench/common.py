"""Shared pieces of the benchmarks: timing, the machine description, tables and JSON.

Timing rules, for every benchmark:

- both sides run on the same inputs, in the same process, interleaved: each repetition times
  every side once, and the order of the sides alternates from one repetition to the next, so
  a slow drift of the machine (frequency, a neighbour's load) falls on both sides alike;
- nothing is cached across repetitions by the harness: each repetition calls the code under
  test on every input again;
- the garbage collector is collected before, and disabled during, each timed batch;
- a side's figure is the median of its repetitions' totals;
- a row's ratio is the median of the per-repetition ratios (each pair timed back to back), so a
  burst of load that hits one repetition weighs on both sides of it; the ratio of the two
  medians is printed under the table as well.
"""

from __future__ import annotations

import datetime as dt
import gc
import importlib.metadata
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from credflow.hashing import Hasher, Verification

__all__ = [
    "PACKAGES",
    "Benchmark",
    "Check",
    "Measurement",
    "Row",
    "Settings",
    "Table",
    "cpu_model",
    "environment",
    "format_header",
    "format_table",
    "measure_interleaved",
    "median_interval",
    "paired_interval_note",
    "setup_django",
    "time_batch",
]

PACKAGES: tuple[str, ...] = ("credflow", "django", "argon2-cffi")
"""The distributions whose versions the header reports."""


# -- settings and results -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    """How hard to measure: ``repetitions`` timed batches per side."""

    repetitions: int
    quick: bool = False


@dataclass(frozen=True, slots=True)
class Measurement:
    """One side's timed batches: ``totals`` in seconds, each over ``calls`` calls."""

    totals: tuple[float, ...]
    calls: int

    @property
    def median(self) -> float:
        """The median batch total, in seconds."""
        return statistics.median(self.totals)

    def per_call_us(self, total: float) -> float:
        """A batch total expressed as microseconds per call."""
        return total / self.calls * 1e6

    @property
    def us_per_call(self) -> float:
        """The median batch total, as microseconds per call."""
        return self.per_call_us(self.median)

    @property
    def spread_us(self) -> tuple[float, float]:
        """The fastest and slowest batch, as microseconds per call."""
        return self.per_call_us(min(self.totals)), self.per_call_us(max(self.totals))


class TimingHasher(Hasher):
    """A Hasher that records how long each ``verify`` took, in seconds: the argon2 work inside
    a login, so the login's own cost is its time minus that, call by call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verify_seconds: list[float] = []

    def verify(self, phc: str, password: str) -> Verification:
        start = time.perf_counter_ns()
        outcome = super().verify(phc, password)
        self.verify_seconds.append((time.perf_counter_ns() - start) / 1e9)
        return outcome


def in_call_cost_us(ours: Measurement, verify_seconds: Sequence[float]) -> float:
    """credflow's own cost per call, in µs: the median over calls of (the call's time minus the
    verify inside it). argon2's run-to-run noise cancels within each call."""
    if ours.calls != 1 or len(verify_seconds) != len(ours.totals):
        raise ValueError("one verify per timed call is needed")
    return statistics.median(t - v for t, v in zip(ours.totals, verify_seconds, strict=True)) * 1e6


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a table: credflow against a reference on the same inputs.

    ``target`` is the highest acceptable ratio (credflow / reference); ``None`` means the row is
    for information only. ``direct`` is, for rows where argon2 dominates both sides, the ratio
    implied by credflow's own cost measured inside each call (``in_call_cost_us``): the verdict
    then needs it within the target, and the end-to-end paired interval not wholly above it.
    """

    name: str
    ours: Measurement
    reference: Measurement
    target: float | None
    direct: float | None = None

    @property
    def ratio(self) -> float:
        """The headline ratio and the one the verdict uses: the median of the paired ratios."""
        return self.paired_ratio

    @property
    def ratio_of_medians(self) -> float:
        """credflow's median time per call over the reference's."""
        return self.ours.median / self.reference.median

    @property
    def paired_ratio(self) -> float:
        """The median of the per-repetition ratios (each pair timed back to back)."""
        pairs = zip(self.ours.totals, self.reference.totals, strict=True)
        return statistics.median(ours / ref for ours, ref in pairs)

    @property
    def paired_ratios(self) -> tuple[float, ...]:
        """Each repetition's credflow total over the reference's (pairs timed back to back)."""
        pairs = zip(self.ours.totals, self.reference.totals, strict=True)
        return tuple(ours / ref for ours, ref in pairs)

    @property
    def paired_interval(self) -> tuple[float, float]:
        """A distribution-free 95% confidence interval for the median of the paired ratios."""
        return median_interval(self.paired_ratios)

    @property
    def target_text(self) -> str:
        """The target as shown in the table."""
        return "info" if self.target is None else f"≤ {self.target:g}×"

    @property
    def verdict(self) -> str:
        """``meets`` or ``misses`` the target, or ``info``."""
        if self.target is None:
            return "info"
        if self.direct is not None:
            contradicted = self.paired_interval[0] > self.target
            return "meets" if self.direct <= self.target and not contradicted else "misses"
        return "meets" if self.ratio <= self.target else "misses"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view, with every repetition's total for later analysis."""
        return {
            "name": self.name,
            "credflow_us_per_call": self.ours.us_per_call,
            "reference_us_per_call": self.reference.us_per_call,
            "ratio": self.ratio,
            "ratio_of_medians": self.ratio_of_medians,
            "direct_ratio": self.direct,
            "paired_ratio_ci95": list(self.paired_interval),
            "target": self.target,
            "verdict": self.verdict,
            "calls_per_batch": self.ours.calls,
            "credflow_totals_s": list(self.ours.totals),
            "reference_totals_s": list(self.reference.totals),
        }


@dataclass(frozen=True, slots=True)
class Check:
    """A figure held against a limit that is not a time ratio: a throughput, a peak memory.

    ``limit`` is the bound (``None``: for information only); ``at_least`` says the value must
    be at least the limit rather than at most. ``detail`` says how the figure was obtained.
    """

    name: str
    value: float
    unit: str
    limit: float | None = None
    at_least: bool = False
    detail: str = ""

    @property
    def limit_text(self) -> str:
        """The limit as shown in the table."""
        if self.limit is None:
            return "info"
        return f"{'≥' if self.at_least else '≤'} {_number(self.limit)} {self.unit}".rstrip()

    @property
    def verdict(self) -> str:
        """``meets`` or ``misses`` the limit, or ``info``."""
        if self.limit is None:
            return "info"
        ok = self.value >= self.limit if self.at_least else self.value <= self.limit
        return "meets" if ok else "misses"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "limit": self.limit,
            "at_least": self.at_least,
            "verdict": self.verdict,
            "detail": self.detail,
        }


def _number(value: float) -> str:
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


@dataclass(frozen=True, slots=True)
class Table:
    """What one benchmark returns: a title, the reference's name, rows and notes.

    ``subject`` names the measured side's column (credflow unless a benchmark compares credflow
    with itself, e.g. 100,000 accounts against 1,000); ``checks`` are figures that are not time
    ratios, printed under the rows.
    """

    title: str
    reference: str
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()
    subject: str = "credflow"
    checks: tuple[Check, ...] = ()


@dataclass(frozen=True, slots=True)
class Benchmark:
    """A registered benchmark: ``run`` measures and returns one table."""

    name: str
    summary: str
    run: Callable[[Settings], Table] = field(repr=False)


# -- timing ---------------------------------------------------------------------------------


def time_batch(batch: Callable[[], object]) -> float:
    """Run ``batch`` once with the garbage collector off; return the wall time in seconds."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        batch()
        elapsed = time.perf_counter_ns() - start
    finally:
        if was_enabled:
            gc.enable()
    return elapsed / 1e9


def measure_interleaved(
    batches: Sequence[Callable[[], object]], *, calls: int, repetitions: int
) -> tuple[Measurement, ...]:
    """Time every batch ``repetitions`` times, interleaved, the order alternating each time.

    Repetition 0 runs the batches in the given order, repetition 1 in reverse, and so on.
    Each batch makes ``calls`` calls; the result has one ``Measurement`` per batch, in order.
    """
    if repetitions < 1:
        raise ValueError("repetitions must be at least 1")
    totals: list[list[float]] = [[] for _ in batches]
    order = list(range(len(batches)))
    for repetition in range(repetitions):
        for index in order if repetition % 2 == 0 else reversed(order):
            totals[index].append(time_batch(batches[index]))
    return tuple(Measurement(tuple(side), calls) for side in totals)


def median_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free confidence interval for the median: two order statistics.

    The widest-coverage-first choice: the largest ``k`` with P(Binomial(n, ½) < k) ≤ α/2,
    giving ``[x(k), x(n+1-k)]`` (1-based, sorted). With too few values for the requested
    confidence, the whole range.
    """
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("no values")
    tail = (1 - confidence) / 2
    k, below = 0, 0.0
    while k < n // 2:
        below += math.comb(n, k) / 2**n
        if below > tail:
            break
        k += 1
    k = max(k, 1)
    return ordered[k - 1], ordered[n - k]


def paired_interval_note(row: Row) -> str:
    """One line: the paired-ratio median, its 95% interval, and whether the target is resolved."""
    low, high = row.paired_interval
    text = (
        f"{row.name}: median of {len(row.paired_ratios)} paired ratios {row.paired_ratio:.4f}, "
        f"95% interval [{low:.4f}, {high:.4f}] (order statistics; it assumes independent "
        "pairs, so it is optimistic when the machine's load comes in bursts)"
    )
    if row.target is None:
        return text
    if high <= row.target:
        return text + f", wholly within ≤ {row.target:g}"
    if low > row.target:
        return text + f", wholly above {row.target:g}"
    return text + f"; it straddles {row.target:g}: at this noise level the run cannot settle it"


# -- Django ---------------------------------------------------------------------------------

_DJANGO_VALIDATORS = (
    "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
    "django.contrib.auth.password_validation.MinimumLengthValidator",
    "django.contrib.auth.password_validation.CommonPasswordValidator",
    "django.contrib.auth.password_validation.NumericPasswordValidator",
)


def setup_django() -> None:
    """Configure Django in this process, once, for every benchmark that compares with it.

    ``settings.configure`` can run only once per process, so every Django setting any benchmark
    needs belongs here. The password validators are Django's four defaults with their default
    options; the auth app is installed so that its French catalogue (the messages
    ``validate_password`` raises) is the one used.
    """
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        AUTH_PASSWORD_VALIDATORS=[{"NAME": name} for name in _DJANGO_VALIDATORS],
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
        USE_I18N=True,
        LANGUAGE_CODE="fr",
    )
    django.setup()


# -- machine and header ---------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU model from ``/proc/cpuinfo`` when there is one, else what ``platform`` says."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in {"model name", "Model", "cpu model"} and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, Any]:
    """The date (UTC), the machine, Python and the package versions, as JSON-ready data."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_build": " ".join(platform.python_build()),
        "executable": sys.executable,
        "packages": {name: _version(name) for name in PACKAGES},
    }


def format_header(env: dict[str, Any], settings: Settings) -> str:
    """The lines printed above the tables."""
    cores = f"{env['cores']} cores"
    if env["usable_cores"] is not None and env["usable_cores"] != env["cores"]:
        cores += f" ({env['usable_cores']} usable)"
    packages = ", ".join(f"{name} {version}" for name, version in env["packages"].items())
    mode = "quick" if settings.quick else "full"
    return "\n".join(
        [
            "credflow benchmarks",
            f"  date:     {env['date_utc']}",
            f"  machine:  {env['platform']}; {env['cpu']}; {cores}",
            f"  python:   {env['python']} ({env['python_build']})",
            f"  packages: {packages}",
            f"  runs:     {settings.repetitions} interleaved repetitions per side ({mode}); "
            "median reported; gc off while timing",
        ]
    )


# -- tables ---------------------------------------------------------------------------------


def format_table(table: Table) -> str:
    """The table as aligned text, followed by the spread of each row, the checks and the notes."""
    headers: tuple[str, ...] = ("name", f"{table.subject} µs/call", f"{table.reference} µs/call")
    headers += ("ratio", "target", "verdict")
    cells = [
        (
            row.name,
            f"{row.ours.us_per_call:.2f}",
            f"{row.reference.us_per_call:.2f}",
            f"{row.ratio:.3f}",
            row.target_text,
            row.verdict,
        )
        for row in table.rows
    ]
    out = [table.title, *_aligned(headers, cells)]
    out.append("")
    for row in table.rows:
        ours_lo, ours_hi = row.ours.spread_us
        ref_lo, ref_hi = row.reference.spread_us
        out.append(
            f"  {row.name}: min–max µs/call {table.subject} {ours_lo:.2f}–{ours_hi:.2f}, "
            f"{table.reference} {ref_lo:.2f}–{ref_hi:.2f}; "
            f"ratio of the medians {row.ratio_of_medians:.3f}"
        )
        if row.direct is not None:
            low, high = row.paired_interval
            out.append(
                f"  {row.name}: direct ratio {row.direct:.4f} (credflow's own cost measured "
                f"inside each call); end to end {row.ratio:.4f}, 95% interval [{low:.4f}, "
                f"{high:.4f}]; the verdict takes the direct ratio unless the interval lies "
                "wholly above the target"
            )
    if table.checks:
        out.append("")
        check_cells = [
            (
                check.name,
                f"{_number(check.value)} {check.unit}".rstrip(),
                check.limit_text,
                check.verdict,
            )
            for check in table.checks
        ]
        out.extend(_aligned(("check", "value", "limit", "verdict"), check_cells))
        out.append("")
        out.extend(f"  {check.name}: {check.detail}" for check in table.checks if check.detail)
    out.extend(f"  note: {note}" for note in table.notes)
    return "\n".join(out)


def _aligned(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> list[str]:
    """The header, a rule and the cells: the first column left-aligned, the others right."""
    widths = [max(len(line[i]) for line in [headers, *cells]) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = (value.rjust(width) for value, width in zip(values[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    return [line(headers), "  ".join("-" * width for width in widths)] + [
        line(values) for values in cells
    ]
