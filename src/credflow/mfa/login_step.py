"""The second factor of a login: the ``mfa`` flow ``cf.login`` opens, and how it ends.

``cf.login`` answers ``mfa_required`` with the handle of a pending ``mfa`` flow. Here the flow
is loaded (invalid when its account changed credentials or was disabled, expired past its
lifetime), an SMS code is sent into it on demand, and a typed code either passes (the flow is
consumed by compare-and-set, the failure count resets, the session starts) or fails (counted
toward lockout; the failure that locks ends the flow). The first failure of a flow that may be a
guess (not a right SMS code typed late, nor a TOTP whose key is gone) also records
``second_factor_failed`` and mails the owner once: the password was right, so someone may know it
(LK-11). That mail is best effort: the failure is counted first, in its own transaction, and a
mail that cannot go is recorded (``mailed=False``) instead of turning the refusal into an error.
"""

from __future__ import annotations

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.errors import ConcurrentUpdate
from credflow.flows.mfa import MACHINE, MfaEvent, MfaFacts, MfaState
from credflow.lockout import LockoutService
from credflow.mfa.checks import RECOVERY_CODE, CodeCheck
from credflow.mfa.entry import EnteredCode
from credflow.mfa.factors import confirmed
from credflow.mfa.notices import Notices
from credflow.mfa.replies import Replies
from credflow.mfa.sms import SmsCodes
from credflow.mfa.verifier import Verifier
from credflow.results import MfaResult, MfaStatus
from credflow.sessions import SessionService
from credflow.storage.protocols import Storage
from credflow.storage.records import Account, AccountStatus, FlowRecord, MfaKind
from credflow.tokens import nonce_hash

__all__ = ["LOGIN_FLOW", "PENDING", "LoginStep"]

LOGIN_FLOW = "mfa"
PENDING = MfaState.PENDING.value
_USABLE = ((LOGIN_FLOW, PENDING), ("recovery", "mfa"))


