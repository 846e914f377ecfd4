"""Codes sent by SMS (Sage): made, rate-limited, sent, and checked against the flow they live in.

A code has ``settings.mfa.sms_code_digits`` digits from ``secrets`` and is kept in its flow's
data only as an HMAC-SHA-256 under the settings key, bound to the flow and to the phone it was
sent to (``credflow.codes``). Every check spends one try first, atomically (a storage counter
per code), so parallel guesses cannot exceed the tries; a resend makes a new code (a new
serial, new tries) and voids the previous one. At most ``RATE_LIMIT`` SMS go to one account per
``RATE_WINDOW`` seconds, enrolment, login and recovery together.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

from credflow.clock import Clock
from credflow.codes import code_hash, code_matches, new_code
from credflow.mfa.checks import CodeCheck
from credflow.mfa.factors import confirmed
from credflow.notify import Message, Notifier
from credflow.settings import MfaSettings
from credflow.storage.protocols import Storage
from credflow.storage.records import FlowRecord, MfaFactor, MfaKind

__all__ = ["RATE_LIMIT", "RATE_WINDOW", "SmsCodes"]

RATE_LIMIT = 5
"""At most this many SMS per account per ``RATE_WINDOW`` seconds, so a stolen password cannot
turn the portal into an SMS cannon."""
RATE_WINDOW = 900


class SmsCodes:
    """Makes, sends and checks the SMS codes of ``cf.mfa`` and of the recovery's ``mfa`` step."""

    __slots__ = ("_clock", "_config", "_key", "_notifier", "_storage")

    def __init__(
        self,
        storage: Storage,
        config: MfaSettings,
        clock: Clock,
        notifier: Notifier,
        key: bytes,
    ) -> None:
        self._storage = storage
        self._config = config
        self._clock = clock
        self._notifier = notifier
        self._key = key

    def __repr__(self) -> str:
        return "SmsCodes()"

    def enrol_hash(self, account_id: str) -> str:
        """Where an account's SMS enrolment waits: a flow key no handle can hash to."""
        message = f"credflow.mfa-enrol:{account_id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def allowed(self, account_id: str) -> bool:
        """Count one SMS for the account; False when it is over the rate limit."""
        now = self._clock.now()
        bucket = int(now.timestamp()) // RATE_WINDOW
        return self._storage.increment_counter(f"mfa-sms:{account_id}:{bucket}", now) <= RATE_LIMIT

    def prepare(self, account_id: str, record: FlowRecord) -> tuple[str, str, dict[str, Any]] | str:
        """A new code for the flow ``record`` to the account's confirmed phone: ``(code, phone,
        flow data)``, or the refusal message code (``mfa.no_phone``, ``mfa.too_many_codes``)."""
        factor = confirmed(self._storage, account_id).get(MfaKind.SMS)
        if factor is None or factor.phone is None:
            return "mfa.no_phone"
        if not self.allowed(account_id):
            return "mfa.too_many_codes"
        serial = int(record.data.get("sms_serial", 0)) + 1
        code, data = self.new(record.handle_hash, factor.phone, serial)
        return code, factor.phone, data

    def new(self, handle_hash: str, phone: str, serial: int) -> tuple[str, dict[str, Any]]:
        """A new code for the flow ``handle_hash`` and what its flow data keeps of it."""
        code = new_code(self._config.sms_code_digits)
        expires = self._clock.now() + timedelta(seconds=self._config.sms_code_lifetime)
        return code, {
            "sms": code_hash(self._key, handle_hash, code, bound_to=phone),
            "sms_expires": expires.isoformat(),
            "sms_serial": serial,
            "phone": phone,
        }

    def live(
        self, record: FlowRecord | None, factor: MfaFactor | None, code: str
    ) -> CodeCheck | None:
        """The check of ``code`` against the SMS code sent in ``record``, or None when no code
        was sent there (or ``code`` has not its length)."""
        if record is None or factor is None or factor.phone is None or not record.data.get("sms"):
            return None
        if len(code) != self._config.sms_code_digits:
            return None
        return self.check(record, factor.phone, code)

    def check(self, record: FlowRecord, phone: str, code: str) -> CodeCheck:
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

    def send(self, phone: str, code: str, lang: str) -> None:
        """Hand the SMS to the notifier (``sms_code`` on the ``sms`` channel)."""
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
