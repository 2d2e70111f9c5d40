"""What amplification may cost, for `kindling simulate`: the most X reads discovery may make and
the most amplifications a campaign's caps allow (the real numbers depend on what supporters
post, so they are not in the timeline)."""

from __future__ import annotations

from typing import Any

from bot.campaign.model import Campaign
from bot.config import Settings


def amplification_forecast(
    campaign: Campaign, settings: Settings, days: int
) -> dict[str, Any] | None:
    amplify = campaign.amplify
    if amplify is None:
        return None
    prices = settings.x.prices
    x_on = "x" in amplify.platforms
    reads = settings.amplify.x_reads_per_day * days if x_on else 0
    # A quote is a post (with the campaign's link, if its text has one, priced as such);
    # reposts and likes are priced as plain posts.
    per_action = prices.post_with_link if amplify.action == "quote" else prices.post
    actions = amplify.daily_cap * days if x_on else 0
    return {
        "platforms": list(amplify.platforms),
        "action": amplify.action,
        "approval": amplify.approval,
        "most_amplifications": amplify.daily_cap * days * len(amplify.platforms),
        "x_discovery": x_on,
        "x_most_reads": reads,
        "x_most_usd": round(reads * prices.read + actions * per_action, 4),
    }


def describe(forecast: dict[str, Any], days: int) -> str:
    text = (
        f"Amplification ({forecast['action']}"
        f"{', each approved by a person' if forecast['approval'] else ''}): at most "
        f"{forecast['most_amplifications']} in {days} days on {', '.join(forecast['platforms'])}, "
        "as supporters post (not in the timeline above)"
    )
    if forecast["x_discovery"]:
        return text + (
            f"; X discovery on: at most {forecast['x_most_reads']} X reads, up to "
            f"${forecast['x_most_usd']:.2f} with the amplifications"
        )
    return text + "; X discovery off (no X reads)"
