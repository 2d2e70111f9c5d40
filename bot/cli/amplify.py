"""Amplification commands: `amplify discover`, `queue`, `approve`, `reject`, `unamplify`.
Thin wiring; the logic lives in bot/amplify/."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from bot.config import Config

MODE_OPTION = click.option(
    "--dry-run", is_flag=True, help="The dry-run daemon's candidates instead of the live bot's."
)


def register(main: click.Group, load: Callable[[click.Context], Config]) -> None:
    @main.group()
    def amplify() -> None:
        """Finding supporters' posts about a campaign and amplifying them."""

    @amplify.command()
    @click.pass_context
    def discover(ctx: click.Context) -> None:
        """Run one discovery pass now on every campaign with an `amplify:` section.

        The daemon does this every [amplify] discovery_every_minutes; this is the same pass, for
        a first look or to catch up. Qualifying posts are planned into the outbox (the daemon
        sends them) or queued for approval.
        """
        from bot.amplify.discovery import Discovery, x_reads_today
        from bot.amplify.runner import AmplifyRunner
        from bot.platforms.factory import make_platform
        from bot.publish.budget import Budget

        config = load(ctx)
        with _store(config, "amplify discover") as store:
            registry = _registry(config)
            names = sorted(
                {
                    p
                    for active in registry.campaigns()
                    if active.loaded.campaign.amplify
                    for p in active.loaded.campaign.amplify.platforms
                }
            )
            settings = config.settings
            discovery = Discovery(
                store,
                "live",
                settings.amplify,
                Budget(store, settings.x.monthly_budget_usd),
                settings.x.prices,
            )
            platforms = {name: make_platform(name, config, dry_run=False) for name in names}
            failed = False
            for name, platform in sorted(platforms.items()):
                reason = getattr(platform, "reason", None)  # UnavailablePlatform: no credentials
                if reason:
                    click.echo(f"kindling amplify discover: {name}: {reason}", err=True)
                    failed = True
            now = datetime.now(UTC)
            reports = AmplifyRunner(discovery, platforms).run(registry.campaigns(), now)
            if not names:
                click.echo("no campaign has an amplify: section")
            for name, report in sorted(reports.items()):
                line = (
                    f"{name}: {report.found} post(s) read, {report.new} new: "
                    f"{report.approved} approved, {report.queued} queued, {report.skipped} skipped; "
                    f"{report.planned} amplification(s) planned"
                )
                if name == "x":
                    line += (
                        f"; {report.x_reads} X read(s) (${report.x_reads * settings.x.prices.read:.3f}), "
                        f"{x_reads_today(store, now)} of {settings.amplify.x_reads_per_day} today"
                    )
                click.echo(line)
                for why in report.stopped:
                    click.echo(f"  stopped early: {why}")
        if failed:
            sys.exit(1)

    @main.command()
    @click.argument("campaign", required=False)
    @click.option("--all", "show_all", is_flag=True, help="Every candidate, not only queued ones.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @MODE_OPTION
    @click.pass_context
    def queue(
        ctx: click.Context, campaign: str | None, show_all: bool, as_json: bool, dry_run: bool
    ) -> None:
        """Supporters' posts waiting for `kindling approve ID` or `kindling reject ID`."""
        from bot.amplify.decisions import list_candidates

        config = load(ctx)
        with _store(config, "queue") as store:
            views = list_candidates(
                store, _mode(dry_run), None if show_all else ("queued",), campaign
            )
        if as_json:
            click.echo(json.dumps([_plain(v) for v in views], indent=2, ensure_ascii=False))
            return
        if not views:
            click.echo("nothing waits for approval" if not show_all else "no candidates yet")
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title="Amplification candidates" if show_all else "Waiting for approval")
        for column in (
            "id",
            "campaign",
            "platform",
            "author",
            "text",
            "matched",
            "state",
            "reason",
        ):
            table.add_column(column, overflow="fold")
        for v in views:
            table.add_row(
                str(v.id),
                v.campaign,
                v.platform,
                v.author,
                _excerpt(v.text),
                v.matched,
                f"{v.state} ({v.action})",
                v.reason or "",
            )
        Console().print(table)

    @main.command()
    @click.argument("ids", nargs=-1, type=int, required=True)
    @MODE_OPTION
    @click.pass_context
    def approve(ctx: click.Context, ids: tuple[int, ...], dry_run: bool) -> None:
        """Approve queued candidates: each is planned into the outbox under the campaign's caps,
        spacing and quiet hours, and the daemon amplifies it."""
        _decide_all(ctx, load, ids, approve=True, dry_run=dry_run)

    @main.command()
    @click.argument("ids", nargs=-1, type=int, required=True)
    @MODE_OPTION
    @click.pass_context
    def reject(ctx: click.Context, ids: tuple[int, ...], dry_run: bool) -> None:
        """Reject queued candidates: they are never amplified."""
        _decide_all(ctx, load, ids, approve=False, dry_run=dry_run)

    @main.command()
    @click.argument("ids", nargs=-1, type=int, required=True)
    @MODE_OPTION
    @click.pass_context
    def unamplify(ctx: click.Context, ids: tuple[int, ...], dry_run: bool) -> None:
        """Undo the bot's repost, like or quote of candidates (or withdraw a planned one)."""
        from bot.amplify.decisions import DecisionError
        from bot.amplify.decisions import unamplify as undo_candidate
        from bot.platforms.base import Amplifier, PlatformError, Subject
        from bot.platforms.factory import make_platform

        config = load(ctx)
        failed = False
        platforms: dict[str, Any] = {}

        def undo(row: Any) -> None:
            if row.mode == "dry-run":
                return  # nothing was sent
            platform = platforms.setdefault(
                row.platform, make_platform(row.platform, config, dry_run=False)
            )
            if not isinstance(platform, Amplifier):
                raise DecisionError(f"{row.platform} is not configured: cannot undo there")
            subject = Subject(row.subject_id or "", row.subject_cid, row.subject_url or "")
            platform.unamplify(row.action, row.remote_id or "", subject)

        with _store(config, "unamplify") as store:
            for candidate_id in ids:
                try:
                    click.echo(
                        undo_candidate(store, _mode(dry_run), candidate_id, undo, datetime.now(UTC))
                    )
                except (DecisionError, PlatformError) as exc:
                    click.echo(f"kindling unamplify: {exc}", err=True)
                    failed = True
        if failed:
            sys.exit(1)


