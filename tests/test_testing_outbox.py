"""TestOutbox (credflow.testing): the lookups a host app's test uses, and their errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from credflow.facade import Credflow
from credflow.notify import Message, Outbox
from credflow.testing import NoMessage, TestOutbox, make_app, make_settings


def _message(kind: str, recipient: str = "a@example.fr", **params: str) -> Message:
    secret = frozenset(params) & {"link", "code", "temporary_password"}
    return Message(kind, recipient, "fr", params, secret_params=secret)


def test_is_an_outbox_that_pytest_never_collects() -> None:
    box = TestOutbox()
    assert isinstance(box, Outbox)
    assert TestOutbox.__test__ is False
    assert repr(box) == "TestOutbox(0 messages)"


def test_last_link_and_last_token_of_a_real_reset(
    credflow_app: Credflow, outbox: TestOutbox
) -> None:
    credflow_app.accounts.create("adejoux", email="a.dejoux@example.fr")
    credflow_app.recovery.start("adejoux")
    link = outbox.last_link("reset", recipient="A.Dejoux@Example.FR")
    token = outbox.last_token("reset")
    assert link == f"{credflow_app.settings.base_url}/reset?token={token}"
    assert credflow_app.recovery.open_link(token).flow is not None


def test_last_link_returns_the_newest_of_its_purpose_and_recipient() -> None:
    box = TestOutbox()
    box.send(_message("reset_link", link="https://x.test/reset?token=old"))
    box.send(_message("unlock_link", link="https://x.test/unlock?token=unlock"))
    box.send(_message("reset_link", "b@example.fr", link="https://x.test/reset?token=bob"))
    box.send(_message("reset_link", link="https://x.test/reset?token=new"))
    box.send(_message("password_changed"))
    assert box.last_token("reset") == "new"
    assert box.last_token("reset", recipient="B@example.fr") == "bob"
    assert box.last_token("unlock") == "unlock"
    assert box.last_link("reset", recipient="a@example.fr").endswith("=new")


def test_last_code_finds_any_code_or_one_purpose() -> None:
    box = TestOutbox()
    box.send(_message("reset_code", code="111111"))
    box.send(_message("sms_code", "+33612345678", code="222222"))
    box.send(_message("password_changed"))
    assert box.last_code() == "222222"
    assert box.last_code("reset") == "111111"
    assert box.last_code(recipient="a@example.fr") == "111111"


def test_last_message_and_kinds() -> None:
    box = TestOutbox()
    box.send(_message("identifier", identifier="adejoux"))
    box.send(_message("temporary_password", "b@example.fr", temporary_password="Xy7!abcdEFGH"))
    assert box.last_message().kind == "temporary_password"
    assert box.last_message("identifier").params["identifier"] == "adejoux"
    assert box.kinds() == ("identifier", "temporary_password")
    assert box.kinds(recipient="b@example.fr") == ("temporary_password",)


@pytest.mark.req("OT-10")
def test_nothing_found_raises_no_message_naming_what_was_wanted_never_a_secret() -> None:
    box = TestOutbox()
    box.send(_message("reset_code", code="918273"))
    box.send(_message("unlock_link", link="https://x.test/unlock?token=s3cr3t-token"))
    with pytest.raises(NoMessage) as caught:
        box.last_link("reset")
    error = caught.value
    assert isinstance(error, LookupError)
    assert (error.wanted, error.recipient, error.kinds) == (
        "reset link",
        None,
        ("reset_code", "unlock_link"),
    )
    assert str(error) == "no reset link in the outbox; it holds: reset_code, unlock_link"
    for secret in ("918273", "s3cr3t-token"):
        assert secret not in str(error)
        assert secret not in repr(error)


B = "b@example.fr"


@pytest.mark.parametrize(
    ("lookup", "expected"),
    [
        (lambda box: box.last_code("sms", recipient=B), "no sms code for b@example.fr"),
        (lambda box: box.last_code(recipient=B), "no code for b@example.fr"),
        (lambda box: box.last_message(recipient=B), "no message for b@example.fr"),
        (lambda box: box.last_message("x", recipient=B), "no x message for b@example.fr"),
        (lambda box: box.last_token("reset", recipient=B), "no reset link for b@example.fr"),
    ],
)
def test_every_lookup_raises_no_message_for_an_unknown_recipient(
    lookup: Callable[[TestOutbox], object], expected: str
) -> None:
    box = TestOutbox()
    box.send(_message("reset_code", code="918273"))
    with pytest.raises(NoMessage, match=f"^{expected} in the outbox; it holds: reset_code$"):
        lookup(box)


def test_an_empty_outbox_says_it_holds_nothing() -> None:
    with pytest.raises(NoMessage, match=r"^no code in the outbox; it holds: nothing$"):
        TestOutbox().last_code()


def test_a_link_without_a_token_is_reported() -> None:
    box = TestOutbox()
    box.send(_message("reset_link", link="https://x.test/reset"))
    with pytest.raises(NoMessage, match=r"^no reset link with a token in the outbox"):
        box.last_token("reset")


def test_make_app_uses_the_outbox_it_is_given() -> None:
    box = TestOutbox()
    cf = make_app(make_settings(), outbox=box)
    cf.accounts.create("adejoux", email="a.dejoux@example.fr")
    cf.recovery.start("adejoux")
    assert box.kinds() == ("reset_link",)
