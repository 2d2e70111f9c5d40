"""Time, injectable: the real clock, or an accelerated one for demos and simulations."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class AcceleratedClock:
    """Starts at `start` and runs `speed` times faster than real time (speed 60: a minute a second).

    `held=True` keeps it at `start` until `begin()`: a daemon's start-up (imports, database,
    the first plan) takes real seconds, which a fast clock would turn into hours of skipped slots.
    """

    def __init__(self, start: datetime, speed: float, *, held: bool = False) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._origin: float | None = None if held else time.monotonic()

    def begin(self) -> None:
        """Let a held clock run from `start` (no effect on a running one)."""
        if self._origin is None:
            self._origin = time.monotonic()

    def now(self) -> datetime:
        if self._origin is None:
            return self.start
        return self.start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed)
