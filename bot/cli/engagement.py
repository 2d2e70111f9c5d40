"""`kindling engagement poll`: one polling cycle now (a backfill after downtime), with progress:
metrics, mentions of the bot and the targets' own posts (listening)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli.common import pass_config
from bot.config import Config

if TYPE_CHECKING:
    from bot.engagement.poller import CycleReport, EngagementPoller
    from bot.store.engine import Store


@click.group()
def engagement() -> None:
    """Metrics of the bot's posts and responses from targets."""


@engagement.command()
@pass_config
def poll(config: Config) -> None:
    """Poll metrics of every due post and new responses now, on every configured platform.

    The daemon does this every minute; run it by hand to catch up after downtime. Uses the
    same budgets and rate-limit rules; shows progress on a terminal.
    """
    from bot.store.engine import Store

    store = Store(config.database)
    try:
        store.require_migrated()
        report = _poller(config, store).run_cycle()
    finally:
        store.dispose()
    _print_cycle(report)


def _poller(config: Config, store: Store) -> EngagementPoller:
    """The daemon's poller over every loaded campaign, polling responses on this cycle."""
    from datetime import timedelta

    from bot.checks.registry import CampaignRegistry
    from bot.clock import SystemClock
    from bot.engagement.cadence import adaptive_cadence
    from bot.engagement.poller import Cadence, EngagementPoller
    from bot.platforms.factory import make_platform
    from bot.publish.budget import Budget

    registry = CampaignRegistry(config)
    for problem in registry.load():
        click.echo(
            f"{problem} (this campaign's last good version is not known here: skipped)", err=True
        )
    campaigns = [active.loaded.campaign for active in registry.campaigns()]
    names = sorted({p for c in campaigns for p in c.platforms})
    settings = config.settings
    return EngagementPoller(
        store,
        {name: make_platform(name, config, dry_run=False) for name in names},
        Budget(store, settings.x.monthly_budget_usd),
        settings.x.prices,
        lambda: campaigns,
        SystemClock(),
        cadence=Cadence.from_minutes(settings.engagement.metrics_cadence),
        adaptive=adaptive_cadence(settings.engagement),
        responses_every=timedelta(0),
        listen_every=timedelta(0),
        listen_pages=settings.engagement.listen_pages_per_pass,
        listen_x_reads_per_day=settings.engagement.listen_x_reads_per_day,
        show_progress=True,
    )


def _print_cycle(report: CycleReport) -> None:
    for name, result in sorted(report.metrics.items()):
        line = f"{name}: {result.snapshots} snapshot(s) of {result.due} due post(s) in {result.calls} call(s)"
        if result.usd:
            line += f", ${result.usd:.3f}"
        if result.stopped:
            line += f"; stopped: {result.stopped}"
        click.echo(line)
    for name, count in sorted(report.responses.items()):
        click.echo(f"{name}: {count} new response(s)")
    for name, listened in sorted(report.listened.items()):
        line = f"{name}: {len(listened.new)} new response(s) on the targets' own feeds"
        line += f" ({listened.posts} post(s) of {listened.feeds} target(s) read"
        line += f", ${listened.usd:.3f})" if listened.usd else ")"
        if listened.stopped:
            line += f"; stopped: {listened.stopped}"
        click.echo(line)
    for what, why in sorted(report.skipped.items()):
        click.echo(f"{what}: skipped: {why}")
