"""`kindling post`: one message now, through the same outbox as the daemon (exactly once).

The post is made by the daemon's own code (bot/publish/timeline.py, `planned_post`): the same
text, thread, image and alt text the daemon would send for a slot of this message now.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.campaign.model import Campaign, Message
from bot.checks.registry import ActiveCampaign
from bot.checks.run import image_cache
from bot.config import Config
from bot.platforms.factory import make_platform
from bot.publish.budget import Budget
from bot.publish.outbox import Outbox, Outcome
from bot.publish.schedule import Slot
from bot.publish.timeline import planned_post
from bot.store.engine import Store


def post_now(
    config: Config,
    active: ActiveCampaign,
    message_id: str,
    platforms: list[str],
    languages: list[str],
    dry_run: bool,
) -> list[tuple[Slot, Outcome]]:
    campaign = active.loaded.campaign
    message = _message(campaign, message_id)
    chosen_platforms = _chosen(
        platforms or list(message.platforms or campaign.platforms), campaign.platforms, "platforms"
    )
    chosen_languages = _chosen(
        languages or list(campaign.languages), campaign.languages, "languages"
    )
    store = Store(config.database)
    try:
        store.require_migrated()
        outbox = Outbox(
            store,
            "dry-run" if dry_run else "live",
            Budget(store, config.settings.x.monthly_budget_usd),
            config.settings.x.prices,
            {campaign.id: campaign.x_budget_usd},
        )
        now = datetime.now(UTC).replace(microsecond=0)
        outcomes = []
        for name in chosen_platforms:
            platform = make_platform(name, config, dry_run)
            for language in chosen_languages:
                slot = _slot_now(campaign, message, language, name, now)
                outbox.sync(
                    campaign.id,
                    [planned_post(active, slot, image_cache(config))],
                    now,
                    now + timedelta(seconds=1),
                    now,
                )
                row = next(r for r in outbox.due(name, now, limit=100) if r.key == outbox.key(slot))
                outcomes.append((slot, outbox.publish(row, platform, datetime.now(UTC))))
    finally:
        store.dispose()
    return outcomes


def _message(campaign: Campaign, message_id: str) -> Message:
    message = next((m for m in campaign.messages if m.id == message_id), None)
    if message is None:
        known = ", ".join(m.id for m in campaign.messages)
        raise ValueError(
            f"campaign '{campaign.id}' has no message '{message_id}' (messages: {known})"
        )
    return message


def _chosen(given: list[str], allowed: Sequence[str], what: str) -> list[str]:
    for name in given:
        if name not in allowed:
            raise ValueError(f"'{name}' is not one of the campaign's {what} ({', '.join(allowed)})")
    return given


def _slot_now(
    campaign: Campaign, message: Message, language: str, platform: str, now: datetime
) -> Slot:
    """A slot of `message` due now, as the daemon's schedule would make it (its local time in
    the campaign's time zone, its first quote)."""
    pool = next((p for p in campaign.quote_pools if p.id == message.quote_pool), None)
    return Slot(
        now,
        campaign.id,
        message.id,
        language,
        platform,
        now.astimezone(ZoneInfo(campaign.timezone)).replace(tzinfo=None),
        now + timedelta(minutes=message.max_delay_minutes),
        pool.quotes[0].id if pool else None,
    )
