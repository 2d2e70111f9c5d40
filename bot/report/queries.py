"""The report's SQL: every aggregate is computed by the database (GROUP BY, window functions, a
max-per-group subquery for each post's latest snapshot); Python only receives aggregated rows.

Each function builds a statement (or a CTE) for bot/report/collect.py, which runs them and
fills the `Report`. `start` and `end` are the UTC window [start, end), either side open (None).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    cast,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.sql import Select

from bot.store.engine import Store
from bot.store.tables import ClickCountRow, ClickRow, MetricSnapshotRow, OutboxRow, ResponseRow


def in_window(col: Any, start: datetime | None, end: datetime | None) -> ColumnElement[bool]:
    clauses = []
    if start is not None:
        clauses.append(col >= start)
    if end is not None:
        clauses.append(col < end)
    return and_(True, *clauses)


def utc_day(store: Store, col: Any) -> ColumnElement[str]:
    """The UTC day of a timestamp as 'YYYY-MM-DD' on either backend."""
    if store.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", col), "YYYY-MM-DD")
    return func.substr(col, 1, 10)


def latest_snapshots(campaign_id: str, start: datetime | None, end: datetime | None) -> Any:
    """Each sent post of the campaign (sent in the window) with its latest snapshot before `end`."""
    s = MetricSnapshotRow
    # A correlated max() per post, not a GROUP BY over all snapshots: with the index on
    # (outbox_id, at) each post's latest time is one index seek (10,000 seeks instead of a
    # scan of 1,000,000 index entries: 0.36 s -> 0.05 s on SQLite). Posts without a snapshot
    # get NULL and drop out in the join below, as they did from the GROUP BY.
    latest_at = (
        select(func.max(s.at))
        .where(s.outbox_id == OutboxRow.id, in_window(s.at, None, end))
        .scalar_subquery()
    )
    latest = (
        select(OutboxRow.id.label("outbox_id"), latest_at.label("at"))
        .where(
            OutboxRow.campaign_id == campaign_id,
            OutboxRow.action == "post",  # amplifications have their own table
            in_window(OutboxRow.sent_at, start, end),
        )
        .subquery("latest")
    )
    return (
        select(
            OutboxRow.message_id,
            OutboxRow.quote_id,
            OutboxRow.platform,
            OutboxRow.language,
            OutboxRow.text,
            s.likes,
            s.reposts,
            s.replies,
            s.quotes,
            (s.likes + s.reposts + s.replies + s.quotes).label("engagement"),
        )
        .select_from(latest)
        .join(s, and_(s.outbox_id == latest.c.outbox_id, s.at == latest.c.at))
        .join(OutboxRow, OutboxRow.id == latest.c.outbox_id)
        .cte("post_latest")
    )


def _grouped_engagement(posts: Any, kind: str, key: Any) -> Select[Any]:
    """The latest counts of `posts` summed per (key, platform, language), labelled `kind`."""
    p = posts.c
    return (
        select(
            literal(kind, String).label("kind"),
            key.label("id"),
            p.platform.label("platform"),
            p.language.label("language"),
            func.count().label("posts"),
            func.sum(p.likes).label("likes"),
            func.sum(p.reposts).label("reposts"),
            func.sum(p.replies).label("replies"),
            func.sum(p.quotes).label("quotes"),
            func.sum(p.engagement).label("total"),
            func.min(p.text).label("text"),
        )
        .where(key.is_not(None))
        .group_by(key, p.platform, p.language)
    )


def engagement_ranking(posts: Any, top: int) -> Select[Any]:
    """One statement: messages, quotes and platform totals grouped over the same latest
    snapshots (a CTE used three times is materialized once), the first two cut to `top` rows
    each by ROW_NUMBER()."""
    p = posts.c
    union = (
        _grouped_engagement(posts, "message", p.message_id)
        .union_all(
            _grouped_engagement(posts, "quote", p.quote_id),
            _grouped_engagement(posts, "platform", literal("", String)),
        )
        .subquery("grouped")
    )
    g = union.c
    rank = (
        func.row_number()
        .over(partition_by=g.kind, order_by=(g.total.desc(), g.id, g.platform, g.language))
        .label("rank")
    )
    ranked = select(*g, rank).subquery("ranked")
    r = ranked.c
    return (
        select(*[r[c.name] for c in g])
        .where((r.rank <= top) | (r.kind == "platform"))
        .order_by(r.kind, r.rank)
    )


def click_cube(session: Any, campaign_id: str, start: Any, end: Any, scan: bool) -> Any:
    """Clicks per (target, ask, wording, platform, language). Without a window these are the
    counts the database keeps (click_counts, migration 0005: one row a key, exact by triggers),
    a few thousand rows read instead of 1,000,000 clicks grouped (0.2 s on SQLite).

    A window needs the clicks' times. Its clicks are a range of `ix_clicks_time` (migration
    0006), grouped in a temporary B-tree, which costs in proportion to the rows grouped: so when
    the window holds more than half a campaign's clicks, the clicks outside it are grouped
    instead and taken from the kept counts (one SQL statement reads both, so they agree even
    while clicks are being written; the counts before it only choose the side).
    `collect` on the benchmark's 1,000,000 clicks (SQLite): a day 0.07 s, a week 0.31 s, half
    0.67 s, all 0.20 s (benchmarks/README.md, `kindling report`)."""
    k = ClickCountRow
    kept = select(k.target_id, k.ask_id, k.wording, k.platform, k.language, k.clicks.label("n"))
    kept = kept.where(k.campaign_id == campaign_id)
    if start is None and end is None and not scan:
        return kept.cte("click_cube")
    c = ClickRow
    keys = (c.target_id, c.ask_id, c.wording, c.platform, c.language)
    inside = in_window(c.at, start, end)
    if start is not None or end is not None:
        total = session.scalar(select(func.sum(k.clicks)).where(k.campaign_id == campaign_id))
        within = session.scalar(select(func.count()).where(c.campaign_id == campaign_id, inside))
        if 2 * within > (total or 0):
            return _kept_less_outside(kept, campaign_id, start, end)
    return (
        select(*keys, func.count().label("n"))
        .where(c.campaign_id == campaign_id, inside)
        .group_by(*keys)
        .cte("click_cube")
    )


def _kept_less_outside(kept: Any, campaign_id: str, start: Any, end: Any) -> Any:
    """The window's clicks as the kept counts less the clicks outside the window."""
    c = ClickRow
    keys = (c.target_id, c.ask_id, c.wording, c.platform, c.language)
    outside = [c.at < start] if start is not None else []
    outside += [c.at >= end] if end is not None else []
    parts = [
        select(*keys, -func.count()).where(c.campaign_id == campaign_id, when).group_by(*keys)
        for when in outside
    ]
    every = kept.union_all(*parts).subquery("kept_less_outside")
    e = every.c
    counted = (e.target_id, e.ask_id, e.wording, e.platform, e.language)
    return (
        select(*counted, func.sum(e.n).label("n"))
        .group_by(*counted)
        .having(func.sum(e.n) > 0)
        .cte("click_cube")
    )


