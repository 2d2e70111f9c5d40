"""`kindling responses list CAMPAIGN` and `kindling responses dismiss ID`: the targets'
responses recorded so far (bot/engagement/recorded.py). Thin wiring."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

import click

from bot.cli.common import pass_config
from bot.config import Config
from bot.problems import excerpt

if TYPE_CHECKING:
    from bot.engagement.recorded import Recorded
    from bot.store.engine import Store


@click.group()
def responses() -> None:
    """Responses of targets to a campaign: on the bot's posts and on their own feeds."""


@responses.command("list")
@click.argument("campaign")
@click.option("--all", "everything", is_flag=True, help="Dismissed responses too.")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
@pass_config
def list_responses(config: Config, campaign: str, everything: bool, as_json: bool) -> None:
    """The campaign's recorded responses, oldest first, with their ids (for `dismiss`)."""
    from bot.cli.report import _campaign
    from bot.engagement.recorded import recorded

    model = _campaign(config, campaign)
    store = _store(config)
    try:
        rows = recorded(store, model.id, dismissed=everything)
    finally:
        store.dispose()
    if as_json:
        click.echo(json.dumps([asdict(row) for row in rows], indent=2, ensure_ascii=False))
        return
    _print_lines(rows)


def _print_lines(rows: list[Recorded]) -> None:
    """Two lines a response (whole links: a terminal table would fold them): what and where,
    then its text on one line."""
    if not rows:
        click.echo("no responses recorded")
    for row in rows:
        dismissed = " (dismissed)" if row.dismissed else ""
        head = f"#{row.id} {row.at or '?'} {row.platform} {row.kind}{dismissed} "
        head += f"{row.target or '-'} @{excerpt(row.author)} {excerpt(row.url, 400)}"
        if row.answers:
            head += f" answering {excerpt(row.answers, 400)}"
        click.echo(head)
        # Text from the network: escaped, so it cannot move the cursor or recolour the terminal.
        click.echo("    " + excerpt(" ".join(row.text.split()), 200))


@responses.command()
@click.argument("response_id", metavar="ID", type=int)
@click.option("--undo", is_flag=True, help="Count it again.")
@pass_config
def dismiss(config: Config, response_id: int, undo: bool) -> None:
    """Mark response ID as not relevant: it stays recorded but leaves the report's counts."""
    from bot.engagement.recorded import dismiss as mark

    store = _store(config)
    try:
        before = mark(store, response_id, undo=undo)
    finally:
        store.dispose()
    if before is None:
        raise click.ClickException(f"no response with id {response_id} (see `responses list`)")
    was = "already " if before.dismissed != undo else ""
    state = "counted" if undo else "dismissed"
    click.echo(f"response {response_id} ({before.platform} {before.url}): {was}{state}")


def _store(config: Config) -> Store:
    from bot.store.engine import Store

    store = Store(config.database)
    try:
        store.require_migrated(create_new_sqlite=False)
    except BaseException:
        store.dispose()
        raise
    return store
