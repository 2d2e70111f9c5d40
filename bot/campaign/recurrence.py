"""When a message's schedule fires, in the campaign's local (wall-clock) time. Pure: no I/O.

Times are naive local datetimes; converting them to instants (and what a DST gap or overlap
does to them) belongs to the planner that turns them into slots.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from cronsim import CronSim

from bot.campaign.model import WEEKDAYS, Schedule


def occurrences(schedule: Schedule, start: datetime, end: datetime) -> Iterator[datetime]:
    """Every local time in [start, end) at which `schedule` fires, in order."""
    if schedule.at is not None:
        moment = schedule.at.replace(tzinfo=None)
        if start <= moment < end:
            yield moment
        return
    if schedule.cron is not None:
        # CronSim yields times strictly after its start.
        for moment in CronSim(schedule.cron, start - timedelta(minutes=1)):
            if moment >= end:
                return
            yield moment
        return
    if schedule.daily is not None:
        times, days = sorted(schedule.daily), set(range(7))
    else:
        assert schedule.weekly is not None
        times = sorted(schedule.weekly.times)
        days = {WEEKDAYS.index(day) for day in schedule.weekly.days}
    day = start.date()
    while True:
        if day.weekday() in days:
            for clock in times:
                moment = datetime.combine(day, clock)
                if moment >= end:
                    return
                if moment >= start:
                    yield moment
        day += timedelta(days=1)
        if datetime.combine(day, datetime.min.time()) >= end:
            return
