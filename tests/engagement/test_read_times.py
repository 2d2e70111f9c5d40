"""`Cadence.read_times`, which the X cost forecast and the budget outlook count metrics reads
with, is the poller's `is_due` asked at every cycle, and `stretched` reads less often."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.engagement.metrics import Cadence


def _every_cycle(
    cadence: Cadence, sent: datetime, first: datetime, cycle: timedelta, end: datetime
):
    """The poller's way, cycle by cycle (slow, obviously right)."""
    times, last, at = [], None, first
    while at < end:
        if sent <= at and cadence.is_due(sent, last, at):
            times.append(at)
            last = at
        at += cycle
    return times


@pytest.mark.parametrize("cycle_minutes", [1, 7, 60, 108])
@pytest.mark.parametrize("stretch", [1.0, 2.5])
def test_read_times_are_the_poller_s_reads(cycle_minutes: int, stretch: float) -> None:
    cadence = Cadence().stretched(stretch)
    first = datetime(2026, 12, 1, tzinfo=UTC)
    sent = first + timedelta(hours=9, minutes=7, seconds=30)
    end = first + timedelta(days=40)
    cycle = timedelta(minutes=cycle_minutes)
    expected = _every_cycle(cadence, sent, first, cycle, end)
    assert cadence.read_times(sent, first, cycle, end) == expected
    assert expected  # and a window that ends early cuts them there
    cut = first + timedelta(days=3)
    assert cadence.read_times(sent, first, cycle, cut) == [t for t in expected if t < cut]


def test_the_default_cadence_reads_a_post_about_94_times_and_stretching_halves_that() -> None:
    first = datetime(2026, 12, 1, tzinfo=UTC)
    end = first + timedelta(days=60)
    normal = Cadence().read_times(first, first, timedelta(minutes=1), end)
    halved = Cadence().stretched(2).read_times(first, first, timedelta(minutes=1), end)
    assert 90 <= len(normal) <= 96
    assert len(halved) == pytest.approx(len(normal) / 2, abs=2)
    assert Cadence().stretched(0.5) == Cadence()  # never more often than configured
