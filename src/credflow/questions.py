"""``cf.questions``: change the security question from a session (SQ-07).

Changing the question or its answer needs the current password again (a fresh proof, not only a
session) and sends a notice. The answer goes through the answer policy and is stored as the
argon2id hash of its normalised form.
"""

from __future__ import annotations

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.errors import ConfigurationError
from credflow.first_login import MAX_QUESTION_LENGTH, check_question
from credflow.hashing import Hasher, too_long
from credflow.lockout import LockoutService
from credflow.messages import Messages
from credflow.notify import Message, Notifier
from credflow.results import StepResult, StepStatus
from credflow.sessions import SessionService
from credflow.settings import Settings
from credflow.storage.protocols import Storage
from credflow.storage.records import SecurityQuestion

__all__ = ["QuestionService"]


class QuestionService:
    """Security question changes by a signed-in person."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        hasher: Hasher,
        clock: Clock,
        audit: Audit,
        lockout: LockoutService,
        sessions: SessionService,
        notifier: Notifier,
        messages: Messages,
    ) -> None:
        self._storage = storage
        self._settings = settings
        self._hasher = hasher
        self._clock = clock
        self._audit = audit
        self._lockout = lockout
        self._sessions = sessions
        self._notifier = notifier
        self._messages = messages

    def change(
        self, session: str, *, password: str, question: str, answer: str, locale: str | None = None
    ) -> StepResult:
        """Replace the question and answer after re-checking the current password."""
        lang = self._messages.resolve(locale or self._settings.locale)
        if not self._settings.security_questions:
            raise ConfigurationError("security questions are disabled in these settings")
        account = self._sessions.validate(session)
        if account is None:
            return self._result(StepStatus.INVALID, "flow.invalid", lang)
        if not isinstance(password, str):
            raise TypeError("password must be a str")
        credential = self._storage.get_password(account.id)
        locked = self._lockout.is_locked(account)
        if too_long(password):
            ok = False
        elif credential is None or locked:
            ok = self._hasher.dummy_verify(password).ok  # the same work; nothing to learn
        else:
            ok = self._hasher.verify(credential.hash, password).ok
        if not ok:
            with self._storage.transaction():
                if not locked and credential is not None:  # attempts while locked never count
                    self._lockout.register_failure(account, factor="password", locale=lang)
                self._audit.record("security_question_change_refused", account.id)
            return self._result(StepStatus.REFUSED, "password.old_wrong", lang)
        refusal = check_question(question, self._settings.question_choices)
        if refusal is not None:
            return self._result(StepStatus.REFUSED, refusal, lang)
        report = self._settings.answer_policy.evaluate(
            answer,
            password=password,
            question=question,
            identifier=account.identifier,
            email=account.email,
            locale=lang,
        )
        if not report.ok:
            return StepResult(
                StepStatus.REFUSED,
                "question.answer_not_met",
                self._messages.render("question.answer_not_met", lang),
                failures=report.failures,
            )
        answer_hash = self._hasher.hash_answer(answer)
        with self._storage.transaction():
            self._lockout.register_success(account)
            self._storage.set_question(
                SecurityQuestion(
                    account_id=account.id,
                    question=question.strip(),
                    answer_hash=answer_hash,
                    set_at=self._clock.now(),
                )
            )
            self._audit.record("security_question_enrolled", account.id, by="session")
            if account.email is not None:
                self._notifier.send(
                    Message(
                        "security_question_changed",
                        account.email,
                        lang,
                        {"identifier": account.identifier},
                    )
                )
        return self._result(StepStatus.COMPLETED, "question.enrolled", lang)

    def _result(self, status: StepStatus, code: str, lang: str) -> StepResult:
        params = {"max": MAX_QUESTION_LENGTH} if code == "question.invalid" else {}
        return StepResult(status, code, self._messages.render(code, lang, params))
