"""Departures from NIST SP 800-63B and OWASP ASVS, reported as data.

The portals credflow reproduces need some practices the standards discourage (composition rules,
an 8-character minimum without MFA, security questions). credflow allows them, but never
silently: every policy and every settings object can list its deviations, each tagged with the
requirement IDs of ``shared/reference/security-requirements.md``, so a host app can put them in a
compliance report.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Deviation", "StandardsDeviationWarning"]


class StandardsDeviationWarning(UserWarning):
    """Emitted when settings that depart from NIST/ASVS are built."""


@dataclass(frozen=True, slots=True)
class Deviation:
    """One departure from the standards.

    ``code`` is stable; ``subject`` names the rule or setting; ``requirements`` are credflow
    requirement IDs (``PW-12``); ``standards`` cite the clauses departed from.
    """

    code: str
    subject: str
    requirements: tuple[str, ...]
    standards: tuple[str, ...]
    summary: str