def click_breakdowns(cube: Any) -> Any:
    """Rows (kind, key, wording, clicks): the cube summed per target, platform, language and
    (ask, wording), in one statement."""
    k = cube.c
    nothing = cast(null(), Integer)
    parts = [
        select(literal("target"), k.target_id, nothing, func.sum(k.n)).group_by(k.target_id),
        select(literal("platform"), k.platform, nothing, func.sum(k.n)).group_by(k.platform),
        select(literal("language"), k.language, nothing, func.sum(k.n)).group_by(k.language),
        select(literal("ask"), k.ask_id, k.wording, func.sum(k.n)).group_by(k.ask_id, k.wording),
    ]
    return parts[0].union_all(*parts[1:])


def engagement_per_day(
    store: Store, campaign_id: str, start: datetime | None, end: datetime | None
) -> Select[Any]:
    """Rows (message, platform, day, engagement): engagement per day per message and platform,
    carried forward between snapshots: each post's highest count of a day, its rise since its
    previous measured day, summed per message and platform and accumulated over days."""
    s = MetricSnapshotRow
    day = utc_day(store, s.at)
    daily = (
        select(
            s.outbox_id,
            day.label("day"),
            func.max(s.likes + s.reposts + s.replies + s.quotes).label("e"),
        )
        .join(OutboxRow, OutboxRow.id == s.outbox_id)
        .where(
            OutboxRow.campaign_id == campaign_id,
            in_window(OutboxRow.sent_at, start, end),
            in_window(s.at, None, end),
        )
        .group_by(s.outbox_id, day)
        .cte("daily")
    )
    previous = func.lag(daily.c.e).over(partition_by=daily.c.outbox_id, order_by=daily.c.day)
    deltas = select(
        daily.c.outbox_id, daily.c.day, (daily.c.e - func.coalesce(previous, 0)).label("d")
    ).cte("deltas")
    per = (
        select(
            OutboxRow.message_id, OutboxRow.platform, deltas.c.day, func.sum(deltas.c.d).label("d")
        )
        .join(OutboxRow, OutboxRow.id == deltas.c.outbox_id)
        .group_by(OutboxRow.message_id, OutboxRow.platform, deltas.c.day)
        .cte("per_message")
    )
    running = func.sum(per.c.d).over(
        partition_by=(per.c.message_id, per.c.platform), order_by=per.c.day
    )
    return select(per.c.message_id, per.c.platform, per.c.day, running).order_by(
        per.c.message_id, per.c.platform, per.c.day
    )


