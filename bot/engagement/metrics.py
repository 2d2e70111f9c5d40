"""Metrics of the bot's own posts over time: which are due under the decaying `Cadence` (or the
adaptive one of cadence.py, which rides on it), and polling them in batches (see poller.py's
docstring for the cycle they are part of)."""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import case, func, insert, select

from bot.config import XPrices
from bot.engagement.cadence import AdaptiveCadence, Counts, Reading, still_for
from bot.platforms.base import AuthFailed, Metrics, Platform, PlatformError, RateLimited, Rejected
from bot.progress import track
from bot.publish.budget import Budget, Cost, Spend
from bot.publish.states import OutboxState
from bot.store.engine import Store
from bot.store.tables import MetricSnapshotRow, OutboxRow, table

log = logging.getLogger("kindling.engagement")

AUTH_RETRY = timedelta(minutes=15)
ZERO = timedelta(0)


@dataclass(frozen=True)
class Cadence:
    """How often a post's metrics are snapshotted, by its age: `stages` are (until age, every),
    in increasing age; a post older than the last stage's age is not polled any more."""

    stages: tuple[tuple[timedelta, timedelta], ...] = (
        (timedelta(hours=6), timedelta(minutes=15)),
        (timedelta(days=2), timedelta(hours=1)),
        (timedelta(days=30), timedelta(days=1)),
    )

    def __post_init__(self) -> None:
        ages = [until for until, _ in self.stages]
        if not self.stages or ages != sorted(set(ages)):
            raise ValueError("cadence stages must be given in increasing age, without repeats")
        if any(every <= timedelta(0) for _, every in self.stages):
            raise ValueError("cadence intervals must be positive")

    @classmethod
    def from_minutes(cls, stages: Iterable[tuple[float, float]]) -> Cadence:
        """From (until hours, every minutes) pairs, as config.toml gives them."""
        return cls(tuple((timedelta(hours=h), timedelta(minutes=m)) for h, m in stages))

    @property
    def stop_after(self) -> timedelta:
        return self.stages[-1][0]

    def interval(self, age: timedelta) -> timedelta | None:
        """The snapshot interval for a post of `age`, or None once it is no longer polled."""
        for until, every in self.stages:
            if age <= until:
                return every
        return None

    def stretched(self, factor: float) -> Cadence:
        """The same stages read `factor` times less often (the budget's saving when money runs
        short); posts stop being read at the same age. A factor of 1 or less: unchanged."""
        if factor <= 1:
            return self
        return Cadence(tuple((until, every * factor) for until, every in self.stages))

    def read_times(
        self, sent_at: datetime, first_cycle: datetime, cycle: timedelta, until: datetime
    ) -> list[datetime]:
        """When a poller whose cycles run at `first_cycle` + k * `cycle` reads a post sent at
        `sent_at`, before `until`: `is_due` asked at each cycle, as the poller asks it."""
        if cycle <= timedelta(0):
            raise ValueError("the cycle must be positive")
        end = min(until, sent_at + self.stop_after + cycle)
        k = max(0, math.ceil((sent_at - first_cycle) / cycle))
        at, last, times = first_cycle + k * cycle, None, []
        while at < end:
            every = self.interval(at - sent_at)
            if every is None:
                break
            if self.is_due(sent_at, last, at):
                times.append(at)
                last = at
                age = at - sent_at  # no later stage reads sooner than its own interval
                soonest = min(e for until, e in self.stages if until >= age)
                k = max(k + 1, math.ceil((last + soonest - first_cycle) / cycle))
            else:
                k += 1
            at = first_cycle + k * cycle
        return times

    def is_due(self, sent_at: datetime, last_at: datetime | None, now: datetime) -> bool:
        every = self.interval(now - sent_at)
        if every is None:
            return False
        return last_at is None or now - last_at >= every


class DuePost(NamedTuple):
    outbox_id: int
    campaign_id: str
    platform: str
    remote_id: str
    sent_at: datetime
    last_at: datetime | None  # the latest snapshot, if any


