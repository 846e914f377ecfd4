"""What every ``cf.mfa`` call needs to answer: the locale, the result, the session's account."""

from __future__ import annotations

from typing import Any

from credflow.errors import InvalidInput
from credflow.messages import Messages
from credflow.results import MfaResult, MfaStatus, Session
from credflow.sessions import SessionService
from credflow.storage.records import Account, RequiredAction

__all__ = ["Replies"]


class Replies:
    """Builds localised ``MfaResult``s and reads the account behind a session."""

    __slots__ = ("_default", "_messages", "_sessions")

    def __init__(self, messages: Messages, sessions: SessionService, default_locale: str):
        self._messages = messages
        self._sessions = sessions
        self._default = default_locale

    def __repr__(self) -> str:
        return "Replies()"

    def lang(self, locale: str | None) -> str:
        """``locale`` resolved among the catalogues (the settings' locale when None)."""
        return self._messages.resolve(locale or self._default)

    def text(self, code: str, lang: str, params: dict[str, Any] | None = None) -> str:
        """The message ``code`` in ``lang``."""
        return self._messages.render(code, lang, params)

    def result(
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
        """An ``MfaResult`` with its message rendered."""
        return MfaResult(
            status,
            code,
            self.text(code, lang, params),
            flow=flow,
            session=session,
            recovery_codes=recovery_codes,
            codes_left=codes_left,
            action=action,
        )

    def account(self, session: Session | str) -> Account | None:
        """The account of a valid session (a ``Session`` or its token), else None; anything
        else raises InvalidInput(field="session")."""
        token = session.token if isinstance(session, Session) else session
        if not isinstance(token, str):
            raise InvalidInput("must be a session token (str)", field="session")
        return self._sessions.validate(token)
