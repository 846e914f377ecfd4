"""``cf.mfa``: enrol, use and remove second factors (Sage: an app, or a code sent to the phone).

- **Enrolment** from a session: ``begin_totp`` stores a new seed *unconfirmed* (the secret is
  derived from it with the settings key and never stored, OT-08) and returns the ``otpauth://``
  URI and its QR code; ``confirm_totp`` activates it after a first valid code. ``begin_sms``
  sends a code to a phone number; ``confirm_sms`` activates it. The first factor comes with ten
  recovery codes, shown once.
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
- **Notices**: a factor added or removed, a recovery code used and a new set of codes are mailed
  to the account (``notices``).

The work is split: ``verifier`` checks and uses codes, ``enrolment`` makes and activates
factors, ``sms`` handles codes sent by SMS, ``removal`` takes factors away. Recovery
(``cf.recovery``) and first login (``cf.first_login``) use the building blocks at the end of the
class: they never bypass a confirmed factor (RS-13).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from credflow.audit import Audit
from credflow.clock import Clock
from credflow.errors import ConcurrentUpdate
from credflow.hashing import Hasher
from credflow.lockout import FailureOutcome, LockoutService
from credflow.messages import Messages
from credflow.mfa import totp
from credflow.mfa.checks import CodeCheck
from credflow.mfa.enrolment import Enrolment
from credflow.mfa.entry import EnteredCode, check_phone, parse_code
from credflow.mfa.factors import confirmed, has_confirmed_factor
from credflow.mfa.login_step import LoginStep
from credflow.mfa.notices import Notices
from credflow.mfa.removal import Removal
from credflow.mfa.replies import Replies
from credflow.mfa.sms import SmsCodes
from credflow.mfa.totp import TotpSetup
from credflow.mfa.verifier import Verifier
from credflow.notify import Notifier
from credflow.results import MfaResult, MfaStatus, Session
from credflow.sessions import SessionService
from credflow.settings import Settings
from credflow.storage.protocols import Storage
from credflow.storage.records import (
    Account,
    FlowRecord,
    MembershipStatus,
    MfaKind,
)

__all__ = ["CodeCheck", "MfaService"]

ENROL_FLOW = "mfa_enrol"


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
        self._config = settings.mfa
        self._clock = clock
        self._audit = audit
        self._lockout = lockout
        self._replies = Replies(messages, sessions, settings.locale)
        notices = Notices(notifier, messages, clock, settings.base_url)
        self._sms = SmsCodes(storage, settings.mfa, clock, notifier, settings.signing_keys[0])
        self._verifier = Verifier(
            storage, settings, hasher, clock, audit, lockout, self._replies, self._sms, notices
        )
        self._enrolment = Enrolment(
            storage, settings.mfa, hasher, clock, audit, self._replies, self._verifier, notices
        )
        self._login = LoginStep(
            storage,
            clock,
            audit,
            lockout,
            sessions,
            self._replies,
            self._verifier,
            self._sms,
            notices,
        )
        parts = (self._replies, self._verifier, self._enrolment, self._sms, notices)
        self._removal = Removal(storage, settings, hasher, clock, audit, lockout, parts)

    def __repr__(self) -> str:
        return f"MfaService(issuer={self._config.issuer!r})"

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
        """Start a TOTP enrolment: a new 160-bit secret (only its seed is stored, unconfirmed,
        replacing an unconfirmed one), its URI and QR code. ``issuer`` defaults to
        ``settings.mfa.issuer``; a bad one raises InvalidInput(field="issuer") and changes
        nothing. While a confirmed TOTP exists the answer is ``refused``
        (``mfa.already_enrolled``): disable it first."""
        lang = self._lang(locale)
        name = self.issuer(issuer)
        account = self._replies.account(session)
        if account is None:
            return TotpSetup(
                MfaStatus.INVALID, "session.invalid", self._replies.text("session.invalid", lang)
            )
        return self.start_totp(account, name, lang)

    def confirm_totp(
        self, session: Session | str, code: str, *, locale: str | None = None
    ) -> MfaResult:
        """Activate the unconfirmed TOTP with a first valid code (6 digits, else InvalidInput).

        ``completed`` carries the new recovery codes when the account had none left (shown
        once) and mails ``mfa_enabled``; a wrong code leaves the factor unconfirmed
        (``mfa.code_wrong``)."""
        lang = self._lang(locale)
        entered = parse_code(code, digits=(totp.DIGITS,), recovery=False)
        account = self._replies.account(session)
        if account is None:
            return self._replies.result(MfaStatus.INVALID, "session.invalid", lang)
        refusal, step = self.totp_enrolment_step(account, entered.value)
        if refusal is not None:
            return self._replies.result(MfaStatus.REFUSED, refusal, lang)
        prepared = self._enrolment.codes_for(account)
        try:
            with self._storage.transaction():
                _, codes = self._enrolment.activate(
                    account, MfaKind.TOTP, step=step, codes=prepared, lang=lang
                )
        except ConcurrentUpdate:  # the same code confirmed twice at once: one wins
            return self._replies.result(MfaStatus.REFUSED, "mfa.code_wrong", lang)
        return self._replies.result(
            MfaStatus.COMPLETED, "mfa.confirmed", lang, recovery_codes=codes
        )

    def begin_sms(
        self, session: Session | str, phone: str, *, locale: str | None = None
    ) -> MfaResult:
        """Send a code to ``phone`` (E.164: ``+`` then 8 to 15 digits, else InvalidInput) to
        enrol it; a new call voids the previous code. ``refused`` with ``mfa.already_enrolled``
        while a confirmed phone exists, or ``mfa.too_many_codes`` over the SMS rate limit."""
        lang = self._lang(locale)
        number = check_phone(phone)
        account = self._replies.account(session)
        if account is None:
            return self._replies.result(MfaStatus.INVALID, "session.invalid", lang)
        if MfaKind.SMS in confirmed(self._storage, account.id):
            return self._replies.result(MfaStatus.REFUSED, "mfa.already_enrolled", lang)
        if not self._sms.allowed(account.id):
            return self._replies.result(MfaStatus.REFUSED, "mfa.too_many_codes", lang)
        digest = self._sms.enrol_hash(account.id)
        previous = self._storage.get_flow(digest)
        serial = int(previous.data.get("sms_serial", 0)) + 1 if previous is not None else 1
        code, data = self._sms.new(digest, number, serial)
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
            self._sms.send(number, code, lang)
        return self._replies.result(
            MfaStatus.NEXT, "mfa.code_sent", lang, {"phone_end": number[-2:]}
        )

    def confirm_sms(
        self, session: Session | str, code: str, *, locale: str | None = None
    ) -> MfaResult:
        """Confirm the phone with the code ``begin_sms`` sent (its digits, else InvalidInput);
        mails ``mfa_enabled``.

        ``refused`` with ``mfa.code_wrong``, ``mfa.code_burned`` (out of tries: begin again),
        ``mfa.code_expired`` or ``mfa.not_started``."""
        lang = self._lang(locale)
        entered = parse_code(code, digits=(self._config.sms_code_digits,), recovery=False)
        account = self._replies.account(session)
        if account is None:
            return self._replies.result(MfaStatus.INVALID, "session.invalid", lang)
        record = self._storage.get_flow(self._sms.enrol_hash(account.id))
        if record is None or record.kind != ENROL_FLOW or record.account_id != account.id:
            return self._replies.result(MfaStatus.REFUSED, "mfa.not_started", lang)
        if self._clock.now() > record.expires_at:
            self._storage.delete_flow(record.handle_hash)
            return self._replies.result(MfaStatus.REFUSED, "mfa.code_expired", lang)
        check = self._sms.check(record, record.data["phone"], entered.value)
        if not check.matched:
            self._audit.record("mfa_failed", account.id, method="sms", reason="enrolment")
            return self._replies.result(
                MfaStatus.REFUSED, "mfa.code_burned" if check.burned else "mfa.code_wrong", lang
            )
        prepared = self._enrolment.codes_for(account)
        try:
            with self._storage.transaction():
                self._storage.advance_flow(
                    record.model_copy(update={"state": "done"}), expected_state=record.state
                )
                self._storage.delete_flow(record.handle_hash)
                _, codes = self._enrolment.activate(
                    account, MfaKind.SMS, phone=record.data["phone"], codes=prepared, lang=lang
                )
        except ConcurrentUpdate:
            return self._replies.result(MfaStatus.REFUSED, "mfa.not_started", lang)
        return self._replies.result(
            MfaStatus.COMPLETED, "mfa.confirmed", lang, recovery_codes=codes
        )

    def factors(self, session: Session | str) -> tuple[MfaKind, ...]:
        """The session account's confirmed factors (empty when the session is not valid)."""
        account = self._replies.account(session)
        if account is None:
            return ()
        return tuple(sorted(confirmed(self._storage, account.id), key=lambda k: k.value))

    def recovery_codes_left(self, session: Session | str) -> int:
        """How many unused recovery codes the session account has (0 when the session is not
        valid): an account page shows it beside "make new codes" before the last one goes."""
        account = self._replies.account(session)
        if account is None:
            return 0
        return self._storage.recovery_codes_left(account.id)

    # -- the login step ---------------------------------------------------------------------

    def methods(self, flow: str) -> tuple[str, ...]:
        """What a pending second-factor step accepts: ``totp``, ``sms`` (offer ``send_code``)
        and ``recovery_code`` when some are left. Works for a login's ``mfa`` flow and for a
        recovery at its ``mfa`` step; empty when the flow is not usable."""
        return self._login.methods(flow)

    def send_code(self, flow: str, *, locale: str | None = None) -> MfaResult:
        """Send a code by SMS to the confirmed phone of the account behind a login's ``mfa``
        flow. A new code voids the previous one; ``refused`` with ``mfa.no_phone`` or
        ``mfa.too_many_codes``."""
        return self._login.send_code(flow, self._lang(locale))

    def verify(self, flow: str, code: str, *, locale: str | None = None) -> MfaResult:
        """The second factor of a login: a TOTP code, the SMS code or a recovery code.

        A malformed code (letters in a digit code, a wrong length) raises
        InvalidInput(field="code") and changes nothing. ``completed`` carries the session (and
        ``codes_left`` after a recovery code, which also mails ``recovery_code_used``);
        ``refused`` keeps the flow for another try; ``locked`` ends it; ``expired`` and
        ``invalid`` mean signing in again. A refused TOTP replay is a ``totp_replay`` event.
        """
        lang = self._lang(locale)
        return self._login.verify(flow, self.parse(code), lang)

    # -- recovery codes and removal ---------------------------------------------------------

    def regenerate_recovery_codes(
        self, session: Session | str, *, password: str, locale: str | None = None
    ) -> MfaResult:
        """A new set of recovery codes (shown once), voiding every old one, and a
        ``recovery_codes_regenerated`` mail. Needs the current password (a wrong one counts
        toward lockout) and a confirmed factor (RC-05)."""
        return self._removal.regenerate(session, password, self._lang(locale))

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
        InvalidInput. A wrong one counts toward lockout (``refused``). Removing a confirmed
        factor mails ``mfa_disabled``.

        When no confirmed factor is left, the recovery codes go too and the password rule is
        checked again without MFA: with the password, that password is evaluated; with a code
        (the password unknown), the check assumes the worst when the rule's MFA minimum is
        lower than its plain one. A failing check adds the ``change_password`` required action
        (``action`` in the result), so the next login asks for a new password.
        """
        return self._removal.disable(session, kind, password, code, self._lang(locale))

    # -- building blocks (first login, recovery) --------------------------------------------

    def issuer(self, issuer: str | None) -> str:
        """The issuer to show in apps: ``issuer`` when given (checked), else the setting's."""
        return self._config.issuer if issuer is None else totp.check_issuer(issuer)

    def parse(self, code: object) -> EnteredCode:
        """A typed second-factor code: TOTP or SMS digits, or a recovery code (else
        InvalidInput(field="code"))."""
        return parse_code(code, digits={totp.DIGITS, self._config.sms_code_digits})

    def start_totp(self, account: Account, issuer: str, lang: str) -> TotpSetup:
        """Store a new unconfirmed TOTP seed for ``account`` and return its setup."""
        return self._enrolment.start_totp(account, issuer, lang)

    def totp_enrolment_step(self, account: Account, code: str) -> tuple[str | None, int | None]:
        """``(None, step)`` when ``code`` is right for the account's *unconfirmed* TOTP, else
        ``(refusal message code, None)``."""
        return self._enrolment.totp_step(account, code)

    def activate(
        self,
        account: Account,
        kind: MfaKind,
        *,
        step: int | None = None,
        phone: str | None = None,
        locale: str | None = None,
    ) -> tuple[Account, tuple[str, ...]]:
        """Confirm a factor inside the caller's transaction (see ``Enrolment.activate``);
        return the account and the new recovery codes, formatted, to show once."""
        return self._enrolment.activate(account, kind, step=step, phone=phone, lang=locale)

    def check(self, account: Account, entered: EnteredCode, record: FlowRecord | None) -> CodeCheck:
        """Compare ``entered`` with the account's factors; nothing is written but an SMS try."""
        return self._verifier.check(account, entered, record)

    def consume(self, account: Account, check: CodeCheck) -> bool:
        """Use a matched code, atomically, inside the caller's transaction."""
        return self._verifier.consume(account, check)

    def passed(
        self, account: Account, check: CodeCheck, *, during: str, locale: str | None = None
    ) -> int | None:
        """Record a passed second factor; for a recovery code, mail the notice and return how
        many are left."""
        return self._verifier.passed(account, check, during=during, locale=locale)

    def failed(
        self, account: Account, check: CodeCheck, *, during: str, locale: str
    ) -> FailureOutcome | None:
        """Record a failed code in its own transaction and count it toward lockout."""
        return self._verifier.failed(account, check, during=during, locale=locale)

    @staticmethod
    def refusal_code(check: CodeCheck) -> str:
        """The message code of a refused code."""
        return Verifier.refusal_code(check)

    def prepare_sms(
        self, account: Account, record: FlowRecord
    ) -> tuple[str, str, dict[str, Any]] | str:
        """A new SMS code for the flow ``record``: ``(code, phone, flow data)``, or the refusal
        message code (no confirmed phone, or over the SMS rate limit)."""
        return self._sms.prepare(account.id, record)

    def send_sms(self, phone: str, code: str, lang: str) -> None:
        """Hand the SMS to the notifier (``sms_code`` on the ``sms`` channel)."""
        self._sms.send(phone, code, lang)

    # -- internals --------------------------------------------------------------------------

    def _lang(self, locale: str | None) -> str:
        return self._replies.lang(locale)
