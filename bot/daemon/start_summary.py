"""What `kindling run` says when it starts: each campaign it will post, where, and when next.

`kindling run` posts every campaign in the campaigns folder (or those given with --campaign);
an organiser must see that before the first post goes out, not read it in `--help`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from bot.checks.registry import ActiveCampaign
from bot.config import Settings
from bot.publish.schedule import Slot, plan
from bot.publish.timeline import daily_caps

# Windows searched for the next slot, shortest first: plan() is cheap, but a minutely cron over
# a year is half a million slots.
HORIZONS = (timedelta(days=1), timedelta(days=8), timedelta(days=40), timedelta(days=400))


def next_slot(
    active: ActiveCampaign, platforms: Iterable[str], now: datetime, settings: Settings
) -> Slot | None:
    """The campaign's next slot on one of `platforms`, within a year and a bit."""
    wanted = set(platforms)
    for horizon in HORIZONS:
        slots = plan(active.loaded.campaign, now, now + horizon, daily_caps(settings))
        found = next((s for s in slots if s.platform in wanted), None)
        if found is not None:
            return found
    return None


def campaign_platforms(active: ActiveCampaign) -> list[str]:
    campaign = active.loaded.campaign
    named = set(campaign.platforms)
    for message in campaign.messages:
        named.update(message.platforms or ())
    return sorted(named)


def summary_lines(
    campaigns: list[ActiveCampaign], platforms: Iterable[str], now: datetime, settings: Settings
) -> list[str]:
    """One line per campaign: id, file, platforms, next post due (UTC and the campaign's time)."""
    connected = set(platforms)
    lines = []
    for active in campaigns:
        where = [p for p in campaign_platforms(active) if p in connected]
        slot = next_slot(active, where, now, settings)
        if slot is None:
            due = "no post due within 400 days"
        else:
            due = (
                f"next post {slot.due:%Y-%m-%d %H:%M} UTC ({slot.local:%a %d %b %H:%M} "
                f"{active.loaded.campaign.timezone}), message '{slot.message_id}' on "
                f"{slot.platform}"
            )
        lines.append(
            f"campaign '{active.id}' ({active.loaded.path.name}) on "
            f"{', '.join(where) or 'no platform'}: {due}"
        )
    return lines


def activity_line(
    dry_run: bool,
    campaigns: int,
    platforms: list[str],
    next_due: Mapping[str, datetime | None],
    paused: list[str],
) -> str:
    """What the daemon is doing, in one line (systemd's STATUS=, `kindling status`)."""
    mode = "dry run, nothing is sent" if dry_run else "live"
    due = sorted((at, name) for name, at in next_due.items() if at is not None)
    return (
        f"{mode}: {campaigns} campaign(s) on {', '.join(platforms) or 'no platform'}"
        + (f"; next post {due[0][0]:%Y-%m-%d %H:%M} UTC on {due[0][1]}" if due else "")
        + (f"; paused: {', '.join(paused)}" if paused else "")
    )
