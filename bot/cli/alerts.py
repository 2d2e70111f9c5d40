"""`kindling alerts test`: send one test alert through every configured channel, now, so that an
organiser knows the SMTP settings and the webhook work before anything goes wrong."""

from __future__ import annotations

import click

from bot.cli.common import fail, pass_config
from bot.config import Config


@click.group()
def alerts() -> None:
    """Alerts by email and webhook ([alerts] in config.toml)."""


@alerts.command()
@pass_config
def test(config: Config) -> None:
    """Send a test alert through each configured channel and say how each went.

    Exit status 1 if no channel is configured or any of them failed.
    """
    from bot.alerts.channels import ChannelFailed, channels_for
    from bot.alerts.messages import test_alert

    channels = channels_for(config)
    if not channels:
        fail(["no alert channel is configured: set [alerts.email] host or [alerts.webhook] url"])
    failed = False
    for channel in channels:
        try:
            channel.send(test_alert())
        except ChannelFailed as exc:
            click.echo(f"{channel.name}: FAILED: {exc}", err=True)
            failed = True
        else:
            click.echo(f"{channel.name}: sent")
    if failed:
        raise SystemExit(1)
