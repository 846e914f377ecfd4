"""``cf.mfa``: enrol, use and remove second factors (Sage: an app, or a code sent to the phone).

- **Enrolment** from a session: ``begin_totp`` stores a new secret *unconfirmed* and returns the
  ``otpauth://`` URI and its QR code; ``confirm_totp`` activates it after a first valid code.
  ``begin_sms`` sends a code to a phone number; ``confirm_sms`` activates it. The first factor
  comes with ten recovery codes, shown once.
- **Login**: ``cf.login`` answers ``mfa_required`` with a flow handle; ``verify(flow, code)``
  takes a TOTP code, an SMS code (after ``send_code``) or a recovery code, told apart by their
  shape, and gives the session. The flow is single-use (compare-and-set) and expires.
- **Replay**: a TOTP step is accepted once per account, ever (``storage.use_totp_step``, an
  atomic "newer than the last one"); a recovery code once (``storage.use_recovery_code``); an SMS
  code once (its flow is consumed), within its lifetime and its tries.
- **Failures** count toward the account's lockout, like wrong passwords; a locked account is
  refused and its pending flow ends.
- **Removal** needs the current password or a valid code, and re-checks the password rule: with
  NIST's 15/8 rule, an account left without a factor may have to change its password.

Recovery (``cf.recovery``) and first login (``cf.first_login``) use the building blocks at the
end of the class: they never bypass a confirmed factor (RS-13).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.codes import code_hash, code_matches, new_code
from credflow.errors import ConcurrentUpdate, InvalidInput
from credflow.hashing import Hasher, too_long
from credflow.lockout import FailureOutcome, LockoutService
from credflow.messages import Messages
from credflow.mfa import recovery_codes, totp
from credflow.mfa.entry import EnteredCode, check_phone, parse_code
from credflow.mfa.factors import confirmed, has_confirmed_factor
from credflow.mfa.totp import TotpSetup
from credflow.notify import Message, Notifier
from credflow.policy import MinLength
from credflow.results import MfaResult, MfaStatus, Session
from credflow.sessions import SessionService
from credflow.settings import Settings
from credflow.storage.protocols import Storage
from credflow.storage.records import (
    Account,
    AccountStatus,
    FlowRecord,
    MembershipStatus,
    MfaFactor,
    MfaKind,
    RequiredAction,
)
from credflow.tokens import nonce_hash

__all__ = ["CodeCheck", "MfaService"]

LOGIN_FLOW = "mfa"
ENROL_FLOW = "mfa_enrol"
PENDING = "pending"
SMS_RATE_LIMIT = 5
"""At most this many SMS per account per ``SMS_RATE_WINDOW`` seconds (enrolment and login
together), so a stolen password cannot turn the portal into an SMS cannon."""
SMS_RATE_WINDOW = 900
RECOVERY_CODE = "recovery_code"
_ORDER = {action: index for index, action in enumerate(RequiredAction)}


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """What a typed code matched, before anything is written.

    ``method`` is ``totp``, ``sms`` or ``recovery_code``. ``matched`` says the code is right
    (for a recovery code: well-formed; only ``consume`` knows whether it is unused). ``step`` is
    the TOTP step it matched; ``digest`` the recovery code's stored hash; ``expired`` marks a
    right SMS code past its lifetime; ``burned`` an SMS code out of tries.
    """

    method: str
    matched: bool
    step: int | None = None
    digest: str | None = field(default=None, repr=False)
    expired: bool = False
    burned: bool = False


class MfaService:
    """Second factors: enrolment, the login step, recovery codes, removal (``cf.mfa``)."""

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
        self._config = settings.mfa
        self._hasher = hasher
        self._clock = clock
        self._audit = audit
        self._lockout = lockout
        self._sessions = sessions
        self._notifier = notifier
        self._messages = messages
        self._key = settings.signing_keys[0]

    # -- facts for the other services -------------------------------------------------------

    def has_factor(self, account: Account) -> bool:
        """True when the account has a confirmed second factor (the login's default check)."""
        return has_confirmed_factor(self._storage, account.id)

    def required_for(self, account: Account) -> bool:
        """True when the settings ask this account for a second factor: ``mfa.required``, or
        a role of ``mfa.required_roles`` in one of its *active* memberships."""
        if self._config.required:
            return True
        wanted = set(self._config.required_roles)
        if not wanted:
            return False
        return any(
            m.status is MembershipStatus.ACTIVE and wanted.intersection(m.roles)
            for m in self._storage.memberships_of(account.id)
        )

    def needs_enrolment(self, account: Account) -> bool:
        """True when a second factor is required for the account and it has none confirmed:
        the login then asks for ``enroll_totp`` before any session."""
        return self.required_for(account) and not self.has_factor(account)

    # -- enrolment from a session -----------------------------------------------------------

    def begin_totp(
        self, session: Session | str, *, issuer: str | None = None, locale: str | None = None
    ) -> TotpSetup:
        """Start a TOTP enrolment: a new 160-bit secret, stored unconfirmed (replacing an
        unconfirmed one), its URI and QR code. ``issuer`` defaults to ``settings.mfa.issuer``;
        a bad one raises InvalidInput(field="issuer") and changes nothing. While a confirmed
        TOTP exists the answer is ``refused`` (``mfa.already_enrolled``): disable it first."""
        lang = self._lang(locale)
        name = self.issuer(issuer)
        account = self._session_account(session)
        if account is None:
            return TotpSetup(
                MfaStatus.INVALID, "session.invalid", self._text("session.invalid", lang)
            )
        return self.start_totp(account, name, lang)

    def confirm_totp(
        self, session: Session | str, code: str, *, locale: str | None = None
    ) -> MfaResult:
        """Activate the unconfirmed TOTP with a first valid code (6 digits, else InvalidInput).

        ``completed`` carries the new recovery codes when the account had none left (shown
        once); a wrong code leaves the factor unconfirmed (``mfa.code_wrong``)."""
        lang = self._lang(locale)
        entered = parse_code(code, digits=(totp.DIGITS,), recovery=False)
        account = self._session_account(session)
        if account is None:
            return self._result(MfaStatus.INVALID, "session.invalid", lang)
        refusal, step = self.totp_enrolment_step(account, entered.value)
        if refusal is not None:
            return self._result(MfaStatus.REFUSED, refusal, lang)
        try:
            with self._storage.transaction():
                _, codes = self.activate(account, MfaKind.TOTP, step=step)
        except ConcurrentUpdate:  # the same code confirmed twice at once: one wins
            return self._result(MfaStatus.REFUSED, "mfa.code_wrong", lang)
        return self._result(MfaStatus.COMPLETED, "mfa.confirmed", lang, recovery_codes=codes)

    def begin_sms(
        self, session: Session | str, phone: str, *, locale: str | None = None
    ) -> MfaResult:
        """Send a code to ``phone`` (E.164: ``+`` then 8 to 15 digits, else InvalidInput) to
        enrol it; a new call voids the previous code. ``refused`` with ``mfa.already_enrolled``
        while a confirmed phone exists, or ``mfa.too_many_codes`` over the SMS rate limit."""
        lang = self._lang(locale)
        number = check_phone(phone)
        account = self._session_account(session)
        if account is None:
            return self._result(MfaStatus.INVALID, "session.invalid", lang)
        if MfaKind.SMS in confirmed(self._storage, account.id):
            return self._result(MfaStatus.REFUSED, "mfa.already_enrolled", lang)
        if not self._sms_allowed(account):
            return self._result(MfaStatus.REFUSED, "mfa.too_many_codes", lang)
        digest = self._enrol_hash(account.id)
        previous = self._storage.get_flow(digest)
        serial = int(previous.data.get("sms_serial", 0)) + 1 if previous is not None else 1
        code, data = self._new_sms(digest, number, serial)
        now = self._clock.now()
        with self._storage.transaction():
            self._storage.delete_flow(digest)
            self._storage.save_flow(
                FlowRecord(
                    handle_hash=digest,
                    kind=ENROL_FLOW,
                    account_id=account.id,
                    state="sms_sent",
                    data=data,
                    created_at=now,
                    expires_at=now + timedelta(seconds=self._config.sms_code_lifetime),
                )
            )
            self._audit.record("mfa_enrolled", account.id, kind=MfaKind.SMS.value)
            self._send_sms(number, code, lang)
        return self._result(MfaStatus.NEXT, "mfa.code_sent", lang, {"phone_end": number[-2:]})

    def confirm_sms(
        self, session: Session | str, code: str, *, locale: str | None = None
    ) -> MfaResult:
        """Confirm the phone with the code ``begin_sms`` sent (its digits, else InvalidInput).

        ``refused`` with ``mfa.code_wrong``, ``mfa.code_burned`` (out of tries: begin again),
        ``mfa.code_expired`` or ``mfa.not_started``."""
        lang = self._lang(locale)
        entered = parse_code(code, digits=(self._config.sms_code_digits,), recovery=False)
        account = self._session_account(session)
        if account is None:
            return self._result(MfaStatus.INVALID, "session.invalid", lang)
        record = self._storage.get_flow(self._enrol_hash(account.id))
        if record is None or record.kind != ENROL_FLOW or record.account_id != account.id:
            return self._result(MfaStatus.REFUSED, "mfa.not_started", lang)
        if self._clock.now() > record.expires_at:
            self._storage.delete_flow(record.handle_hash)
            return self._result(MfaStatus.REFUSED, "mfa.code_expired", lang)
        check = self._check_sms(record, record.data["phone"], entered.value)
        if not check.matched:
            self._audit.record("mfa_failed", account.id, method="sms", reason="enrolment")
            return self._result(
                MfaStatus.REFUSED, "mfa.code_burned" if check.burned else "mfa.code_wrong", lang
            )
        try:
            with self._storage.transaction():
                self._storage.advance_flow(
                    record.model_copy(update={"state": "done"}), expected_state=record.state
                )
                self._storage.delete_flow(record.handle_hash)
                _, codes = self.activate(account, MfaKind.SMS, phone=record.data["phone"])
        except ConcurrentUpdate:
            return self._result(MfaStatus.REFUSED, "mfa.not_started", lang)
        return self._result(MfaStatus.COMPLETED, "mfa.confirmed", lang, recovery_codes=codes)

    def factors(self, session: Session | str) -> tuple[MfaKind, ...]:
        """The session account's confirmed factors (empty when the session is not valid)."""
        account = self._session_account(session)
        if account is None:
            return ()
        return tuple(sorted(confirmed(self._storage, account.id), key=lambda k: k.value))

    # -- the login step ---------------------------------------------------------------------

    def methods(self, flow: str) -> tuple[str, ...]:
        """What a pending second-factor step accepts: ``totp``, ``sms`` (offer ``send_code``)
        and ``recovery_code`` when some are left. Works for a login's ``mfa`` flow and for a
        recovery at its ``mfa`` step; empty when the flow is not usable."""
        record = self._storage.get_flow(nonce_hash(flow)) if isinstance(flow, str) else None
        if record is None or record.account_id is None or self._clock.now() > record.expires_at:
            return ()
        usable = (record.kind, record.state) in ((LOGIN_FLOW, PENDING), ("recovery", "mfa"))
        if not usable:
            return ()
        found = [k.value for k in sorted(confirmed(self._storage, record.account_id))]
        if found and self._storage.recovery_codes_left(record.account_id):
            found.append(RECOVERY_CODE)
        return tuple(found)

    def send_code(self, flow: str, *, locale: str | None = None) -> MfaResult:
        """Send a code by SMS to the confirmed phone of the account behind a login's ``mfa``
        flow. A new code voids the previous one; ``refused`` with ``mfa.no_phone`` or
        ``mfa.too_many_codes``."""
        lang = self._lang(locale)
        loaded = self._load(flow, lang)
        if isinstance(loaded, MfaResult):
            return loaded
        record, account = loaded
        prepared = self.prepare_sms(account, record)
        if isinstance(prepared, str):
            return self._result(MfaStatus.REFUSED, prepared, lang, flow=flow)
        code, number, data = prepared
        try:
            with self._storage.transaction():
                self._storage.advance_flow(
                    record.model_copy(update={"data": {**record.data, **data}}),
                    expected_state=PENDING,
                )
                self._audit.record("mfa_code_sent", account.id, during="login")
                self._send_sms(number, code, lang)
        except ConcurrentUpdate:
            return self._result(MfaStatus.INVALID, "flow.invalid", lang)
        return self._result(
            MfaStatus.NEXT, "mfa.code_sent", lang, {"phone_end": number[-2:]}, flow=flow
        )

    def verify(self, flow: str, code: str, *, locale: str | None = None) -> MfaResult:
        """The second factor of a login: a TOTP code, the SMS code or a recovery code.

        A malformed code (letters in a digit code, a wrong length) raises
        InvalidInput(field="code") and changes nothing. ``completed`` carries the session (and
        ``codes_left`` after a recovery code); ``refused`` keeps the flow for another try;
        ``locked`` ends it; ``expired`` and ``invalid`` mean signing in again.
        """
        lang = self._lang(locale)
        entered = self.parse(code)
        loaded = self._load(flow, lang)
        if isinstance(loaded, MfaResult):
            return loaded
        record, account = loaded
        if self._lockout.is_locked(account):
            return self._locked(record, account, lang)
        check = self.check(account, entered, record)
        if check.matched:
            try:
                with self._storage.transaction():
                    fresh = self._storage.get_account(account.id) or account
                    if self._lockout.is_locked(fresh):  # locked by a parallel failure
                        return self._locked(record, fresh, lang)
                    if self.consume(account, check):
                        self._storage.advance_flow(
                            record.model_copy(update={"state": "done"}), expected_state=PENDING
                        )
                        self._storage.delete_flow(record.handle_hash)
                        fresh = self._lockout.register_success(fresh)
                        left = self.passed(fresh, check, during="login")
                        self._audit.record(
                            "login_succeeded", fresh.id, after="mfa", method=check.method
                        )
                        session = self._sessions.issue(fresh)
                        code_ = "mfa.recovery_code_used" if left is not None else "mfa.verified"
                        return self._result(
                            MfaStatus.COMPLETED,
                            code_,
                            lang,
                            {"left": left} if left is not None else None,
                            session=session,
                            codes_left=left,
                        )
            except ConcurrentUpdate:
                return self._result(MfaStatus.INVALID, "flow.invalid", lang)
        outcome = self.failed(account, check, during="login", locale=lang)
        if outcome is not None and outcome.locked:
            self._storage.delete_flow(record.handle_hash)
            return self._result(MfaStatus.LOCKED, "mfa.locked", lang)
        return self._result(MfaStatus.REFUSED, self.refusal_code(check), lang, flow=flow)

    # -- recovery codes and removal ---------------------------------------------------------

    def regenerate_recovery_codes(
        self, session: Session | str, *, password: str, locale: str | None = None
    ) -> MfaResult:
        """A new set of recovery codes (shown once), voiding every old one. Needs the current
        password (a wrong one counts toward lockout) and a confirmed factor (RC-05)."""
        lang = self._lang(locale)
        if not isinstance(password, str):
            raise InvalidInput("must be a str", field="password")
        account = self._session_account(session)
        if account is None:
            return self._result(MfaStatus.INVALID, "session.invalid", lang)
        if not self.has_factor(account):
            return self._result(MfaStatus.REFUSED, "mfa.not_enrolled", lang)
        if self._lockout.is_locked(account):
            return self._result(MfaStatus.LOCKED, "mfa.locked", lang)
        if not self._password_ok(account, password):
            return self._password_refused(account, "regenerate", lang)
        with self._storage.transaction():
            fresh = self._lockout.register_success(account)
            codes = self._new_recovery_codes(fresh.id)
            self._audit.record("mfa_recovery_codes_regenerated", fresh.id, count=len(codes))
        return self._result(MfaStatus.COMPLETED, "mfa.recovery_codes", lang, recovery_codes=codes)

    def disable(
        self,
        session: Session | str,
        kind: MfaKind | str,
        *,
        password: str | None = None,
        code: str | None = None,
        locale: str | None = None,
    ) -> MfaResult:
        """Remove the factor of ``kind`` (confirmed or not), proven by the current password *or*
        a valid code (a TOTP code or a recovery code); give exactly one of them, else
        InvalidInput. A wrong one counts toward lockout (``refused``).

        When no confirmed factor is left, the recovery codes go too and the password rule is
        checked again without MFA: with the password, that password is evaluated; with a code
        (the password unknown), the check assumes the worst when the rule's MFA minimum is
        lower than its plain one. A failing check adds the ``change_password`` required action
        (``action`` in the result), so the next login asks for a new password.
        """
        lang = self._lang(locale)
        factor_kind = _kind(kind)
        if (password is None) == (code is None):
            raise InvalidInput("give the current password or a code, not both", field="password")
        if password is not None and not isinstance(password, str):
            raise InvalidInput("must be a str", field="password")
        entered = parse_code(code, digits=(totp.DIGITS,)) if code is not None else None
        account = self._session_account(session)
        if account is None:
            return self._result(MfaStatus.INVALID, "session.invalid", lang)
        factor = next(
            (f for f in self._storage.mfa_factors(account.id) if f.kind is factor_kind), None
        )
        if factor is None:
            return self._result(MfaStatus.REFUSED, "mfa.not_enrolled", lang)
        if self._lockout.is_locked(account):
            return self._result(MfaStatus.LOCKED, "mfa.locked", lang)
        if entered is None:
            assert password is not None
            if not self._password_ok(account, password):
                return self._password_refused(account, "disable", lang)
            check = None
        else:
            check = self.check(account, entered, None)
        action = None
        with self._storage.transaction():
            proven = check is None or (check.matched and self.consume(account, check))
            if proven:
                action = self._remove(account, factor, password)
                self._audit.record(
                    "mfa_disabled",
                    account.id,
                    kind=factor.kind.value,
                    by="password" if check is None else check.method,
                    must_change=action is not None,
                )
        if not proven:
            assert check is not None
            outcome = self.failed(account, check, during="disable", locale=lang)
            if outcome is not None and outcome.locked:
                return self._result(MfaStatus.LOCKED, "mfa.locked", lang)
            return self._result(MfaStatus.REFUSED, self.refusal_code(check), lang)
        return self._result(MfaStatus.COMPLETED, "mfa.disabled", lang, action=action)

    # -- building blocks (first login, recovery) --------------------------------------------

    def issuer(self, issuer: str | None) -> str:
        """The issuer to show in apps: ``issuer`` when given (checked), else the setting's."""
        return self._config.issuer if issuer is None else totp.check_issuer(issuer)

    def parse(self, code: object) -> EnteredCode:
        """A typed second-factor code: TOTP or SMS digits, or a recovery code (else
        InvalidInput(field="code"))."""
        return parse_code(code, digits={totp.DIGITS, self._config.sms_code_digits})

    def start_totp(self, account: Account, issuer: str, lang: str) -> TotpSetup:
        """Store a new unconfirmed TOTP secret for ``account`` and return its setup."""
        if MfaKind.TOTP in confirmed(self._storage, account.id):
            return TotpSetup(
                MfaStatus.REFUSED, "mfa.already_enrolled", self._text("mfa.already_enrolled", lang)
            )
        secret = totp.new_secret()
        with self._storage.transaction():
            self._storage.save_mfa_factor(
                MfaFactor(
                    account_id=account.id,
                    kind=MfaKind.TOTP,
                    secret=secret,
                    created_at=self._clock.now(),
                )
            )
            self._audit.record("mfa_enrolled", account.id, kind=MfaKind.TOTP.value)
        uri = totp.otpauth_uri(secret, issuer=issuer, account_name=account.identifier)
        return TotpSetup(
            MfaStatus.NEXT, "mfa.totp_started", self._text("mfa.totp_started", lang), secret, uri
        )

    def totp_enrolment_step(self, account: Account, code: str) -> tuple[str | None, int | None]:
        """``(None, step)`` when ``code`` is right for the account's *unconfirmed* TOTP, else
        ``(refusal message code, None)``. Nothing is written."""
        factor = next(
            (f for f in self._storage.mfa_factors(account.id) if f.kind is MfaKind.TOTP), None
        )
        if factor is None or factor.secret is None:
            return "mfa.not_started", None
        if factor.confirmed:
            return "mfa.already_enrolled", None
        step = totp.matching_step(factor.secret, code, self._now_step())
        if step is None:
            self._audit.record("mfa_failed", account.id, method="totp", reason="enrolment")
            return "mfa.code_wrong", None
        return None, step

    def activate(
        self,
        account: Account,
        kind: MfaKind,
        *,
        step: int | None = None,
        phone: str | None = None,
    ) -> tuple[Account, tuple[str, ...]]:
        """Confirm a factor, inside the caller's transaction: the TOTP's first step is marked
        used (ConcurrentUpdate if it already was), ``enroll_totp`` leaves the required actions,
        and the first factor brings new recovery codes (returned formatted, to show once)."""
        now = self._clock.now()
        if kind is MfaKind.TOTP:
            assert step is not None
            if not self._storage.use_totp_step(account.id, step):
                raise ConcurrentUpdate("that TOTP step was already used")
            factor = next(f for f in self._storage.mfa_factors(account.id) if f.kind is kind)
            self._storage.save_mfa_factor(factor.model_copy(update={"confirmed": True}))
        else:
            self._storage.save_mfa_factor(
                MfaFactor(
                    account_id=account.id, kind=kind, phone=phone, confirmed=True, created_at=now
                )
            )
        current = self._storage.get_account(account.id) or account
        if RequiredAction.ENROLL_TOTP in current.required_actions:
            actions = tuple(
                a for a in current.required_actions if a is not RequiredAction.ENROLL_TOTP
            )
            current = self._storage.update_account(
                current.model_copy(update={"required_actions": actions, "updated_at": now})
            )
        codes: tuple[str, ...] = ()
        if not self._storage.recovery_codes_left(account.id):
            codes = self._new_recovery_codes(account.id)
        self._audit.record("mfa_confirmed", account.id, kind=kind.value, recovery=bool(codes))
        return current, codes

    def check(self, account: Account, entered: EnteredCode, record: FlowRecord | None) -> CodeCheck:
        """Compare ``entered`` with the account's factors (and the SMS code of ``record``, when
        one was sent). Nothing is written, except the SMS try counter (atomic, so parallel
        guesses cannot exceed the tries)."""
        if entered.kind == "recovery":
            digest = recovery_codes.code_hash(account.id, entered.value)
            return CodeCheck(RECOVERY_CODE, True, digest=digest)
        factors = confirmed(self._storage, account.id)
        sms = self._live_sms(record, factors.get(MfaKind.SMS), entered.value)
        if sms is not None and (sms.matched or sms.expired):
            return sms
        factor = factors.get(MfaKind.TOTP)
        if factor is not None and factor.secret is not None and len(entered.value) == totp.DIGITS:
            step = totp.matching_step(factor.secret, entered.value, self._now_step())
            if step is not None:
                return CodeCheck("totp", True, step=step)
        return sms or CodeCheck("totp", False)

    def consume(self, account: Account, check: CodeCheck) -> bool:
        """Use a matched code, atomically, inside the caller's transaction: the TOTP step must
        be newer than every step used before; the recovery code must be unused. An SMS code is
        consumed with its flow (the caller's compare-and-set)."""
        if check.method == "totp":
            assert check.step is not None
            return self._storage.use_totp_step(account.id, check.step)
        if check.method == RECOVERY_CODE:
            assert check.digest is not None
            return self._storage.use_recovery_code(account.id, check.digest, self._clock.now())
        return True

    def passed(self, account: Account, check: CodeCheck, *, during: str) -> int | None:
        """Record a passed second factor; for a recovery code, return how many are left."""
        self._audit.record("mfa_verified", account.id, method=check.method, during=during)
        if check.method != RECOVERY_CODE:
            return None
        left = self._storage.recovery_codes_left(account.id)
        self._audit.record("mfa_recovery_code_used", account.id, left=left, during=during)
        return left

    def failed(
        self, account: Account, check: CodeCheck, *, during: str, locale: str
    ) -> FailureOutcome | None:
        """Record a failed code in its own transaction and count it toward lockout (a right
        SMS code past its lifetime is not counted: it was no guess)."""
        reason = "expired" if check.expired else "burned" if check.burned else "wrong"
        if check.matched:
            reason = "replayed" if check.method == "totp" else "used"
        with self._storage.transaction():
            self._audit.record(
                "mfa_failed", account.id, method=check.method, reason=reason, during=during
            )
            if check.expired:
                return None
            return self._lockout.register_failure(account, factor=check.method, locale=locale)

    @staticmethod
    def refusal_code(check: CodeCheck) -> str:
        """The message code of a refused code."""
        if check.expired:
            return "mfa.code_expired"
        if check.burned:
            return "mfa.code_burned"
        return "mfa.code_wrong"

    def prepare_sms(
        self, account: Account, record: FlowRecord
    ) -> tuple[str, str, dict[str, Any]] | str:
        """A new SMS code for the flow ``record``: ``(code, phone, flow data)``, or the refusal
        message code (no confirmed phone, or over the SMS rate limit)."""
        factor = confirmed(self._storage, account.id).get(MfaKind.SMS)
        if factor is None or factor.phone is None:
            return "mfa.no_phone"
        if not self._sms_allowed(account):
            return "mfa.too_many_codes"
        serial = int(record.data.get("sms_serial", 0)) + 1
        code, data = self._new_sms(record.handle_hash, factor.phone, serial)
        return code, factor.phone, data

    def send_sms(self, phone: str, code: str, lang: str) -> None:
        """Hand the SMS to the notifier (``sms_code`` on the ``sms`` channel)."""
        self._send_sms(phone, code, lang)

    # -- internals --------------------------------------------------------------------------

    def _lang(self, locale: str | None) -> str:
        return self._messages.resolve(locale or self._settings.locale)

    def _text(self, code: str, lang: str, params: dict[str, Any] | None = None) -> str:
        return self._messages.render(code, lang, params)

    def _result(
        self,
        status: MfaStatus,
        code: str,
        lang: str,
        params: dict[str, Any] | None = None,
        *,
        flow: str | None = None,
        session: Session | None = None,
        recovery_codes: tuple[str, ...] = (),
        codes_left: int | None = None,
        action: RequiredAction | None = None,
    ) -> MfaResult:
        return MfaResult(
            status,
            code,
            self._text(code, lang, params),
            flow=flow,
            session=session,
            recovery_codes=recovery_codes,
            codes_left=codes_left,
            action=action,
        )

    def _session_account(self, session: Session | str) -> Account | None:
        token = session.token if isinstance(session, Session) else session
        if not isinstance(token, str):
            raise InvalidInput("must be a session token (str)", field="session")
        return self._sessions.validate(token)

    def _now_step(self) -> int:
        return totp.step_at(self._clock.now().timestamp())

    def _load(self, flow: object, lang: str) -> tuple[FlowRecord, Account] | MfaResult:
        """The login's pending ``mfa`` flow and its account, or the result that ends it."""
        if not isinstance(flow, str) or not flow:
            return self._result(MfaStatus.INVALID, "flow.invalid", lang)
        record = self._storage.get_flow(nonce_hash(flow))
        if (
            record is None
            or record.kind != LOGIN_FLOW
            or record.state != PENDING
            or record.account_id is None
        ):
            return self._result(MfaStatus.INVALID, "flow.invalid", lang)
        if self._clock.now() > record.expires_at:
            self._storage.delete_flow(record.handle_hash)
            return self._result(MfaStatus.EXPIRED, "flow.expired", lang)
        account = self._storage.get_account(record.account_id)
        if (
            account is None
            or account.status is not AccountStatus.ACTIVE
            or account.credential_version != record.data.get("cv")
        ):
            return self._result(MfaStatus.INVALID, "flow.invalid", lang)
        return record, account

    def _locked(self, record: FlowRecord, account: Account, lang: str) -> MfaResult:
        """A locked account: the pending step ends, and nothing is counted (LK-04)."""
        with self._storage.transaction():
            self._storage.delete_flow(record.handle_hash)
            self._audit.record("mfa_failed", account.id, reason="account_locked", during="login")
        return self._result(MfaStatus.LOCKED, "mfa.locked", lang)

    def _password_ok(self, account: Account, password: str) -> bool:
        if too_long(password):
            return False  # refused unhashed (PW-03)
        credential = self._storage.get_password(account.id)
        if credential is None:
            self._hasher.dummy_verify(password)
            return False
        return self._hasher.verify(credential.hash, password).ok

    def _password_refused(self, account: Account, during: str, lang: str) -> MfaResult:
        with self._storage.transaction():
            self._audit.record(
                "mfa_failed", account.id, method="password", reason="wrong", during=during
            )
            outcome = self._lockout.register_failure(account, factor="password", locale=lang)
        if outcome.locked:
            return self._result(MfaStatus.LOCKED, "mfa.locked", lang)
        return self._result(MfaStatus.REFUSED, "mfa.password_wrong", lang)

    def _remove(
        self, account: Account, factor: MfaFactor, password: str | None
    ) -> RequiredAction | None:
        """Delete ``factor`` (inside the caller's transaction); when it was the last confirmed
        one, drop the recovery codes and re-check the password rule without MFA."""
        self._storage.delete_mfa_factor(account.id, factor.kind)
        if factor.kind is MfaKind.SMS:
            self._storage.delete_flow(self._enrol_hash(account.id))
        if not factor.confirmed or self.has_factor(account):
            return None
        self._storage.replace_recovery_codes(account.id, [])
        if not self._fails_without_mfa(account, password):
            return None
        current = self._storage.get_account(account.id) or account
        if RequiredAction.CHANGE_PASSWORD not in current.required_actions:
            actions = (RequiredAction.CHANGE_PASSWORD, *current.required_actions)
            self._storage.update_account(
                current.model_copy(
                    update={
                        "required_actions": tuple(sorted(actions, key=_ORDER.__getitem__)),
                        "updated_at": self._clock.now(),
                    }
                )
            )
        return RequiredAction.CHANGE_PASSWORD

    def _fails_without_mfa(self, account: Account, password: str | None) -> bool:
        """Whether the password rule, applied without MFA, refuses the current password (or,
        the password unknown, might: the rule's MFA minimum is lower than its plain one)."""
        policy = self._settings.password_policy
        if password is None:
            return any(
                isinstance(r, MinLength) and r.effective(True) < r.effective(False)
                for r in policy.rules
            )
        report = policy.evaluate(
            password, identifier=account.identifier, email=account.email, has_mfa=False
        )
        return not report.ok

    def _new_recovery_codes(self, account_id: str) -> tuple[str, ...]:
        """Replace the account's recovery codes with a new set; return it formatted."""
        codes = recovery_codes.generate(self._config.recovery_codes)
        self._storage.replace_recovery_codes(
            account_id, recovery_codes.records(account_id, codes, self._clock.now())
        )
        return tuple(recovery_codes.format_code(c) for c in codes)

    def _enrol_hash(self, account_id: str) -> str:
        """Where an account's SMS enrolment waits: a key no handle can hash to."""
        message = f"credflow.mfa-enrol:{account_id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _sms_allowed(self, account: Account) -> bool:
        bucket = int(self._clock.now().timestamp()) // SMS_RATE_WINDOW
        count = self._storage.increment_counter(f"mfa-sms:{account.id}:{bucket}", self._clock.now())
        return count <= SMS_RATE_LIMIT

    def _new_sms(self, handle_hash: str, phone: str, serial: int) -> tuple[str, dict[str, Any]]:
        code = new_code(self._config.sms_code_digits)
        expires = self._clock.now() + timedelta(seconds=self._config.sms_code_lifetime)
        return code, {
            "sms": code_hash(self._key, handle_hash, code, bound_to=phone),
            "sms_expires": expires.isoformat(),
            "sms_serial": serial,
            "phone": phone,
        }

    def _live_sms(
        self, record: FlowRecord | None, factor: MfaFactor | None, code: str
    ) -> CodeCheck | None:
        """The check of ``code`` against the SMS code sent in ``record``, or None when no code
        was sent there (or ``code`` has not its length)."""
        if record is None or factor is None or factor.phone is None or not record.data.get("sms"):
            return None
        if len(code) != self._config.sms_code_digits:
            return None
        return self._check_sms(record, factor.phone, code)

    def _check_sms(self, record: FlowRecord, phone: str, code: str) -> CodeCheck:
        """Spend one try of the flow's SMS code (atomically), then compare. The code is bound
        to the phone it was sent to: a code sent before the number changed matches nothing."""
        data = record.data
        key = f"mfa-sms-tries:{record.handle_hash}:{data.get('sms_serial', 0)}"
        tries = self._storage.increment_counter(key, self._clock.now())
        if tries > self._config.sms_code_attempts:
            return CodeCheck("sms", False, burned=True)
        if not code_matches(data["sms"], self._key, record.handle_hash, code, bound_to=phone):
            return CodeCheck("sms", False, burned=tries >= self._config.sms_code_attempts)
        if self._clock.now() > datetime.fromisoformat(data["sms_expires"]):
            return CodeCheck("sms", False, expired=True)
        return CodeCheck("sms", True)

    def _send_sms(self, phone: str, code: str, lang: str) -> None:
        self._notifier.send(
            Message(
                "sms_code",
                phone,
                lang,
                {"code": code, "expires_minutes": str(self._config.sms_code_lifetime // 60)},
                channel="sms",
                secret_params=frozenset({"code"}),
            )
        )


def _kind(kind: object) -> MfaKind:
    """``kind`` as an MfaKind, else InvalidInput(field="kind")."""
    if isinstance(kind, str) and kind in {k.value for k in MfaKind}:
        return MfaKind(kind)
    raise InvalidInput("must be 'totp' or 'sms'", field="kind")
