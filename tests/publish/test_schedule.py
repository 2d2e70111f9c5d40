"""Pure planning: windows, quiet hours, DST, rotation, spacing, caps."""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter

from bot.campaign.model import Campaign
from bot.publish import schedule
from bot.publish.schedule import plan

BASE = {
    "id": "demo",
    "name": {"en": "Demo"},
    "languages": ["en"],
    "timezone": "Europe/London",
    "active": {"start": "2026-10-01", "end": "2027-04-30"},
    "platforms": ["x"],
}


def campaign(**overrides) -> Campaign:
    return TypeAdapter(Campaign).validate_python({**BASE, **overrides})


def message(id_: str, schedule: dict, **extra) -> dict:
    return {"id": id_, "schedule": schedule, "text": {"en": id_}, **extra}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_daily_keeps_local_time_across_the_spring_clock_change():
    c = campaign(messages=[message("m", {"daily": ["09:00"]})])
    slots = plan(c, utc("2027-03-27 00:00"), utc("2027-03-30 00:00"))
    assert [f"{s.due:%m-%d %H:%M}Z" for s in slots] == [
        "03-27 09:00Z",
        "03-28 08:00Z",
        "03-29 08:00Z",
    ]
    assert {s.local.hour for s in slots} == {9}


def test_a_time_in_the_spring_gap_is_posted_once_an_hour_later_by_the_clock():
    c = campaign(messages=[message("m", {"at": "2027-03-28 01:30"})])
    (slot,) = plan(c, utc("2027-03-27"), utc("2027-03-29"))
    assert slot.due == utc("2027-03-28 01:30")  # 02:30 BST


def test_a_time_that_happens_twice_in_autumn_is_planned_once():
    c = campaign(messages=[message("m", {"daily": ["01:30"]})])
    slots = plan(c, utc("2026-10-24 12:00"), utc("2026-10-25 12:00"))
    assert [s.due for s in slots] == [utc("2026-10-25 00:30")]  # the first 01:30, BST


def test_quiet_hours_and_active_window_in_local_time():
    c = campaign(
        quiet_hours={"start": "21:00", "end": "08:00"},
        active={"start": "2026-12-01 12:00", "end": "2026-12-02"},
        messages=[message("m", {"daily": ["07:30", "10:00", "20:59", "21:00"]})],
    )
    slots = plan(c, utc("2026-11-30"), utc("2026-12-05"))
    assert [f"{s.local:%d %H:%M}" for s in slots] == ["01 20:59", "02 10:00", "02 20:59"]


def test_one_slot_per_language_and_platform_with_distinct_keys():
    c = campaign(
        languages=["cy", "en"],
        name={"cy": "D", "en": "D"},
        platforms=["x", "bluesky"],
        messages=[
            {"id": "m", "schedule": {"at": "2026-12-01 10:00"}, "text": {"cy": "a", "en": "b"}}
        ],
    )
    slots = plan(c, utc("2026-12-01"), utc("2026-12-02"))
    assert sorted((s.language, s.platform) for s in slots) == [
        ("cy", "bluesky"),
        ("cy", "x"),
        ("en", "bluesky"),
        ("en", "x"),
    ]
    assert len({s.key for s in slots}) == 4
    assert slots[0].key.startswith("demo/m/")


