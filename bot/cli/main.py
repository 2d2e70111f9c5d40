"""The `kindling` command line. Thin: it wires parts together and prints; it holds no logic."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot import __version__
from bot.cli.amplify import register as register_amplify_commands
from bot.cli.common import campaign_path_or_exit
from bot.cli.daemon import register as register_daemon_commands
from bot.cli.db import register as register_db_commands
from bot.cli.engagement import register as register_engagement_commands
from bot.cli.links import register as register_link_commands
from bot.cli.report import register as register_report_commands
from bot.cli.web import register as register_web_commands
from bot.config import Config, load_config
from bot.problems import ProblemsFound

if TYPE_CHECKING:
    from rich.console import Console

# Commands import their heavy parts (twitter-text, the store, the scheduler, the web server)
# inside themselves, so each command starts with only what it needs; rich too (JSON output
# never needs it).
COUNT_PLATFORMS = ("x", "bluesky", "mastodon")


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def _fail(problems: list) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)
    sys.exit(1)


def _config_path(given: str | None) -> Path | None:
    if given:
        return Path(given)
    from_env = os.environ.get("KINDLING_CONFIG")
    if from_env:
        return Path(from_env)
    default = Path("config.toml")
    return default if default.is_file() else None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Settings file (default: ./config.toml, or $KINDLING_CONFIG).",
)
@click.version_option(__version__, prog_name="kindling")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Kindling: campaign posts on X and Bluesky, pre-filled messages to politicians, engagement."""
    ctx.obj = _config_path(config_path)


def _load(ctx: click.Context) -> Config:
    try:
        return load_config(ctx.obj)
    except ProblemsFound as found:
        _fail(found.problems)
        raise  # unreachable: _fail exits


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def check(ctx: click.Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Check config, campaigns, templates and every rendering against platform limits.

    PATHS are campaign files or directories (default: the campaigns directory).
    Exit status 1 if anything is wrong; every problem is printed as file:line:col: message.
    """
    try:
        config = load_config(ctx.obj)
    except ProblemsFound as found:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "ok": False,
                        "problems": [p.as_dict() for p in found.problems],
                        "campaigns": [],
                    },
                    indent=2,
                )
            )
            sys.exit(1)
        _fail(found.problems)
    from bot.checks.run import run_check

    report = run_check(config, list(paths))
    problems = report.all_problems
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "problems": [p.as_dict() for p in problems],
                    "campaigns": [c.summary() for c in report.campaigns],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        sys.exit(0 if report.ok else 1)
    for problem in problems:
        click.echo(str(problem))
    out = _console()
    for campaign in report.campaigns:
        summary = campaign.summary()
        if summary["ok"]:
            out.print(
                f"[green]ok[/green] {campaign.file}: campaign '{summary['id']}', "
                f"{summary['messages']} messages, {summary['asks']} asks, {summary['targets']} targets, "
                f"{summary['renderings']} renderings within their limits"
            )
        gaps = summary["gaps"]
        if gaps and summary["ok"]:
            missing = ", ".join(f"{g['target']} ({g['platform']})" for g in gaps)  # type: ignore[index]
            out.print(f"  note: no handle, so no ask link, for: {missing}")
        for note in campaign.notes:
            click.echo(f"{note.file}:{note.line}:{note.col}: note: {note.message}")
    if problems:
        click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found")
        sys.exit(1)


@main.command()
@click.argument("campaign")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of every rendering.")
@click.option("--kind", type=click.Choice(["post", "ask"]), help="Only posts or only asks.")
@click.option("--platform", help="Only this platform (x, bluesky, mastodon, threads, email).")
@click.option("--language", help="Only this language (e.g. cy).")
@click.pass_context
def preview(
    ctx: click.Context,
    campaign: str,
    as_json: bool,
    kind: str | None,
    platform: str | None,
    language: str | None,
) -> None:
    """Show every post and ask of CAMPAIGN (a file or an id) as each platform counts it."""
    config = _load(ctx)
    path = campaign_path_or_exit(config, campaign)
    from bot.checks.run import check_one
    from bot.compose.templates import Templates

    templates = Templates(config.templates_dir, config.settings.limits)
    report = check_one(path, templates, config.settings.general.timezone)
    if report.loaded is None or any(not _is_length_problem(p.message) for p in report.problems):
        _fail(report.problems)
    rows = [
        r
        for r in report.renderings
        if (kind is None or r.kind == kind)
        and (platform is None or r.platform == platform)
        and (language is None or r.language == language)
    ]
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False))
    else:
        from rich.table import Table

        table = Table(title=f"{report.file}: {len(rows)} renderings", show_lines=True)
        for column in ("kind", "id", "lang", "platform", "for", "length", "text"):
            table.add_column(column, overflow="fold")
        for r in rows:
            length = f"{r.count.length}/{r.count.limit}" if r.count.limit else str(r.count.length)
            style = "" if r.ok else "bold red"
            who = r.target or (f"quote {r.quote}" if r.quote else "")
            if r.wording:
                who = f"{who} (wording {r.wording})"
            table.add_row(
                r.kind,
                r.id,
                r.language,
                r.platform,
                who,
                f"[{style}]{length}[/]" if style else length,
                r.text,
            )
        _console().print(table)
    if report.problems:
        for problem in report.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)


def _is_length_problem(message: str) -> bool:
    return "is too long:" in message


@main.command()
@click.argument("texts", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print [{text, x, bluesky, mastodon}, ...].")
def count(texts: tuple[str, ...], as_json: bool) -> None:
    """Count each TEXT the way X, Bluesky and Mastodon count it ('-' reads standard input)."""
    from bot.compose.lengths import count as count_length

    values = [sys.stdin.read() if text == "-" else text for text in texts]
    results = []
    for text in values:
        row: dict[str, object] = {"text": text}
        for platform in COUNT_PLATFORMS:
            row[platform] = count_length(platform, text).length
        results.append(row)
    if as_json:
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
    _console().print(table)


register_daemon_commands(main, _load, _console)
register_link_commands(main, _load)
register_web_commands(main, _load, _fail)
register_db_commands(main, _load)
register_report_commands(main, _load)
register_engagement_commands(main, _load)
register_amplify_commands(main, _load)
