"""Sign-in as a state machine: hypothesis drives the real facade against a small model.

The machine creates accounts (active or pending, with a temporary password), logs in with the
current, a wrong, an old or a temporary password under varied identifier case, completes
first-login steps from the flow handles it got, changes passwords (the form and from a session),
moves the frozen clock (small steps, lock edges, flow expiry, temporary password TTL, session
timeouts), disables, enables and approves accounts, unlocks (administrator, mailed link), resets
to a temporary password and revokes sessions.

The model predicts every result exactly; after every step the invariant compares it with what
storage says: the failure counter, the lock (``locked_until`` inclusive), the lock escalation,
the status, the credential version, the required actions, and the validity of every session.
Properties checked independently of the model's bookkeeping, on every login:

- ``authenticated`` only with the current password, on an active, unlocked account whose password
  is not temporary;
- a temporary password gives ``action_required: change_password`` or ``denied``, never a session;
- after a password change the old password fails and every earlier session is invalid.

Runs on Settings.classic, with ``reauthenticate_after_password_change=False``, and with locks
that last until unlocked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from tests.factories import clock, make_cf, outbox

from credflow.errors import InvalidInput
from credflow.results import LoginResult, LoginStatus, Session, StepResult, StepStatus
from credflow.storage.records import AccountStatus, RequiredAction

CHANGE = RequiredAction.CHANGE_PASSWORD
ENROLL = RequiredAction.ENROLL_SECURITY_QUESTION
ACTIVE = AccountStatus.ACTIVE
PENDING = AccountStatus.PENDING_APPROVAL
DISABLED = AccountStatus.DISABLED

# The settings' defaults, written out here so the model does not read them from the code.
THRESHOLD = 5
BASE_WAIT = 60
MAX_WAIT = 3_600
HARD_CAP = 100
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
TEMPORARY_TTL = 86_400
FLOW_TTL = 900
UNLOCK_TTL = 3_600
SESSION_IDLE = 1_800
SESSION_ABSOLUTE = 43_200
TOUCH_EVERY = 60

IDENTIFIERS = ("Marie.Curie", "Pierre.Loti", "Anne.Hebert")
WRONG = "Nope1234Zz"
TOO_SHORT = "Ab1cdef"
QUESTION = "Ma couleur préférée ?"
ANSWER = "bleu turquoise"
BAD_ANSWER = "ab"

PICK = st.integers(min_value=0, max_value=1_000)
CASES = st.sampled_from(["same", "lower", "upper", "swap"])
PASSWORDS = st.sampled_from(["current", "current", "wrong", "old", "temporary"])
STALE = st.sampled_from([False, False, False, True])
NEW_PASSWORDS = st.sampled_from(["ok", "ok", "confirm_differs", "same_as_current", "too_short"])
SECONDS = st.sampled_from(
    [1, 59, 60, 61, 120, 899, 901, 1_799, 1_801, 3_601, 43_201, 86_401]
) | st.integers(min_value=1, max_value=300)

LIFECYCLE = {
    "disable": (ACTIVE, DISABLED),
    "enable": (DISABLED, ACTIVE),
    "approve": (PENDING, ACTIVE),
    "reject": (PENDING, DISABLED),
}
REFUSAL_CODES = {
    "confirm_differs": "password.confirmation_differs",
    "too_short": "password.policy_not_met",
    "same_as_current": "password.same_as_old",
}


def vary(identifier: str, case: str) -> str:
    """``identifier`` as typed in another case (one account, one counter: LK-06)."""
    if case == "lower":
        return identifier.lower()
    if case == "upper":
        return identifier.upper()
    if case == "swap":
        return identifier.swapcase()
    return identifier


@dataclass
class MSession:
    token: str
    cv: int
    epoch: int
    created: datetime
    seen: datetime
    revoked: bool = False


@dataclass
class MFlow:
    handle: str
    state: RequiredAction | None  # None once deleted (completed, reauthenticate, expired)
    actions: tuple[RequiredAction, ...]
    cv: int
    expires: datetime


@dataclass
class MLink:
    token: str
    issued: datetime
    cv: int
    used: bool = False


@dataclass
class MAccount:
    id: str
    identifier: str
    email: str
    status: AccountStatus
    password: str
    temporary: bool
    temp_expires: datetime | None
    actions: tuple[RequiredAction, ...]
    temps: list[str]
    olds: list[str] = field(default_factory=list)
    cv: int = 1
    failures: int = 0
    lockouts: int = 0
    locked_until: datetime | None = None
    epoch: int = 0


class SignInMachine(RuleBasedStateMachine):
    """The facade on memory storage, the TESTING hash profile and a frozen clock."""

    OVERRIDES: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        super().__init__()
        self.cf = make_cf(**self.OVERRIDES)
        self.reauth = self.cf.settings.reauthenticate_after_password_change
        self.until_unlocked = self.cf.settings.lockout.until_unlocked
        self.first_actions = tuple(self.cf.settings.first_login_actions)
        self.accounts: list[MAccount] = []
        self.flows: list[tuple[MAccount, MFlow]] = []
        self.sessions: list[tuple[MAccount, MSession]] = []
        self.links: list[tuple[MAccount, MLink]] = []
        self.links_mailed = 0
        self.generated = 0

    # -- model helpers -----------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.cf.clock.now()

    def account(self, pick: int) -> MAccount:
        return self.accounts[pick % len(self.accounts)]

    def fresh_password(self) -> str:
        self.generated += 1
        return f"Kx{self.generated:04d}vbQm"

    def password_of(self, m: MAccount, which: str, pick: int) -> str:
        if which == "current":
            return m.password
        if which == "old" and m.olds:
            return m.olds[pick % len(m.olds)]
        if which == "temporary":
            return m.temps[pick % len(m.temps)]
        return WRONG

    def new_pair(self, m: MAccount, variant: str) -> tuple[str, str]:
        if variant == "same_as_current":
            return m.password, m.password
        if variant == "too_short":
            return TOO_SHORT, TOO_SHORT
        new = self.fresh_password()
        return new, new + "x" if variant == "confirm_differs" else new

    def locked(self, m: MAccount) -> bool:
        return m.locked_until is not None and self.now <= m.locked_until

    def temp_expired(self, m: MAccount) -> bool:
        return m.temporary and m.temp_expires is not None and self.now > m.temp_expires

    def count_failure(self, m: MAccount) -> bool:
        """One counted failure; True when it locked the account."""
        m.failures += 1
        forever = m.failures >= HARD_CAP or (m.failures >= THRESHOLD and self.until_unlocked)
        if not forever and m.failures < THRESHOLD:
            return False
        m.lockouts += 1
        wait = min(BASE_WAIT * 2 ** min(m.lockouts - 1, 40), MAX_WAIT)
        m.locked_until = FOREVER if forever else self.now + timedelta(seconds=wait)
        return True

    def reset_lockout(self, m: MAccount) -> None:
        m.failures, m.lockouts, m.locked_until = 0, 0, None

    def apply_password(self, m: MAccount, new: str) -> None:
        m.olds.append(m.password)
        m.password, m.temporary, m.temp_expires = new, False, None
        m.cv += 1
        m.actions = tuple(a for a in m.actions if a is not CHANGE)

    def add_session(self, m: MAccount, session: Session | None) -> None:
        assert session is not None
        assert session.account_id == m.id
        assert all(s.token != session.token for _, s in self.sessions)
        self.sessions.append((m, MSession(session.token, m.cv, m.epoch, self.now, self.now)))
        del self.sessions[:-12]

    def add_flow(
        self, m: MAccount, handle: str | None, actions: tuple[RequiredAction, ...]
    ) -> None:
        assert handle
        flow = MFlow(handle, actions[0], actions, m.cv, self.now + timedelta(seconds=FLOW_TTL))
        self.flows.append((m, flow))
        del self.flows[:-10]

    def collect_links(self, m: MAccount, mailed_now: bool) -> None:
        """The unlock links mailed by the last operation: one when it locked (or resent one),
        else none."""
        mailed = [x for x in outbox(self.cf).messages if x.kind == "unlock_link"]
        new = mailed[self.links_mailed :]
        assert len(new) == (1 if mailed_now else 0), (mailed_now, new)
        self.links_mailed = len(mailed)
        if new:
            assert new[0].recipient == m.email
            link = new[0].params["link"]
            assert link.startswith(self.cf.settings.base_url + "/unlock?token=")
            token = link.split("token=", 1)[1]
            for owner, earlier in self.links:
                if owner is m:
                    earlier.used = True  # a fresh link voids the older ones
            self.links.append((m, MLink(token, self.now, m.cv)))
            del self.links[:-10]

    def session_valid(self, m: MAccount, s: MSession) -> bool:
        """What ``cf.sessions.validate`` answers; applies the "last seen" touch like the code.

        A session lives while its epoch is the account's: ``revoke_all``, ``disable`` and
        ``mark_compromised`` move the epoch on.
        """
        now = self.now
        valid = (
            not s.revoked
            and now <= s.created + timedelta(seconds=SESSION_ABSOLUTE)
            and now <= s.seen + timedelta(seconds=SESSION_IDLE)
            and m.status is ACTIVE
            and m.cv == s.cv
            and s.epoch == m.epoch
        )
        if valid and now - s.seen >= timedelta(seconds=TOUCH_EVERY):
            s.seen = now
        return valid

    def last_event(self, m: MAccount, kind: str) -> dict[str, Any]:
        found = self.cf.storage.events(account_id=m.id, since=self.now)
        assert found, f"no event for {kind}"
        assert found[-1].type == kind, [e.type for e in found]
        return dict(found[-1].details)

    # -- rules: accounts ---------------------------------------------------------------------

    def _create(self, pending: bool) -> None:
        identifier = IDENTIFIERS[len(self.accounts)]
        email = identifier.lower() + "@example.fr"
        status = PENDING if pending else ACTIVE
        created = self.cf.accounts.create(identifier, email=email, status=status)
        temp = created.temporary_password
        assert temp is not None
        actions = (
            self.first_actions if CHANGE in self.first_actions else (CHANGE, *self.first_actions)
        )
        assert created.account.required_actions == actions
        self.accounts.append(
            MAccount(
                id=created.account.id,
                identifier=identifier,
                email=email,
                status=status,
                password=temp,
                temporary=True,
                temp_expires=self.now + timedelta(seconds=TEMPORARY_TTL),
                actions=actions,
                temps=[temp],
            )
        )

    @initialize()
    def first_account(self) -> None:
        self._create(pending=False)

    @precondition(lambda self: len(self.accounts) < len(IDENTIFIERS))
    @rule(pending=st.booleans())
    def create_account(self, pending: bool) -> None:
        self._create(pending)

    @rule(pick=PICK, change=st.sampled_from(["disable", "enable", "approve", "reject"]))
    def set_status(self, pick: int, change: str) -> None:
        """The lifecycle: disable an active account, enable a disabled one, approve or reject
        a pending one; anything else is refused and changes nothing."""
        m = self.account(pick)
        source, target = LIFECYCLE[change]
        operation = getattr(self.cf.accounts, change)
        if m.status is not source:
            with pytest.raises(InvalidInput):
                operation(m.id)
            return
        assert operation(m.id).status is target
        m.status = target
        if change == "disable":  # its sessions end for good, even if enabled again
            m.epoch += 1

    @rule(pick=PICK)
    def admin_unlock(self, pick: int) -> None:
        m = self.account(pick)
        self.cf.accounts.unlock(m.id)
        self.reset_lockout(m)

    @rule(pick=PICK)
    def admin_temporary_password(self, pick: int) -> None:
        m = self.account(pick)
        temp = self.cf.accounts.set_temporary_password(m.id)
        m.olds.append(m.password)
        m.temps.append(temp)
        m.password, m.temporary = temp, True
        m.temp_expires = self.now + timedelta(seconds=TEMPORARY_TTL)
        m.cv += 1
        m.actions = (CHANGE, *(a for a in m.actions if a is not CHANGE))

    @rule(pick=PICK)
    def mark_compromised(self, pick: int) -> None:
        """PW-14: sessions end, outstanding links die, a password change is required."""
        m = self.account(pick)
        assert self.cf.accounts.mark_compromised([m.id]) == 1
        m.epoch += 1
        m.actions = (CHANGE, *(a for a in m.actions if a is not CHANGE))
        for owner, link in self.links:
            if owner is m:
                link.used = True

    # -- rules: login ------------------------------------------------------------------------

    @rule(pick=PICK, which=PASSWORDS, case=CASES)
    def login(self, pick: int, which: str, case: str) -> None:
        m = self.account(pick)
        password = self.password_of(m, which, pick)
        result = self.cf.login(vary(m.identifier, case), password)
        self.check_login(m, password, result)

    @rule(password=st.sampled_from([WRONG, "Kx0001vbQm"]))
    def login_unknown(self, password: str) -> None:
        result = self.cf.login("Nobody.Here", password)
        assert result.status is LoginStatus.DENIED
        assert result.code == "login.denied"
        assert result.session is None and result.flow is None

    def check_login(self, m: MAccount, password: str, result: LoginResult) -> None:
        locked, active = self.locked(m), m.status is ACTIVE
        # Properties, independent of the model's bookkeeping.
        if result.status is LoginStatus.AUTHENTICATED:
            assert password == m.password, "authenticated without the current password"
            assert not locked and active, "authenticated while locked, disabled or pending"
            assert not m.temporary, "a temporary password gave a session"
        if password in m.temps and password == m.password:
            assert result.status in (LoginStatus.ACTION_REQUIRED, LoginStatus.DENIED)
            assert result.session is None
        if password != m.password:
            assert result.status is LoginStatus.DENIED, "an old or wrong password was accepted"

        reason = None
        if locked:
            reason = "account_locked"
        elif password != m.password:
            reason = "wrong_password"
        elif not active:
            reason = "account_not_active"
        elif self.temp_expired(m):
            reason = "temporary_password_expired"
        if reason is not None:
            locked_now = reason == "wrong_password" and active and self.count_failure(m)
            assert result.status is LoginStatus.DENIED, (reason, result)
            assert result.code == "login.denied"
            assert result.session is None and result.flow is None and result.action is None
            assert self.last_event(m, "login_failed")["reason"] == reason
            self.collect_links(m, locked_now)
            return

        self.reset_lockout(m)
        self.collect_links(m, False)
        if m.actions:
            assert result.status is LoginStatus.ACTION_REQUIRED, result
            assert result.action is m.actions[0]
            assert result.session is None
            if m.temporary:
                assert result.action is CHANGE
            self.add_flow(m, result.flow, m.actions)
        else:
            assert result.status is LoginStatus.AUTHENTICATED, result
            assert result.flow is None
            self.add_session(m, result.session)

    # -- rules: first login ------------------------------------------------------------------

    def load_flow(self, m: MAccount, f: MFlow, expected: RequiredAction) -> StepStatus | None:
        """What loading the flow gives: None when usable, else the step's status.

        A step needs the flow's state, the credentials it began with and an active account;
        it does not look at the lock (the flow was opened by a correct password)."""
        if f.state is None:
            return StepStatus.INVALID
        if self.now > f.expires:
            f.state = None
            return StepStatus.EXPIRED
        if f.state is not expected or f.cv != m.cv or m.status is not ACTIVE:
            return StepStatus.INVALID
        return None

    def pick_flow(self, pick: int, stale: bool) -> tuple[MAccount, MFlow]:
        """Mostly a flow still stored; sometimes any flow (replays, expired, superseded)."""
        live = [(m, f) for m, f in self.flows if f.state is not None]
        chosen = self.flows if stale or not live else live
        return chosen[pick % len(chosen)]

    @precondition(lambda self: self.flows)
    @rule(pick=PICK, variant=NEW_PASSWORDS, stale=STALE)
    def first_login_change_password(self, pick: int, variant: str, stale: bool) -> None:
        self.change_step(*self.pick_flow(pick, stale), variant)

    @precondition(lambda self: self.flows)
    @rule(pick=PICK, good=st.booleans(), stale=STALE)
    def first_login_enroll_question(self, pick: int, good: bool, stale: bool) -> None:
        self.enroll_step(*self.pick_flow(pick, stale), good)

    @rule(pick=PICK, case=CASES)
    def sign_in(self, pick: int, case: str) -> None:
        """Log in with the current password and do every step asked, as a person would."""
        m = self.account(pick)
        for _ in range(4):
            result = self.cf.login(vary(m.identifier, case), m.password)
            self.check_login(m, m.password, result)
            if result.status is not LoginStatus.ACTION_REQUIRED:
                return
            f = self.flows[-1][1]
            step: StepResult | None = None
            while f.state is not None:
                if f.state is CHANGE:
                    step = self.change_step(m, f, "ok")
                else:
                    step = self.enroll_step(m, f, good=True)
                if step.status not in (StepStatus.NEXT,):
                    break
            if step is None or step.status is not StepStatus.REAUTHENTICATE:
                return

    @rule(pick=PICK, times=st.integers(min_value=1, max_value=6), case=CASES)
    def hammer(self, pick: int, times: int, case: str) -> None:
        """Several wrong passwords in a row."""
        m = self.account(pick)
        for _ in range(times):
            self.check_login(m, WRONG, self.cf.login(vary(m.identifier, case), WRONG))

    def change_step(self, m: MAccount, f: MFlow, variant: str) -> StepResult:
        new, confirm = self.new_pair(m, variant)
        result = self.cf.first_login.change_password(f.handle, new, confirm)
        assert result.session is None or result.status is StepStatus.COMPLETED
        blocked = self.load_flow(m, f, CHANGE)
        if blocked is not None:
            assert result.status is blocked, (blocked, result)
            return result
        if variant != "ok":
            assert result.status is StepStatus.REFUSED
            assert result.code == REFUSAL_CODES[variant]
            return result
        old = m.password
        self.apply_password(m, new)
        remaining = tuple(a for a in f.actions if a is not CHANGE)
        if self.reauth:
            f.state = None
            assert result.status is StepStatus.REAUTHENTICATE, result
            assert result.session is None
        elif remaining:
            f.state, f.actions, f.cv = remaining[0], remaining, m.cv
            assert result.status is StepStatus.NEXT, result
            assert result.action is remaining[0] and result.flow == f.handle
        else:
            f.state = None
            assert result.status is StepStatus.COMPLETED, result
            self.add_session(m, result.session)
        self.old_password_fails(m, old)
        return result

    def enroll_step(self, m: MAccount, f: MFlow, good: bool) -> StepResult:
        answer = ANSWER if good else BAD_ANSWER
        result = self.cf.first_login.enroll_question(f.handle, QUESTION, answer)
        blocked = self.load_flow(m, f, ENROLL)
        if blocked is not None:
            assert result.status is blocked, (blocked, result)
            assert result.session is None
            return result
        if not good:
            assert result.status is StepStatus.REFUSED
            assert result.code == "question.answer_not_met"
            return result
        m.actions = tuple(a for a in m.actions if a is not ENROLL)
        remaining = tuple(a for a in f.actions if a is not ENROLL)
        assert remaining == ()
        f.state = None
        assert result.status is StepStatus.COMPLETED, result
        self.add_session(m, result.session)
        return result

    # -- rules: password change --------------------------------------------------------------

    @rule(pick=PICK, which=PASSWORDS, variant=NEW_PASSWORDS, case=CASES)
    def change_password(self, pick: int, which: str, variant: str, case: str) -> None:
        m = self.account(pick)
        old = self.password_of(m, which, pick)
        new, confirm = self.new_pair(m, variant)
        result = self.cf.passwords.change(vary(m.identifier, case), old, new, confirm)
        self.check_change(m, old, new, confirm, result, in_session=False)

    @precondition(lambda self: self.sessions)
    @rule(pick=PICK, which=PASSWORDS, variant=NEW_PASSWORDS)
    def change_in_session(self, pick: int, which: str, variant: str) -> None:
        m, s = self.sessions[pick % len(self.sessions)]
        old = self.password_of(m, which, pick)
        new, confirm = self.new_pair(m, variant)
        valid = self.session_valid(m, s)
        result = self.cf.passwords.change_in_session(s.token, old, new, confirm)
        if not valid:
            assert result.status is StepStatus.INVALID, result
            assert result.code == "flow.invalid"
            return
        self.check_change(m, old, new, confirm, result, in_session=True)

    def check_change(
        self, m: MAccount, old: str, new: str, confirm: str, result: StepResult, *, in_session: bool
    ) -> None:
        if result.ok:
            assert old == m.password, "a password change without the current password"
        locked = self.locked(m)
        usable = m.status is ACTIVE and not self.temp_expired(m)
        if locked or old != m.password or not usable:
            locked_now = not locked and usable and self.count_failure(m)
            assert result.status is StepStatus.REFUSED, result
            assert result.code == "password.old_wrong"
            reason = "account_locked" if locked else "old_password_wrong"
            assert self.last_event(m, "password_change_refused")["reason"] == reason
            self.collect_links(m, locked_now)
            return
        self.collect_links(m, False)
        code = (
            "password.confirmation_differs"
            if new != confirm
            else "password.policy_not_met"
            if new == TOO_SHORT
            else "password.same_as_old"
            if new == m.password
            else None
        )
        if code is not None:
            assert result.status is StepStatus.REFUSED, result
            assert result.code == code
            return
        self.reset_lockout(m)
        self.apply_password(m, new)
        if in_session and not self.reauth:
            assert result.status is StepStatus.COMPLETED, result
            self.add_session(m, result.session)
        else:
            assert result.status is StepStatus.REAUTHENTICATE, result
            assert result.session is None
        self.old_password_fails(m, old)

    def old_password_fails(self, m: MAccount, old: str) -> None:
        """PC-03: the replaced password no longer opens anything; earlier sessions are dead."""
        for owner, s in self.sessions:
            if owner is m and s.cv != m.cv:
                assert self.cf.sessions.validate(s.token) is None
        result = self.cf.login(m.identifier, old)
        self.check_login(m, old, result)
        assert result.status is LoginStatus.DENIED

    # -- rules: clock, unlock, sessions ------------------------------------------------------

    @rule(seconds=SECONDS)
    def advance(self, seconds: int) -> None:
        clock(self.cf).advance(seconds)

    def _timed_locks(self) -> list[MAccount]:
        return [
            m
            for m in self.accounts
            if m.locked_until is not None and m.locked_until != FOREVER and self.locked(m)
        ]

    @precondition(lambda self: self._timed_locks())
    @rule(pick=PICK, cross=st.booleans())
    def to_lock_edge(self, pick: int, cross: bool) -> None:
        """Stop at the last locked instant (still locked), and maybe step one second past it."""
        locks = self._timed_locks()
        m = locks[pick % len(locks)]
        assert m.locked_until is not None
        clock(self.cf).advance((m.locked_until - self.now).total_seconds())
        assert self.now == m.locked_until
        assert self.cf.lockout.is_locked(self.cf.accounts.get(m.id))
        if cross:
            clock(self.cf).advance(1)
            assert not self.cf.lockout.is_locked(self.cf.accounts.get(m.id))

    @precondition(lambda self: self.links)
    @rule(pick=PICK)
    def unlock_by_link(self, pick: int) -> None:
        m, link = self.links[pick % len(self.links)]
        result = self.cf.unlock(link.token)
        if self.now > link.issued + timedelta(seconds=UNLOCK_TTL):
            assert result.status is StepStatus.EXPIRED, result
            assert result.code == "unlock.expired"
            return
        if link.used:
            assert result.status is StepStatus.INVALID, result
            return
        link.used = True
        if link.cv != m.cv:
            assert result.status is StepStatus.INVALID, result
            return
        assert result.status is StepStatus.COMPLETED, result
        assert result.code == "unlock.done"
        self.reset_lockout(m)

    @precondition(lambda self: self.links)
    @rule(pick=PICK)
    def resend_unlock(self, pick: int) -> None:
        """The newest link, expired unused while the account is still locked and its
        credentials unchanged, brings a fresh one; any other link (valid, used, superseded,
        voided by a credential change) nothing. The answer is always the same."""
        m, link = self.links[pick % len(self.links)]
        result = self.cf.resend_unlock(link.token)
        assert result.status is StepStatus.COMPLETED
        assert result.code == "unlock.resent"
        expired = self.now > link.issued + timedelta(seconds=UNLOCK_TTL)
        current = link.cv == m.cv
        self.collect_links(m, expired and not link.used and current and self.locked(m))

    @precondition(lambda self: self.sessions)
    @rule(pick=PICK)
    def revoke(self, pick: int) -> None:
        _, s = self.sessions[pick % len(self.sessions)]
        assert self.cf.sessions.revoke(s.token) is (not s.revoked)
        s.revoked = True

    @rule(pick=PICK)
    def revoke_all(self, pick: int) -> None:
        m = self.account(pick)
        self.cf.sessions.revoke_all(m.id)
        m.epoch += 1

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def storage_agrees_with_the_model(self) -> None:
        for m in self.accounts:
            account = self.cf.accounts.get(m.id)
            assert self.cf.lockout.failures(m.id) == m.failures
            assert account.locked_until == m.locked_until
            assert account.lockouts == m.lockouts
            assert self.cf.lockout.is_locked(account) is self.locked(m)
            assert account.status is m.status
            assert account.credential_version == m.cv
            assert account.required_actions == m.actions
            credential = self.cf.storage.get_password(m.id)
            assert credential is not None
            assert credential.temporary is m.temporary

    @invariant()
    def sessions_agree_with_the_model(self) -> None:
        for m, s in self.sessions:
            got = self.cf.sessions.validate(s.token)
            expected = self.session_valid(m, s)
            assert (got is not None) is expected, (m, s)
            if got is not None:
                assert got.id == m.id
                assert got.status is ACTIVE and got.credential_version == s.cv

    @invariant()
    def every_lock_mailed_one_link(self) -> None:
        mailed = [x for x in outbox(self.cf).messages if x.kind == "unlock_link"]
        assert len(mailed) == self.links_mailed


REQUIREMENTS = pytest.mark.req(
    "LK-03", "LK-04", "LK-05", "LK-06", "LK-09", "TP-02", "TP-03", "TP-04",
    "PC-01", "PC-03", "SS-02", "SS-03", "SS-04",
)  # fmt: skip
MACHINE_SETTINGS = settings(stateful_step_count=40)  # max_examples from the profile


class ClassicSignIn(SignInMachine):
    """Settings.classic: change the password, then enrol a question; reauthenticate between."""


class SignInWithoutReauthentication(SignInMachine):
    OVERRIDES: ClassVar[dict[str, Any]] = {"reauthenticate_after_password_change": False}


class SignInLockedUntilUnlocked(SignInMachine):
    OVERRIDES: ClassVar[dict[str, Any]] = {"lockout": {"until_unlocked": True}}


ClassicSignIn.TestCase.settings = MACHINE_SETTINGS
SignInWithoutReauthentication.TestCase.settings = MACHINE_SETTINGS
SignInLockedUntilUnlocked.TestCase.settings = MACHINE_SETTINGS

TestClassicSignIn = REQUIREMENTS(ClassicSignIn.TestCase)
TestSignInWithoutReauthentication = REQUIREMENTS(SignInWithoutReauthentication.TestCase)
TestSignInLockedUntilUnlocked = REQUIREMENTS(SignInLockedUntilUnlocked.TestCase)


# -- edges the machine's model mirrors, pinned here on their own --------------------------------

NEW = "Kx9999vbQm"


def _first_login_done(**overrides: Any) -> tuple[Any, str]:
    cf = make_cf(
        first_login_actions=(CHANGE,), reauthenticate_after_password_change=False, **overrides
    )
    created = cf.accounts.create("Marie.Curie", email="marie.curie@example.fr")
    assert created.temporary_password is not None
    flow = cf.login("marie.curie", created.temporary_password).flow or ""
    step = cf.first_login.change_password(flow, NEW, NEW)
    assert step.status is StepStatus.COMPLETED
    return cf, created.account.id


@pytest.mark.req("SS-02", "SS-03")
def test_a_login_right_after_revoke_all_gives_a_valid_session() -> None:
    cf, account_id = _first_login_done()
    cf.sessions.revoke_all(account_id)
    result = cf.login("Marie.Curie", NEW)
    assert result.status is LoginStatus.AUTHENTICATED
    assert result.session is not None
    assert cf.sessions.validate(result.session.token) is not None


@pytest.mark.req("TP-04", "SS-06")
def test_a_disabled_account_cannot_complete_first_login() -> None:
    cf = make_cf(first_login_actions=(CHANGE,), reauthenticate_after_password_change=False)
    created = cf.accounts.create("Marie.Curie", email="marie.curie@example.fr")
    assert created.temporary_password is not None
    flow = cf.login("Marie.Curie", created.temporary_password).flow or ""
    cf.accounts.disable(created.account.id)
    seen = len(cf.storage.events(account_id=created.account.id))

    step = cf.first_login.change_password(flow, NEW, NEW)

    assert step.status is StepStatus.INVALID
    assert step.code == "flow.invalid"
    assert step.session is None
    events = [e.type for e in cf.storage.events(account_id=created.account.id)[seen:]]
    assert "login_succeeded" not in events
    assert "password_changed" not in events
    assert cf.login("Marie.Curie", created.temporary_password).status is LoginStatus.DENIED
    cf.accounts.enable(created.account.id)
    assert cf.login("Marie.Curie", created.temporary_password).status is (
        LoginStatus.ACTION_REQUIRED
    )
