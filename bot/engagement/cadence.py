"""The adaptive metrics cadence: read a post less once its counts stop moving, and stop reading
it once they have been still long enough. Pure: no store, no clock, no network.

It rides on a base cadence (the fixed `Cadence` of metrics.py, or whatever stretched form of it
the caller passes) and never reads more often than that base: the wait before a post's next read
is the base interval at its age, or, once its counts have been still for a while, `backoff` times
that while (at most `longest_wait`), whichever is longer; after `stop_after_still` without a
change it is not read again, and the base's own end (day 30 by default) still applies. So at any
moment a post has had at most as many reads as the fixed cadence would have made, and a
forecast made from the fixed cadence is a ceiling of what the adaptive one spends.

"Moving" means the counts the report shows (likes, reposts, replies, quotes). Impressions are
left out: on X they creep up with every view and would keep every post "moving".

Still for: from the first snapshot of the latest run of equal counts to the latest snapshot. It
is a lower bound (the counts may have stopped moving before that first snapshot), so an error
makes a post read more, never less. Measured in benchmarks/bench_cadence.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from bot.config import EngagementSettings


class Counts(NamedTuple):
    likes: int
    reposts: int
    replies: int
    quotes: int


class Reading(NamedTuple):
    """One metrics snapshot of a post, as the policy sees it."""

    at: datetime
    counts: Counts


class BaseCadence(Protocol):
    """What the policy needs of the fixed cadence: its interval at an age (None: stop)."""

    def interval(self, age: timedelta) -> timedelta | None: ...


def still_for(readings: Sequence[Reading]) -> timedelta:
    """How long the counts have been still: from the first of the latest run of equal readings
    to the latest one. `readings` in time order; nothing read, or one reading: zero."""
    if not readings:
        return timedelta(0)
    latest = readings[-1]
    first = latest
    for reading in reversed(readings):
        if reading.counts != latest.counts:
            break
        first = reading
    return latest.at - first.at


@dataclass(frozen=True)
class AdaptiveCadence:
    """Waits longer between reads of a post whose counts are still; stops once still long
    enough. `history` is how many of a post's latest snapshots the store hands over: enough for
    the stillness to reach `stop_after_still` (fewer only makes the policy read more)."""

    backoff: float = 1.0
    longest_wait: timedelta = timedelta(days=4)
    stop_after_still: timedelta = timedelta(days=21)
    history: int = 24

    def __post_init__(self) -> None:
        if self.backoff < 0:
            raise ValueError("backoff must not be negative")
        if self.longest_wait <= timedelta(0) or self.stop_after_still <= timedelta(0):
            raise ValueError("longest_wait and stop_after_still must be positive")
        if self.history < 2:
            raise ValueError("history must be at least 2 snapshots")

    def wait(self, every: timedelta, still: timedelta) -> timedelta | None:
        """The least time between reads for a post the base would read `every`, whose counts
        have been still for `still`; None: it is not read again."""
        if still >= self.stop_after_still:
            return None
        return max(every, min(still * self.backoff, self.longest_wait))

    def is_due(
        self, base: BaseCadence, sent_at: datetime, readings: Sequence[Reading], now: datetime
    ) -> bool:
        """Whether a post sent at `sent_at`, with these latest snapshots (in time order), is to
        be read at `now`. Never read yet: due whenever the base says so."""
        last_at = readings[-1].at if readings else None
        return self.due(base, sent_at, last_at, still_for(readings), now)

    def due(
        self,
        base: BaseCadence,
        sent_at: datetime,
        last_at: datetime | None,
        still: timedelta,
        now: datetime,
    ) -> bool:
        """`is_due` from the latest snapshot's time and `still_for` of the snapshots."""
        every = base.interval(now - sent_at)
        if every is None:
            return False
        wait = self.wait(every, still)
        return wait is not None and (last_at is None or now - last_at >= wait)

    def stopped(self, readings: Sequence[Reading]) -> bool:
        """Whether the counts have been still long enough for the post not to be read again."""
        return still_for(readings) >= self.stop_after_still


def adaptive_cadence(settings: EngagementSettings) -> AdaptiveCadence | None:
    """The policy config.toml's [engagement] asks for; None: the fixed cadence alone."""
    if settings.metrics_cadence_mode != "adaptive":
        return None
    return AdaptiveCadence(
        longest_wait=timedelta(hours=settings.metrics_longest_wait_hours),
        stop_after_still=timedelta(hours=settings.metrics_stop_when_still_hours),
    )
