"""Write docs/traceability.md: each security requirement, the tests that prove it, and the gaps.

The requirement IDs and titles come from ``shared/reference/security-requirements.md`` (beside
the repository: ``../shared``); the tests come from the ``@pytest.mark.req(...)`` tags under
``tests/`` and in the testing kit ``src/credflow/testing/`` (whose suites the tests run), read
with ``ast`` (nothing is imported or run). A tag is found on a function, on a
class, in a ``pytestmark`` (module or class), in a mark bound to a name (``REQ = pytest.mark.req(
...)`` then ``@REQ`` or ``TestX = REQ(Machine.TestCase)``), or inside a decorator's arguments
(``pytest.param(..., marks=pytest.mark.req(...))``).

    python scripts/traceability.py           # rewrite docs/traceability.md
    python scripts/traceability.py --check   # exit 1 when the page is stale

Either way it exits 1, writing nothing, when a tag names an ID the requirements do not define or
when a tag sits where the script cannot tell which test it belongs to.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
SOURCES = (TESTS, ROOT / "src" / "credflow" / "testing")
PAGE = ROOT / "docs" / "traceability.md"
REQUIREMENTS = ROOT.parent / "shared" / "reference" / "security-requirements.md"

ROW = re.compile(r"^\| (?P<id>[A-Z]{2}-\d{2}) \|")
SECTION = re.compile(r"^### (?P<number>1\.\d+) (?P<title>.+?)\s*$")
ID_SHAPE = re.compile(r"^[A-Z]{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class Requirement:
    """One row of the requirements table."""

    id: str
    section: str
    text: str
    preset: str


@dataclass(frozen=True, slots=True)
class Tag:
    """A ``req`` mark: where it is, which test it covers, which IDs it names."""

    path: str
    line: int
    test: str
    ids: tuple[str, ...]


@dataclass(slots=True)
class Scan:
    """Every tag found, and the problems that stop the page from being written."""

    tags: list[Tag] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class TraceabilityError(Exception):
    """The tags or the requirements cannot give a trustworthy table."""


# -- requirements ---------------------------------------------------------------------------------


def read_requirements(text: str) -> list[Requirement]:
    """The requirement rows of the markdown, in document order."""
    found: list[Requirement] = []
    section = ""
    for line in text.splitlines():
        heading = SECTION.match(line)
        if heading:
            section = f"{heading['number']} {heading['title']}"
            continue
        if not ROW.match(line):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 5:
            raise TraceabilityError(f"requirement row with {len(cells)} cells: {line[:40]}")
        found.append(Requirement(id=cells[0], section=section, text=cells[2], preset=cells[4]))
    ids = [r.id for r in found]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise TraceabilityError(f"requirement IDs defined twice: {', '.join(duplicates)}")
    if not found:
        raise TraceabilityError("no requirement rows found")
    return found


# -- tags -----------------------------------------------------------------------------------------


def _is_req_mark(node: ast.AST) -> bool:
    """``pytest.mark.req`` or ``mark.req`` (not yet called)."""
    if not (isinstance(node, ast.Attribute) and node.attr == "req"):
        return False
    owner = node.value
    if isinstance(owner, ast.Attribute):
        return owner.attr == "mark" and isinstance(owner.value, ast.Name)
    return isinstance(owner, ast.Name) and owner.id == "mark"


def _req_calls(node: ast.AST) -> Iterator[ast.Call]:
    """Every ``pytest.mark.req(...)`` call inside ``node``."""
    for child in ast.walk(node):
        if isinstance(child, ast.Call) and _is_req_mark(child.func):
            yield child


def _ids(call: ast.Call, path: str, scan: Scan) -> tuple[str, ...]:
    ids: list[str] = []
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            ids.append(arg.value)
        else:
            scan.problems.append(f"{path}:{call.lineno}: a req mark takes string constants only")
    if not call.args:
        scan.problems.append(f"{path}:{call.lineno}: a req mark without an ID")
    return tuple(ids)


class _Reader:
    """Reads one test module; ``placed`` remembers the req calls it attributed to a test."""

    def __init__(self, path: str, tree: ast.Module, scan: Scan) -> None:
        self.path = path
        self.name = path.removeprefix("tests/").removeprefix("src/")
        self.tree = tree
        self.scan = scan
        self.placed: set[int] = set()
        self.aliases: dict[str, ast.Call] = {}

    def read(self) -> None:
        body = self.tree.body
        for node in body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                if not _is_req_mark(node.value.func):
                    continue
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id != "pytestmark":
                        self.aliases[target.id] = node.value
        module_marks = self._pytestmark(body)
        if module_marks:
            self._add(self.name, module_marks)
        for node in body:
            self._read_statement(node, prefix="")
        for call in _req_calls(self.tree):
            if id(call) not in self.placed:
                self.scan.problems.append(
                    f"{self.path}:{call.lineno}: a req mark that names no test the script can see"
                )

    def _pytestmark(self, body: Sequence[ast.stmt]) -> list[ast.Call]:
        calls: list[ast.Call] = []
        for node in body:
            target: ast.expr | None = None
            value: ast.expr | None = None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign):
                target, value = node.target, node.value
            if isinstance(target, ast.Name) and target.id == "pytestmark" and value is not None:
                calls += self._marks_in(value)
        return calls

    def _marks_in(self, node: ast.AST) -> list[ast.Call]:
        """The req calls in an expression, direct or through an alias name."""
        calls = list(_req_calls(node))
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and child.id in self.aliases:
                calls.append(self.aliases[child.id])
        return calls

    def _decorator_marks(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    ) -> list[ast.Call]:
        calls: list[ast.Call] = []
        for decorator in node.decorator_list:
            calls += self._marks_in(decorator)
        return calls

    def _read_statement(self, node: ast.stmt, prefix: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            marks = self._decorator_marks(node)
            if marks:
                self._add(f"{self.name}::{prefix}{node.name}", marks)
        elif isinstance(node, ast.ClassDef):
            name = f"{prefix}{node.name}"
            marks = self._decorator_marks(node) + self._pytestmark(node.body)
            if marks:
                self._add(f"{self.name}::{name}", marks)
            for child in node.body:
                self._read_statement(child, prefix=f"{name}::")
        elif isinstance(node, ast.Assign) and not prefix:
            self._read_wrapped(node)

    def _read_wrapped(self, node: ast.Assign) -> None:
        """``TestX = REQ(Machine.TestCase)`` or ``t = pytest.mark.req(...)(M.TestCase)``."""
        value = node.value
        if not isinstance(value, ast.Call):
            return
        func = value.func
        marks: list[ast.Call] = []
        if isinstance(func, ast.Name) and func.id in self.aliases:
            marks = [self.aliases[func.id]]
        elif isinstance(func, ast.Call) and _is_req_mark(func.func):
            marks = [func]
        for target in node.targets:
            if marks and isinstance(target, ast.Name):
                self._add(f"{self.name}::{target.id}", marks)

    def _add(self, test: str, calls: Iterable[ast.Call]) -> None:
        for call in calls:
            self.placed.add(id(call))
            ids = _ids(call, self.path, self.scan)
            if ids:
                self.scan.tags.append(Tag(self.path, call.lineno, test, ids))


def scan_source(source: str, path: str, scan: Scan | None = None) -> Scan:
    """The tags of one test module's source (``path`` names it in the table and in errors)."""
    scan = scan if scan is not None else Scan()
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        scan.problems.append(f"{path}:{error.lineno}: cannot parse: {error.msg}")
        return scan
    _Reader(path, tree, scan).read()
    return scan


