"""First login (Sigma, Certigna): forced change, question enrolment, restricted flow."""

from __future__ import annotations

import pytest
from tests.factories import clock, make_cf, outbox

from credflow.facade import Credflow
from credflow.results import StepStatus
from credflow.storage.records import RequiredAction

GOOD = "Bleu2024x"


def start(cf: Credflow, identifier: str = "adejoux") -> tuple[str, str, str]:
    created = cf.accounts.create(identifier, email=f"{identifier}@example.fr")
    assert created.temporary_password is not None
    flow = cf.login(identifier, created.temporary_password).flow
    assert flow is not None
    return created.account.id, created.temporary_password, flow


@pytest.fixture
def cf() -> Credflow:
    return make_cf()


def test_sigma_first_login_end_to_end(cf: Credflow) -> None:
    account_id, _, flow = start(cf)
    step = cf.first_login.change_password(flow, GOOD, GOOD)
    assert step.status is StepStatus.REAUTHENTICATE and step.session is None
    assert step.message.startswith("Votre nouveau mot de passe a été enregistré")
    assert outbox(cf).last("password_changed") is not None
    again = cf.login("adejoux", GOOD)
    assert again.action is RequiredAction.ENROLL_SECURITY_QUESTION
    assert (
        cf.first_login.pending_action(again.flow or "") is RequiredAction.ENROLL_SECURITY_QUESTION
    )
    done = cf.first_login.enroll_question(again.flow or "", "Ma couleur préférée ?", "bleu")
    assert done.status is StepStatus.COMPLETED and done.session is not None
    question = cf.storage.get_question(account_id)
    assert question is not None and question.question == "Ma couleur préférée ?"
    assert cf.hasher.verify_answer(question.answer_hash, "BLEU ").ok
    assert "bleu" not in question.answer_hash
    assert cf.accounts.get(account_id).required_actions == ()
    assert cf.login("adejoux", GOOD).ok
    types = [e.type for e in cf.storage.events(account_id=account_id)]
    assert "password_changed" in types and "security_question_enrolled" in types


def test_without_reauthentication_the_flow_continues() -> None:
    cf = make_cf(reauthenticate_after_password_change=False)
    _, _, flow = start(cf)
    step = cf.first_login.change_password(flow, GOOD, GOOD)
    assert step.status is StepStatus.NEXT and step.action is RequiredAction.ENROLL_SECURITY_QUESTION
    assert step.flow == flow and step.session is None
    done = cf.first_login.enroll_question(flow, "Ma couleur préférée ?", "bleu")
    assert done.status is StepStatus.COMPLETED and done.session is not None
    assert cf.first_login.enroll_question(flow, "Q ?", "bleu").status is StepStatus.INVALID


@pytest.mark.req("TP-03", "PC-02")
@pytest.mark.parametrize(
    ("new", "confirm", "code"),
    [
        (GOOD, GOOD + "!", "password.confirmation_differs"),
        ("court", "court", "password.policy_not_met"),
        ("adejoux2024A", "adejoux2024A", "password.policy_not_met"),
    ],
)
def test_refusals_change_nothing(cf: Credflow, new: str, confirm: str, code: str) -> None:
    account_id, temporary, flow = start(cf)
    before = cf.accounts.get(account_id)
    step = cf.first_login.change_password(flow, new, confirm)
    assert step.status is StepStatus.REFUSED and step.code == code
    assert step.flow == flow
    assert cf.accounts.get(account_id) == before
    assert cf.login("adejoux", temporary).action is RequiredAction.CHANGE_PASSWORD


@pytest.mark.req("TP-03")
def test_new_password_must_differ_from_the_temporary_one(cf: Credflow) -> None:
    _, temporary, flow = start(cf)
    step = cf.first_login.change_password(flow, temporary, temporary)
    assert step.code == "password.same_as_old"


def test_policy_failures_are_listed(cf: Credflow) -> None:
    _, _, flow = start(cf)
    step = cf.first_login.change_password(flow, "abc", "abc")
    assert {r.code for r in step.failures} >= {"min_length", "uppercase", "digit"}


