"""The ``credflow`` command for operators.

Exit codes: 0 success, 1 refusal (for example a password that fails the policy), 2 usage or
configuration error. Errors go to stderr on one line. Passwords are read without echo from a
terminal, or as one line from standard input; they are never printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from typing import TextIO

from credflow import __version__
from credflow.errors import CredflowError
from credflow.policy import PasswordPolicy, RuleStatus, load_policy, presets

__all__ = ["main"]

_MARKS = {RuleStatus.PASSED: "✓", RuleStatus.FAILED: "✗", RuleStatus.SKIPPED: "–"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="credflow", description="credflow operator commands")
    parser.add_argument("--version", action="version", version=f"credflow {__version__}")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    policy = groups.add_parser("policy", help="check passwords against a policy, or describe it")
    actions = policy.add_subparsers(dest="action", required=True, metavar="ACTION")

    check = actions.add_parser("check", help="print the checklist for a password")
    _policy_options(check)
    check.add_argument("--identifier", help="the account identifier (for not_identifier)")
    check.add_argument("--email", help="the account email (for not_identifier)")
    check.add_argument("--mfa", action="store_true", help="evaluate for an account with MFA")

    describe = actions.add_parser("describe", help="print the requirement sentences")
    _policy_options(describe)
    describe.add_argument("--mfa", action="store_true", help="describe for an account with MFA")
    return parser


def _policy_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=sorted(presets.PRESETS), default="classic")
    source.add_argument("--config", metavar="FILE", help="a .toml or .json policy or portal file")
    parser.add_argument("--lang", default="fr", help="message language: fr (default) or en")


def _policy(args: argparse.Namespace) -> PasswordPolicy:
    if args.config:
        return load_policy(args.config)
    return presets.PRESETS[args.preset]()


def _read_password(stdin: TextIO) -> str:
    if stdin.isatty():
        return getpass.getpass("Mot de passe / Password: ")
    line = stdin.readline()
    return line[:-1] if line.endswith("\n") else line  # keep spaces: they are part of it


def _check(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    policy = _policy(args)
    candidate = _read_password(stdin)
    report = policy.evaluate(
        candidate,
        identifier=args.identifier,
        email=args.email,
        has_mfa=args.mfa,
        locale=args.lang,
    )
    for result in report:
        out.write(f"{_MARKS[result.status]} {result.message}\n")
    out.write(
        ("OK" if report.ok else "REFUSED: " + ", ".join(r.code for r in report.failures)) + "\n"
    )
    return 0 if report.ok else 1


def _describe(args: argparse.Namespace, out: TextIO) -> int:
    description = _policy(args).describe(args.lang, has_mfa=args.mfa)
    for sentence in description.sentences:
        out.write(sentence + "\n")
    for item in description.items:
        out.write(f"- {item}\n")
    return 0


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line; return the exit code."""
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = _parser().parse_args(argv)
    try:
        if args.action == "check":
            return _check(args, stdin, out)
        return _describe(args, out)
    except CredflowError as exc:
        err.write(f"credflow: error: {exc}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
