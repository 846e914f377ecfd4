"""``send_best_effort``: the delivery of notices whose failure must not undo their cause."""

from __future__ import annotations

import pytest

from credflow.errors import NotificationError, StorageUnavailable
from credflow.notify import Message, Outbox, send_best_effort

NOTICE = Message("unlock_link", "a@example.fr", "fr", {"identifier": "a", "link": "x"})


class Raising:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def send(self, message: Message) -> None:
        raise self.error


def test_a_delivered_message_gives_none() -> None:
    outbox = Outbox()
    assert send_best_effort(outbox, NOTICE) is None
    assert outbox.messages == (NOTICE,)


@pytest.mark.parametrize(
    "error", [NotificationError("smtp down"), OSError("refused"), KeyError("template")]
)
def test_a_delivery_failure_gives_its_type_name(error: Exception) -> None:
    assert send_best_effort(Raising(error), NOTICE) == type(error).__name__


def test_a_storage_error_from_the_notifier_still_raises() -> None:
    with pytest.raises(StorageUnavailable):
        send_best_effort(Raising(StorageUnavailable("the outbox table is gone")), NOTICE)
