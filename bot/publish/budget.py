"""What posting costs and whether the budget allows it. X charges per call; Bluesky does not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from bot import events
from bot.compose.lengths import x_has_url
from bot.config import XPrices
from bot.store.engine import Store
from bot.store.tables import SpendRow


@dataclass(frozen=True)
class Cost:
    kind: str  # post, post_with_link or read
    usd: float


@dataclass(frozen=True)
class Spend:
    """One charge for the ledger: what it cost, for which campaign, for which outbox row."""

    platform: str
    campaign_id: str | None
    cost: Cost
    at: datetime
    outbox_id: int | None = None


def post_cost(platform: str, text: str, prices: XPrices, thread: Sequence[str] = ()) -> Cost | None:
    """The charge for creating `text` (and its `thread` of replies, each a post X bills) on
    `platform`, or None where posting is free. The kind is the first post's."""
    if platform != "x":
        return None
    each = [prices.post_with_link if x_has_url(t) else prices.post for t in (text, *thread)]
    return Cost("post_with_link" if x_has_url(text) else "post", sum(each))


# The monthly budget of each platform that has one, for the 80% and 100% alerts of `record`
# (static, called with a session only): set by each Budget, and one config runs per process.
_MONTHLY_BUDGETS: dict[str, float] = {}
ALERT_PERCENTS: tuple[Literal[80, 100], ...] = (80, 100)


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now: datetime) -> datetime:
    return (month_start(now) + timedelta(days=32)).replace(day=1)


# Posts due this long ago stay reserved (a post may go out up to its max_delay after its slot).
RESERVE_BACK = timedelta(hours=1)
# The most the metrics cadence is stretched when money runs short (each interval times this).
MAX_STRETCH = 48.0


@dataclass(frozen=True)
class Outlook:
    """The rest of the month as the daemon planned it (bot/daemon/outlook.py): its X posts,
    reserved first, and the metrics reads the normal cadence would make, as (when, USD); and
    the most the optional reads (discovery, listening) may spend a day."""

    posts: tuple[tuple[datetime, float], ...] = ()
    metrics: tuple[tuple[datetime, float], ...] = ()
    optional_per_day: float = 0.0


@dataclass(frozen=True)
class ReadPlan:
    """How the reads fit what the reservation leaves: the metrics cadence stretched by
    `stretch`, and the optional reads on or off."""

    headroom: float  # USD the reads may still spend this month
    stretch: float = 1.0
    optional: bool = True


