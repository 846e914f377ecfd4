"""Fixtures of the CLI tests (a pytest plugin loaded by ``tests/conftest.py``): a database of
each kind, a SQLite one, and an SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.test_cli_support import DATABASES, MailServer, mail_server, make_database


@pytest.fixture(params=DATABASES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh credflow database on SQLite, then on PostgreSQL."""
    return make_database(str(request.param), tmp_path)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh credflow database in a SQLite file."""
    return make_database("sqlite", tmp_path)


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    """An aiosmtpd server on loopback keeping what it receives."""
    yield from mail_server()
