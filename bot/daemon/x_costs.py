"""What X will bill, by kind of call, per UTC day: for `kindling simulate` (the planned month),
`kindling status` (the rest of the running month) and the daemon's budget outlook.

Nothing here is a second model of the daemon: the posts are the planner's (`publish.timeline`),
the metrics reads are `Cadence.read_times` (the poller's `is_due`, asked at each engagement
cycle), discovery and listening are their own forecasts (the most their daily allowances let
them read), and prices are the `[x.prices]` the daemon charges.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from bot.amplify.forecast import amplification_forecast
from bot.campaign.model import Campaign
from bot.config import Settings
from bot.engagement.forecast import listening_forecast
from bot.engagement.metrics import Cadence
from bot.publish.budget import post_cost
from bot.publish.timeline import TimelineEntry

# Every kind of billed X call, in the order they are shown.
KINDS = (
    "post",
    "post_with_link",
    "metrics",
    "mentions",
    "discovery",
    "listening",
    "reconciliation",
)
# Reads the daemon skips first when money runs short (then it stretches the metrics cadence).
OPTIONAL = ("discovery", "listening")


@dataclass(frozen=True)
class PlannedCharge:
    """A post the plan sends on X: when, and what X bills for it (`kind`: post or
    post_with_link)."""

    due: datetime
    kind: str
    usd: float


@dataclass
class XCosts:
    """USD and billed units (posts, or posts read) per UTC day and kind, in [start, end)."""

    start: datetime
    end: datetime
    usd: dict[date, dict[str, float]] = field(default_factory=dict)
    units: dict[date, dict[str, int]] = field(default_factory=dict)

    def add(self, day: date, kind: str, units: int, usd: float) -> None:
        self.usd.setdefault(day, dict.fromkeys(KINDS, 0.0))[kind] += usd
        self.units.setdefault(day, dict.fromkeys(KINDS, 0))[kind] += units

    def days(self) -> list[date]:
        return sorted(self.usd)

    def total(self, kinds: Iterable[str] = KINDS) -> float:
        chosen = set(kinds)
        return sum(usd for day in self.usd.values() for k, usd in day.items() if k in chosen)

    def months(self) -> dict[str, dict[str, float]]:
        """USD by kind (and "total") per calendar month, "YYYY-MM"."""
        months: dict[str, dict[str, float]] = {}
        for day, kinds in sorted(self.usd.items()):
            month = months.setdefault(f"{day:%Y-%m}", dict.fromkeys((*KINDS, "total"), 0.0))
            for kind, usd in kinds.items():
                month[kind] += usd
                month["total"] += usd
        return months

    def by_day(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for day in self.days():
            usd = self.usd[day]
            row: dict[str, object] = {"date": day.isoformat()}
            row |= {kind: round(usd[kind], 4) for kind in KINDS}
            row["total"] = round(sum(usd.values()), 4)
            row["reads"] = {k: n for k, n in self.units[day].items() if n and k not in KINDS[:2]}
            rows.append(row)
        return rows


def planned_charges(entries: Iterable[TimelineEntry], settings: Settings) -> list[PlannedCharge]:
    """The X posts of a timeline that go out (not those the budget would stop), as charges."""
    charges = []
    for entry in entries:
        slot = entry.post.slot
        cost = post_cost(slot.platform, entry.post.text, settings.x.prices, entry.post.thread)
        if cost is not None and entry.status == "post":
            charges.append(PlannedCharge(slot.due.astimezone(UTC), cost.kind, cost.usd))
    return charges


def engagement_cycle(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.engagement.cycle_seconds)


def cadence_of(settings: Settings) -> Cadence:
    return Cadence.from_minutes(settings.engagement.metrics_cadence)


def forecast(
    settings: Settings,
    campaigns: Sequence[Campaign],
    posts: Sequence[PlannedCharge],
    start: datetime,
    end: datetime,
    *,
    sent_before: Sequence[datetime] = (),
    cycle: timedelta | None = None,
    cadence: Cadence | None = None,
) -> XCosts:
    """X's bill for [start, end): `posts` (the plan's X posts that go out), the metrics reads
    of those and of `sent_before` (X posts already sent) under `cadence` with engagement
    cycles every `cycle` from `start`, mentions polling, discovery and listening at most."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    costs = XCosts(start, end)
    prices = settings.x.prices
    for post in posts:
        costs.add(post.due.date(), post.kind, 1, post.usd)
    cycle = cycle or engagement_cycle(settings)
    cadence = cadence or cadence_of(settings)
    for sent in [*sent_before, *(p.due for p in posts)]:
        for at in cadence.read_times(sent, start, cycle, end):
            if at >= start:
                costs.add(at.date(), "metrics", 1, prices.own_read)
    _mentions(costs, settings, start, end, cycle)
    for day in _days(start, end):
        share = _day_share(day, start, end)
        for kind, reads in optional_reads_per_day(settings, campaigns).items():
            most = math.floor(reads * share)
            costs.add(day, kind, most, most * prices.read)
        costs.add(day, "reconciliation", 0, 0.0)
    return costs


def optional_reads_per_day(settings: Settings, campaigns: Sequence[Campaign]) -> dict[str, int]:
    """The most X posts discovery and listening may read a day: each allowance is shared by
    every campaign, so it counts once however many campaigns use it."""
    discovery = listening = 0
    for campaign in campaigns:
        amplify = amplification_forecast(campaign, settings, 1)
        if amplify is not None:
            discovery = max(discovery, int(amplify["x_most_reads"]))
        listens = listening_forecast(campaign, settings, 1)
        if listens is not None:
            listening = max(listening, int(listens["x_most_reads"]))
    return {"discovery": discovery, "listening": listening}


def _mentions(
    costs: XCosts, settings: Settings, start: datetime, end: datetime, cycle: timedelta
) -> None:
    """Mentions are read every `responses_every_minutes`, at the first engagement cycle after;
    X bills each mention a poll returns, and an empty poll nothing: the forecast counts the
    polls (units) and no mentions, which no one can know in advance."""
    every = timedelta(minutes=settings.engagement.responses_every_minutes)
    step = cycle * max(1, math.ceil(every / cycle))
    polls: defaultdict[date, int] = defaultdict(int)
    at = start
    while at < end:
        polls[at.date()] += 1
        at += step
    for day, count in polls.items():
        costs.add(day, "mentions", count, 0.0)


def _days(start: datetime, end: datetime) -> list[date]:
    days, day = [], start.date()
    while datetime.combine(day, datetime.min.time(), start.tzinfo) < end:
        days.append(day)
        day += timedelta(days=1)
    return days


def _day_share(day: date, start: datetime, end: datetime) -> float:
    """How much of UTC `day` lies in [start, end): daily allowances of a part day count in part."""
    begin = datetime.combine(day, datetime.min.time(), start.tzinfo)
    inside = min(end, begin + timedelta(days=1)) - max(start, begin)
    return max(0.0, inside / timedelta(days=1))


def run_out_day(costs: XCosts, kinds: Iterable[str], budget: float) -> date | None:
    """The first day on which the month's spend on `kinds` passes `budget` (each month anew)."""
    chosen, month, spent = set(kinds), "", 0.0
    for day in costs.days():
        if f"{day:%Y-%m}" != month:
            month, spent = f"{day:%Y-%m}", 0.0
        spent += sum(usd for kind, usd in costs.usd[day].items() if kind in chosen)
        if spent > budget + 1e-9:
            return day
    return None
