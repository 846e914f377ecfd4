"""The account lifecycle as one state machine: registration, approval, email change and MFA.

Hypothesis drives the real facade (memory storage, the testing hash profile, a frozen clock and
the outbox) against a small model of what must be true. Persons register (new addresses, an
address that already has an account, a case variant of one, an address only an unverified
account holds, an identifier that is taken), verify with the right, a wrong, a superseded or
another flow's code, ask for new codes, wait (a little, or past a code's, a flow's, a session's
or an unverified account's lifetime), and log in. Two organisations signed up with their SIRET
each have an administrator, who adds, approves, deactivates and reactivates members (and is
refused outside their organisation); sessions switch between organisations. A signed-in person
changes their address (the right or a wrong password, codes right, wrong or replayed), enrols a
TOTP app, then logs in with ``mfa_required`` and passes ``cf.mfa.verify`` with the current
code, the previous step's, a replayed one, a future one, or a recovery code (used again too).

The model predicts every result (status and message code), every mail (kind and recipient),
and what storage holds after every step: account status, address, identifier and lockout state,
memberships, TOTP state, recovery codes left, and each session's active organisation. The four
invariants of issue 6 are checked on their own after every step:

- a pending account never gets a session (no ``session_issued`` event ever names one);
- a disabled (or pending) membership never becomes a session's active organisation;
- an unconfirmed address never replaces the old one (storage holds the last confirmed one);
- a code works at most once: each registration or email-change flow completes once, each
  TOTP step and each recovery code is accepted once per account.

A defect the machine found is pinned at the end (``test_an_unverified_registration_…``): an
unverified registration whose identifier was the address blocked another account's confirmed
email change to that address. Fixed: the unverified account gives way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pyotp
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)
from tests.factories import clock, make_cf, outbox

from credflow.errors import (
    DuplicateMembership,
    InvalidEmail,
    InvalidInput,
    InvalidTransition,
    NotAuthorised,
    UnknownAccount,
    UnknownMembership,
)
from credflow.lockout import counter_key
from credflow.notify import Message
from credflow.results import (
    LoginStatus,
    MfaStatus,
    Session,
    StepStatus,
    VerificationResult,
    VerificationStatus,
)
from credflow.settings import RegistrationSettings
from credflow.storage.records import (
    AccountStatus,
    MembershipStatus,
    MfaKind,
    email_key,
    identifier_key,
)

V = VerificationStatus
M = MembershipStatus
PENDING = AccountStatus.PENDING_VERIFICATION
ACTIVE = AccountStatus.ACTIVE

# The settings' defaults, written out so that the model does not read them from the code.
CODE_TTL = 600
FLOW_TTL = 900  # a code flow lives max(flow lifetime, code lifetime); a login's MFA step too
ATTEMPTS = 5
RATE_LIMIT = 5
RATE_WINDOW = 900
UNVERIFIED_TTL = 7 * 86_400
THRESHOLD = 5
BASE_WAIT = 60
MAX_WAIT = 3_600
HARD_CAP = 100
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
SESSION_IDLE = 1_800
SESSION_ABSOLUTE = 43_200
TOUCH_EVERY = 60
RECOVERY_CODES = 10
STEP = 30

PENDING_IDENTIFIER_BLOCKS = False
"""An unverified account whose identifier is an address gives way to an email change to that
address (it blocked it once: see ``test_an_unverified_registration_gives_way_…``)."""

PASSWORD = "Bleu2024x"
WRONG = "Rouge2024x"
SIRETS = ("73282932000074", "35600000049837")
ADMIN_EMAILS = ("admin0@example.fr", "admin1@example.fr")
REGISTER_EMAILS = ("ana@example.fr", "Ana@Example.fr", "bob@example.fr", ADMIN_EMAILS[0])
SQUATTED = "cyd@example.fr"
CHANGE_EMAILS = ("bob@example.fr", SQUATTED, "ana@example.fr", ADMIN_EMAILS[1])
IDENTIFIERS = (None, None, "pers1", "Pers1", "admin0")
WAITS = (1, 29, 30, 59, 60, 120, 299, 599, 600, 601, 899, 900, 901, 1_801, UNVERIFIED_TTL + 1)
CODE_PICKS = ("current", "current", "previous", "wrong", "foreign")
MFA_PICKS = ("now", "now", "previous_step", "older_step", "next_step", "replay")
RECOVERY_PICKS = ("unused", "unused", "used", "foreign", "never_issued")
ACTING = ("own", "own", "own", "other")
MEMBERSHIPS_AT_START = ("none", "requested", "approved", "added")
EXPECTED_MEMBERSHIP = {
    "approve": {M.PENDING_APPROVAL: M.ACTIVE},
    "deactivate": {M.PENDING_APPROVAL: M.DISABLED, M.ACTIVE: M.DISABLED},
    "reactivate": {M.DISABLED: M.ACTIVE},
}
SWITCH_REFUSAL = {
    None: "organisation.not_member",
    M.PENDING_APPROVAL: "organisation.pending_approval",
    M.DISABLED: "organisation.disabled",
}


# -- the model ---------------------------------------------------------------------------------


@dataclass
class Person:
    """An account as the model sees it (administrators too, flagged ``admin``)."""

    id: str
    identifier: str
    email: str
    created: datetime
    status: AccountStatus = PENDING
    admin: bool = False
    failures: int = 0
    lockouts: int = 0
    locked_until: datetime | None = None
    secret: str | None = field(default=None, repr=False)  # the TOTP secret, once begun
    totp_on: bool = False
    last_step: int = -1
    codes: dict[str, bool] = field(default_factory=dict, repr=False)  # recovery code -> used
    emails: list[str] = field(default_factory=list)  # every address it had, in order


@dataclass
class CodeFlow:
    """A registration or email-change flow: ``code`` is None for a registration that can never
    verify (the address already had an account), whose code nobody knows."""

    kind: str
    handle: str = field(repr=False)
    account: str | None
    bound: str
    code: str | None = field(repr=False)
    codes: list[str] = field(repr=False)
    code_expires: datetime
    attempts: int
    deadline: datetime
    expires: datetime
    new_email: str | None = None
    notify: tuple[str, ...] = ()
    alive: bool = True


@dataclass
class ModelSession:
    token: str = field(repr=False)
    account: str
    created: datetime
    seen: datetime
    org: str | None


@dataclass
class MfaFlow:
    handle: str = field(repr=False)
    account: str
    expires: datetime
    alive: bool = True
    warned: bool = False  # LK-11: the first failed code of a login mails a warning, once


def other(code: str) -> str:
    """A well-formed code that is not ``code``."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def totp_code(secret: str, step: int) -> str:
    """The RFC 6238 code of ``step``, from pyotp directly (not from credflow)."""
    return pyotp.TOTP(secret).at(step * STEP)


