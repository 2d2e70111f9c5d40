"""Every table Kindling persists. One declarative base; names follow one constraint convention."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def table(model: type[Base]) -> Table:
    """The Core table of an ORM class, typed, for bulk `insert(...)` of plain dicts."""
    return cast(Table, model.__table__)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class OutboxRow(Base):
    """One post on one platform for one slot: the durable publishing state machine."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    mode: Mapped[str] = mapped_column(String(10))  # "live" or "dry-run"
    campaign_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(16))
    quote_id: Mapped[str | None] = mapped_column(String(64))
    slot_at: Mapped[datetime] = mapped_column(UtcDateTime())
    latest_at: Mapped[datetime] = mapped_column(UtcDateTime())  # after this: missed
    text: Mapped[str] = mapped_column(Text)
    thread: Mapped[str | None] = mapped_column(Text)  # JSON list of reply texts
    images: Mapped[str | None] = mapped_column(Text)  # JSON list of {path, alt}
    state: Mapped[str] = mapped_column(String(16), default="planned")
    reason: Mapped[str | None] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(String(400))
    url: Mapped[str | None] = mapped_column(String(400))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # "post" (the campaign's own), or "repost", "like", "quote" of someone's post (`subject_*`).
    action: Mapped[str] = mapped_column(String(16), default="post", server_default="post")
    subject_id: Mapped[str | None] = mapped_column(String(400))
    subject_cid: Mapped[str | None] = mapped_column(String(200))
    subject_url: Mapped[str | None] = mapped_column(String(400))

    __table_args__ = (
        Index("ix_outbox_state_slot", "state", "slot_at"),
        Index("ix_outbox_campaign", "campaign_id", "mode"),
    )


class SpendRow(Base):
    """Money a platform charged (X charges per call): the ledger budgets are checked against."""

    __tablename__ = "spend"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # post, post_with_link, read, own_read
    usd: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    outbox_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_spend_platform_at", "platform", "at"),)


class PlatformStateRow(Base):
    """What the daemon last knew of each platform: auth state, pauses, for `kindling status`."""

    __tablename__ = "platform_state"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    auth: Mapped[str] = mapped_column(String(16))  # ok, failed, unknown
    detail: Mapped[str | None] = mapped_column(Text)
    paused_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LinkRow(Base):
    """A pre-filled link Kindling generated: the only places `/go/{token}` may redirect to."""

    __tablename__ = "links"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(64))
    ask_id: Mapped[str] = mapped_column(String(64))
    wording: Mapped[int] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(
        Text
    )  # for mastodon: the text only; the instance is the supporter's
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_links_campaign", "campaign_id"),)


class ClickRow(Base):
    """One supporter's click on a pre-filled link: no IP address, no cookie."""

    __tablename__ = "clicks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(64))
    ask_id: Mapped[str] = mapped_column(String(64))
    wording: Mapped[int] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    # A salted hash of the client address, the salt rotated daily; None when DNT/Sec-GPC is set.
    client_hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        # One index that grows at its end (migration 0006 says why): clicks per day and a
        # window's clicks per link are ranges of it, and it covers both.
        Index(
            "ix_clicks_time",
            "campaign_id",
            "at",
            "target_id",
            "ask_id",
            "wording",
            "platform",
            "language",
        ),
    )


class ClickCountRow(Base):
    """Clicks counted per (campaign, target, ask, wording, platform, language): what
    `kindling report` reads when it has no --since/--until, tens of thousands of rows instead of
    a scan of every click. Kept exact by the database itself: triggers on `clicks` (migration
    0005) count every insert, delete and update in the same
    transaction, whoever writes. A key with no clicks left has no row (as in a GROUP BY)."""

    __tablename__ = "click_counts"

    # A rowid table with a unique key, not WITHOUT ROWID on the key: the trigger's UPSERT costs
    # a click about 1-2 µs of CPU on the former and about 10 µs on the latter (SQLite 3.40,
    # measured; benchmarks/README.md, `kindling report`, "Evaluated and not kept").
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str] = mapped_column(String(64))
    ask_id: Mapped[str] = mapped_column(String(64))
    wording: Mapped[int] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    clicks: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("campaign_id", "target_id", "ask_id", "wording", "platform", "language"),
    )