class Budget:
    """Spend so far this calendar month (UTC) against the global and per-campaign budgets."""

    def __init__(self, store: Store, monthly_usd: float) -> None:
        self.store = store
        self.monthly_usd = monthly_usd
        self.outlook = Outlook()  # the daemon's plan of the month; empty: nothing reserved
        _MONTHLY_BUDGETS["x"] = monthly_usd

    def reserved(self, now: datetime) -> float:
        """USD of the month's X posts still to come, which reads may not spend: from an hour
        back, as a post due a moment ago may not be sent yet (one sent counts twice meanwhile)."""
        end, since = next_month_start(now), now - RESERVE_BACK
        return sum(usd for due, usd in self.outlook.posts if since <= due < end)

    def headroom(self, platform: str, now: datetime) -> float:
        """What reads on `platform` may still spend this month: the budget less what is spent
        and what the remaining planned posts need."""
        return self.monthly_usd - self.spent(platform, now) - self.reserved(now)

    def read_plan(self, now: datetime) -> ReadPlan:
        """Optional reads first, then metrics, give way when the headroom is short: optional
        reads stop unless the normal metrics cadence and their daily most both fit; the metrics
        cadence is stretched by what it would need over what is left for it."""
        headroom = self.headroom("x", now)
        end = next_month_start(now)
        metrics = sum(usd for at, usd in self.outlook.metrics if now <= at < end)
        optional = self.outlook.optional_per_day * ((end - now) / timedelta(days=1))
        allowed = headroom >= metrics + optional - 1e-9
        left = headroom - (optional if allowed else 0.0)
        if metrics <= left + 1e-9:
            return ReadPlan(headroom, 1.0, allowed)
        stretch = MAX_STRETCH if left <= 0 else min(MAX_STRETCH, metrics / left)
        return ReadPlan(headroom, stretch, allowed)

    def read_refusal(self, usd: float, now: datetime, *, optional: bool) -> str | None:
        """Why an X read costing at most `usd` may not be made now, or None if it may."""
        plan = self.read_plan(now)
        if optional and not plan.optional:
            return (
                f"x: optional reads paused: ${plan.headroom:.3f} left after the month's planned "
                "posts is kept for them and the metrics"
            )
        if usd > plan.headroom + 1e-9:
            return (
                f"x monthly budget: ${plan.headroom:.3f} left for reads after the month's planned "
                f"posts (${self.reserved(now):.3f} reserved); this read may cost ${usd:.3f}"
            )
        return None

    def spent(self, platform: str, now: datetime, campaign_id: str | None = None) -> float:
        query = select(func.coalesce(func.sum(SpendRow.usd), 0.0)).where(
            SpendRow.platform == platform, SpendRow.at >= month_start(now)
        )
        if campaign_id is not None:
            query = query.where(SpendRow.campaign_id == campaign_id)
        with self.store.read() as session:
            return float(session.scalar(query) or 0.0)

    def refusal(
        self,
        cost: Cost,
        platform: str,
        campaign_id: str,
        campaign_budget: float | None,
        now: datetime,
    ) -> str | None:
        """Why `cost` may not be spent now, or None if it may."""
        total = self.spent(platform, now)
        if total + cost.usd > self.monthly_usd + 1e-9:
            return (
                f"{platform} monthly budget reached: ${total:.3f} spent of ${self.monthly_usd:.2f}, "
                f"this post costs ${cost.usd:.3f}"
            )
        if campaign_budget is not None:
            mine = self.spent(platform, now, campaign_id)
            if mine + cost.usd > campaign_budget + 1e-9:
                return (
                    f"campaign '{campaign_id}' {platform} budget reached: ${mine:.3f} spent of "
                    f"${campaign_budget:.2f}, this post costs ${cost.usd:.3f}"
                )
        return None

    @staticmethod
    def record(session: Session, spends: Sequence[Spend]) -> None:
        """Add `spends` to the ledger in `session`'s transaction: the one way spend is written,
        so it commits together with what it paid for (a post sent, a page of X reads)."""
        if spends:
            session.execute(
                insert(SpendRow),
                [
                    {
                        "platform": spend.platform,
                        "campaign_id": spend.campaign_id,
                        "kind": spend.cost.kind,
                        "usd": spend.cost.usd,
                        "at": spend.at,
                        "outbox_id": spend.outbox_id,
                    }
                    for spend in spends
                ],
            )
            _notice_thresholds(session, spends)


def _notice_thresholds(session: Session, spends: Sequence[Spend]) -> None:
    """Publish a BudgetThreshold for each alert percent these spends cross, once committed
    (a rolled-back spend crossed nothing)."""
    crossed: list[events.Event] = []
    for platform in sorted({spend.platform for spend in spends}):
        budget = _MONTHLY_BUDGETS.get(platform)
        if not budget:
            continue
        at = max(spend.at for spend in spends if spend.platform == platform)
        added = sum(spend.cost.usd for spend in spends if spend.platform == platform)
        query = select(func.coalesce(func.sum(SpendRow.usd), 0.0)).where(
            SpendRow.platform == platform, SpendRow.at >= month_start(at)
        )
        after = float(session.scalar(query) or 0.0)
        for percent in ALERT_PERCENTS:
            line = budget * percent / 100
            if after - added < line - 1e-9 <= after:
                month = f"{month_start(at):%Y-%m}"
                crossed.append(events.BudgetThreshold(platform, month, percent, after, budget))
    if crossed:
        event.listen(session, "after_commit", lambda _: _publish_all(crossed), once=True)


def _publish_all(crossed: Sequence[events.Event]) -> None:
    for each in crossed:
        events.publish(each)
