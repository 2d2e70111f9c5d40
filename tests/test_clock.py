from __future__ import annotations

import time
from datetime import UTC, datetime

from bot.clock import AcceleratedClock

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_a_held_clock_stays_at_its_start_until_it_begins():
    clock = AcceleratedClock(START, speed=3600, held=True)
    deadline = time.monotonic() + 0.05
    while time.monotonic() < deadline:  # real time passes; the held clock does not move
        assert clock.now() == START
    clock.begin()
    deadline = time.monotonic() + 5
    while clock.now() == START and time.monotonic() < deadline:
        pass
    assert clock.now() > START


def test_begin_does_not_restart_a_running_clock():
    clock = AcceleratedClock(START, speed=3600)
    deadline = time.monotonic() + 5
    while clock.now() == START and time.monotonic() < deadline:
        pass
    moved = clock.now()
    clock.begin()
    assert clock.now() >= moved > START
