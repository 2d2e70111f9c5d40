"""`kindling post`: one message now, through the same outbox as the daemon (exactly once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.checks.registry import ActiveCampaign
from bot.config import Config
from bot.platforms.factory import make_platform
from bot.publish.budget import Budget
from bot.publish.outbox import Outbox, Outcome, PlannedPost
from bot.publish.schedule import Slot
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
    message = next((m for m in campaign.messages if m.id == message_id), None)
    if message is None:
        known = ", ".join(m.id for m in campaign.messages)
        raise ValueError(
            f"campaign '{campaign.id}' has no message '{message_id}' (messages: {known})"
        )
    chosen_platforms = platforms or list(message.platforms or campaign.platforms)
    for name in chosen_platforms:
        if name not in campaign.platforms:
            raise ValueError(
                f"'{name}' is not one of the campaign's platforms ({', '.join(campaign.platforms)})"
            )
    chosen_languages = languages or list(campaign.languages)
    for language in chosen_languages:
        if language not in campaign.languages:
            raise ValueError(
                f"'{language}' is not one of the campaign's languages ({', '.join(campaign.languages)})"
            )
    pool = next((p for p in campaign.quote_pools if p.id == message.quote_pool), None)
    quote_id = pool.quotes[0].id if pool else None

    store = Store(config.database_url)
    store.require_migrated()
    budget = Budget(store, config.settings.x.monthly_budget_usd)
    outbox = Outbox(
        store,
        "dry-run" if dry_run else "live",
        budget,
        config.settings.x.prices,
        {campaign.id: campaign.x_budget_usd},
    )
    now = datetime.now(UTC).replace(microsecond=0)
    outcomes = []
    try:
        for name in chosen_platforms:
            platform = make_platform(name, config, dry_run)
            for language in chosen_languages:
                slot = Slot(
                    now,
                    campaign.id,
                    message.id,
                    language,
                    name,
                    now.replace(tzinfo=None),
                    now + timedelta(minutes=message.max_delay_minutes),
                    quote_id,
                )
                text, thread = active.renderer.render(
                    message.id, language, name, quote_id, slot.local
                )
                outbox.sync(
                    campaign.id,
                    [PlannedPost(slot, text, tuple(thread))],
                    now,
                    now + timedelta(seconds=1),
                    now,
                )
                row = next(r for r in outbox.due(name, now, limit=100) if r.key == outbox.key(slot))
                outcomes.append((slot, outbox.publish(row, platform, datetime.now(UTC))))
    finally:
        store.dispose()
    return outcomes
