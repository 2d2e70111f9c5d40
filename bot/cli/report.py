"""`kindling report CAMPAIGN`: engagement, clicks and responses. Thin wiring (bot/report/)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.common import campaign_path_or_exit, console, fail, pass_config
from bot.config import Config

if TYPE_CHECKING:
    from bot.campaign.model import Campaign
    from bot.report.model import Report
    from bot.store.engine import Store


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    """A YYYY-MM-DD day; --until must not be before --since (whichever is parsed second says so)."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected a date like 2026-12-01") from None
    since = day if param.name == "since" else ctx.params.get("since")
    until = day if param.name == "until" else ctx.params.get("until")
    if since and until and until < since:
        raise click.BadParameter("--until is before --since", param_hint="--until")
    return day


@click.command()
@click.argument("campaign")
@click.option("--since", metavar="DATE", callback=_date, help="From this day (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", callback=_date, help="To this day, included (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--csv",
    "csv_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one CSV file per table into this directory.",
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained HTML report (charts included) to this file.",
)
@click.option(
    "--email",
    "by_email",
    is_flag=True,
    help="Send the report by email (SMTP of [alerts.email], to [report] email_to or the alert "
    "recipients): tables, charts as images, the HTML report attached.",
)
@pass_config
def report(
    config: Config,
    campaign: str,
    since: date | None,
    until: date | None,
    as_json: bool,
    csv_dir: Path | None,
    html_file: Path | None,
    by_email: bool,
) -> None:
    """What moved: top messages and quotes, clicks, and which targets answered.

    Dates are days in the campaign's time zone; --until includes that whole day.
    """
    from bot.report.collect import collect
    from bot.store.engine import Store

    model = _campaign(config, campaign)
    store = Store(config.database)
    try:
        store.require_migrated(create_new_sqlite=False)
        if by_email:
            _email(config, store, model, since, until)
            if not (as_json or csv_dir or html_file):
                return
        result = collect(store, model, since, until, series=html_file is not None)
    finally:
        store.dispose()
    _write(result, model, as_json, csv_dir, html_file)


def _email(
    config: Config, store: Store, model: Campaign, since: date | None, until: date | None
) -> None:
    from bot.alerts.channels import ChannelFailed
    from bot.daemon.weekly import NoMailServer, email_report

    try:
        to = email_report(config, store, model, since, until)
    except (NoMailServer, ChannelFailed) as exc:
        raise click.ClickException(f"report not sent: {exc}") from None
    click.echo(f"sent the report of '{model.id}' to {', '.join(to)}", err=True)


def _campaign(config: Config, reference: str) -> Campaign:
    """The campaign's structure (targets, constituencies, languages) is all a report needs:
    no rendering and counting of every post and ask, which `check` does."""
    from bot.campaign.loader import load_campaign

    loaded, problems = load_campaign(
        campaign_path_or_exit(config, reference),
        default_timezone=config.settings.general.timezone,
        # Parsing the YAML is a tenth of a report's second; reports are run again and
        # again on an unchanged campaign file.
        yaml_cache=config.data_dir / "cache" / "campaign-yaml",
    )
    if loaded is None or problems:
        fail(problems)
    return loaded.campaign


def _write(
    result: Report, model: Campaign, as_json: bool, csv_dir: Path | None, html_file: Path | None
) -> None:
    from bot.report.output import render_terminal, to_json, write_csv

    if csv_dir is not None:
        for path in write_csv(result, csv_dir):
            click.echo(f"wrote {path}", err=True)
    if html_file is not None:
        from bot.report.html import render_html

        html_file.parent.mkdir(parents=True, exist_ok=True)
        html_file.write_text(render_html(result, model), encoding="utf-8")
        click.echo(f"wrote {html_file}", err=True)
    if as_json:
        click.echo(to_json(result))
    elif csv_dir is None and html_file is None:
        render_terminal(result, console())  # only the terminal form draws with rich
