"""What every command gets: the streams and environment, one-line errors, prompts.

A command is a function ``(args, streams) -> exit code``. It raises ``CommandError`` to stop with
a one-line message on standard error (``credflow: error: ...``) and a chosen exit code: 1 when
the request is refused (an unknown account, a policy failure), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TextIO, TypeAlias

__all__ = [
    "REFUSED",
    "USAGE",
    "CommandError",
    "Commands",
    "Handler",
    "Streams",
    "confirm",
    "read_password",
]

REFUSED = 1
USAGE = 2

_YES = frozenset({"y", "yes", "o", "oui"})


@dataclass(frozen=True, slots=True)
class Streams:
    """Standard input, output and error, and the environment the command reads settings from."""

    stdin: TextIO
    out: TextIO
    err: TextIO
    environ: Mapping[str, str] = field(repr=False)  # holds the secret key, the SMTP password


Handler = Callable[[argparse.Namespace, Streams], int]
# What add_subparsers returns (a string: the class is not subscriptable at run time).
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CommandError(Exception):
    """Stop the command: ``message`` goes to standard error on one line, ``code`` is the exit code.

    The message must never hold a secret (a password, a key, a database password).
    """

    def __init__(self, message: str, code: int = REFUSED) -> None:
        super().__init__(message)
        self.code = code


def read_password(stdin: TextIO, prompt: str = "Mot de passe / Password: ") -> str:
    """A password: typed without echo when standard input is a terminal, else one line of it.

    The line break is removed; spaces are kept, since they are part of the password.
    """
    if stdin.isatty():
        return getpass.getpass(prompt)
    line = stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def confirm(streams: Streams, action: str, question: str, *, yes: bool) -> None:
    """Ask ``question`` before a destructive ``action`` ("delete adejoux"); return when
    confirmed, else raise CommandError.

    ``--yes`` confirms in advance. Without it, standard input must be a terminal: a script that
    forgot ``--yes`` stops with exit code 2 instead of hanging or acting unasked.
    """
    if yes:
        return
    if not streams.stdin.isatty():
        raise CommandError(
            f"{action}: confirmation needed and no terminal to ask; use --yes", USAGE
        )
    streams.err.write(f"{question} [y/N] ")
    streams.err.flush()
    if streams.stdin.readline().strip().casefold() not in _YES:
        raise CommandError("cancelled; nothing was changed", REFUSED)
