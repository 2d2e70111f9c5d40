"""A note for recurring posts whose text never changes on X: X refuses a post identical to a
recent one of the same account (403, duplicate content), so every repeat after the first would
be recorded as failed. Bluesky accepts repeats, so only X is checked."""

from __future__ import annotations

from datetime import timedelta

from bot.campaign.loader import LoadedCampaign
from bot.compose.renderings import PostRenderer
from bot.compose.templates import Templates
from bot.problems import Problem

# Two slots that differ in every field a template could show (day, weekday, hour, minute).
SECOND_SLOT = timedelta(days=8, hours=1, minutes=1)


def repeated_text_notes(loaded: LoadedCampaign, templates: Templates) -> list[Problem]:
    campaign = loaded.campaign
    if "x" not in campaign.platforms:
        return []
    renderer = PostRenderer(loaded, templates)
    first = campaign.active.start_local()
    notes = []
    for message in campaign.messages:
        if message.schedule.one_off or "x" not in (message.platforms or campaign.platforms):
            continue
        if message.quote_pool:
            pool = next((p for p in campaign.quote_pools if p.id == message.quote_pool), None)
            if pool is None or len(pool.quotes) > 1:
                continue  # rotation changes the text (a missing pool is reported elsewhere)
        quote_id = pool.quotes[0].id if message.quote_pool and pool else None
        language = campaign.primary_language
        try:
            once = renderer.render(message.id, language, "x", quote_id, first)
            again = renderer.render(message.id, language, "x", quote_id, first + SECOND_SLOT)
        except ValueError:
            continue  # a template problem: reported by the renderings
        if once == again:
            notes.append(
                loaded.problem(
                    message,
                    ("schedule",),
                    f"message '{message.id}' posts the same text every time: X refuses a post "
                    "identical to a recent one of the account, so repeats would fail there; "
                    "vary it (a quote_pool, or {{ slot }} in the text)",
                )
            )
    return notes
