"""Recovery: every step, the decoy design, limits, links, codes, completion, reminders, setup."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel
from tests.factories import KEY, OLD_KEY, classic_settings, clock, make_cf, outbox
from tests.test_login import GOOD, ready

from credflow.errors import ConfigurationError, InvalidInput, UnknownAccount
from credflow.facade import Credflow
from credflow.results import LoginStatus, RecoveryStatus
from credflow.storage.memory import MemoryStorage

NEW = "Rouge2025y"


def cf_with(*steps: str, **recovery: Any) -> Credflow:
    return make_cf(recovery={"steps": list(steps), **recovery})


def solve(cf: Credflow) -> tuple[str, str]:
    challenge = cf.human_check.challenge()
    a, b = (int(x) for x in re.findall(r"\d", challenge.prompt))
    return challenge.token, str(a + b)


def last_token(cf: Credflow, kind: str = "reset_link") -> str:
    message = outbox(cf).last(kind)
    assert message is not None
    return message.params["link"].split("token=")[1]


def test_sigma_question_then_password() -> None:
    cf = cf_with("security_question")
    account_id = ready(cf)
    start = cf.recovery.start("ADEJOUX")
    assert (start.status, start.step, start.question) == (
        RecoveryStatus.NEXT,
        "question",
        "Ma couleur préférée ?",
    )
    assert start.message == "Vérifiez votre identité en répondant à la question de sécurité."
    right = cf.recovery.answer(start.flow or "", " BLEU ")
    assert right.step == "new_password" and right.flow == start.flow
    done = cf.recovery.set_password(right.flow or "", NEW, NEW)
    assert done.status is RecoveryStatus.COMPLETED and done.session is None
    assert cf.login("adejoux", NEW).ok
    assert cf.login("adejoux", GOOD).status is LoginStatus.DENIED
    assert outbox(cf).last("password_changed") is not None
    assert "recovery_completed" in [e.type for e in cf.storage.events(account_id=account_id)]


@pytest.mark.req("RS-01", "SQ-06")
def test_unknown_and_known_look_the_same_until_possession() -> None:
    cf = cf_with("security_question")
    ready(cf)
    cf.accounts.create("noquestion")
    outbox(cf).clear()
    known = cf.recovery.start("adejoux")
    for value in ("nobody", "noquestion", "\x00bad"):
        decoy = cf.recovery.start(value)
        assert (decoy.status, decoy.code, decoy.message, decoy.step) == (
            known.status,
            known.code,
            known.message,
            known.step,
        )
        assert decoy.question in cf.settings.recovery.decoy_questions
        assert cf.recovery.start(value).question == decoy.question  # deterministic
    before = cf.hasher.calls
    wrong = cf.recovery.answer(cf.recovery.start("nobody").flow or "", "bleu")
    assert cf.hasher.calls - before == 1  # a decoy costs the same verify
    real_wrong = cf.recovery.answer(known.flow or "", "rouge")
    assert (wrong.status, wrong.code, wrong.message) == (
        real_wrong.status,
        real_wrong.code,
        real_wrong.message,
    )
    assert outbox(cf).messages == ()


@pytest.mark.req("SQ-05", "LK-08")
def test_three_wrong_answers_end_the_flow_and_five_lock_recovery_only() -> None:
    cf = cf_with("security_question")
    account_id = ready(cf)
    flow = cf.recovery.start("adejoux").flow or ""
    messages = [cf.recovery.answer(flow, "rouge").message for _ in range(3)]
    assert messages[:2] == [
        "Réponse incorrecte. Il vous reste 2 essais.",
        "Réponse incorrecte. Il vous reste 1 essai.",
    ]
    assert messages[2] == "Trop d'essais. Veuillez recommencer plus tard."
    assert cf.recovery.answer(flow, "bleu").status is RecoveryStatus.INVALID
    second = cf.recovery.start("adejoux").flow or ""
    cf.recovery.answer(second, "rouge")
    cf.recovery.answer(second, "vert")  # five wrong answers for the account now
    third = cf.recovery.start("adejoux").flow or ""
    assert cf.recovery.answer(third, "bleu").status is RecoveryStatus.REFUSED  # blocked
    assert cf.login("adejoux", GOOD).ok  # the login is never blocked by it
    assert cf.lockout.failures(account_id) == 0
    clock(cf).advance(3600)
    fourth = cf.recovery.start("adejoux").flow or ""
    assert cf.recovery.answer(fourth, "bleu").step == "new_password"


@pytest.mark.req("RS-03", "RS-05", "RS-11")
def test_asp_human_check_question_link() -> None:
    cf = cf_with("human_check", "security_question", "email_link")
    ready(cf)
    token, _ = solve(cf)
    refused = cf.recovery.start("adejoux", challenge=token, answer="99")
    assert (
        refused.status is RecoveryStatus.REFUSED and refused.code == "recovery.human_check_failed"
    )
    assert cf.recovery.start("adejoux").code == "recovery.human_check_failed"
    token, answer = solve(cf)
    start = cf.recovery.start("adejoux", challenge=token, answer=answer)
    sent = cf.recovery.answer(start.flow or "", "bleu")
    assert sent.step == "link_sent" and sent.flow is None
    assert sent.message.endswith("Ce lien a une durée de validité de 15 minutes.")
    message = outbox(cf).last("reset_link")
    assert message is not None and message.recipient == "adejoux@example.fr"
    assert message.params["link"].startswith("https://portal.example.fr/reset?token=")
    link = last_token(cf)
    clock(cf).advance(900)
    opened = cf.recovery.open_link(link)
    assert opened.step == "new_password"
    assert cf.recovery.open_link(link).status is RecoveryStatus.INVALID  # once
    assert cf.recovery.set_password(opened.flow or "", NEW, NEW).ok


@pytest.mark.req("RS-03")
def test_expired_link_then_resend() -> None:
    cf = cf_with("email_link")
    ready(cf)
    cf.recovery.start("adejoux")
    link = last_token(cf)
    clock(cf).advance(901)
    expired = cf.recovery.open_link(link)
    assert expired.status is RecoveryStatus.EXPIRED
    assert "nouveau lien, valable 15 minutes" in expired.message
    resent = cf.recovery.resend_link(link)
    assert resent.code == "recovery.link_resent"
    fresh = last_token(cf)
    assert fresh != link
    assert cf.recovery.resend_link(link).code == "recovery.link_resent"
    assert last_token(cf) == fresh  # the superseded link sends nothing more
    assert cf.recovery.open_link(fresh).step == "new_password"


@pytest.mark.req("RS-05", "PC-03")
def test_a_password_change_voids_outstanding_links() -> None:
    cf = cf_with("email_link")
    ready(cf)
    cf.recovery.start("adejoux")
    link = last_token(cf)
    assert cf.passwords.change("adejoux", GOOD, NEW, NEW).ok
    assert cf.recovery.open_link(link).status is RecoveryStatus.INVALID


def test_a_new_link_voids_the_older_one() -> None:
    cf = cf_with("email_link")
    ready(cf)
    cf.recovery.start("adejoux")
    first = last_token(cf)
    cf.recovery.start("adejoux")
    assert cf.recovery.open_link(first).status is RecoveryStatus.INVALID
    assert cf.recovery.open_link(last_token(cf)).ok


@pytest.mark.req("RS-01", "RS-16")
def test_sage_by_email_mails_only_known_stored_addresses() -> None:
    cf = cf_with("email_link", start_from="email")
    ready(cf, "marie", email="Marie@Example.fr")
    outbox(cf).clear()
    known = cf.recovery.start("marie@example.FR")
    message = outbox(cf).last("reset_link")
    assert message is not None and message.recipient == "Marie@Example.fr"  # the stored address
    unknown = cf.recovery.start("nobody@example.fr")
    assert (known.status, known.code, known.message) == (
        unknown.status,
        unknown.code,
        unknown.message,
    )
    assert len(outbox(cf).messages) == 1
    noisy = cf_with("email_link", start_from="email", notify_unknown_recipients=True)
    noisy.recovery.start("nobody@example.fr")
    notice = outbox(noisy).last("account_access_attempted")
    assert notice is not None and notice.recipient == "nobody@example.fr"


@pytest.mark.req("RS-12", "LK-08")
def test_rate_limit_case_insensitive_never_locks() -> None:
    cf = cf_with("email_link", start_from="email")
    account_id = ready(cf, "marie", email="marie@example.fr")
    for value in ("marie@example.fr", "MARIE@example.fr", "Marie@Example.FR") * 3:
        cf.recovery.start(value)
    assert len([m for m in outbox(cf).messages if m.kind == "reset_link"]) == 5
    assert not cf.lockout.is_locked(cf.accounts.get(account_id))
    assert cf.login("marie", GOOD).ok
    clock(cf).advance(900)
    cf.recovery.start("marie@example.fr")
    assert len([m for m in outbox(cf).messages if m.kind == "reset_link"]) == 6


@pytest.mark.req("RS-12")
def test_rate_counters_never_hold_what_was_typed() -> None:
    """The counters are named by a keyed digest: an address someone typed (perhaps a stranger's)
    is not kept in storage, and recovery and identifier reminders share one budget."""
    cf = cf_with("email_link", start_from="email", reminder_steps=[])
    ready(cf, "marie", email="marie@example.fr")
    for value in ("marie@example.fr", "stranger@example.fr"):
        assert cf.recovery.start(value).status is RecoveryStatus.NEXT
        assert cf.recovery.remind_identifier(value).ok
    names = list(cf.storage._counters)  # type: ignore[attr-defined]
    assert len(names) == 2 and all(name.startswith("recovery:") for name in names)
    assert not any("marie" in name or "stranger" in name for name in names)
    assert sorted(cf.storage.get_counter(name) for name in names) == [2, 2]


@pytest.mark.req("EV-05", "EV-06", "EV-07")
def test_codes_digits_expiry_attempts_resend() -> None:
    cf = cf_with("email_code", code_digits=8)
    ready(cf)
    start = cf.recovery.start("adejoux")
    flow = start.flow or ""
    code = outbox(cf).last("reset_code").params["code"]  # type: ignore[union-attr]
    assert len(code) == 8 and code.isdigit()
    stored = cf.storage.get_flow(__import__("credflow.tokens").tokens.nonce_hash(flow))
    assert stored is not None and code not in str(stored.data)
    for bad in ("1234567", "abcdefgh", "123456789"):
        with pytest.raises(InvalidInput):
            cf.recovery.submit_code(flow, bad)
    cf.recovery.resend_code(flow)
    second = outbox(cf).last("reset_code").params["code"]  # type: ignore[union-attr]
    if second != code:
        assert cf.recovery.submit_code(flow, code).code == "recovery.code_wrong"
    assert cf.recovery.submit_code(flow, second).step == "new_password"


@pytest.mark.req("EV-02", "EV-05")
def test_code_expiry_and_attempt_limit() -> None:
    cf = cf_with("email_code")
    ready(cf)
    flow = cf.recovery.start("adejoux").flow or ""
    code = outbox(cf).last("reset_code").params["code"]  # type: ignore[union-attr]
    wrong = "000000" if code != "000000" else "111111"
    results = [cf.recovery.submit_code(flow, wrong).status for _ in range(5)]
    assert results == [RecoveryStatus.REFUSED] * 4 + [RecoveryStatus.FAILED]
    assert cf.recovery.submit_code(flow, code).status is RecoveryStatus.INVALID
    late = cf.recovery.start("adejoux").flow or ""
    code = outbox(cf).last("reset_code").params["code"]  # type: ignore[union-attr]
    clock(cf).advance(601)
    assert cf.recovery.submit_code(late, code).status is RecoveryStatus.EXPIRED


def test_unknown_code_flow_looks_the_same() -> None:
    cf = cf_with("email_code")
    ready(cf)
    known = cf.recovery.start("adejoux")
    unknown = cf.recovery.start("nobody")
    assert (known.status, known.step, known.message) == (
        unknown.status,
        unknown.step,
        unknown.message,
    )
    assert cf.recovery.submit_code(unknown.flow or "", "123456").code == "recovery.code_wrong"


@pytest.mark.req("SQ-04")
def test_link_then_question_and_support_required() -> None:
    cf = cf_with("email_link", "security_question")
    ready(cf)
    cf.accounts.create("noquestion", email="nq@example.fr", temporary=False)
    cf.recovery.start("adejoux")
    opened = cf.recovery.open_link(last_token(cf))
    assert opened.step == "question" and opened.question == "Ma couleur préférée ?"
    assert cf.recovery.answer(opened.flow or "", "bleu").step == "new_password"
    cf.recovery.start("noquestion")
    support = cf.recovery.open_link(last_token(cf))
    assert support.status is RecoveryStatus.SUPPORT_REQUIRED
    assert support.message.startswith("Aucune question secrète")


@pytest.mark.req("LK-08", "RS-14")
def test_completion_clears_the_lock_and_ends_sessions() -> None:
    cf = cf_with("email_link")
    account_id = ready(cf)
    session = cf.login("adejoux", GOOD).session
    assert session is not None
    for _ in range(5):
        cf.login("adejoux", "nope")
    assert cf.lockout.is_locked(cf.accounts.get(account_id))
    cf.recovery.start("adejoux")
    opened = cf.recovery.open_link(last_token(cf))
    done = cf.recovery.set_password(opened.flow or "", NEW, NEW)
    assert done.status is RecoveryStatus.COMPLETED and done.session is None
    assert cf.sessions.validate(session.token) is None
    assert cf.login("adejoux", NEW).ok


def test_new_password_rules_and_login_after_reset() -> None:
    cf = cf_with("email_link", login_after_reset=True)
    ready(cf)
    cf.recovery.start("adejoux")
    flow = cf.recovery.open_link(last_token(cf)).flow or ""
    assert cf.recovery.set_password(flow, NEW, NEW + "x").code == "password.confirmation_differs"
    weak = cf.recovery.set_password(flow, "abc", "abc")
    assert weak.code == "password.policy_not_met" and weak.failures
    done = cf.recovery.set_password(flow, NEW, NEW)
    assert done.session is not None and cf.sessions.validate(done.session.token) is not None
    assert cf.recovery.set_password(flow, NEW, NEW).status is RecoveryStatus.INVALID


@pytest.mark.req("RS-13")
def test_a_reset_never_bypasses_the_second_factor() -> None:
    base = cf_with("email_link", login_after_reset=True)
    account_id = ready(base)
    cf = Credflow(
        storage=base.storage,
        settings=base.settings,
        clock=base.clock,
        notifier=base.notifier,
        second_factor=lambda account: account.id == account_id,
    )
    cf.recovery.start("adejoux")
    flow = cf.recovery.open_link(last_token(cf)).flow or ""
    done = cf.recovery.set_password(flow, NEW, NEW)
    assert done.status is RecoveryStatus.MFA_REQUIRED and done.session is None
    assert cf.login("adejoux", NEW).status is LoginStatus.MFA_REQUIRED


@pytest.mark.req("FI-01", "FI-02")
def test_identifier_reminder() -> None:
    cf = make_cf()
    ready(cf, "pierre.martin", email="p.martin@example.fr")
    ready(cf, "pierre.martin1", email="P.Martin@example.fr")
    token, answer = solve(cf)
    known = cf.recovery.remind_identifier("p.martin@EXAMPLE.fr", challenge=token, answer=answer)
    token, answer = solve(cf)
    unknown = cf.recovery.remind_identifier("nobody@example.fr", challenge=token, answer=answer)
    assert (known.status, known.message) == (unknown.status, unknown.message)
    sent = [m for m in outbox(cf).messages if m.kind == "identifier_reminder"]
    assert {m.recipient for m in sent} == {"p.martin@example.fr", "P.Martin@example.fr"}
    assert all("pierre.martin" in m.params["identifiers"] for m in sent)
    assert (
        cf.recovery.remind_identifier("p.martin@example.fr").code == "recovery.human_check_failed"
    )


def test_reminder_with_a_question() -> None:
    cf = make_cf(recovery={"reminder_steps": ["security_question"]})
    ready(cf, "pierre.martin", email="p.martin@example.fr")
    step = cf.recovery.remind_identifier("p.martin@example.fr")
    assert step.step == "question" and step.question == "Ma couleur préférée ?"
    assert outbox(cf).last("identifier_reminder") is None
    done = cf.recovery.answer(step.flow or "", "bleu")
    assert done.status is RecoveryStatus.COMPLETED
    assert outbox(cf).last("identifier_reminder") is not None


@pytest.mark.req("TP-05")
def test_password_setup_links_void_old_credentials() -> None:
    cf = make_cf()
    account_id = ready(cf)
    session = cf.login("adejoux", GOOD).session
    assert session is not None
    assert cf.accounts.send_password_setup([account_id], require_question=True) == 1
    before = cf.hasher.calls
    assert cf.login("adejoux", GOOD).status is LoginStatus.DENIED
    assert cf.hasher.calls - before == 1  # an unusable password still costs one verify
    assert cf.sessions.validate(session.token) is None
    message = outbox(cf).last("password_setup_link")
    assert message is not None and message.params["expires_hours"] == "24"
    opened = cf.recovery.open_link(last_token(cf, "password_setup_link"))
    assert cf.recovery.set_password(opened.flow or "", NEW, NEW).ok
    nxt = cf.login("adejoux", NEW)
    assert nxt.status is LoginStatus.ACTION_REQUIRED  # ASP: enrol a question first
    with pytest.raises(UnknownAccount):
        cf.accounts.send_password_setup([account_id, "ghost"])
    with pytest.raises(InvalidInput):
        cf.accounts.send_password_setup("abc")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "recovery",
    [
        {"steps": ["security_question", "human_check"]},
        {"steps": ["human_check"]},
        {"steps": ["email_link", "email_code"]},
        {"steps": ["security_question"], "start_from": "email"},
        {"reminder_steps": ["email_link"]},
        {"steps": ["email_link", "email_link"]},
    ],
)
def test_bad_recovery_settings(recovery: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        make_cf(recovery=recovery)


def test_questions_in_recovery_need_questions_enabled() -> None:
    from tests.factories import BASE_URL, KEY

    from credflow.settings import Settings

    with pytest.raises(ConfigurationError, match=r"recovery\.steps"):
        Settings.nist(secret_key=KEY, base_url=BASE_URL, recovery={"steps": ["security_question"]})


def test_garbage_handles_and_links() -> None:
    cf = cf_with("security_question")
    for handle in ("", "nope", None):
        assert cf.recovery.answer(handle, "x").status is RecoveryStatus.INVALID  # type: ignore[arg-type]
    assert cf.recovery.open_link("garbage").status is RecoveryStatus.INVALID
    with pytest.raises(TypeError):
        cf.recovery.start(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cf.recovery.answer("x", None)  # type: ignore[arg-type]


class _Failing:
    def __init__(self) -> None:
        self.fail = True
        self.sent: list[object] = []

    def send(self, message: object) -> None:
        if self.fail:
            raise RuntimeError("smtp down")
        self.sent.append(message)


@pytest.mark.req("DB-02")
def test_a_failed_send_leaves_nothing_consumed_or_counted() -> None:
    base = cf_with("email_link", rate_limit=1)
    ready(base)
    notifier = _Failing()
    cf = Credflow(storage=base.storage, settings=base.settings, clock=base.clock, notifier=notifier)
    events = len(cf.storage.events())
    with pytest.raises(RuntimeError):
        cf.recovery.start("adejoux")
    assert len(cf.storage.events()) == events  # the step rolled back: no event
    notifier.fail = False
    assert cf.recovery.start("adejoux").step == "link_sent"  # the failed try was not counted
    assert len(notifier.sent) == 1


# -- key rotation, accounts without an address, flows stored before an upgrade -----------------


@pytest.mark.parametrize("steps", [["security_question", "email_link"], ["email_code"]])
def test_a_flow_opened_before_a_key_rotation_goes_on(steps: list[str]) -> None:
    """The address binding and the code are checked under the fallback keys too."""
    before = make_cf(secret_key=OLD_KEY, recovery={"steps": steps})
    ready(before)
    flow = before.recovery.start("adejoux").flow or ""
    after = Credflow(
        storage=before.storage,
        settings=classic_settings(
            secret_key=KEY, fallback_keys=[OLD_KEY], recovery={"steps": steps}
        ),
        notifier=before.notifier,
        clock=before.clock,
    )
    if steps[0] == "email_code":
        result = after.recovery.submit_code(flow, last_params(before, "reset_code")["code"])
        assert result.step == "new_password"
    else:
        assert after.recovery.answer(flow, "bleu").code == "recovery.link_sent"


def last_params(cf: Credflow, kind: str) -> dict[str, str]:
    message = outbox(cf).last(kind)
    assert message is not None
    return dict(message.params)


@pytest.mark.req("RS-03")
def test_a_known_account_without_an_address_does_the_decoys_work() -> None:
    """Nothing can be mailed, so the start does what an unknown identifier's does: a decoy
    link is voided, signed and stored, and the answer is the same."""
    cf = cf_with("email_link")
    cf.accounts.create("sans.adresse", email=None, temporary=False)
    known = cf.recovery.start("sans.adresse")
    unknown = cf.recovery.start("personne")
    assert (known.status, known.code) == (unknown.status, unknown.code)
    decoys = {k for k in cf.storage._open_tokens if k.startswith("decoy:")}  # type: ignore[attr-defined]
    assert len(decoys) == 2
    assert not outbox(cf).messages


def test_flows_stored_before_the_pseudonyms_still_work() -> None:
    """A flow stored by an earlier version kept the typed key and no address binding."""
    cf = cf_with("email_code")
    ready(cf)
    flow = cf.recovery.start("adejoux").flow or ""
    record = cf.storage.get_flow(__import__("credflow.tokens").tokens.nonce_hash(flow))
    assert record is not None
    data = {k: v for k, v in record.data.items() if k not in ("rate", "mail")}
    data["key"] = "adejoux"
    cf.storage.advance_flow(record.model_copy(update={"data": data}), expected_state=record.state)
    assert cf.recovery.resend_code(flow).step == "code_sent"
    code = last_params(cf, "reset_code")["code"]
    assert cf.recovery.submit_code(flow, code).step == "new_password"


class CountingStorage(MemoryStorage):
    """Memory storage that counts the records its reads return and the writes it takes."""

    WRITES = ("save_", "void_", "increment_", "append_", "consume_", "advance_", "update_")
    READS = ("find_", "get_")

    def __init__(self) -> None:
        super().__init__()
        self.counts = {"records read": 0, "writes": 0}

    def __getattribute__(self, name: str) -> Any:
        attribute = super().__getattribute__(name)
        if not callable(attribute) or not name.startswith((*self.WRITES, *self.READS)):
            return attribute
        counts = super().__getattribute__("counts")

        def counted(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            if name.startswith(CountingStorage.WRITES):
                counts["writes"] += 1
            else:  # a record, or a list of records, read back
                found = result if isinstance(result, list) else [result]
                counts["records read"] += sum(isinstance(r, BaseModel) for r in found)
            return result

        return counted


@pytest.mark.req("RS-03")
def test_a_start_by_link_does_the_same_storage_work_for_known_and_unknown() -> None:
    """Timing parity starts with the same work: as many records read back and as many writes
    whether or not the identifier names an account (the benchmark measures the time)."""
    storage = CountingStorage()
    cf = make_cf(storage, recovery={"steps": ["email_link"]})
    ready(cf)
    cf.accounts.create("sans.adresse", email=None, temporary=False)
    seen = []
    for who in ("adejoux", "personne", "sans.adresse", "adejoux", "personne", "sans.adresse"):
        storage.counts = {"records read": 0, "writes": 0}
        cf.recovery.start(who)
        seen.append(dict(storage.counts))
    assert all(counts == seen[0] for counts in seen), seen
    assert seen[0]["records read"] >= 1 and seen[0]["writes"] >= 3