def test_flow_expires_after_fifteen_minutes(cf: Credflow) -> None:
    _, temporary, flow = start(cf)
    clock(cf).advance(900)
    assert cf.first_login.pending_action(flow) is RequiredAction.CHANGE_PASSWORD
    clock(cf).advance(1)
    assert cf.first_login.pending_action(flow) is None
    assert cf.first_login.change_password(flow, GOOD, GOOD).status is StepStatus.EXPIRED
    assert cf.first_login.change_password(flow, GOOD, GOOD).status is StepStatus.INVALID
    assert cf.login("adejoux", temporary).action is RequiredAction.CHANGE_PASSWORD


def test_replaying_a_step_applies_it_once(cf: Credflow) -> None:
    cf2 = make_cf(reauthenticate_after_password_change=False)
    _, _, flow = start(cf2)
    assert cf2.first_login.change_password(flow, GOOD, GOOD).ok
    replay = cf2.first_login.change_password(flow, "Autre2024x", "Autre2024x")
    assert replay.status is StepStatus.INVALID
    assert [e.type for e in cf2.storage.events()].count("password_changed") == 1


def test_admin_reset_during_the_flow_voids_it(cf: Credflow) -> None:
    account_id, _, flow = start(cf)
    cf.accounts.set_temporary_password(account_id)
    assert cf.first_login.change_password(flow, GOOD, GOOD).status is StepStatus.INVALID


@pytest.mark.parametrize("handle", ["", "nope", "x" * 300])
def test_unknown_handles(cf: Credflow, handle: str) -> None:
    assert cf.first_login.change_password(handle, GOOD, GOOD).status is StepStatus.INVALID
    assert cf.first_login.pending_action(handle) is None


@pytest.mark.req("SQ-01", "SQ-03")
@pytest.mark.parametrize(
    ("question", "answer", "code"),
    [
        ("", "bleu", "question.invalid"),
        ("q" * 201, "bleu", "question.invalid"),
        ("Ma couleur préférée ?", "abc", "question.answer_not_met"),
        ("Ma couleur préférée ?", "1234", "question.answer_not_met"),
        ("Ma couleur préférée ?", "azerty", "question.answer_not_met"),
        ("Ma couleur préférée ?", "Adejoux", "question.answer_not_met"),
        ("Ma ville de naissance, Paris ?", "paris", "question.answer_not_met"),
    ],
)
def test_question_refusals(cf: Credflow, question: str, answer: str, code: str) -> None:
    account_id, _, flow = start(cf, "adejoux")
    cf2 = make_cf(reauthenticate_after_password_change=False)
    _, _, flow2 = start(cf2, "adejoux")
    assert cf2.first_login.change_password(flow2, GOOD, GOOD).ok
    step = cf2.first_login.enroll_question(flow2, question, answer)
    assert step.status is StepStatus.REFUSED and step.code == code
    assert step.flow == flow2
    assert account_id and flow


def test_question_of_200_characters_and_choices() -> None:
    cf = make_cf(reauthenticate_after_password_change=False, question_choices=("Votre ville ?",))
    _, _, flow = start(cf)
    assert cf.first_login.change_password(flow, GOOD, GOOD).ok
    assert cf.first_login.enroll_question(flow, "Autre ?", "nantes").code == "question.not_offered"
    assert cf.first_login.enroll_question(flow, "Votre ville ?", "nantes").ok
    free = make_cf(reauthenticate_after_password_change=False)
    _, _, flow = start(free)
    free.first_login.change_password(flow, GOOD, GOOD)
    assert free.first_login.enroll_question(flow, "q" * 200, "nantes").ok


def test_question_must_be_text(cf: Credflow) -> None:
    cf2 = make_cf(reauthenticate_after_password_change=False)
    _, _, flow = start(cf2)
    cf2.first_login.change_password(flow, GOOD, GOOD)
    with pytest.raises(TypeError):
        cf2.first_login.enroll_question(flow, None, "bleu")  # type: ignore[arg-type]
    assert cf.first_login.pending_action(None) is None  # type: ignore[arg-type]


def test_a_flow_tells_its_identifier_for_the_checklist(cf: Credflow) -> None:
    _, _, flow = start(cf, "Adejoux")
    assert cf.first_login.identifier(flow) == "Adejoux"
    assert cf.policy.evaluate("Adejoux2025!x", identifier=cf.first_login.identifier(flow)).failures
    assert cf.first_login.identifier("not-a-flow") is None
    clock(cf).advance(901)
    assert cf.first_login.identifier(flow) is None