def test_quotes_rotate_without_repeats_until_the_pool_is_used_up():
    quotes = [{"id": f"q{i}", "who": "W", "text": {"en": f"t{i}"}, "source": "s"} for i in range(5)]
    c = campaign(
        active={"start": "2026-12-01", "end": "2026-12-31"},  # rotation counts from the start
        quote_pools=[{"id": "p", "quotes": quotes}],
        messages=[message("m", {"daily": ["11:00"]}, quote_pool="p")],
    )
    slots = plan(c, utc("2026-12-01"), utc("2026-12-31"))
    used = [s.quote_id for s in slots]
    for cycle in range(len(used) // 5):
        assert sorted(used[cycle * 5 : cycle * 5 + 5]) == [f"q{i}" for i in range(5)]
    assert all(a != b for a, b in itertools.pairwise(used))


def test_rotation_is_the_same_whatever_window_is_planned():
    quotes = [{"id": f"q{i}", "who": "W", "text": {"en": f"t{i}"}, "source": "s"} for i in range(3)]
    c = campaign(
        quote_pools=[{"id": "p", "quotes": quotes}],
        messages=[message("m", {"daily": ["11:00", "15:00"]}, quote_pool="p")],
    )
    whole = plan(c, utc("2026-12-01"), utc("2026-12-11"))
    parts = plan(c, utc("2026-12-01"), utc("2026-12-05 13:00")) + plan(
        c, utc("2026-12-05 13:00"), utc("2026-12-11")
    )
    assert whole == parts


def test_daily_cap_keeps_the_first_posts_of_each_local_day():
    c = campaign(
        messages=[
            message("a", {"daily": ["09:00"]}),
            message("b", {"daily": ["10:00"]}),
            message("c", {"daily": ["11:00"]}),
        ]
    )
    slots = plan(c, utc("2026-12-01"), utc("2026-12-03"), {"x": 2})
    assert Counter(s.local.date().isoformat() for s in slots) == {"2026-12-01": 2, "2026-12-02": 2}
    assert {s.message_id for s in slots} == {"a", "b"}


def test_minimum_spacing_moves_later_posts_back():
    c = campaign(
        min_spacing_minutes=30,
        messages=[
            message("a", {"at": "2026-12-01 10:00"}),
            message("b", {"at": "2026-12-01 10:10"}),
        ],
    )
    slots = plan(c, utc("2026-12-01"), utc("2026-12-02"))
    assert [(s.message_id, f"{s.local:%H:%M}") for s in slots] == [("a", "10:00"), ("b", "10:30")]


def test_jitter_is_deterministic_and_bounded():
    c = campaign(messages=[message("m", {"daily": ["12:00"]}, jitter_minutes=20)])
    first = plan(c, utc("2026-12-01"), utc("2026-12-15"))
    assert first == plan(c, utc("2026-12-01"), utc("2026-12-15"))
    offsets = {(s.local.hour * 60 + s.local.minute) - 720 for s in first}
    assert all(-20 <= o <= 20 for o in offsets) and len(offsets) > 1


def test_latest_is_due_plus_the_allowed_delay():
    c = campaign(messages=[message("m", {"at": "2026-12-01 10:00"}, max_delay_minutes=15)])
    (slot,) = plan(c, utc("2026-12-01"), utc("2026-12-02"))
    assert (slot.latest - slot.due).total_seconds() == 15 * 60


@pytest.mark.parametrize("days", [1, 7, 90])
def test_plans_are_sorted_and_inside_the_window(days):
    c = campaign(
        messages=[message("m", {"cron": "*/20 8-20 * * *"})],
        quiet_hours={"start": "21:00", "end": "08:00"},
    )
    start = utc("2026-12-01 05:00")
    end = datetime.fromtimestamp(start.timestamp() + days * 86400, UTC)
    slots = plan(c, start, end)
    assert slots == sorted(slots)
    assert all(start <= s.due < end for s in slots)


# -- the rotation cache, shared by every thread of the process ------------------------------------

ROTATING = {
    "active": {"start": "2026-12-01", "end": "2027-01-31"},
    "quote_pools": [
        {
            "id": "p",
            "quotes": [
                {"id": f"q{i}", "who": "W", "text": {"en": f"t{i}"}, "source": "s"}
                for i in range(3)
            ],
        }
    ],
    "messages": [message("m", {"daily": [f"{h:02d}:00" for h in range(8, 20)]}, quote_pool="p")],
}


def test_a_value_the_rotation_cache_returned_cannot_change_later_plans():
    """A caller that changes what the cache gave it (here: reverses it) must not change the
    quotes of every later plan in the process."""
    c = campaign(**ROTATING)
    schedule._cycle_orders.cache_clear()
    before = plan(c, utc("2026-12-01"), utc("2026-12-15"))
    given = schedule._cycle_orders(c.id, "m", 3)
    with contextlib.suppress(AttributeError, TypeError):
        given.reverse()
    assert plan(c, utc("2026-12-01"), utc("2026-12-15")) == before


def test_threads_planning_at_once_rotate_quotes_as_one_thread_does():
    """The daemon plans on a thread pool: threads filling the shared rotation cache at the same
    moment must each get the quotes one thread alone gets."""
    c = campaign(**ROTATING)
    window = (utc("2026-12-01"), utc("2027-01-31"))
    schedule._cycle_orders.cache_clear()
    alone = [s.quote_id for s in plan(c, *window)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race shows sooner
    try:
        for _ in range(20):
            schedule._cycle_orders.cache_clear()
            start = threading.Barrier(8)
            results: list[list[str | None]] = []
            threads = [
                threading.Thread(target=_plan_quotes, args=(start, c, window, results))
                for _ in range(8)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert results == [alone] * 8
    finally:
        sys.setswitchinterval(switch)


def _plan_quotes(
    start: threading.Barrier,
    c: Campaign,
    window: tuple[datetime, datetime],
    results: list[list[str | None]],
) -> None:
    start.wait()
    results.append([s.quote_id for s in plan(c, *window)])
