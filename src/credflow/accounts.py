"""The account lifecycle: create, find, disable and enable, approve and reject, unlock, required
actions, temporary passwords, and deletion.

Every multi-write operation runs in one storage transaction: a failure at any write (or in the
notifier, which is called last, inside the transaction) leaves nothing half-done.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.errors import ConfigurationError, InvalidInput, UnknownAccount
from credflow.flows.lockout import LockoutState
from credflow.hashing import Hasher
from credflow.lockout import LockoutService, counter_key
from credflow.notify import Message, Notifier
from credflow.policy import MinLength, PasswordPolicy, Special
from credflow.recovery import RecoveryService
from credflow.settings import Settings
from credflow.storage.protocols import Storage
from credflow.storage.records import (
    Account,
    AccountStatus,
    PasswordCredential,
    RequiredAction,
    check_email,
    check_identifier,
    email_key,
    identifier_key,
    new_account_id,
)

__all__ = ["AccountService", "CreatedAccount", "generate_temporary_password"]

_AMBIGUOUS = set("Il1O0o")


@dataclass(frozen=True, slots=True)
class CreatedAccount:
    """A new account and, when one was asked for, its temporary password (shown once)."""

    account: Account
    temporary_password: str | None = field(default=None, repr=False)


def generate_temporary_password(
    policy: PasswordPolicy, *, identifier: str | None = None, email: str | None = None
) -> str:
    """A random password from ``secrets`` that meets ``policy`` (TP-01).

    It is at least 16 characters (or the policy minimum) drawn uniformly from lowercase and
    uppercase letters, digits and the policy's special characters, without look-alike
    characters, and holds at least one of each group: draws that miss a group, or that the
    policy refuses, are thrown away, so every acceptable password is equally likely.
    """
    groups, pool, length = _alphabet(policy)
    for _ in range(100):
        candidate = _draw(pool, length)
        if (
            all(not group.isdisjoint(candidate) for group in groups)
            and policy.evaluate(candidate, identifier=identifier, email=email).ok
        ):
            return candidate
    raise ConfigurationError("the password policy cannot be met by generated passwords")


@functools.lru_cache(maxsize=16)
def _alphabet(policy: PasswordPolicy) -> tuple[tuple[frozenset[str], ...], str, int]:
    """The character groups, the pool and the length for ``policy`` (worked out once)."""
    specials = next((r.alphabet for r in policy.rules if isinstance(r, Special)), "$?!&%*_@")
    minimum = max((r.min for r in policy.rules if isinstance(r, MinLength)), default=0)
    groups = tuple(
        frozenset(c for c in chars if c not in _AMBIGUOUS)
        for chars in (string.ascii_lowercase, string.ascii_uppercase, string.digits, specials)
    )
    pool = "".join(sorted(set().union(*groups)))
    return groups, pool, min(max(16, minimum), policy.max_length)


def _draw(pool: str, length: int) -> str:
    """``length`` characters drawn uniformly from ``pool`` (≤ 256 of them): rejection sampling
    over random bytes, so no character is favoured by the modulo."""
    size = len(pool)
    limit = 256 - 256 % size
    chars: list[str] = []
    while len(chars) < length:
        chars += [pool[b % size] for b in secrets.token_bytes(2 * length) if b < limit]
    return "".join(chars[:length])


class AccountService:
    """Administrative operations on accounts (``cf.accounts``)."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        hasher: Hasher,
        notifier: Notifier,
        clock: Clock,
        audit: Audit,
        lockout: LockoutService,
        recovery: RecoveryService,
    ) -> None:
        self._recovery = recovery
        self._lockout = lockout
        self._storage = storage
        self._settings = settings
        self._hasher = hasher
        self._notifier = notifier
        self._clock = clock
        self._audit = audit

    # -- creation ----------------------------------------------------------------------------

    def create(
        self,
        identifier: str,
        *,
        email: str | None = None,
        temporary: bool = True,
        status: AccountStatus = AccountStatus.ACTIVE,
        required_actions: Sequence[RequiredAction] | None = None,
        locale: str | None = None,
    ) -> CreatedAccount:
        """Create an account; with ``temporary`` (the default), also a temporary password.

        The temporary password meets the active policy, expires after
        ``settings.lifetimes.temporary_password``, and is returned once. When
        ``settings.mail_temporary_password`` is on and the account has an email, the identifier
        and the password go in two separate messages (Certigna).
        Raises InvalidIdentifier, InvalidEmail or DuplicateIdentifier; nothing is stored then.
        """
        account, password, credential = self._new_account(
            identifier,
            email=email,
            temporary=temporary,
            status=status,
            required_actions=required_actions,
        )
        with self._storage.transaction():
            self._insert(account, credential)
            if password is not None:
                self._mail_temporary(account, password, locale)
        return CreatedAccount(account, password)

    def _new_account(
        self,
        identifier: str,
        *,
        email: str | None,
        temporary: bool,
        status: AccountStatus,
        required_actions: Sequence[RequiredAction] | None,
    ) -> tuple[Account, str | None, PasswordCredential | None]:
        """Check the input and build the account, its temporary password and the hashed
        credential, storing nothing (hashing stays outside any transaction). Organisation
        sign-up builds its administrator with it too."""
        check_identifier(identifier)
        if email is not None:
            check_email(email)
        status = AccountStatus(status)
        actions = tuple(RequiredAction(a) for a in required_actions or ())
        self._check_actions(actions)
        if temporary and required_actions is None:
            actions = self._settings.first_login_actions
        if temporary and RequiredAction.CHANGE_PASSWORD not in actions:
            actions = (RequiredAction.CHANGE_PASSWORD, *actions)
        now = self._clock.now()
        account = Account(
            id=new_account_id(),
            identifier=identifier,
            identifier_key=identifier_key(identifier),
            email=email,
            email_key=email_key(email) if email is not None else None,
            status=status,
            required_actions=_ordered(actions),
            created_at=now,
            updated_at=now,
        )
        if not temporary:
            return account, None, None
        password = generate_temporary_password(
            self._settings.password_policy, identifier=identifier, email=email
        )
        return account, password, self._temporary_credential(account.id, password)

    def _insert(self, account: Account, credential: PasswordCredential | None) -> None:
        """Store a built account and its credential, with the audit event, inside the caller's
        transaction."""
        self._storage.create_account(account)
        if credential is not None:
            self._storage.set_password(credential)
        self._audit.record("account_created", account.id, temporary=credential is not None)

    def _temporary_credential(self, account_id: str, password: str) -> PasswordCredential:
        now = self._clock.now()
        ttl = timedelta(seconds=self._settings.lifetimes.temporary_password)
        return PasswordCredential(
            account_id=account_id,
            hash=self._hasher.hash(password),
            temporary=True,
            set_at=now,
            expires_at=now + ttl,
        )

    def _mail_temporary(
        self, account: Account, password: str, locale: str | None, *, always: bool = False
    ) -> None:
        """Mail the identifier and the password separately when the settings say so, or
        ``always`` (organisation sign-up, where the mail proves the address)."""
        if not (always or self._settings.mail_temporary_password) or account.email is None:
            return
        lang = locale or self._settings.locale
        login_url = self._settings.base_url + "/"
        self._notifier.send(
            Message(
                "identifier",
                account.email,
                lang,
                {"identifier": account.identifier, "login_url": login_url},
            )
        )
        self._notifier.send(
            Message(
                "temporary_password",
                account.email,
                lang,
                {"temporary_password": password, "login_url": login_url},
                secret_params=frozenset({"temporary_password"}),
            )
        )

    def _check_actions(self, actions: Sequence[RequiredAction]) -> None:
        if (
            RequiredAction.ENROLL_SECURITY_QUESTION in actions
            and not self._settings.security_questions
        ):
            raise InvalidInput(
                "security questions are disabled in these settings", field="required_actions"
            )

    # -- lookups -----------------------------------------------------------------------------

    def get(self, account_id: str) -> Account:
        """The account with ``account_id``; raises UnknownAccount."""
        if not isinstance(account_id, str):
            raise InvalidInput("must be a str", field="account_id")
        account = self._storage.get_account(account_id)
        if account is None:
            raise UnknownAccount(account_id)
        return account

    def page(self, *, after: str | None = None, limit: int = 100) -> list[Account]:
        """Accounts ordered by id, ``limit`` at a time after ``after`` (keyset pagination):
        ``after`` is the id of the last account of the previous page."""
        if after is not None and not isinstance(after, str):
            raise InvalidInput("must be a str or None", field="after")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInput("must be an integer from 1 to 10000", field="limit")
        return self._storage.list_accounts(after=after, limit=limit)

    def lock_state(self, account_id: str) -> LockoutState:
        """Whether the account is open, locked for a while, or locked until unlocked (for an
        administrator's page); raises UnknownAccount."""
        return self._lockout.state(self.get(account_id))

    def find(self, identifier: str) -> Account | None:
        """The account with ``identifier`` (case-insensitive), or None."""
        check_identifier(identifier)
        return self._storage.find_account(identifier_key(identifier))

    def find_by_email(self, email: str) -> list[Account]:
        """Every account tied to ``email`` (one email may have several, as on ASP's portal)."""
        check_email(email)
        return self._storage.find_accounts_by_email(email_key(email))

    # -- status changes ----------------------------------------------------------------------

    def disable(self, account_id: str) -> Account:
        """Disable an active account (staff leaving): it can no longer sign in, and its
        sessions stop being valid. A pending account is rejected instead (``reject``)."""
        return self._set_status(
            account_id,
            AccountStatus.DISABLED,
            "account_disabled",
            allowed=(AccountStatus.ACTIVE,),
            end_sessions=True,
        )

    def enable(self, account_id: str) -> Account:
        """Re-enable a disabled account."""
        return self._set_status(
            account_id, AccountStatus.ACTIVE, "account_enabled", allowed=(AccountStatus.DISABLED,)
        )

    def approve(self, account_id: str) -> Account:
        """Approve an account that is ``pending_approval``."""
        return self._set_status(
            account_id,
            AccountStatus.ACTIVE,
            "account_approved",
            allowed=(AccountStatus.PENDING_APPROVAL,),
        )

    def reject(self, account_id: str) -> Account:
        """Reject an account that is ``pending_approval``: it becomes disabled."""
        return self._set_status(
            account_id,
            AccountStatus.DISABLED,
            "account_rejected",
            allowed=(AccountStatus.PENDING_APPROVAL,),
        )

    def _set_status(
        self,
        account_id: str,
        status: AccountStatus,
        event: str,
        allowed: tuple[AccountStatus, ...],
        end_sessions: bool = False,
    ) -> Account:
        with self._storage.transaction():
            account = self.get(account_id)
            if account.status not in allowed:
                raise InvalidInput(
                    f"cannot go from {account.status.value} to {status.value}", field="status"
                )
            now = self._clock.now()
            changes: dict[str, object] = {"status": status, "updated_at": now}
            if end_sessions:  # re-enabling later must not bring old sessions back
                changes["session_epoch"] = account.session_epoch + 1
            updated = self._storage.update_account(account.model_copy(update=changes))
            self._audit.record(event, account_id, previous=account.status.value)
            return updated

    def unlock(self, account_id: str, *, by: str = "admin") -> Account:
        """Clear a lockout and the failure counter (an administrator's unlock)."""
        with self._storage.transaction():
            return self._lockout.clear(self.get(account_id), by=by)

    def require_actions(self, account_ids: Iterable[str], actions: Sequence[RequiredAction]) -> int:
        """Add required actions to many accounts at once (DEFI's forced migration).

        All or nothing: an unknown id raises UnknownAccount and changes nothing.
        """
        if isinstance(account_ids, str):
            raise InvalidInput("give a list of account ids, not one string", field="account_ids")
        wanted = tuple(RequiredAction(a) for a in actions)
        if not wanted:
            raise InvalidInput("give at least one action", field="actions")
        self._check_actions(wanted)
        count = 0
        with self._storage.transaction():
            for account_id in account_ids:
                account = self.get(account_id)
                merged = _ordered((*account.required_actions, *wanted))
                if merged != account.required_actions:
                    self._storage.update_account(
                        account.model_copy(
                            update={"required_actions": merged, "updated_at": self._clock.now()}
                        )
                    )
                    self._audit.record(
                        "actions_required", account_id, actions=",".join(a.value for a in wanted)
                    )
                count += 1
        return count

    def mark_compromised(self, account_ids: Iterable[str]) -> int:
        """The credentials of these accounts may be known to someone else (PW-14): end their
        sessions, void their outstanding tokens and require a password change at next login.

        All or nothing: an unknown id raises UnknownAccount and changes nothing.
        """
        if isinstance(account_ids, str):
            raise InvalidInput("give a list of account ids, not one string", field="account_ids")
        count = 0
        with self._storage.transaction():
            for account_id in account_ids:
                account = self.get(account_id)
                now = self._clock.now()
                actions = _ordered((RequiredAction.CHANGE_PASSWORD, *account.required_actions))
                self._storage.update_account(
                    account.model_copy(
                        update={
                            "required_actions": actions,
                            "session_epoch": account.session_epoch + 1,
                            "updated_at": now,
                        }
                    )
                )
                self._storage.void_tokens(account_id, None, now)
                self._audit.record("account_compromised", account_id)
                count += 1
        return count

    def set_temporary_password(self, account_id: str, *, locale: str | None = None) -> str:
        """An administrator's reset: a new temporary password, returned once.

        Bumps the credential version (every session and token issued before dies) and requires a
        password change at the next login.
        """
        account = self.get(account_id)
        password = generate_temporary_password(
            self._settings.password_policy, identifier=account.identifier, email=account.email
        )
        credential = self._temporary_credential(account.id, password)  # hashed outside the lock
        with self._storage.transaction():
            actions = _ordered((RequiredAction.CHANGE_PASSWORD, *account.required_actions))
            updated = self._storage.update_account(
                account.model_copy(
                    update={
                        "credential_version": account.credential_version + 1,
                        "required_actions": actions,
                        "updated_at": self._clock.now(),
                    }
                )
            )
            self._storage.set_password(credential)
            self._audit.record("temporary_password_set", account_id)
            self._mail_temporary(updated, password, locale)
        return password

    def send_password_setup(
        self,
        account_ids: Sequence[str],
        *,
        require_question: bool = False,
        locale: str | None = None,
    ) -> int:
        """Mail each account a single-use link to set a new password and void its old
        credentials at once (DEFI's migration; support after ASP's "no question").

        ``require_question`` also makes the next login ask for a security question. All or
        nothing: an unknown id raises UnknownAccount and changes nothing.
        """
        return self._recovery.send_password_setup(
            account_ids, require_question=require_question, locale=locale
        )

    def delete(self, account_id: str) -> str:
        """Remove the account and its personal data; audit events stay under a pseudonym.

        Returns the pseudonym: an HMAC of the id under the secret key, in its own domain
        (``credflow.pseudonym``), so the same account always maps to the same pseudonym while
        the key stays, and nobody can reverse it.
        """
        self.get(account_id)  # a typed error for a bad or unknown id, before anything else
        key = self._settings.signing_keys[0]
        message = b"credflow.pseudonym:" + account_id.encode()
        pseudonym = "anon:" + hmac.new(key, message, hashlib.sha256).hexdigest()[:24]
        with self._storage.transaction():
            self.get(account_id)
            self._storage.delete_account(account_id)
            self._storage.reset_counter(counter_key(account_id))
            self._storage.pseudonymise_events(account_id, pseudonym)
            self._audit.record("account_deleted", pseudonym)
        return pseudonym


_ORDER = {action: index for index, action in enumerate(RequiredAction)}


def _ordered(actions: Iterable[RequiredAction]) -> tuple[RequiredAction, ...]:
    """Distinct actions in their canonical order (change the password first, as in Keycloak)."""
    return tuple(sorted(set(actions), key=_ORDER.__getitem__))
