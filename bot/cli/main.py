"""The `kindling` command line. Thin: it wires parts together and prints; it holds no logic.

Each command group is a module of bot/cli/ (campaigns: check, preview, count; daemon: run,
simulate, post, status; links; report; amplify; engagement; responses; db; alerts; systemd; cards;
web: serve); `main` gathers them. A database Kindling cannot use (bot.store.errors.StoreError) is
said here, for every
command: one line on stderr, exit status 1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from bot import __version__
from bot.cli import (
    alerts,
    amplify,
    campaigns,
    cards,
    daemon,
    db,
    doctor,
    engagement,
    links,
    login,
    report,
    responses,
    service,
)
from bot.cli.common import fail, load_settings
from bot.cli.web import register as register_web_commands
from bot.store.errors import StoreError


class KindlingGroup(click.Group):
    """The top-level group: every command runs inside `invoke`, so a StoreError raised anywhere
    below it is caught once, here."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StoreError as exc:
            click.echo(str(exc), err=True)
            ctx.exit(1)


def _config_path(given: str | None) -> Path | None:
    if given:
        return Path(given)
    from_env = os.environ.get("KINDLING_CONFIG")
    if from_env:
        return Path(from_env)
    default = Path("config.toml")
    return default if default.is_file() else None


@click.group(cls=KindlingGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


COMMANDS: tuple[click.Command, ...] = (
    campaigns.check,
    campaigns.preview,
    campaigns.count,
    cards.cards,
    daemon.run,
    daemon.simulate,
    daemon.post,
    daemon.status,
    service.systemd,
    links.links,
    links.targets,
    db.db,
    report.report,
    engagement.engagement,
    responses.responses,
    amplify.amplify,
    amplify.queue,
    amplify.approve,
    amplify.reject,
    amplify.unamplify,
    alerts.alerts,
    doctor.doctor,
    login.login,
)
for command in COMMANDS:
    main.add_command(command)
# `kindling serve` (bot/cli/web.py) still registers itself with these two helpers.
register_web_commands(main, load_settings, fail)
