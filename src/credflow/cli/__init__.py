"""The ``credflow`` command for operators.

``credflow policy check|describe`` works on a policy alone; ``init``, ``users ...`` and
``events`` work on a database (``--db`` or ``CREDFLOW_DATABASE_URL``); ``flows`` prints the flow
machines. See docs/cli.md.

Exit codes: 0 success; 1 refused or failed (an unknown account, a password the policy refuses,
a database or mail server that fails); 2 usage or configuration error (argparse's own, a missing
database URL, a bad settings file, a destructive command without ``--yes`` off a terminal); 130
``require-reset`` interrupted. Errors go to stderr on one line, ``credflow: error: ...``.
Passwords are read without echo from a terminal, or as one line from standard input; they are
never printed. The only secret ever printed is a new temporary password, once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from credflow import __version__
from credflow.cli import database, events, flows, policy, users
from credflow.cli.context import REFUSED, USAGE, CommandError, Handler, Streams
from credflow.cli.environment import add_database_option
from credflow.errors import (
    ConfigurationError,
    CredflowError,
    InvalidEmail,
    InvalidIdentifier,
    UnsupportedLocale,
)

__all__ = ["main"]

# Errors in what the operator typed or configured; every other credflow error is a refusal.
_USAGE_ERRORS = (ConfigurationError, UnsupportedLocale, InvalidIdentifier, InvalidEmail)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="credflow", description="credflow operator commands")
    parser.add_argument("--version", action="version", version=f"credflow {__version__}")
    add_database_option(parser, top=True)
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    policy.add_commands(groups)
    database.add_commands(groups)
    users.add_commands(groups)
    events.add_commands(groups)
    flows.add_commands(groups)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run the command line and return the exit code (argparse exits 2 itself on bad usage).

    The streams and the environment default to the process's; tests pass their own.
    """
    streams = Streams(
        stdin=stdin or sys.stdin,
        out=stdout or sys.stdout,
        err=stderr or sys.stderr,
        environ=os.environ if environ is None else environ,
    )
    args = _parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args, streams)
    except CommandError as exc:
        return _fail(streams, str(exc), exc.code)
    except _USAGE_ERRORS as exc:
        return _fail(streams, str(exc), USAGE)
    except CredflowError as exc:
        return _fail(streams, str(exc), REFUSED)


def _fail(streams: Streams, message: str, code: int) -> int:
    one_line = " ".join(message.split())
    streams.err.write(f"credflow: error: {one_line}\n")
    return code
