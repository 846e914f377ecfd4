"""``Credflow``: one object that wires the ports and exposes the services.

cf = Credflow(storage=MemoryStorage(), settings=Settings.classic(secret_key=KEY,
              base_url="https://portal.example.fr"), notifier=Outbox())
created = cf.accounts.create("adejoux", email="a.dejoux@example.fr")
"""

from __future__ import annotations

from credflow.accounts import AccountService
from credflow.audit import Audit
from credflow.clock import Clock, SystemClock
from credflow.errors import ConfigurationError
from credflow.hashing import Hasher
from credflow.notify import Notifier, Outbox
from credflow.policy import PasswordPolicy
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
    ) -> None:
        if not isinstance(settings, Settings):
            raise ConfigurationError("settings must be a credflow.Settings", field="settings")
        if not isinstance(storage, Storage):
            raise ConfigurationError("storage does not implement the Storage protocol")
        self.storage = storage
        self.settings = settings
        self.notifier: Notifier = notifier if notifier is not None else Outbox()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.hasher = hasher or Hasher(settings.hashing, max_concurrent=settings.hash_concurrency)
        self.audit = Audit(storage, self.clock)
        key, fallbacks = settings.signing_keys
        self.tokens = TokenService(
            storage,
            self.clock,
            secret_key=key,
            fallback_keys=fallbacks,
            lifetimes=settings.lifetimes.token_lifetimes(),
        )
        self.accounts = AccountService(
            storage, settings, self.hasher, self.notifier, self.clock, self.audit
        )

    @property
    def policy(self) -> PasswordPolicy:
        """The active password policy (``settings.password_policy``)."""
        return self.settings.password_policy

    def __repr__(self) -> str:
        return f"Credflow(storage={self.storage!r}, settings={self.settings!r})"
