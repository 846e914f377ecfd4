"""``cf.recovery``: forgotten passwords and identifiers, by the steps the settings list.

Nothing here tells whether an account exists. An unknown identifier (or a disabled account, or a
request over the rate limit) walks the same steps as a real one: it gets the same pages and
messages, a decoy question derived from the identifier with an HMAC under the secret key (so a
second try shows the same one), a "code sent" page with no code behind it, and the same work (one
argon2 verify per answer, a signature per link). Only real accounts receive mail.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.codes import code_hash, code_matches
from credflow.codes import new_code as draw_code
from credflow.errors import ConcurrentUpdate, InvalidInput, UnknownAccount
from credflow.flows import recovery as machine
from credflow.flows.recovery import RecoveryEvent, RecoveryFacts, RecoveryState
from credflow.hashing import Hasher
from credflow.humancheck import HumanCheck
from credflow.lockout import LockoutService
from credflow.login import LoginService, new_handle
from credflow.messages import Messages
from credflow.mfa.service import MfaService
from credflow.notify import Message, Notifier
from credflow.passwords import PasswordService
from credflow.policy.answers import normalize_answer
from credflow.policy.report import RuleResult
from credflow.results import RecoveryResult, RecoveryStatus, Session
from credflow.sessions import SessionService
from credflow.settings import RecoveryStep, Settings
from credflow.storage.protocols import Storage
from credflow.storage.records import (
    Account,
    AccountStatus,
    FlowRecord,
    RequiredAction,
    check_email,
    check_identifier,
    email_key,
    identifier_key,
)
from credflow.tokens import TokenOutcome, TokenService, nonce_hash

__all__ = ["RecoveryService"]

RECOVERY = "recovery"
REMINDER = "reminder"
_STEP_STATE = {
    RecoveryStep.SECURITY_QUESTION: RecoveryState.QUESTION,
    RecoveryStep.EMAIL_LINK: RecoveryState.LINK_SENT,
    RecoveryStep.EMAIL_CODE: RecoveryState.CODE_SENT,
}


class RecoveryService:
    """Password recovery, identifier reminders and the links that set a new password."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        hasher: Hasher,
        clock: Clock,
        audit: Audit,
        tokens: TokenService,
        passwords: PasswordService,
        lockout: LockoutService,
        sessions: SessionService,
        notifier: Notifier,
        messages: Messages,
        human_check: HumanCheck,
        login: LoginService,
        mfa: MfaService,
    ) -> None:
        self._storage = storage
        self._settings = settings
        self._config = settings.recovery
        self._hasher = hasher
        self._clock = clock
        self._audit = audit
        self._tokens = tokens
        self._passwords = passwords
        self._lockout = lockout
        self._sessions = sessions
        self._notifier = notifier
        self._messages = messages
        self._human = human_check
        self._login = login
        self._mfa = mfa
        self._key, self._fallback_keys = settings.signing_keys

    # -- starting ----------------------------------------------------------------------------

    def start(
        self,
        value: str,
        *,
        challenge: str | None = None,
        answer: str | None = None,
        locale: str | None = None,
    ) -> RecoveryResult:
        """Begin a recovery from an identifier (or an email, per ``start_from``).

        With a ``human_check`` step, ``challenge`` and ``answer`` must solve it first.
        """
        lang = self._messages.resolve(locale or self._settings.locale)
        if not isinstance(value, str):
            raise TypeError("the identifier or email must be a str")
        steps = list(self._config.steps)
        if steps[0] is RecoveryStep.HUMAN_CHECK:
            if not self._human_ok(challenge, answer):
                return self._result(RecoveryStatus.REFUSED, "recovery.human_check_failed", lang)
            steps = steps[1:]
        by_email = self._config.start_from == "email"
        key = self._email_key(value) if by_email else self._identifier_key(value)
        pseudonym = self._pseudonym(key)
        with self._storage.transaction():
            allowed = self._within_rate(pseudonym)
            accounts = self._accounts(key, by_email)
            first, rest = steps[0], steps[1:]
            self._audit.record("recovery_requested", _only_id(accounts), step=first.value)
            if first is RecoveryStep.EMAIL_LINK:
                typed = value if by_email and allowed and not accounts else None
                self._send_links(accounts if allowed else [], typed, lang, decoy=pseudonym)
                return self._link_sent(lang)
            account = accounts[0] if accounts else None
            # Over the limit the page stays the same (the real question, "code sent"), but the
            # flow is a dead end: nothing is mailed and no answer or code can be right.
            return self._open_step(first, rest, account, key, RECOVERY, lang, live=allowed)

    def remind_identifier(
        self,
        email: str,
        *,
        challenge: str | None = None,
        answer: str | None = None,
        locale: str | None = None,
    ) -> RecoveryResult:
        """Forgotten identifier (ASP, Certigna): one mail listing every identifier of ``email``.

        The answer is the same whether or not the address is known.
        """
        lang = self._messages.resolve(locale or self._settings.locale)
        if not isinstance(email, str):
            raise TypeError("email must be a str")
        steps = list(self._config.reminder_steps)
        if steps and steps[0] is RecoveryStep.HUMAN_CHECK:
            if not self._human_ok(challenge, answer):
                return self._result(RecoveryStatus.REFUSED, "recovery.human_check_failed", lang)
            steps = steps[1:]
        key = self._email_key(email)
        with self._storage.transaction():
            allowed = self._within_rate(self._pseudonym(key))
            accounts = self._accounts(key, True) if allowed else []
            self._audit.record("identifier_reminder_requested", _only_id(accounts))
            if steps:  # a security question first
                asked = next(
                    (a for a in accounts if self._storage.get_question(a.id) is not None),
                    accounts[0] if accounts else None,
                )
                return self._open_step(steps[0], [], asked, key, REMINDER, lang)
            self._send_reminder(accounts, lang)
        return self._result(RecoveryStatus.COMPLETED, "reminder.sent", lang)

    # -- steps -------------------------------------------------------------------------------

    def answer(self, flow: str, answer: str, *, locale: str | None = None) -> RecoveryResult:
        """Answer the security question of a recovery or reminder flow."""
        lang = self._messages.resolve(locale or self._settings.locale)
        if not isinstance(answer, str):
            raise TypeError("answer must be a str")
        loaded = self._load(flow, RecoveryState.QUESTION, lang)
        if isinstance(loaded, RecoveryResult):
            return loaded
        record, account = loaded
        question = self._storage.get_question(account.id) if account is not None else None
        real = question is not None and not self._answers_locked(account)
        limit = self._settings.answer_policy.max_length
        if len(answer) > limit * 8 or len(normalize_answer(answer)) > limit:
            right = False  # refused unhashed, whatever the account
        elif real and question is not None:
            right = self._hasher.verify_answer(question.answer_hash, answer).ok
        else:
            self._hasher.dummy_verify(normalize_answer(answer))  # the same work for a decoy
            right = False
        if right:
            event, attempts = RecoveryEvent.ANSWER_RIGHT, int(record.data["attempts"])
        else:
            event, attempts = RecoveryEvent.ANSWER_WRONG, int(record.data["attempts"]) - 1
        remaining = list(record.data["remaining"])
        facts = RecoveryFacts(
            remaining[0] if remaining else None,
            attempts,
            second_factor=right and self._mfa_due(record, account),
        )
        target = machine.MACHINE.next(RecoveryState.QUESTION, event, facts)
        changes: dict[str, Any] = {"attempts": attempts}
        code = None
        if right and record.kind == RECOVERY:
            changes, code = self._plan(record, target, remaining[1:])
        try:
            with self._storage.transaction():
                if right:
                    account = self._still_current(record)
                self._advance(record, target, changes)
                if not right and account is not None and question is not None:
                    self._storage.increment_counter(self._answer_key(account.id), self._clock.now())
                self._audit.record(
                    "recovery_answer_" + ("right" if right else "wrong"),
                    account.id if account is not None else None,
                )
                if target is RecoveryState.FAILED:
                    return self._result(RecoveryStatus.FAILED, "recovery.failed", lang)
                if target is RecoveryState.QUESTION:
                    return self._result(
                        RecoveryStatus.REFUSED,
                        "recovery.answer_wrong",
                        lang,
                        {"attempts": attempts},
                        step="question",
                        question=record.data["question"],
                        flow=flow,
                    )
                assert account is not None
                if record.kind == REMINDER:
                    self._storage.delete_flow(record.handle_hash)
                    self._send_reminder(self._accounts(account.email_key or "", True), lang)
                    return self._result(RecoveryStatus.COMPLETED, "reminder.sent", lang)
                return self._after_step(record, target, account, code, flow, lang)
        except ConcurrentUpdate:
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)

    def submit_code(self, flow: str, code: str, *, locale: str | None = None) -> RecoveryResult:
        """Check the mailed code (digits only, of the configured length; else InvalidInput)."""
        lang = self._messages.resolve(locale or self._settings.locale)
        if not isinstance(code, str):
            raise TypeError("code must be a str")
        text = code.strip()
        if len(text) != self._config.code_digits or not (text.isascii() and text.isdigit()):
            raise InvalidInput(f"must be {self._config.code_digits} digits", field="code")
        loaded = self._load(flow, RecoveryState.CODE_SENT, lang)
        if isinstance(loaded, RecoveryResult):
            return loaded
        record, account = loaded
        if self._clock.now() > datetime.fromisoformat(record.data["code_expires"]):
            return self._result(RecoveryStatus.EXPIRED, "recovery.expired", lang)
        right = account is not None and any(
            code_matches(record.data["code"], key, record.handle_hash, text)
            for key in (self._key, *self._fallback_keys)
        )
        attempts = int(record.data["attempts"]) - (0 if right else 1)
        remaining = list(record.data["remaining"])
        facts = RecoveryFacts(
            remaining[0] if remaining else None,
            attempts,
            second_factor=right and self._mfa_due(record, account),
        )
        event = RecoveryEvent.CODE_RIGHT if right else RecoveryEvent.CODE_WRONG
        target = machine.MACHINE.next(RecoveryState.CODE_SENT, event, facts)
        changes: dict[str, Any] = {"attempts": attempts}
        new_code = None
        if right:
            changes, new_code = self._plan(record, target, remaining[1:])
            changes.setdefault("code", "")  # the used code never works again
        try:
            with self._storage.transaction():
                if right:
                    account = self._still_current(record)
                self._advance(record, target, changes)
                if target is RecoveryState.FAILED:
                    return self._result(RecoveryStatus.FAILED, "recovery.failed", lang)
                if target is RecoveryState.CODE_SENT:
                    return self._result(
                        RecoveryStatus.REFUSED,
                        "recovery.code_wrong",
                        lang,
                        {"attempts": attempts},
                        step="code_sent",
                        flow=flow,
                    )
                assert account is not None
                return self._after_step(record, target, account, new_code, flow, lang)
        except ConcurrentUpdate:
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)

    def resend_code(self, flow: str, *, locale: str | None = None) -> RecoveryResult:
        """A new code in place of the previous one (which stops working); attempts carry over."""
        lang = self._messages.resolve(locale or self._settings.locale)
        loaded = self._load(flow, RecoveryState.CODE_SENT, lang)
        if isinstance(loaded, RecoveryResult):
            return loaded
        record, account = loaded
        try:
            with self._storage.transaction():
                allowed = self._within_rate(self._rate_name(record))
                code, data = self._new_code(record.handle_hash)
                self._advance(record, RecoveryState.CODE_SENT, data)
                account = self._current(record) if account is not None else None
                if account is not None and allowed:
                    self._mail_code(account, code, lang)
        except ConcurrentUpdate:
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)
        return self._result(
            RecoveryStatus.NEXT, "recovery.code_sent", lang, step="code_sent", flow=flow
        )

    def submit_mfa(self, flow: str, code: str, *, locale: str | None = None) -> RecoveryResult:
        """The ``mfa`` step: a TOTP code, the SMS code (``send_mfa_code``) or a recovery code,
        before the new password (RS-13). A malformed code raises InvalidInput(field="code").

        A wrong code counts toward the account's lockout and uses one of the step's tries
        (``code_attempts``); while the account is locked, no code is checked."""
        lang = self._messages.resolve(locale or self._settings.locale)
        entered = self._mfa.parse(code)
        loaded = self._load(flow, RecoveryState.MFA, lang)
        if isinstance(loaded, RecoveryResult):
            return loaded
        record, account = loaded
        if account is None:  # changed under the flow
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)
        if self._lockout.is_locked(account):
            return self._result(RecoveryStatus.REFUSED, "mfa.locked", lang, step="mfa", flow=flow)
        check = self._mfa.check(account, entered, record)
        target = machine.MACHINE.next(RecoveryState.MFA, RecoveryEvent.MFA_RIGHT, RecoveryFacts())
        try:
            if check.matched:
                with self._storage.transaction():
                    if self._mfa.consume(account, check):
                        self._advance(record, target, {"mfa_passed": True, "sms": ""})
                        self._mfa.passed(account, check, during="recovery", locale=lang)
                        return self._result(
                            RecoveryStatus.NEXT,
                            "recovery.new_password",
                            lang,
                            step="new_password",
                            flow=flow,
                        )
            # Counted first, in its own transaction: a raced flow never loses a failure.
            outcome = self._mfa.failed(account, check, during="recovery", locale=lang)
            attempts = int(record.data["attempts"]) - 1
            facts = RecoveryFacts(None, attempts)
            target = machine.MACHINE.next(RecoveryState.MFA, RecoveryEvent.MFA_WRONG, facts)
            self._advance(record, target, {"attempts": attempts})
        except ConcurrentUpdate:
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)
        if target is RecoveryState.FAILED:
            return self._result(RecoveryStatus.FAILED, "recovery.failed", lang)
        code_ = "mfa.locked" if outcome is not None and outcome.locked else None
        return self._result(
            RecoveryStatus.REFUSED,
            code_ or self._mfa.refusal_code(check),
            lang,
            step="mfa",
            flow=flow,
        )

    def send_mfa_code(self, flow: str, *, locale: str | None = None) -> RecoveryResult:
        """At the ``mfa`` step, send a code by SMS to the account's confirmed phone (a new code
        voids the previous one); ``refused`` with ``mfa.no_phone`` or ``mfa.too_many_codes``."""
        lang = self._messages.resolve(locale or self._settings.locale)
        loaded = self._load(flow, RecoveryState.MFA, lang)
        if isinstance(loaded, RecoveryResult):
            return loaded
        record, account = loaded
        if account is None:
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)
        prepared = self._mfa.prepare_sms(account, record)
        if isinstance(prepared, str):
            return self._result(RecoveryStatus.REFUSED, prepared, lang, step="mfa", flow=flow)
        code, phone, data = prepared
        try:
            with self._storage.transaction():
                self._advance(record, RecoveryState.MFA, data)
                self._audit.record("mfa_code_sent", account.id, during="recovery")
                self._mfa.send_sms(phone, code, lang)
        except ConcurrentUpdate:
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)
        return self._result(
            RecoveryStatus.NEXT,
            "mfa.code_sent",
            lang,
            {"phone_end": phone[-2:]},
            step="mfa",
            flow=flow,
        )

    def open_link(self, token: str, *, locale: str | None = None) -> RecoveryResult:
        """Redeem a reset link (or a password-setup link): the proof of possession.

        The link works once; the steps after it continue in a new flow. An expired link says so,
        so the page can offer ``resend_link``.
        """
        lang = self._messages.resolve(locale or self._settings.locale)
        outcome = TokenOutcome.INVALID
        for purpose in ("reset", "password_setup"):
            with self._storage.transaction():
                redemption = self._tokens.redeem(token, purpose)
                if redemption.ok and redemption.account_id is not None:
                    account = self._storage.get_account(redemption.account_id)
                    if account is None or account.status is not AccountStatus.ACTIVE:
                        return self._result(RecoveryStatus.INVALID, "recovery.link_invalid", lang)
                    rest = self._after_link() if purpose == "reset" else []
                    self._audit.record("recovery_link_opened", account.id, purpose=purpose)
                    return self._begin_after_link(account, rest, lang)
            if redemption.outcome is not TokenOutcome.INVALID:
                outcome = redemption.outcome
                break
        if outcome is TokenOutcome.EXPIRED:
            minutes = self._settings.lifetimes.recovery_link // 60
            return self._result(
                RecoveryStatus.EXPIRED, "recovery.link_expired", lang, {"minutes": minutes}
            )
        return self._result(RecoveryStatus.INVALID, "recovery.link_invalid", lang)

    def resend_link(self, token: str, *, locale: str | None = None) -> RecoveryResult:
        """In place of an expired, unused reset link, mail a fresh one (which voids the old).

        Only the newest outstanding link counts; the answer is the same whatever happened.
        """
        lang = self._messages.resolve(locale or self._settings.locale)
        account_id = self._tokens.expired_outstanding(token, "reset")
        if account_id is not None:
            with self._storage.transaction():
                account = self._storage.get_account(account_id)
                if account is not None and self._within_rate(f"resend:{account_id}"):
                    self._send_links([account], None, lang)
        return self._result(RecoveryStatus.NEXT, "recovery.link_resent", lang, step="link_sent")

    def set_password(
        self, flow: str, new: str, confirm: str, *, locale: str | None = None
    ) -> RecoveryResult:
        """The last step: the new password, through the policy, and its confirmation.

        It clears any lockout, bumps the credential version (sessions and tokens die), mails
        "your password was changed", and logs in only when ``login_after_reset`` is on, never
        past a second factor.
        """
        lang = self._messages.resolve(locale or self._settings.locale)
        loaded = self._load(flow, RecoveryState.NEW_PASSWORD, lang)
        if isinstance(loaded, RecoveryResult):
            return loaded
        record, account = loaded
        if account is None:  # changed under the flow (disabled, a new password or address)
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)
        if not record.data.get("mfa_passed") and self._mfa.has_factor(account):
            # A factor confirmed after this flow passed its steps: start again (RS-13).
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)
        check = self._passwords.check_new(account, new, confirm, locale=lang)
        if not check.ok and self._storage.get_flow(record.handle_hash) != record:
            # The same step won meanwhile (a double submit): say "no longer valid", not "same
            # as the current password".
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)
        if not check.ok:
            return self._result(
                RecoveryStatus.REFUSED,
                check.refusal_code,
                lang,
                step="new_password",
                flow=flow,
                failures=check.report.failures,
            )
        target = machine.MACHINE.next(
            RecoveryState.NEW_PASSWORD, RecoveryEvent.PASSWORD_SET, RecoveryFacts()
        )
        try:
            with self._storage.transaction():
                self._advance(record, target, {})
                self._storage.delete_flow(record.handle_hash)
                current = self._lockout.clear(self._still_current(record), by="reset")
                updated = self._passwords.apply(current, new, event_by="recovery", locale=lang)
                self._tokens.void(updated.id, "reset")
                self._audit.record("recovery_completed", updated.id)
        except ConcurrentUpdate:
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)
        if not self._config.login_after_reset:
            return self._result(RecoveryStatus.COMPLETED, "recovery.completed", lang)
        if not record.data.get("mfa_passed") and self._login.second_factor(updated):
            # RS-13: a host's own second factor (``second_factor=``) is asked after the reset
            handle = self._login.start_second_factor(updated)
            return self._result(
                RecoveryStatus.MFA_REQUIRED, "login.mfa_required", lang, flow=handle
            )
        session = self._sessions.issue(updated)
        return self._result(RecoveryStatus.COMPLETED, "recovery.completed", lang, session=session)

    def send_password_setup(
        self,
        account_ids: Sequence[str],
        *,
        require_question: bool = False,
        locale: str | None = None,
    ) -> int:
        """Mail each account a single-use link to set a new password, voiding its old
        credentials at once: DEFI's migration, and support's answer to ASP's "no question".

        ``require_question`` also makes the next login ask for a security question. All or
        nothing: an unknown id raises UnknownAccount and changes nothing.
        """
        if isinstance(account_ids, str):
            raise InvalidInput("give a list of account ids, not one string", field="account_ids")
        lang = self._messages.resolve(locale or self._settings.locale)
        count = 0
        with self._storage.transaction():
            found = []
            for account_id in account_ids:  # every id first: an unknown one sends nothing
                account = self._storage.get_account(account_id)
                if account is None:
                    raise UnknownAccount(account_id)
                found.append(account)
            for account in found:
                self._storage.void_tokens(account.id, None, self._clock.now())
                actions = account.required_actions
                if require_question and RequiredAction.ENROLL_SECURITY_QUESTION not in actions:
                    actions = (*actions, RequiredAction.ENROLL_SECURITY_QUESTION)
                updated = self._storage.update_account(
                    account.model_copy(
                        update={
                            "credential_version": account.credential_version + 1,
                            "required_actions": actions,
                            "updated_at": self._clock.now(),
                        }
                    )
                )
                self._storage.set_password(self._passwords.unusable(updated.id))
                self._audit.record("password_setup_sent", updated.id, question=require_question)
                if updated.email is not None:
                    issued = self._tokens.issue(updated, "password_setup")
                    self._notifier.send(
                        Message(
                            "password_setup_link",
                            updated.email,
                            lang,
                            {
                                "identifier": updated.identifier,
                                "link": self._settings.link("setup", issued.token),
                                "expires_hours": str(
                                    -(-self._settings.lifetimes.setup_link // 3600)
                                ),
                            },
                            secret_params=frozenset({"link"}),
                        )
                    )
                count += 1
        return count

    # -- internals ---------------------------------------------------------------------------

    def _human_ok(self, challenge: str | None, answer: str | None) -> bool:
        return (
            challenge is not None and answer is not None and self._human.verify(challenge, answer)
        )

    @staticmethod
    def _identifier_key(value: str) -> str:
        try:
            return identifier_key(check_identifier(value))
        except ValueError:
            return ""

    @staticmethod
    def _email_key(value: str) -> str:
        try:
            return email_key(check_email(value))
        except ValueError:
            return ""

    def _accounts(self, key: str, by_email: bool) -> list[Account]:
        """The active accounts behind ``key`` (an empty key matches nothing)."""
        if not key:
            return []
        found = (
            self._storage.find_accounts_by_email(key)
            if by_email
            else [a for a in [self._storage.find_account(key)] if a is not None]
        )
        return [a for a in found if a.status is AccountStatus.ACTIVE]

    def _pseudonym(self, key: str, secret: bytes | None = None) -> str:
        """A keyed digest of the typed identifier or email key.

        It names the request's rate-limit counter, so counters never hold what a visitor typed
        (an unknown address is personal data too), and, when no account matches, the decoy's
        pseudo-account. Known and unknown requests compute it alike, so it costs them the same.
        """
        digest = hmac.digest(secret or self._key, b"credflow.recovery:" + key.encode(), "sha256")
        return digest[:16].hex()

    def _within_rate(self, name: str) -> bool:
        """Count one request against ``name`` in the current fixed window (RS-12)."""
        window = self._config.rate_window
        bucket = int(self._clock.now().timestamp()) // window
        count = self._storage.increment_counter(f"recovery:{name}:{bucket}", self._clock.now())
        return count <= self._config.rate_limit

    def _answer_key(self, account_id: str) -> str:
        bucket = int(self._clock.now().timestamp()) // self._config.answer_lock_window
        return f"recovery-answers:{account_id}:{bucket}"

    def _answers_locked(self, account: Account | None) -> bool:
        """Too many wrong answers for this account lately: recovery by question is blocked
        (the login is not)."""
        if account is None:
            return True
        return self._storage.get_counter(self._answer_key(account.id)) >= (
            self._config.answer_lock_threshold
        )

    def _decoy(self, key: str) -> str:
        """The same plausible question for the same unknown identifier, every time."""
        digest = hmac.new(self._key, b"credflow.decoy:" + key.encode(), hashlib.sha256).digest()
        questions = self._config.decoy_questions
        return questions[int.from_bytes(digest[:4], "big") % len(questions)]

    def _new_code(self, handle_hash: str) -> tuple[str, dict[str, Any]]:
        code = draw_code(self._config.code_digits)
        expires = self._clock.now() + timedelta(seconds=self._config.code_lifetime)
        return code, {
            "code": code_hash(self._key, handle_hash, code),
            "code_expires": expires.isoformat(),
        }

    def _open_step(
        self,
        step: RecoveryStep,
        rest: list[RecoveryStep],
        account: Account | None,
        key: str,
        kind: str,
        lang: str,
        *,
        live: bool = True,
    ) -> RecoveryResult:
        """Store a flow waiting at ``step`` and answer with its page. A flow that is not
        ``live`` shows the same page but is bound to no account (a dead end)."""
        handle = new_handle()
        digest = nonce_hash(handle)
        question = self._storage.get_question(account.id) if account is not None else None
        data: dict[str, Any] = {
            "remaining": [s.value for s in rest],
            "rate": self._pseudonym(key),
            "cv": account.credential_version if account is not None else 0,
            "mail": self._mail_binding(account),
            "question": question.question if question is not None else self._decoy(key),
        }
        if step is RecoveryStep.SECURITY_QUESTION:
            data["attempts"] = self._config.max_answer_attempts
        else:
            code, code_data = self._new_code(digest)
            data.update(code_data, attempts=self._config.code_attempts)
            if account is not None and live:
                self._mail_code(account, code, lang)
        now = self._clock.now()
        self._storage.save_flow(
            FlowRecord(
                handle_hash=digest,
                kind=kind,
                account_id=account.id if account is not None and live else None,
                state=_STEP_STATE[step].value,
                data=data,
                created_at=now,
                expires_at=now + timedelta(seconds=self._settings.lifetimes.flow),
            )
        )
        if step is RecoveryStep.SECURITY_QUESTION:
            return self._result(
                RecoveryStatus.NEXT,
                "recovery.question",
                lang,
                step="question",
                question=data["question"],
                flow=handle,
            )
        return self._result(
            RecoveryStatus.NEXT, "recovery.code_sent", lang, step="code_sent", flow=handle
        )

    def _load(
        self, flow: object, expected: RecoveryState, lang: str
    ) -> tuple[FlowRecord, Account | None] | RecoveryResult:
        if not isinstance(flow, str) or not flow:
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)
        record = self._storage.get_flow(nonce_hash(flow))
        if record is None or record.kind not in (RECOVERY, REMINDER):
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)
        if RecoveryState(record.state) in machine.MACHINE.terminal:
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)
        if self._clock.now() > record.expires_at:
            machine.MACHINE.next(RecoveryState(record.state), RecoveryEvent.EXPIRE, RecoveryFacts())
            self._storage.delete_flow(record.handle_hash)
            return self._result(RecoveryStatus.EXPIRED, "recovery.expired", lang)
        if record.state != expected.value:
            return self._result(RecoveryStatus.INVALID, "recovery.invalid", lang)
        return record, self._current(record)

    def _current(self, record: FlowRecord) -> Account | None:
        """The flow's account as stored now, or None when the flow is bound to none or the
        account changed under it: disabled or deleted, a new password (credential version), or
        a new address that codes and links must now go to. Such a flow goes on like one for an
        unknown account. Steps that mail call it again inside their transaction."""
        if record.account_id is None:
            return None
        account = self._storage.get_account(record.account_id)
        if (
            account is None
            or account.status is not AccountStatus.ACTIVE
            or account.credential_version != record.data.get("cv")
        ):
            return None
        bound = record.data.get("mail")  # flows stored before the binding have none
        if bound is not None and bound not in self._mail_bindings(account):
            return None
        return account

    def _still_current(self, record: FlowRecord) -> Account:
        """Inside a step's transaction, before it mails or moves on: the account read again,
        or ConcurrentUpdate (the step then answers ``invalid``) when it changed since the flow
        was loaded, so nothing goes to an address that was just replaced."""
        account = self._current(record)
        if account is None:
            raise ConcurrentUpdate("the account changed during the step")
        return account

    def _mail_binding(self, account: Account | None) -> str:
        """A keyed digest of the account's address when the flow opens (computed for no account
        too, so known and unknown requests do the same work)."""
        address = (account.email_key or "") if account is not None else ""
        return self._pseudonym(f"mail:{address}")

    def _mail_bindings(self, account: Account) -> set[str]:
        """The digests of the account's address under the current and fallback keys: a
        rotated key does not end flows opened before it."""
        text = f"mail:{account.email_key or ''}"
        return {self._pseudonym(text, key) for key in (self._key, *self._fallback_keys)}

    def _rate_name(self, record: FlowRecord) -> str:
        """The rate-limit counter of the flow's request (flows stored before pseudonyms
        kept the typed key: it is turned into the pseudonym here)."""
        name = record.data.get("rate")
        return name if isinstance(name, str) else self._pseudonym(str(record.data.get("key", "")))

    def _advance(self, record: FlowRecord, target: RecoveryState, changes: dict[str, Any]) -> None:
        """Compare-and-set the flow to ``target`` (raises ConcurrentUpdate when raced)."""
        self._storage.advance_flow(
            record.model_copy(update={"state": target.value, "data": {**record.data, **changes}}),
            expected_state=record.state,
        )

    def _plan(
        self, record: FlowRecord, target: RecoveryState, rest: list[str]
    ) -> tuple[dict[str, Any], str | None]:
        """The flow data after a passed step moves to ``target``, and a new code to mail."""
        if target is RecoveryState.CODE_SENT:
            code, data = self._new_code(record.handle_hash)
            return {**data, "remaining": rest, "attempts": self._config.code_attempts}, code
        if target is RecoveryState.QUESTION:
            return {"remaining": rest, "attempts": self._config.max_answer_attempts}, None
        if target is RecoveryState.MFA:
            return {"remaining": rest, "attempts": self._config.code_attempts}, None
        return {"remaining": rest}, None

    def _after_step(
        self,
        record: FlowRecord,
        target: RecoveryState,
        account: Account,
        code: str | None,
        flow: str,
        lang: str,
    ) -> RecoveryResult:
        """The page after a passed step (already stored): mail a link or a code, or ask."""
        if target is RecoveryState.LINK_SENT:
            self._storage.delete_flow(record.handle_hash)
            self._send_links([account], None, lang)
            return self._link_sent(lang)
        if target is RecoveryState.CODE_SENT:
            assert code is not None
            self._mail_code(account, code, lang)
            return self._result(
                RecoveryStatus.NEXT, "recovery.code_sent", lang, step="code_sent", flow=flow
            )
        if target is RecoveryState.QUESTION:
            if self._storage.get_question(account.id) is None:  # proven, but nothing to ask
                machine.MACHINE.next(
                    RecoveryState.QUESTION, RecoveryEvent.NO_QUESTION, RecoveryFacts()
                )
                self._storage.delete_flow(record.handle_hash)
                self._audit.record("recovery_support_required", account.id)
                return self._result(
                    RecoveryStatus.SUPPORT_REQUIRED, "recovery.support_required", lang
                )
            return self._result(
                RecoveryStatus.NEXT,
                "recovery.question",
                lang,
                step="question",
                question=record.data["question"],
                flow=flow,
            )
        if target is RecoveryState.MFA:
            return self._result(RecoveryStatus.NEXT, "recovery.mfa", lang, step="mfa", flow=flow)
        return self._result(
            RecoveryStatus.NEXT, "recovery.new_password", lang, step="new_password", flow=flow
        )

    def _mfa_due(self, record: FlowRecord, account: Account | None) -> bool:
        """True when a recovery must pass the account's second factor (RS-13)."""
        return record.kind == RECOVERY and account is not None and self._mfa.has_factor(account)

    def _after_link(self) -> list[RecoveryStep]:
        steps = list(self._config.steps)
        return steps[steps.index(RecoveryStep.EMAIL_LINK) + 1 :]

    def _begin_after_link(
        self, account: Account, rest: list[RecoveryStep], lang: str
    ) -> RecoveryResult:
        """A new flow for the steps after the link, the mailbox now proven."""
        facts = RecoveryFacts(
            rest[0].value if rest else None, second_factor=self._mfa.has_factor(account)
        )
        target = machine.MACHINE.next(RecoveryState.LINK_SENT, RecoveryEvent.LINK_OPENED, facts)
        if target is RecoveryState.QUESTION and self._storage.get_question(account.id) is None:
            machine.MACHINE.next(RecoveryState.QUESTION, RecoveryEvent.NO_QUESTION, facts)
            self._audit.record("recovery_support_required", account.id)
            return self._result(RecoveryStatus.SUPPORT_REQUIRED, "recovery.support_required", lang)
        if target in (RecoveryState.NEW_PASSWORD, RecoveryState.MFA):
            handle = new_handle()
            now = self._clock.now()
            data: dict[str, Any] = {
                "remaining": [],
                "cv": account.credential_version,
                "mail": self._mail_binding(account),
            }
            if target is RecoveryState.MFA:
                data["attempts"] = self._config.code_attempts
            self._storage.save_flow(
                FlowRecord(
                    handle_hash=nonce_hash(handle),
                    kind=RECOVERY,
                    account_id=account.id,
                    state=target.value,
                    data=data,
                    created_at=now,
                    expires_at=now + timedelta(seconds=self._settings.lifetimes.flow),
                )
            )
            step = target.value
            return self._result(
                RecoveryStatus.NEXT, f"recovery.{step}", lang, step=step, flow=handle
            )
        return self._open_step(rest[0], rest[1:], account, account.identifier_key, RECOVERY, lang)

    def _send_links(
        self,
        accounts: list[Account],
        typed_email: str | None,
        lang: str,
        *,
        decoy: str = "",
    ) -> None:
        """Mail a fresh reset link to each account (voiding older ones); mail nobody else,
        unless ``notify_unknown_recipients`` asks to tell a typed address it has no account.
        Without an account, ``decoy`` (the request's pseudonym) names the decoy's
        pseudo-account."""
        minutes = str(self._settings.lifetimes.recovery_link // 60)
        mailed = False
        for account in accounts:
            if account.email is None:
                continue
            mailed = True
            self._tokens.void(account.id, "reset")
            issued = self._tokens.issue(account, "reset")
            self._notifier.send(
                Message(
                    "reset_link",
                    account.email,
                    lang,
                    {
                        "identifier": account.identifier,
                        "link": self._settings.link("reset", issued.token),
                        "expires_minutes": minutes,
                    },
                    secret_params=frozenset({"link"}),
                )
            )
        if not mailed and decoy:
            # The same work as a real link, minus the mail: void, sign and store a token (for a
            # pseudo-account nobody can name), read a record back when no account was read,
            # build the message, so the time does not tell the account is absent, or has no
            # address.
            issued = self._tokens.decoy("reset", decoy, read_back=not accounts)
            Message(
                "reset_link",
                "-",
                lang,
                {
                    "identifier": "-",
                    "link": self._settings.link("reset", issued.token),
                    "expires_minutes": minutes,
                },
                secret_params=frozenset({"link"}),
            )
            if typed_email is not None and self._config.notify_unknown_recipients:
                self._notifier.send(
                    Message(
                        "account_access_attempted",
                        typed_email,
                        lang,
                        {"url": self._settings.base_url},
                    )
                )

    def _mail_code(self, account: Account, code: str, lang: str) -> None:
        if account.email is None:
            return
        self._notifier.send(
            Message(
                "reset_code",
                account.email,
                lang,
                {
                    "identifier": account.identifier,
                    "code": code,
                    "expires_minutes": str(self._config.code_lifetime // 60),
                },
                secret_params=frozenset({"code"}),
            )
        )

    def _send_reminder(self, accounts: list[Account], lang: str) -> None:
        """One mail per stored address, listing every identifier tied to it (ASP)."""
        by_address: dict[str, list[str]] = {}
        for account in accounts:
            if account.email is not None:
                by_address.setdefault(account.email, []).append(account.identifier)
        for address, identifiers in by_address.items():
            self._notifier.send(
                Message(
                    "identifier_reminder",
                    address,
                    lang,
                    {
                        "identifiers": "\n".join(sorted(identifiers)),
                        "login_url": self._settings.base_url + "/",
                    },
                )
            )

    def _link_sent(self, lang: str) -> RecoveryResult:
        minutes = self._settings.lifetimes.recovery_link // 60
        return self._result(
            RecoveryStatus.NEXT, "recovery.link_sent", lang, {"minutes": minutes}, step="link_sent"
        )

    def _result(
        self,
        status: RecoveryStatus,
        code: str,
        lang: str,
        params: dict[str, Any] | None = None,
        *,
        step: str | None = None,
        question: str | None = None,
        flow: str | None = None,
        session: Session | None = None,
        failures: tuple[RuleResult, ...] = (),
    ) -> RecoveryResult:
        return RecoveryResult(
            status,
            code,
            self._messages.render(code, lang, params),
            step=step,
            question=question,
            flow=flow,
            session=session,
            failures=failures,
        )


def _only_id(accounts: list[Account]) -> str | None:
    return accounts[0].id if len(accounts) == 1 else None