def scan_tests(roots: Iterable[Path] = SOURCES, base: Path = ROOT) -> Scan:
    """The tags of every ``.py`` file under ``roots`` (paths shown relative to ``base``)."""
    scan = Scan()
    for root in roots:
        for file in sorted(root.rglob("*.py")):
            relative = file.relative_to(base).as_posix()
            scan_source(file.read_text(encoding="utf-8"), relative, scan)
    return scan


def unknown_ids(scan: Scan, requirements: Sequence[Requirement]) -> list[str]:
    """One line per tag naming an ID the requirements do not define."""
    known = {r.id for r in requirements}
    return [
        f"{tag.path}:{tag.line}: {tag.test} names unknown requirement {name!r}"
        for tag in scan.tags
        for name in tag.ids
        if name not in known
    ]


def check(scan: Scan, requirements: Sequence[Requirement]) -> None:
    """Raise TraceabilityError listing every problem: unknown IDs, misplaced tags."""
    problems = scan.problems + unknown_ids(scan, requirements)
    if problems:
        raise TraceabilityError("\n".join(problems))


# -- the page -------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _tests_cell(tests: Sequence[str]) -> str:
    by_file: dict[str, list[str]] = defaultdict(list)
    for test in tests:
        file, _, name = test.partition("::")
        by_file[file].append(name)
    parts = []
    for file in sorted(by_file):
        names = [n for n in by_file[file] if n]
        parts.append(f"`{file}`" + (f": {', '.join(f'`{n}`' for n in names)}" if names else ""))
    return "<br>".join(parts)


