"""Client organisations, memberships and administrator approval (``cf.organisations``).

DEFI: a person asks to join a client organisation and stays ``pending_approval`` there until one
of its administrators approves (until then DEFI's portal offers only "send a ticket": the host
reads the membership status and decides); administrators deactivate members who leave and
reactivate them. One person may belong to several organisations. Certigna: an organisation signs
up with its SIRET, which creates the organisation, its administrator account (temporary password
mailed, first login applies) and an active membership in one transaction; the administrator then
adds users with roles.

Every administrator's write runs in one transaction that first checks the acting account: active,
with an active membership holding the ``administrator`` role in that organisation (else
NotAuthorised, and nothing changes). Memberships are written by compare-and-set, and status
changes follow the ``membership`` flow table (anything else raises InvalidTransition).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from credflow.accounts import AccountService
from credflow.audit import Audit
from credflow.clock import Clock
from credflow.errors import (
    DuplicateOrganisation,
    InvalidInput,
    NotAuthorised,
    UnknownAccount,
    UnknownMembership,
    UnknownOrganisation,
)
from credflow.flows.membership import MACHINE, MembershipEvent
from credflow.siret import check_registration_number
from credflow.storage.protocols import Storage
from credflow.storage.records import (
    Account,
    AccountStatus,
    Membership,
    MembershipStatus,
    Organisation,
    new_account_id,
)

__all__ = [
    "ADMINISTRATOR",
    "DEFAULT_ROLES",
    "SIGN_UP_ROLES",
    "CreatedMember",
    "OrganisationService",
    "SignedUp",
    "check_roles",
]

ADMINISTRATOR = "administrator"
"""The role that lets a member approve, add, deactivate and reactivate members."""
DEFAULT_ROLES = ("user",)
SIGN_UP_ROLES = ("legal_representative", ADMINISTRATOR)
MAX_ROLE_LENGTH = 64
MAX_ROLES = 32
MAX_NAME_LENGTH = 200
_HIDDEN = frozenset({"Zl", "Zp"})  # with every "C*" category: control, format, unassigned…


@dataclass(frozen=True, slots=True)
class SignedUp:
    """What an organisation sign-up created. ``temporary_password`` is None unless the caller
    asked for it (it is mailed either way) and never appears in ``repr``."""

    organisation: Organisation
    account: Account
    membership: Membership
    temporary_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class CreatedMember:
    """An account an administrator created in the organisation, and its temporary password
    (shown once; never in ``repr``)."""

    account: Account
    membership: Membership
    temporary_password: str = field(repr=False)


def check_roles(roles: object) -> tuple[str, ...]:
    """The roles as a tuple without repeats (first occurrence kept), or InvalidInput naming
    ``roles``: a list or tuple of at most 32 names, each 1 to 64 characters, without control or
    invisible characters and without spaces around it."""
    if not isinstance(roles, (list, tuple)):
        raise InvalidInput("give a list or tuple of role names", field="roles")
    if len(roles) > MAX_ROLES:
        raise InvalidInput(f"at most {MAX_ROLES} roles", field="roles")
    for role in roles:
        if not isinstance(role, str):
            raise InvalidInput(f"a role must be a str, not {type(role).__name__}", field="roles")
        if not role or len(role) > MAX_ROLE_LENGTH:
            raise InvalidInput(f"a role has 1 to {MAX_ROLE_LENGTH} characters", field="roles")
        if role != role.strip():
            raise InvalidInput("a role must not start or end with spaces", field="roles")
        if _hidden(role):
            raise InvalidInput("a role must not contain control characters", field="roles")
    return tuple(dict.fromkeys(roles))


def _hidden(text: str) -> bool:
    if text.isascii() and text.isprintable():
        return False
    return any(
        unicodedata.category(c).startswith("C") or unicodedata.category(c) in _HIDDEN for c in text
    )


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidInput(f"must be a str, not {type(name).__name__}", field="name")
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"must have 1 to {MAX_NAME_LENGTH} characters", field="name")
    if _hidden(name):
        raise InvalidInput("must not contain control characters", field="name")
    return name


def _check_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput("must be a non-empty str", field=field)
    return value


def _roles_text(roles: Sequence[str]) -> str:
    return json.dumps(list(roles), ensure_ascii=False)


class OrganisationService:
    """Organisations, memberships, approval and organisation sign-up."""

    def __init__(
        self, storage: Storage, clock: Clock, audit: Audit, accounts: AccountService
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._audit = audit
        self._accounts = accounts

    # -- organisations -----------------------------------------------------------------------

    def create(self, name: str, *, registration_number: str | None = None) -> Organisation:
        """Create an organisation. ``registration_number`` is a SIREN or a SIRET (spaces
        allowed, stored as digits). Raises InvalidInput (field ``name`` or
        ``registration_number``) or DuplicateOrganisation when the number is taken."""
        organisation = self._new(name, registration_number)
        with self._storage.transaction():
            self._storage.create_organisation(organisation)
            self._audit.record(
                "organisation_created",
                organisation=organisation.id,
                registration_number=organisation.registration_number,
            )
        return organisation

    def _new(self, name: object, registration_number: object) -> Organisation:
        number = None
        if registration_number is not None:
            number = check_registration_number(registration_number)
        return Organisation(
            id=new_account_id(),
            name=_check_name(name),
            registration_number=number,
            created_at=self._clock.now(),
        )

    def get(self, organisation_id: str) -> Organisation:
        """The organisation with that id; raises UnknownOrganisation."""
        _check_id(organisation_id, "organisation_id")
        organisation = self._storage.get_organisation(organisation_id)
        if organisation is None:
            raise UnknownOrganisation(organisation_id)
        return organisation

    def find(self, registration_number: str) -> Organisation | None:
        """The organisation registered under that SIREN or SIRET, or None. A malformed number
        raises InvalidInput, so a typo is told apart from "not registered"."""
        return self._storage.find_organisation(check_registration_number(registration_number))

    # -- memberships -------------------------------------------------------------------------

    def join(
        self, account_id: str, organisation_id: str, *, roles: Sequence[str] = DEFAULT_ROLES
    ) -> Membership:
        """Ask to join: a ``pending_approval`` membership with the requested ``roles``, which an
        administrator approves (and may change) with ``approve``. Raises UnknownAccount,
        UnknownOrganisation, or DuplicateMembership when the account already has a membership
        there, whatever its status (a deactivated member cannot ask again: an administrator
        reactivates them)."""
        return self._insert(
            None, organisation_id, account_id, roles, MembershipStatus.PENDING_APPROVAL
        )

    def add_member(
        self,
        admin_account_id: str,
        organisation_id: str,
        account_id: str,
        *,
        roles: Sequence[str] = DEFAULT_ROLES,
    ) -> Membership:
        """An administrator adds an account directly as an ``active`` member with ``roles``
        (Certigna's "Ajout d'un utilisateur"). Raises NotAuthorised, UnknownAccount,
        UnknownOrganisation or DuplicateMembership."""
        _check_id(admin_account_id, "admin_account_id")
        return self._insert(
            admin_account_id, organisation_id, account_id, roles, MembershipStatus.ACTIVE
        )

    def create_member(
        self,
        admin_account_id: str,
        organisation_id: str,
        identifier: str,
        *,
        email: str | None = None,
        roles: Sequence[str] = DEFAULT_ROLES,
        locale: str | None = None,
    ) -> CreatedMember:
        """An administrator creates a person's account with a temporary password (the first
        login then applies) and makes it an ``active`` member with ``roles``, in ONE transaction:
        a refused membership leaves no account behind. The identifier and the password are
        mailed separately when ``settings.mail_temporary_password`` is on (Certigna). Raises
        NotAuthorised, UnknownOrganisation, InvalidIdentifier, InvalidEmail, InvalidInput
        (``roles``) or DuplicateIdentifier; nothing is stored then."""
        _check_id(admin_account_id, "admin_account_id")
        _check_id(organisation_id, "organisation_id")
        check_roles(roles)
        account, password, credential = self._accounts._new_account(
            identifier,
            email=email,
            temporary=True,
            status=AccountStatus.ACTIVE,
            required_actions=None,
        )  # hashed before the transaction opens
        assert password is not None
        with self._storage.transaction():
            self.get(organisation_id)
            self._authorise(admin_account_id, organisation_id)
            self._accounts._insert(account, credential)
            membership = self._insert(
                admin_account_id, organisation_id, account.id, roles, MembershipStatus.ACTIVE
            )
            self._accounts._mail_temporary(account, password, locale)
        return CreatedMember(account, membership, password)

    def _insert(
        self,
        admin_account_id: str | None,
        organisation_id: str,
        account_id: str,
        roles: Sequence[str],
        status: MembershipStatus,
    ) -> Membership:
        _check_id(organisation_id, "organisation_id")
        _check_id(account_id, "account_id")
        wanted = check_roles(roles)
        with self._storage.transaction():
            self.get(organisation_id)
            if admin_account_id is not None:
                self._authorise(admin_account_id, organisation_id)
            if self._storage.get_account(account_id) is None:
                raise UnknownAccount(account_id)
            now = self._clock.now()
            membership = Membership(
                account_id=account_id,
                organisation_id=organisation_id,
                roles=wanted,
                status=status,
                created_at=now,
                updated_at=now,
            )
            self._storage.create_membership(membership)
            details: dict[str, Any] = {
                "organisation": organisation_id,
                "roles": _roles_text(wanted),
            }
            if admin_account_id is None:
                self._audit.record("membership_requested", account_id, **details)
            else:
                self._audit.record("membership_added", account_id, by=admin_account_id, **details)
        return membership

    def approve(
        self,
        admin_account_id: str,
        organisation_id: str,
        account_id: str,
        *,
        roles: Sequence[str] | None = None,
    ) -> Membership:
        """Approve a ``pending_approval`` membership: it becomes ``active``, with ``roles`` in
        place of the requested ones when given. Any other status raises InvalidTransition (a
        form sent twice): show the membership as it is."""
        wanted = None if roles is None else check_roles(roles)
        return self._change(
            admin_account_id, organisation_id, account_id, MembershipEvent.APPROVE, wanted
        )

    def deactivate(
        self, admin_account_id: str, organisation_id: str, account_id: str
    ) -> Membership:
        """Deactivate a member (staff leaving) or refuse a pending request: the membership
        becomes ``disabled`` and stops being any session's active organisation at once. An
        administrator cannot deactivate themselves (another administrator must), so an
        organisation never loses its last administrator by a slip. A membership already
        ``disabled`` raises InvalidTransition."""
        if admin_account_id == account_id:
            raise NotAuthorised("an administrator cannot deactivate their own membership")
        return self._change(
            admin_account_id, organisation_id, account_id, MembershipEvent.DEACTIVATE, None
        )

    def reactivate(
        self, admin_account_id: str, organisation_id: str, account_id: str
    ) -> Membership:
        """Reactivate a ``disabled`` membership; any other status raises InvalidTransition."""
        return self._change(
            admin_account_id, organisation_id, account_id, MembershipEvent.REACTIVATE, None
        )

    def set_roles(
        self,
        admin_account_id: str,
        organisation_id: str,
        account_id: str,
        roles: Sequence[str],
    ) -> Membership:
        """Replace a member's roles, whatever the membership's status. An administrator cannot
        take the ``administrator`` role from themselves."""
        wanted = check_roles(roles)
        if admin_account_id == account_id and ADMINISTRATOR not in wanted:
            raise NotAuthorised("an administrator cannot remove their own administrator role")
        return self._change(admin_account_id, organisation_id, account_id, None, wanted)

    def _change(
        self,
        admin_account_id: str,
        organisation_id: str,
        account_id: str,
        event: MembershipEvent | None,
        roles: tuple[str, ...] | None,
    ) -> Membership:
        _check_id(admin_account_id, "admin_account_id")
        _check_id(organisation_id, "organisation_id")
        _check_id(account_id, "account_id")
        with self._storage.transaction():
            self.get(organisation_id)
            self._authorise(admin_account_id, organisation_id)
            membership = self._storage.get_membership(account_id, organisation_id)
            if membership is None:
                raise UnknownMembership(account_id, organisation_id)
            changes: dict[str, Any] = {"updated_at": self._clock.now()}
            details: dict[str, Any] = {"organisation": organisation_id, "by": admin_account_id}
            if event is not None:
                changes["status"] = MACHINE.next(membership.status, event, None)
                details["previous"] = membership.status.value
            if roles is not None:
                changes["roles"] = roles
                details["roles"] = _roles_text(roles)
            updated = self._storage.update_membership(membership.model_copy(update=changes))
            kind = "roles_changed" if event is None else f"{event.value}d"
            self._audit.record(f"membership_{kind}", account_id, **details)
            return updated

    def _authorise(self, admin_account_id: str, organisation_id: str) -> None:
        """NotAuthorised unless the acting account is active and an active administrator of
        the organisation (read in the caller's transaction)."""
        admin = self._storage.get_account(admin_account_id)
        membership = self._storage.get_membership(admin_account_id, organisation_id)
        if (
            admin is None
            or admin.status is not AccountStatus.ACTIVE
            or membership is None
            or membership.status is not MembershipStatus.ACTIVE
            or ADMINISTRATOR not in membership.roles
        ):
            raise NotAuthorised("only an active administrator of the organisation may do this")

    # -- reads -------------------------------------------------------------------------------

    def membership(self, account_id: str, organisation_id: str) -> Membership | None:
        """The account's membership of the organisation (any status), or None."""
        _check_id(account_id, "account_id")
        _check_id(organisation_id, "organisation_id")
        return self._storage.get_membership(account_id, organisation_id)

    def memberships(self, account_id: str) -> list[Membership]:
        """Every membership of the account (any status), ordered by organisation id."""
        _check_id(account_id, "account_id")
        return self._storage.memberships_of(account_id)

    def members(
        self, organisation_id: str, *, after: str | None = None, limit: int = 100
    ) -> list[Membership]:
        """The organisation's memberships (any status) ordered by account id, ``limit`` at a
        time, starting after the account id ``after`` (keyset pagination)."""
        self.get(organisation_id)
        if after is not None:
            _check_id(after, "after")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInput("must be an int between 1 and 10000", field="limit")
        return self._storage.members_of(organisation_id, after=after, limit=limit)

    # -- sign-up (Certigna) ------------------------------------------------------------------

    def sign_up(
        self,
        name: str,
        registration_number: str,
        *,
        identifier: str,
        email: str,
        roles: Sequence[str] = SIGN_UP_ROLES,
        locale: str | None = None,
        return_password: bool = False,
    ) -> SignedUp:
        """Create, in one transaction, the organisation, its administrator account with a
        temporary password (the first login then applies) and an active membership with
        ``roles`` (which must include ``administrator``).

        The identifier and the temporary password go to ``email`` in two separate mails,
        whatever ``settings.mail_temporary_password`` says: here the mail is what proves the
        address, so the password is not returned unless ``return_password`` is set. Raises
        InvalidInput (``name``, ``registration_number``, ``roles``), InvalidIdentifier,
        InvalidEmail, DuplicateOrganisation or DuplicateIdentifier; nothing is stored then.
        """
        if registration_number is None:
            raise InvalidInput(
                "is required to sign up an organisation", field="registration_number"
            )
        organisation = self._new(name, registration_number)
        wanted = check_roles(roles)
        if ADMINISTRATOR not in wanted:
            raise InvalidInput(f"must include {ADMINISTRATOR!r}", field="roles")
        if email is None:
            raise InvalidInput("is required to mail the identifier and password", field="email")
        assert organisation.registration_number is not None
        if self._storage.find_organisation(organisation.registration_number) is not None:
            raise DuplicateOrganisation("organisation already registered")  # before any hashing
        account, password, credential = self._accounts._new_account(
            identifier,
            email=email,
            temporary=True,
            status=AccountStatus.ACTIVE,
            required_actions=None,
        )
        assert password is not None
        membership = Membership(
            account_id=account.id,
            organisation_id=organisation.id,
            roles=wanted,
            status=MembershipStatus.ACTIVE,
            created_at=organisation.created_at,
            updated_at=organisation.created_at,
        )
        with self._storage.transaction():
            self._storage.create_organisation(organisation)
            self._accounts._insert(account, credential)
            self._storage.create_membership(membership)
            self._audit.record(
                "organisation_signed_up",
                account.id,
                organisation=organisation.id,
                registration_number=organisation.registration_number,
                roles=_roles_text(wanted),
            )
            self._accounts._mail_temporary(account, password, locale, always=True)
        return SignedUp(organisation, account, membership, password if return_password else None)
