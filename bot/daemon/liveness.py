"""Is a daemon running? Read from the heartbeats, for `kindling status` and monitoring.

A daemon counts as running while its last tick is younger than `missed` of its own intervals
between ticks, it has not stopped cleanly, and (on this host) its pid still exists. The leader is
the running daemon that says so; on PostgreSQL, others may stand by.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect, select

from bot.store.engine import Store
from bot.store.tables import DaemonHeartbeatRow

# Exit codes of `kindling status`, for monitoring.
RUNNING, NOT_RUNNING = 0, 3
# Rows looked at: every daemon alive must be among the newest ticks.
RECENT_ROWS = 20


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True


def _why_gone(row: DaemonHeartbeatRow, now: datetime, missed: int, host: str) -> str | None:
    """None while the daemon of `row` is alive; else why it is not."""
    if row.stopped_at is not None:
        return "stopped cleanly"
    if row.host == host and not pid_exists(row.pid):
        return f"pid {row.pid} is gone"
    limit = timedelta(seconds=row.every_seconds * missed)
    if now - row.last_tick_at > limit:
        return f"no heartbeat for over {limit.total_seconds():g} s"
    return None


def _describe(row: DaemonHeartbeatRow, now: datetime, gone: str | None) -> dict[str, Any]:
    return {
        "host": row.host,
        "pid": row.pid,
        "version": row.version,
        "mode": row.mode,
        "role": row.role,
        "activity": row.activity,
        "started_at": row.started_at,
        "last_tick_at": row.last_tick_at,
        # Never negative: a tick may land between reading the clock and reading the row.
        "last_tick_seconds_ago": max(0.0, round((now - row.last_tick_at).total_seconds(), 1)),
        "stopped_at": row.stopped_at,
        "every_seconds": row.every_seconds,
        "gone": gone,
    }


def daemon_liveness(store: Store, now: datetime, missed: int) -> dict[str, Any]:
    """{"running": bool, "leader": ..., "standbys": [...], "last_seen": ...} from the heartbeats."""
    tables = inspect(store.engine).get_table_names()
    if DaemonHeartbeatRow.__tablename__ not in tables:
        note = (
            "the database has no heartbeats table: run `kindling db upgrade`"
            if tables
            else "no daemon has run on this database yet"
        )
        return {"running": False, "leader": None, "standbys": [], "last_seen": None, "note": note}
    with store.read() as session:
        rows = session.scalars(
            select(DaemonHeartbeatRow)
            .order_by(DaemonHeartbeatRow.last_tick_at.desc())
            .limit(RECENT_ROWS)
        ).all()
    host = socket.gethostname()
    described = [_describe(row, now, _why_gone(row, now, missed, host)) for row in rows]
    alive = [d for d in described if d["gone"] is None]
    leaders = [d for d in alive if d["role"] == "leader"]
    return {
        "running": bool(leaders),
        "leader": leaders[0] if leaders else None,
        "standbys": [d for d in alive if d["role"] == "standby"],
        "last_seen": described[0] if described else None,
    }


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def _who(d: dict[str, Any]) -> str:
    dry = " (dry run)" if d["mode"] == "dry-run" else ""
    return f"{d['host']} (pid {d['pid']}){dry}"


def liveness_lines(liveness: dict[str, Any]) -> list[str]:
    """The lines `status` opens with: running on HOST (pid N) since ..., or NOT RUNNING."""
    leader, standbys, seen = liveness["leader"], liveness["standbys"], liveness["last_seen"]
    if leader is not None:
        lines = [
            f"running on {_who(leader)} since {leader['started_at']:%Y-%m-%d %H:%M:%S} UTC, "
            f"last tick {_ago(leader['last_tick_seconds_ago'])}: {leader['activity']}"
        ]
    elif seen is None:
        lines = [f"NOT RUNNING: {liveness.get('note') or 'no daemon has run on this database yet'}"]
    else:
        lines = [
            f"NOT RUNNING: last seen {_who(seen)} at {seen['last_tick_at']:%Y-%m-%d %H:%M:%S} "
            f"UTC ({_ago(seen['last_tick_seconds_ago'])}; {seen['gone'] or 'standing by'})"
        ]
    lines += [
        f"standing by: {_who(s)}, last tick {_ago(s['last_tick_seconds_ago'])}" for s in standbys
    ]
    return lines
