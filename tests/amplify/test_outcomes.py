"""What amplifying did: the engagement poller snapshots the amplified post for reposts and
likes (the bot's own post for quotes), and `kindling report` lists each amplification with
those counts, apart from the campaign's own messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.engagement.poller import due_posts, poll_metrics
from bot.platforms.base import Metrics
from bot.platforms.simulated import SimulatedPlatform
from bot.report.collect import collect
from bot.store.engine import Store
from bot.store.tables import CandidateRow, MetricSnapshotRow, OutboxRow
from tests.amplify.conftest import make_campaign

SENT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def add(store: Store, action: str, remote_id: str, subject: str | None, author: str = "") -> int:
    with store.write() as session:
        row = OutboxRow(
            key=f"live:{action}:{remote_id}",
            mode="live",
            campaign_id="demo",
            message_id="amplify" if subject else "launch",
            language="en",
            platform="bluesky",
            slot_at=SENT,
            latest_at=SENT,
            text="",
            state="sent",
            remote_id=remote_id,
            url=None,
            attempts=1,
            created_at=SENT,
            updated_at=SENT,
            sent_at=SENT,
            action=action,
            subject_id=subject,
            subject_url=f"https://bsky.app/{subject}" if subject else None,
        )
        session.add(row)
        session.flush()
        if subject:
            session.add(
                CandidateRow(
                    platform="bluesky",
                    remote_id=subject,
                    url=f"https://bsky.app/{subject}",
                    campaign_id="demo",
                    mode="live",
                    author_id="did:plc:a",
                    author_handle=author,
                    text="#Demo",
                    found_at=SENT,
                    found_by="search #Demo",
                    matched="#Demo",
                    state="planned",
                    action=action,
                    outbox_id=row.id,
                )
            )
        return row.id


class CountingNetwork(SimulatedPlatform):
    """Answers every id with counts derived from it, and records the ids asked for."""

    def __init__(self) -> None:
        super().__init__("bluesky")
        self.asked: list[str] = []

    def metrics(self, remote_ids):  # type: ignore[no-untyped-def]
        self.asked += list(remote_ids)
        return [Metrics(r, likes=7, reposts=3, replies=1, quotes=0) for r in remote_ids]


def test_reposts_are_measured_on_the_amplified_post_and_reported_apart(store: Store) -> None:
    own = add(store, "post", "at://bot/post/1", None)
    repost = add(store, "repost", "at://bot/repost/1", "at://friend/post/9", author="friend.test")
    due = {p.outbox_id: p.remote_id for p in due_posts(store, SENT + timedelta(minutes=20))}
    assert due == {own: "at://bot/post/1", repost: "at://friend/post/9"}
    network = CountingNetwork()
    later = SENT + timedelta(minutes=20)
    poll_metrics(store, network, due_posts(store, later), later)
    assert sorted(network.asked) == ["at://bot/post/1", "at://friend/post/9"]
    with store.read() as session:
        assert {s.outbox_id: s.remote_id for s in session.query(MetricSnapshotRow)} == due
    report = collect(store, make_campaign())
    assert [m.id for m in report.top_messages] == ["launch"]  # the repost is not a message
    assert [(a.action, a.author, a.url, a.likes, a.reposts) for a in report.amplifications] == [
        ("repost", "friend.test", "https://bsky.app/at://friend/post/9", 7, 3)
    ]
