"""The daemon's plan of the rest of the month for the X budget (`Budget.outlook`): the planned
posts it reserves first, and the metrics reads the normal cadence would make, from the same
planner and `Cadence.read_times` as `kindling simulate`'s forecast (bot/daemon/x_costs.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.checks.registry import ActiveCampaign
from bot.config import Settings
from bot.daemon.x_costs import PlannedCharge, cadence_of, optional_reads_per_day
from bot.publish.budget import Budget, Outlook, next_month_start, post_cost
from bot.publish.states import OutboxState
from bot.publish.timeline import planned_posts
from bot.store.engine import Store
from bot.store.tables import OutboxRow

log = logging.getLogger("kindling.daemon")


def x_posts_planned(
    campaigns: Sequence[ActiveCampaign], settings: Settings, start: datetime, end: datetime
) -> list[PlannedCharge]:
    """Every X post the campaigns plan in [start, end), with its charge."""
    planned = []
    for active in campaigns:
        if "x" not in active.loaded.campaign.platforms:
            continue
        for post in planned_posts(active, start, end, settings, None):
            slot = post.slot
            cost = post_cost(slot.platform, post.text, settings.x.prices, post.thread)
            if cost is not None:
                planned.append(PlannedCharge(slot.due.astimezone(UTC), cost.kind, cost.usd))
    return planned


def x_sent_since(store: Store, since: datetime, mode: str = "live") -> list[datetime]:
    """When the X posts sent since `since` went out (their metrics are still read)."""
    query = select(OutboxRow.sent_at).where(
        OutboxRow.mode == mode,
        OutboxRow.platform == "x",
        OutboxRow.state == OutboxState.SENT,
        OutboxRow.remote_id.is_not(None),
        OutboxRow.sent_at >= since,
    )
    with store.read() as session:
        return [at for at in session.scalars(query) if at is not None]


def month_outlook(
    store: Store,
    campaigns: Sequence[ActiveCampaign],
    settings: Settings,
    now: datetime,
    cycle: timedelta,
) -> Outlook:
    """The rest of `now`'s month: posts reserved, metrics reads at the normal cadence (engagement
    cycles every `cycle` from now), and the optional reads' daily most."""
    end = next_month_start(now)
    cadence = cadence_of(settings)
    posts = x_posts_planned(campaigns, settings, now, end)
    sent = x_sent_since(store, now - cadence.stop_after)
    price = settings.x.prices.own_read
    reads = [
        (at, price)
        for sent_at in [*sent, *(post.due for post in posts)]
        for at in cadence.read_times(sent_at, now, cycle, end)
    ]
    optional = optional_reads_per_day(settings, [a.loaded.campaign for a in campaigns])
    return Outlook(
        tuple((post.due, post.usd) for post in posts),
        tuple(reads),
        sum(optional.values()) * settings.x.prices.read,
    )


class OutlookKeeper:
    """Keeps `budget.outlook` current: rebuilt when the campaigns change, at each new month,
    and every `every` of clock time (posts sent meanwhile). A rebuild plans the rest of the
    month, so not more often: the planned posts do not change between reloads."""

    def __init__(
        self,
        store: Store,
        budget: Budget,
        settings: Settings,
        cycle: timedelta,
        every: timedelta = timedelta(days=1),
    ) -> None:
        self.store, self.budget, self.settings = store, budget, settings
        self.cycle, self.every = cycle, every
        self.stale = True
        self._built: datetime | None = None

    def refresh(self, campaigns: Sequence[ActiveCampaign], now: datetime) -> None:
        built = self._built
        if not (
            self.stale
            or built is None
            or now - built >= self.every
            or next_month_start(built) <= now
        ):
            return
        try:
            outlook = month_outlook(self.store, campaigns, self.settings, now, self.cycle)
        except ValueError as exc:  # a campaign that cannot be planned: `plan` logs it
            log.warning("x budget outlook not updated: %s", exc)
            return
        self.budget.outlook, self._built, self.stale = outlook, now, False
