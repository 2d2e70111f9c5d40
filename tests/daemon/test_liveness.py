"""`kindling status` knows whether a daemon runs: the real `kindling run` in a process, its
heartbeat row in a real database, SIGSTOP, kill -9 and SIGTERM; exit code 0 running, 3 not."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from bot import __version__
from bot.daemon.heartbeat import Heartbeat
from bot.daemon.liveness import daemon_liveness, liveness_lines
from bot.daemon.systemd_notify import SystemdNotifier
from bot.store import migrate
from bot.store.engine import Store
from bot.store.tables import DaemonHeartbeatRow
from tests.daemon.test_scheduler import DEMO

HOST = socket.gethostname()
HEARTBEAT = 1.0  # seconds; 3 missed (3 s) is the threshold in these tests


def make_project(root: Path) -> Path:
    project = root / "project"
    (project / "campaigns").mkdir(parents=True)
    (project / "templates").mkdir()
    (project / "campaigns" / "demo.yaml").write_text(
        DEMO.replace("end: 2027-01-31", "end: 2099-01-31"), encoding="utf-8"
    )
    (project / "config.toml").write_text(
        f'[logging]\nlevel = "INFO"\n[daemon]\nheartbeat_seconds = {HEARTBEAT}\n'
        "missed_heartbeats = 3\n",
        encoding="utf-8",
    )
    return project


def environment(url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    env.pop("NOTIFY_SOCKET", None)
    if url:
        env["KINDLING_DATABASE_URL"] = url
    return env


def start(project: Path, log: Path, url: str | None = None) -> subprocess.Popen[str]:
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--dry-run"],
            cwd=project,
            env=environment(url),
            stdout=out,
            stderr=out,
            text=True,
        )


def status(project: Path, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "status", *args],
        cwd=project,
        env=environment(url),
        capture_output=True,
        text=True,
        timeout=60,
    )


def until(check: Callable[[], Any], what: str, timeout: float, log: Path | None = None) -> Any:
    """Poll `check` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"{what}: not within {timeout} s\n{tail}")


def answer(project: Path, code: int, url: str | None = None) -> dict[str, Any] | None:
    """`status --json` if it exits with `code`, else None."""
    done = status(project, "--json", url=url)
    assert done.returncode in (0, 3), done.stderr
    return json.loads(done.stdout) if done.returncode == code else None


def test_status_follows_the_daemon_through_sigstop_sigcont_and_kill_9(tmp_path):
    project, log = make_project(tmp_path), tmp_path / "run.log"
    assert status(project).returncode == 3  # never run: not running
    daemon = start(project, log)
    try:
        running = until(lambda: answer(project, 0), "status says running", 30, log)
        leader = running["daemon"]["leader"]
        assert (leader["host"], leader["pid"], leader["mode"]) == (HOST, daemon.pid, "dry-run")
        assert leader["version"] == __version__
        assert leader["every_seconds"] == HEARTBEAT
        text = status(project)
        assert text.returncode == 0, text.stdout[:300]
        first = text.stdout.splitlines()[0]
        assert first.startswith(f"running on {HOST} (pid {daemon.pid}) (dry run) since "), first
        assert re.search(r", last tick [0-3] s ago: dry run, nothing is sent: 1 campaign", first)

        daemon.send_signal(signal.SIGSTOP)  # alive, but its scheduler no longer ticks
        stale = until(lambda: answer(project, 3), "NOT RUNNING once stopped", 30, log)
        assert stale["daemon"]["last_seen"]["gone"] == "no heartbeat for over 3 s"
        assert stale["daemon"]["last_seen"]["last_tick_seconds_ago"] > 3
        line = status(project).stdout.splitlines()[0]
        assert line.startswith(f"NOT RUNNING: last seen {HOST} (pid {daemon.pid}) (dry run) at ")
        assert line.endswith("; no heartbeat for over 3 s)"), line

        daemon.send_signal(signal.SIGCONT)
        until(lambda: answer(project, 0), "running again after SIGCONT", 30, log)

        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=30)
        # The pid is gone on this host: no need to wait for the heartbeat to go stale.
        gone = status(project, "--json")
        assert gone.returncode == 3
        assert json.loads(gone.stdout)["daemon"]["last_seen"]["gone"] == f"pid {daemon.pid} is gone"
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGCONT)
            daemon.kill()
            daemon.wait()


