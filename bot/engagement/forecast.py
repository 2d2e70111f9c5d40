"""What listening on X may cost, for `kindling simulate`: the reads are the targets' new posts
(unknown in advance), so the forecast is the most the daily allowance lets listening read."""

from __future__ import annotations

from typing import Any

from bot.campaign.model import Campaign
from bot.config import Settings


def listening_forecast(campaign: Campaign, settings: Settings, days: int) -> dict[str, Any] | None:
    """None unless the campaign listens on X to at least one target with an X handle."""
    listen = campaign.listen
    targets = sum(1 for target in campaign.targets if target.handles.x)
    if not (listen.enabled and listen.x and targets):
        return None
    reads = settings.engagement.listen_x_reads_per_day * days
    return {
        "x_targets": targets,
        "x_most_reads": reads,
        "x_most_usd": round(reads * settings.x.prices.read, 4),
    }


def describe(forecast: dict[str, Any], days: int) -> str:
    return (
        f"Listening on X to {forecast['x_targets']} target(s): at most "
        f"{forecast['x_most_reads']} X reads in {days} days, up to ${forecast['x_most_usd']:.2f} "
        "(the targets' new posts; [engagement] listen_x_reads_per_day, shared by every campaign)"
    )
