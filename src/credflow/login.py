"""``cf.login``: one attempt, the same ``denied`` for every failure, and the lockout around it.

Unknown identifier, wrong password, locked, disabled or pending account, expired temporary
password: all give the same result and message (LK-09), and all cost exactly one argon2 verify
(a dummy one when there is nothing real to verify, LK-10). The precise reason goes to the
``login_failed`` audit event only. Only a wrong password on an active, unlocked account counts
toward lockout (LK-04).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.flows import login as login_flow
from credflow.flows.first_login import ACTION_STATES
from credflow.flows.login import LoginEvent, LoginFacts, LoginState
from credflow.hashing import Hasher, too_long
from credflow.lockout import LockoutService
from credflow.messages import Messages
from credflow.passwords import PasswordService, changed_during_hash
from credflow.results import LoginResult, LoginStatus, StepResult, StepStatus
from credflow.sessions import SessionService
from credflow.settings import Settings
from credflow.storage.protocols import Storage
from credflow.storage.records import (
    Account,
    AccountStatus,
    FlowRecord,
    PasswordCredential,
    RequiredAction,
    check_identifier,
    identifier_key,
)
from credflow.tokens import TokenOutcome, TokenService, nonce_hash

__all__ = ["LoginService", "MfaCheck", "new_handle"]

MfaCheck = Callable[[Account], bool]
"""Tells whether an account has a second factor enrolled (the MFA issue plugs in here)."""

FIRST_LOGIN = "first_login"
MFA = "mfa"


def new_handle() -> str:
    """A flow handle: 256 random bits, URL-safe. Storage keeps only its SHA-256."""
    import secrets

    return secrets.token_urlsafe(32)


class LoginService:
    """Login, and unlock by mailed link."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        hasher: Hasher,
        clock: Clock,
        audit: Audit,
        lockout: LockoutService,
        sessions: SessionService,
        passwords: PasswordService,
        tokens: TokenService,
        messages: Messages,
        second_factor: MfaCheck | None = None,
        needs_enrolment: MfaCheck | None = None,
    ) -> None:
        self._storage = storage
        self._settings = settings
        self._hasher = hasher
        self._clock = clock
        self._audit = audit
        self._lockout = lockout
        self._sessions = sessions
        self._passwords = passwords
        self._tokens = tokens
        self._messages = messages
        self.second_factor: MfaCheck = second_factor or (lambda account: False)
        # True when a second factor is required of the account and it has none (cf.mfa).
        self.needs_enrolment: MfaCheck = needs_enrolment or (lambda account: False)

    def login(self, identifier: str, password: str, *, locale: str | None = None) -> LoginResult:
        """Check ``identifier`` and ``password`` and say what happens next."""
        lang = self._messages.resolve(locale or self._settings.locale)
        if not isinstance(identifier, str) or not isinstance(password, str):
            raise TypeError("identifier and password must be str")
        with self._storage.transaction():  # the reads, in one round trip; no hash inside
            account = self._find(identifier)
            credential = self._storage.get_password(account.id) if account is not None else None
        locked = account is not None and self._lockout.is_locked(account)
        verified = False
        rehashed = None
        if too_long(password):
            pass  # over the cap: refused before any hashing for every account (PW-03, LK-10)
        elif account is None or credential is None or locked:
            self._hasher.dummy_verify(password)
        else:
            outcome = self._hasher.verify(credential.hash, password)
            verified = outcome.ok
            if outcome.needs_rehash:  # hashed here, never inside the write transaction
                rehashed = self._hasher.hash(password)
        with self._storage.transaction():  # every read and write after the hash: one commit
            return self._conclude(account, credential, locked, verified, rehashed, lang)

    def _conclude(
        self,
        account: Account | None,
        credential: PasswordCredential | None,
        locked: bool,
        verified: bool,
        rehashed: str | None,
        lang: str,
    ) -> LoginResult:
        """What the verified (or not) password leads to, inside the caller's transaction."""
        actions = self._actions(account, credential, verified) if account is not None else ()
        facts = LoginFacts(
            known=account is not None and credential is not None,
            locked=locked,
            password_ok=verified,
            active=account is not None and account.status is AccountStatus.ACTIVE,
            temporary_expired=credential is not None
            and self._passwords.temporary_expired(credential),
            actions_pending=bool(actions),
            mfa_enrolled=account is not None and verified and self.second_factor(account),
        )
        state = login_flow.MACHINE.next(LoginState.START, LoginEvent.ATTEMPT, facts)
        if state is LoginState.DENIED:
            return self._deny(account, facts, lang)
        assert account is not None
        assert credential is not None
        fresh = self._storage.get_account(account.id)
        # Deleted, disabled or given a new password while the hash ran: the password was checked
        # against a hash that is no longer the account's.
        if changed_during_hash(account, fresh):
            self._audit.record("login_failed", account.id, reason="account_changed")
            return LoginResult(
                LoginStatus.DENIED, "login.denied", self._messages.render("login.denied", lang)
            )
        assert fresh is not None
        if self._lockout.is_locked(fresh):  # locked by a parallel attempt during the verify
            self._audit.record("login_failed", account.id, reason="account_locked")
            return LoginResult(
                LoginStatus.DENIED, "login.denied", self._messages.render("login.denied", lang)
            )
        # With a second factor still to pass, the password alone is no success: resetting
        # the counter here would let "right password, four wrong codes" repeat forever.
        mfa_next = state is LoginState.MFA_REQUIRED
        account = fresh if mfa_next else self._lockout.register_success(fresh, fresh=True)
        if rehashed is not None:
            self._storage.set_password(credential.model_copy(update={"hash": rehashed}))
        if state is LoginState.ACTION_REQUIRED:
            handle = self._start_flow(
                account, FIRST_LOGIN, ACTION_STATES[actions[0]].value, actions
            )
            self._audit.record("login_succeeded", account.id, restricted=True)
            code = f"action.{actions[0].value}"
            return LoginResult(
                LoginStatus.ACTION_REQUIRED,
                code,
                self._messages.render(code, lang),
                action=actions[0],
                flow=handle,
            )
        if state is LoginState.MFA_REQUIRED:
            handle = self.start_second_factor(account)
            return LoginResult(
                LoginStatus.MFA_REQUIRED,
                "login.mfa_required",
                self._messages.render("login.mfa_required", lang),
                flow=handle,
            )
        self._audit.record("login_succeeded", account.id)
        session = self._sessions.issue(account)
        return LoginResult(
            LoginStatus.AUTHENTICATED,
            "login.authenticated",
            self._messages.render("login.authenticated", lang),
            session=session,
        )

    def _find(self, identifier: str) -> Account | None:
        try:
            check_identifier(identifier)
        except ValueError:
            return None
        return self._storage.find_account(identifier_key(identifier))

    def _actions(
        self, account: Account, credential: PasswordCredential | None, verified: bool = False
    ) -> tuple[RequiredAction, ...]:
        actions = account.required_actions
        if verified:  # MFA rules only once the password is proven (no extra reads otherwise)
            totp = RequiredAction.ENROLL_TOTP
            if totp in actions and self.second_factor(account):
                actions = tuple(a for a in actions if a is not totp)  # already enrolled
            elif totp not in actions and self.needs_enrolment(account):
                actions = (*actions, totp)
        must_change = credential is not None and (
            credential.temporary or self._passwords.too_old(credential)
        )
        if must_change and RequiredAction.CHANGE_PASSWORD not in actions:
            actions = (RequiredAction.CHANGE_PASSWORD, *actions)
        return actions

    def _deny(self, account: Account | None, facts: LoginFacts, lang: str) -> LoginResult:
        reason = login_flow.denial_reason(facts) or "unknown_account"
        with self._storage.transaction():
            if account is not None and reason == "wrong_password" and facts.active:
                self._lockout.register_failure(account, factor="password", locale=lang)
            self._audit.record("login_failed", account.id if account else None, reason=reason)
        return LoginResult(
            LoginStatus.DENIED, "login.denied", self._messages.render("login.denied", lang)
        )

    def start_second_factor(self, account: Account) -> str:
        """Open the ``mfa`` flow that a second factor completes; return its handle."""
        self._audit.record("login_first_factor_succeeded", account.id)
        return self._start_flow(account, MFA, "pending", ())

    def _start_flow(
        self, account: Account, kind: str, state: str, actions: tuple[RequiredAction, ...]
    ) -> str:
        handle = new_handle()
        now = self._clock.now()
        self._storage.save_flow(
            FlowRecord(
                handle_hash=nonce_hash(handle),
                kind=kind,
                account_id=account.id,
                state=state,
                data={"actions": [a.value for a in actions], "cv": account.credential_version},
                created_at=now,
                expires_at=now + timedelta(seconds=self._settings.lifetimes.flow),
            )
        )
        return handle

    def unlock(self, token: str, *, locale: str | None = None) -> StepResult:
        """Redeem a mailed unlock link: the account is unlocked and its counter reset."""
        lang = self._messages.resolve(locale or self._settings.locale)
        with self._storage.transaction():
            redemption = self._tokens.redeem(token, "unlock")
            account = (
                self._storage.get_account(redemption.account_id)
                if redemption.ok and redemption.account_id is not None
                else None
            )
            if account is not None:
                self._lockout.clear(account, by="link")
        if account is not None:
            return StepResult(
                StepStatus.COMPLETED, "unlock.done", self._messages.render("unlock.done", lang)
            )
        code = "unlock.expired" if redemption.outcome is TokenOutcome.EXPIRED else "unlock.invalid"
        return StepResult(
            StepStatus.INVALID if code == "unlock.invalid" else StepStatus.EXPIRED,
            code,
            self._messages.render(code, lang),
        )

    def resend_unlock(self, token: str, *, locale: str | None = None) -> StepResult:
        """For an *expired* unlock link of an account that is still locked, mail a fresh one.

        Only the newest outstanding link counts (a used or superseded link sends nothing), so
        only the mailbox owner can ask again. The answer is the same whether or not a link was
        sent, so it tells nothing about the account.
        """
        lang = self._messages.resolve(locale or self._settings.locale)
        account_id = self._tokens.expired_outstanding(token, "unlock")
        if account_id is not None:
            with self._storage.transaction():
                account = self._storage.get_account(account_id)
                if account is not None and self._lockout.is_locked(account):
                    self._lockout.send_unlock_link(account, lang)
        return StepResult(
            StepStatus.COMPLETED, "unlock.resent", self._messages.render("unlock.resent", lang)
        )
