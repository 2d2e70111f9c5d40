"""The events the publishing layer raises for alerts (bot/events.py): the X budget crossing 80%
and 100% (from the one spend path, once committed), posts failing N times in a row, and
reconciliation unable to ask the network about a row for a long time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot import events
from bot.config import XPrices
from bot.platforms.base import AuthFailed, Rejected, Transient
from bot.publish.budget import Budget, Cost, Spend
from bot.publish.outbox import Outbox
from bot.publish.reconciliation import STUCK_AFTER
from bot.store.tables import OutboxRow
from tests.fakes.scripted_platform import ScriptedPlatform
from tests.publish.test_outbox import NOW, planned, send_due


@pytest.fixture
def heard() -> Iterator[list[events.Event]]:
    got: list[events.Event] = []
    subscription = events.subscribe(got.append)
    yield got
    subscription.cancel()


def test_the_budget_alerts_at_80_and_100_percent_once_each(store, make_outbox, heard):
    outbox, platform = make_outbox(budget_usd=0.075), ScriptedPlatform()
    posts = [planned(f"m{i}", due=NOW + timedelta(seconds=i)) for i in range(6)]
    outbox.sync("demo", posts, NOW, NOW + timedelta(1), NOW)
    outcomes = send_due(outbox, platform, NOW + timedelta(seconds=6))  # $0.015 each
    assert [o.state for o in outcomes] == ["sent"] * 5 + ["failed"]
    assert [(e.platform, e.month, e.percent, e.budget) for e in heard] == [  # type: ignore[union-attr]
        ("x", "2026-12", 80, 0.075),  # the 4th post: $0.060
        ("x", "2026-12", 100, 0.075),  # the 5th: $0.075
    ]
    assert [e.spent for e in heard] == [pytest.approx(0.06), pytest.approx(0.075)]  # type: ignore[union-attr]


def test_a_spend_crossing_80_percent_is_heard_once_committed_and_not_if_rolled_back(store, heard):
    Budget(store, 1.0)
    spend = Spend("x", "demo", Cost("read", 0.5), NOW)
    with store.write() as session:
        Budget.record(session, [spend])
    with pytest.raises(RuntimeError), store.write() as session:
        Budget.record(session, [spend])  # crosses 80%, but is rolled back
        assert heard == []  # nothing before the commit either
        raise RuntimeError("rolled back")
    assert heard == []
    with store.write() as session:
        Budget.record(session, [Spend("x", "demo", Cost("read", 0.4), NOW)])
    assert heard == [events.BudgetThreshold("x", "2026-12", 80, pytest.approx(0.9), 1.0)]


def test_failing_posts_are_alerted_once_per_streak(store, heard):
    outbox = Outbox(store, "live", Budget(store, 100.0), XPrices(), failures_alert_after=3)
    platform = ScriptedPlatform("bluesky")
    platform.script = [
        Transient("bluesky", "503 Service Unavailable"),
        Rejected("bluesky", "400 text too long"),
        AuthFailed("bluesky", "401"),  # a pause, alerted on its own: neither failure nor success
        Transient("bluesky", "502 Bad Gateway"),  # the third failure in a row
        Transient("bluesky", "502 Bad Gateway"),  # the fourth: same streak, no new alert
    ]  # then the sixth post goes out, and the count starts again
    posts = [planned(f"m{i}", "bluesky", NOW + timedelta(seconds=i)) for i in range(6)]
    outbox.sync("demo", posts, NOW, NOW + timedelta(1), NOW)
    outcomes = send_due(outbox, platform, NOW + timedelta(seconds=10))
    states = ["planned", "failed", "planned", "planned", "planned", "sent"]
    assert [o.state for o in outcomes] == states
    assert heard == [events.PostsFailing("bluesky", 3, "502 Bad Gateway")]
    platform.script = [Transient("bluesky", "timeout")] * 3
    later = NOW + timedelta(minutes=30)  # the backed-off rows are due again
    send_due(outbox, platform, later)
    assert heard[1:] == [events.PostsFailing("bluesky", 3, "timeout")]


def test_reconciliation_alerts_rows_it_cannot_ask_about_for_long(store, make_outbox, heard):
    outbox, platform = make_outbox(), ScriptedPlatform()
    outbox.sync("demo", [planned("a"), planned("b")], NOW, NOW + timedelta(1), NOW)
    with store.write() as session:
        for row in session.query(OutboxRow):
            row.state, row.updated_at = "sending", NOW
    platform.find_errors = [Transient("x", "connection refused")] * 2
    assert outbox.reconcile(platform, NOW + STUCK_AFTER - timedelta(seconds=1))["unknown"] == 2
    assert heard == []  # a blip: not yet
    platform.find_errors = [Transient("x", "connection refused")] * 2
    assert outbox.reconcile(platform, NOW + STUCK_AFTER)["unknown"] == 2
    assert heard == [events.ReconcileStuck("x", 2)]
