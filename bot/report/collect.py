"""`kindling report`: what moved. Engagement, clicks and responses of one campaign.

`collect` runs the statements of bot/report/queries.py and fills a `Report`
(bot/report/model.py). Outputs: rich tables for the terminal, JSON, one CSV per table
(bot/report/output.py); the HTML report (bot/report/html.py).

Windows: `since` and `until` are dates in the campaign's time zone, both whole days included.
Posts count when they were sent in the window, with their counts as last measured before the
window ends; clicks and responses count when they happened in it. Days in series are UTC days.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.amplify.outcomes import amplified
from bot.campaign.model import Campaign, Target
from bot.report import queries
from bot.report.model import (
    TOP,
    AskCount,
    Count,
    Engagement,
    GroupResponse,
    Point,
    Report,
    TargetClicks,
    TargetResponse,
)
from bot.store.engine import Store


def window(
    campaign: Campaign, since: date | datetime | None, until: date | datetime | None
) -> tuple[datetime | None, datetime | None]:
    """UTC [start, end): a date is a whole day in the campaign's time zone (`until` included)."""
    zone = ZoneInfo(campaign.timezone)
    return _utc(since, zone, end=False), _utc(until, zone, end=True)


def _utc(value: date | datetime | None, zone: ZoneInfo, *, end: bool) -> datetime | None:
    """A datetime (local to `zone` if naive), or the start of a day (of the next day if `end`)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=zone)
    else:
        moment = datetime.combine(value + timedelta(days=1 if end else 0), time(), zone)
    return moment.astimezone(UTC)


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
        posts = queries.latest_snapshots(campaign.id, start, end)
        quotes = {q.id: q.text for pool in campaign.quote_pools for q in pool.quotes}
        for row in session.execute(queries.engagement_ranking(posts, top)):
            kind, item = row[0], _engagement(row)
            if kind == "message":
                report.top_messages.append(item)
            elif kind == "quote":
                texts = quotes.get(item.id, {})
                report.top_quotes.append(replace(item, text=texts.get(item.language, item.text)))
            else:
                report.engagement_by_platform.append(replace(item, text=""))
        _clicks(session, campaign, report, start, end, scan=scan_clicks)
        _responses(session, campaign, report, start, end)
        report.amplifications = amplified(session, campaign.id, start, end)
        if series:
            _series(store, session, campaign, report, start, end)
    return report


def _engagement(row: Any) -> Engagement:
    """A row of queries.engagement_ranking: (kind, id, platform, language, counts..., text)."""
    _, key, platform, language, *counts, text = row
    posts, likes, reposts, replies, quotes, total = (int(v or 0) for v in counts)
    return Engagement(
        key, platform, language, posts, likes, reposts, replies, quotes, total, text or ""
    )


def _clicks(
    session: Any, campaign: Campaign, report: Report, start: Any, end: Any, *, scan: bool = False
) -> None:
    """The clicks as a small cube (target, ask, wording, platform, language); every breakdown
    is a GROUP BY over that cube in the same statement."""
    cube = queries.click_cube(session, campaign.id, start, end, scan)
    by: dict[str, list[tuple[str, int | None, int]]] = {}
    for kind, key, wording, n in session.execute(queries.click_breakdowns(cube)):
        by.setdefault(kind, []).append((key if key is not None else "", wording, int(n)))

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
        for key, _, n in _ordered(by, "target")
    ]
    report.clicks_by_constituency = [Count(key, n) for key, _, n in _ordered(by, "constituency")]
    report.clicks_by_platform = [Count(key, n) for key, _, n in _ordered(by, "platform")]
    report.clicks_by_language = [Count(key, n) for key, _, n in _ordered(by, "language")]
    report.clicks_by_ask = [AskCount(key, int(w or 0), n) for key, w, n in _ordered(by, "ask")]


def _ordered(
    by: dict[str, list[tuple[str, int | None, int]]], kind: str
) -> list[tuple[str, int | None, int]]:
    """The rows of one breakdown, most clicks first (then by key and wording: a stable order)."""
    return sorted(by.get(kind, []), key=lambda r: (-r[2], r[0], r[1] or 0))


def _responses(session: Any, campaign: Campaign, report: Report, start: Any, end: Any) -> None:
    answers: dict[str, dict[str, Any]] = {}
    for tid, n, at, url, kind, is_first, is_last in session.execute(
        queries.responses_per_target(campaign.id, start, end)
    ):
        answer = answers.setdefault(tid, {"n": int(n)})
        if is_first:
            answer.update(first_at=_moment(at), first_url=url, first_kind=kind)
        if is_last:
            answer.update(last_at=_moment(at), last_url=url)
    clicked = {tid: _moment(at) for tid, at in session.execute(queries.first_messages(campaign.id))}
    launch = _utc(campaign.active.start_local(), ZoneInfo(campaign.timezone), end=False)
    rows = sorted(
        ((t, answers.get(t.id, {"n": 0})) for t in campaign.targets),
        key=lambda row: (-row[1]["n"], row[0].id),
    )
    report.responses_by_target = [
        _target_response(t, answer, launch, clicked.get(t.id)) for t, answer in rows
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


def _target_response(
    target: Target, answer: dict[str, Any], launch: datetime | None, clicked: datetime | None
) -> TargetResponse:
    first: datetime | None = answer.get("first_at")
    since_message = (
        clicked if clicked is not None and first is not None and clicked <= first else None
    )
    return TargetResponse(
        target.id,
        target.name,
        target.constituency or "",
        target.party or "",
        answer["n"],
        _stamp(first),
        _stamp(answer.get("last_at")),
        answer.get("first_url"),
        answer.get("first_kind"),
        answer.get("last_url"),
        _hours(launch, first),
        _hours(since_message, first),
    )


def _hours(since: datetime | None, until: datetime | None) -> float | None:
    """Hours from `since` to `until`, to a tenth (None unless both are known and in order)."""
    if since is None or until is None or until < since:
        return None
    return round((until - since).total_seconds() / 3600, 1)


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands some timestamps back as text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _stamp(value: Any) -> str | None:
    moment = _moment(value)
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def _series(
    store: Store, session: Any, campaign: Campaign, report: Report, start: Any, end: Any
) -> None:
    """Engagement per day per message and platform (accumulated over days), clicks per day."""
    per_day = queries.engagement_per_day(store, campaign.id, start, end)
    report.engagement_per_day = [
        Point(f"{m} {p}", d, int(v)) for m, p, d, v in session.execute(per_day)
    ]
    clicks = queries.clicks_per_day(store, campaign.id, start, end)
    report.clicks_per_day = [Point("", d, int(n)) for d, n in session.execute(clicks)]
