"""The maintenance purge, and the decoy link an unknown recovery stores (and the purge drops)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.factories import clock, make_cf, outbox
from tests.storage_fixtures import ADAPTERS, open_storage
from tests.test_login import GOOD, ready

from credflow.errors import InvalidInput
from credflow.maintenance import COUNTER_IDLE, DEFAULT_GRACE, PurgeReport
from credflow.results import RecoveryStatus, StepStatus
from credflow.tokens import TokenOutcome


def test_an_unknown_recovery_stores_a_decoy_link_that_nobody_can_redeem() -> None:
    cf = make_cf(recovery={"steps": ["email_link"]})
    before = cf.storage.purge_expired(clock(cf).now())  # nothing yet
    assert before == 0
    result = cf.recovery.start("nobody.at.all")
    assert result.status is RecoveryStatus.NEXT
    assert outbox(cf).messages == ()  # no mail to anybody
    # one token record was written, as for a real account, and it expires like a real link
    clock(cf).advance(cf.settings.lifetimes.recovery_link + 1)
    assert cf.storage.purge_expired(clock(cf).now()) == 1


@pytest.mark.req("RS-01")
def test_known_and_unknown_starts_write_the_same_records() -> None:
    cf = make_cf(recovery={"steps": ["email_link"]})
    ready(cf, "adejoux")
    cf.recovery.start("adejoux")  # a first link, so the next start voids one as well
    for identifier in ("adejoux", "nobody.at.all"):
        later = clock(cf).now() + timedelta(days=1)
        cf.storage.purge_expired(later)  # clear, then count what one start leaves
        cf.recovery.start(identifier)
        assert cf.storage.purge_expired(later) == 1, identifier


def test_purge_keeps_what_is_recent_and_drops_what_expired_long_ago() -> None:
    cf = make_cf(recovery={"steps": ["email_link"]})
    account_id = ready(cf, "adejoux")
    session = cf.login("adejoux", GOOD).session
    assert session is not None
    cf.recovery.start("adejoux")
    link = outbox(cf).last("reset_link")
    assert link is not None
    token = link.params["link"].split("token=")[1]
    clock(cf).advance(cf.settings.lifetimes.recovery_link + 1)
    report = cf.maintenance.purge()
    assert report == PurgeReport(records=0, counters=0, accounts=0)
    assert cf.tokens.check(token, "reset").outcome is TokenOutcome.EXPIRED
    assert cf.tokens.expired_outstanding(token, "reset") == account_id  # kept for a resend
    clock(cf).advance(DEFAULT_GRACE)
    report = cf.maintenance.purge()
    assert report.records == 1  # the link; the two sessions expired less than a grace ago
    assert cf.tokens.check(token, "reset").outcome is TokenOutcome.EXPIRED  # by its signature
    assert cf.tokens.expired_outstanding(token, "reset") is None  # no record: no resend
    assert cf.sessions.validate(session.token) is None  # expired, still stored
    clock(cf).advance(cf.settings.lifetimes.session_absolute)
    report = cf.maintenance.purge()
    assert report.records == 2  # the first login's session and this one
    assert cf.accounts.get(account_id).identifier == "adejoux"  # accounts are not touched
    events = [e for e in cf.storage.events() if e.type == "storage_purged"]
    assert events[-1].details == {"records": 2, "counters": 0, "accounts": 0}


def test_counters_go_once_idle_longer_than_any_window() -> None:
    cf = make_cf(recovery={"steps": ["email_link"]})
    cf.recovery.start("nobody.at.all")  # a rate-limit counter
    clock(cf).advance(COUNTER_IDLE - 1)
    assert cf.maintenance.purge().counters == 0
    clock(cf).advance(2)
    assert cf.maintenance.purge().counters == 1


def test_purge_removes_unverified_registrations_past_their_ttl() -> None:
    cf = make_cf()
    cf.registration.register("nouveau@example.fr", GOOD, GOOD)
    clock(cf).advance(cf.settings.registration.unverified_ttl + 1)
    assert cf.maintenance.purge().accounts == 1
    assert cf.accounts.find("nouveau@example.fr") is None


@pytest.mark.parametrize("grace", [-1, 1.5, "60", True, None])
def test_bad_grace_is_a_typed_error(grace: object) -> None:
    cf = make_cf()
    with pytest.raises(InvalidInput) as caught:
        cf.maintenance.purge(grace=grace)  # type: ignore[arg-type]
    assert caught.value.field == "grace"
    assert [e for e in cf.storage.events() if e.type == "storage_purged"] == []


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_the_decoy_and_the_purge_work_on_every_adapter(adapter: str, tmp_path: object) -> None:
    with open_storage(adapter, tmp_path) as storage:  # type: ignore[arg-type]
        cf = make_cf(storage, recovery={"steps": ["email_link"]})
        cf.recovery.start("nobody.at.all")
        clock(cf).advance(cf.settings.lifetimes.recovery_link + DEFAULT_GRACE + 1)
        assert cf.maintenance.purge().records == 1
        step = cf.first_login.change_password("no-such-flow", GOOD, GOOD)
        assert step.status is StepStatus.INVALID
