"""`kindling engagement poll`: one polling cycle now (a backfill after downtime), with progress."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from bot.config import Config


def register(main: click.Group, load: Callable[[click.Context], Config]) -> None:
    @main.group()
    def engagement() -> None:
        """Metrics of the bot's posts and responses from targets."""

    @engagement.command()
    @click.pass_context
    def poll(ctx: click.Context) -> None:
        """Poll metrics of every due post and new responses now, on every configured platform.

        The daemon does this every minute; run it by hand to catch up after downtime. Uses the
        same budgets and rate-limit rules; shows progress on a terminal.
        """
        from datetime import timedelta

        from bot.checks.registry import CampaignRegistry
        from bot.clock import SystemClock
        from bot.engagement.poller import Cadence, EngagementPoller
        from bot.platforms.factory import make_platform
        from bot.publish.budget import Budget
        from bot.store.engine import Store
        from bot.store.revision import DatabaseNotReady

        config = load(ctx)
        store = Store(config.database)
        try:
            store.require_migrated()
        except DatabaseNotReady as exc:
            click.echo(f"kindling engagement poll: {exc}", err=True)
            sys.exit(1)
        registry = CampaignRegistry(config)
        problems = registry.load()
        for problem in problems:
            click.echo(
                f"{problem} (this campaign's last good version is not known here: skipped)",
                err=True,
            )
        campaigns = [active.loaded.campaign for active in registry.campaigns()]
        names = sorted({p for c in campaigns for p in c.platforms})
        settings = config.settings
        poller = EngagementPoller(
            store,
            {name: make_platform(name, config, dry_run=False) for name in names},
            Budget(store, settings.x.monthly_budget_usd),
            settings.x.prices,
            lambda: campaigns,
            SystemClock(),
            cadence=Cadence.from_minutes(settings.engagement.metrics_cadence),
            responses_every=timedelta(0),
            show_progress=True,
        )
        try:
            report = poller.run_cycle()
        finally:
            store.dispose()
        for name, result in sorted(report.metrics.items()):
            line = f"{name}: {result.snapshots} snapshot(s) of {result.due} due post(s) in {result.calls} call(s)"
            if result.usd:
                line += f", ${result.usd:.3f}"
            if result.stopped:
                line += f"; stopped: {result.stopped}"
            click.echo(line)
        for name, count in sorted(report.responses.items()):
            click.echo(f"{name}: {count} new response(s)")
        for what, why in sorted(report.skipped.items()):
            click.echo(f"{what}: skipped: {why}")
