"""The daemon's pulse: its row in `daemon_heartbeats` and systemd's notifications, beaten together.

Each beat comes from a scheduler job (or, standing by, from the leader lock's polling loop), so a
scheduler that hangs stops both: `kindling status` sees the tick go stale, and systemd's watchdog
(WATCHDOG=1 no longer sent) restarts the service. Times are the wall clock's, whatever clock the
daemon plans with (`--speed`), because `status` compares them with its own.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot import __version__, events
from bot.daemon.systemd_notify import SystemdNotifier
from bot.store.engine import Store
from bot.store.errors import StoreError
from bot.store.tables import DaemonHeartbeatRow

log = logging.getLogger("kindling.heartbeat")

# Rows of daemons gone this long are deleted when a daemon starts.
FORGET_AFTER = timedelta(days=30)
# Tests only: once the file this names exists, the scheduler's own thread blocks until the daemon
# stops (a hung scheduler loop: no job runs, no heartbeat, no WATCHDOG=1).
HANG_HOOK = "KINDLING_TEST_HANG_SCHEDULER_FILE"


class Heartbeat:
    def __init__(
        self, store: Store, mode: str, every_seconds: float, notifier: SystemdNotifier | None
    ) -> None:
        """`notifier`: systemd's, from this process's environment, unless one is given."""
        self.store = store
        self.mode = mode
        self.notifier = notifier = notifier or SystemdNotifier()
        watchdog = notifier.watchdog_seconds
        # systemd recommends pinging at half the watchdog interval.
        self.every_seconds = min(every_seconds, watchdog / 2) if watchdog else every_seconds
        self.started_at = datetime.now(UTC)
        self.activity = "starting"
        self._row_id: int | None = None
        self._told_ready = False
        self._failing = False

    def standing_by(self, activity: str) -> None:
        """A standby (PostgreSQL) has started as far as systemd is concerned: ready, waiting."""
        self._ready(activity)
        self.beat("standby", activity)

    def leading(self, activity: str) -> None:
        """Planned and scheduled: READY=1 (unless told standing by), and the row says leader."""
        self._ready(activity)
        self.beat("leader", activity)

    def beat(self, role: str, activity: str) -> None:
        """One tick: WATCHDOG=1 and the new STATUS= to systemd, then the row's last tick."""
        self.notifier.watchdog()
        if activity != self.activity:
            self.notifier.status(activity)
            self.activity = activity
        self._write(role, stopped=False)

    def stopping(self) -> None:
        self.notifier.stopping("stopping: finishing the call in flight")

    def stopped(self) -> None:
        """A clean stop: the row says so, and `status` says "stopped" rather than "gone"."""
        if self._row_id is not None:
            self._write(None, stopped=True)

    def tell_if_predecessor_crashed(self) -> events.RestartedAfterCrash | None:
        """About to lead: if the daemon that led before did not stop cleanly (its row has no
        `stopped_at`: killed, crashed, or its machine went down), raise RestartedAfterCrash.
        Called once the leader lock is held, so that daemon is gone. Never fails the start."""
        try:
            with self.store.read() as session:
                query = select(DaemonHeartbeatRow).where(DaemonHeartbeatRow.role == "leader")
                if self._row_id is not None:  # this process's own row, standing by until now
                    query = query.where(DaemonHeartbeatRow.id != self._row_id)
                previous = session.scalars(
                    query.order_by(DaemonHeartbeatRow.last_tick_at.desc()).limit(1)
                ).first()
        except (SQLAlchemyError, StoreError) as exc:
            log.warning("cannot tell whether the previous daemon stopped cleanly: %s", exc)
            return None
        if previous is None or previous.stopped_at is not None:
            return None
        event = events.RestartedAfterCrash(previous.host, previous.pid, previous.last_tick_at)
        log.warning(
            "the previous daemon (pid %d on %s, last seen %s) did not stop cleanly",
            previous.pid,
            previous.host,
            previous.last_tick_at.isoformat(timespec="seconds"),
        )
        events.publish(event)
        return event

    def _ready(self, activity: str) -> None:
        if not self._told_ready:
            self.notifier.ready(activity)
            self.activity = activity
            self._told_ready = True

    def _write(self, role: str | None, *, stopped: bool) -> None:
        now = datetime.now(UTC)
        try:
            with self.store.write() as session:
                row = self._own_row(session, now)
                row.last_tick_at, row.activity = now, self.activity
                row.role = role or row.role
                row.stopped_at = now if stopped else None
                session.add(row)
                session.flush()
                self._row_id = row.id
        except (SQLAlchemyError, StoreError) as exc:
            # The database may be back at the next beat; posting does not depend on this row.
            if not self._failing:
                log.warning("cannot write the daemon's heartbeat: %s", exc)
            self._failing = True
        else:
            self._failing = False

    def _own_row(self, session: Session, now: datetime) -> DaemonHeartbeatRow:
        """This process's row; made (forgetting long-gone daemons) at the first beat, and again
        if the database was replaced under the daemon (the id is then someone else's)."""
        if self._row_id is not None:
            row = session.get(DaemonHeartbeatRow, self._row_id)
            if row is not None and (row.pid, row.started_at) == (os.getpid(), self.started_at):
                return row
        forgotten = DaemonHeartbeatRow.last_tick_at < now - FORGET_AFTER
        session.execute(delete(DaemonHeartbeatRow).where(forgotten))
        return self._new_row(now)

    def _new_row(self, now: datetime) -> DaemonHeartbeatRow:
        return DaemonHeartbeatRow(
            host=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            mode=self.mode,
            role="standby",
            activity=self.activity,
            every_seconds=self.every_seconds,
            started_at=self.started_at,
            last_tick_at=now,
        )


def hang_when(trigger: Path, stop: threading.Event, _event: object) -> None:
    """A scheduler listener (see HANG_HOOK): blocks its caller while `trigger` exists."""
    if trigger.exists():
        log.warning("test hook %s: the scheduler loop hangs until the daemon stops", HANG_HOOK)
        stop.wait()
