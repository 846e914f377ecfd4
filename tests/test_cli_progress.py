"""The progress line of long commands: redrawn in place on a terminal, every tenth elsewhere."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.test_cli_support import TtyOutput

from credflow.cli.progress import Progress

LINE = re.compile(r"^job: ([\d,]+)/([\d,]+) \((\d+) %\)$")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_line_format() -> None:
    progress = Progress("require-reset", 100_000, io.StringIO())
    assert progress.line(42_000) == "require-reset: 42,000/100,000 (42 %)"
    assert progress.line(99_999) == "require-reset: 99,999/100,000 (99 %)"
    assert Progress("x", 0, io.StringIO()).line(0) == "x: 0/0 (100 %)"


def test_off_a_terminal_one_line_per_tenth() -> None:
    stream = io.StringIO()
    progress = Progress("job", 1000, stream)
    for done in range(0, 1001, 25):
        progress.update(done)
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert lines == [f"job: {n:,}/1,000 ({n // 10} %)" for n in range(0, 1001, 100)]


def test_off_a_terminal_an_unfinished_run_ends_with_its_count() -> None:
    stream = io.StringIO()
    progress = Progress("job", 1000, stream)
    progress.update(0)
    progress.update(450)
    progress.finish()
    assert stream.getvalue().splitlines() == [
        "job: 0/1,000 (0 %)",
        "job: 450/1,000 (45 %)",
        "job: 450/1,000 (45 %)",
    ]


def test_on_a_terminal_redrawn_at_most_every_interval() -> None:
    stream = TtyOutput()
    clock = FakeClock()
    progress = Progress("job", 10, stream, clock=clock, interval=0.1)
    progress.update(1)
    progress.update(2)  # too soon: not drawn
    clock.now = 0.2
    progress.update(3)
    progress.finish()
    assert stream.getvalue() == ("\rjob: 1/10 (10 %)\rjob: 3/10 (30 %)\rjob: 3/10 (30 %)\n")


@given(
    total=st.integers(0, 10_000),
    steps=st.lists(st.integers(0, 500), max_size=60),
)
def test_off_a_terminal_at_most_twelve_ordered_lines(total: int, steps: list[int]) -> None:
    stream = io.StringIO()
    progress = Progress("job", total, stream)
    done = 0
    for step in steps:
        done = min(total, done + step)
        progress.update(done)
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert 1 <= len(lines) <= 12
    parsed = []
    for line in lines:
        match = LINE.match(line)
        assert match is not None, line
        parsed.append(tuple(int(group.replace(",", "")) for group in match.groups()))
    assert all(shown_total == total for _, shown_total, _ in parsed)
    assert [count for count, _, _ in parsed] == sorted(count for count, _, _ in parsed)
    assert parsed[-1][0] == done
    assert all(0 <= percent <= 100 for _, _, percent in parsed)


def test_helpers_for_odd_values() -> None:
    from credflow.cli.environment import NoMail
    from credflow.cli.output import when
    from credflow.errors import NotificationError
    from credflow.notify import Message

    assert when(None) == "-"
    with pytest.raises(NotificationError, match="this command sends no mail"):
        NoMail().send(Message("password_setup_link", "a@example.fr", "fr"))
