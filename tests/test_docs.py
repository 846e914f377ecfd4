"""The documentation site: code that runs, generated pages that are current, and a nav that
lists every page.

``make docs`` builds the site with ``mkdocs build --strict`` (broken links and anchors, missing
pages, docstrings griffe cannot read); these tests cover what a build cannot see: that the
examples still run, and that the generated tables match their sources.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scripts import bench_table, traceability

from credflow.deviations import StandardsDeviationWarning
from credflow.flows import MACHINES
from credflow.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def blocks(page: str, language: str) -> list[str]:
    """The fenced blocks of ``page`` in ``language``, in order."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return [body for lang, body in FENCE.findall(text) if lang == language]


def example_pairs(page: str) -> list[tuple[str, str]]:
    """Each ``python`` block immediately followed by the ``text`` block of its output."""
    text = (DOCS / page).read_text(encoding="utf-8")
    found = FENCE.findall(text)
    return [
        (code, out)
        for (lang, code), (next_lang, out) in itertools.pairwise(found)
        if lang == "python" and next_lang == "text"
    ]


def run(code: str) -> str:
    """Run a page's code in a fresh namespace; what it prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<docs>", "exec"), {"__name__": "__docs__"})  # noqa: S102
    return out.getvalue()


# -- the quick start -----------------------------------------------------------------------------


def test_the_quick_start_runs_as_written() -> None:
    """The page promises a working login in about ten lines: its code must run, asserts and all."""
    (code,) = blocks("quickstart.md", "python")
    statements = [line for line in code.splitlines() if line.strip() and not line.startswith("#")]
    assert len(statements) <= 16, "the quick start grew past a screenful"
    assert "assert" in code, "the quick start checks its own outcome"
    run(code)


def test_a_broken_quick_start_would_fail() -> None:
    (code,) = blocks("quickstart.md", "python")
    broken = code.replace('== "action_required"', '== "denied"')
    assert broken != code
    with pytest.raises(AssertionError):
        run(broken)


def test_the_concepts_example_prints_what_the_page_shows() -> None:
    pairs = example_pairs("concepts.md")
    assert pairs
    for code, shown in pairs:
        assert run(code) == shown


# -- the flows and the nav -----------------------------------------------------------------------


def nav_pages() -> list[str]:
    """The pages mkdocs.yml lists in its nav (read as text: the file has python tags)."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:") : text.index("\nmarkdown_extensions:")]
    return re.findall(r"^\s+- (?:[^:\n]+: )?(\S+\.md)$", nav, re.M)


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    listed = nav_pages()
    assert len(listed) == len(set(listed)), "a page is listed twice"
    assert sorted(listed) == pages


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_every_flow_has_a_page_with_its_diagram(name: str) -> None:
    marker = f"<!-- diagram: {name} -->"
    pages = [p for p in DOCS.glob("*.md") if marker in p.read_text(encoding="utf-8")]
    assert len(pages) == 1, f"{name}: {len(pages)} pages embed its diagram"
    assert pages[0].name in nav_pages()


# -- the portals ---------------------------------------------------------------------------------

PORTALS = ("sigma", "certigna", "defi", "asp", "sage")
DEVIATIONS = re.compile(r"<!-- deviations: (\w+) -->\n(.*?)<!-- /deviations -->", re.S)
KEY = "docs-test-secret-key-of-32-bytes-or-more"


def page_deviations() -> dict[str, list[tuple[str, str, str]]]:
    """Per portal: (code, subject, requirements) of each row of its deviations table."""
    text = (DOCS / "portals.md").read_text(encoding="utf-8")
    found: dict[str, list[tuple[str, str, str]]] = {}
    for portal, table in DEVIATIONS.findall(text):
        rows = [line.strip("|").split("|") for line in table.splitlines()[2:] if line.strip()]
        found[portal] = [(c.strip(" `"), s.strip(" `"), r.strip()) for c, s, r, _ in rows]
    return found


@pytest.mark.parametrize("portal", PORTALS)
def test_each_portal_lists_the_deviations_its_file_declares(portal: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StandardsDeviationWarning)
        settings = Settings.from_file(
            ROOT / "examples" / "portals" / f"{portal}.toml",
            secret_key=KEY,
            base_url="https://portal.example.fr",
        )
    declared = [(d.code, d.subject, ", ".join(d.requirements)) for d in settings.deviations()]
    assert page_deviations()[portal] == declared


