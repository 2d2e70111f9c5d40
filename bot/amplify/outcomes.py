"""What amplifying did for the campaign, for `kindling report`: each repost, like or quote the
bot made, whose post it was, when, and the amplified post's counts at the latest snapshot (the
engagement poller snapshots the amplified post itself for reposts and likes, and the bot's own
quote post for quotes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from bot.publish.states import OutboxState
from bot.store.tables import CandidateRow, MetricSnapshotRow, OutboxRow


@dataclass(frozen=True)
class Amplified:
    platform: str
    action: str
    author: str
    url: str  # the amplified post
    sent_at: str | None
    state: str  # sent or undone
    likes: int
    reposts: int
    replies: int
    quotes: int


def amplified(
    session: Any, campaign_id: str, start: datetime | None, end: datetime | None
) -> list[Amplified]:
    s = MetricSnapshotRow
    inner = aliased(MetricSnapshotRow)
    latest_at = (
        select(func.max(inner.at))
        .where(inner.outbox_id == OutboxRow.id)
        .correlate(OutboxRow)
        .scalar_subquery()
    )
    query = (
        select(
            OutboxRow.platform,
            OutboxRow.action,
            CandidateRow.author_handle,
            OutboxRow.subject_url,
            OutboxRow.sent_at,
            OutboxRow.state,
            s.likes,
            s.reposts,
            s.replies,
            s.quotes,
        )
        .join(CandidateRow, CandidateRow.outbox_id == OutboxRow.id)
        .outerjoin(s, and_(s.outbox_id == OutboxRow.id, s.at == latest_at))
        .where(
            OutboxRow.campaign_id == campaign_id,
            OutboxRow.mode == "live",
            OutboxRow.action != "post",
            OutboxRow.state.in_((OutboxState.SENT, OutboxState.UNDONE)),
        )
        .order_by(OutboxRow.sent_at, OutboxRow.id)
    )
    if start is not None:
        query = query.where(OutboxRow.sent_at >= start)
    if end is not None:
        query = query.where(OutboxRow.sent_at < end)
    return [
        Amplified(
            platform,
            action,
            author,
            url or "",
            sent_at.isoformat() if sent_at else None,
            state,
            *(int(v or 0) for v in counts),
        )
        for platform, action, author, url, sent_at, state, *counts in session.execute(query)
    ]