@dataclass
class MetricsReport:
    platform: str
    due: int = 0
    calls: int = 0
    polled: int = 0  # posts asked about
    snapshots: int = 0  # rows written (posts the network still shows)
    usd: float = 0.0
    stopped: str | None = None  # why the cycle stopped early
    resume_at: datetime | None = None  # after a rate limit: not before then


def due_posts(
    store: Store,
    now: datetime,
    cadence: Cadence | None = None,
    platform: str | None = None,
    adaptive: AdaptiveCadence | None = None,
    stillness: Stillness | None = None,
) -> list[DuePost]:
    """Sent live posts whose next snapshot is due, the longest-waiting first (never polled
    first), so a cycle stopped by the budget or a rate limit starts with the rest next time.
    With `adaptive`, a post due under `cadence` is read only if its recent snapshots say so
    (`stillness`: what is known of them from earlier calls, kept by a long-lived caller)."""
    cadence = cadence or Cadence()
    last = (
        select(func.max(MetricSnapshotRow.at))
        .where(MetricSnapshotRow.outbox_id == OutboxRow.id)
        .correlate(OutboxRow)
        .scalar_subquery()
    )
    # A repost or like has no counts of its own: what it did shows on the amplified post.
    measured = case(
        (OutboxRow.action.in_(("repost", "like")), OutboxRow.subject_id),
        else_=OutboxRow.remote_id,
    )
    query = select(
        OutboxRow.id,
        OutboxRow.campaign_id,
        OutboxRow.platform,
        measured,
        OutboxRow.sent_at,
        last,
    ).where(
        OutboxRow.mode == "live",
        OutboxRow.state == OutboxState.SENT,
        OutboxRow.remote_id.is_not(None),
        OutboxRow.sent_at >= now - cadence.stop_after,
    )
    if platform is not None:
        query = query.where(OutboxRow.platform == platform)
    with store.read() as session:
        rows = session.execute(query).all()
    due = [
        DuePost(*row)
        for row in rows
        if row[4] is not None and row[4] <= now and cadence.is_due(row[4], row[5], now)
    ]
    if adaptive is not None:
        still = (stillness or Stillness()).of(store, due, adaptive.history)
        due = [
            p
            for p in due
            if adaptive.due(cadence, p.sent_at, p.last_at, still.get(p.outbox_id, ZERO), now)
        ]
    due.sort(key=lambda p: (p.last_at is not None, p.last_at or p.sent_at, p.outbox_id))
    return due