@pytest.mark.parametrize("portal", PORTALS)
def test_each_portal_includes_its_file(portal: str) -> None:
    text = (DOCS / "portals.md").read_text(encoding="utf-8")
    assert f'--8<-- "examples/portals/{portal}.toml"' in text


# -- the traceability table ----------------------------------------------------------------------


def requirements() -> list[traceability.Requirement]:
    path = traceability.REQUIREMENTS
    assert path.is_file(), f"{path} is missing: the shared directory sits beside the repository"
    return traceability.read_requirements(path.read_text(encoding="utf-8"))


def test_the_requirements_are_read_with_their_sections() -> None:
    found = requirements()
    ids = [r.id for r in found]
    assert len(ids) == len(set(ids)) >= 100
    assert {"PW-01", "LK-09", "RS-06", "DB-03"} <= set(ids)
    first = found[0]
    assert first.section.startswith("1.1 ")
    assert first.text and "|" not in first.preset


def test_the_traceability_page_is_current() -> None:
    """After adding or changing a req marker, run ``.venv/bin/python scripts/traceability.py``."""
    page = (DOCS / "traceability.md").read_text(encoding="utf-8")
    assert page == traceability.build(), "docs/traceability.md is stale"


def test_every_tag_in_the_suite_names_a_known_requirement() -> None:
    scan = traceability.scan_tests()
    assert scan.tags
    assert scan.problems == []
    assert traceability.unknown_ids(scan, requirements()) == []


SYNTHETIC = """
import pytest
from pytest import mark

pytestmark = [pytest.mark.slow, pytest.mark.req("PW-01")]
REQ = pytest.mark.req("RS-06")

@pytest.mark.req("PW-03", "PW-05")
def test_function():
    pass

@pytest.mark.parametrize("x", [pytest.param(1, marks=pytest.mark.req("LK-04"))])
def test_param(x):
    pass

@REQ
def test_alias():
    pass

@mark.req("ST-01")
class TestClass:
    pytestmark: list = [pytest.mark.req("ST-02")]

    @pytest.mark.req("ST-05")
    def test_method(self):
        pass

TestMachine = REQ(Machine.TestCase)
test_machine = pytest.mark.req("EV-03")(Other.TestCase)
"""


def test_the_scanner_finds_every_placement_of_a_tag() -> None:
    scan = traceability.scan_source(SYNTHETIC, "tests/test_synthetic.py")
    assert scan.problems == []
    found = {(tag.test, tag.ids) for tag in scan.tags}
    assert found == {
        ("test_synthetic.py", ("PW-01",)),
        ("test_synthetic.py::test_function", ("PW-03", "PW-05")),
        ("test_synthetic.py::test_param", ("LK-04",)),
        ("test_synthetic.py::test_alias", ("RS-06",)),
        ("test_synthetic.py::TestClass", ("ST-01",)),
        ("test_synthetic.py::TestClass", ("ST-02",)),
        ("test_synthetic.py::TestClass::test_method", ("ST-05",)),
        ("test_synthetic.py::TestMachine", ("RS-06",)),
        ("test_synthetic.py::test_machine", ("EV-03",)),
    }


def test_an_unknown_id_fails_the_check() -> None:
    """The guard itself can fail: a synthetic tag with an ID the requirements do not define."""
    known = requirements()
    good = traceability.scan_source(SYNTHETIC, "tests/test_synthetic.py")
    traceability.check(good, known)
    bad = traceability.scan_source(
        '@pytest.mark.req("PW-01", "ZZ-99")\ndef test_x():\n    pass\n', "tests/test_bad.py"
    )
    with pytest.raises(traceability.TraceabilityError, match="ZZ-99"):
        traceability.check(bad, known)
    with pytest.raises(traceability.TraceabilityError, match="ZZ-99"):
        traceability.render(known, bad)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ('x = [pytest.mark.req("PW-01")]\n', "names no test"),
        ('REQ = pytest.mark.req("PW-01")\n', "names no test"),
        ("@pytest.mark.req(ID)\ndef test_x():\n    pass\n", "string constants only"),
        ("@pytest.mark.req()\ndef test_x():\n    pass\n", "without an ID"),
        ("def test_x(:\n", "cannot parse"),
    ],
)
def test_a_tag_the_scanner_cannot_place_is_a_problem(source: str, problem: str) -> None:
    scan = traceability.scan_source(source, "tests/test_odd.py")
    assert any(problem in p for p in scan.problems), scan.problems
    with pytest.raises(traceability.TraceabilityError):
        traceability.check(scan, requirements())