def compact(code: str) -> str:
    return code.replace("-", "").replace(" ", "").upper()


class Lifecycle(RuleBasedStateMachine):
    """Registration, approval, email change and MFA against one model."""

    UNIQUE: ClassVar[bool] = True
    LOGIN_AFTER_VERIFICATION: ClassVar[bool] = True

    reg_flows = Bundle("reg_flows")
    change_flows = Bundle("change_flows")
    mfa_flows = Bundle("mfa_flows")

    def __init__(self) -> None:
        super().__init__()
        self.cf = make_cf(
            unique_emails=self.UNIQUE,
            registration=RegistrationSettings(
                login_after_verification=self.LOGIN_AFTER_VERIFICATION
            ),
        )
        self.accounts: dict[str, Person] = {}  # the accounts that exist
        self.ever: dict[str, Person] = {}  # every account ever made, deleted ones too
        self.persons: list[str] = []  # registered account ids, in creation order
        self.orgs: list[str] = []
        self.admins: list[str] = []
        self.memberships: dict[tuple[str, str], tuple[M, tuple[str, ...]]] = {}
        self.flows: dict[str, CodeFlow] = {}
        self.mfa: dict[str, MfaFlow] = {}
        self.sessions: list[ModelSession] = []
        self.counters: Counter[tuple[str, str, int]] = Counter()
        self.successes: Counter[tuple[str, ...]] = Counter()
        self.mail_seen = 0
        self.events_seen = 0
        self.session_holders: set[str] = set()

    # -- helpers -----------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return clock(self.cf).now()

    def step_now(self) -> int:
        return int(self.now.timestamp()) // STEP

    def saw(self, outcome: str) -> None:
        """Note an outcome for ``--hypothesis-show-statistics`` (how deep the runs go)."""
        event(outcome)

    def outcome(self, result: Any, status: Any, code: str, where: str = "") -> None:
        assert (result.status, result.code) == (status, code), result
        self.saw(f"{where}: {code}" if where else code)

    def render(self, key: str) -> str:
        return self.cf.messages.render(key, "fr")

    def mail(self, *expected: tuple[str, str]) -> list[Message]:
        """The messages sent since the last call; they must be ``expected`` (kind, recipient)."""
        sent = list(outbox(self.cf).messages[self.mail_seen :])
        self.mail_seen += len(sent)
        assert [(m.kind, m.recipient) for m in sent] == list(expected)
        return sent

    def succeeded(self, *key: str) -> None:
        """Count a success the service reported (before comparing it with the model)."""
        self.successes[key] += 1

    def by_identifier(self, typed: str) -> Person | None:
        key = identifier_key(typed)
        return next(
            (p for p in self.accounts.values() if identifier_key(p.identifier) == key), None
        )

    def by_email(self, ekey: str) -> list[Person]:
        return [p for p in self.accounts.values() if email_key(p.email) == ekey]

    def locked(self, person: Person) -> bool:
        return person.locked_until is not None and self.now <= person.locked_until

    def fail(self, person: Person) -> bool:
        """Count one failure toward the person's lockout; True when it locked the account."""
        person.failures += 1
        if person.failures < THRESHOLD and person.failures < HARD_CAP:
            return False
        self.saw("account locked")
        person.lockouts += 1
        wait = min(BASE_WAIT * 2 ** min(person.lockouts - 1, 40), MAX_WAIT)
        hard = person.failures >= HARD_CAP
        person.locked_until = FOREVER if hard else self.now + timedelta(seconds=wait)
        return True

    def success(self, person: Person) -> None:
        person.failures, person.lockouts, person.locked_until = 0, 0, None

    def within_rate(self, kind: str, key: str) -> bool:
        bucket = (kind, key, int(self.now.timestamp()) // RATE_WINDOW)
        self.counters[bucket] += 1
        return self.counters[bucket] <= RATE_LIMIT

    def drop(self, account_id: str) -> None:
        """An account deleted: its flows and memberships go with it."""
        del self.accounts[account_id]
        for flow in self.flows.values():
            if flow.account == account_id:
                flow.alive = False
        for key in [k for k in self.memberships if k[0] == account_id]:
            del self.memberships[key]

    def active_orgs(self, account_id: str) -> list[str]:
        return [
            org
            for org in self.orgs
            if (account_id, org) in self.memberships
            and self.memberships[(account_id, org)][0] is M.ACTIVE
        ]

    def issued(self, person: Person, session: Session | None) -> None:
        """A session the service issued: the model's expectations, then remember it."""
        assert session is not None
        active = self.active_orgs(person.id)
        org = active[0] if len(active) == 1 else None
        assert (session.account_id, session.organisation) == (person.id, org)
        self.sessions.append(ModelSession(session.token, person.id, self.now, self.now, org))

    def valid(self, session: ModelSession) -> bool:
        person = self.accounts.get(session.account)
        return (
            person is not None
            and person.status is ACTIVE
            and self.now <= session.created + timedelta(seconds=SESSION_ABSOLUTE)
            and self.now <= session.seen + timedelta(seconds=SESSION_IDLE)
        )

    def touch(self, session: ModelSession) -> bool:
        """``validate`` on the session: whether it is valid, and its last-seen time moves."""
        if not self.valid(session):
            return False
        if self.now - session.seen >= timedelta(seconds=TOUCH_EVERY):
            session.seen = self.now
        return True

    def flow_ended(self, flow: CodeFlow) -> bool:
        """``load``'s expiry: past the flow's lifetime or the deadline, the flow ends."""
        if self.now > flow.expires or self.now > flow.deadline:
            flow.alive = False
            return True
        return False

    def pick_code(self, flow: CodeFlow, pick: str) -> str:
        if pick == "current" and flow.code is not None:
            return flow.code
        if pick == "previous" and len(flow.codes) >= 2:
            return flow.codes[-2]
        if pick == "foreign":
            found = [f.code for f in self.flows.values() if f is not flow and f.code is not None]
            if found:
                return found[-1]
        return other(flow.code) if flow.code is not None else "000000"

    def check_result(
        self, result: VerificationResult, status: V, code: str, **expected: Any
    ) -> None:
        assert (result.status, result.code) == (status, code), result
        self.saw(code)
        assert result.message == self.render_result(code, result)
        for name, value in expected.items():
            assert getattr(result, name) == value, (name, result)

    def render_result(self, code: str, result: VerificationResult) -> str:
        params = {"attempts": result.attempts_left} if code.endswith("code_wrong") else None
        return self.cf.messages.render(code, "fr", params)

    # -- setup: two organisations signed up with their SIRET -------------------------------------

    def sign_up_organisations(self) -> None:
        for index, (siret, email) in enumerate(zip(SIRETS, ADMIN_EMAILS, strict=True)):
            signed = self.cf.organisations.sign_up(
                f"Client {index}", siret, identifier=f"admin{index}", email=email
            )
            assert signed.temporary_password is None  # mailed, not returned
            self.mail(("identifier", email), ("temporary_password", email))
            admin = Person(
                signed.account.id,
                f"admin{index}",
                email,
                self.now,
                status=ACTIVE,
                admin=True,
                emails=[email],
            )
            self.accounts[admin.id] = self.ever[admin.id] = admin
            self.orgs.append(signed.organisation.id)
            self.admins.append(admin.id)
            roles = signed.membership.roles
            assert "administrator" in roles and signed.membership.status is M.ACTIVE
            self.memberships[(admin.id, signed.organisation.id)] = (M.ACTIVE, roles)

    @initialize(
        email=st.sampled_from(REGISTER_EMAILS[:3]),
        identifier=st.sampled_from((None, "pers1")),
        membership=st.sampled_from(MEMBERSHIPS_AT_START),
        totp=st.booleans(),
        squatter=st.booleans(),
    )
    def set_up(
        self, email: str, identifier: str | None, membership: str, totp: bool, squatter: bool
    ) -> None:
        """Two organisations, and one verified person with a session from the start (a member
        of the first organisation or not, with a TOTP app half the time), so that runs reach
        email changes, organisation switches and MFA logins within their steps; half the time,
        someone registered an address of ``CHANGE_EMAILS`` and never verifies it. Later
        registrations start from nothing."""
        self.sign_up_organisations()
        if squatter:
            assert self.registers(SQUATTED, None, confirmed=True) is not None
        flow = self.registers(email, identifier, confirmed=True)
        assert flow is not None
        person = self.persons[-1]  # still pending verification: it may ask to join already
        if membership in ("requested", "approved"):
            self.joins(person, 0)
        if membership == "approved":
            self.administers(self.admins[0], person, 0, "approve")
        if membership == "added":
            self.adds(self.admins[0], person, 0)
        self.verify_registration(flow, "current")
        if not self.LOGIN_AFTER_VERIFICATION:
            assert self.attempt_login(identifier or email, right=True) is None
        assert len(self.sessions) == 1
        if totp:
            self.begins_totp(self.sessions[0])
            self.confirms_totp(self.sessions[0], 0)
            assert self.accounts[self.sessions[0].account].totp_on

    # -- registration --------------------------------------------------------------------------

    @rule(
        target=reg_flows,
        email=st.sampled_from(REGISTER_EMAILS),
        identifier=st.sampled_from(IDENTIFIERS),
        confirmed=st.booleans(),
    )
    def register(self, email: str, identifier: str | None, confirmed: bool) -> Any:
        flow = self.registers(email, identifier, confirmed)
        return multiple() if flow is None else multiple(flow)

    def registers(self, email: str, identifier: str | None, confirmed: bool) -> str | None:
        """Register; the flow handle when the answer is "a code was sent"."""
        confirm = PASSWORD if confirmed else PASSWORD + "!"
        result = self.cf.registration.register(email, PASSWORD, confirm, identifier=identifier)
        if not confirmed:
            self.check_result(result, V.REFUSED, "password.confirmation_differs", flow=None)
            self.mail()
            return None
        chosen = identifier if identifier is not None else email
        ekey, ikey = email_key(email), identifier_key(chosen)
        if not self.within_rate("registration", ekey):
            self.check_result(result, V.REFUSED, "registration.too_many", flow=None)
            self.mail()
            return None
        same = self.by_email(ekey)
        holder = self.by_identifier(chosen)
        if holder is not None and holder.status is PENDING and email_key(holder.email) == ekey:
            holder = None  # an earlier registration of the same address gives way
        if holder is not None and identifier is not None:
            self.check_result(result, V.REFUSED, "registration.identifier_taken", flow=None)
            self.mail()
            return None
        # The same answer on every path below: a code was (said to be) sent.
        self.check_result(result, V.NEXT, "registration.code_sent", account_id=None, session=None)
        assert result.flow is not None
        deadline = self.now + timedelta(seconds=UNVERIFIED_TTL)
        timing: dict[str, Any] = {
            "code_expires": self.now + timedelta(seconds=CODE_TTL),
            "attempts": ATTEMPTS,
            "deadline": deadline,
            "expires": self.now + timedelta(seconds=FLOW_TTL),
        }
        existing = [p for p in same if p.status is not PENDING]
        if existing or holder is not None:
            recipients = tuple(sorted({p.email for p in existing}) or [email])
            self.mail(*[("account_exists", r) for r in recipients])
            self.flows[result.flow] = CodeFlow(
                "registration", result.flow, None, ekey, None, [], notify=recipients, **timing
            )
            return result.flow
        for stale in same:  # unverified accounts of this address are replaced
            self.drop(stale.id)
        [message] = self.mail(("email_verification_code", email))
        code = message.params["code"]
        assert code not in repr(message)
        created = self.cf.storage.find_account(ikey)
        assert created is not None and created.id not in self.ever
        person = Person(created.id, chosen, email, self.now, emails=[email])
        self.accounts[person.id] = self.ever[person.id] = person
        self.persons.append(person.id)
        self.flows[result.flow] = CodeFlow(
            "registration", result.flow, person.id, ekey, code, [code], **timing
        )
        return result.flow

    @rule(flow=reg_flows)
    def resend_registration_code(self, flow: str) -> None:
        f = self.flows[flow]
        result = self.cf.registration.resend(flow)
        if not f.alive:
            self.check_result(result, V.INVALID, "registration.invalid", flow=None)
        elif self.flow_ended(f):
            self.check_result(result, V.EXPIRED, "registration.expired", flow=None)
        elif not self.within_rate("registration", f.bound):
            self.check_result(result, V.REFUSED, "registration.too_many", flow=flow)
        else:
            self.check_result(result, V.NEXT, "registration.code_resent", flow=flow)
            f.code_expires = self.now + timedelta(seconds=CODE_TTL)
            f.expires = max(f.expires, self.now + timedelta(seconds=FLOW_TTL))
            if f.account is None:
                self.mail(*[("account_exists", r) for r in f.notify])
                return
            person = self.accounts[f.account]
            assert person.status is PENDING  # a live flow's account still waits
            [message] = self.mail(("email_verification_code", person.email))
            f.code = message.params["code"]
            f.codes.append(f.code)
            return
        self.mail()

    @rule(flow=reg_flows, pick=st.sampled_from(CODE_PICKS))
    def verify_registration(self, flow: str, pick: str) -> None:
        f = self.flows[flow]
        code = self.pick_code(f, pick)
        result = self.cf.registration.verify(flow, code)
        if result.status is V.COMPLETED:
            self.succeeded("registration", flow)
        self.mail()
        if not f.alive:
            self.check_result(result, V.INVALID, "registration.invalid", flow=None)
            return
        if self.flow_ended(f):
            self.check_result(result, V.EXPIRED, "registration.expired", flow=None)
            return
        if self.now > f.code_expires:
            self.check_result(result, V.EXPIRED, "registration.code_expired", flow=flow)
            return
        person = self.accounts.get(f.account) if f.account is not None else None
        if person is None or code != f.code:
            self.wrong_code(f, result)
            return
        f.alive = False
        free = not self.UNIQUE or not any(
            p.id != person.id and p.status is not PENDING for p in self.by_email(f.bound)
        )
        if not free:
            self.check_result(result, V.REFUSED, "registration.email_taken", account_id=None)
            self.drop(person.id)
            return
        self.check_result(result, V.COMPLETED, "registration.verified", account_id=person.id)
        person.status = ACTIVE
        if self.LOGIN_AFTER_VERIFICATION:
            self.issued(person, result.session)
        else:
            assert result.session is None

    def wrong_code(self, f: CodeFlow, result: VerificationResult) -> None:
        f.attempts -= 1
        if f.attempts == 0:
            f.alive = False
            self.check_result(result, V.FAILED, f"{f.kind}.failed", flow=None)
        else:
            self.check_result(
                result, V.REFUSED, f"{f.kind}.code_wrong", flow=f.handle, attempts_left=f.attempts
            )

    @rule()
    def purge_unverified(self) -> None:
        ttl = timedelta(seconds=UNVERIFIED_TTL)
        stale = [
            p.id
            for p in self.accounts.values()
            if p.status is PENDING and self.now > p.created + ttl
        ]
        assert self.cf.registration.purge_unverified() == len(stale)
        self.saw(f"purged {len(stale)}")
        for account_id in stale:
            self.drop(account_id)
        self.mail()

    @rule(seconds=st.sampled_from(WAITS))
    def wait(self, seconds: int) -> None:
        clock(self.cf).advance(seconds)

    # -- login and sessions ------------------------------------------------------------------

    @precondition(lambda self: self.persons)
    @rule(
        target=mfa_flows,
        data=st.data(),
        spelling=st.sampled_from(("identifier", "identifier", "upper", "first_email")),
        right=st.sampled_from((True, True, True, False)),
    )
    def login(self, data: st.DataObject, spelling: str, right: bool) -> Any:
        known = self.ever[data.draw(st.sampled_from(self.persons), label="person")]
        typed = {
            "identifier": known.identifier,
            "upper": known.identifier.upper(),
            "first_email": known.emails[0],
        }[spelling]
        flow = self.attempt_login(typed, right)
        return multiple() if flow is None else multiple(flow)

    def attempt_login(self, typed: str, right: bool) -> str | None:
        """Log in as ``typed``; the MFA flow handle when a second factor is asked."""
        result = self.cf.login(typed, PASSWORD if right else WRONG)
        person = self.by_identifier(typed)
        assert person is None or not person.admin
        locked = person is not None and self.locked(person)
        if person is None or locked or not right or person.status is not ACTIVE:
            self.saw("login.denied")
            assert (result.status, result.code, result.message) == (
                LoginStatus.DENIED,
                "login.denied",
                self.render("login.denied"),
            )
            assert (result.flow, result.session, result.action) == (None, None, None)
            counted = person is not None and not locked and not right
            if counted and person is not None and person.status is ACTIVE and self.fail(person):
                self.mail(("unlock_link", person.email))
            else:
                self.mail()
            return None
        self.mail()
        self.saw(result.code)
        if person.totp_on:
            self.outcome(result, LoginStatus.MFA_REQUIRED, "login.mfa_required")
            assert result.session is None and result.flow is not None
            expires = self.now + timedelta(seconds=FLOW_TTL)
            self.mfa[result.flow] = MfaFlow(result.flow, person.id, expires)
            return result.flow
        self.outcome(result, LoginStatus.AUTHENTICATED, "login.authenticated")
        self.success(person)
        self.issued(person, result.session)
        return None

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def use_session(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(self.sessions), label="session")
        account = self.cf.sessions.validate(session.token)
        if self.touch(session):
            assert account is not None and account.id == session.account
        else:
            assert account is None

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), org=st.integers(0, 1))
    def switch_organisation(self, data: st.DataObject, org: int) -> None:
        session = data.draw(st.sampled_from(self.sessions), label="session")
        target = self.orgs[org]
        result = self.cf.sessions.switch_organisation(session.token, target)
        if not self.valid(session):
            self.outcome(result, StepStatus.INVALID, "session.invalid")
            return
        status = self.memberships.get((session.account, target), (None, ()))[0]
        if status is M.ACTIVE:
            self.outcome(result, StepStatus.COMPLETED, "organisation.switched")
            assert result.session is not None
            assert (result.session.token, result.session.organisation) == (session.token, target)
            session.org = target
        else:
            self.outcome(result, StepStatus.REFUSED, SWITCH_REFUSAL[status])
            assert result.session is None

    # -- organisations -----------------------------------------------------------------------

    def refused(self, error: type[Exception], call: Any, *args: Any, **kwargs: Any) -> None:
        """``call`` must raise ``error`` (and change nothing: the invariants check)."""
        with pytest.raises(error):
            call(*args, **kwargs)
        self.saw(error.__name__)

    def member_pool(self) -> list[str]:
        return [*self.persons, *self.persons, *self.admins]  # persons twice as often

    def admin_of(self, org: int, acting: str) -> str:
        """The organisation's own administrator, or the other one (who has no authority)."""
        return self.admins[org if acting == "own" else 1 - org]

    @rule(data=st.data(), org=st.integers(0, 1))
    def join(self, data: st.DataObject, org: int) -> None:
        self.joins(data.draw(st.sampled_from(self.member_pool()), label="account"), org)

    def joins(self, account_id: str, org: int) -> None:
        key = (account_id, self.orgs[org])
        if account_id not in self.accounts:
            self.refused(UnknownAccount, self.cf.organisations.join, account_id, self.orgs[org])
        elif key in self.memberships:
            self.refused(
                DuplicateMembership, self.cf.organisations.join, account_id, self.orgs[org]
            )
        else:
            joined = self.cf.organisations.join(account_id, self.orgs[org])
            assert (joined.status, joined.roles) == (M.PENDING_APPROVAL, ("user",))
            self.saw("joined")
            self.memberships[key] = (M.PENDING_APPROVAL, ("user",))
        self.mail()

    def authorised(self, acting: str, org: str) -> bool:
        status, roles = self.memberships.get((acting, org), (None, ()))
        person = self.accounts.get(acting)
        return (
            person is not None
            and person.status is ACTIVE
            and status is M.ACTIVE
            and "administrator" in roles
        )

    @rule(data=st.data(), acting=st.sampled_from(ACTING), org=st.integers(0, 1))
    def add_member(self, data: st.DataObject, acting: str, org: int) -> None:
        account_id = data.draw(st.sampled_from(self.member_pool()), label="account")
        self.adds(self.admin_of(org, acting), account_id, org)

    def adds(self, admin: str, account_id: str, org: int) -> None:
        target = self.orgs[org]
        call = self.cf.organisations.add_member
        roles = ["billing_contact"]
        if not self.authorised(admin, target):
            self.refused(NotAuthorised, call, admin, target, account_id, roles=roles)
        elif account_id not in self.accounts:
            self.refused(UnknownAccount, call, admin, target, account_id, roles=roles)
        elif (account_id, target) in self.memberships:
            self.refused(DuplicateMembership, call, admin, target, account_id, roles=roles)
        else:
            added = call(admin, target, account_id, roles=roles)
            assert (added.status, added.roles) == (M.ACTIVE, ("billing_contact",))
            self.saw("member added")
            self.memberships[(account_id, target)] = (M.ACTIVE, ("billing_contact",))
        self.mail()

    @rule(
        data=st.data(),
        acting=st.sampled_from(ACTING),
        org=st.integers(0, 1),
        action=st.sampled_from(sorted(EXPECTED_MEMBERSHIP)),
    )
    def administrate(self, data: st.DataObject, acting: str, org: int, action: str) -> None:
        account_id = data.draw(st.sampled_from(self.member_pool()), label="account")
        self.administers(self.admin_of(org, acting), account_id, org, action)

    def administers(self, admin: str, account_id: str, org: int, action: str) -> None:
        target = self.orgs[org]
        call = getattr(self.cf.organisations, action)
        current = self.memberships.get((account_id, target))
        themselves = action == "deactivate" and admin == account_id
        if themselves or not self.authorised(admin, target):
            self.refused(NotAuthorised, call, admin, target, account_id)
        elif current is None:
            self.refused(UnknownMembership, call, admin, target, account_id)
        elif current[0] not in EXPECTED_MEMBERSHIP[action]:
            self.refused(InvalidTransition, call, admin, target, account_id)
        else:
            changed = call(admin, target, account_id)
            status = EXPECTED_MEMBERSHIP[action][current[0]]
            assert (changed.status, changed.roles) == (status, current[1])
            self.saw(f"membership {action}d")
            self.memberships[(account_id, target)] = (status, current[1])
        self.mail()

    # -- email change ------------------------------------------------------------------------

    @precondition(lambda self: self.sessions)
    @rule(
        target=change_flows,
        data=st.data(),
        new_email=st.sampled_from(CHANGE_EMAILS),
        right=st.sampled_from((True, True, True, False)),
    )
    def start_email_change(self, data: st.DataObject, new_email: str, right: bool) -> Any:
        session = data.draw(st.sampled_from(self.sessions), label="session")
        password = PASSWORD if right else WRONG
        result = self.cf.email_change.start(session.token, new_email, password=password)
        if not self.touch(session):
            self.check_result(result, V.INVALID, "email_change.invalid", flow=None)
            self.mail()
            return multiple()
        person = self.accounts[session.account]
        if self.locked(person) or not right:
            self.check_result(result, V.REFUSED, "email_change.password_wrong", flow=None)
            if not self.locked(person) and self.fail(person):
                self.mail(("unlock_link", person.email))
            else:
                self.mail()
            return multiple()
        if new_email == person.email:
            self.check_result(result, V.REFUSED, "email_change.same_address", flow=None)
        elif not self.within_rate("email_change", person.id):
            self.check_result(result, V.REFUSED, "email_change.too_many", flow=None)
        else:
            self.check_result(result, V.NEXT, "email_change.code_sent", account_id=None)
            assert result.flow is not None
            [message] = self.mail(("email_verification_code", new_email))
            code = message.params["code"]
            self.flows[result.flow] = CodeFlow(
                "email_change",
                result.flow,
                person.id,
                email_key(new_email),
                code,
                [code],
                code_expires=self.now + timedelta(seconds=CODE_TTL),
                attempts=ATTEMPTS,
                deadline=self.now + timedelta(seconds=UNVERIFIED_TTL),
                expires=self.now + timedelta(seconds=FLOW_TTL),
                new_email=new_email,
            )
            return multiple(result.flow)
        self.mail()
        return multiple()

    @rule(flow=change_flows)
    def resend_email_change_code(self, flow: str) -> None:
        f = self.flows[flow]
        result = self.cf.email_change.resend(flow)
        if not f.alive:
            self.check_result(result, V.INVALID, "email_change.invalid", flow=None)
        elif self.flow_ended(f):
            self.check_result(result, V.EXPIRED, "email_change.expired", flow=None)
        else:
            assert f.account is not None and f.new_email is not None
            if not self.within_rate("email_change", f.account):
                self.check_result(result, V.REFUSED, "email_change.too_many", flow=flow)
            else:
                self.check_result(result, V.NEXT, "email_change.code_resent", flow=flow)
                f.code_expires = self.now + timedelta(seconds=CODE_TTL)
                f.expires = max(f.expires, self.now + timedelta(seconds=FLOW_TTL))
                [message] = self.mail(("email_verification_code", f.new_email))
                f.code = message.params["code"]
                f.codes.append(f.code)
                return
        self.mail()

    @rule(flow=change_flows, pick=st.sampled_from(CODE_PICKS))
    def confirm_email_change(self, flow: str, pick: str) -> None:
        f = self.flows[flow]
        code = self.pick_code(f, pick)
        result = self.cf.email_change.confirm(flow, code)
        if result.status is V.COMPLETED:
            self.succeeded("email_change", flow)
        if not f.alive:
            self.check_result(result, V.INVALID, "email_change.invalid", flow=None)
        elif self.flow_ended(f):
            self.check_result(result, V.EXPIRED, "email_change.expired", flow=None)
        elif self.now > f.code_expires:
            self.check_result(result, V.EXPIRED, "email_change.code_expired", flow=flow)
        elif code != f.code:
            self.wrong_code(f, result)
        else:
            f.alive = False
            self.apply_email_change(f, result)
            return
        self.mail()

    def apply_email_change(self, f: CodeFlow, result: VerificationResult) -> None:
        assert f.account is not None and f.new_email is not None
        person = self.accounts[f.account]
        new_key = email_key(f.new_email)
        free = not self.UNIQUE or not any(
            p.id != person.id and p.status is not PENDING for p in self.by_email(new_key)
        )
        follows = identifier_key(person.identifier) == identifier_key(person.email)
        if follows:
            holder = self.by_identifier(f.new_email)
            squatter = holder is not None and holder.status is PENDING
            if squatter:
                self.saw("email change meets an unverified registration of the address")
            if squatter and not PENDING_IDENTIFIER_BLOCKS:
                assert holder is not None
                self.drop(holder.id)  # the expected fix: it gives way, as to a registration
                holder = None
            free = free and (holder is None or holder is person)
        if not free:
            self.check_result(result, V.REFUSED, "email_change.email_taken", account_id=None)
            self.mail()
            return
        self.check_result(result, V.COMPLETED, "email_change.completed", account_id=person.id)
        [notice] = self.mail(("email_change_notice", person.email))
        assert notice.params["new_email"] == f.new_email
        person.email = f.new_email
        person.emails.append(f.new_email)
        if follows:
            person.identifier = f.new_email

    # -- MFA ---------------------------------------------------------------------------------

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def begin_totp(self, data: st.DataObject) -> None:
        self.begins_totp(data.draw(st.sampled_from(self.sessions), label="session"))

    def begins_totp(self, session: ModelSession) -> None:
        setup = self.cf.mfa.begin_totp(session.token)
        self.mail()
        if not self.touch(session):
            self.saw("begin_totp: session.invalid")
            assert (setup.status, setup.code, setup.secret) == (
                MfaStatus.INVALID,
                "session.invalid",
                None,
            )
            return
        person = self.accounts[session.account]
        if person.totp_on:
            self.outcome(setup, MfaStatus.REFUSED, "mfa.already_enrolled")
            assert setup.secret is None
            return
        self.outcome(setup, MfaStatus.NEXT, "mfa.totp_started")
        assert setup.secret is not None and setup.secret not in repr(setup)
        person.secret, person.last_step = setup.secret, -1

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), offset=st.sampled_from((0, 0, -1, -2, 1)))
    def confirm_totp(self, data: st.DataObject, offset: int) -> None:
        self.confirms_totp(data.draw(st.sampled_from(self.sessions), label="session"), offset)

    def confirms_totp(self, session: ModelSession, offset: int) -> None:
        person = self.accounts.get(session.account) or self.ever[session.account]
        secret = person.secret or pyotp.random_base32(32)
        code = totp_code(secret, self.step_now() + offset)
        result = self.cf.mfa.confirm_totp(session.token, code)
        if result.status is MfaStatus.COMPLETED:
            self.succeeded("totp", person.id, str(self.matching_step(secret, code)))
        if not self.touch(session):
            self.outcome(result, MfaStatus.INVALID, "session.invalid")
        elif person.secret is None:
            self.outcome(result, MfaStatus.REFUSED, "mfa.not_started")
        elif person.totp_on:
            self.outcome(result, MfaStatus.REFUSED, "mfa.already_enrolled")
        else:
            step = self.matching_step(person.secret, code)
            if step is None or step <= person.last_step:
                self.outcome(result, MfaStatus.REFUSED, "mfa.code_wrong", "confirm_totp")
            else:
                self.outcome(result, MfaStatus.COMPLETED, "mfa.confirmed")
                person.totp_on, person.last_step = True, step
                self.mail(("mfa_enabled", person.email))
                assert len(result.recovery_codes) == RECOVERY_CODES
                assert not person.codes
                person.codes = {compact(c): False for c in result.recovery_codes}
                assert len(person.codes) == RECOVERY_CODES
                return
        assert result.recovery_codes == ()
        self.mail()

    def matching_step(self, secret: str, code: str) -> int | None:
        """The step in {T, T-1} whose code is ``code`` (T first), or None: RFC 6238's window."""
        now = self.step_now()
        return next((s for s in (now, now - 1) if totp_code(secret, s) == code), None)

    def recovery_code(self, person: Person, pick: str, styled: bool) -> str:
        unused = [c for c, used in person.codes.items() if not used]
        used = [c for c, was in person.codes.items() if was]
        others = [
            c
            for p in self.accounts.values()
            if p is not person
            for c, was in p.codes.items()
            if not was
        ]
        found = {"unused": unused, "used": used, "foreign": others}.get(pick) or []
        chosen = found[0] if found else "ABCDEFGHJKLMNPQR"
        if styled:  # as a person may type it: lower case, in groups, with spaces
            return " ".join(chosen[i : i + 4] for i in range(0, 16, 4)).lower()
        return "-".join(chosen[i : i + 4] for i in range(0, 16, 4))

    @rule(flow=mfa_flows, pick=st.sampled_from(MFA_PICKS))
    def verify_mfa_with_totp(self, flow: str, pick: str) -> None:
        person = self.accounts[self.mfa[flow].account]
        assert person.secret is not None and person.totp_on
        now = self.step_now()
        steps = {
            "now": now,
            "previous_step": now - 1,
            "older_step": now - 2,
            "next_step": now + 1,
            "replay": max(person.last_step, 0),
        }
        self.verify_mfa(flow, pick, totp_code(person.secret, steps[pick]))

    @rule(flow=mfa_flows, recovery=st.sampled_from(RECOVERY_PICKS), styled=st.booleans())
    def verify_mfa_with_recovery_code(self, flow: str, recovery: str, styled: bool) -> None:
        person = self.accounts[self.mfa[flow].account]
        self.verify_mfa(flow, "recovery", self.recovery_code(person, recovery, styled))

    def verify_mfa(self, flow: str, pick: str, code: str) -> None:
        f = self.mfa[flow]
        person = self.accounts[f.account]
        assert person.secret is not None
        result = self.cf.mfa.verify(flow, code)
        if result.status is MfaStatus.COMPLETED:
            key = (
                compact(code)
                if pick == "recovery"
                else str(self.matching_step(person.secret, code))
            )
            self.succeeded("recovery" if pick == "recovery" else "totp", person.id, key)
        if not f.alive:
            self.outcome(result, MfaStatus.INVALID, "flow.invalid")
        elif self.now > f.expires:
            f.alive = False
            self.outcome(result, MfaStatus.EXPIRED, "flow.expired")
        elif self.locked(person):
            f.alive = False
            self.outcome(result, MfaStatus.LOCKED, "mfa.locked")
        else:
            self.second_factor(f, person, pick, code, result)
            return
        assert result.session is None
        self.mail()

    def second_factor(self, f: MfaFlow, person: Person, pick: str, code: str, result: Any) -> None:
        assert person.secret is not None
        if pick == "recovery":
            right = person.codes.get(compact(code)) is False
        else:
            step = self.matching_step(person.secret, code)
            right = step is not None and step > person.last_step
        if right:
            f.alive = False
            self.success(person)
            if pick == "recovery":
                person.codes[compact(code)] = True
                left = sum(1 for used in person.codes.values() if not used)
                assert (result.status, result.code, result.codes_left) == (
                    MfaStatus.COMPLETED,
                    "mfa.recovery_code_used",
                    left,
                )
                self.saw(f"recovery code used, {left} left")
                self.mail(("recovery_code_used", person.email))
            else:
                assert step is not None
                person.last_step = step
                self.outcome(result, MfaStatus.COMPLETED, "mfa.verified", f"verify {pick}")
                self.mail()
            self.issued(person, result.session)
            return
        assert result.session is None
        warning = (
            [] if f.warned or person.email is None else [("second_factor_failed", person.email)]
        )
        f.warned = True
        if self.fail(person):
            f.alive = False
            self.outcome(result, MfaStatus.LOCKED, "mfa.locked", f"verify {pick}")
            self.mail(("unlock_link", person.email), *warning)
            return
        self.outcome(result, MfaStatus.REFUSED, "mfa.code_wrong", f"verify {pick}")
        self.mail(*warning)

    # -- bad input ---------------------------------------------------------------------------

    @rule(data=st.data(), which=st.integers(0, 5))
    def bad_input_changes_nothing(self, data: st.DataObject, which: int) -> None:
        """Malformed input raises a typed error naming the field, and writes nothing."""
        events = len(self.cf.storage.events(limit=10_000))
        handle = data.draw(st.sampled_from([*self.flows, *self.mfa, "no-such-flow"]))
        token = self.sessions[0].token if self.sessions else "no-session"
        cf = self.cf
        calls: list[tuple[type[Exception], str, Any]] = [
            (InvalidEmail, "email", lambda: cf.registration.register("ana@", PASSWORD, PASSWORD)),
            (InvalidInput, "code", lambda: cf.registration.verify(handle, "12a456")),
            (InvalidInput, "code", lambda: cf.email_change.confirm(handle, "12345")),
            (InvalidEmail, "new_email", lambda: cf.email_change.start(token, "x y@z.fr")),
            (InvalidInput, "code", lambda: cf.mfa.verify(handle, "12345a")),
            (
                InvalidInput,
                "roles",
                lambda: cf.organisations.join(self.admins[0], self.orgs[1], roles=[" user"]),
            ),
        ]
        error, name, call = calls[which]
        with pytest.raises(error) as raised:
            call()
        assert getattr(raised.value, "field", None) == name
        assert len(self.cf.storage.events(limit=10_000)) == events
        self.mail()

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def storage_agrees_with_the_model(self) -> None:
        storage = self.cf.storage
        assert {a.id for a in storage.list_accounts(limit=10_000)} == set(self.accounts)
        for person in self.accounts.values():
            stored = storage.get_account(person.id)
            assert stored is not None
            assert (stored.status, stored.email, stored.identifier) == (
                person.status,
                person.email,
                person.identifier,
            )
            assert (stored.locked_until, stored.lockouts) == (person.locked_until, person.lockouts)
            assert storage.get_counter(counter_key(person.id)) == person.failures
            memberships = {
                m.organisation_id: (m.status, m.roles) for m in storage.memberships_of(person.id)
            }
            assert memberships == {o: v for (a, o), v in self.memberships.items() if a == person.id}
            factors = {f.kind: f for f in storage.mfa_factors(person.id)}
            if person.secret is None:
                assert factors == {}
            else:
                assert set(factors) == {MfaKind.TOTP}
                assert factors[MfaKind.TOTP].confirmed is person.totp_on
                assert factors[MfaKind.TOTP].last_step == person.last_step
            left = sum(1 for used in person.codes.values() if not used)
            assert storage.recovery_codes_left(person.id) == left
        for gone in set(self.ever) - set(self.accounts):
            assert storage.memberships_of(gone) == [] and storage.mfa_factors(gone) == []

    @invariant()
    def a_pending_account_never_gets_a_session(self) -> None:
        events = self.cf.storage.events(limit=10_000)
        for recorded in events[self.events_seen :]:
            if recorded.type == "session_issued":
                assert recorded.account_id is not None
                self.session_holders.add(recorded.account_id)
        self.events_seen = len(events)
        for account_id in self.session_holders:
            person = self.accounts.get(account_id)  # an account with a session is never deleted
            assert person is not None and person.status is ACTIVE, account_id
            stored = self.cf.storage.get_account(account_id)
            assert stored is not None and stored.status is ACTIVE
        for session in self.sessions:
            assert self.ever[session.account].status is ACTIVE

    @invariant()
    def a_disabled_membership_never_becomes_the_active_organisation(self) -> None:
        for session in self.sessions:
            reported = self.cf.sessions.organisation(session.token)
            expected = None
            if self.valid(session) and session.org is not None:
                status = self.memberships.get((session.account, session.org), (None, ()))[0]
                expected = session.org if status is M.ACTIVE else None
            assert reported == expected
            if reported is not None:
                membership = self.cf.storage.get_membership(session.account, reported)
                assert membership is not None and membership.status is M.ACTIVE

    @invariant()
    def an_unconfirmed_email_never_replaces_the_old_one(self) -> None:
        confirmed = {
            (f.account, f.new_email)
            for f in self.flows.values()
            if f.kind == "email_change" and self.successes[("email_change", f.handle)]
        }
        for person in self.accounts.values():
            stored = self.cf.storage.get_account(person.id)
            assert stored is not None and stored.email == person.emails[-1]
            for address in person.emails[1:]:  # every later address was confirmed by a code
                assert (person.id, address) in confirmed

    @invariant()
    def a_code_works_at_most_once(self) -> None:
        assert all(count == 1 for count in self.successes.values()), self.successes

    @invariant()
    def no_unexpected_mail(self) -> None:
        assert len(outbox(self.cf).messages) == self.mail_seen


