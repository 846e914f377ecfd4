"""``credflow events``: the audit trail, oldest first.

``--account`` takes an account id or identifier, or the pseudonym (``anon:...``) a deleted
account's events carry. ``--since`` takes an ISO 8601 instant or a duration back from now
(``24h``, ``7d``). Events never hold secrets (``credflow.audit`` refuses them), so they are
printed as stored.
"""

from __future__ import annotations

import argparse

from credflow.cli.arguments import count, since
from credflow.cli.context import USAGE, CommandError, Commands, Streams
from credflow.cli.environment import add_database_option, add_settings_options, open_credflow
from credflow.cli.lookup import find_account
from credflow.cli.output import count_of, when, write_json
from credflow.storage.records import AuditEvent

__all__ = ["add_commands"]


def add_commands(groups: Commands) -> None:
    """Add ``events``."""
    parser = groups.add_parser("events", help="show the audit trail, oldest first")
    parser.add_argument("--account", metavar="ACCOUNT", help="account id, identifier or anon:…")
    parser.add_argument(
        "--since", type=since, metavar="WHEN", help="an ISO 8601 instant, or 30m, 24h, 7d, 2w"
    )
    parser.add_argument(
        "--limit", type=count, default=1000, help="at most this many (default 1000, max 10000)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    add_database_option(parser)
    add_settings_options(parser)
    parser.set_defaults(handler=_events)


def _events(args: argparse.Namespace, streams: Streams) -> int:
    if not 1 <= args.limit <= 10_000:
        raise CommandError("--limit must be from 1 to 10000", USAGE)
    with open_credflow(args, streams) as cf:
        account_id = None
        if args.account is not None:
            account_id = (
                args.account
                if args.account.startswith("anon:")
                else find_account(cf, args.account).id
            )
        events = cf.storage.events(account_id=account_id, since=args.since, limit=args.limit)
    for event in events:
        if args.json:
            write_json(streams.out, _record(event))
        else:
            streams.out.write(_line(event))
    if len(events) == args.limit:
        streams.err.write(
            f"credflow: the first {count_of(args.limit, 'event')} shown; more may follow: "
            f"raise --limit or use --since {when(events[-1].at)}\n"
        )
    return 0


def _record(event: AuditEvent) -> dict[str, object]:
    return {
        "at": event.at.isoformat(),
        "type": event.type,
        "account_id": event.account_id,
        "details": event.details,
    }


def _line(event: AuditEvent) -> str:
    details = " ".join(f"{key}={value}" for key, value in event.details.items())
    return (
        f"{when(event.at)}  {event.type:<28}  {event.account_id or '-'}  {details}".rstrip() + "\n"
    )
