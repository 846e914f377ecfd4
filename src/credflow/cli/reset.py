"""``credflow users require-reset``: make every account (or the named ones) set a new password.

This is DEFI's migration: "the document with the passwords you received is now void"; each
person gets a mail with a link to set a new password. Two modes:

- ``link`` (the default): ``cf.accounts.send_password_setup``. The old password stops working
  at once (it is replaced by an unusable one, and outstanding links and sessions die) and a
  single-use setup link is mailed. An account without an email address is voided too but gets
  no link: give it a temporary password (``credflow users temporary-password``).
- ``next-login``: ``cf.accounts.require_actions(..., [change_password])``. The old password
  still signs in once, then must be changed. No mail, no secret key needed; weaker, since
  whoever knows the old password can choose the new one.

Accounts go in batches (``--batch-size``, 100 by default), one transaction per batch: a batch is
reset completely or not at all, and an interruption loses at most the batch in progress. The run
is idempotent: an account whose password was set (or voided) at or after ``--before`` (default:
when the run started) is skipped, so running the same command again with the same ``--before``
resumes where it stopped, without mailing anyone twice. With ``--all``, only active accounts are
reset; disabled and pending ones are left alone (name one to reset it anyway).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from credflow.cli.arguments import count, instant
from credflow.cli.context import USAGE, CommandError, Commands, Streams, confirm
from credflow.cli.environment import add_database_option, add_settings_options, open_credflow
from credflow.cli.lookup import find_account
from credflow.cli.output import count_of, when
from credflow.cli.progress import Progress
from credflow.errors import ConcurrentUpdate, UnknownAccount
from credflow.facade import Credflow
from credflow.storage.records import Account, AccountStatus, RequiredAction

__all__ = ["INTERRUPTED", "Tally", "add_command", "reset_batch"]

INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C
_ATTEMPTS = 3  # a batch that races a concurrent write is tried again, from a fresh read
_COUNT_PAGE = 10_000


@dataclass(slots=True)
class Tally:
    """What a run did so far."""

    examined: int = 0
    reset: int = 0
    already: int = 0
    inactive: int = 0
    gone: int = 0
    without_email: list[Account] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        """Add a batch's tally to the run's."""
        self.examined += other.examined
        self.reset += other.reset
        self.already += other.already
        self.inactive += other.inactive
        self.gone += other.gone
        self.without_email.extend(other.without_email)


def add_command(actions: Commands) -> None:
    """Add ``users require-reset``."""
    parser = actions.add_parser(
        "require-reset",
        help="make accounts set a new password (asks first)",
        description="Make every active account (--all) or the named ones set a new password.",
    )
    parser.add_argument(
        "accounts",
        nargs="*",
        metavar="ACCOUNT",
        help="account ids or identifiers (after `--` when one starts with -)",
    )
    parser.add_argument("--all", action="store_true", help="every active account")
    parser.add_argument(
        "--mode",
        choices=("link", "next-login"),
        default="link",
        help="link: void the password and mail a setup link (default); next-login: require a "
        "change at the next login",
    )
    parser.add_argument(
        "--before",
        type=instant,
        metavar="INSTANT",
        help="reset passwords set before this instant (default: now); give the same value to "
        "resume an interrupted run",
    )
    parser.add_argument(
        "--batch-size", type=count, default=100, help="accounts per transaction (default 100)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would be reset; change nothing"
    )
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_database_option(parser)
    add_settings_options(parser)
    parser.set_defaults(handler=_require_reset)


def _require_reset(args: argparse.Namespace, streams: Streams) -> int:
    if args.all == bool(args.accounts):
        raise CommandError("name the accounts, or give --all (not both)", USAGE)
    if not 1 <= args.batch_size <= 10_000:
        raise CommandError("--batch-size must be from 1 to 10000", USAGE)
    link = args.mode == "link"
    mails = link and not args.dry_run
    with open_credflow(args, streams, key=mails, mail=mails) as cf:
        before: datetime = args.before or cf.clock.now().replace(microsecond=0)
        named = None if args.all else _named(cf, args.accounts)
        total = len(named) if named is not None else _count(cf)
        if not args.dry_run:
            confirm(streams, "require-reset", _question(args, total), yes=args.yes)
        streams.err.write(
            f"require-reset: passwords set before {when(before)}; to resume after an "
            f"interruption, run the same command with --before {when(before)}\n"
        )
        tally = _run(cf, args, streams, named, total, before)
    _summary(streams, tally, before, link=link, dry_run=args.dry_run)
    return 0


def _named(cf: Credflow, references: Sequence[str]) -> list[Account]:
    """The named accounts, each once; every name must exist before anything changes."""
    found: dict[str, Account] = {}
    for reference in references:
        account = find_account(cf, reference)
        found.setdefault(account.id, account)
    return list(found.values())


def _count(cf: Credflow) -> int:
    total, after = 0, None
    while page := cf.accounts.page(after=after, limit=_COUNT_PAGE):
        total += len(page)
        after = page[-1].id
    return total


def _question(args: argparse.Namespace, total: int) -> str:
    listed = count_of(total, "account")
    who = f"every active account ({listed} in the database)" if args.all else listed
    if args.mode == "link":
        return (
            f"Void the password of {who} and mail each a link to set a new one? The old "
            "passwords stop working at once."
        )
    return f"Require {who} to change password at the next login?"


def _batches(cf: Credflow, named: list[Account] | None, size: int) -> Iterator[list[Account]]:
    if named is not None:
        for start in range(0, len(named), size):
            yield named[start : start + size]
        return
    after = None
    while page := cf.accounts.page(after=after, limit=size):
        yield page
        after = page[-1].id


def _run(
    cf: Credflow,
    args: argparse.Namespace,
    streams: Streams,
    named: list[Account] | None,
    total: int,
    before: datetime,
) -> Tally:
    progress = Progress("require-reset", total, streams.err)
    tally = Tally()
    progress.update(0)
    try:
        for batch in _batches(cf, named, args.batch_size):
            tally.add(
                reset_batch(
                    cf,
                    batch,
                    before=before,
                    link=args.mode == "link",
                    only_active=args.all,
                    dry_run=args.dry_run,
                    locale=args.lang,
                )
            )
            progress.update(tally.examined)
    except KeyboardInterrupt:
        progress.finish()
        raise CommandError(
            f"interrupted after {count_of(tally.examined, 'account')} ({tally.reset:,} reset, "
            f"kept); run the same command with --before {when(before)} to resume",
            INTERRUPTED,
        ) from None
    progress.finish()
    return tally


def reset_batch(
    cf: Credflow,
    batch: Sequence[Account | str],
    *,
    before: datetime,
    link: bool = True,
    only_active: bool = False,
    dry_run: bool = False,
    locale: str | None = None,
) -> Tally:
    """Reset the accounts of ``batch`` that are due, in one transaction, and tally them.

    ``batch`` holds accounts as read a moment ago (a page), or ids to read. Due: the account
    still exists, is active when ``only_active``, its password was set before ``before`` (or it
    has none) and, in next-login mode, does not already have to change it. The password is read
    inside the transaction; an account changed since its page was read fails the service's
    compare-and-set, and the batch is tried again from fresh reads.
    """
    for attempt in range(_ATTEMPTS):
        try:
            with cf.storage.transaction():
                tally, due = _sort(
                    cf, batch, before, link=link, only_active=only_active, fresh=attempt > 0
                )
                if due and not dry_run:
                    due_ids = [account.id for account in due]
                    if link:
                        cf.accounts.send_password_setup(due_ids, locale=locale)
                    else:
                        cf.accounts.require_actions(due_ids, [RequiredAction.CHANGE_PASSWORD])
            return tally
        except (UnknownAccount, ConcurrentUpdate):
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _sort(
    cf: Credflow,
    batch: Sequence[Account | str],
    before: datetime,
    *,
    link: bool,
    only_active: bool,
    fresh: bool,
) -> tuple[Tally, list[Account]]:
    tally = Tally(examined=len(batch))
    due: list[Account] = []
    for item in batch:
        if isinstance(item, Account) and not fresh:
            account: Account | None = item
        else:
            account = cf.storage.get_account(item.id if isinstance(item, Account) else item)
        if account is None:
            tally.gone += 1
        elif only_active and account.status is not AccountStatus.ACTIVE:
            tally.inactive += 1
        elif _done(cf, account, before, link=link):
            tally.already += 1
        else:
            due.append(account)
            if link and account.email is None:
                tally.without_email.append(account)
    tally.reset = len(due)
    return tally, due


def _done(cf: Credflow, account: Account, before: datetime, *, link: bool) -> bool:
    if not link and RequiredAction.CHANGE_PASSWORD in account.required_actions:
        return True
    credential = cf.storage.get_password(account.id)
    return credential is not None and credential.set_at >= before


def _summary(
    streams: Streams, tally: Tally, before: datetime, *, link: bool, dry_run: bool
) -> None:
    out = streams.out
    out.write(f"require-reset: {count_of(tally.examined, 'account')} examined\n")
    verb = "would reset" if dry_run else "reset"
    if link:
        mailed = tally.reset - len(tally.without_email)
        out.write(
            f"  {verb}: {tally.reset:,} (setup links mailed: {mailed:,}; no email address, "
            f"so no link: {len(tally.without_email):,})\n"
        )
    else:
        out.write(f"  {verb}: {tally.reset:,} (a password change at their next login)\n")
    out.write(f"  already reset since {when(before)}: {tally.already:,}\n")
    if tally.inactive:
        out.write(f"  not active, left alone: {tally.inactive:,}\n")
    if tally.gone:
        out.write(f"  deleted meanwhile: {tally.gone:,}\n")
    for account in tally.without_email:
        out.write(f"  no email: {account.identifier} ({account.id})\n")