def test_a_clean_stop_is_said_as_such(tmp_path):
    project, log = make_project(tmp_path), tmp_path / "run.log"
    daemon = start(project, log)
    try:
        until(lambda: answer(project, 0), "status says running", 30, log)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    assert daemon.returncode == 0
    stopped = status(project)
    assert stopped.returncode == 3
    assert stopped.stdout.splitlines()[0].endswith("; stopped cleanly)")
    assert "NOT RUNNING: last seen" in stopped.stdout


def test_on_postgresql_status_names_the_leader_and_the_standby(tmp_path, postgres_url):
    migrate.upgrade(postgres_url)
    project = make_project(tmp_path)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    first = start(project, logs[0], postgres_url)
    second = None
    try:
        until(lambda: answer(project, 0, postgres_url), "the first leads", 30, logs[0])
        second = start(project, logs[1], postgres_url)
        both = until(
            lambda: (r := answer(project, 0, postgres_url)) and r["daemon"]["standbys"] and r,
            "the second stands by",
            30,
            logs[1],
        )
        assert both["daemon"]["leader"]["pid"] == first.pid
        assert [s["pid"] for s in both["daemon"]["standbys"]] == [second.pid]
        lines = status(project, url=postgres_url).stdout.splitlines()
        assert lines[0].startswith(f"running on {HOST} (pid {first.pid}) (dry run)")
        assert lines[1].startswith(f"standing by: {HOST} (pid {second.pid}) (dry run), last tick")

        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
        taken = until(
            lambda: (
                (r := answer(project, 0, postgres_url))
                and r["daemon"]["leader"]["pid"] == second.pid
                and r
            ),
            "the standby leads",
            30,
            logs[1],
        )
        assert taken["daemon"]["standbys"] == []
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)


def _row(host: str, pid: int, tick: datetime, **fields: Any) -> DaemonHeartbeatRow:
    values: dict[str, Any] = {
        "host": host,
        "pid": pid,
        "version": "0.1.0",
        "mode": "live",
        "role": "leader",
        "activity": "live: 1 campaign(s) on x",
        "every_seconds": 10.0,
        "started_at": tick - timedelta(hours=1),
        "last_tick_at": tick,
    } | fields
    return DaemonHeartbeatRow(**values)


def test_liveness_from_rows_of_other_hosts_trusts_the_tick_alone(database_url):
    """Another host's pid cannot be checked from here: a fresh tick is running, a stale one not."""
    migrate.upgrade(database_url)
    store = Store(database_url)
    now = datetime.now(UTC)
    try:
        with store.write() as session:
            session.add(_row("elsewhere", 4_000_000, now - timedelta(seconds=25)))
            session.add(_row(HOST, 4_000_001, now - timedelta(seconds=40), role="standby"))
        alive = daemon_liveness(store, now, missed=3)
        assert alive["running"] and alive["leader"]["host"] == "elsewhere"
        assert alive["standbys"] == []  # this host's pid 4000001 does not exist
        assert liveness_lines(alive)[0].startswith(
            "running on elsewhere (pid 4000000) since "
        ) and liveness_lines(alive)[0].endswith("last tick 25 s ago: live: 1 campaign(s) on x")

        later = now + timedelta(seconds=6)  # 31 s since the tick: over 3 x 10 s
        stale = daemon_liveness(store, later, missed=3)
        assert not stale["running"]
        assert liveness_lines(stale) == [
            f"NOT RUNNING: last seen elsewhere (pid 4000000) at {now - timedelta(seconds=25):%Y-%m-%d %H:%M:%S}"
            " UTC (31 s ago; no heartbeat for over 30 s)"
        ]
        assert daemon_liveness(store, later, missed=4)["running"]  # the threshold is the setting
    finally:
        store.dispose()


