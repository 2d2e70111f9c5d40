"""`kindling report`: what moved. Engagement, clicks and responses of one campaign.

Every aggregate is computed by the database (GROUP BY, window functions, a max-per-group
subquery for each post's latest snapshot); Python only receives the aggregated rows. Outputs:
rich tables for the terminal, JSON, one CSV per table; the HTML report is in bot/report/html.py.

Windows: `since` and `until` are dates in the campaign's time zone, both whole days included.
Posts count when they were sent in the window, with their counts as last measured before the
window ends; clicks and responses count when they happened in it. Days in series are UTC days.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    cast,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.sql import Select

from bot.amplify.outcomes import Amplified, amplified
from bot.campaign.model import Campaign
from bot.store.engine import Store
from bot.store.tables import ClickCountRow, ClickRow, MetricSnapshotRow, OutboxRow, ResponseRow

TOP = 20


@dataclass(frozen=True)
class Engagement:
    """Summed latest counts of the posts of one message (or quote) on one platform in one language."""

    id: str
    platform: str
    language: str
    posts: int
    likes: int
    reposts: int
    replies: int
    quotes: int
    engagement: int
    text: str


@dataclass(frozen=True)
class Count:
    key: str
    clicks: int


@dataclass(frozen=True)
class AskCount:
    ask: str
    wording: int
    clicks: int


@dataclass(frozen=True)
class TargetClicks:
    target: str
    name: str
    constituency: str
    party: str
    clicks: int


@dataclass(frozen=True)
class TargetResponse:
    target: str
    name: str
    constituency: str
    party: str
    responses: int
    first_at: str | None
    last_at: str | None

    @property
    def answered(self) -> bool:
        return self.responses > 0


@dataclass(frozen=True)
class GroupResponse:
    """Targets of one constituency or party: how many answered, how many stayed silent."""

    key: str
    targets: int
    answered: int
    silent: int


@dataclass(frozen=True)
class Point:
    series: str  # "message platform" for engagement, "" for clicks
    day: str  # YYYY-MM-DD (UTC)
    value: int


@dataclass
class Report:
    campaign: str
    languages: list[str]
    since: str | None
    until: str | None
    top_messages: list[Engagement] = field(default_factory=list)
    top_quotes: list[Engagement] = field(default_factory=list)
    engagement_by_platform: list[Engagement] = field(default_factory=list)
    clicks_total: int = 0
    clicks_by_target: list[TargetClicks] = field(default_factory=list)
    clicks_by_constituency: list[Count] = field(default_factory=list)
    clicks_by_platform: list[Count] = field(default_factory=list)
    clicks_by_language: list[Count] = field(default_factory=list)
    clicks_by_ask: list[AskCount] = field(default_factory=list)
    responses_by_target: list[TargetResponse] = field(default_factory=list)
    responses_by_constituency: list[GroupResponse] = field(default_factory=list)
    responses_by_party: list[GroupResponse] = field(default_factory=list)
    # Only with collect(..., series=True) (the HTML charts): two more passes over the data.
    engagement_per_day: list[Point] = field(default_factory=list)
    clicks_per_day: list[Point] = field(default_factory=list)
    amplifications: list[Amplified] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for row, out in zip(self.responses_by_target, data["responses_by_target"], strict=True):
            out["answered"] = row.answered
        return data


# The tables of a report, in output order: (name, attribute).
TABLES: tuple[tuple[str, str], ...] = (
    ("top_messages", "top_messages"),
    ("top_quotes", "top_quotes"),
    ("engagement_by_platform", "engagement_by_platform"),
    ("clicks_by_target", "clicks_by_target"),
    ("clicks_by_constituency", "clicks_by_constituency"),
    ("clicks_by_platform", "clicks_by_platform"),
    ("clicks_by_language", "clicks_by_language"),
    ("clicks_by_ask", "clicks_by_ask"),
    ("responses_by_target", "responses_by_target"),
    ("responses_by_constituency", "responses_by_constituency"),
    ("responses_by_party", "responses_by_party"),
    ("engagement_per_day", "engagement_per_day"),
    ("clicks_per_day", "clicks_per_day"),
    ("amplifications", "amplifications"),
)


def window(
    campaign: Campaign, since: date | datetime | None, until: date | datetime | None
) -> tuple[datetime | None, datetime | None]:
    """UTC [start, end): a date is a whole day in the campaign's time zone (`until` included)."""
    zone = ZoneInfo(campaign.timezone)

    def convert(value: date | datetime | None, end: bool) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=zone)
        else:
            moment = datetime.combine(value + timedelta(days=1 if end else 0), time(), zone)
        return moment.astimezone(UTC)

    return convert(since, False), convert(until, True)


def _in(col: Any, start: datetime | None, end: datetime | None) -> ColumnElement[bool]:
    clauses = []
    if start is not None:
        clauses.append(col >= start)
    if end is not None:
        clauses.append(col < end)
    return and_(True, *clauses)


