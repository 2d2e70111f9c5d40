"""`kindling report CAMPAIGN`: engagement, clicks and responses. Thin wiring (bot/report/collect.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import click

from bot.config import Config


def _date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected a date like 2026-12-01") from None


def register(main: click.Group, load: Callable[[click.Context], Config]) -> None:
    @main.command()
    @click.argument("campaign")
    @click.option("--since", metavar="DATE", callback=_date, help="From this day (YYYY-MM-DD).")
    @click.option(
        "--until", metavar="DATE", callback=_date, help="To this day, included (YYYY-MM-DD)."
    )
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
    @click.pass_context
    def report(
        ctx: click.Context,
        campaign: str,
        since: date | None,
        until: date | None,
        as_json: bool,
        csv_dir: Path | None,
        html_file: Path | None,
    ) -> None:
        """What moved: top messages and quotes, clicks, and which targets answered.

        Dates are days in the campaign's time zone; --until includes that whole day.
        """
        from bot.campaign.loader import load_campaign
        from bot.cli.common import campaign_path_or_exit
        from bot.report.collect import collect
        from bot.report.output import render_terminal, to_json, write_csv
        from bot.store.engine import Store
        from bot.store.revision import DatabaseNotReady

        if since and until and until < since:
            raise click.BadParameter("--until is before --since", param_hint="--until")
        config = load(ctx)
        # The campaign's structure (targets, constituencies, languages) is all a report needs:
        # no rendering and counting of every post and ask, which `check` does.
        loaded, problems = load_campaign(
            campaign_path_or_exit(config, campaign),
            default_timezone=config.settings.general.timezone,
            # Parsing the YAML is a tenth of a report's second; reports are run again and
            # again on an unchanged campaign file.
            yaml_cache=config.data_dir / "cache" / "campaign-yaml",
        )
        if loaded is None or problems:
            for problem in problems:
                click.echo(str(problem), err=True)
            sys.exit(1)
        store = Store(config.database)
        try:
            store.require_migrated(create_new_sqlite=False)
            result = collect(store, loaded.campaign, since, until, series=html_file is not None)
        except DatabaseNotReady as exc:
            click.echo(f"kindling report: {exc}", err=True)
            sys.exit(1)
        finally:
            store.dispose()
        if csv_dir is not None:
            for path in write_csv(result, csv_dir):
                click.echo(f"wrote {path}", err=True)
        if html_file is not None:
            from bot.report.html import render_html

            html_file.parent.mkdir(parents=True, exist_ok=True)
            html_file.write_text(render_html(result, loaded.campaign), encoding="utf-8")
            click.echo(f"wrote {html_file}", err=True)
        if as_json:
            click.echo(to_json(result))
        elif csv_dir is None and html_file is None:
            from rich.console import Console  # only the terminal form draws with rich

            render_terminal(result, Console(soft_wrap=True, highlight=False))
