"""Mails that tell a person their second factors changed or stopped someone (OT-09, PC-04,
RC-06, LK-11).

A factor added (``mfa_enabled``) or removed (``mfa_disabled``), a recovery code used
(``recovery_code_used``, with how many are left), a new set of codes
(``recovery_codes_regenerated``) and a login whose password was right but whose second factor
failed (``second_factor_failed``) each mail the account's address, when it has one, so that what
the person did not do is seen. They carry no secret: the identifier, the method in
words, the time and the portal's address. The services send them inside the transaction of the
change, like every other notice, so a failed delivery leaves the change undone; except
``second_factor_failed``, which is best effort (LK-11): the failure stays counted and the event
records ``mailed=False``.
"""

from __future__ import annotations

from credflow.clock import Clock
from credflow.messages import Messages
from credflow.notify import Message, Notifier, send_best_effort
from credflow.storage.records import Account, MfaKind

__all__ = ["Notices"]


class Notices:
    """Sends the second-factor notices through the notifier."""

    __slots__ = ("_base_url", "_clock", "_messages", "_notifier")

    def __init__(self, notifier: Notifier, messages: Messages, clock: Clock, base_url: str):
        self._notifier = notifier
        self._messages = messages
        self._clock = clock
        self._base_url = base_url

    def enabled(self, account: Account, kind: MfaKind, lang: str) -> None:
        """A factor of ``kind`` was confirmed."""
        self._send("mfa_enabled", account, lang, method=self._method(kind, lang))

    def disabled(self, account: Account, kind: MfaKind, lang: str) -> None:
        """A confirmed factor of ``kind`` was removed."""
        self._send("mfa_disabled", account, lang, method=self._method(kind, lang))

    def code_used(self, account: Account, left: int, lang: str) -> None:
        """A recovery code was used; ``left`` are still unused."""
        self._send("recovery_code_used", account, lang, left=str(left))

    def regenerated(self, account: Account, lang: str) -> None:
        """A new set of recovery codes replaced the old one."""
        self._send("recovery_codes_regenerated", account, lang)

    def second_factor_failed(self, account: Account, method: str, lang: str) -> str | None:
        """A login's password was right but its second factor (``method``: ``totp``, ``sms`` or
        ``recovery_code``) failed: someone may know the password (LK-11). Best effort: returns
        the delivery error's type name instead of raising (``send_best_effort``)."""
        words = self._messages.render(f"mfa.method_{method}", lang)
        message = self._message("second_factor_failed", account, lang, method=words)
        return None if message is None else send_best_effort(self._notifier, message)

    def _method(self, kind: MfaKind, lang: str) -> str:
        return self._messages.render(f"mfa.method_{kind.value}", lang)

    def _send(self, kind: str, account: Account, lang: str, **params: str) -> None:
        message = self._message(kind, account, lang, **params)
        if message is not None:
            self._notifier.send(message)

    def _message(self, kind: str, account: Account, lang: str, **params: str) -> Message | None:
        """The notice for the account's address; None when it has none."""
        if account.email is None:
            return None
        values = {
            "identifier": account.identifier,
            **params,
            "at": self._clock.now().isoformat(),
            "url": self._base_url,
        }
        return Message(kind, account.email, lang, values)
