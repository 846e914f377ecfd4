"""The plumbing shared by the flows a mailed code confirms (registration, email change).

A flow record holds the HMAC of its current code (bound to the flow and to the address the
code proves), the code's expiry, the tries left and its own deadline. Every step runs inside one
storage transaction that reads the flow, decides with the pure machine, and writes with a
compare-and-set on the flow's state and version, so a step replayed or raced is applied once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from credflow.clock import Clock
from credflow.codes import code_hash, code_matches, new_code
from credflow.flows.machine import Machine
from credflow.flows.registration import CodeEvent, CodeFacts, CodeState
from credflow.login import new_handle
from credflow.messages import Messages
from credflow.policy.report import RuleResult
from credflow.results import Session, VerificationResult, VerificationStatus
from credflow.settings import Settings
from credflow.storage.protocols import Storage
from credflow.storage.records import FlowRecord
from credflow.tokens import nonce_hash

__all__ = ["CodeFlows"]


class CodeFlows:
    """Open, load, check, fail and resend the code flows of one ``kind``.

    Message codes are ``{kind}.{outcome}`` (``registration.code_wrong``…).
    """

    def __init__(
        self,
        kind: str,
        machine: Machine[CodeState, CodeEvent, CodeFacts],
        storage: Storage,
        settings: Settings,
        clock: Clock,
        messages: Messages,
    ) -> None:
        self.kind = kind
        self.machine = machine
        self._storage = storage
        self._config = settings.registration
        self._clock = clock
        self._messages = messages
        self._key = settings.signing_keys[0]
        # The flow outlives one code, so that a resend can follow an expired code.
        self._window = max(settings.lifetimes.flow, self._config.code_lifetime)

    # -- codes -------------------------------------------------------------------------------

    def code_data(self, handle_hash: str, bound_to: str) -> tuple[str, dict[str, Any]]:
        """A new code, and the flow data that stands for it (its HMAC and its expiry)."""
        code = new_code(self._config.code_digits)
        expires = self._clock.now() + timedelta(seconds=self._config.code_lifetime)
        return code, {
            "code": code_hash(self._key, handle_hash, code, bound_to=bound_to),
            "code_expires": expires.isoformat(),
        }

    def matches(self, record: FlowRecord, code: str) -> bool:
        """True when ``code`` is the flow's current code (and bound to the flow's address)."""
        return code_matches(
            record.data["code"], self._key, record.handle_hash, code, bound_to=record.data["bound"]
        )

    def code_expired(self, record: FlowRecord) -> bool:
        """True when the current code is past its expiry (accepted at exactly the lifetime)."""
        return self._clock.now() > datetime.fromisoformat(record.data["code_expires"])

    @property
    def minutes(self) -> str:
        """The code lifetime in whole minutes, for the mail."""
        return str(max(1, self._config.code_lifetime // 60))

    # -- flows -------------------------------------------------------------------------------

    def open(
        self, account_id: str | None, bound_to: str, data: Mapping[str, Any]
    ) -> tuple[str, str]:
        """Store a new flow waiting for its first code; return its handle and the code."""
        handle = new_handle()
        digest = nonce_hash(handle)
        code, code_data = self.code_data(digest, bound_to)
        now = self._clock.now()
        self._storage.save_flow(
            FlowRecord(
                handle_hash=digest,
                kind=self.kind,
                account_id=account_id,
                state=CodeState.CODE_SENT.value,
                data={
                    **data,
                    **code_data,
                    "bound": bound_to,
                    "attempts": self._config.code_attempts,
                },
                created_at=now,
                expires_at=now + timedelta(seconds=self._window),
            )
        )
        return handle, code

    def load(self, flow: object, lang: str) -> FlowRecord | VerificationResult:
        """The flow behind ``flow`` waiting for a code, or the result that ends the call: invalid
        (unknown, other kind, finished) or expired (the flow is then removed)."""
        if not isinstance(flow, str) or not flow:
            return self.result(VerificationStatus.INVALID, "invalid", lang)
        record = self._storage.get_flow(nonce_hash(flow))
        if record is None or record.kind != self.kind or record.state != CodeState.CODE_SENT:
            return self.result(VerificationStatus.INVALID, "invalid", lang)
        now = self._clock.now()
        if now > record.expires_at or now > datetime.fromisoformat(record.data["deadline"]):
            return self.end(record, CodeEvent.EXPIRE, VerificationStatus.EXPIRED, "expired", lang)
        return record

    def advance(
        self,
        record: FlowRecord,
        target: CodeState,
        changes: Mapping[str, Any],
        *,
        extend: bool = False,
    ) -> FlowRecord:
        """Compare-and-set the flow to ``target`` (raises ConcurrentUpdate when raced)."""
        update: dict[str, Any] = {"state": target.value, "data": {**record.data, **changes}}
        if extend:
            update["expires_at"] = max(
                record.expires_at, self._clock.now() + timedelta(seconds=self._window)
            )
        return self._storage.advance_flow(
            record.model_copy(update=update), expected_state=record.state
        )

    def finish(self, record: FlowRecord, event: CodeEvent, facts: CodeFacts) -> CodeState:
        """Move the flow to the terminal state ``event`` leads to, and remove it. The
        compare-and-set comes first: of racing steps, one finishes the flow."""
        target = self.machine.next(CodeState.CODE_SENT, event, facts)
        self.advance(record, target, {"code": ""})
        self._storage.delete_flow(record.handle_hash)
        return target

    def end(
        self,
        record: FlowRecord,
        event: CodeEvent,
        status: VerificationStatus,
        outcome: str,
        lang: str,
        facts: CodeFacts | None = None,
    ) -> VerificationResult:
        """``finish`` the flow, and say so."""
        self.finish(record, event, facts or CodeFacts())
        return self.result(status, outcome, lang)

    def wrong(self, record: FlowRecord, flow: str, lang: str) -> VerificationResult:
        """Count a wrong code: the tries left, or the end of the flow after the last one."""
        attempts = int(record.data["attempts"]) - 1
        facts = CodeFacts(attempts_left=attempts)
        target = self.machine.next(CodeState.CODE_SENT, CodeEvent.CODE_WRONG, facts)
        if target is CodeState.FAILED:
            return self.end(
                record, CodeEvent.CODE_WRONG, VerificationStatus.FAILED, "failed", lang, facts
            )
        self.advance(record, target, {"attempts": attempts})
        return self.result(
            VerificationStatus.REFUSED,
            "code_wrong",
            lang,
            {"attempts": attempts},
            flow=flow,
            attempts_left=attempts,
        )

    def expired_code(self, flow: str, lang: str) -> VerificationResult:
        """The code expired but the flow stands: nothing changes, a resend is offered."""
        self.machine.next(CodeState.CODE_SENT, CodeEvent.CODE_EXPIRED, CodeFacts())
        return self.result(VerificationStatus.EXPIRED, "code_expired", lang, flow=flow)

    def renew(self, record: FlowRecord) -> str:
        """Replace the flow's code by a new one (the old one stops working); tries carry over."""
        target = self.machine.next(CodeState.CODE_SENT, CodeEvent.RESEND, CodeFacts())
        code, data = self.code_data(record.handle_hash, record.data["bound"])
        self.advance(record, target, data, extend=True)
        return code

    def within_rate(self, key: str) -> bool:
        """Count one mail against ``key`` in the current fixed window."""
        window = self._config.rate_window
        now = self._clock.now()
        count = self._storage.increment_counter(
            f"{self.kind}:{key}:{int(now.timestamp()) // window}", now
        )
        return count <= self._config.rate_limit

    def deadline(self, start: datetime) -> str:
        """The instant after which a flow started at ``start`` (or its account) expires."""
        return (start + timedelta(seconds=self._config.unverified_ttl)).isoformat()

    def result(
        self,
        status: VerificationStatus,
        outcome: str,
        lang: str,
        params: Mapping[str, Any] | None = None,
        *,
        flow: str | None = None,
        attempts_left: int | None = None,
        failures: tuple[RuleResult, ...] = (),
        account_id: str | None = None,
        session: Session | None = None,
        code: str | None = None,
    ) -> VerificationResult:
        """A result whose message code is ``{kind}.{outcome}`` (or ``code`` when given)."""
        key = code or f"{self.kind}.{outcome}"
        return VerificationResult(
            status,
            key,
            self._messages.render(key, lang, params),
            flow=flow,
            attempts_left=attempts_left,
            failures=failures,
            account_id=account_id,
            session=session,
        )
