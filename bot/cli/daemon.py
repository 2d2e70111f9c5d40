"""The daemon's commands: run, simulate, post, status. Thin wiring; logic lives elsewhere."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from bot.cli.common import campaign_path_or_exit, console, fail, pass_config
from bot.config import Config
from bot.problems import ProblemsFound

if TYPE_CHECKING:
    from bot.campaign.model import Campaign
    from bot.checks.registry import ActiveCampaign
    from bot.clock import Clock
    from bot.publish.timeline import TimelineEntry

# The store, scheduler and adapters are imported inside the commands that use them, so that
# `check`, `preview` and `count` start without them (and `run` on a current database without
# Alembic).

_DURATION = re.compile(r"\+?(\d+(?:\.\d+)?)\s*(s|m|h|d)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_moment(value: str, zone: ZoneInfo, relative_to: datetime) -> datetime:
    """'+90s', '+2h', '2026-12-01T09:00' (local to `zone` unless it carries an offset)."""
    match = _DURATION.fullmatch(value.strip())
    if match:
        return relative_to + timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: expected a date/time like 2026-12-01T09:00 or a duration like +90s"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _active_campaign(config: Config, reference: str) -> ActiveCampaign:
    from bot.checks.registry import CampaignRegistry

    path = campaign_path_or_exit(config, reference)
    registry = CampaignRegistry(config, only=[path])
    problems = registry.load()
    if problems:
        fail(problems)
    return registry.campaigns()[0]


@click.command()
@click.option(
    "--dry-run",
    is_flag=True,
    help="Record what would be posted; send nothing (no credentials needed).",
)
@click.option(
    "--from",
    "start",
    metavar="WHEN",
    help="Start the clock at this time (local, e.g. 2026-12-01T09:00).",
)
@click.option(
    "--speed",
    type=float,
    default=1.0,
    show_default=True,
    help="Run the clock this many times faster (dry runs only).",
)
@click.option(
    "--until",
    metavar="WHEN",
    help="Stop at this time, or after a duration like +2h (clock time).",
)
@click.option(
    "--campaign",
    "campaigns",
    multiple=True,
    metavar="ID",
    help="Post only this campaign (an id or a file; repeatable). Default: every campaign.",
)
@pass_config
def run(
    config: Config,
    dry_run: bool,
    start: str | None,
    speed: float,
    until: str | None,
    campaigns: tuple[str, ...],
) -> None:
    """Run the daemon: post the messages of every campaign in the campaigns folder (or of those
    given with --campaign) on schedule, exactly once. It starts by listing each campaign, its
    platforms and its next post."""
    from bot import logs
    from bot.daemon.leader import LeaderLockHeld
    from bot.daemon.scheduler import Daemon

    dry_run = dry_run or config.settings.general.dry_run
    if (speed != 1.0 or start) and not dry_run:
        raise click.UsageError("--speed and --from change the clock: use them with --dry-run only")
    zone = ZoneInfo(config.settings.general.timezone)
    clock = _clock(zone, start, speed)
    stop_at = parse_moment(until, zone, clock.now()) if until else None
    only = [campaign_path_or_exit(config, reference) for reference in campaigns] or None
    logs.configure(config.settings.logging)
    # An accelerated clock must replan (and reconcile) as often in clock time as a real one.
    daemon = Daemon(
        config,
        dry_run=dry_run,
        clock=clock,
        plan_every=timedelta(minutes=10) / max(speed, 1.0) + timedelta(seconds=1),
        only=only,
    )
    try:
        daemon.run(until=stop_at)
    except LeaderLockHeld as exc:
        click.echo(f"kindling run: {exc}", err=True)
        sys.exit(1)
    except ProblemsFound as found:
        for problem in found.problems:
            click.echo(str(problem), err=True)
        fail(["kindling run: not started: fix the problems above (kindling check)"])


def _clock(zone: ZoneInfo, start: str | None, speed: float) -> Clock:
    """The real clock, or (dry runs) one that starts at `start` and runs `speed` times faster."""
    from bot.clock import AcceleratedClock, SystemClock

    if not start and speed == 1.0:
        return SystemClock()
    origin = parse_moment(start, zone, datetime.now(UTC)) if start else datetime.now(UTC)
    return AcceleratedClock(origin, speed, held=True)


@click.command()
@click.argument("campaign")
@click.option(
    "--from",
    "start",
    metavar="WHEN",
    help="First day (local), default: now or the campaign's start.",
)
@click.option("--days", type=int, default=7, show_default=True, help="How many days to simulate.")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
@pass_config
def simulate(config: Config, campaign: str, start: str | None, days: int, as_json: bool) -> None:
    """The exact timeline the daemon would follow for CAMPAIGN, with the X spend forecast."""
    from bot.amplify.forecast import amplification_forecast, describe
    from bot.cli.costs import costs_json, posts_run_out, print_costs
    from bot.daemon.x_costs import forecast as forecast_costs
    from bot.daemon.x_costs import planned_charges
    from bot.engagement.forecast import describe as describe_listening
    from bot.engagement.forecast import listening_forecast
    from bot.publish.timeline import simulate as simulate_timeline

    active = _active_campaign(config, campaign)
    model = active.loaded.campaign
    zone = ZoneInfo(model.timezone)
    first = max(datetime.now(UTC), model.active.start_local().replace(tzinfo=zone).astimezone(UTC))
    begin = parse_moment(start, zone, datetime.now(UTC)) if start else first
    end = begin + timedelta(days=days)
    entries = simulate_timeline(active, begin, end, config.settings)
    total = sum(e.cost_usd for e in entries if e.status == "post")
    forecast = amplification_forecast(model, config.settings, days)
    listening = listening_forecast(model, config.settings, days, start=begin)
    charges = planned_charges(entries, config.settings)
    costs = forecast_costs(config.settings, [model], charges, begin, end)
    budget = config.settings.x.monthly_budget_usd
    if model.x_budget_usd is not None:  # the campaign's own, when lower, stops it first
        budget = min(budget, model.x_budget_usd)
    if as_json:
        timeline = _timeline_json(model, begin, days, total, forecast, entries)
        _name_cards(active, timeline["posts"], entries)
        if listening is not None:  # only when a campaign listens on X: no key otherwise
            timeline["listening"] = listening
        timeline["x_costs"] = costs_json(costs, budget, posts_run_out(entries))
        click.echo(json.dumps(timeline, indent=2, ensure_ascii=False))
        return
    _print_timeline(active, begin, days, entries)
    stopped = sum(e.status != "post" for e in entries)
    click.echo(
        f"X spend forecast, posts: ${total:.2f} (monthly budget ${budget:.2f})"
        + (f"; {stopped} X post(s) would be stopped by the budget" if stopped else "")
    )
    if forecast is not None:
        click.echo(describe(forecast, days))
    if listening is not None:
        click.echo(describe_listening(listening, days))
    adaptive = config.settings.engagement.metrics_cadence_mode == "adaptive"
    print_costs(
        costs,
        budget,
        config.settings.x.prices.read,
        console(),
        posts_run_out(entries),
        adaptive=adaptive,
    )


def _timeline_json(
    model: Campaign,
    begin: datetime,
    days: int,
    total: float,
    forecast: dict[str, Any] | None,
    entries: list[TimelineEntry],
) -> dict[str, Any]:
    return {
        "campaign": model.id,
        "from": begin.isoformat(),
        "days": days,
        "x_spend_usd": round(total, 4),
        "amplification": forecast,
        "posts": [
            {
                "due": e.post.slot.due.isoformat(),
                "local": e.post.slot.local.isoformat(),
                "message": e.post.slot.message_id,
                "language": e.post.slot.language,
                "platform": e.post.slot.platform,
                "quote": e.post.slot.quote_id,
                "text": e.post.text,
                "thread": list(e.post.thread),
                "cost_usd": e.cost_usd,
                "x_spent_usd": round(e.spent_usd, 4),
                "status": e.status,
            }
            for e in entries
        ],
    }


def _name_cards(
    active: ActiveCampaign, posts: list[dict[str, Any]], entries: list[TimelineEntry]
) -> None:
    """A post with a quote card gains `card`: its file as `kindling cards --out` names it."""
    from bot.publish.timeline import slot_card

    for shown, entry in zip(posts, entries, strict=True):
        card = slot_card(active, entry.post.slot)
        if card is not None:
            shown["card"] = card.file_name


def _print_timeline(
    active: ActiveCampaign, begin: datetime, days: int, entries: list[TimelineEntry]
) -> None:
    from rich.table import Table

    from bot.publish.timeline import slot_card

    model = active.loaded.campaign

    table = Table(
        title=f"{model.id}: {len(entries)} posts from {begin:%Y-%m-%d %H:%M} UTC, {days} days"
    )
    for column in ("when (local)", "platform", "lang", "message", "quote", "X $", "text"):
        table.add_column(column, overflow="fold")
    for e in entries:
        slot = e.post.slot
        cost = f"{e.cost_usd:.3f}" if e.cost_usd else ""
        if e.status != "post":
            cost = f"[red]{e.status}[/]"
        card = slot_card(active, slot)
        text = e.post.text.replace("\n", " ⏎ ")
        table.add_row(
            f"{slot.local:%a %d %b %H:%M}",
            slot.platform,
            slot.language,
            slot.message_id,
            slot.quote_id or "",
            cost,
            text if card is None else f"{text} (card: {card.file_name})",
        )
    console().print(table)


@click.command()
@click.argument("campaign")
@click.argument("message")
@click.option("--platform", "platforms", multiple=True, help="Only this platform (repeatable).")
@click.option("--language", "languages", multiple=True, help="Only this language (repeatable).")
@click.option("--dry-run", is_flag=True, help="Go through the outbox without sending.")
@pass_config
def post(
    config: Config,
    campaign: str,
    message: str,
    platforms: tuple[str, ...],
    languages: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Post MESSAGE of CAMPAIGN now, through the same exactly-once outbox."""
    from bot.publish.post_now import post_now
    from bot.publish.states import OutboxState

    active = _active_campaign(config, campaign)
    try:
        outcomes = post_now(config, active, message, list(platforms), list(languages), dry_run)
    except ValueError as exc:
        fail([f"kindling post: {exc}"])
    failed = False
    for slot, outcome in outcomes:
        click.echo(
            f"{slot.platform} {slot.language}: {outcome.state}"
            + (f" ({outcome.reason})" if outcome.reason else "")
        )
        failed = failed or outcome.state != OutboxState.SENT
    sys.exit(1 if failed else 0)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option(
    "--dry-run", is_flag=True, help="Show the dry runs' outbox and accounts instead of the live."
)
@pass_config
def status(config: Config, as_json: bool, dry_run: bool) -> None:
    """Whether the daemon runs, next due posts, recent posts and failures, budgets used, each
    platform's auth state. Exit status 0 while a daemon runs, 3 when none does (monitoring)."""
    from bot.daemon.liveness import NOT_RUNNING, RUNNING
    from bot.daemon.status import collect_status, print_status

    report = collect_status(config, datetime.now(UTC), "dry-run" if dry_run else "live")
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    else:
        print_status(report, console())
    sys.exit(RUNNING if report["daemon"]["running"] else NOT_RUNNING)
