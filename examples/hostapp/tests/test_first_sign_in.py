"""A host app's own tests of its sign-in, written with the credflow pytest plugin.

The fixtures come from the plugin: ``credflow_app`` (a Credflow on memory storage with fast
hashing), ``outbox`` (every message it sent) and ``frozen_clock`` (time moves when told to).
"""

from __future__ import annotations

from credflow import Credflow, LoginStatus, RecoveryStatus, RequiredAction, StepStatus
from credflow.clock import FrozenClock
from credflow.testing import TestOutbox

NEW_PASSWORD = "correct horse battery staple"


def test_first_login_with_the_temporary_password(
    credflow_app: Credflow, outbox: TestOutbox
) -> None:
    created = credflow_app.accounts.create("adejoux", email="a.dejoux@example.fr")
    assert created.temporary_password is not None  # shown once, to the administrator

    first = credflow_app.login("adejoux", created.temporary_password)
    assert first.status is LoginStatus.ACTION_REQUIRED
    assert first.action is RequiredAction.CHANGE_PASSWORD
    assert first.session is None
    assert first.flow is not None

    step = credflow_app.first_login.change_password(first.flow, NEW_PASSWORD, NEW_PASSWORD)
    assert step.status is StepStatus.COMPLETED
    assert step.session is not None

    assert credflow_app.login("adejoux", NEW_PASSWORD).ok
    assert not credflow_app.login("adejoux", created.temporary_password).ok
    assert outbox.last_message("password_changed", recipient="a.dejoux@example.fr")


def test_a_forgotten_password_is_reset_through_the_mailed_link(
    credflow_app: Credflow, outbox: TestOutbox
) -> None:
    credflow_app.accounts.create("bmartin", email="b.martin@example.fr")

    credflow_app.recovery.start("bmartin")
    opened = credflow_app.recovery.open_link(outbox.last_token("reset"))
    assert opened.status is RecoveryStatus.NEXT
    assert opened.flow is not None

    chosen = "a brand new passphrase"
    done = credflow_app.recovery.set_password(opened.flow, chosen, chosen)
    assert done.status is RecoveryStatus.COMPLETED
    assert credflow_app.login("bmartin", chosen).ok


def test_a_reset_link_expires(
    credflow_app: Credflow, outbox: TestOutbox, frozen_clock: FrozenClock
) -> None:
    credflow_app.accounts.create("cdupont", email="c.dupont@example.fr")
    credflow_app.recovery.start("cdupont")

    frozen_clock.advance(credflow_app.settings.lifetimes.recovery_link + 1)

    opened = credflow_app.recovery.open_link(
        outbox.last_token("reset", recipient="c.dupont@example.fr")
    )
    assert opened.status is RecoveryStatus.EXPIRED
