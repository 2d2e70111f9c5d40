"""The outbox state machine on a real SQLite file and a real PostgreSQL database: exactly once,
every outcome accounted for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.platforms.base import Ambiguous, AuthFailed, Duplicate, RateLimited, Rejected, Transient
from bot.publish.outbox import Outbox, PlannedPost
from bot.publish.schedule import Slot
from bot.store.engine import Store
from bot.store.tables import OutboxRow, SpendRow
from tests.fakes.scripted_platform import ScriptedPlatform
from tests.peers.postgres import (  # noqa: F401 (fixtures)
    database_url_fixture,
    postgres_server_fixture,
    postgres_url_fixture,
)

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def planned(
    message: str = "m",
    platform: str = "x",
    due: datetime = NOW,
    text: str = "Hello Cymru",
    delay: int = 60,
) -> PlannedPost:
    slot = Slot(
        due,
        "demo",
        message,
        "cy",
        platform,
        due.replace(tzinfo=None),
        due + timedelta(minutes=delay),
    )
    return PlannedPost(slot, text)


def rows(store: Store) -> list[OutboxRow]:
    with store.read() as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def send_due(outbox: Outbox, platform: ScriptedPlatform, now: datetime = NOW):
    return [outbox.publish(row, platform, now) for row in outbox.due(platform.name, now)]


def test_sync_is_idempotent_updates_text_and_cancels_removed_slots(store, make_outbox):
    outbox = make_outbox()
    window = (NOW - timedelta(hours=1), NOW + timedelta(days=1))
    assert outbox.sync("demo", [planned("a"), planned("b")], *window, NOW) == (2, 0)
    assert outbox.sync("demo", [planned("a"), planned("b")], *window, NOW) == (0, 0)
    assert outbox.sync("demo", [planned("a", text="Changed")], *window, NOW) == (0, 1)
    by_message = {r.message_id: r for r in rows(store)}
    assert (by_message["a"].state, by_message["a"].text) == ("planned", "Changed")
    assert (by_message["b"].state, by_message["b"].reason) == (
        "cancelled",
        "no longer in the campaign",
    )


def test_sent_rows_are_never_touched_by_a_resync(store, make_outbox):
    outbox, platform = make_outbox(), ScriptedPlatform()
    window = (NOW - timedelta(hours=1), NOW + timedelta(days=1))
    outbox.sync("demo", [planned("a")], *window, NOW)
    send_due(outbox, platform)
    outbox.sync("demo", [], *window, NOW)
    outbox.sync("demo", [planned("a", text="Other")], *window, NOW)
    (row,) = rows(store)
    assert (row.state, row.text) == ("sent", "Hello Cymru")


def test_publish_success_records_remote_id_and_x_spend(store, make_outbox):
    outbox, platform = make_outbox(), ScriptedPlatform()
    outbox.sync(
        "demo", [planned(text="Read https://example.org/letter")], NOW, NOW + timedelta(1), NOW
    )
    (outcome,) = send_due(outbox, platform)
    assert outcome.state == "sent"
    (row,) = rows(store)
    assert (row.state, row.remote_id, row.url, row.attempts) == (
        "sent",
        "x-1",
        "https://x.test/1",
        1,
    )
    with store.read() as session:
        assert [(s.kind, s.usd) for s in session.scalars(select(SpendRow))] == [
            ("post_with_link", 0.20)
        ]
    assert send_due(outbox, platform) == []  # nothing is sent twice


def test_a_crash_mid_call_is_reconciled_not_resent(store, make_outbox):
    outbox, platform = make_outbox(), ScriptedPlatform()
    outbox.sync("demo", [planned()], NOW, NOW + timedelta(1), NOW)
    (row,) = outbox.due("x", NOW)
    # Simulate the crash: the row was claimed (sending) and the network created the post.
    with store.write() as session:
        session.get(OutboxRow, row.id).state = "sending"
    platform.posts[row.key] = platform.publish(outbox.request(row))
    platform.calls.clear()
    assert outbox.due("x", NOW) == []
    assert outbox.reconcile(platform, NOW) == {
        "sent": 1,
        "planned": 0,
        "missed": 0,
        "unknown": 0,
        "lost": 0,
    }
    assert platform.calls == [f"find {row.key}"]
    assert rows(store)[0].state == "sent"


@pytest.mark.parametrize("created", [True, False])
def test_ambiguous_failure_becomes_unconfirmed_then_reconciles(store, make_outbox, created):
    outbox, platform = make_outbox(), ScriptedPlatform()
    platform.script = [
        ("after", Ambiguous("x", "timeout")) if created else Ambiguous("x", "timeout")
    ]
    outbox.sync("demo", [planned()], NOW, NOW + timedelta(1), NOW)
    (outcome,) = send_due(outbox, platform)
    assert (outcome.state, rows(store)[0].state) == ("unconfirmed", "unconfirmed")
    counts = outbox.reconcile(platform, NOW + timedelta(minutes=1))
    assert rows(store)[0].state == ("sent" if created else "planned")
    assert counts["sent" if created else "planned"] == 1
    if not created:  # it was never created: sending again is safe, and happens once
        send_due(outbox, platform, NOW + timedelta(minutes=2))
        assert rows(store)[0].state == "sent"
    assert len(platform.posts) == 1


def test_unconfirmed_and_too_late_is_missed(store, make_outbox):
    outbox, platform = make_outbox(), ScriptedPlatform()
    platform.script = [Ambiguous("x", "503")]
    outbox.sync("demo", [planned(delay=5)], NOW, NOW + timedelta(1), NOW)
    send_due(outbox, platform)
    outbox.reconcile(platform, NOW + timedelta(minutes=10))
    (row,) = rows(store)
    assert row.state == "missed" and "too late" in row.reason


def test_reconcile_that_cannot_reach_the_network_leaves_the_row_alone(store, make_outbox):
    outbox, platform = make_outbox(), ScriptedPlatform()
    platform.script = [Ambiguous("x", "timeout")]
    platform.find_errors = [Transient("x", "connection refused")]
    outbox.sync("demo", [planned()], NOW, NOW + timedelta(1), NOW)
    send_due(outbox, platform)
    assert outbox.reconcile(platform, NOW)["unknown"] == 1
    assert rows(store)[0].state == "unconfirmed"


def test_duplicate_is_sent_if_the_post_exists_else_failed(store, make_outbox):
    outbox, platform = make_outbox(), ScriptedPlatform()
    platform.script = [
        ("after", Duplicate("x", "duplicate content")),
        Duplicate("x", "duplicate content"),
    ]
    outbox.sync(
        "demo",
        [planned("a"), planned("b", due=NOW + timedelta(seconds=1))],
        NOW,
        NOW + timedelta(1),
        NOW,
    )
    send_due(outbox, platform, NOW + timedelta(seconds=2))
    states = {r.message_id: (r.state, r.reason) for r in rows(store)}
    assert states == {"a": ("sent", None), "b": ("failed", "duplicate content")}


def test_rate_limit_defers_the_row_until_the_reset_and_pauses_the_platform(store, make_outbox):
    outbox, platform = make_outbox(), ScriptedPlatform()
    reset = NOW + timedelta(minutes=15)
    platform.script = [RateLimited("x", "429", reset)]
    outbox.sync("demo", [planned()], NOW, NOW + timedelta(1), NOW)
    (outcome,) = send_due(outbox, platform)
    assert (outcome.state, outcome.pause_until) == ("planned", reset)
    assert outbox.due("x", NOW + timedelta(minutes=14)) == []
    assert [o.state for o in send_due(outbox, platform, reset)] == ["sent"]


def test_auth_failure_keeps_the_row_planned_and_flags_the_platform(store, make_outbox):
    outbox, platform = make_outbox(), ScriptedPlatform()
    platform.script = [AuthFailed("x", "401 Unauthorized")]
    outbox.sync("demo", [planned()], NOW, NOW + timedelta(1), NOW)
    (outcome,) = send_due(outbox, platform)
    assert (outcome.state, outcome.auth_failed) == ("planned", True)


def test_transient_failure_backs_off(store, make_outbox):
    outbox, platform = make_outbox(), ScriptedPlatform()
    platform.script = [Transient("x", "connection refused")]
    outbox.sync("demo", [planned()], NOW, NOW + timedelta(1), NOW)
    send_due(outbox, platform)
    assert outbox.due("x", NOW + timedelta(seconds=10)) == []
    assert [o.state for o in send_due(outbox, platform, NOW + timedelta(seconds=31))] == ["sent"]


def test_permanent_rejection_fails_with_the_reason(store, make_outbox):
    outbox, platform = make_outbox(), ScriptedPlatform()
    platform.script = [Rejected("x", "Text is too long")]
    outbox.sync("demo", [planned()], NOW, NOW + timedelta(1), NOW)
    send_due(outbox, platform)
    assert (rows(store)[0].state, rows(store)[0].reason) == ("failed", "Text is too long")


def test_slot_missed_while_down_is_recorded_as_missed_not_posted(store, make_outbox):
    outbox, platform = make_outbox(), ScriptedPlatform()
    outbox.sync("demo", [planned(delay=30)], NOW, NOW + timedelta(1), NOW)
    assert send_due(outbox, platform, NOW + timedelta(hours=2)) == []
    assert rows(store)[0].state == "missed"
    assert platform.posts == {}


def test_budget_stops_x_posts_and_says_why(store, make_outbox):
    outbox, platform = make_outbox(budget_usd=0.03), ScriptedPlatform()
    posts = [planned(f"m{i}", due=NOW + timedelta(seconds=i)) for i in range(3)]
    outbox.sync("demo", posts, NOW, NOW + timedelta(1), NOW)
    outcomes = send_due(outbox, platform, NOW + timedelta(seconds=5))
    assert [o.state for o in outcomes] == ["sent", "sent", "failed"]
    assert outcomes[2].reason.startswith("x monthly budget reached: $0.030 spent of $0.03")
    assert len(platform.posts) == 2


def test_campaign_budget_applies_too(store, make_outbox):
    outbox, platform = make_outbox(campaign_budget=0.015), ScriptedPlatform()
    outbox.sync(
        "demo",
        [planned("a"), planned("b", due=NOW + timedelta(seconds=1))],
        NOW,
        NOW + timedelta(1),
        NOW,
    )
    outcomes = send_due(outbox, platform, NOW + timedelta(seconds=2))
    assert [o.state for o in outcomes] == ["sent", "failed"]
    assert "campaign 'demo' x budget reached" in outcomes[1].reason


def test_bluesky_costs_nothing_and_dry_run_rows_are_separate(store, make_outbox):
    live, dry = make_outbox("live", budget_usd=0.0), make_outbox("dry-run", budget_usd=0.0)
    platform = ScriptedPlatform("bluesky")
    for outbox in (live, dry):
        outbox.sync("demo", [planned(platform="bluesky")], NOW, NOW + timedelta(1), NOW)
    assert [o.state for o in send_due(live, platform)] == ["sent"]
    assert [o.state for o in send_due(dry, platform)] == ["sent"]
    assert sorted(r.key.split(":")[0] for r in rows(store)) == ["dry-run", "live"]


def test_a_row_is_claimed_by_one_sender_only(store, make_outbox):
    outbox, platform = make_outbox(), ScriptedPlatform()
    outbox.sync("demo", [planned()], NOW, NOW + timedelta(1), NOW)
    (row,) = outbox.due("x", NOW)
    first = outbox.publish(row, platform, NOW)
    second = outbox.publish(row, platform, NOW)
    assert (first.state, second.state) == ("sent", "skipped")
    assert len(platform.posts) == 1
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(OutboxRow)) == 1