class SharedAddressesNoSessionAfterVerification(Lifecycle):
    """``unique_emails`` off (two accounts may share an address unless the identifier is in
    the way), and verification does not sign the person in."""

    UNIQUE = False
    LOGIN_AFTER_VERIFICATION = False


REQUIREMENTS = pytest.mark.req(
    "EV-02", "EV-03", "EV-04", "EV-05", "EV-06", "EV-08", "OT-03", "OT-04", "OT-06", "OT-09",
    "OT-11", "RC-03", "RC-04", "LK-07", "SS-03", "SS-04",
)  # fmt: skip
MACHINE_SETTINGS = settings(stateful_step_count=80)  # max_examples from the profile

Lifecycle.TestCase.settings = MACHINE_SETTINGS
SharedAddressesNoSessionAfterVerification.TestCase.settings = MACHINE_SETTINGS

TestLifecycle = REQUIREMENTS(Lifecycle.TestCase)
TestSharedAddressesNoSessionAfterVerification = REQUIREMENTS(
    SharedAddressesNoSessionAfterVerification.TestCase
)


# -- a defect the machine found --------------------------------------------------------------


def _code(cf: Any, recipient: str) -> str:
    message = outbox(cf).last("email_verification_code")
    assert message is not None and message.recipient == recipient
    return str(message.params["code"])


