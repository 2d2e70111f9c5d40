"""Engagement polling: metrics of the bot's own posts over time, and responses to them.

Only the daemon and this poller talk to adapters. One cycle (`EngagementPoller.run_cycle`):

1. **Metrics**: the live outbox rows that were sent and whose next snapshot is due under the
   decaying `Cadence` (by the post's age; with an `AdaptiveCadence`, less often once a post's
   counts stop moving, and not at all once still long enough: cadence.py) are polled in calls
   of `platform.metrics_batch` ids (X 100, Bluesky 25): exactly ceil(n / batch) calls for n
   due posts. Each call's answers are written at once, one `MetricSnapshotRow` per post (a time
   series, never overwritten), with the X read charge in the same transaction, so a stop
   part-way loses nothing: what was written stays, and the posts not reached are still due next
   cycle (and nothing is polled twice, as a post just snapshotted is not due). A cycle stops on
   X when the next call would take the month past the X budget, and on `RateLimited` until the
   reset time the network gave.
2. **Responses** (responses.py): mentions, replies and quotes since the cursor kept in
   `PollCursorRow`, each stored once and linked to the campaign target who wrote it and to the
   post of ours it answers.
3. **Listening** (listening.py): the targets' own posts, read from their feeds, that answer a
   supporter, quote, reply to the bot or carry the campaign's hashtags or links.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.campaign.model import Campaign
from bot.clock import Clock
from bot.config import XPrices
from bot.engagement.cadence import AdaptiveCadence
from bot.engagement.listening import Listener, ListenReport
from bot.engagement.metrics import (
    AUTH_RETRY,
    Cadence,
    DuePost,
    MetricsReport,
    Stillness,
    due_posts,
    poll_metrics,
)
from bot.engagement.responses import TargetRef, poll_responses, targets_by_handle
from bot.platforms.base import AuthFailed, Platform, PlatformError, RateLimited
from bot.publish.budget import Budget
from bot.store.engine import Store

__all__ = [
    "AdaptiveCadence",
    "Cadence",
    "CycleReport",
    "DuePost",
    "EngagementPoller",
    "ListenReport",
    "MetricsReport",
    "TargetRef",
    "due_posts",
    "poll_metrics",
    "poll_responses",
    "targets_by_handle",
]

log = logging.getLogger("kindling.engagement")

READING = {"mentions": "read mentions", "listen": "read the targets' posts"}


@dataclass
class CycleReport:
    at: datetime
    metrics: dict[str, MetricsReport] = field(default_factory=dict)
    responses: dict[str, int] = field(default_factory=dict)  # new responses per platform
    skipped: dict[str, str] = field(default_factory=dict)  # "x metrics": why not polled
    listened: dict[str, ListenReport] = field(default_factory=dict)  # targets' own feeds read


class EngagementPoller:
    """The daemon's engagement job: `run_cycle()` polls every platform's due metrics, then its
    responses (every `responses_every`), then listens to the targets' own feeds (every
    `listen_every`; None: not at all). A platform waiting out a rate limit is skipped, per kind
    of call (metrics, mentions and listening are limited separately), until its reset time."""

    def __init__(
        self,
        store: Store,
        platforms: Mapping[str, Platform],
        budget: Budget,
        prices: XPrices,
        campaigns_provider: Callable[[], Iterable[Campaign]],
        clock: Clock,
        *,
        cadence: Cadence | None = None,
        adaptive: AdaptiveCadence | None = None,
        responses_every: timedelta = timedelta(minutes=5),
        listen_every: timedelta | None = None,
        listen_pages: int = 3,
        listen_x_reads_per_day: int = 100,
        show_progress: bool = False,
    ) -> None:
        self.store = store
        self.platforms = platforms
        self.budget = budget
        self.prices = prices
        self.campaigns_provider = campaigns_provider
        self.clock = clock
        self.cadence = cadence or Cadence()
        self.adaptive = adaptive  # None: the fixed cadence
        self.stillness: dict[str, Stillness] = {}  # per platform, for the adaptive cadence
        self.every = {"mentions": responses_every, "listen": listen_every}
        self.listener = Listener(
            store,
            budget,
            prices.read,
            pages_per_pass=listen_pages,
            x_reads_per_day=listen_x_reads_per_day,
        )
        self.show_progress = show_progress
        self.paused_until: dict[tuple[str, str], datetime] = {}  # (platform, kind) -> reset
        self._last: dict[tuple[str, str], datetime] = {}

    def run_cycle(self) -> CycleReport:
        now = self.clock.now()
        report = CycleReport(now)
        campaigns: list[Campaign] = []
        for name, platform in self.platforms.items():
            rows = [] if self._waiting(name, "metrics", now, report) else self.due(name, now)
            if rows:
                result = poll_metrics(
                    self.store,
                    platform,
                    rows,
                    now,
                    budget=self.budget,
                    prices=self.prices,
                    show_progress=self.show_progress,
                )
                report.metrics[name] = result
                self._after_metrics(result)
            for kind in ("mentions", "listen"):
                if not self._due(name, kind, now, report):
                    continue
                campaigns = campaigns or list(self.campaigns_provider())
                try:
                    self._read(kind, platform, campaigns, now, report)
                except RateLimited as exc:
                    self.paused_until[(name, kind)] = exc.reset_at
                    report.skipped[f"{name} {kind}"] = f"rate limited: {exc.message}"
                except PlatformError as exc:
                    if isinstance(exc, AuthFailed):
                        self.paused_until[(name, kind)] = now + AUTH_RETRY
                    report.skipped[f"{name} {kind}"] = f"{type(exc).__name__}: {exc.message}"
                    log.warning("%s: cannot %s: %s", name, READING[kind], exc.message)
                else:
                    self._last[(name, kind)] = now
        return report

    def _due(self, name: str, kind: str, now: datetime, report: CycleReport) -> bool:
        every, last = self.every[kind], self._last.get((name, kind))
        if every is None or (last is not None and now - last < every):
            return False
        if self._waiting(name, kind, now, report):
            return False
        if name == "x":
            # Optional reads (listening) stop first; mentions while any headroom is left.
            plan = self.budget.read_plan(now)
            if plan.headroom <= 1e-9:
                report.skipped[f"{name} {kind}"] = "X budget: nothing left after planned posts"
                return False
            if kind == "listen" and not plan.optional:
                report.skipped[f"{name} {kind}"] = "X budget short: optional reads paused"
                return False
        return True

    def _read(
        self,
        kind: str,
        platform: Platform,
        campaigns: Sequence[Campaign],
        now: datetime,
        report: CycleReport,
    ) -> None:
        name = platform.name
        if kind == "mentions":
            report.responses[name] = poll_responses(
                self.store,
                platform,
                targets_by_handle(campaigns, name),
                now,
                read_price=self.prices.read if name == "x" else 0.0,
            )
            return
        listened = self.listener.listen(platform, campaigns, now)
        report.listened[name] = listened
        if listened.stopped:
            log.warning("%s: listening stopped: %s", name, listened.stopped)

    def due(self, platform: str, now: datetime) -> list[DuePost]:
        """Posts due a snapshot; on X the cadence is stretched when money runs short."""
        cadence = self.cadence
        if platform == "x":
            cadence = cadence.stretched(self.budget.read_plan(now).stretch)
        stillness = self.stillness.setdefault(platform, Stillness())
        return due_posts(self.store, now, cadence, platform, self.adaptive, stillness)

    def _waiting(self, name: str, kind: str, now: datetime, report: CycleReport) -> bool:
        until = self.paused_until.get((name, kind))
        if until is None:
            return False
        if now >= until:
            del self.paused_until[(name, kind)]
            return False
        report.skipped[f"{name} {kind}"] = f"waiting until {until:%Y-%m-%dT%H:%M:%SZ}"
        return True

    def _after_metrics(self, result: MetricsReport) -> None:
        if result.resume_at is not None:
            self.paused_until[(result.platform, "metrics")] = result.resume_at
        if result.stopped:
            log.warning(
                "%s: metrics cycle stopped after %d of %d due post(s): %s",
                result.platform,
                result.polled,
                result.due,
                result.stopped,
            )
        elif result.snapshots:
            log.info(
                "%s: %d metric snapshot(s) in %d call(s)",
                result.platform,
                result.snapshots,
                result.calls,
            )
