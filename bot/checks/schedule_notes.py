"""`kindling check` notes a one-off post (`at:`) that is already past or less than a minute away:
not an error (a campaign under way has past posts), but a first live post written for a moment
that has gone would never be sent, and nothing else would say so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.campaign.loader import LoadedCampaign
from bot.problems import Problem

SOON = timedelta(minutes=1)


def at_notes(loaded: LoadedCampaign, now: datetime) -> list[Problem]:
    """A note, located at its `at:`, for each message due before `now` + one minute."""
    campaign = loaded.campaign
    zone = ZoneInfo(campaign.timezone)
    notes = []
    for message in campaign.messages:
        if message.schedule.at is None:
            continue
        local = message.schedule.at.replace(tzinfo=None)  # wall-clock time, as it is planned
        ahead = local.replace(tzinfo=zone, fold=0).astimezone(UTC) - now
        if ahead >= SOON:
            continue
        when = f"message '{message.id}': 'at' {local:%Y-%m-%d %H:%M} ({campaign.timezone})"
        if ahead > timedelta(0):
            text = (
                f"{when} is less than a minute away ({int(ahead.total_seconds())} s): it is "
                "sent only if `kindling run` is running by then"
            )
        else:
            text = (
                f"{when} is already past ({_ago(-ahead)} ago): a post more than "
                f"max_delay_minutes ({message.max_delay_minutes}) late is not sent but recorded "
                "as missed"
            )
        notes.append(loaded.problem(message, ("schedule", "at"), text))
    return notes


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days"
