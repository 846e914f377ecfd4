"""The five portal files run their documented recovery end to end, the mail read from the
outbox (Sigma, ASP, Sage, Certigna, DEFI)."""

from __future__ import annotations

import re

from tests.test_portal_settings import portal

from credflow.facade import Credflow
from credflow.results import LoginStatus, RecoveryStatus

GOOD, NEW = "Bleu2024x$", "Rouge2025y$"


def onboard(cf: Credflow, identifier: str, email: str, answer: str | None = "bleu") -> None:
    """Create, change the temporary password, enrol a question when asked."""
    created = cf.accounts.create(identifier, email=email)
    assert created.temporary_password is not None
    result = cf.login(identifier, created.temporary_password)
    step = cf.first_login.change_password(result.flow or "", GOOD, GOOD)
    flow = step.flow
    if step.status.value == "reauthenticate":
        flow = cf.login(identifier, GOOD).flow
    if step.status.value != "completed" and flow is not None:
        assert answer is not None
        assert cf.first_login.enroll_question(flow, "Ma couleur préférée ?", answer).ok
    assert cf.login(identifier, GOOD).ok
    cf.notifier.clear()  # type: ignore[attr-defined]


def link(cf: Credflow, kind: str = "reset_link") -> str:
    message = cf.notifier.last(kind)  # type: ignore[attr-defined]
    assert message is not None
    return str(message.params["link"]).split("token=")[1]


def solve(cf: Credflow) -> tuple[str, str]:
    challenge = cf.human_check.challenge()
    a, b = (int(x) for x in re.findall(r"\d", challenge.prompt))
    return challenge.token, str(a + b)


def test_sigma_identifier_question_password() -> None:
    cf = portal("sigma")
    onboard(cf, "adejoux", "a.dejoux@example.fr")
    start = cf.recovery.start("adejoux")
    assert start.question == "Ma couleur préférée ?"
    step = cf.recovery.answer(start.flow or "", "bleu")
    assert cf.recovery.set_password(step.flow or "", NEW, NEW).message == (
        "Votre mot de passe a été modifié."
    )
    assert cf.login("adejoux", NEW).ok


def test_asp_check_question_link_and_identifier_reminder() -> None:
    cf = portal("asp")
    onboard(cf, "jean.dupont", "j.dupont@example.fr")
    onboard(cf, "jean.dupont1", "j.dupont@example.fr")
    token, answer = solve(cf)
    start = cf.recovery.start("jean.dupont", challenge=token, answer=answer)
    sent = cf.recovery.answer(start.flow or "", "bleu")
    assert "15 minutes" in sent.message
    opened = cf.recovery.open_link(link(cf))
    assert cf.recovery.set_password(opened.flow or "", NEW, NEW).ok
    assert cf.login("jean.dupont", NEW).ok
    token, answer = solve(cf)
    reminder = cf.recovery.remind_identifier("j.dupont@example.fr", challenge=token, answer=answer)
    assert reminder.step == "question"
    assert cf.recovery.answer(reminder.flow or "", "bleu").status is RecoveryStatus.COMPLETED
    mail = cf.notifier.last("identifier_reminder")  # type: ignore[attr-defined]
    assert mail.params["identifiers"] == "jean.dupont\njean.dupont1"


def test_asp_without_question_goes_to_support_after_setup() -> None:
    cf = portal("asp")
    account = cf.accounts.create("sans.question", email="sq@example.fr", temporary=False).account
    token, answer = solve(cf)
    start = cf.recovery.start("sans.question", challenge=token, answer=answer)
    assert start.step == "question"  # a decoy: nothing tells that the question is missing
    assert cf.recovery.answer(start.flow or "", "bleu").code == "recovery.answer_wrong"
    cf.accounts.send_password_setup([account.id], require_question=True)  # support's reset
    opened = cf.recovery.open_link(link(cf, "password_setup_link"))
    assert cf.recovery.set_password(opened.flow or "", NEW, NEW).ok
    assert cf.login("sans.question", NEW).status is LoginStatus.ACTION_REQUIRED


def test_sage_email_link_password() -> None:
    cf = portal("sage")
    onboard(cf, "marie@example.fr", "marie@example.fr", answer=None)
    result = cf.recovery.start("Marie@Example.fr")
    assert result.step == "link_sent"
    opened = cf.recovery.open_link(link(cf))
    assert cf.recovery.set_password(
        opened.flow or "", "trois mots simples", "trois mots simples"
    ).ok
    assert cf.login("marie@example.fr", "trois mots simples").ok


def test_certigna_link_then_question() -> None:
    cf = portal("certigna")
    onboard(cf, "EK700962", "fsenez@example.fr")
    cf.recovery.start("EK700962")
    opened = cf.recovery.open_link(link(cf))
    assert opened.step == "question"
    step = cf.recovery.answer(opened.flow or "", "bleu")
    assert cf.recovery.set_password(step.flow or "", NEW, NEW).ok


def test_defi_migration_then_forgot_password() -> None:
    cf = portal("defi")
    onboard(cf, "d.dupont@defi.fr", "d.dupont@defi.fr", answer=None)
    account = cf.accounts.find("d.dupont@defi.fr")
    assert account is not None
    cf.accounts.send_password_setup([account.id])  # the migration: old credentials void
    assert cf.login("d.dupont@defi.fr", GOOD).status is LoginStatus.DENIED
    opened = cf.recovery.open_link(link(cf, "password_setup_link"))
    assert cf.recovery.set_password(opened.flow or "", NEW, NEW).ok
    cf.recovery.start("d.dupont@defi.fr")
    opened = cf.recovery.open_link(link(cf))
    assert cf.recovery.set_password(opened.flow or "", "Autre2026$", "Autre2026$").ok
    assert cf.login("d.dupont@defi.fr", "Autre2026$").ok