class Stillness:
    """How long each post's counts have been still (`still_for` of its latest snapshots), kept
    by the time of its latest snapshot: the store is asked again only about posts read since."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[datetime, timedelta]] = {}

    def of(self, store: Store, posts: Sequence[DuePost], history: int) -> dict[int, timedelta]:
        known = self._known
        stale = [
            p.outbox_id for p in posts if p.last_at and known.get(p.outbox_id, (0,))[0] != p.last_at
        ]
        readings = recent_readings(store, stale, history)
        for outbox_id in stale:
            found = readings.get(outbox_id, [])
            if found:
                known[outbox_id] = (found[-1].at, still_for(found))
        # Posts not asked about now were read since (or are no longer tracked): forget them.
        self._known = {p.outbox_id: known[p.outbox_id] for p in posts if p.outbox_id in known}
        return {outbox_id: still for outbox_id, (_, still) in self._known.items()}


def recent_readings(
    store: Store, outbox_ids: Sequence[int], history: int
) -> dict[int, list[Reading]]:
    """The latest `history` snapshots of each post, in time order (one query per 500 posts)."""
    s = MetricSnapshotRow
    rank = func.row_number().over(partition_by=s.outbox_id, order_by=s.at.desc()).label("rank")
    found: dict[int, list[Reading]] = defaultdict(list)
    for start in range(0, len(outbox_ids), 500):
        ranked = (
            select(s.outbox_id, s.at, s.likes, s.reposts, s.replies, s.quotes, rank)
            .where(s.outbox_id.in_(outbox_ids[start : start + 500]))
            .subquery()
        )
        c = ranked.c
        query = (
            select(c.outbox_id, c.at, c.likes, c.reposts, c.replies, c.quotes)
            .where(c.rank <= history)
            .order_by(c.outbox_id, c.at)
        )
        with store.read() as session:
            for outbox_id, at, *counts in session.execute(query):
                found[outbox_id].append(Reading(at, Counts(*counts)))
    return found


def poll_metrics(
    store: Store,
    platform: Platform,
    rows: Sequence[DuePost],
    now: datetime,
    *,
    budget: Budget | None = None,
    prices: XPrices | None = None,
    show_progress: bool = False,
) -> MetricsReport:
    """Snapshot `rows` in calls of `platform.metrics_batch`; see the module docstring. X reads
    are charged `prices.own_read` per post the answer holds, and checked against `budget`."""
    report = MetricsReport(platform.name, due=len(rows))
    size = max(1, int(platform.metrics_batch))
    price = prices.own_read if prices is not None and platform.name == "x" else 0.0
    # Reads spend only what the month's planned posts leave (Budget.headroom).
    left = budget.headroom(platform.name, now) if budget is not None and price else 0.0
    batches = range(0, len(rows), size)
    starts: Iterable[int] = batches
    if show_progress:  # `kindling engagement poll` on a terminal (a backfill), not the daemon
        starts = track(batches, f"{platform.name}: metrics", total=len(batches))
    for start in starts:
        batch = list(rows[start : start + size])
        if budget is not None and price:
            affordable = math.floor(left / price + 1e-9)
            if affordable < len(batch):
                batch = batch[: max(affordable, 0)]
                report.stopped = (
                    f"{platform.name} monthly budget reached: ${max(left, 0):.3f} left for reads after "
                    f"the month's planned posts (${budget.monthly_usd:.2f} budget); "
                    f"{len(rows) - report.polled - len(batch)} post(s) not polled this cycle "
                    f"(${price:.3f} a read)"
                )
                if not batch:
                    break
        try:
            found = platform.metrics([row.remote_id for row in batch])
        except RateLimited as exc:
            report.stopped = f"rate limited: {exc.message}"
            report.resume_at = exc.reset_at
            break
        except Rejected as exc:  # this batch only (e.g. a malformed id): the others go on
            log.warning("%s: metrics of %d post(s) refused: %s", platform.name, len(batch), exc)
            continue
        except PlatformError as exc:
            report.stopped = f"{type(exc).__name__}: {exc.message}"
            if isinstance(exc, AuthFailed):
                report.resume_at = now + AUTH_RETRY
            break
        report.calls += 1
        report.polled += len(batch)
        usd = _write_snapshots(store, batch, found, now, price)
        report.snapshots += len({m.remote_id for m in found} & {r.remote_id for r in batch})
        report.usd += usd
        left -= usd
        if report.stopped:
            break
    return report


def _write_snapshots(
    store: Store, batch: Sequence[DuePost], found: Sequence[Metrics], now: datetime, price: float
) -> float:
    """One transaction: a snapshot per post the answer holds, and the charge per campaign."""
    by_remote = {row.remote_id: row for row in batch}
    snapshots: list[dict[str, Any]] = []
    charged: defaultdict[str, int] = defaultdict(int)
    seen: set[str] = set()
    for metrics in found:
        row = by_remote.get(metrics.remote_id)
        if row is None or metrics.remote_id in seen:
            continue  # not asked for, or twice in one answer: one snapshot per post per cycle
        seen.add(metrics.remote_id)
        snapshots.append(
            {
                "outbox_id": row.outbox_id,
                "platform": row.platform,
                "remote_id": row.remote_id,
                "at": now,
                "likes": metrics.likes,
                "reposts": metrics.reposts,
                "replies": metrics.replies,
                "quotes": metrics.quotes,
                "impressions": metrics.impressions,
                "bookmarks": metrics.bookmarks,
            }
        )
        charged[row.campaign_id] += 1
    spend = [
        Spend(batch[0].platform, campaign_id, Cost("own_read", count * price), now)
        for campaign_id, count in sorted(charged.items())
        if price
    ]
    with store.write() as session:
        if snapshots:
            session.execute(insert(table(MetricSnapshotRow)), snapshots)
        Budget.record(session, spend)
    return sum(s.cost.usd for s in spend)