class MetricSnapshotRow(Base):
    """Counts of one of the bot's posts at one moment: a time series, never overwritten."""

    __tablename__ = "metric_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(16))
    remote_id: Mapped[str] = mapped_column(String(400))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    likes: Mapped[int] = mapped_column(Integer)
    reposts: Mapped[int] = mapped_column(Integer)
    replies: Mapped[int] = mapped_column(Integer)
    quotes: Mapped[int] = mapped_column(Integer)
    impressions: Mapped[int | None] = mapped_column(Integer)
    bookmarks: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_metric_snapshots_outbox_at", "outbox_id", "at"),)


class ResponseRow(Base):
    """A reply, mention or quote seen on a platform, linked to a target when its author is one;
    or a target's own post that answers the campaign (kinds supporter_reply, statement)."""

    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    remote_id: Mapped[str] = mapped_column(String(400))
    kind: Mapped[str] = mapped_column(String(16))  # mention, reply, quote, ...
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(64))
    outbox_id: Mapped[int | None] = mapped_column(Integer)  # our post it answers, where known
    author_id: Mapped[str] = mapped_column(String(400))
    author_handle: Mapped[str] = mapped_column(String(400))
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # A target's post read from its own feed (bot/engagement/listening.py) that answers a
    # supporter's post: that post (at:// URI or X id) and where a person sees it.
    answered_id: Mapped[str | None] = mapped_column(String(400))
    answered_url: Mapped[str | None] = mapped_column(String(400))
    # An organiser marked it not relevant (`kindling responses dismiss`): out of the counts.
    dismissed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        UniqueConstraint("platform", "remote_id"),
        Index("ix_responses_campaign_target", "campaign_id", "target_id"),
    )


class PollCursorRow(Base):
    """Where each poller got to on each platform (e.g. the newest mention seen)."""

    __tablename__ = "poll_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. "mentions:x"
    cursor: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CandidateRow(Base):
    """Someone's post found by amplification discovery, once per platform, and its fate.

    states: queued (waits for `kindling approve`) -> approved -> planned (in the outbox) -> done
    | skipped (a rule refused it) | rejected (by a person) | undone (`kindling unamplify`)
    | failed (the network refused the amplification)."""

    __tablename__ = "amplify_candidates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    remote_id: Mapped[str] = mapped_column(String(400))
    cid: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(400))
    campaign_id: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(10))  # "live" or "dry-run", as the outbox
    author_id: Mapped[str] = mapped_column(String(400))
    author_handle: Mapped[str] = mapped_column(String(400))
    text: Mapped[str] = mapped_column(Text)
    languages: Mapped[str | None] = mapped_column(String(100))  # comma-separated
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    found_at: Mapped[datetime] = mapped_column(UtcDateTime())
    found_by: Mapped[str] = mapped_column(String(400))  # the search term or feed that found it
    matched: Mapped[str] = mapped_column(String(400))  # what ties it to the campaign
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(16))
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(64))  # "rules" or "kindling approve"

    __table_args__ = (
        # Once per post (a dry run and the live bot each keep their own).
        UniqueConstraint("platform", "remote_id", "mode"),
        Index("ix_amplify_candidates_campaign_state", "campaign_id", "state"),
    )


class DaemonHeartbeatRow(Base):
    """One `kindling run` process and when its scheduler last ticked: `status` says from these
    whether a daemon is alive (a fresh tick and, on this host, a live pid) and which one leads."""

    __tablename__ = "daemon_heartbeats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(10))  # "live" or "dry-run", as the outbox
    role: Mapped[str] = mapped_column(String(10))  # "leader" or "standby"
    activity: Mapped[str] = mapped_column(Text)  # what it is doing, as systemd's STATUS=
    every_seconds: Mapped[float] = mapped_column(Float)  # between ticks: what "stale" means
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_tick_at: Mapped[datetime] = mapped_column(UtcDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_daemon_heartbeats_last_tick_at", "last_tick_at"),)


class AlertSentRow(Base):
    """When an alert was last sent for each cause (bot/alerts/): once per cause and quiet
    period, also across restarts of the daemon."""

    __tablename__ = "alerts_sent"

    cause: Mapped[str] = mapped_column(String(200), primary_key=True)  # e.g. "auth:x"
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ReportEmailSentRow(Base):
    """Each campaign's weekly report email once sent (bot/daemon/weekly.py): a week's report goes
    out once, also across restarts of the daemon."""

    __tablename__ = "report_emails_sent"

    campaign_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    week: Mapped[str] = mapped_column(String(10), primary_key=True)  # the due day, YYYY-MM-DD
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())
