"""The daemon's long-lived parts that only need building: amplification, engagement, the
weekly report, and the budget's outlook of the month."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from bot.amplify.discovery import Discovery
from bot.amplify.runner import AmplifyRunner
from bot.checks.registry import CampaignRegistry
from bot.clock import AcceleratedClock, Clock
from bot.config import Config
from bot.daemon.outlook import OutlookKeeper
from bot.daemon.weekly import WeeklyReports
from bot.engagement.cadence import adaptive_cadence
from bot.engagement.poller import Cadence, EngagementPoller
from bot.platforms.base import Platform
from bot.publish.budget import Budget
from bot.publish.outbox import Outbox
from bot.store.engine import Store


def amplify_runner(
    config: Config, store: Store, outbox: Outbox, budget: Budget, platforms: Mapping[str, Platform]
) -> AmplifyRunner:
    settings = config.settings
    discovery = Discovery(store, outbox.mode, settings.amplify, budget, settings.x.prices)
    return AmplifyRunner(discovery, platforms)


def engagement_poller(
    config: Config,
    store: Store,
    budget: Budget,
    platforms: Mapping[str, Platform],
    registry: CampaignRegistry,
    clock: Clock,
) -> EngagementPoller:
    """Metrics, responses and listening over `platforms` (filled in once the daemon connects)."""
    settings = config.settings
    engagement = settings.engagement
    return EngagementPoller(
        store,
        platforms,
        budget,
        settings.x.prices,
        lambda: [active.loaded.campaign for active in registry.campaigns()],
        clock,
        cadence=Cadence.from_minutes(engagement.metrics_cadence),
        adaptive=adaptive_cadence(engagement),
        responses_every=timedelta(minutes=engagement.responses_every_minutes),
        listen_every=timedelta(minutes=engagement.listen_every_minutes),
        listen_pages=engagement.listen_pages_per_pass,
        listen_x_reads_per_day=engagement.listen_x_reads_per_day,
    )


def weekly_reports(
    config: Config, store: Store, registry: CampaignRegistry, clock: Clock
) -> WeeklyReports:
    """The `weekly-report` job's worker (scheduled only with `[report] weekly_email`, live)."""
    return WeeklyReports(
        config, store, lambda: [active.loaded.campaign for active in registry.campaigns()], clock
    )


def month_outlook(
    config: Config, store: Store, budget: Budget, clock: Clock, cycle: timedelta
) -> OutlookKeeper:
    """The budget's outlook of the month; it reckons the engagement cycles in clock time."""
    speed = clock.speed if isinstance(clock, AcceleratedClock) else 1.0
    return OutlookKeeper(store, budget, config.settings, cycle * speed)
