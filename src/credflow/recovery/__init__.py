"""Recovery of forgotten passwords and identifiers (``cf.recovery``); see ``docs/recovery.md``."""

from __future__ import annotations

from credflow.recovery.service import RecoveryService

__all__ = ["RecoveryService"]