def _decide_all(
    ctx: click.Context,
    load: Callable[[click.Context], Config],
    ids: tuple[int, ...],
    *,
    approve: bool,
    dry_run: bool,
) -> None:
    from bot.amplify.decisions import DecisionError, decide
    from bot.amplify.planning import plan_approved
    from bot.amplify.runner import quote_writer

    config = load(ctx)
    mode = _mode(dry_run)
    failed = False
    with _store(config, "approve" if approve else "reject") as store:
        decided = []
        for candidate_id in ids:
            try:
                decided.append(decide(store, mode, candidate_id, approve, datetime.now(UTC)))
            except DecisionError as exc:
                click.echo(f"kindling {'approve' if approve else 'reject'}: {exc}", err=True)
                failed = True
        if approve and decided:
            campaigns = {active.id: active for active in _registry(config).campaigns()}
            for campaign_id, platform in sorted({(c.campaign_id, c.platform) for c in decided}):
                active = campaigns.get(campaign_id)
                if active is None:
                    click.echo(
                        f"campaign '{campaign_id}' is not loaded: approved, not planned", err=True
                    )
                    failed = True
                    continue
                plan_approved(
                    store,
                    mode,
                    active.loaded.campaign,
                    platform,
                    datetime.now(UTC),
                    quote_writer(active),
                )
        for candidate in decided:
            click.echo(
                f"{'approved' if approve else 'rejected'} candidate {candidate.id} ({candidate.url})"
            )
    if failed:
        sys.exit(1)


@contextmanager
def _store(config: Config, command: str):
    from bot.store.engine import Store
    from bot.store.revision import DatabaseNotReady

    store = Store(config.database)
    try:
        store.require_migrated()
    except DatabaseNotReady as exc:
        store.dispose()
        click.echo(f"kindling {command}: {exc}", err=True)
        sys.exit(1)
    try:
        yield store
    finally:
        store.dispose()


def _registry(config: Config):
    from bot.checks.registry import CampaignRegistry

    registry = CampaignRegistry(config)
    for problem in registry.load():
        click.echo(f"{problem} (this campaign is skipped)", err=True)
    return registry


def _mode(dry_run: bool) -> str:
    return "dry-run" if dry_run else "live"


def _plain(view: Any) -> dict[str, Any]:
    data = dict(view.__dict__)
    data["found_at"] = view.found_at.isoformat()
    return data


def _excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
