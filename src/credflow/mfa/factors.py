"""Which second factors an account has: only confirmed factors count."""

from __future__ import annotations

from credflow.storage.protocols import Storage
from credflow.storage.records import MfaFactor, MfaKind

__all__ = ["confirmed", "has_confirmed_factor"]


def confirmed(storage: Storage, account_id: str) -> dict[MfaKind, MfaFactor]:
    """The account's confirmed factors, by kind."""
    return {f.kind: f for f in storage.mfa_factors(account_id) if f.confirmed}


def has_confirmed_factor(storage: Storage, account_id: str) -> bool:
    """True when the account has at least one confirmed second factor (``has_mfa``)."""
    return any(f.confirmed for f in storage.mfa_factors(account_id))
