"""``cf.first_login``: the restricted steps after a login with required actions (Sigma, Certigna).

A step loads its flow by the hash of the handle, checks it has not expired and is in the step's
state, asks the pure machine for the next state, and writes everything in one transaction whose
first write is a compare-and-set on the flow's state and version: replaying or racing a step
applies it at most once. No session exists until the last action is done.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.errors import ConcurrentUpdate
from credflow.flows import first_login as machine
from credflow.flows.first_login import (
    ACTION_STATES,
    FirstLoginEvent,
    FirstLoginFacts,
    FirstLoginState,
)
from credflow.hashing import Hasher, too_long
from credflow.login import LoginService
from credflow.messages import Messages
from credflow.mfa.entry import parse_code
from credflow.mfa.service import MfaService
from credflow.mfa.totp import DIGITS, TotpSetup
from credflow.passwords import PasswordService
from credflow.policy.report import RuleResult
from credflow.results import MfaStatus, Session, StepResult, StepStatus
from credflow.sessions import SessionService
from credflow.settings import Settings
from credflow.storage.protocols import Storage
from credflow.storage.records import (
    Account,
    AccountStatus,
    FlowRecord,
    MfaKind,
    RequiredAction,
    SecurityQuestion,
)
from credflow.tokens import nonce_hash

__all__ = ["MAX_QUESTION_LENGTH", "FirstLoginService", "check_question"]

MAX_QUESTION_LENGTH = 200
KIND = "first_login"
_ENDS = (FirstLoginState.COMPLETED, FirstLoginState.MFA_REQUIRED, FirstLoginState.REAUTHENTICATE)
_STATE_ACTION = {state: action for action, state in ACTION_STATES.items()}


def check_question(question: object, choices: tuple[str, ...]) -> str | None:
    """The message code that refuses ``question``, or None when it is acceptable."""
    if not isinstance(question, str):
        raise TypeError("question must be a str")
    text = question.strip()
    if not text or len(text) > MAX_QUESTION_LENGTH:
        return "question.invalid"
    if choices and text not in choices:
        return "question.not_offered"
    return None


class FirstLoginService:
    """Change the temporary password, enrol the security question, then get a session."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        hasher: Hasher,
        clock: Clock,
        audit: Audit,
        passwords: PasswordService,
        sessions: SessionService,
        messages: Messages,
        login: LoginService,
        mfa: MfaService,
    ) -> None:
        self._login = login
        self._mfa = mfa
        self._storage = storage
        self._settings = settings
        self._hasher = hasher
        self._clock = clock
        self._audit = audit
        self._passwords = passwords
        self._sessions = sessions
        self._messages = messages

    def change_password(
        self, flow: str, new: str, confirm: str, *, locale: str | None = None
    ) -> StepResult:
        """The forced change: new password and confirmation (Sigma's "Mot de passe expiré")."""
        lang = self._messages.resolve(locale or self._settings.locale)
        loaded = self._load(flow, FirstLoginState.CHANGE_PASSWORD, lang)
        if isinstance(loaded, StepResult):
            return loaded
        record, account = loaded
        check = self._passwords.check_new(account, new, confirm, locale=lang)
        if not check.ok and self._storage.get_flow(record.handle_hash) != record:
            # The same step won meanwhile (a double submit): its new password is now the
            # current one, so say "no longer valid", not "same as the current password".
            return self._result(StepStatus.INVALID, "flow.invalid", lang)
        if not check.ok:
            return self._result(
                StepStatus.REFUSED,
                check.refusal_code,
                lang,
                failures=check.report.failures,
                flow=flow,
            )

        def write(current: Account) -> Account:
            return self._passwords.apply(current, new, event_by="first_login", locale=lang)

        return self._advance(flow, record, account, FirstLoginEvent.PASSWORD_CHANGED, write, lang)

    def enroll_question(
        self, flow: str, question: str, answer: str, *, locale: str | None = None
    ) -> StepResult:
        """Security question enrolment: free text (Sigma), or one of ``question_choices``."""
        lang = self._messages.resolve(locale or self._settings.locale)
        loaded = self._load(flow, FirstLoginState.ENROLL_SECURITY_QUESTION, lang)
        if isinstance(loaded, StepResult):
            return loaded
        record, account = loaded
        refusal = check_question(question, self._settings.question_choices)
        if refusal is not None:
            return self._result(StepStatus.REFUSED, refusal, lang, flow=flow)
        report = self._settings.answer_policy.evaluate(
            answer,
            question=question,
            identifier=account.identifier,
            email=account.email,
            password=answer if self._is_password(account, answer) else None,
            locale=lang,
        )
        if not report.ok:
            return self._result(
                StepStatus.REFUSED,
                "question.answer_not_met",
                lang,
                failures=report.failures,
                flow=flow,
            )
        answer_hash = self._hasher.hash_answer(answer)

        def write(current: Account) -> Account:
            self._storage.set_question(
                SecurityQuestion(
                    account_id=current.id,
                    question=question.strip(),
                    answer_hash=answer_hash,
                    set_at=self._clock.now(),
                )
            )
            actions = tuple(
                a
                for a in current.required_actions
                if a is not RequiredAction.ENROLL_SECURITY_QUESTION
            )
            updated = self._storage.update_account(
                current.model_copy(
                    update={"required_actions": actions, "updated_at": self._clock.now()}
                )
            )
            self._audit.record("security_question_enrolled", current.id, by="first_login")
            return updated

        return self._advance(flow, record, account, FirstLoginEvent.QUESTION_ENROLLED, write, lang)

    def begin_totp(
        self, flow: str, *, issuer: str | None = None, locale: str | None = None
    ) -> TotpSetup:
        """At the ``enroll_totp`` step (MFA required by the settings), start the enrolment as
        ``cf.mfa.begin_totp`` does from a session: a new secret, its URI and QR code."""
        lang = self._messages.resolve(locale or self._settings.locale)
        name = self._mfa.issuer(issuer)
        loaded = self._load(flow, FirstLoginState.ENROLL_TOTP, lang)
        if isinstance(loaded, StepResult):
            return TotpSetup(MfaStatus(loaded.status.value), loaded.code, loaded.message)
        return self._mfa.start_totp(loaded[1], name, lang)

    def confirm_totp(self, flow: str, code: str, *, locale: str | None = None) -> StepResult:
        """Confirm the TOTP begun at this step with a first valid code (6 digits, else
        InvalidInput). The flow then moves on (a session when nothing is left); the result
        carries the new recovery codes, shown once. A wrong code keeps the step (``refused``)."""
        lang = self._messages.resolve(locale or self._settings.locale)
        entered = parse_code(code, digits=(DIGITS,), recovery=False)
        loaded = self._load(flow, FirstLoginState.ENROLL_TOTP, lang)
        if isinstance(loaded, StepResult):
            return loaded
        record, account = loaded
        refusal, step = self._mfa.totp_enrolment_step(account, entered.value)
        if refusal is not None:
            return self._result(StepStatus.REFUSED, refusal, lang, flow=flow)
        made: list[str] = []

        def write(current: Account) -> Account:
            updated, codes = self._mfa.activate(current, MfaKind.TOTP, step=step, locale=lang)
            made.extend(codes)
            return updated

        result = self._advance(flow, record, account, FirstLoginEvent.TOTP_ENROLLED, write, lang)
        return dataclasses.replace(result, recovery_codes=tuple(made)) if result.ok else result

    def _is_password(self, account: Account, answer: str) -> bool:
        """True when ``answer`` is the account's current password (SQ-03); one verify."""
        credential = self._storage.get_password(account.id)
        if credential is None or not isinstance(answer, str) or too_long(answer):
            return False
        return self._hasher.verify(credential.hash, answer).ok

    def pending_action(self, flow: str) -> RequiredAction | None:
        """The action the flow waits for (to pick the page to show), or None when not usable."""
        record = self._storage.get_flow(nonce_hash(flow)) if isinstance(flow, str) else None
        if record is None or record.kind != KIND or self._clock.now() > record.expires_at:
            return None
        account = self._storage.get_account(record.account_id or "")
        if not self._usable(account, record):
            return None
        return _STATE_ACTION.get(FirstLoginState(record.state))

    def identifier(self, flow: str) -> str | None:
        """The identifier of the account a usable flow belongs to (a checklist needs it for the
        ``not_identifier`` rule), or None when the flow is not usable."""
        if self.pending_action(flow) is None:
            return None
        record = self._storage.get_flow(nonce_hash(flow))
        account = self._storage.get_account(record.account_id or "") if record else None
        return account.identifier if account is not None else None

    @staticmethod
    def _usable(account: Account | None, record: FlowRecord) -> bool:
        """The flow still stands: same credentials as when it began, account still active."""
        return (
            account is not None
            and account.status is AccountStatus.ACTIVE
            and account.credential_version == record.data.get("cv")
        )

    # -- internals ---------------------------------------------------------------------------

    def _load(
        self, flow: object, expected: FirstLoginState, lang: str
    ) -> tuple[FlowRecord, Account] | StepResult:
        if not isinstance(flow, str) or not flow:
            return self._result(StepStatus.INVALID, "flow.invalid", lang)
        record = self._storage.get_flow(nonce_hash(flow))
        if record is None or record.kind != KIND or record.account_id is None:
            return self._result(StepStatus.INVALID, "flow.invalid", lang)
        if self._clock.now() > record.expires_at:
            machine.MACHINE.next(
                FirstLoginState(record.state), FirstLoginEvent.EXPIRE, FirstLoginFacts()
            )
            self._storage.delete_flow(record.handle_hash)
            return self._result(StepStatus.EXPIRED, "flow.expired", lang)
        if record.state != expected.value:
            return self._result(StepStatus.INVALID, "flow.invalid", lang)
        account = self._storage.get_account(record.account_id)
        if account is None or not self._usable(account, record):
            return self._result(StepStatus.INVALID, "flow.invalid", lang)
        return record, account

    def _advance(
        self,
        flow: str,
        record: FlowRecord,
        account: Account,
        event: FirstLoginEvent,
        write: Callable[[Account], Account],
        lang: str,
    ) -> StepResult:
        done = _STATE_ACTION[FirstLoginState(record.state)]
        remaining = tuple(a for a in record.data.get("actions", ()) if a != done.value)
        changes_password = event is FirstLoginEvent.PASSWORD_CHANGED
        facts = FirstLoginFacts(
            remaining=tuple(RequiredAction(a) for a in remaining),
            reauthenticate=changes_password and self._settings.reauthenticate_after_password_change,
            second_factor=self._login.second_factor(account),
        )
        target = machine.MACHINE.next(FirstLoginState(record.state), event, facts)
        data = {
            "actions": list(remaining),
            "cv": account.credential_version + (1 if changes_password else 0),
        }
        try:
            with self._storage.transaction():
                # The compare-and-set comes first: of racing or replayed steps, one passes.
                self._storage.advance_flow(
                    record.model_copy(update={"state": target.value, "data": data}),
                    expected_state=record.state,
                )
                updated = write(account)
                if target in _ENDS:
                    self._storage.delete_flow(record.handle_hash)
                second = (
                    self._login.start_second_factor(updated)
                    if target is FirstLoginState.MFA_REQUIRED
                    else None
                )
                session = None
                if target is FirstLoginState.COMPLETED:  # the session commits with the step
                    self._audit.record("login_succeeded", updated.id, after="first_login")
                    session = self._sessions.issue(updated)
        except ConcurrentUpdate:
            return self._result(StepStatus.INVALID, "flow.invalid", lang)
        if target is FirstLoginState.REAUTHENTICATE:
            return self._result(StepStatus.REAUTHENTICATE, "flow.reauthenticate", lang)
        if second is not None:
            return self._result(StepStatus.MFA_REQUIRED, "login.mfa_required", lang, flow=second)
        if session is not None:
            return self._result(StepStatus.COMPLETED, "flow.completed", lang, session=session)
        action = _STATE_ACTION[target]
        return self._result(
            StepStatus.NEXT, f"action.{action.value}", lang, action=action, flow=flow
        )

    def _result(
        self,
        status: StepStatus,
        code: str,
        lang: str,
        *,
        failures: tuple[RuleResult, ...] = (),
        flow: str | None = None,
        action: RequiredAction | None = None,
        session: Session | None = None,
    ) -> StepResult:
        params = {"max": MAX_QUESTION_LENGTH} if code == "question.invalid" else {}
        return StepResult(
            status,
            code,
            self._messages.render(code, lang, params),
            action=action,
            flow=flow,
            session=session,
            failures=failures,
        )
