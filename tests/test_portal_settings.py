"""The portal files in examples/portals/ load into Settings and reproduce each portal's login
and first login (Sigma, Certigna, DEFI, ASP, Sage)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.factories import BASE_URL, KEY

from credflow import hashing
from credflow.clock import FrozenClock
from credflow.errors import ConfigurationError
from credflow.facade import Credflow
from credflow.notify import Outbox
from credflow.results import LoginStatus, StepStatus
from credflow.settings import Settings
from credflow.storage.memory import MemoryStorage
from credflow.storage.records import RequiredAction

PORTALS = Path(__file__).resolve().parents[1] / "examples" / "portals"


def portal(name: str) -> Credflow:
    settings = Settings.from_file(
        PORTALS / f"{name}.toml", secret_key=KEY, base_url=BASE_URL, hashing=hashing.TESTING
    )
    return Credflow(
        storage=MemoryStorage(), settings=settings, notifier=Outbox(), clock=FrozenClock()
    )


@pytest.mark.parametrize("path", sorted(PORTALS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_portal_file_loads(path: Path) -> None:
    settings = Settings.from_file(path, secret_key=KEY, base_url=BASE_URL)
    assert settings.hashing is hashing.RFC_9106_LOW_MEMORY
    assert RequiredAction.CHANGE_PASSWORD in settings.first_login_actions


def test_sigma_first_login_from_its_file() -> None:
    cf = portal("sigma")
    created = cf.accounts.create("adejoux", email="a.dejoux@example.fr")
    assert created.temporary_password is not None
    assert [m.kind for m in cf.notifier.messages] == ["identifier", "temporary_password"]  # type: ignore[attr-defined]
    result = cf.login("adejoux", created.temporary_password)
    assert result.message == "Votre mot de passe a expiré. Veuillez changer de mot de passe."
    assert cf.first_login.change_password(result.flow or "", "Bleu2024x", "Bleu2024x").status is (
        StepStatus.REAUTHENTICATE
    )
    again = cf.login("adejoux", "Bleu2024x")
    assert again.action is RequiredAction.ENROLL_SECURITY_QUESTION
    assert cf.first_login.enroll_question(again.flow or "", "Ma couleur préférée ?", "bleu").ok
    assert cf.settings.password_policy.describe("fr").sentences[0] == (
        "Votre nouveau mot de passe doit contenir au moins 8 caractères, au moins une lettre "
        "minuscule, au moins une lettre majuscule, et au moins un chiffre."
    )


def test_certigna_continues_after_the_change() -> None:
    cf = portal("certigna")
    created = cf.accounts.create("EK700962", email="fsenez@example.fr")
    assert created.temporary_password is not None
    flow = cf.login("EK700962", created.temporary_password).flow or ""
    step = cf.first_login.change_password(flow, "motdepasse-long", "motdepasse-long")
    assert step.status is StepStatus.NEXT and step.action is RequiredAction.ENROLL_SECURITY_QUESTION


def test_defi_needs_no_question() -> None:
    cf = portal("defi")
    created = cf.accounts.create("d.dupont@defi.fr", email="d.dupont@defi.fr")
    assert created.temporary_password is not None
    flow = cf.login("d.dupont@defi.fr", created.temporary_password).flow or ""
    step = cf.first_login.change_password(flow, "Nouveau2024$", "Nouveau2024$")
    assert step.status is StepStatus.COMPLETED and step.session is not None


def test_sage_lock_lasts_until_the_link() -> None:
    cf = portal("sage")
    created = cf.accounts.create("marie@example.fr", email="marie@example.fr")
    assert created.temporary_password is not None
    flow = cf.login("marie@example.fr", created.temporary_password).flow or ""
    assert cf.first_login.change_password(flow, "trois mots simples", "trois mots simples").ok
    for _ in range(5):
        cf.login("marie@example.fr", "faux")
    cf.clock.advance(7 * 86400)  # type: ignore[attr-defined]
    assert cf.login("marie@example.fr", "trois mots simples").status is LoginStatus.DENIED
    old = cf.notifier.last("unlock_link").params["link"].rsplit("=", 1)[1]  # type: ignore[attr-defined]
    assert cf.unlock(old).status is StepStatus.EXPIRED  # the link lives 1 h
    assert cf.resend_unlock(old).code == "unlock.resent"
    fresh = cf.notifier.last("unlock_link").params["link"].rsplit("=", 1)[1]  # type: ignore[attr-defined]
    assert fresh != old
    assert cf.unlock(fresh).status is StepStatus.COMPLETED
    assert cf.login("marie@example.fr", "trois mots simples").ok
    assert cf.resend_unlock(fresh).code == "unlock.resent"  # same answer, nothing sent
    assert cf.notifier.last("unlock_link").params["link"].endswith(fresh)  # type: ignore[attr-defined]


def test_keys_never_come_from_a_file() -> None:
    with pytest.raises(ConfigurationError, match=r"settings\.secret_key"):
        Settings.from_mapping(
            {"settings": {"secret_key": "x" * 40}}, secret_key=KEY, base_url=BASE_URL
        )
    with pytest.raises(ConfigurationError, match=r"settings\.preset"):
        Settings.from_mapping({"settings": {"preset": "lax"}}, secret_key=KEY, base_url=BASE_URL)