def test_a_heartbeat_keeps_to_its_own_row_and_forgets_long_gone_daemons(database_url):
    migrate.upgrade(database_url)
    store = Store(database_url)
    now = datetime.now(UTC)
    try:
        with store.write() as session:
            session.add(_row("old", 1, now - timedelta(days=31)))
            session.add(_row("recent", 2, now - timedelta(days=2)))
        beat = Heartbeat(store, "live", 10.0, SystemdNotifier({}))
        beat.leading("live: 1 campaign(s) on x")
        with store.read() as session:
            hosts = sorted(r.host for r in session.scalars(select(DaemonHeartbeatRow)))
        assert hosts == sorted(["recent", HOST])  # the 31-day-old row is gone
        # The database replaced under the daemon: its row id now belongs to another daemon.
        with store.write() as session:
            session.execute(delete(DaemonHeartbeatRow))
            session.add(_row("elsewhere", 7, now, id=beat._row_id))
        beat.beat("leader", "live: 1 campaign(s) on x")
        with store.read() as session:
            rows = {r.host: r for r in session.scalars(select(DaemonHeartbeatRow))}
        assert rows["elsewhere"].last_tick_at == now  # not taken over
        assert rows[HOST].pid == os.getpid() and rows[HOST].role == "leader"
        beat.stopped()
        with store.read() as session:
            mine = session.get(DaemonHeartbeatRow, beat._row_id)
            assert mine is not None and mine.stopped_at is not None
    finally:
        store.dispose()


def test_status_before_any_daemon_ran_says_so(tmp_path):
    project = make_project(tmp_path)
    shown = status(project)
    assert shown.returncode == 3
    assert shown.stdout.splitlines()[0].startswith("NOT RUNNING: no database yet")
    assert not (project / "data").exists() or not any((project / "data").iterdir())
    upgraded = subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        cwd=project,
        env=environment(None),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    shown = status(project)
    assert shown.returncode == 3
    assert shown.stdout.splitlines()[0] == "NOT RUNNING: no daemon has run on this database yet"


def test_with_the_default_heartbeat_a_killed_daemon_is_not_running_within_a_minute(
    tmp_path, monkeypatch
):
    """The done-when of issue 17 with config.toml's defaults ([daemon] heartbeat every 10 s, 3
    missed): after kill -9, `kindling status` on this host says NOT RUNNING at once (the pid is
    gone), and seen from another machine (no pid to look at: PostgreSQL, another container)
    the heartbeat alone says so within a minute of the kill."""
    project, log = make_project(tmp_path), tmp_path / "run.log"
    (project / "config.toml").write_text('[logging]\nlevel = "INFO"\n', encoding="utf-8")
    env = environment() | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with log.open("a") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--dry-run"],
            cwd=project,
            env=env,
            stdout=out,
            stderr=out,
        )
    url = f"sqlite:///{project / 'data' / 'kindling.sqlite3'}"
    try:
        running = until(lambda: answer(project, 0), "status says running", 60, log)
        assert running["daemon"]["leader"]["every_seconds"] == 10.0
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=30)
        killed = time.monotonic()
        here = status(project)
        assert here.returncode == 3 and here.stdout.startswith("NOT RUNNING: last seen ")
        assert f"pid {daemon.pid} is gone" in here.stdout.splitlines()[0]

        monkeypatch.setattr(socket, "gethostname", lambda: "another-machine")
        store = Store(url)
        try:
            stale = until(
                lambda: not daemon_liveness(store, datetime.now(UTC), 3)["running"],
                "NOT RUNNING seen from another machine",
                60,
                log,
            )
            assert stale and time.monotonic() - killed < 60
            seen = daemon_liveness(store, datetime.now(UTC), 3)["last_seen"]
            assert seen["gone"] == "no heartbeat for over 30 s"
        finally:
            store.dispose()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
