"""``Credflow``: one object that wires the ports and exposes the services.

cf = Credflow(storage=MemoryStorage(), settings=Settings.classic(secret_key=KEY,
              base_url="https://portal.example.fr"), notifier=Outbox())
created = cf.accounts.create("adejoux", email="a.dejoux@example.fr")
result = cf.login("adejoux", created.temporary_password)   # action_required
step = cf.first_login.change_password(result.flow, new="…", confirm="…")
"""

from __future__ import annotations

from credflow.accounts import AccountService
from credflow.audit import Audit
from credflow.clock import Clock, SystemClock
from credflow.email_change import EmailChangeService
from credflow.errors import ConfigurationError
from credflow.first_login import FirstLoginService
from credflow.hashing import Hasher
from credflow.humancheck import ArithmeticCheck, HumanCheck
from credflow.lockout import LockoutService
from credflow.login import LoginService, MfaCheck
from credflow.maintenance import MaintenanceService
from credflow.messages import DEFAULT_MESSAGES, Messages
from credflow.mfa.service import MfaService
from credflow.notify import Notifier, Outbox
from credflow.organisations import OrganisationService
from credflow.passwords import PasswordService
from credflow.policy import PasswordPolicy
from credflow.questions import QuestionService
from credflow.recovery import RecoveryService
from credflow.registration import RegistrationService
from credflow.results import LoginResult, StepResult
from credflow.sessions import SessionService
from credflow.settings import Settings
from credflow.storage.protocols import Storage
from credflow.tokens import TokenService

__all__ = ["Credflow"]


class Credflow:
    """The facade: storage, settings, notifier and clock in; services out."""

    def __init__(
        self,
        *,
        storage: Storage,
        settings: Settings,
        notifier: Notifier | None = None,
        clock: Clock | None = None,
        hasher: Hasher | None = None,
        messages: Messages | None = None,
        second_factor: MfaCheck | None = None,
        human_check: HumanCheck | None = None,
    ) -> None:
        """Wire the services. ``second_factor(account)`` tells whether an account has a second
        factor; by default, whether it has a confirmed one in ``cf.mfa`` (a host app with its
        own second factor can plug its check here instead).
        ``human_check`` defaults to the signed arithmetic check (ASP's "9 + 0 = ?")."""
        if not isinstance(settings, Settings):
            raise ConfigurationError("settings must be a credflow.Settings", field="settings")
        if not isinstance(storage, Storage):
            raise ConfigurationError("storage does not implement the Storage protocol")
        self.storage = storage
        self.settings = settings
        self.notifier: Notifier = notifier if notifier is not None else Outbox()
        self.clock: Clock = clock if clock is not None else SystemClock()
        if hasher is not None and settings.peppers and hasher.peppers != settings.peppers:
            raise ConfigurationError(
                "the hasher given does not hold the settings' peppers (ids, keys and order); "
                "build it with Hasher(..., peppers=settings.peppers)",
                field="hasher",
            )
        self.hasher = hasher or Hasher(
            settings.hashing, max_concurrent=settings.hash_concurrency, peppers=settings.peppers
        )
        self.messages = messages or DEFAULT_MESSAGES
        self.audit = Audit(storage, self.clock)
        key, fallbacks = settings.signing_keys
        self.tokens = TokenService(
            storage,
            self.clock,
            secret_key=key,
            fallback_keys=fallbacks,
            lifetimes=settings.lifetimes.token_lifetimes(),
        )
        self.lockout = LockoutService(
            storage, settings, self.clock, self.audit, self.tokens, self.notifier
        )
        self.sessions = SessionService(storage, settings, self.clock, self.audit, self.messages)
        self.passwords = PasswordService(
            storage,
            settings,
            self.hasher,
            self.clock,
            self.audit,
            self.notifier,
            self.lockout,
            self.sessions,
            self.messages,
        )
        self.mfa = MfaService(
            storage,
            settings,
            self.hasher,
            self.clock,
            self.audit,
            self.lockout,
            self.sessions,
            self.notifier,
            self.messages,
        )
        self._login = LoginService(
            storage,
            settings,
            self.hasher,
            self.clock,
            self.audit,
            self.lockout,
            self.sessions,
            self.passwords,
            self.tokens,
            self.messages,
            second_factor or self.mfa.has_factor,
            needs_enrolment=self.mfa.needs_enrolment,
        )
        self.first_login = FirstLoginService(
            storage,
            settings,
            self.hasher,
            self.clock,
            self.audit,
            self.passwords,
            self.sessions,
            self.messages,
            self._login,
            self.mfa,
        )
        self.human_check: HumanCheck = human_check or ArithmeticCheck(
            storage, self.clock, secret_key=key, fallback_keys=fallbacks
        )
        self.recovery = RecoveryService(
            storage,
            settings,
            self.hasher,
            self.clock,
            self.audit,
            self.tokens,
            self.passwords,
            self.lockout,
            self.sessions,
            self.notifier,
            self.messages,
            self.human_check,
            self._login,
            self.mfa,
        )
        self.accounts = AccountService(
            storage,
            settings,
            self.hasher,
            self.notifier,
            self.clock,
            self.audit,
            self.lockout,
            self.recovery,
        )
        self.organisations = OrganisationService(storage, self.clock, self.audit, self.accounts)
        self.questions = QuestionService(
            storage,
            settings,
            self.hasher,
            self.clock,
            self.audit,
            self.lockout,
            self.sessions,
            self.notifier,
            self.messages,
        )
        self.registration = RegistrationService(
            storage,
            settings,
            self.hasher,
            self.clock,
            self.audit,
            self.notifier,
            self.sessions,
            self.messages,
            self._login,
        )
        self.email_change = EmailChangeService(
            storage,
            settings,
            self.hasher,
            self.clock,
            self.audit,
            self.notifier,
            self.sessions,
            self.tokens,
            self.lockout,
            self.messages,
        )
        self.maintenance = MaintenanceService(
            storage, self.clock, self.audit, purge_accounts=self.registration.purge_unverified
        )

    def login(self, identifier: str, password: str, *, locale: str | None = None) -> LoginResult:
        """Log in: ``authenticated`` with a session, ``action_required`` or ``mfa_required``
        with a flow handle, or ``denied`` (the same for every failure)."""
        return self._login.login(identifier, password, locale=locale)

    def unlock(self, token: str, *, locale: str | None = None) -> StepResult:
        """Redeem a mailed unlock link."""
        return self._login.unlock(token, locale=locale)

    def resend_unlock(self, token: str, *, locale: str | None = None) -> StepResult:
        """Mail a fresh unlock link in place of an expired one."""
        return self._login.resend_unlock(token, locale=locale)

    @property
    def policy(self) -> PasswordPolicy:
        """The active password policy (``settings.password_policy``)."""
        return self.settings.password_policy

    def __repr__(self) -> str:
        return f"Credflow(storage={self.storage!r}, settings={self.settings!r})"
