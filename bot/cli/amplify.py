"""Amplification commands: `amplify discover`, `queue`, `approve`, `reject`, `unamplify`.
Thin wiring; the logic lives in bot/amplify/."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from bot.cli.common import pass_config
from bot.config import Config

if TYPE_CHECKING:
    from bot.amplify.discovery import PassReport
    from bot.checks.registry import CampaignRegistry
    from bot.platforms.base import Platform
    from bot.store.engine import Store

MODE_OPTION = click.option(
    "--dry-run", is_flag=True, help="The dry-run daemon's candidates instead of the live bot's."
)
QUEUE_COLUMNS = ("id", "campaign", "platform", "author", "text", "matched", "state", "reason")


@click.group()
def amplify() -> None:
    """Finding supporters' posts about a campaign and amplifying them."""


@amplify.command()
@pass_config
def discover(config: Config) -> None:
    """Run one discovery pass now on every campaign with an `amplify:` section.

    The daemon does this every [amplify] discovery_every_minutes; this is the same pass, for
    a first look or to catch up. Qualifying posts are planned into the outbox (the daemon
    sends them) or queued for approval.
    """
    from bot.amplify.discovery import Discovery
    from bot.amplify.runner import AmplifyRunner
    from bot.publish.budget import Budget

    settings = config.settings
    with _store(config) as store:
        registry = _registry(config)
        names = sorted(
            {
                p
                for active in registry.campaigns()
                if active.loaded.campaign.amplify
                for p in active.loaded.campaign.amplify.platforms
            }
        )
        budget = Budget(store, settings.x.monthly_budget_usd)
        discovery = Discovery(store, "live", settings.amplify, budget, settings.x.prices)
        platforms, failed = _discovery_platforms(config, names)
        now = datetime.now(UTC)
        reports = AmplifyRunner(discovery, platforms).run(registry.campaigns(), now)
        if not names:
            click.echo("no campaign has an amplify: section")
        for name, report in sorted(reports.items()):
            click.echo(_discovery_line(config, store, name, report, now))
            for why in report.stopped:
                click.echo(f"  stopped early: {why}")
    if failed:
        sys.exit(1)


def _discovery_platforms(config: Config, names: Sequence[str]) -> tuple[dict[str, Platform], bool]:
    """The live adapters of `names`, and whether any of them is unavailable (said on stderr)."""
    from bot.platforms.factory import make_platform

    platforms = {name: make_platform(name, config, dry_run=False) for name in names}
    failed = False
    for name, platform in sorted(platforms.items()):
        reason = getattr(platform, "reason", None)  # UnavailablePlatform: no credentials
        if reason:
            click.echo(f"kindling amplify discover: {name}: {reason}", err=True)
            failed = True
    return platforms, failed


def _discovery_line(
    config: Config, store: Store, name: str, report: PassReport, now: datetime
) -> str:
    from bot.amplify.discovery import x_reads_today

    line = (
        f"{name}: {report.found} post(s) read, {report.new} new: "
        f"{report.approved} approved, {report.queued} queued, {report.skipped} skipped; "
        f"{report.planned} amplification(s) planned"
    )
    if name == "x":
        settings = config.settings
        line += (
            f"; {report.x_reads} X read(s) (${report.x_reads * settings.x.prices.read:.3f}), "
            f"{x_reads_today(store, now)} of {settings.amplify.x_reads_per_day} today"
        )
    return line


