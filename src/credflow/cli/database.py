"""``credflow init``: create credflow's tables in the database, once.

Running it again is harmless: it creates only what is missing and says so.
"""

from __future__ import annotations

import argparse

from credflow.cli.context import Commands, Streams
from credflow.cli.environment import (
    add_database_option,
    database_url,
    missing_tables,
    open_storage,
    shown_url,
)

__all__ = ["add_commands"]


def add_commands(groups: Commands) -> None:
    """Add ``init``."""
    init = groups.add_parser("init", help="create credflow's tables (safe to run again)")
    add_database_option(init)
    init.set_defaults(handler=_init)


def _init(args: argparse.Namespace, streams: Streams) -> int:
    from credflow.storage.sql import metadata

    url = database_url(args, streams.environ)
    storage = open_storage(url, existing=False)
    where = shown_url(storage)
    try:
        missing = missing_tables(storage)
        if missing:
            storage.create_schema()
    finally:
        storage.dispose()
    total = len(metadata.sorted_tables)
    if not missing:
        streams.out.write(f"schema already present in {where} ({total} tables); nothing to do\n")
    elif len(missing) == total:
        streams.out.write(f"created the schema in {where} ({total} tables)\n")
    else:
        streams.out.write(
            f"created {len(missing)} missing tables in {where}: {', '.join(missing)}\n"
        )
    return 0
