"""The commands that read campaign files and write nothing: check, preview, count."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

import click

from bot.cli.common import campaign_path_or_exit, console, fail, pass_config
from bot.config import Config, load_config, own_post_limits
from bot.problems import ProblemsFound

if TYPE_CHECKING:
    from bot.campaign.loader import LoadedCampaign
    from bot.checks.run import CampaignReport, CheckReport
    from bot.compose.renderings import Rendering
    from bot.platforms.lookup import HandleLookup, Lookup
    from bot.publish.budget import Budget
    from bot.publish.x_handles import XAnswers
    from bot.store.engine import Store

# Commands import their heavy parts (twitter-text, the checks, rich) inside themselves, so each
# command starts with only what it needs.
COUNT_PLATFORMS = ("x", "bluesky", "mastodon")


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--online",
    is_flag=True,
    help="Also look up every Bluesky handle and Mastodon address (read-only, free; not X).",
)
@click.option(
    "--x",
    "with_x",
    is_flag=True,
    help="With --online, also look up the X handles: X bills each account found "
    "([x.prices] user_read), charged to the month's X budget; the cost is shown first.",
)
@click.option(
    "--now",
    "as_of",
    metavar="WHEN",
    help="Note the 'at' posts already past as of this time (default: now), e.g. 2026-12-01T09:00.",
)
@click.pass_context
def check(
    ctx: click.Context,
    paths: tuple[Path, ...],
    as_json: bool,
    online: bool,
    with_x: bool,
    as_of: str | None,
) -> None:
    """Check config, campaigns, templates and every rendering against platform limits.

    PATHS are campaign files or directories (default: the campaigns directory).
    Exit status 1 if anything is wrong; every problem is printed as file:line:col: message.
    Notes (not errors) follow, e.g. an 'at' post already past or less than a minute away.
    """
    try:
        config = load_config(ctx.obj)
    except ProblemsFound as found:
        if not as_json:
            fail(found.problems)
        # --json promises JSON on stdout, even about the settings file.
        problems = [p.as_dict() for p in found.problems]
        click.echo(json.dumps({"ok": False, "problems": problems, "campaigns": []}, indent=2))
        sys.exit(1)
    if with_x and not online:
        raise click.UsageError("--x looks up X handles with --online: use both")
    from bot.checks.run import run_check
    from bot.cli.daemon import parse_moment

    zone = ZoneInfo(config.settings.general.timezone)
    now = datetime.now(UTC)
    report = run_check(config, list(paths), parse_moment(as_of, zone, now) if as_of else now)
    if online:
        _look_up_handles(config, report, with_x, as_json)
    if as_json:
        _print_check_json(report)
        sys.exit(0 if report.ok else 1)
    _print_check_text(report)


def _look_up_handles(config: Config, report: CheckReport, with_x: bool, as_json: bool) -> None:
    """`check --online`: handles no account has become problems, failed lookups notes."""
    from bot.checks.online import FREE, check_online
    from bot.platforms.lookup import HandleLookup
    from bot.publish.x_handles import XAnswers

    loaded = [c.loaded for c in report.campaigns if c.loaded is not None]
    x_answers = _x_answers(config, loaded, as_json) if with_x else XAnswers()
    networks = (*FREE, "x") if with_x else FREE
    settings = config.settings
    with HandleLookup(
        settings.bluesky.service_url,
        settings.check.webfinger_url,
        settings.check.timeout_seconds,
    ) as lookup:
        resolver = _Resolvers(lookup, x_answers)
        for campaign in report.campaigns:
            if campaign.loaded is not None:
                found = check_online(campaign.loaded, resolver, networks)
                campaign.problems = sorted(campaign.problems + found.problems)
                campaign.notes += found.notes


class _Resolvers:
    """X's answers from the batched, charged lookups; the free networks' asked one by one."""

    def __init__(self, free: HandleLookup, x: XAnswers) -> None:
        self.free, self.x = free, x

    def look_up(self, platform: str, handle: str) -> Lookup:
        return (self.x if platform == "x" else self.free).look_up(platform, handle)


def _x_answers(config: Config, loaded: list[LoadedCampaign], as_json: bool) -> XAnswers:
    """`check --online --x`: the cost said first; refused (exit 1, nothing read) when the
    month's X budget cannot pay it; else looked up in batches and charged."""
    from bot.checks.online import handles_of
    from bot.cli.common import with_env_file
    from bot.platforms.base import PlatformError
    from bot.platforms.x import from_config
    from bot.publish import x_handles
    from bot.store.engine import Store

    prices = config.settings.x.prices
    lookup = x_handles.plan([h for each in loaded for h in handles_of(each, "x")], prices)
    click.echo(lookup.line(prices), err=as_json)
    if not lookup.handles:
        return x_handles.XAnswers()
    config = with_env_file(config)
    try:
        directory = from_config(config)
    except PlatformError as exc:
        fail([f"kindling check --x: {exc}"])
    store = Store(config.database)
    try:
        store.require_migrated()
        now = datetime.now(UTC)
        why = x_handles.refusal(_x_budget(config, store, now), lookup, now)
        if why:
            fail([f"kindling check --x: X handles not looked up, nothing read: {why}"])
        answers = x_handles.look_up(directory, store, lookup, prices, now)
    finally:
        store.dispose()
    outcomes = [a.outcome for a in answers.answers.values()]
    line = f"X: {outcomes.count('found')} account(s) found, ${answers.usd:.3f} charged"
    if failed := outcomes.count("unknown"):
        line += f"; {failed} handle(s) not looked up: X failed (see the notes)"
    click.echo(line, err=as_json)
    return answers


