"""When schedules fire, in local wall-clock time."""

from __future__ import annotations

from datetime import datetime

from bot.campaign.model import Schedule
from bot.campaign.recurrence import occurrences


def _fires(schedule: dict, start: str, end: str) -> list[str]:
    found = occurrences(
        Schedule.model_validate(schedule),
        datetime.fromisoformat(start),
        datetime.fromisoformat(end),
    )
    return [f"{moment:%a %Y-%m-%d %H:%M}" for moment in found]


def test_one_off_inside_and_outside():
    assert _fires({"at": "2026-12-02 10:00"}, "2026-12-01", "2026-12-31") == [
        "Wed 2026-12-02 10:00"
    ]
    assert _fires({"at": "2027-01-02 10:00"}, "2026-12-01", "2026-12-31") == []


def test_daily_times_in_order():
    assert _fires({"daily": ["17:30", "09:00"]}, "2026-12-01 12:00", "2026-12-03") == [
        "Tue 2026-12-01 17:30",
        "Wed 2026-12-02 09:00",
        "Wed 2026-12-02 17:30",
    ]


def test_weekly_days():
    assert _fires(
        {"weekly": {"days": ["tue", "thu"], "times": ["18:30"]}}, "2026-12-01", "2026-12-11"
    ) == [
        "Tue 2026-12-01 18:30",
        "Thu 2026-12-03 18:30",
        "Tue 2026-12-08 18:30",
        "Thu 2026-12-10 18:30",
    ]


def test_cron_includes_the_start_minute():
    assert _fires({"cron": "0 12 5,20 * *"}, "2026-12-05 12:00", "2027-01-06") == [
        "Sat 2026-12-05 12:00",
        "Sun 2026-12-20 12:00",
        "Tue 2027-01-05 12:00",
    ]


def test_daily_across_the_spring_clock_change_keeps_wall_clock_times():
    # Local times: the planner, not this module, maps them to instants across DST.
    assert _fires({"daily": ["09:00"]}, "2027-03-27", "2027-03-30") == [
        "Sat 2027-03-27 09:00",
        "Sun 2027-03-28 09:00",
        "Mon 2027-03-29 09:00",
    ]