def _day(store: Store, col: Any) -> ColumnElement[str]:
    """The UTC day of a timestamp as 'YYYY-MM-DD' on either backend."""
    if store.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", col), "YYYY-MM-DD")
    return func.substr(col, 1, 10)


def _latest_snapshots(campaign_id: str, start: datetime | None, end: datetime | None) -> Any:
    """Each sent post of the campaign (sent in the window) with its latest snapshot before `end`."""
    s = MetricSnapshotRow
    # A correlated max() per post, not a GROUP BY over all snapshots: with the index on
    # (outbox_id, at) each post's latest time is one index seek (10,000 seeks instead of a
    # scan of 1,000,000 index entries: 0.36 s -> 0.05 s on SQLite). Posts without a snapshot
    # get NULL and drop out in the join below, as they did from the GROUP BY.
    latest_at = (
        select(func.max(s.at))
        .where(s.outbox_id == OutboxRow.id, _in(s.at, None, end))
        .scalar_subquery()
    )
    latest = (
        select(OutboxRow.id.label("outbox_id"), latest_at.label("at"))
        .where(
            OutboxRow.campaign_id == campaign_id,
            OutboxRow.action == "post",  # amplifications have their own table
            _in(OutboxRow.sent_at, start, end),
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


def _engagement(posts: Any, top: int) -> Select[Any]:
    """One statement: messages, quotes and platform totals grouped over the same latest
    snapshots (a CTE used three times is materialized once), the first two cut to `top` rows
    each by ROW_NUMBER()."""
    p = posts.c
    blank = literal("", String)

    def grouped(kind: str, key: Any, platform: Any, language: Any) -> Select[Any]:
        return (
            select(
                literal(kind, String).label("kind"),
                key.label("id"),
                platform.label("platform"),
                language.label("language"),
                func.count().label("posts"),
                func.sum(p.likes).label("likes"),
                func.sum(p.reposts).label("reposts"),
                func.sum(p.replies).label("replies"),
                func.sum(p.quotes).label("quotes"),
                func.sum(p.engagement).label("total"),
                func.min(p.text).label("text"),
            )
            .where(key.is_not(None))
            .group_by(key, platform, language)
        )

    union = (
        grouped("message", p.message_id, p.platform, p.language)
        .union_all(
            grouped("quote", p.quote_id, p.platform, p.language),
            grouped("platform", blank, p.platform, p.language),
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


def collect(
    store: Store,
    campaign: Campaign,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    *,
    series: bool = False,
    top: int = TOP,
    scan_clicks: bool = False,
) -> Report:
    """`scan_clicks`: group the clicks table even without a window, where the counts kept by
    the database (click_counts) give the same rows; tests and benchmarks compare the two."""
    start, end = window(campaign, since, until)
    report = Report(
        campaign=campaign.id,
        languages=list(campaign.languages),
        since=start.isoformat() if start else None,
        until=end.isoformat() if end else None,
    )
    with store.read() as session:
        posts = _latest_snapshots(campaign.id, start, end)
        quotes = {q.id: q.text for pool in campaign.quote_pools for q in pool.quotes}
        for row in session.execute(_engagement(posts, top)):
            kind, *counts, text = row
            item = Engagement(*counts[:3], *(int(v or 0) for v in counts[3:]), text=text or "")
            if kind == "message":
                report.top_messages.append(item)
            elif kind == "quote":
                texts = quotes.get(item.id, {})
                report.top_quotes.append(
                    Engagement(**{**asdict(item), "text": texts.get(item.language, item.text)})
                )
            else:
                report.engagement_by_platform.append(Engagement(**{**asdict(item), "text": ""}))
        _clicks(session, campaign, report, start, end, scan=scan_clicks)
        _responses(session, campaign, report, start, end)
        report.amplifications = amplified(session, campaign.id, start, end)
        if series:
            _series(store, session, campaign, report, start, end)
    return report


def _click_cube(session: Any, campaign_id: str, start: Any, end: Any, scan: bool) -> Any:
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
    inside = _in(c.at, start, end)
    if start is not None or end is not None:
        total = session.scalar(select(func.sum(k.clicks)).where(k.campaign_id == campaign_id))
        within = session.scalar(select(func.count()).where(c.campaign_id == campaign_id, inside))
        if 2 * within > (total or 0):
            outside = [c.at < start] if start is not None else []
            outside += [c.at >= end] if end is not None else []
            parts = [
                select(*keys, -func.count())
                .where(c.campaign_id == campaign_id, when)
                .group_by(*keys)
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
    return (
        select(*keys, func.count().label("n"))
        .where(c.campaign_id == campaign_id, inside)
        .group_by(*keys)
        .cte("click_cube")
    )


def _clicks(
    session: Any, campaign: Campaign, report: Report, start: Any, end: Any, *, scan: bool = False
) -> None:
    """The clicks as a small cube (target, ask, wording, platform, language); every breakdown
    is a GROUP BY over that cube in the same statement."""
    cube = _click_cube(session, campaign.id, start, end, scan)
    k = cube.c
    nothing = cast(null(), Integer)
    parts = [
        select(literal("target"), k.target_id, nothing, func.sum(k.n)).group_by(k.target_id),
        select(literal("platform"), k.platform, nothing, func.sum(k.n)).group_by(k.platform),
        select(literal("language"), k.language, nothing, func.sum(k.n)).group_by(k.language),
        select(literal("ask"), k.ask_id, k.wording, func.sum(k.n)).group_by(k.ask_id, k.wording),
    ]
    statement = parts[0].union_all(*parts[1:])
    by: dict[str, list[tuple[str, int | None, int]]] = {}
    for kind, key, wording, n in session.execute(statement):
        by.setdefault(kind, []).append((key if key is not None else "", wording, int(n)))

    def ordered(kind: str) -> list[tuple[str, int | None, int]]:
        return sorted(by.get(kind, []), key=lambda r: (-r[2], r[0], r[1] or 0))

    info = {t.id: t for t in campaign.targets}
    # Constituencies come from the campaign, not the database: summed from the per-target totals
    # (at most one row a target), which spares SQL an inline table of every target.
    per_constituency: dict[str, int] = {}
    for key, _, n in by.get("target", []):
        constituency = (info[key].constituency or "") if key in info else ""
        per_constituency[constituency] = per_constituency.get(constituency, 0) + n
    by["constituency"] = [(key, None, n) for key, n in per_constituency.items()]
    report.clicks_total = sum(n for _, _, n in by.get("platform", []))
    report.clicks_by_target = [
        TargetClicks(
            key,
            info[key].name if key in info else key,
            (info[key].constituency or "") if key in info else "",
            (info[key].party or "") if key in info else "",
            n,
        )
        for key, _, n in ordered("target")
    ]
    report.clicks_by_constituency = [Count(key, n) for key, _, n in ordered("constituency")]
    report.clicks_by_platform = [Count(key, n) for key, _, n in ordered("platform")]
    report.clicks_by_language = [Count(key, n) for key, _, n in ordered("language")]
    report.clicks_by_ask = [AskCount(key, int(w or 0), n) for key, w, n in ordered("ask")]


def _responses(session: Any, campaign: Campaign, report: Report, start: Any, end: Any) -> None:
    r = ResponseRow
    when = func.coalesce(r.created_at, r.seen_at)
    per = (
        select(
            r.target_id,
            func.count().label("n"),
            func.min(when).label("first_at"),
            func.max(when).label("last_at"),
        )
        .where(r.campaign_id == campaign.id, r.target_id.is_not(None), _in(when, start, end))
        .group_by(r.target_id)
        .subquery("per_target")
    )
    answers = {tid: (int(n), first, last) for tid, n, first, last in session.execute(select(per))}
    rows = sorted(
        ((t, *answers.get(t.id, (0, None, None))) for t in campaign.targets),
        key=lambda row: (-row[1], row[0].id),
    )
    report.responses_by_target = [
        TargetResponse(
            t.id, t.name, t.constituency or "", t.party or "", count, _stamp(first), _stamp(last)
        )
        for t, count, first, last in rows
    ]
    for attr, key in (
        ("responses_by_constituency", "constituency"),
        ("responses_by_party", "party"),
    ):
        groups: dict[str, list[int]] = {}
        for target in campaign.targets:
            totals = groups.setdefault(getattr(target, key) or "", [0, 0])
            totals[0] += 1
            totals[1] += target.id in answers
        setattr(
            report,
            attr,
            [GroupResponse(k, n_, a, n_ - a) for k, (n_, a) in sorted(groups.items())],
        )


def _stamp(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands aggregates of timestamps back as text
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _series(
    store: Store, session: Any, campaign: Campaign, report: Report, start: Any, end: Any
) -> None:
    """Engagement per day per message and platform, carried forward between snapshots: each
    post's highest count of a day, its rise since its previous measured day, summed per
    message and platform and accumulated over days (window functions). Clicks per day."""
    s = MetricSnapshotRow
    day = _day(store, s.at)
    daily = (
        select(
            s.outbox_id,
            day.label("day"),
            func.max(s.likes + s.reposts + s.replies + s.quotes).label("e"),
        )
        .join(OutboxRow, OutboxRow.id == s.outbox_id)
        .where(
            OutboxRow.campaign_id == campaign.id,
            _in(OutboxRow.sent_at, start, end),
            _in(s.at, None, end),
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
    report.engagement_per_day = [
        Point(f"{m} {p}", d, int(v))
        for m, p, d, v in session.execute(
            select(per.c.message_id, per.c.platform, per.c.day, running).order_by(
                per.c.message_id, per.c.platform, per.c.day
            )
        )
    ]
    cday = _day(store, ClickRow.at)
    report.clicks_per_day = [
        Point("", d, int(n))
        for d, n in session.execute(
            select(cday, func.count())
            .where(ClickRow.campaign_id == campaign.id, _in(ClickRow.at, start, end))
            .group_by(cday)
            .order_by(cday)
        )
    ]


# ---- outputs -------------------------------------------------------------------------------
