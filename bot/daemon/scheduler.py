"""`kindling run`: APScheduler drives planning, publishing, reconciliation and reloads.

The outbox is the source of truth; the scheduler only says when to look at it (jobs live in
memory, nothing is pickled). Each platform publishes from its own job, so a platform waiting out
a rate limit or an outage never holds up another.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from bot import events
from bot.alerts.dispatch import Alerts, start_alerts
from bot.checks.registry import CampaignRegistry
from bot.checks.run import image_cache
from bot.clock import AcceleratedClock, Clock, SystemClock
from bot.config import Config
from bot.daemon.heartbeat import HANG_HOOK, Heartbeat, hang_when
from bot.daemon.leader import LeaderLock
from bot.daemon.parts import amplify_runner, engagement_poller, month_outlook, weekly_reports
from bot.daemon.rows import has_history, log_fields, record_platform_state
from bot.daemon.start_summary import activity_line, summary_lines
from bot.daemon.systemd_notify import SystemdNotifier
from bot.platforms.base import AuthFailed, Platform, PlatformError
from bot.platforms.factory import make_platform
from bot.problems import ProblemsFound
from bot.publish.budget import Budget
from bot.publish.outbox import Outbox, OutboxState
from bot.publish.timeline import planned_posts
from bot.store.engine import Store

log = logging.getLogger("kindling.daemon")

# Slots enter the outbox this far ahead (so `status` shows them and a reload can cancel them).
# Downtime shorter than this leaves its slots in the outbox, where they are recorded as missed.
PLAN_AHEAD = timedelta(hours=3)
AUTH_RETRY = timedelta(minutes=15)


@dataclass(frozen=True)
class Job:
    """One recurring job: APScheduler stores `id` and calls `run(*args)` every `every_seconds`."""

    id: str
    run: Callable[..., object]
    every_seconds: float
    args: tuple[str, ...] = ()
    at_once: bool = False  # first run now rather than after one interval


class Daemon:
    alerts: Alerts | None = None  # from start() to stop()

    def __init__(
        self,
        config: Config,
        *,
        dry_run: bool,
        clock: Clock | None = None,
        platforms: Mapping[str, Platform] | None = None,
        tick_seconds: float = 0.25,
        plan_every: timedelta = timedelta(minutes=10),
        reconcile_every: timedelta = timedelta(minutes=1),
        reload_every: timedelta = timedelta(seconds=2),
        auth_retry: timedelta = AUTH_RETRY,
        only: list[Path] | None = None,
        notifier: SystemdNotifier | None = None,
        engagement_every: timedelta | None = None,
    ) -> None:
        self.config = config
        self.dry_run = dry_run
        self.clock = clock or SystemClock()
        self.store = Store(config.database)
        self.registry = CampaignRegistry(config, only=only)
        self.budget = Budget(self.store, config.settings.x.monthly_budget_usd)
        self.outbox = Outbox(
            self.store, "dry-run" if dry_run else "live", self.budget, config.settings.x.prices
        )
        self.leader = LeaderLock(self.store)
        beat_every = config.settings.daemon.heartbeat_seconds
        self.heartbeat = Heartbeat(self.store, self.outbox.mode, beat_every, notifier)
        self._given_platforms = dict(platforms or {})
        self.platforms: dict[str, Platform] = {}
        self.paused_until: dict[str, datetime] = {}
        self._next_due: dict[str, datetime | None] = {}
        self.stop_event = threading.Event()
        self.tick_seconds = tick_seconds
        self.plan_every = plan_every
        self.reconcile_every, self.reload_every = reconcile_every, reload_every
        self.scheduler: BackgroundScheduler | None = None
        self.auth_retry = auth_retry
        self.amplifier = amplify_runner(
            config, self.store, self.outbox, self.budget, self.platforms
        )
        self.engagement = engagement_poller(
            config, self.store, self.budget, self.platforms, self.registry, self.clock
        )
        self.weekly = weekly_reports(config, self.store, self.registry, self.clock)
        cycle = engagement_every or timedelta(seconds=config.settings.engagement.cycle_seconds)
        self.engagement_every = cycle
        self.outlook = month_outlook(config, self.store, self.budget, self.clock, cycle)

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Take the leader lock, load campaigns, connect platforms, reconcile, plan, schedule."""
        if not self.leader.acquire(standby=self.stop_event, on_wait=self._standing_by):
            return  # stopped while standing by (PostgreSQL: another daemon leads)
        self.alerts = start_alerts(self.config, self.store, self.clock)
        self.outbox.failures.alert_after = self.config.settings.alerts.failed_posts_in_a_row
        try:
            self._prepare()
            self.heartbeat.tell_if_predecessor_crashed()
        except BaseException:
            self.alerts.close()
            self.leader.release()
            raise
        if isinstance(self.clock, AcceleratedClock):
            self.clock.begin()  # a held clock runs from the first plan, not from the command line
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=len(self.platforms) + 5)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
            timezone="UTC",
        )
        for job in self._jobs():
            at_once = {"next_run_time": datetime.now(UTC)} if job.at_once else {}
            scheduler.add_job(
                job.run,
                "interval",
                seconds=job.every_seconds,
                args=list(job.args),
                id=job.id,
                replace_existing=True,
                **at_once,
            )
        hang_file = os.environ.get(HANG_HOOK)
        if hang_file:
            scheduler.add_listener(self._hang_hook(Path(hang_file)), EVENT_JOB_SUBMITTED)
        scheduler.start()
        self.scheduler = scheduler
        for line in summary_lines(
            self.registry.campaigns(), self.platforms, self.clock.now(), self.config.settings
        ):
            log.info("%s", line)
        log.info("kindling running (%s)", self.activity())
        self.heartbeat.leading(self.activity())

    def _prepare(self) -> None:
        self.store.require_migrated()
        problems = self.registry.load()
        if problems:
            raise ProblemsFound(problems)
        self._connect_platforms()
        for name in self.platforms:
            self.reconcile(name)
        self.plan()

    def _jobs(self) -> list[Job]:
        """Every recurring job, with ids that stay the same across restarts."""
        settings = self.config.settings
        jobs = [
            Job("heartbeat", self.beat, self.heartbeat.every_seconds),
            Job("plan", self.plan, self.plan_every.total_seconds()),
            Job("reload", self.reload, self.reload_every.total_seconds()),
            Job("leadership", self.check_leadership, 5),
            # Rows added by another process (`kindling approve`, `kindling post`) are noticed here.
            Job("outbox-watch", self.notice_new_rows, 15),
        ]
        if not self.dry_run:
            # Metrics of the bot's own posts and responses from targets (live posts only).
            every = self.engagement_every.total_seconds()
            jobs.append(Job("engagement", self.engagement.run_cycle, every))
            if settings.report.weekly_email:  # a dry run must not take a week's report
                jobs.append(Job("weekly-report", self.weekly.run, self.weekly.every_seconds))
        if any(active.loaded.campaign.amplify for active in self.registry.campaigns()):
            minutes = settings.amplify.discovery_every_minutes
            jobs.append(Job("amplify", self.amplify, minutes * 60, at_once=True))
        for name in self.platforms:
            jobs.append(Job(f"publish-{name}", self.publish_due, self.tick_seconds, (name,)))
            every = self.reconcile_every.total_seconds()
            jobs.append(Job(f"reconcile-{name}", self.reconcile, every, (name,)))
        return jobs

    def stop(self) -> None:
        """Finish the call in flight, then stop; every state change is already committed."""
        self.heartbeat.stopping()
        self.stop_event.set()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        self.heartbeat.stopped()
        if self.alerts is not None:
            self.alerts.close()
        self.leader.release()
        self.store.dispose()
        log.info("kindling stopped")

    def run(self, until: datetime | None = None, handle_signals: bool = True) -> None:
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop_event.set())
        self.start()
        try:
            while not self.stop_event.wait(0.2):
                if until is not None and self.clock.now() >= until:
                    log.info("reached --until %s", until.isoformat())
                    break
        finally:
            self.stop()

    # -- jobs ----------------------------------------------------------------------------------

    def beat(self) -> None:
        """The scheduler is alive: tell the database (`kindling status`) and systemd's watchdog."""
        self.heartbeat.beat("leader", self.activity())

    def activity(self) -> str:
        """What the daemon is doing, in one line (systemd's STATUS=, `kindling status`)."""
        return activity_line(
            self.dry_run,
            len(self.registry.campaigns()),
            sorted(self.platforms),
            self._next_due,
            sorted(self.paused_until),
        )

    def _standing_by(self) -> None:
        self.heartbeat.standing_by("standing by: another `kindling run` leads on this database")

    def _hang_hook(self, trigger: Path) -> Callable[[JobSubmissionEvent], None]:
        """Tests only: the scheduler's thread calls its listeners itself, so this one hangs it."""
        return partial(hang_when, trigger, self.stop_event)

    def plan(self) -> None:
        now = self.clock.now()
        for active in self.registry.campaigns():
            # After a restart, slots still inside their allowed delay are planned (and posted).
            look_back = max(
                (timedelta(minutes=m.max_delay_minutes) for m in active.loaded.campaign.messages),
                default=timedelta(0),
            )
            start = now - look_back if has_history(self.store, active.id, self.outbox.mode) else now
            try:
                posts = planned_posts(
                    active,
                    start,
                    now + PLAN_AHEAD,
                    self.config.settings,
                    image_cache(self.config),
                )
            except ValueError as exc:
                log.error("cannot plan campaign '%s': %s", active.id, exc)
                continue
            self.outbox.budgets_by_campaign[active.id] = active.loaded.campaign.x_budget_usd
            posts = [p for p in posts if p.slot.platform in self.platforms]
            inserted, cancelled = self.outbox.sync(active.id, posts, start, now + PLAN_AHEAD, now)
            for name in self.platforms:
                self._refresh_next_due(name)
            if inserted or cancelled:
                log.info(
                    "planned campaign '%s': %d new slot(s), %d cancelled",
                    active.id,
                    inserted,
                    cancelled,
                )
        self.outlook.refresh(self.registry.campaigns(), now)  # the X budget's reservation

    def amplify(self) -> None:
        """One discovery pass: supporters' posts found, judged, and planned into the outbox."""
        self.amplifier.run(self.registry.campaigns(), self.clock.now())
        self.notice_new_rows()

    def notice_new_rows(self) -> None:
        for name in self.platforms:
            self._refresh_next_due(name)

    def check_leadership(self) -> None:
        if not self.leader.still_held():
            log.error(
                "lost the scheduler lock (the database connection holding it is gone): stopping, "
                "so that only one daemon posts; restart to stand by or lead again"
            )
            self.stop_event.set()

    def reload(self) -> None:
        if self.registry.reload():
            self.outlook.stale = True
            self.plan()
            self.amplifier.withdraw_blocked(self.registry.campaigns(), self.clock.now())
            self.notice_new_rows()

    def publish_due(self, name: str) -> None:
        platform = self.platforms[name]
        now = self.clock.now()
        paused = self.paused_until.get(name)
        if paused is not None and now < paused:
            return
        # The earliest planned slot is known in memory, so an idle tick touches no database.
        next_due = self._next_due.get(name)
        if next_due is None or now < next_due:
            return
        try:
            self._publish_rows(name, platform, now)
        finally:
            self._refresh_next_due(name)

    def _refresh_next_due(self, name: str) -> None:
        self._next_due[name] = self.outbox.next_due_at(name)

    def _publish_rows(self, name: str, platform: Platform, now: datetime) -> None:
        for row in self.outbox.due(name, now):
            if self.stop_event.is_set():
                return
            outcome = self.outbox.publish(row, platform, self.clock.now())
            if outcome.state == OutboxState.SENT and self.paused_until.pop(name, None) is not None:
                self._record_state(name, "ok", "posting again", None)
                log.info("%s: posting again", name)
            if outcome.state in (OutboxState.FAILED, OutboxState.UNCONFIRMED):
                log.warning(
                    "post %s", outcome.state, extra=log_fields(row, outcome.state, outcome.reason)
                )
            if outcome.auth_failed:
                self._pause(name, self.clock.now() + self.auth_retry, "failed", outcome.reason)
                log.error(
                    "%s: AUTHENTICATION FAILED (%s): %s is paused; other platforms continue",
                    name,
                    outcome.reason,
                    name,
                )
                return
            if outcome.pause_until is not None:
                self._pause(name, outcome.pause_until, "ok", outcome.reason)
                log.warning(
                    "%s: rate limited until %s: %s waits; other platforms continue",
                    name,
                    outcome.pause_until.isoformat(),
                    name,
                )
                return

    def reconcile(self, name: str) -> None:
        counts = self.outbox.reconcile(self.platforms[name], self.clock.now())
        if counts["planned"]:
            self._refresh_next_due(name)
        if any(counts.values()):
            log.info(
                "%s: reconciled %s", name, ", ".join(f"{k} {v}" for k, v in counts.items() if v)
            )

    # -- helpers -------------------------------------------------------------------------------

    def _connect_platforms(self) -> None:
        wanted = {
            p for active in self.registry.campaigns() for p in active.loaded.campaign.platforms
        }
        for name in sorted(wanted):
            platform = self._given_platforms.get(name) or make_platform(
                name, self.config, self.dry_run, self.clock
            )
            self.platforms[name] = platform
            try:
                account = platform.check_account()
            except AuthFailed as exc:
                self._pause(name, self.clock.now() + self.auth_retry, "failed", exc.message)
                log.error(
                    "%s: AUTHENTICATION FAILED: %s: %s is paused; other platforms continue",
                    name,
                    exc.message,
                    name,
                )
                continue
            except PlatformError as exc:  # unreachable, rate limited: it must not stop the others
                log.warning("%s: account check failed: %s", name, exc)
                continue
            self._record_state(name, "ok", f"account {account.handle}", None)

    def _pause(self, name: str, until: datetime, auth: str, detail: str | None) -> None:
        self.paused_until[name] = until
        self._record_state(name, auth, detail, until)
        if auth == "failed":
            events.publish(events.PlatformPausedForAuth(name, detail or "credentials refused"))

    def _record_state(
        self, name: str, auth: str, detail: str | None, until: datetime | None
    ) -> None:
        now = self.clock.now()
        record_platform_state(self.store, now, self.outbox.mode, name, auth, detail, until)
