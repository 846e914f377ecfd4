"""``credflow flows list|diagram``: the flow machines, and each one's Mermaid state diagram."""

from __future__ import annotations

import argparse

from credflow.cli.context import USAGE, CommandError, Commands, Streams
from credflow.flows import MACHINES, diagram

__all__ = ["add_commands"]


def add_commands(groups: Commands) -> None:
    """Add ``flows list`` and ``flows diagram NAME``."""
    flows = groups.add_parser("flows", help="list the flows or draw one as Mermaid")
    actions = flows.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the flow names")
    listing.set_defaults(handler=_list)
    drawing = actions.add_parser("diagram", help="print a flow's Mermaid stateDiagram-v2")
    drawing.add_argument("name", metavar="NAME", help="a flow name (see `credflow flows list`)")
    drawing.set_defaults(handler=_diagram)


def _list(args: argparse.Namespace, streams: Streams) -> int:
    for name in sorted(MACHINES):
        streams.out.write(name + "\n")
    return 0


def _diagram(args: argparse.Namespace, streams: Streams) -> int:
    if args.name not in MACHINES:
        raise CommandError(
            f"unknown flow {args.name!r}; known: {', '.join(sorted(MACHINES))}", USAGE
        )
    text = diagram(args.name)
    streams.out.write(text if text.endswith("\n") else text + "\n")
    return 0
