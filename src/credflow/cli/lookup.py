"""Finding the account an operator names on the command line."""

from __future__ import annotations

from credflow.cli.context import REFUSED, CommandError
from credflow.errors import InvalidIdentifier
from credflow.facade import Credflow
from credflow.storage.records import Account

__all__ = ["find_account"]


def find_account(cf: Credflow, reference: str) -> Account:
    """The account whose id, or else whose identifier, is ``reference``; exit code 1 when none.

    The id is tried first: ids are random and nobody chooses one, whereas a person could
    register an identifier that looks like someone else's id.
    """
    account = cf.storage.get_account(reference)
    if account is None:
        try:
            account = cf.accounts.find(reference)
        except InvalidIdentifier:
            account = None
    if account is None:
        raise CommandError(f"no account with id or identifier {reference!r}", REFUSED)
    return account