def render(requirements: Sequence[Requirement], scan: Scan) -> str:
    """The markdown of docs/traceability.md."""
    check(scan, requirements)
    proofs: dict[str, set[str]] = defaultdict(set)
    for tag in scan.tags:
        for name in tag.ids:
            proofs[name].add(tag.test)
    covered = [r for r in requirements if proofs[r.id]]
    missing = [r for r in requirements if not proofs[r.id]]
    lines = [
        "# Traceability",
        "",
        "<!-- Generated by scripts/traceability.py from the @pytest.mark.req tags under tests/ and",
        "     shared/reference/security-requirements.md. Do not edit: run the script. -->",
        "",
        "Each security requirement credflow holds itself to, and the tests that prove it. A test",
        'carries its requirement IDs as a marker, `@pytest.mark.req("PW-03")`; '
        "`scripts/traceability.py`",
        "reads the markers (in `tests/`, and in `credflow.testing`, whose suites the tests run)",
        "and writes this page; a test fails when the page is stale or a",
        "marker names an ID that does not exist. The IDs and the paraphrased requirements come",
        "from the requirements document kept beside the repository",
        "(`shared/reference/security-requirements.md`), which cites the standards behind each one;",
        "the [security page](security.md) explains the baseline.",
        "",
        f"**{len(covered)} of {len(requirements)} requirements have at least one test; "
        f"{len(missing)} have none yet** ([the list](#requirements-without-a-test)). "
        f"{len(scan.tags)} markers in {len({t.path for t in scan.tags})} files.",
        "",
        "A test listed as a file (no name after it) is a whole module marked with `pytestmark`; "
        "a class stands for every test in it. Preset: `B` every preset, `S` the portals' "
        "(classic) preset, `N` the NIST preset.",
    ]
    section = None
    for requirement in requirements:
        if requirement.section != section:
            section = requirement.section
            lines += [
                "",
                f"## {section}",
                "",
                "| ID | Requirement | Preset | Tests |",
                "|---|---|---|---|",
            ]
        tests = sorted(proofs[requirement.id])
        cell = _tests_cell(tests) if tests else "**none yet**"
        lines.append(
            f"| {requirement.id} | {_cell(requirement.text)} | {_cell(requirement.preset)} "
            f"| {cell} |"
        )
    lines += ["", "## Requirements without a test", ""]
    if missing:
        lines += ["| ID | Requirement | Preset |", "|---|---|---|"]
        lines += [f"| {r.id} | {_cell(r.text)} | {_cell(r.preset)} |" for r in missing]
    else:
        lines.append("None: every requirement has at least one test.")
    return "\n".join(lines) + "\n"


def build(requirements_path: Path = REQUIREMENTS, roots: Iterable[Path] = SOURCES) -> str:
    """Read the requirements and the tests, and render the page."""
    if not requirements_path.is_file():
        raise TraceabilityError(
            f"{requirements_path} not found: the requirements live in ../shared beside the "
            "repository (pass --requirements to point elsewhere)"
        )
    requirements = read_requirements(requirements_path.read_text(encoding="utf-8"))
    return render(requirements, scan_tests(roots))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the page is stale")
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS)
    parser.add_argument("--output", type=Path, default=PAGE)
    args = parser.parse_args(argv)
    try:
        text = build(args.requirements)
    except TraceabilityError as error:
        print(f"traceability: {error}", file=sys.stderr)
        return 1
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
    if args.check:
        if current != text:
            print(f"{args.output} is stale: run python scripts/traceability.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.output.write_text(text, encoding="utf-8")
        print(f"updated {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
