"""Breached-password checks over the k-anonymity range format (PW-10)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from credflow.errors import BreachCheckUnavailable, ConfigurationError
from credflow.policy import (
    BreachChecker,
    MinLength,
    NotBreached,
    PasswordPolicy,
    RangeBreachChecker,
    RuleStatus,
    http_range_source,
    offline_range_source,
)
from credflow.policy.breach import PWNED_RANGE_URL

PASSWORD = "Tr0ub4dor&3-breached"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


PREFIX, SUFFIX = sha1(PASSWORD)[:5], sha1(PASSWORD)[5:]
RANGE = f"{'A' * 35}:12\r\n{SUFFIX.lower()}:42\r\n{'B' * 35}:0\r\n"


class FakeSource:
    """A range source that records what it was asked."""

    def __init__(self, text: str = RANGE, error: Exception | None = None) -> None:
        self.text = text
        self.error = error
        self.asked: list[str] = []

    def __call__(self, prefix: str) -> str:
        self.asked.append(prefix)
        if self.error is not None:
            raise self.error
        return self.text


# -- RangeBreachChecker -----------------------------------------------------------------------


@pytest.mark.req("PW-10")
def test_only_the_five_character_prefix_leaves() -> None:
    source = FakeSource()
    checker = RangeBreachChecker(source)
    assert checker.breach_count(PASSWORD) == 42
    assert source.asked == [PREFIX]
    (asked,) = source.asked
    assert len(asked) == 5
    assert asked == asked.upper()
    assert all(c in "0123456789ABCDEF" for c in asked)
    assert PASSWORD not in repr(source.asked)
    assert SUFFIX not in "".join(source.asked)


@pytest.mark.req("PW-10")
def test_counts_are_parsed() -> None:
    assert RangeBreachChecker(FakeSource()).breach_count(PASSWORD) == 42
    assert RangeBreachChecker(FakeSource()).breach_count("never seen anywhere 987") == 0
    padded = RangeBreachChecker(FakeSource(f"  {SUFFIX}:7  \n"))
    assert padded.breach_count(PASSWORD) == 7
    assert RangeBreachChecker(FakeSource("")).breach_count(PASSWORD) == 0


def test_checker_is_a_breach_checker() -> None:
    checker = RangeBreachChecker(FakeSource())
    assert isinstance(checker, BreachChecker)
    assert repr(checker).startswith("RangeBreachChecker(")


@pytest.mark.req("PW-10")
@pytest.mark.parametrize("line", [f"{SUFFIX}:many", f"{SUFFIX}", f"{SUFFIX}:"])
def test_malformed_count_is_unavailable(line: str) -> None:
    with pytest.raises(BreachCheckUnavailable, match="malformed range line"):
        RangeBreachChecker(FakeSource(line)).breach_count(PASSWORD)


@pytest.mark.req("PW-10")
def test_source_errors_become_unavailable() -> None:
    failing = FakeSource(error=RuntimeError("boom"))
    with pytest.raises(BreachCheckUnavailable, match="range source failed: RuntimeError") as info:
        RangeBreachChecker(failing).breach_count(PASSWORD)
    assert isinstance(info.value.__cause__, RuntimeError)
    original = BreachCheckUnavailable("down")
    with pytest.raises(BreachCheckUnavailable) as again:
        RangeBreachChecker(FakeSource(error=original)).breach_count(PASSWORD)
    assert again.value is original


def test_lone_surrogate_is_hashed_not_raised() -> None:
    source = FakeSource()
    assert RangeBreachChecker(source).breach_count("\ud800") == 0
    assert len(source.asked[0]) == 5


# -- the not_breached rule --------------------------------------------------------------------


def breach_policy(source: FakeSource, **options: object) -> PasswordPolicy:
    rule = NotBreached(checker=RangeBreachChecker(source), **options)  # type: ignore[arg-type]
    return PasswordPolicy([MinLength(min=8), rule])


@pytest.mark.req("PW-10")
def test_not_breached_verdicts() -> None:
    policy = breach_policy(FakeSource())
    assert policy.evaluate(PASSWORD)["not_breached"].status is RuleStatus.FAILED
    assert policy.evaluate("never seen anywhere 987")["not_breached"].status is RuleStatus.PASSED
    tolerant = breach_policy(FakeSource(), max_breaches=42)
    assert tolerant.evaluate(PASSWORD).ok
    assert not breach_policy(FakeSource(), max_breaches=41).evaluate(PASSWORD).ok


@pytest.mark.req("PW-10")
@pytest.mark.parametrize(
    ("fail", "expected", "ok"),
    [("open", RuleStatus.SKIPPED, True), ("closed", RuleStatus.FAILED, False)],
)
def test_unavailable_source_fail_open_or_closed(fail: str, expected: RuleStatus, ok: bool) -> None:
    policy = breach_policy(FakeSource(error=OSError("network down")), fail=fail)
    report = policy.evaluate("never seen anywhere 987")
    assert report["not_breached"].status is expected
    assert report.ok is ok
    assert report["not_breached"].params == {"max_breaches": 0, "fail": fail}


def test_checker_is_not_called_over_the_cap() -> None:
    source = FakeSource()
    breach_policy(source).evaluate("x" * 129)
    assert source.asked == []


@pytest.mark.req("PW-10")
@pytest.mark.parametrize(
    "sources",
    [
        {},
        {"range_dir": "a", "range_url": "https://example.invalid/{prefix}"},
        {"checker": RangeBreachChecker(FakeSource()), "range_dir": "a"},
    ],
)
def test_not_breached_needs_exactly_one_source(sources: dict[str, object]) -> None:
    from pydantic import ValidationError

    with pytest.raises(
        ValidationError, match="give exactly one of checker, range_dir or range_url"
    ):
        NotBreached(**sources)  # type: ignore[arg-type]


def test_not_breached_rejects_a_non_checker() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        NotBreached(checker="https://example.invalid")  # type: ignore[arg-type]


# -- offline ranges ---------------------------------------------------------------------------


@pytest.fixture
def range_dir(tmp_path: Path) -> Path:
    (tmp_path / f"{PREFIX}.txt").write_text(RANGE, encoding="utf-8")
    return tmp_path


@pytest.mark.req("PW-10")
def test_offline_range_source(range_dir: Path) -> None:
    source = offline_range_source(range_dir)
    assert source(PREFIX).splitlines() == RANGE.splitlines()
    assert RangeBreachChecker(source).breach_count(PASSWORD) == 42
    assert RangeBreachChecker(offline_range_source(str(range_dir))).breach_count(PASSWORD) == 42


@pytest.mark.req("PW-10")
def test_offline_missing_file_is_unavailable(range_dir: Path) -> None:
    with pytest.raises(BreachCheckUnavailable, match="no offline range file for prefix 00000"):
        offline_range_source(range_dir)("00000")
    checker = RangeBreachChecker(offline_range_source(range_dir / "absent"))
    with pytest.raises(BreachCheckUnavailable):
        checker.breach_count(PASSWORD)


@pytest.mark.req("PW-10")
def test_config_with_range_dir(range_dir: Path) -> None:
    config = {
        "rules": [
            {"rule": "min_length", "min": 8},
            {"rule": "not_breached", "range_dir": str(range_dir), "fail": "closed"},
        ]
    }
    policy = PasswordPolicy.from_dict(config)
    assert policy.evaluate(PASSWORD)["not_breached"].status is RuleStatus.FAILED
    # the dump has no file for this password's prefix: unavailable, closed, so failed
    other = "unrelated-passphrase-123"
    assert sha1(other)[:5] != PREFIX
    assert policy.evaluate(other)["not_breached"].status is RuleStatus.FAILED
    open_config = {"rules": [{"rule": "not_breached", "range_dir": str(range_dir)}]}
    assert PasswordPolicy.from_dict(open_config).evaluate(other)["not_breached"].status == "skipped"


# -- HTTP ranges ------------------------------------------------------------------------------


class RangeHandler(BaseHTTPRequestHandler):
    requests: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        RangeHandler.requests.append((self.path, self.headers.get("Add-Padding")))
        if not self.path.startswith("/range/"):
            self.send_error(404)
            return
        body = (RANGE if self.path == f"/range/{PREFIX}" else f"{'C' * 35}:1\r\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture
def server() -> Iterator[str]:
    RangeHandler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.mark.req("PW-10")
def test_http_range_source(server: str) -> None:
    checker = RangeBreachChecker(http_range_source(server + "/range/{prefix}", timeout=5))
    assert checker.breach_count(PASSWORD) == 42
    assert checker.breach_count("unrelated-passphrase-123") == 0
    assert RangeHandler.requests[0] == (f"/range/{PREFIX}", "true")
    assert all(len(path) == len("/range/") + 5 for path, _ in RangeHandler.requests)
    assert all(padding == "true" for _, padding in RangeHandler.requests)


@pytest.mark.req("PW-10")
def test_http_error_status_is_unavailable(server: str) -> None:
    source = http_range_source(server + "/nothing/{prefix}", timeout=5)
    with pytest.raises(BreachCheckUnavailable, match="range request failed: HTTPError"):
        source("ABCDE")


@pytest.mark.req("PW-10")
def test_http_config_rule(server: str) -> None:
    policy = PasswordPolicy.from_dict(
        {"rules": [{"rule": "not_breached", "range_url": server + "/range/{prefix}"}]}
    )
    assert policy.evaluate(PASSWORD)["not_breached"].status is RuleStatus.FAILED
    assert policy.evaluate("unrelated-passphrase-123").ok


@pytest.mark.req("PW-10")
@pytest.mark.parametrize(("fail", "expected"), [("open", "skipped"), ("closed", "failed")])
def test_http_closed_port_is_unavailable(fail: str, expected: str) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    port = httpd.server_address[1]
    httpd.server_close()  # nothing listens there any more
    url = f"http://127.0.0.1:{port}/range/{{prefix}}"
    with pytest.raises(BreachCheckUnavailable, match="range request failed"):
        http_range_source(url, timeout=2)("ABCDE")
    policy = PasswordPolicy([NotBreached(range_url=url, timeout=2, fail=fail)])  # type: ignore[arg-type]
    assert policy.evaluate(PASSWORD)["not_breached"].status == expected


@pytest.mark.parametrize("url", ["ftp://example.invalid/{prefix}", "file:///etc/{prefix}", "x"])
def test_http_source_needs_an_http_url(url: str) -> None:
    with pytest.raises(ValueError, match=r"http\(s\) URL"):
        http_range_source(url)
    with pytest.raises(ConfigurationError, match=r"http\(s\) URL"):
        PasswordPolicy.from_dict({"rules": [{"rule": "not_breached", "range_url": url}]})


def test_default_url_is_the_pwned_range_api() -> None:
    assert PWNED_RANGE_URL == "https://api.pwnedpasswords.com/range/{prefix}"
    assert callable(http_range_source())  # building it makes no request
