"""``credflow users ...``: create, list, show and manage accounts.

Every command names an account by its id or its identifier (``lookup.find_account``). Nothing
printed ever holds a password hash, a token or a key; the only secret shown is a new temporary
password, once, when it is not mailed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from credflow.cli import reset
from credflow.cli.arguments import count
from credflow.cli.context import (
    REFUSED,
    USAGE,
    CommandError,
    Commands,
    Streams,
    confirm,
    read_password,
)
from credflow.cli.environment import add_database_option, add_settings_options, open_credflow
from credflow.cli.lookup import find_account
from credflow.cli.output import count_of, when, write_json
from credflow.cli.policy import print_report
from credflow.errors import InvalidInput
from credflow.facade import Credflow
from credflow.flows.lockout import LockoutState
from credflow.hashing import UNUSABLE
from credflow.storage.records import (
    Account,
    AccountStatus,
    PasswordCredential,
    check_email,
    check_identifier,
)

__all__ = ["add_commands", "describe_account"]

_PAGE = 500


def add_commands(groups: Commands) -> None:
    """Add ``users`` and its actions."""
    users = groups.add_parser("users", help="create, list, show and manage accounts")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = _action(actions, "create", "create an account", _create)
    create.add_argument("identifier", help="the sign-in identifier")
    create.add_argument("--email", help="the account's email address")
    create.add_argument(
        "--temporary",
        action="store_true",
        help="give a temporary password (printed once, or mailed with --mail) instead of "
        "reading the password",
    )
    create.add_argument(
        "--mail", action="store_true", help="mail the temporary password instead of printing it"
    )

    listing = _action(actions, "list", "list accounts, ordered by id", _list)
    listing.add_argument("--status", choices=[s.value for s in AccountStatus])
    listing.add_argument(
        "--limit", type=count, default=100, help="at most this many (default 100; 0: all)"
    )
    listing.add_argument("--after", metavar="ID", help="start after this account id")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")

    show = _action(actions, "show", "show one account", _show, account=True)
    show.add_argument("--json", action="store_true", help="one JSON object")

    _action(actions, "disable", "disable an account (asks first)", _disable, account=True, yes=True)
    _action(actions, "enable", "enable a disabled account", _enable, account=True)
    _action(actions, "approve", "approve a pending account", _approve, account=True)
    _action(actions, "reject", "reject a pending account", _reject, account=True)
    _action(actions, "unlock", "clear a lockout", _unlock, account=True)
    _action(actions, "delete", "delete an account (asks first)", _delete, account=True, yes=True)
    temporary = _action(
        actions,
        "temporary-password",
        "replace the password by a temporary one (asks first)",
        _temporary_password,
        account=True,
        yes=True,
    )
    temporary.add_argument(
        "--mail", action="store_true", help="mail the temporary password instead of printing it"
    )
    reset.add_command(actions)


def _action(
    actions: Commands,
    name: str,
    summary: str,
    handler: Callable[[argparse.Namespace, Streams], int],
    *,
    account: bool = False,
    yes: bool = False,
) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, help=summary, description=summary)
    if account:
        parser.add_argument(
            "account",
            metavar="ACCOUNT",
            help="account id or identifier (after `--` when it starts with -)",
        )
    if yes:
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_database_option(parser)
    add_settings_options(parser)
    parser.set_defaults(handler=handler)
    return parser


def _label(account: Account) -> str:
    return f"{account.identifier} ({account.id})"


# -- create ------------------------------------------------------------------------------------


def _create(args: argparse.Namespace, streams: Streams) -> int:
    check_identifier(args.identifier)
    if args.email is not None:
        check_email(args.email)
    if args.mail and not args.temporary:
        raise CommandError("--mail needs --temporary: a password you type is never mailed", USAGE)
    if args.mail and args.email is None:
        raise CommandError("--mail needs --email", USAGE)
    if args.temporary:
        return _create_temporary(args, streams)
    with open_credflow(args, streams) as cf:
        if cf.accounts.find(args.identifier) is not None:
            raise CommandError(f"the identifier {args.identifier!r} is taken", REFUSED)
        password = _new_password(streams)
        report = cf.policy.evaluate(
            password,
            identifier=args.identifier,
            email=args.email,
            locale=args.lang or cf.settings.locale,
        )
        if not report.ok:
            print_report(report, streams)
            codes = ", ".join(r.code for r in report.failures)
            raise CommandError(f"password refused: {codes}", REFUSED)
        hashed = cf.hasher.hash(password)  # before the transaction: no lock held while hashing
        with cf.storage.transaction():
            account = cf.accounts.create(args.identifier, email=args.email, temporary=False).account
            credential = PasswordCredential(
                account_id=account.id, hash=hashed, set_at=cf.clock.now()
            )
            cf.storage.set_password(credential)
            cf.audit.record("password_set", account.id, by="cli")
    streams.out.write(f"created {_label(account)}\n")
    return 0


def _new_password(streams: Streams) -> str:
    """The password, typed twice on a terminal (a typo would lock the person out), or one
    line of standard input."""
    password = read_password(streams.stdin)
    if streams.stdin.isatty() and password != read_password(streams.stdin, "Confirmation: "):
        raise CommandError("the two passwords differ; nothing was created", REFUSED)
    return password


def _create_temporary(args: argparse.Namespace, streams: Streams) -> int:
    mail: bool = args.mail
    with open_credflow(args, streams, mail=mail, mail_temporary_password=mail) as cf:
        created = cf.accounts.create(
            args.identifier, email=args.email, temporary=True, locale=args.lang
        )
        credential = cf.storage.get_password(created.account.id)
    streams.out.write(f"created {_label(created.account)}\n")
    _tell_temporary(streams, created.temporary_password, args.email if mail else None)
    expires = when(credential.expires_at if credential is not None else None)
    streams.out.write(f"it expires at {expires}; the first login changes it\n")
    return 0


def _tell_temporary(streams: Streams, password: str | None, mailed_to: str | None) -> None:
    if mailed_to is not None:
        streams.out.write(
            f"temporary password mailed to {mailed_to} (identifier and password "
            "in two separate mails)\n"
        )
    else:
        streams.out.write(f"temporary password (shown once): {password}\n")


# -- list and show -----------------------------------------------------------------------------


def _list(args: argparse.Namespace, streams: Streams) -> int:
    with open_credflow(args, streams) as cf:
        shown = 0
        after: str | None = args.after
        last_shown = after
        more = False
        if not args.json:
            streams.out.write(f"{'ID':<22}  {'STATUS':<20}  {'CREATED':<10}  IDENTIFIER  EMAIL\n")
        while not more:
            page = cf.accounts.page(after=after, limit=_PAGE)
            for account in page:
                if args.status is not None and account.status != args.status:
                    continue
                if args.limit and shown == args.limit:
                    more = True
                    break
                _list_line(cf, account, streams, as_json=args.json)
                shown += 1
                last_shown = account.id
            if len(page) < _PAGE:
                break
            after = page[-1].id
    if more:
        streams.err.write(
            f"credflow: {count_of(shown, 'account')} shown; more follow: "
            f"continue with --after={last_shown}\n"
        )
    return 0


def _list_line(cf: Credflow, account: Account, streams: Streams, *, as_json: bool) -> None:
    locked = cf.lockout.state(account) is not LockoutState.OPEN
    actions = [a.value for a in account.required_actions]
    if as_json:
        write_json(
            streams.out,
            {
                "id": account.id,
                "identifier": account.identifier,
                "email": account.email,
                "status": account.status.value,
                "created_at": when(account.created_at),
                "locked": locked,
                "required_actions": actions,
            },
        )
        return
    notes = (" [locked]" if locked else "") + (f" [{', '.join(actions)}]" if actions else "")
    streams.out.write(
        f"{account.id:<22}  {account.status.value:<20}  {account.created_at:%Y-%m-%d}  "
        f"{account.identifier}  {account.email or '-'}{notes}\n"
    )


def describe_account(cf: Credflow, account: Account) -> dict[str, Any]:
    """What an operator may see of an account: state, dates, lock, actions, factors and
    memberships. Never a hash, a TOTP seed or a security answer."""
    credential = cf.storage.get_password(account.id)
    question = cf.storage.get_question(account.id)
    memberships = []
    for membership in cf.storage.memberships_of(account.id):
        organisation = cf.storage.get_organisation(membership.organisation_id)
        memberships.append(
            {
                "organisation_id": membership.organisation_id,
                "organisation": organisation.name if organisation else None,
                "roles": list(membership.roles),
                "status": membership.status.value,
            }
        )
    return {
        "id": account.id,
        "identifier": account.identifier,
        "email": account.email,
        "status": account.status.value,
        "created_at": when(account.created_at),
        "updated_at": when(account.updated_at),
        "lock": cf.lockout.state(account).value,
        "locked_until": when(account.locked_until) if account.locked_until else None,
        "failed_attempts": cf.lockout.failures(account.id),
        "required_actions": [a.value for a in account.required_actions],
        "password": _password_state(credential),
        "security_question": when(question.set_at) if question else None,
        "second_factors": [
            {
                "kind": factor.kind.value,
                "confirmed": factor.confirmed,
                "phone": _masked(factor.phone),
                "since": when(factor.created_at),
            }
            for factor in cf.storage.mfa_factors(account.id)
        ],
        "recovery_codes_left": cf.storage.recovery_codes_left(account.id),
        "memberships": memberships,
    }


def _password_state(credential: PasswordCredential | None) -> str:
    if credential is None:
        return "none"
    if credential.hash == UNUSABLE:
        return f"voided {when(credential.set_at)}; waiting for a new one"
    if credential.temporary:
        return f"temporary, set {when(credential.set_at)}, expires {when(credential.expires_at)}"
    return f"set {when(credential.set_at)}"


def _masked(phone: str | None) -> str | None:
    """A phone number with all but its first three and last two characters hidden."""
    if phone is None or len(phone) <= 6:
        return phone
    return phone[:3] + "•" * (len(phone) - 5) + phone[-2:]


def _show(args: argparse.Namespace, streams: Streams) -> int:
    with open_credflow(args, streams) as cf:
        details = describe_account(cf, find_account(cf, args.account))
    if args.json:
        write_json(streams.out, details)
        return 0
    for key, value in details.items():
        streams.out.write(f"{key.replace('_', ' ') + ':':<21}{_plain(key, value)}\n")
    return 0


def _plain(key: str, value: Any) -> str:
    if value is None or value == []:
        return "-"
    if key == "required_actions":
        return ", ".join(value)
    if key == "second_factors":
        return "; ".join(
            f"{f['kind']} ({'confirmed' if f['confirmed'] else 'not confirmed'}, "
            f"since {f['since']}{', ' + f['phone'] if f['phone'] else ''})"
            for f in value
        )
    if key == "memberships":
        return "; ".join(
            f"{m['organisation'] or '?'} ({m['organisation_id']}): {m['status']}"
            f"{', roles ' + ', '.join(m['roles']) if m['roles'] else ''}"
            for m in value
        )
    return str(value)


# -- status changes ----------------------------------------------------------------------------


def _change_status(
    args: argparse.Namespace,
    streams: Streams,
    verb: str,
    change: Callable[[Credflow, str], Account],
    question: str | None = None,
) -> int:
    with open_credflow(args, streams) as cf:
        account = find_account(cf, args.account)
        if question is not None:
            label = _label(account)
            confirm(streams, f"{verb} {label}", question.format(label), yes=args.yes)
        try:
            change(cf, account.id)
        except InvalidInput:  # the only one a status change raises: not from this status
            raise CommandError(
                f"cannot {verb} {_label(account)}: it is {account.status.value}", REFUSED
            ) from None
    streams.out.write(f"{verb.rstrip('e')}ed {_label(account)}\n")
    return 0


def _disable(args: argparse.Namespace, streams: Streams) -> int:
    question = "Disable {}? It can no longer sign in and its sessions end."
    return _change_status(args, streams, "disable", lambda cf, i: cf.accounts.disable(i), question)


def _enable(args: argparse.Namespace, streams: Streams) -> int:
    return _change_status(args, streams, "enable", lambda cf, i: cf.accounts.enable(i))


def _approve(args: argparse.Namespace, streams: Streams) -> int:
    return _change_status(args, streams, "approve", lambda cf, i: cf.accounts.approve(i))


def _reject(args: argparse.Namespace, streams: Streams) -> int:
    return _change_status(args, streams, "reject", lambda cf, i: cf.accounts.reject(i))


def _unlock(args: argparse.Namespace, streams: Streams) -> int:
    with open_credflow(args, streams) as cf:
        account = find_account(cf, args.account)
        locked = cf.lockout.state(account) is not LockoutState.OPEN
        cf.accounts.unlock(account.id, by="cli")
    if locked:
        streams.out.write(f"unlocked {_label(account)}\n")
    else:
        streams.out.write(f"{_label(account)} was not locked; its failure count is reset\n")
    return 0


def _delete(args: argparse.Namespace, streams: Streams) -> int:
    with open_credflow(args, streams, key=True) as cf:
        account = find_account(cf, args.account)
        confirm(
            streams,
            f"delete {_label(account)}",
            f"Delete {_label(account)} and its personal data? This cannot be undone.",
            yes=args.yes,
        )
        pseudonym = cf.accounts.delete(account.id)
    streams.out.write(f"deleted {_label(account)}; its audit events now name {pseudonym}\n")
    return 0


def _temporary_password(args: argparse.Namespace, streams: Streams) -> int:
    mail: bool = args.mail
    with open_credflow(args, streams, mail=mail, mail_temporary_password=mail) as cf:
        account = find_account(cf, args.account)
        if mail and account.email is None:
            raise CommandError(f"{_label(account)} has no email address to mail to", REFUSED)
        confirm(
            streams,
            f"replace the password of {_label(account)}",
            f"Replace the password of {_label(account)} by a temporary one? The current "
            "password, sessions and links stop working.",
            yes=args.yes,
        )
        password = cf.accounts.set_temporary_password(account.id, locale=args.lang)
    _tell_temporary(streams, password, account.email if mail else None)
    return 0