def clicks_per_day(
    store: Store, campaign_id: str, start: datetime | None, end: datetime | None
) -> Select[str, int]:
    """Rows (day, clicks) of the window's clicks."""
    cday = utc_day(store, ClickRow.at)
    return (
        select(cday, func.count())
        .where(ClickRow.campaign_id == campaign_id, in_window(ClickRow.at, start, end))
        .group_by(cday)
        .order_by(cday)
    )


def responses_per_target(campaign_id: str, start: Any, end: Any) -> Select[Any]:
    """Rows (target, responses, when, url, kind, is_first, is_last): each answering target's
    first and latest response in the window (one row if they are the same), with its count.
    Dismissed responses do not count."""
    r = ResponseRow
    when = func.coalesce(r.created_at, r.seen_at)
    ranked = (
        select(
            r.target_id,
            func.count().over(partition_by=r.target_id).label("n"),
            when.label("at"),
            r.url,
            r.kind,
            func.row_number().over(partition_by=r.target_id, order_by=(when, r.id)).label("up"),
            func.row_number()
            .over(partition_by=r.target_id, order_by=(when.desc(), r.id.desc()))
            .label("down"),
        )
        .where(
            r.campaign_id == campaign_id,
            r.target_id.is_not(None),
            r.dismissed.is_(False),
            in_window(when, start, end),
        )
        .subquery("ranked")
    )
    return select(
        ranked.c.target_id,
        ranked.c.n,
        ranked.c.at,
        ranked.c.url,
        ranked.c.kind,
        ranked.c.up == 1,
        ranked.c.down == 1,
    ).where(or_(ranked.c.up == 1, ranked.c.down == 1))


def first_messages(campaign_id: str) -> Any:
    """Rows (target, first click): when a supporter first opened a pre-filled message to each
    target (the /go/ redirect records it; the message itself is sent from their account)."""
    return (
        select(ClickRow.target_id, func.min(ClickRow.at))
        .where(ClickRow.campaign_id == campaign_id)
        .group_by(ClickRow.target_id)
    )
