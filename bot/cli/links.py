"""The commands for pre-filled messages: links, targets import. Thin wiring."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.common import pass_config
from bot.config import Config


@click.command()
@click.argument("campaign")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "html"]),
    default="csv",
    show_default=True,
    help="csv or json: one row per link; html: one static page of direct links.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: standard output).",
)
@pass_config
def links(config: Config, campaign: str, fmt: str, out: Path | None) -> None:
    """Every pre-filled link of CAMPAIGN: each target, ask wording, platform and language.

    Nothing is exported (exit status 1) unless the campaign passes `kindling check`.
    """
    from bot.links.export import links_main

    sys.exit(links_main(config, campaign, fmt, out))


@click.group()
def targets() -> None:
    """Targets: import politicians' handles from public data."""


@targets.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["democracyclub", "everypolitician", "parlparse"]),
    required=True,
    help="democracyclub: candidates CSV; everypolitician: term CSV; "
    "parlparse: members/social-media-commons.xml.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the targets CSV here (default: standard output).",
)
@click.option(
    "--retrieved",
    metavar="DATE",
    help="When FILE was downloaded, YYYY-MM-DD (default: the file's date).",
)
@click.option("--licence", metavar="TEXT", help="The data's licence (default: the source's).")
@click.option(
    "--merge",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A targets CSV to join the imported people onto, by id.",
)
def targets_import(
    file: Path,
    fmt: str,
    out: Path | None,
    retrieved: str | None,
    licence: str | None,
    merge: Path | None,
) -> None:
    """Read FILE (public data on politicians) and write a targets CSV.

    People are joined on ids, never on names. Bad rows: exit status 1 and nothing written.
    """
    from bot.links.targets_import import import_main

    sys.exit(import_main(file, fmt, out, retrieved, licence, merge))
