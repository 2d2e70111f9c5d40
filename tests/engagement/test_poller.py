"""The engagement poller: metrics snapshots over time and responses from targets.

Against the fake X server (the real adapter, real HTTP; the calls the server received are what
is asserted) and, marked `bluesky`, against the real local Bluesky network.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from bot.campaign.model import Campaign
from bot.config import XPrices
from bot.engagement.poller import Cadence, EngagementPoller, due_posts, poll_metrics
from bot.events import NewResponse, subscribe
from bot.platforms.base import Metrics, Platform
from bot.platforms.x import XPlatform
from bot.publish.budget import Budget
from bot.report.collect import collect
from bot.report.output import silent_targets
from bot.store.engine import Store
from bot.store.tables import (
    MetricSnapshotRow,
    OutboxRow,
    PollCursorRow,
    ResponseRow,
    SpendRow,
)
from tests.fakes.x_server import XFakeServer
from tests.platforms import conftest as x_fixtures
from tests.platforms.conftest import make_platform, request

# The fake X server's fixtures (defined for tests/platforms), used here too.
x_server, x_fake, x_platform = x_fixtures.x_server, x_fixtures.x_fake, x_fixtures.x_platform

NOW = datetime.now(UTC).replace(microsecond=0)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


def campaign(targets: Sequence[dict[str, Any]] = (), campaign_id: str = "demo") -> Campaign:
    return Campaign.model_validate(
        {
            "id": campaign_id,
            "name": {"en": "Demo"},
            "languages": ["en"],
            "active": {"start": "2026-01-01", "end": "2030-12-31"},
            "targets": list(targets),
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    made = Store(f"sqlite:///{tmp_path / 'kindling.sqlite3'}")
    made.create_tables()
    yield made
    made.dispose()


def add_sent(
    store: Store,
    platform: str,
    remote_ids: Sequence[str],
    sent_at: datetime = NOW,
    *,
    mode: str = "live",
    campaign_id: str = "demo",
) -> list[int]:
    rows = [
        {
            "key": f"{mode}:{campaign_id}/m/en/{platform}/{uuid.uuid4()}",
            "mode": mode,
            "campaign_id": campaign_id,
            "message_id": "m",
            "language": "en",
            "platform": platform,
            "slot_at": sent_at,
            "latest_at": sent_at,
            "text": f"post {n}",
            "state": "sent",
            "remote_id": remote_id,
            "url": f"https://example.test/{remote_id}",
            "attempts": 1,
            "created_at": sent_at,
            "updated_at": sent_at,
            "sent_at": sent_at,
        }
        for n, remote_id in enumerate(remote_ids)
    ]
    with store.write() as session:
        session.execute(insert(OutboxRow.__table__), rows)
    with store.read() as session:
        ids = select(OutboxRow.id).where(OutboxRow.remote_id.in_(list(remote_ids)))
        return list(session.scalars(ids.order_by(OutboxRow.id)))


def snapshots(store: Store) -> list[MetricSnapshotRow]:
    with store.read() as session:
        query = select(MetricSnapshotRow).order_by(MetricSnapshotRow.id)
        return list(session.scalars(query))


def spend(store: Store, kind: str) -> float:
    with store.read() as session:
        query = select(func.coalesce(func.sum(SpendRow.usd), 0.0)).where(SpendRow.kind == kind)
        return float(session.scalar(query) or 0.0)


def poller(
    store: Store,
    platforms: dict[str, Platform],
    clock: FixedClock,
    *,
    monthly_usd: float = 25.0,
    campaigns: Sequence[Campaign] = (),
) -> EngagementPoller:
    return EngagementPoller(
        store,
        platforms,
        Budget(store, monthly_usd),
        XPrices(),
        lambda: list(campaigns),
        clock,
    )


def metric_calls(x_fake: XFakeServer) -> list[list[str]]:
    return [c.param("ids").split(",") for c in x_fake.state.calls("GET /2/tweets")]


# --- the cadence (no network) -------------------------------------------------------------------


def test_cadence_decays_with_age_and_stops() -> None:
    cadence = Cadence()
    assert cadence.interval(timedelta(hours=1)) == timedelta(minutes=15)
    assert cadence.interval(timedelta(hours=6)) == timedelta(minutes=15)
    assert cadence.interval(timedelta(hours=7)) == timedelta(hours=1)
    assert cadence.interval(timedelta(days=3)) == timedelta(days=1)
    assert cadence.interval(timedelta(days=30, seconds=1)) is None
    custom = Cadence.from_minutes([(1, 5), (24, 60)])
    assert custom.interval(timedelta(minutes=30)) == timedelta(minutes=5)
    assert custom.stop_after == timedelta(hours=24)
    with pytest.raises(ValueError):
        Cadence(((timedelta(hours=2), timedelta(minutes=5)), (timedelta(hours=1), timedelta(1))))


def test_due_posts_follow_the_cadence_live_rows_only(store: Store) -> None:
    young, day_old, old, _ancient = (
        add_sent(store, "x", [name], NOW - age)[0]
        for name, age in (
            ("young", timedelta(hours=1)),
            ("day", timedelta(days=1)),
            ("old", timedelta(days=10)),
            ("ancient", timedelta(days=31)),
        )
    )
    add_sent(store, "x", ["dry"], NOW - timedelta(hours=1), mode="dry-run")
    assert {p.outbox_id for p in due_posts(store, NOW)} == {young, day_old, old}
    with store.write() as session:
        for outbox_id, ago in ((young, 14), (day_old, 61), (old, 23 * 60)):
            session.add(
                MetricSnapshotRow(
                    outbox_id=outbox_id,
                    platform="x",
                    remote_id="-",
                    at=NOW - timedelta(minutes=ago),
                    likes=0,
                    reposts=0,
                    replies=0,
                    quotes=0,
                )
            )
    assert [p.outbox_id for p in due_posts(store, NOW)] == [day_old]
    assert {p.outbox_id for p in due_posts(store, NOW + timedelta(hours=1))} == {
        young,
        day_old,
        old,
    }
    assert due_posts(store, NOW, platform="bluesky") == []


# --- against the fake X server ------------------------------------------------------------------

xfake = pytest.mark.xfake


@xfake
@pytest.mark.parametrize("metric_name", ["repost_count", "retweet_count"])
def test_250_due_posts_take_3_calls_and_make_a_time_series(
    store: Store, x_fake: XFakeServer, x_platform: XPlatform, metric_name: str
) -> None:
    state = x_fake.state
    state.metric_name = metric_name
    ids = [state.add_post(f"Post {n}") for n in range(250)]
    state.set_metrics(ids[0], like_count=5, repost_count=3, reply_count=2, quote_count=1)
    state.set_metrics(ids[249], like_count=1, impression_count=70, bookmark_count=2)
    add_sent(store, "x", ids)
    clock = FixedClock(NOW)
    engagement = poller(store, {"x": x_platform}, clock)

    report = engagement.run_cycle()
    assert [len(c) for c in metric_calls(x_fake)] == [100, 100, 50]
    assert sorted(i for c in metric_calls(x_fake) for i in c) == sorted(ids)
    assert (report.metrics["x"].calls, report.metrics["x"].snapshots) == (3, 250)
    first = {s.remote_id: s for s in snapshots(store)}
    assert len(first) == 250
    assert (first[ids[0]].likes, first[ids[0]].reposts) == (5, 3)
    assert (first[ids[0]].replies, first[ids[0]].quotes) == (2, 1)
    assert (first[ids[249]].impressions, first[ids[249]].bookmarks) == (70, 2)
    assert spend(store, "own_read") == pytest.approx(250 * XPrices().own_read)

    clock.at = NOW + timedelta(minutes=5)  # not due yet: no call at all
    engagement.run_cycle()
    assert len(metric_calls(x_fake)) == 3

    state.set_metrics(ids[0], like_count=9, repost_count=4)
    clock.at = NOW + timedelta(minutes=15)
    engagement.run_cycle()
    assert [len(c) for c in metric_calls(x_fake)] == [100, 100, 50] * 2
    series = [(s.at, s.likes, s.reposts) for s in snapshots(store) if s.remote_id == ids[0]]
    assert series == [(NOW, 5, 3), (NOW + timedelta(minutes=15), 9, 4)]  # not overwritten
    assert len(snapshots(store)) == 500
    if metric_name == "retweet_count":  # live X's name is off-spec: the fake says so
        assert all("repost_count" in v for v in state.response_violations)
        state.response_violations.clear()


class ArmedX:
    """The real adapter, with a 429 injected into the fake just before the `nth` metrics call."""

    def __init__(self, inner: XPlatform, fake: XFakeServer, nth: int, reset_at: int) -> None:
        self.inner, self.fake, self.nth, self.reset_at = inner, fake, nth, reset_at
        self.name, self.metrics_batch, self.count = inner.name, inner.metrics_batch, 0

    def metrics(self, remote_ids: Sequence[str]) -> list[Metrics]:
        self.count += 1
        if self.count == self.nth:
            self.fake.state.fail_next("rate_limit", route="GET /2/tweets", reset_at=self.reset_at)
        return self.inner.metrics(remote_ids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@xfake
def test_429_mid_cycle_resumes_later_without_losing_or_doubling(
    store: Store, x_fake: XFakeServer, x_platform: XPlatform
) -> None:
    ids = [x_fake.state.add_post(f"Post {n}") for n in range(250)]
    outbox_ids = add_sent(store, "x", ids)
    reset = int(time.time()) + 600
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    start = clock.at
    engagement = poller(store, {"x": ArmedX(x_platform, x_fake, 2, reset)}, clock)  # type: ignore[dict-item]

    report = engagement.run_cycle().metrics["x"]
    assert [c.status for c in x_fake.state.calls("GET /2/tweets")] == [200, 429]
    assert (report.polled, report.snapshots) == (100, 100)
    assert report.stopped and "rate limited" in report.stopped
    assert report.resume_at == datetime.fromtimestamp(reset, UTC)
    assert len(snapshots(store)) == 100  # the first batch's snapshots stay

    clock.at = start + timedelta(minutes=5)  # before the reset: no call
    skipped = engagement.run_cycle()
    assert "x metrics" in skipped.skipped and "x" not in skipped.metrics
    assert len(x_fake.state.calls("GET /2/tweets")) == 2

    # After the reset. (A fresh adapter: the adapter remembers X's window in real time, and
    # this test's clock jumped ahead of real time.)
    clock.at = start + timedelta(minutes=11)
    engagement.platforms = {"x": make_platform(x_fake.url)}
    report = engagement.run_cycle().metrics["x"]
    calls = metric_calls(x_fake)
    assert [len(c) for c in calls] == [100, 100, 100, 50]
    first = set(calls[0])
    resumed = set(calls[2]) | set(calls[3])
    assert resumed == set(ids) - first  # only the posts not reached before
    assert (report.calls, report.snapshots, report.stopped) == (2, 150, None)
    per_post: dict[int, int] = {}
    for snap in snapshots(store):
        per_post[snap.outbox_id] = per_post.get(snap.outbox_id, 0) + 1
    assert sorted(per_post) == sorted(outbox_ids) and set(per_post.values()) == {1}
    assert spend(store, "own_read") == pytest.approx(250 * XPrices().own_read)


@xfake
def test_the_read_budget_stops_the_cycle(
    store: Store, x_fake: XFakeServer, x_platform: XPlatform
) -> None:
    ids = [x_fake.state.add_post(f"Post {n}") for n in range(250)]
    add_sent(store, "x", ids)
    clock = FixedClock(NOW)
    with store.write() as session:  # $0.05 already spent on posting this month
        session.add(SpendRow(platform="x", campaign_id="demo", kind="post", usd=0.05, at=NOW))
    engagement = poller(store, {"x": x_platform}, clock, monthly_usd=0.2)

    report = engagement.run_cycle()
    metrics = report.metrics["x"]
    assert [len(c) for c in metric_calls(x_fake)] == [100, 50]  # $0.15 left: 150 reads
    assert metrics.snapshots == 150 and metrics.usd == pytest.approx(0.15)
    assert metrics.stopped and "budget reached" in metrics.stopped
    assert Budget(store, 0.2).spent("x", NOW) == pytest.approx(0.2)
    assert "budget" in report.skipped["x mentions"]  # mentions are charged reads too
    assert x_fake.state.calls("GET /2/users/{id}/mentions") == []

    clock.at = NOW + timedelta(minutes=15)
    again = engagement.run_cycle().metrics["x"]
    assert (again.calls, again.snapshots) == (0, 0) and again.stopped
    assert len(metric_calls(x_fake)) == 2


@xfake
def test_a_targets_reply_on_x_is_recorded_against_the_target(
    store: Store, x_fake: XFakeServer, x_platform: XPlatform
) -> None:
    ours = x_platform.publish(request("Will you sign the letter?")).remote_id
    [outbox_id] = add_sent(store, "x", [ours])
    state = x_fake.state
    username = state.account.username
    answer = state.add_post(f"@{username} Yes, I will.", author="ms_jones", in_reply_to=ours)
    other = state.add_post(f"@{username} me too", author="cefnogwr", in_reply_to=ours)
    jones = {"id": "jones", "name": "Ms Jones", "party": "Green", "handles": {"x": "@MS_Jones"}}
    clock = FixedClock(NOW)
    engagement = poller(store, {"x": x_platform}, clock, campaigns=[campaign([jones])])

    told: list[NewResponse] = []
    subscription = subscribe(told.append, NewResponse)
    try:
        assert engagement.run_cycle().responses == {"x": 2}
    finally:
        subscription.cancel()
    # The target's answer is told (the alerting's event), the supporter's mention is not.
    assert [(e.target_id, e.url.rsplit("/", 1)[-1]) for e in told] == [("jones", answer)]
    with store.read() as session:
        rows = {r.remote_id: r for r in session.scalars(select(ResponseRow))}
        cursor = session.get(PollCursorRow, "mentions:x")
    assert (rows[answer].campaign_id, rows[answer].target_id) == ("demo", "jones")
    assert (rows[answer].outbox_id, rows[answer].kind) == (outbox_id, "reply")
    assert rows[answer].author_handle == "ms_jones" and rows[answer].url.endswith(answer)
    assert rows[other].target_id is None and rows[other].outbox_id == outbox_id
    assert cursor is not None and cursor.cursor == other
    assert spend(store, "read") == pytest.approx(2 * XPrices().read)

    later = state.add_post(f"@{username} and again", author="MS_JONES")
    clock.at = NOW + timedelta(minutes=2)  # before responses_every: not polled
    assert engagement.run_cycle().responses == {}
    clock.at = NOW + timedelta(minutes=5)
    assert engagement.run_cycle().responses == {"x": 1}
    assert x_fake.state.calls("GET /2/users/{id}/mentions")[-1].param("since_id") == other
    clock.at = NOW + timedelta(minutes=10)
    assert engagement.run_cycle().responses == {"x": 0}  # nothing stored twice
    with store.read() as session:
        rows = {r.remote_id: r for r in session.scalars(select(ResponseRow))}
    assert len(rows) == 3 and rows[later].target_id == "jones" and rows[later].outbox_id is None


# --- against the real local Bluesky network -----------------------------------------------------


@pytest.mark.bluesky
@pytest.mark.timeout(420)  # up to 150 s for the AppView, after the network's own start
def test_bluesky_counts_and_a_targets_reply(store: Store, tmp_path: Path, bluesky_network: Any):
    from tests.peers.bluesky_network import kindling_platform, poll

    bot = kindling_platform(bluesky_network, tmp_path / "bot-data")
    try:
        slot = datetime.now(UTC).replace(microsecond=0)
        published = bot.publish(
            request("Sign the letter", key=f"engagement:{uuid.uuid4()}", slot=slot)
        )
        uri = published.remote_id
        [outbox_id] = add_sent(store, "bluesky", [uri], slot)
        cid = bluesky_network.login("kindling").get_record(uri)["cid"]
        supporter, target = bluesky_network.login("supporter"), bluesky_network.login("target")
        supporter.like(uri, cid)
        supporter.repost(uri, cid)
        supporter.reply("Agreed!", uri, cid)
        supporter.quote("Read this", uri, cid)
        answer = target.reply("I have signed it.", uri, cid)["uri"]
        member = {
            "id": "member",
            "name": "A Member",
            "handles": {"bluesky": bluesky_network.account("target").handle.upper()},
        }
        clock = FixedClock(slot)
        engagement = EngagementPoller(
            store,
            {"bluesky": bot},
            Budget(store, 25.0),
            XPrices(),
            lambda: [campaign([member])],
            clock,
            # A snapshot every cycle whatever the post's age: the AppView's counts settle on their
            # own schedule (a reply count seen going 2 -> 1 -> 2), and the default cadence would
            # keep a flapped count for hours of this clock once the post is a day old.
            cadence=Cadence(((timedelta(days=3650), timedelta(minutes=15)),)),
            responses_every=timedelta(0),
        )
        seen: list[object] = []

        def recorded() -> tuple[MetricSnapshotRow, ResponseRow] | None:
            clock.at += timedelta(minutes=15)  # a snapshot is due every cycle
            engagement.run_cycle()
            latest = snapshots(store)[-1] if snapshots(store) else None
            with store.read() as session:
                response = session.scalar(
                    select(ResponseRow).where(ResponseRow.remote_id == answer)
                )
                # The AppView indexes notifications asynchronously: wait for all three.
                answers = session.scalar(
                    select(func.count())
                    .select_from(ResponseRow)
                    .where(ResponseRow.outbox_id == outbox_id)
                )
            counts = latest and (latest.likes, latest.reposts, latest.replies, latest.quotes)
            done = counts == (1, 1, 2, 1) and response and answers == 3
            seen[:] = [counts, response is not None, answers]
            return (latest, response) if done else None

        # The AppView indexes on its own schedule and, busy, has answered a reply count of 1
        # after 2 for a while: wait on a generous deadline (it passes in seconds when idle).
        try:
            latest, response = poll(recorded, timeout=150, interval=0.5)
        except AssertionError as exc:  # say which part never came: counts, the reply, the three
            raise AssertionError(f"{exc}; last (counts, target reply, answers): {seen}") from None
        assert latest.outbox_id == outbox_id and latest.remote_id == uri
        assert (response.campaign_id, response.target_id) == ("demo", "member")
        assert (response.kind, response.outbox_id) == ("reply", outbox_id)
        assert response.author_id == bluesky_network.account("target").did
        with store.read() as session:
            others = list(
                session.scalars(select(ResponseRow).where(ResponseRow.outbox_id == outbox_id))
            )
        kinds = sorted((r.kind, r.target_id or "") for r in others)
        assert kinds == [("quote", ""), ("reply", ""), ("reply", "member")]
        per_cycle = [s.at for s in snapshots(store)]
        assert len(per_cycle) == len(set(per_cycle))  # one snapshot per post per cycle
        assert spend(store, "own_read") == 0.0  # Bluesky charges nothing
        # The report shows the target as having answered, and the post's counts.
        report = collect(store, campaign([member, {"id": "silent", "name": "B Member"}]))
        answered = {r.target: r.responses for r in report.responses_by_target}
        assert answered == {"member": 1, "silent": 0}
        assert silent_targets(report) == ["silent"]
        (top,) = report.top_messages
        assert (top.likes, top.reposts, top.replies, top.quotes) == (1, 1, 2, 1)
    finally:
        bot.close()


def test_poll_metrics_batches_for_any_adapter(store: Store) -> None:
    """Exactly ceil(n / metrics_batch) calls, whatever the adapter's batch size."""

    class Counting:
        name, metrics_batch = "bluesky", 25

        def __init__(self) -> None:
            self.calls: list[int] = []

        def metrics(self, remote_ids: Sequence[str]) -> list[Metrics]:
            self.calls.append(len(remote_ids))
            return [Metrics(r, 1, 0, 0, 0) for r in remote_ids]

    add_sent(store, "bluesky", [f"at://did:plc:a/app.bsky.feed.post/{n}" for n in range(101)])
    adapter = Counting()
    report = poll_metrics(store, adapter, due_posts(store, NOW), NOW)  # type: ignore[arg-type]
    assert adapter.calls == [25, 25, 25, 25, 1] and report.snapshots == 101
