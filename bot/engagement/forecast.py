"""What listening on X costs, for `kindling simulate`, worked out with the daemon's own rules.

X bills each post a read returns (`[x.prices] read`; the fake X server counts the same way), not
each call, and the targets' new posts are unknown in advance. So the forecast is exact for the
case that can be known: targets who post more than listening may read. It replays the daemon's
listening over the period, pass by pass (a pass every `listen_every_minutes`, rounded up to the
engagement cycle the daemon runs it on), handle by handle, page by page, with the functions the
daemon calls (`pages_to_read`, `x_page_fits`), each page full (`X_PAGE` posts). Fewer new posts
cost less, never more: listening never reads past the day's allowance. The allowance is shared
by every campaign that listens on X, and the month's X budget (`[x] monthly_budget_usd`) can stop
listening earlier; neither is known per campaign, so neither lowers this forecast.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.campaign.model import Campaign
from bot.config import EngagementSettings, Settings
from bot.engagement.listening import X_PAGE, pages_to_read, x_page_fits


def listening_forecast(
    campaign: Campaign, settings: Settings, days: int, *, start: datetime | None = None
) -> dict[str, Any] | None:
    """None unless the campaign listens on X to at least one target with an X handle. `start`:
    when the period begins (the day's allowance is per UTC day, so a period that does not
    begin at midnight UTC touches one more day); None: at midnight UTC."""
    listen = campaign.listen
    handles = {target.handles.x.lower() for target in campaign.targets if target.handles.x}
    if not (listen.enabled and listen.x and handles):
        return None
    calls = most_x_calls(len(handles), settings, days, start)
    reads = calls * X_PAGE
    return {
        "x_targets": len(handles),
        "x_passes_per_day": math.ceil(timedelta(days=1) / pass_interval(settings)),
        "x_most_calls": calls,
        "x_most_reads": reads,
        "x_most_usd": round(reads * settings.x.prices.read, 4),
    }


def pass_interval(settings: Settings) -> timedelta:
    """How often the daemon listens: `listen_every_minutes`, on the first engagement cycle
    (every `cycle_seconds`) at or after it."""
    engagement = settings.engagement
    cycle = engagement.cycle_seconds
    return timedelta(seconds=math.ceil(engagement.listen_every_minutes * 60 / cycle) * cycle)


def utc_days(days: int, start: datetime | None) -> list[timedelta]:
    """How much of the period falls on each UTC day it touches."""
    begin = (start or datetime(2000, 1, 1, tzinfo=UTC)).astimezone(UTC)
    end, spans = begin + timedelta(days=days), []
    while begin < end:
        midnight = begin.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        spans.append(min(midnight, end) - begin)
        begin = midnight
    return spans


def most_x_calls(handles: int, settings: Settings, days: int, start: datetime | None) -> int:
    """The X calls listening makes over the period when every page it asks for is full."""
    interval, read_before = pass_interval(settings), [False] * handles
    calls, due = 0, timedelta(0)  # due: the next pass, from the start of the day's span
    for span in utc_days(days, start):
        passes = max(0, math.ceil((span - due) / interval))
        due += passes * interval - span
        calls += _calls_in_a_day(read_before, passes, settings.engagement)
    return calls


def _calls_in_a_day(read_before: list[bool], passes: int, engagement: EngagementSettings) -> int:
    """One UTC day of passes over the handles, least recently read first (the order changes
    nothing when every page is full); the first page that does not fit ends the day's reads."""
    calls = 0
    for _ in range(passes):
        for handle, before in enumerate(read_before):
            for _ in range(pages_to_read("x", before, engagement.listen_pages_per_pass)):
                if not x_page_fits(calls * X_PAGE, engagement.listen_x_reads_per_day):
                    return calls
                calls += 1
                read_before[handle] = True
    return calls


def describe(forecast: dict[str, Any], days: int) -> str:
    return (
        f"Listening on X to {forecast['x_targets']} target(s): at most "
        f"{forecast['x_most_reads']} X reads in {forecast['x_most_calls']} calls in {days} days, "
        f"up to ${forecast['x_most_usd']:.2f} (X bills each post read: this is what targets who "
        "post more than listening may read cost; [engagement] listen_x_reads_per_day, shared by "
        "every campaign)"
    )
