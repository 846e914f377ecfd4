"""Demo data: a sample organisation and its administrator, whose first login applies."""

from __future__ import annotations

from dataclasses import dataclass, field

from credflow import Credflow

ADMIN = "admin"
ADMIN_EMAIL = "admin@example.fr"
ORGANISATION = "Exemple SARL"
SIRET = "73282932000074"


@dataclass(frozen=True, slots=True)
class Seeded:
    """What ``seed`` made; ``temporary_password`` is None when the data already existed."""

    identifier: str
    temporary_password: str | None = field(default=None, repr=False)


def seed(cf: Credflow, *, reset_admin: bool = False) -> Seeded:
    """Sign up the sample organisation (its administrator gets a temporary password, mailed to
    the outbox too) unless it exists; ``reset_admin`` gives the administrator a new one."""
    existing = cf.accounts.find(ADMIN)
    if existing is None:
        signed = cf.organisations.sign_up(
            ORGANISATION, SIRET, identifier=ADMIN, email=ADMIN_EMAIL, return_password=True
        )
        return Seeded(ADMIN, signed.temporary_password)
    if reset_admin:
        return Seeded(ADMIN, cf.accounts.set_temporary_password(existing.id))
    return Seeded(ADMIN)
