"""What posting costs and whether the budget allows it. X charges per call; Bluesky does not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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


def post_cost(platform: str, text: str, prices: XPrices) -> Cost | None:
    """The charge for creating `text` on `platform`, or None where posting is free."""
    if platform != "x":
        return None
    if x_has_url(text):
        return Cost("post_with_link", prices.post_with_link)
    return Cost("post", prices.post)


# The monthly budget of each platform that has one, for the 80% and 100% alerts of `record`
# (static, called with a session only): set by each Budget, and one config runs per process.
_MONTHLY_BUDGETS: dict[str, float] = {}
ALERT_PERCENTS: tuple[Literal[80, 100], ...] = (80, 100)


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class Budget:
    """Spend so far this calendar month (UTC) against the global and per-campaign budgets."""

    def __init__(self, store: Store, monthly_usd: float) -> None:
        self.store = store
        self.monthly_usd = monthly_usd
        _MONTHLY_BUDGETS["x"] = monthly_usd

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