def test_requirements_without_a_test_are_listed() -> None:
    known = requirements()
    scan = traceability.scan_source(
        '@pytest.mark.req("PW-01")\ndef test_x():\n    pass\n', "tests/test_one.py"
    )
    page = traceability.render(known, scan)
    gaps = page[page.index("## Requirements without a test") :]
    assert "| PW-01 |" not in gaps
    assert "| PW-02 |" in gaps
    assert f"**1 of {len(known)} requirements have at least one test" in page


def test_the_requirements_reader_refuses_a_bad_document() -> None:
    row = "| PW-01 | src | text | 8 | B | how |"
    with pytest.raises(traceability.TraceabilityError, match="twice"):
        traceability.read_requirements(f"### 1.1 A\n{row}\n{row}\n")
    with pytest.raises(traceability.TraceabilityError, match="no requirement"):
        traceability.read_requirements("# nothing here\n")
    with pytest.raises(traceability.TraceabilityError, match="cells"):
        traceability.read_requirements("| PW-01 | only | three |\n")


def test_the_script_checks_and_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(traceability, "build", lambda path: f"# page from {path.name}\n")
    output = tmp_path / "traceability.md"
    assert traceability.main(["--check", "--output", str(output)]) == 1
    assert traceability.main(["--output", str(output)]) == 0
    assert traceability.main(["--check", "--output", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == "# page from security-requirements.md\n"
    monkeypatch.undo()
    missing = tmp_path / "none.md"
    assert traceability.main(["--requirements", str(missing), "--output", str(output)]) == 1


# -- the benchmark table -------------------------------------------------------------------------


def bench_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DOCS / "data" / "bench.json").read_text(encoding="utf-8"))
    return data


def test_the_benchmark_tables_are_current() -> None:
    """After copying a new ``bench.json``, run ``.venv/bin/python scripts/bench_table.py``."""
    page = (DOCS / "comparison.md").read_text(encoding="utf-8")
    assert bench_table.refresh(page, bench_data()) == page, "docs/comparison.md is stale"


def test_the_benchmark_tables_say_when_and_where() -> None:
    data = bench_data()
    block = bench_table.render(data)
    env = data["environment"]
    assert env["date_utc"] in block
    assert env["cpu"] in block
    for benchmark in data["benchmarks"]:
        assert benchmark["title"] in block
        for row in benchmark["rows"]:
            assert f"| {row['name']} |" in block


def test_rows_judged_on_the_direct_ratio_show_both_ratios() -> None:
    data = bench_data()
    block = bench_table.render(data)
    direct = [
        row for b in data["benchmarks"] for row in b["rows"] if row.get("direct_ratio") is not None
    ]
    assert direct, "the login rows carry a direct ratio"
    for row in direct:
        assert f"| {row['ratio']:.3f}; direct {row['direct_ratio']:.4f} |" in block
    plain = [
        row for b in data["benchmarks"] for row in b["rows"] if row.get("direct_ratio") is None
    ]
    assert all(f"| {row['ratio']:.3f} |" in block for row in plain)


def test_a_changed_figure_makes_the_table_stale() -> None:
    page = (DOCS / "comparison.md").read_text(encoding="utf-8")
    data = bench_data()
    data["benchmarks"][0]["rows"][0]["ratio"] += 0.5
    assert bench_table.refresh(page, data) != page


def test_the_bench_script_refuses_a_page_without_markers_or_odd_json(tmp_path: Path) -> None:
    with pytest.raises(bench_table.BenchTableError, match="exactly one"):
        bench_table.refresh("no markers", bench_data())
    with pytest.raises(bench_table.BenchTableError, match="unexpected"):
        bench_table.render({"environment": {}})
    page = tmp_path / "page.md"
    page.write_text(f"x\n{bench_table.START}\n{bench_table.END}\n", encoding="utf-8")
    args = ["--page", str(page)]
    assert bench_table.main([*args, "--check"]) == 1
    assert bench_table.main(args) == 0
    assert bench_table.main([*args, "--check"]) == 0
    page.write_text("no markers", encoding="utf-8")
    assert bench_table.main(args) == 1


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_durations_keep_their_order_of_magnitude(us: float) -> None:
    text = bench_table.duration(us)
    value, unit = text.rsplit(" ", 1)
    scale = {"µs": 1, "ms": 1_000, "s": 1_000_000}[unit]
    assert float(value.replace(",", "")) * scale == pytest.approx(us, rel=0.01, abs=0.01)