def _x_budget(config: Config, store: Store, now: datetime) -> Budget:
    """The month's X budget with the planned posts reserved, as the daemon keeps it."""
    from bot.checks.registry import CampaignRegistry
    from bot.daemon.outlook import month_outlook
    from bot.daemon.x_costs import engagement_cycle
    from bot.publish.budget import Budget

    settings = config.settings
    budget = Budget(store, settings.x.monthly_budget_usd)
    registry = CampaignRegistry(config)
    registry.load()
    cycle = engagement_cycle(settings)
    budget.outlook = month_outlook(store, registry.campaigns(), settings, now, cycle)
    return budget


def _print_check_json(report: CheckReport) -> None:
    result = {
        "ok": report.ok,
        "problems": [p.as_dict() for p in report.all_problems],
        "campaigns": [c.summary() for c in report.campaigns],
    }
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))


def _print_check_text(report: CheckReport) -> None:
    problems = report.all_problems
    for problem in problems:
        click.echo(str(problem))
    out = console()
    for campaign in report.campaigns:
        summary = campaign.summary()
        if summary["ok"]:
            out.print(
                f"[green]ok[/green] {campaign.file}: campaign '{summary['id']}', "
                f"{summary['messages']} messages, {summary['asks']} asks, {summary['targets']} targets, "
                f"{summary['renderings']} renderings within their limits"
            )
        gaps = cast("list[dict[str, str]]", summary["gaps"])
        if gaps and summary["ok"]:
            missing = ", ".join(f"{g['target']} ({g['platform']})" for g in gaps)
            out.print(f"  note: no handle, so no ask link, for: {missing}")
        for note in campaign.notes:
            click.echo(f"{note.file}:{note.line}:{note.col}: note: {note.message}")
    if problems:
        click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found")
        sys.exit(1)