@click.command()
@click.argument("campaign", required=False)
@click.option("--all", "show_all", is_flag=True, help="Every candidate, not only queued ones.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@MODE_OPTION
@pass_config
def queue(
    config: Config, campaign: str | None, show_all: bool, as_json: bool, dry_run: bool
) -> None:
    """Supporters' posts waiting for `kindling approve ID` or `kindling reject ID`."""
    from bot.amplify.decisions import CandidateState, list_candidates
    from bot.store.location import sqlite_file_missing

    views = []
    if not sqlite_file_missing(config.database):  # it only reads: no new, empty database
        with _store(config) as store:
            states = None if show_all else (CandidateState.QUEUED,)
            views = list_candidates(store, _mode(dry_run), states, campaign)
    if as_json:
        click.echo(json.dumps([_plain(v) for v in views], indent=2, ensure_ascii=False))
        return
    if not views:
        click.echo("nothing waits for approval" if not show_all else "no candidates yet")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Amplification candidates" if show_all else "Waiting for approval")
    for column in QUEUE_COLUMNS:
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


@click.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@MODE_OPTION
@pass_config
def approve(config: Config, ids: tuple[int, ...], dry_run: bool) -> None:
    """Approve queued candidates: each is planned into the outbox under the campaign's caps,
    spacing and quiet hours, and the daemon amplifies it."""
    _decide_all(config, ids, approve=True, dry_run=dry_run)


@click.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@MODE_OPTION
@pass_config
def reject(config: Config, ids: tuple[int, ...], dry_run: bool) -> None:
    """Reject queued candidates: they are never amplified."""
    _decide_all(config, ids, approve=False, dry_run=dry_run)


@click.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@MODE_OPTION
@pass_config
def unamplify(config: Config, ids: tuple[int, ...], dry_run: bool) -> None:
    """Undo the bot's repost, like or quote of candidates (or withdraw a planned one)."""
    from bot.amplify.decisions import DecisionError
    from bot.amplify.decisions import unamplify as undo_candidate
    from bot.platforms.base import PlatformError

    failed = False
    undo = _Undo(config)
    with _store(config) as store:
        for candidate_id in ids:
            try:
                done = undo_candidate(store, _mode(dry_run), candidate_id, undo, datetime.now(UTC))
            except (DecisionError, PlatformError) as exc:
                click.echo(f"kindling unamplify: {exc}", err=True)
                failed = True
            else:
                click.echo(done)
    if failed:
        sys.exit(1)


class _Undo:
    """Undoes a sent amplification on its platform; each platform's adapter is made once."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.platforms: dict[str, Any] = {}

    def __call__(self, row: Any) -> None:
        from bot.amplify.decisions import DecisionError
        from bot.platforms.base import Amplifier, Subject
        from bot.platforms.factory import make_platform

        if row.mode == "dry-run":
            return  # nothing was sent
        platform = self.platforms.get(row.platform)
        if platform is None:
            platform = make_platform(row.platform, self.config, dry_run=False)
            self.platforms[row.platform] = platform
        if not isinstance(platform, Amplifier):
            raise DecisionError(f"{row.platform} is not configured: cannot undo there")
        subject = Subject(row.subject_id or "", row.subject_cid, row.subject_url or "")
        platform.unamplify(row.action, row.remote_id or "", subject)


def _decide_all(config: Config, ids: tuple[int, ...], *, approve: bool, dry_run: bool) -> None:
    from bot.amplify.decisions import DecisionError, decide

    verb = "approve" if approve else "reject"
    mode = _mode(dry_run)
    failed = False
    with _store(config) as store:
        decided = []
        for candidate_id in ids:
            try:
                decided.append(decide(store, mode, candidate_id, approve, datetime.now(UTC)))
            except DecisionError as exc:
                click.echo(f"kindling {verb}: {exc}", err=True)
                failed = True
        if approve and decided:
            pairs = {(c.campaign_id, c.platform) for c in decided}
            failed = not _plan_approved(config, store, mode, pairs) or failed
        for candidate in decided:
            done = "approved" if approve else "rejected"
            click.echo(f"{done} candidate {candidate.id} ({candidate.url})")
    if failed:
        sys.exit(1)


def _plan_approved(config: Config, store: Store, mode: str, pairs: set[tuple[str, str]]) -> bool:
    """Plan the approved candidates of each (campaign, platform); False if a campaign is not
    loaded (its candidates stay approved, unplanned)."""
    from bot.amplify.planning import plan_approved
    from bot.amplify.runner import quote_writer

    campaigns = {active.id: active for active in _registry(config).campaigns()}
    planned_all = True
    for campaign_id, platform in sorted(pairs):
        active = campaigns.get(campaign_id)
        if active is None:
            click.echo(f"campaign '{campaign_id}' is not loaded: approved, not planned", err=True)
            planned_all = False
            continue
        writer = quote_writer(active)
        plan_approved(store, mode, active.loaded.campaign, platform, datetime.now(UTC), writer)
    return planned_all


@contextmanager
def _store(config: Config) -> Iterator[Store]:
    """The store, refused (a StoreError, said by bot/cli/main.py) unless at the latest revision."""
    from bot.store.engine import Store

    store = Store(config.database)
    try:
        store.require_migrated()
        yield store
    finally:
        store.dispose()


def _registry(config: Config) -> CampaignRegistry:
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
