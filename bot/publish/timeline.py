"""Planned slots made concrete: the text each will carry, and what X will charge for it.

The daemon feeds these to the outbox; `kindling simulate` prints them. One code path, so the
simulation is the daemon's plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.checks.registry import ActiveCampaign
from bot.config import Settings
from bot.platforms.base import Image
from bot.publish.budget import post_cost
from bot.publish.cards import card_image, fitted_image, post_card
from bot.publish.outbox import PlannedPost
from bot.publish.schedule import Slot, plan

if TYPE_CHECKING:
    from bot.cards.build import Card


def daily_caps(settings: Settings) -> dict[str, int]:
    return {
        "x": settings.x.daily_cap,
        "bluesky": settings.bluesky.daily_cap,
        "mastodon": settings.mastodon.daily_cap,
    }


def planned_posts(
    active: ActiveCampaign,
    start: datetime,
    end: datetime,
    settings: Settings,
    image_cache: Path | None = None,
) -> list[PlannedPost]:
    """The posts of [start, end). Quote cards are drawn, and images too big for a platform
    re-encoded, into `image_cache`; None (simulate, which writes nothing) plans the posts with
    the campaign's images as they are and without cards (`slot_card` names each)."""
    campaign = active.loaded.campaign
    slots = plan(campaign, start, end, daily_caps(settings))
    return [planned_post(active, slot, image_cache) for slot in slots]


def planned_post(
    active: ActiveCampaign, slot: Slot, image_cache: Path | None = None
) -> PlannedPost:
    """What `slot` carries: its rendered text, thread, image and quote card. The daemon's plan
    and `kindling post` both make their posts here, so a manual post is the one the daemon
    sends."""
    campaign = active.loaded.campaign
    text, thread = active.renderer.render(
        slot.message_id, slot.language, slot.platform, slot.quote_id, slot.local
    )
    message = next(m for m in campaign.messages if m.id == slot.message_id)
    images: tuple[Image, ...] = ()
    if message.image is not None:
        path = active.loaded.path.parent / message.image.path
        image = Image(path, message.image.alt.get(slot.language, ""))
        images = (
            image
            if image_cache is None
            else fitted_image(image, slot.platform, image_cache, active.fitted_images),
        )
    card = slot_card(active, slot)
    if card is not None and image_cache is not None:
        images += (card_image(active.loaded, card, image_cache / "cards"),)
    return PlannedPost(slot, text, tuple(thread), images)


def slot_card(active: ActiveCampaign, slot: Slot) -> Card | None:
    """The quote card `slot` carries, if its message has `card: true`."""
    message = next(m for m in active.loaded.campaign.messages if m.id == slot.message_id)
    return post_card(active.loaded, message, slot.language, slot.quote_id)


@dataclass(frozen=True)
class TimelineEntry:
    post: PlannedPost
    cost_usd: float
    spent_usd: float  # X spend so far in the simulated month, this post included if it goes out
    status: str  # "post", or "over budget" where the daemon would stop


def simulate(
    active: ActiveCampaign,
    start: datetime,
    end: datetime,
    settings: Settings,
    already_spent: float = 0.0,
) -> list[TimelineEntry]:
    """What the daemon would post in [start, end), with the X spend forecast and budget stops."""
    campaign = active.loaded.campaign
    limits = [settings.x.monthly_budget_usd]
    if campaign.x_budget_usd is not None:
        limits.append(campaign.x_budget_usd)
    budget = min(limits)
    spent = already_spent
    month = None
    entries = []
    for post in planned_posts(active, start, end, settings, None):
        cost = post_cost(post.slot.platform, post.text, settings.x.prices, post.thread)
        usd = cost.usd if cost else 0.0
        this_month = (post.slot.due.year, post.slot.due.month)
        if month is not None and this_month != month:
            spent = 0.0
        month = this_month
        if usd and spent + usd > budget + 1e-9:
            entries.append(TimelineEntry(post, usd, spent, "over budget"))
            continue
        spent += usd
        entries.append(TimelineEntry(post, usd, spent, "post"))
    return entries