@pytest.mark.parametrize("unique", [False, True])
@pytest.mark.req("EV-08")
def test_an_unverified_registration_gives_way_to_an_email_change(unique: bool) -> None:
    """Sequence: ana registers (the address is her identifier), verifies and signs in; she
    starts a change to bob@example.fr; someone registers bob@example.fr and never verifies;
    ana confirms with the right code. Expected: the change applies (the unverified account
    gives way, as it does to a new registration of its address). It was refused with
    ``email_change.email_taken`` until the squatter's account was purged."""
    cf = make_cf(unique_emails=unique)
    flow = cf.registration.register("ana@example.fr", PASSWORD, PASSWORD).flow
    assert cf.registration.verify(flow or "", _code(cf, "ana@example.fr")).ok
    session = cf.login("ana@example.fr", PASSWORD).session
    assert session is not None
    started = cf.email_change.start(session.token, "bob@example.fr", password=PASSWORD)
    code = _code(cf, "bob@example.fr")
    squat = cf.registration.register("bob@example.fr", WRONG, WRONG)
    assert squat.status is V.NEXT  # a pending account now has the identifier bob@example.fr
    done = cf.email_change.confirm(started.flow or "", code)
    assert (done.status, done.code) == (V.COMPLETED, "email_change.completed")
    moved = cf.accounts.find("bob@example.fr")
    assert moved is not None and moved.id == session.account_id  # the squatter is gone
    assert [e.type for e in cf.storage.events()].count("registration_discarded") == 1
