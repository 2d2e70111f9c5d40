"""The adaptive metrics cadence: the pure policy, and through `due_posts` + `poll_metrics` on a
real SQLite store against the fake X server (real adapter, real HTTP)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from bot.config import EngagementSettings, XPrices
from bot.engagement.cadence import (
    AdaptiveCadence,
    Counts,
    Reading,
    adaptive_cadence,
    still_for,
)
from bot.engagement.poller import Cadence, EngagementPoller, due_posts, poll_metrics
from bot.platforms.x import XPlatform
from bot.publish.budget import Budget
from bot.store.engine import Store
from tests.engagement.test_poller import (
    FixedClock,
    add_sent,
    snapshots,
    store,
    x_fake,
    x_platform,
    x_server,
)
from tests.fakes.x_server import XFakeServer

__all__ = ["store", "x_fake", "x_platform", "x_server"]  # fixtures shared with test_poller

SENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


def reading(hours: float, likes: int, reposts: int = 0) -> Reading:
    return Reading(SENT + timedelta(hours=hours), Counts(likes, reposts, 0, 0))


# --- the policy (pure) --------------------------------------------------------------------------


def test_still_for_counts_from_the_first_of_the_latest_equal_run() -> None:
    assert still_for([]) == timedelta(0)
    assert still_for([reading(0, 3)]) == timedelta(0)
    assert still_for([reading(0, 3), reading(1, 5), reading(2, 5), reading(6, 5)]) == 5 * H
    # any count moving (a repost, an unlike) breaks the run
    assert still_for([reading(0, 5), reading(1, 5, 1), reading(3, 5, 1)]) == 2 * H
    assert still_for([reading(0, 5), reading(1, 4)]) == timedelta(0)


def test_the_wait_grows_with_stillness_never_below_the_base_and_then_stops() -> None:
    policy = AdaptiveCadence()
    every = timedelta(minutes=15)
    assert policy.wait(every, timedelta(0)) == every  # moving: the fixed cadence's interval
    assert policy.wait(every, 5 * timedelta(minutes=1)) == every
    assert policy.wait(every, 3 * H) == 3 * H  # still for 3 h: wait 3 h
    assert policy.wait(D, 3 * H) == D  # never more often than the base
    assert policy.wait(every, 5 * D) == 4 * D  # at most longest_wait
    assert policy.wait(D, 21 * D - timedelta(seconds=1)) == 4 * D
    assert policy.wait(D, 21 * D) is None  # still long enough: stop
    assert AdaptiveCadence(backoff=0.5).wait(every, 4 * H) == 2 * H


def test_is_due_follows_the_base_for_a_moving_post_and_backs_off_a_still_one() -> None:
    base, policy = Cadence(), AdaptiveCadence()
    moving = [reading(0, 1), reading(0.25, 4), reading(0.5, 9)]
    still = [reading(0, 9), reading(0.25, 9), reading(0.5, 9)]
    fifteen_later = SENT + timedelta(minutes=45)
    assert policy.is_due(base, SENT, moving, fifteen_later)
    assert not policy.is_due(base, SENT, still, fifteen_later)  # still 30 min: wait 30 min
    assert policy.is_due(base, SENT, still, SENT + H)
    assert policy.is_due(base, SENT, [], SENT)  # never read: due
    assert not policy.is_due(base, SENT, [], SENT + 31 * D)  # the base's end still applies
    long_still = [reading(0, 9), reading(21 * 24, 9)]
    assert policy.stopped(long_still)
    assert not policy.is_due(base, SENT, long_still, SENT + 29 * D)


def test_never_more_reads_than_the_fixed_cadence_at_any_moment() -> None:
    """Over random count histories, read on a 5-minute grid: at every moment the adaptive
    cadence has read a post at most as often as the fixed one (the forecast is a ceiling)."""
    base, policy = Cadence(), AdaptiveCadence()
    rng = random.Random(14)
    for _ in range(20):
        moves = sorted(rng.uniform(0, 30 * 24) for _ in range(rng.randint(0, 40)))
        fixed_last: datetime | None = None
        fixed_reads, readings = 0, []
        for step in range(0, 30 * 24 * 12 + 1):
            now = SENT + step * timedelta(minutes=5)
            if base.is_due(SENT, fixed_last, now):
                fixed_reads, fixed_last = fixed_reads + 1, now
            if policy.is_due(base, SENT, readings[-policy.history :], now):
                hours = (now - SENT) / H
                readings.append(Reading(now, Counts(sum(m <= hours for m in moves), 0, 0, 0)))
            assert len(readings) <= fixed_reads


def test_settings_choose_the_policy() -> None:
    assert adaptive_cadence(EngagementSettings(metrics_cadence_mode="fixed")) is None
    chosen = adaptive_cadence(
        EngagementSettings(metrics_stop_when_still_hours=48, metrics_longest_wait_hours=12)
    )
    assert chosen == AdaptiveCadence(longest_wait=12 * H, stop_after_still=48 * H)
    assert adaptive_cadence(EngagementSettings()) == AdaptiveCadence()  # the default
    with pytest.raises(ValueError):
        AdaptiveCadence(history=1)


# --- through the store and the fake X server ----------------------------------------------------


@pytest.mark.parametrize("through", ["poll_metrics", "daemon poller"])
def test_a_still_post_is_read_less_then_not_at_all_a_moving_one_keeps_being_read(
    store: Store, x_fake: XFakeServer, x_platform: XPlatform, through: str
) -> None:
    """30 days of cycles (every 15 min for 2 days, then hourly): the post whose counts stop
    moving after 3 hours (its impressions creep on: not a move) is read ever less often and not
    after 21 still days; the post that gains a like every 15 minutes is read every time the fixed
    cadence would read it. Either `due_posts` + `poll_metrics` directly, or the daemon's poller
    (which keeps what it knows of each post's stillness from one cycle to the next)."""
    state = x_fake.state
    still_id, moving_id = state.add_post("Quiet"), state.add_post("Busy")
    add_sent(store, "x", [still_id, moving_id], SENT)
    base, policy = Cadence(), AdaptiveCadence()
    clock = FixedClock(SENT)
    daemon = EngagementPoller(
        store, {"x": x_platform}, Budget(store, 25.0), XPrices(), list, clock, adaptive=policy
    )
    ticks = [SENT + k * timedelta(minutes=15) for k in range(4 * 48)]
    ticks += [SENT + 48 * H + k * H for k in range(28 * 24 + 1)]
    fixed_last: datetime | None = None
    fixed_reads = 0
    for now in ticks:
        age = now - SENT
        state.set_metrics(still_id, like_count=min(3, int(age / H)), impression_count=int(age / H))
        state.set_metrics(moving_id, like_count=int(age / timedelta(minutes=15)))
        if through == "poll_metrics":
            poll_metrics(store, x_platform, due_posts(store, now, base, "x", policy), now)
        else:
            clock.at = now
            daemon.run_cycle()
        if base.is_due(SENT, fixed_last, now):
            fixed_reads, fixed_last = fixed_reads + 1, now

    def read_at(remote_id: str) -> list[datetime]:
        return [s.at for s in snapshots(store) if s.remote_id == remote_id]

    moving = read_at(moving_id)
    assert len(moving) == fixed_reads == 1 + 4 * 6 + 42 + 28
    assert moving[-1] == SENT + 30 * D

    quiet = read_at(still_id)
    gaps = [later - earlier for earlier, later in pairwise(quiet)]
    assert len(quiet) < fixed_reads / 3
    assert gaps[-1] == 4 * D and max(gaps[:6]) <= H  # up to 4 days
    moved_last = SENT + 3 * H  # its last like
    since = [b - a for a, b in pairwise(at for at in quiet if at >= moved_last)]
    assert all(later >= earlier for earlier, later in pairwise(since))  # ever longer waits
    assert moved_last + 21 * D <= quiet[-1] < moved_last + 25 * D  # then never again
    latest = [s for s in snapshots(store) if s.remote_id == still_id][-1]
    assert latest.likes == 3  # the report's final count is the truth