@click.command()
@click.argument("campaign")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of every rendering.")
@click.option("--kind", type=click.Choice(["post", "ask"]), help="Only posts or only asks.")
@click.option("--platform", help="Only this platform (x, bluesky, mastodon, threads, email).")
@click.option("--language", help="Only this language (e.g. cy).")
@pass_config
def preview(
    config: Config,
    campaign: str,
    as_json: bool,
    kind: str | None,
    platform: str | None,
    language: str | None,
) -> None:
    """Show every post and ask of CAMPAIGN (a file or an id) as each platform counts it."""
    path = campaign_path_or_exit(config, campaign)
    from bot.checks.run import check_one
    from bot.compose.templates import Templates

    templates = Templates(config.templates_dir, config.settings.limits)
    report = check_one(
        path, templates, config.settings.general.timezone, own_post_limits(config.settings)
    )
    # Texts over a platform's limit are shown (in red), then reported; any other problem means
    # there is nothing trustworthy to show.
    if report.loaded is None or any(not _is_length_problem(p.message) for p in report.problems):
        fail(report.problems)
    rows = [
        r
        for r in report.renderings
        if (kind is None or r.kind == kind)
        and (platform is None or r.platform == platform)
        and (language is None or r.language == language)
    ]
    if as_json:
        shown = [_with_card(report, r) for r in rows]
        click.echo(json.dumps(shown, indent=2, ensure_ascii=False))
    else:
        _print_preview_table(report, rows)
    if report.problems:
        fail(report.problems)


def card_name(report: CampaignReport, rendering: Rendering) -> str | None:
    """The quote card a post carries (`card:`), named as `kindling cards --out` names it."""
    assert report.loaded is not None
    messages = report.loaded.campaign.messages
    message = next((m for m in messages if m.id == rendering.id), None)
    if rendering.kind != "post" or message is None or not rendering.quote:
        return None
    if message.card_size is None:
        return None
    return f"{rendering.quote}.{rendering.language}.{message.card_size}.png"


def _with_card(report: CampaignReport, rendering: Rendering) -> dict[str, object]:
    """The rendering's JSON; a post with a quote card gains `card` (no key otherwise)."""
    shown = rendering.as_dict()
    card = card_name(report, rendering)
    if card is not None:
        shown["card"] = card
    return shown


def _is_length_problem(message: str) -> bool:
    return "is too long:" in message


def _print_preview_table(report: CampaignReport, rows: list[Rendering]) -> None:
    from rich.table import Table

    table = Table(title=f"{report.file}: {len(rows)} renderings", show_lines=True)
    for column in ("kind", "id", "lang", "platform", "for", "length", "text"):
        table.add_column(column, overflow="fold")
    for r in rows:
        length = f"{r.count.length}/{r.count.limit}" if r.count.limit else str(r.count.length)
        who = r.target or (f"quote {r.quote}" if r.quote else "")
        if r.wording:
            who = f"{who} (wording {r.wording})"
        shown = length if r.ok else f"[bold red]{length}[/]"
        card = card_name(report, r)
        text = r.text if card is None else f"{r.text}\n(card: {card})"
        table.add_row(r.kind, r.id, r.language, r.platform, who, shown, text)
    console().print(table)


@click.command()
@click.argument("texts", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print [{text, x, bluesky, mastodon}, ...].")
def count(texts: tuple[str, ...], as_json: bool) -> None:
    """Count each TEXT the way X, Bluesky and Mastodon count it ('-' reads standard input)."""
    from bot.compose.lengths import count as count_length

    values = [sys.stdin.read() if text == "-" else text for text in texts]
    if as_json:
        results = [
            {"text": text, **{p: count_length(p, text).length for p in COUNT_PLATFORMS}}
            for text in values
        ]
        click.echo(json.dumps(results, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(show_lines=True)
    table.add_column("text", overflow="fold")
    for platform in COUNT_PLATFORMS:
        table.add_column(platform, justify="right")
    for text in values:
        cells = []
        for platform in COUNT_PLATFORMS:
            counted = count_length(platform, text)
            cell = f"{counted.length}/{counted.limit}"
            cells.append(cell if counted.ok else f"[bold red]{cell}[/]")
        table.add_row(text, *cells)
    console().print(table)
