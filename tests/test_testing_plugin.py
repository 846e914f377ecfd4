"""The pytest plugin (credflow.testing.plugin): its fixtures, its entry point, what it imports,
and the host app example (examples/hostapp) run through pytester, as a host app would run it."""

from __future__ import annotations

import ast
import importlib.metadata
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import credflow.testing
from credflow import hashing
from credflow.clock import FrozenClock
from credflow.errors import ConfigurationError
from credflow.facade import Credflow
from credflow.settings import Settings
from credflow.storage.memory import MemoryStorage
from credflow.storage.protocols import Storage
from credflow.testing import TEST_BASE_URL, TestOutbox, make_app, make_settings
from credflow.testing.races import StorageRaces

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hostapp"
PLUGIN = ROOT / "src" / "credflow" / "testing" / "plugin.py"
FIRST_LOGIN = "tests/test_first_sign_in.py::test_first_login_with_the_temporary_password"
RUNS = 15


# -- the fixtures, as our own suite gets them (tests/conftest.py loads the plugin) -------------


def test_credflow_app_is_wired_from_the_other_fixtures(
    credflow_app: Credflow,
    credflow_settings: Settings,
    credflow_storage: Storage,
    frozen_clock: FrozenClock,
    outbox: TestOutbox,
) -> None:
    assert credflow_app.settings is credflow_settings
    assert credflow_app.storage is credflow_storage
    assert credflow_app.clock is frozen_clock
    assert credflow_app.notifier is outbox
    assert isinstance(credflow_storage, MemoryStorage)
    assert credflow_storage.list_accounts() == []
    assert credflow_app.hasher.profile is hashing.TESTING
    assert credflow_settings.base_url == TEST_BASE_URL
    assert credflow_settings.deviations() == ()  # NIST preset: no warning in a strict suite


def test_the_frozen_clock_of_the_app_moves_only_when_told(
    credflow_app: Credflow, frozen_clock: FrozenClock
) -> None:
    start = credflow_app.clock.now()
    assert credflow_app.clock.now() == start
    assert frozen_clock.advance(90) == credflow_app.clock.now()
    assert (credflow_app.clock.now() - start).total_seconds() == 90


def test_the_outbox_fixture_receives_the_app_messages(
    credflow_app: Credflow, outbox: TestOutbox
) -> None:
    credflow_app.accounts.create("adejoux", email="a.dejoux@example.fr")
    credflow_app.recovery.start("adejoux")
    assert outbox.kinds() == ("reset_link",)
    assert outbox.last_link("reset").startswith(TEST_BASE_URL + "/reset?token=")


# -- the builders behind the fixtures -----------------------------------------------------------


def test_make_settings_takes_overrides_and_the_classic_preset() -> None:
    assert make_settings(locale="en").locale == "en"
    with pytest.warns(UserWarning, match="depart from NIST/ASVS"):
        classic = make_settings("classic")
    assert classic.security_questions is True
    assert classic.hashing is hashing.TESTING


def test_make_settings_refuses_an_unknown_preset() -> None:
    with pytest.raises(ConfigurationError, match="preset"):
        make_settings("strict")  # type: ignore[arg-type]


def test_make_app_hashes_fast_even_with_production_settings() -> None:
    production = make_settings(hashing=hashing.RFC_9106_LOW_MEMORY)
    cf = make_app(production)
    assert cf.settings is production
    assert cf.hasher.profile is hashing.TESTING
    assert isinstance(cf.notifier, TestOutbox)
    assert isinstance(cf.clock, FrozenClock)


def test_the_package_imports_its_names_on_first_use() -> None:
    assert "StorageRaces" in dir(credflow.testing)
    assert credflow.testing.StorageRaces is StorageRaces
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = credflow.testing.Nothing


# -- loading: the entry point, and nothing heavy at import time ---------------------------------


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    points = importlib.metadata.entry_points(group="pytest11")
    assert {p.name: p.value for p in points}.get("credflow") == "credflow.testing.plugin"


def test_the_plugin_imports_nothing_from_credflow_at_module_level() -> None:
    # pytest loads it before pytest-cov starts: a module it imports would show as never run.
    tree = ast.parse(PLUGIN.read_text(encoding="utf-8"))
    imported = [
        alias.name if isinstance(node, ast.Import) else node.module or ""
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert imported
    assert [name for name in imported if name.startswith("credflow")] == []


def test_importing_credflow_or_the_plugin_imports_neither_hypothesis_nor_the_suites() -> None:
    code = (
        "import sys, credflow; assert 'pytest' not in sys.modules, 'pytest'\n"
        "import credflow.testing.plugin\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('credflow.testing.'))\n"
        "print(loaded, 'hypothesis' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert run.stdout.strip() == "['credflow.testing.plugin'] False"


# -- a host app's tests, run by pytest with the plugin from its entry point ---------------------


def _host_app(pytester: pytest.Pytester) -> None:
    """Copy examples/hostapp (its pyproject.toml and tests) into the pytester directory."""
    pytester.makepyprojecttoml((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))
    tests = pytester.mkdir("tests")
    for name in ("conftest.py", "test_first_sign_in.py"):
        source = EXAMPLE / "tests" / name
        (tests / name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")


def test_the_host_app_example_passes_with_the_plugin(pytester: pytest.Pytester) -> None:
    _host_app(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    assert "credflow-" in result.stdout.str()  # listed among the plugins, from its entry point


def test_without_the_plugin_the_host_app_fixtures_are_missing(pytester: pytest.Pytester) -> None:
    # The control: the example passes because of the plugin, not by chance.
    _host_app(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:credflow")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*fixture 'credflow_app' not found*"])


@contextmanager
def _untraced() -> Iterator[None]:
    """Suspend this thread's trace function (coverage's, under ``--cov``): it multiplies the
    time of every line, so it would time the tracer, not the test."""
    tracer = sys.gettrace()
    sys.settrace(None)
    try:
        yield
    finally:
        sys.settrace(tracer)


def test_the_host_app_first_login_test_takes_under_5_ms(pytester: pytest.Pytester) -> None:
    """Setup, call and teardown of the example's first-login test, over several runs.

    The gate is the fastest run: other processes on the machine only ever add time, and a
    median taken under their load would fail for them, not for credflow. The median is printed
    (``-s``) for the record; docs/testing.md quotes it.
    """
    _host_app(pytester)
    durations = []
    for _ in range(RUNS):
        with _untraced():
            recorder = pytester.inline_run(FIRST_LOGIN, "-p", "no:cacheprovider")
        reports = recorder.getreports("pytest_runtest_logreport")
        assert [r.outcome for r in reports] == ["passed"] * 3
        durations.append(sum(r.duration for r in reports))
    median, fastest = statistics.median(durations), min(durations)
    print(f"first-login test: median {median * 1000:.2f} ms, fastest {fastest * 1000:.2f} ms")
    assert fastest < 0.005, f"fastest of {RUNS} runs: {fastest * 1000:.2f} ms"
