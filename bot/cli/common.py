"""Small helpers the command modules share."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.campaign.loader import find_campaign
from bot.config import Config


def campaign_path_or_exit(config: Config, reference: str) -> Path:
    """The campaign file for a path or an id, or a clear message and exit status 1."""
    path = find_campaign(reference, config.campaigns_dir)
    if path is None:
        click.echo(
            f"{reference}: no campaign file or campaign id '{reference}' in {config.campaigns_dir}",
            err=True,
        )
        sys.exit(1)
    return path
