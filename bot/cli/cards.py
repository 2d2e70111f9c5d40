"""`kindling cards`: the quote cards of a campaign, written for review. Thin wiring."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import campaign_path_or_exit, fail, pass_config
from bot.config import Config, own_post_limits


@click.command()
@click.argument("campaign")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder to write the cards (PNG) and their contact sheet (index.html) to.",
)
@pass_config
def cards(config: Config, campaign: str, out: Path) -> None:
    """Every quote card of CAMPAIGN, in each language and both sizes, and an HTML contact sheet.

    Nothing is written (exit status 1) unless the campaign passes `kindling check`.
    """
    from bot.cards.sheet import SHEET_NAME, write_cards
    from bot.checks.run import check_one, image_cache
    from bot.compose.templates import Templates

    path = campaign_path_or_exit(config, campaign)
    templates = Templates(config.templates_dir, config.settings.limits)
    report = check_one(
        path,
        templates,
        config.settings.general.timezone,
        own_post_limits(config.settings),
        image_cache(config),
    )
    if report.problems or report.loaded is None:
        fail(report.problems)
    written = write_cards(report.loaded, out, image_cache(config) / "cards")
    click.echo(f"{len(written)} cards written to {out}; contact sheet: {out / SHEET_NAME}")