class LoginStep:
    """``methods``, ``send_code`` and ``verify`` of ``cf.mfa``."""

    __slots__ = (
        "_audit",
        "_clock",
        "_lockout",
        "_notices",
        "_replies",
        "_sessions",
        "_sms",
        "_storage",
        "_verifier",
    )

    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        audit: Audit,
        lockout: LockoutService,
        sessions: SessionService,
        replies: Replies,
        verifier: Verifier,
        sms: SmsCodes,
        notices: Notices,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._audit = audit
        self._lockout = lockout
        self._sessions = sessions
        self._replies = replies
        self._verifier = verifier
        self._sms = sms
        self._notices = notices

    def __repr__(self) -> str:
        return "LoginStep()"

    def methods(self, flow: object) -> tuple[str, ...]:
        """What a pending login or recovery ``mfa`` step accepts (empty when not usable)."""
        record = self._storage.get_flow(nonce_hash(flow)) if isinstance(flow, str) else None
        if record is None or record.account_id is None or self._clock.now() > record.expires_at:
            return ()
        if (record.kind, record.state) not in _USABLE:
            return ()
        found = [k.value for k in sorted(confirmed(self._storage, record.account_id))]
        if found and self._storage.recovery_codes_left(record.account_id):
            found.append(RECOVERY_CODE)
        return tuple(found)

    def send_code(self, flow: object, lang: str) -> MfaResult:
        """Send an SMS code into the login's flow (see ``MfaService.send_code``)."""
        loaded = self._load(flow, lang)
        if isinstance(loaded, MfaResult):
            return loaded
        record, account = loaded
        handle = str(flow)
        prepared = self._sms.prepare(account.id, record)
        if isinstance(prepared, str):
            return self._replies.result(MfaStatus.REFUSED, prepared, lang, flow=handle)
        code, number, data = prepared
        try:
            with self._storage.transaction():
                state = MACHINE.next(MfaState.PENDING, MfaEvent.CODE_SENT, MfaFacts())
                self._storage.advance_flow(
                    record.model_copy(
                        update={"state": state.value, "data": {**record.data, **data}}
                    ),
                    expected_state=PENDING,
                )
                self._audit.record("mfa_code_sent", account.id, during="login")
                self._sms.send(number, code, lang)
        except ConcurrentUpdate:
            return self._replies.result(MfaStatus.INVALID, "flow.invalid", lang)
        return self._replies.result(
            MfaStatus.NEXT, "mfa.code_sent", lang, {"phone_end": number[-2:]}, flow=handle
        )

    def verify(self, flow: object, entered: EnteredCode, lang: str) -> MfaResult:
        """Check ``entered`` at the login's flow (see ``MfaService.verify``)."""
        loaded = self._load(flow, lang)
        if isinstance(loaded, MfaResult):
            return loaded
        record, account = loaded
        if self._lockout.is_locked(account):
            return self._locked(record, account, lang)
        check = self._verifier.check(account, entered, record)
        if check.matched:
            try:
                with self._storage.transaction():
                    fresh = self._storage.get_account(account.id) or account
                    if self._lockout.is_locked(fresh):  # locked by a parallel failure
                        return self._locked(record, fresh, lang)
                    if self._verifier.consume(account, check):
                        return self._signed_in(record, fresh, check, lang)
            except ConcurrentUpdate:
                return self._replies.result(MfaStatus.INVALID, "flow.invalid", lang)
        outcome = self._verifier.failed(account, check, during="login", locale=lang)
        if not check.expired and not check.key_unknown:  # no guess; an operator's doing
            self._warn_once(record.handle_hash, account, check.method, lang)
        facts = MfaFacts(locked_now=outcome is not None and outcome.locked)
        if MACHINE.next(MfaState.PENDING, MfaEvent.CODE_WRONG, facts) is MfaState.LOCKED:
            self._storage.delete_flow(record.handle_hash)
            return self._replies.result(MfaStatus.LOCKED, "mfa.locked", lang)
        code = self._verifier.refusal_code(check)
        return self._replies.result(MfaStatus.REFUSED, code, lang, flow=str(flow))

    def _warn_once(self, handle_hash: str, account: Account, method: str, lang: str) -> None:
        """The first failed second factor of this login: a ``second_factor_failed`` event and
        one mail (LK-11). An atomic counter keyed by the flow (not the flow itself, whose
        version a right code racing this one relies on) makes parallel or later failures of
        the same login mail nothing more; a new login warns again."""
        with self._storage.transaction():
            key = f"mfa-warned:{handle_hash}"
            if self._storage.increment_counter(key, self._clock.now()) != 1:
                return
            if method == "totp":  # no factor matched: name the one the account has
                kinds = confirmed(self._storage, account.id)
                if MfaKind.TOTP not in kinds and MfaKind.SMS in kinds:
                    method = "sms"
            error = self._notices.second_factor_failed(account, method, lang)  # best effort
            if error is None:
                self._audit.record("second_factor_failed", account.id, method=method, mailed=True)
            else:
                self._audit.record(
                    "second_factor_failed", account.id, method=method, mailed=False, error=error
                )

    def _load(self, flow: object, lang: str) -> tuple[FlowRecord, Account] | MfaResult:
        """The login's pending ``mfa`` flow and its account, or the result that ends it."""
        if not isinstance(flow, str) or not flow:
            return self._replies.result(MfaStatus.INVALID, "flow.invalid", lang)
        record = self._storage.get_flow(nonce_hash(flow))
        if (
            record is None
            or record.kind != LOGIN_FLOW
            or record.state != PENDING
            or record.account_id is None
        ):
            return self._replies.result(MfaStatus.INVALID, "flow.invalid", lang)
        if self._clock.now() > record.expires_at:
            MACHINE.next(MfaState.PENDING, MfaEvent.EXPIRE, MfaFacts())
            self._storage.delete_flow(record.handle_hash)
            return self._replies.result(MfaStatus.EXPIRED, "flow.expired", lang)
        account = self._storage.get_account(record.account_id)
        if (
            account is None
            or account.status is not AccountStatus.ACTIVE
            or account.credential_version != record.data.get("cv")
        ):
            return self._replies.result(MfaStatus.INVALID, "flow.invalid", lang)
        return record, account

    def _signed_in(
        self, record: FlowRecord, account: Account, check: CodeCheck, lang: str
    ) -> MfaResult:
        """A consumed code, inside the transaction: the flow ends and the session starts."""
        state = MACHINE.next(MfaState.PENDING, MfaEvent.CODE_RIGHT, MfaFacts())
        self._storage.advance_flow(
            record.model_copy(update={"state": state.value}), expected_state=PENDING
        )
        self._storage.delete_flow(record.handle_hash)
        fresh = self._lockout.register_success(account)
        left = self._verifier.passed(fresh, check, during="login", locale=lang)
        self._audit.record("login_succeeded", fresh.id, after="mfa", method=check.method)
        session = self._sessions.issue(fresh)
        if left is None:
            return self._replies.result(MfaStatus.COMPLETED, "mfa.verified", lang, session=session)
        return self._replies.result(
            MfaStatus.COMPLETED,
            "mfa.recovery_code_used",
            lang,
            {"left": left},
            session=session,
            codes_left=left,
        )

    def _locked(self, record: FlowRecord, account: Account, lang: str) -> MfaResult:
        """A locked account: the pending step ends, and nothing is counted (LK-04)."""
        with self._storage.transaction():
            self._storage.delete_flow(record.handle_hash)
            self._audit.record("mfa_failed", account.id, reason="account_locked", during="login")
        return self._replies.result(MfaStatus.LOCKED, "mfa.locked", lang)
