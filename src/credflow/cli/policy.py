"""``credflow policy check|describe``: a password against a policy, and the policy in words."""

from __future__ import annotations

import argparse

from credflow.cli.context import Commands, Streams, read_password
from credflow.policy import PasswordPolicy, RuleStatus, load_policy, presets
from credflow.policy.report import PolicyReport

__all__ = ["add_commands", "print_report"]

MARKS = {RuleStatus.PASSED: "✓", RuleStatus.FAILED: "✗", RuleStatus.SKIPPED: "–"}


def add_commands(groups: Commands) -> None:
    """Add ``policy check`` and ``policy describe`` to the command groups."""
    policy = groups.add_parser("policy", help="check passwords against a policy, or describe it")
    actions = policy.add_subparsers(dest="action", required=True, metavar="ACTION")

    check = actions.add_parser("check", help="print the checklist for a password")
    _policy_options(check)
    check.add_argument("--identifier", help="the account identifier (for not_identifier)")
    check.add_argument("--email", help="the account email (for not_identifier)")
    check.add_argument("--mfa", action="store_true", help="evaluate for an account with MFA")
    check.set_defaults(handler=_check)

    describe = actions.add_parser("describe", help="print the requirement sentences")
    _policy_options(describe)
    describe.add_argument("--mfa", action="store_true", help="describe for an account with MFA")
    describe.set_defaults(handler=_describe)


def _policy_options(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=sorted(presets.PRESETS), default="classic")
    source.add_argument("--config", metavar="FILE", help="a .toml or .json policy or portal file")
    parser.add_argument("--lang", default="fr", help="message language: fr (default) or en")


def _policy(args: argparse.Namespace) -> PasswordPolicy:
    if args.config:
        return load_policy(args.config)
    return presets.PRESETS[args.preset]()


def print_report(report: PolicyReport, streams: Streams) -> None:
    """One line per rule (``✓`` passed, ``✗`` failed, ``–`` skipped); never the password."""
    for result in report:
        streams.out.write(f"{MARKS[result.status]} {result.message}\n")


def _check(args: argparse.Namespace, streams: Streams) -> int:
    policy = _policy(args)
    candidate = read_password(streams.stdin)
    report = policy.evaluate(
        candidate,
        identifier=args.identifier,
        email=args.email,
        has_mfa=args.mfa,
        locale=args.lang,
    )
    print_report(report, streams)
    streams.out.write(
        ("OK" if report.ok else "REFUSED: " + ", ".join(r.code for r in report.failures)) + "\n"
    )
    return 0 if report.ok else 1


def _describe(args: argparse.Namespace, streams: Streams) -> int:
    description = _policy(args).describe(args.lang, has_mfa=args.mfa)
    for sentence in description.sentences:
        streams.out.write(sentence + "\n")
    for item in description.items:
        streams.out.write(f"- {item}\n")
    return 0
