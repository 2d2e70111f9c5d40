"""What listening on X costs, for `kindling simulate`, worked out with the daemon's own rules.

X bills each post a read returns (`[x.prices] read`; the fake X server counts the same way), not
each call, and the targets' new posts are unknown in advance. So the forecast gives two figures:

- `x_full_*`: exact when the targets post more than listening may read (every page full). It
  replays the daemon's listening over the period, pass by pass (a pass every
  `listen_every_minutes`, rounded up to the engagement cycle the daemon runs it on), handle by
  handle, page by page, with the functions the daemon calls (`pages_to_read`, `x_page_fits`).
- `x_most_*`: what listening can never pass, whatever they post. A page is asked for only while a
  full one fits the day's allowance, so part-full pages can leave room for one more call and a
  day's reads can reach the allowance itself (75, where full pages stop at 70).

The allowance is shared by every campaign that listens on X, and the month's X budget
(`[x] monthly_budget_usd`) can stop listening earlier; neither is known per campaign, so
neither lowers this forecast.
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
    full_calls, most_reads = x_reads(len(handles), settings, days, start)
    price = settings.x.prices.read
    return {
        "x_targets": len(handles),
        "x_passes_per_day": math.ceil(timedelta(days=1) / pass_interval(settings)),
        # targets who post more than listening may read: every page full, exactly this
        "x_full_calls": full_calls,
        "x_full_reads": full_calls * X_PAGE,
        "x_full_usd": round(full_calls * X_PAGE * price, 4),
        # never more than this, whatever they post (part-full pages leave room for more calls)
        "x_most_reads": most_reads,
        "x_most_usd": round(most_reads * price, 4),
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


def x_reads(handles: int, settings: Settings, days: int, start: datetime | None) -> tuple[int, int]:
    """(the X calls listening makes over the period when every page it asks for is full, the
    most posts it can read whatever the pages hold). A day's reads never pass the allowance
    (a page is asked for only while a full one fits) nor `X_PAGE` posts a page the day's passes
    could ask for, counted as if every handle had been read in the period's first pass (a
    handle read later has fewer pages, never more)."""
    engagement, interval = settings.engagement, pass_interval(settings)
    full_read_before, most_read_before = [False] * handles, [False] * handles
    calls = most = 0
    due = timedelta(0)  # the next pass, from the start of the day's span
    allowance = (
        engagement.listen_x_reads_per_day
        if x_page_fits(0, engagement.listen_x_reads_per_day)
        else 0
    )
    for span in utc_days(days, start):
        passes = max(0, math.ceil((span - due) / interval))
        due += passes * interval - span
        calls += _calls_in_a_day(full_read_before, passes, engagement)
        pages = 0
        for _ in range(passes):
            for handle, before in enumerate(most_read_before):
                pages += pages_to_read("x", before, engagement.listen_pages_per_pass)
                most_read_before[handle] = True
        most += min(allowance, pages * X_PAGE)
    return calls, most


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
        f"Listening on X to {forecast['x_targets']} target(s) in {days} days: "
        f"{forecast['x_full_reads']} X reads in {forecast['x_full_calls']} calls, "
        f"${forecast['x_full_usd']:.2f}, if they post more than listening may read; at most "
        f"{forecast['x_most_reads']} reads, ${forecast['x_most_usd']:.2f}, whatever they post "
        "(X bills each post read; [engagement] listen_x_reads_per_day, shared by every campaign)"
    )
