"""systemd integration: the real `kindling run` speaks the notify protocol to a Unix datagram
socket the test listens on (READY=1, WATCHDOG=1, STATUS=, STOPPING=1, their order and timing);
a hung scheduler loop stops WATCHDOG=1; `kindling systemd` writes a unit systemd accepts."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.daemon.systemd_notify import SystemdNotifier
from tests.daemon.test_liveness import answer, environment, make_project, until

WATCHDOG_USEC = 2_000_000  # 2 s: the daemon pings every 1 s (half), whatever its heartbeat says


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A listening datagram socket at a short path (Unix socket paths are at most 107 bytes)."""
    directory = tempfile.mkdtemp(prefix="kn-", dir="/tmp")
    path = os.path.join(directory, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        yield sock, path
    finally:
        sock.close()
        shutil.rmtree(directory)


@pytest.fixture
def abstract_socket() -> Iterator[tuple[socket.socket, str]]:
    name = f"kindling-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    try:
        yield sock, f"@{name}"
    finally:
        sock.close()


class Messages:
    """What the daemon sent, each datagram with the monotonic time it arrived."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received: list[tuple[float, dict[str, str]]] = []

    def wait_for(self, check: Callable[[list[dict[str, str]]], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not check([m for _, m in self.received]):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"not received within {timeout} s: {self.received}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            fields = dict(line.split("=", 1) for line in data.decode().splitlines())
            self.received.append((time.monotonic(), fields))

    def times(self, key: str) -> list[float]:
        return [at for at, m in self.received if key in m]


def watchdogs(n: int) -> Callable[[list[dict[str, str]]], bool]:
    return lambda messages: sum("WATCHDOG" in m for m in messages) >= n


def start(project: Path, log: Path, notify: str, **extra: str) -> subprocess.Popen[str]:
    env = environment() | {"NOTIFY_SOCKET": notify, "WATCHDOG_USEC": str(WATCHDOG_USEC)} | extra
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--dry-run"],
            cwd=project,
            env=env,
            stdout=out,
            stderr=out,
            text=True,
        )


def slow_heartbeat_project(tmp_path: Path) -> Path:
    """A heartbeat of 10 s in config.toml: only the watchdog can make the daemon ping every 1 s."""
    project = make_project(tmp_path)
    config = project / "config.toml"
    config.write_text(
        config.read_text().replace("heartbeat_seconds = 1.0", "heartbeat_seconds = 10")
    )
    return project


def test_ready_status_watchdog_and_stopping_in_order_and_in_time(tmp_path, notify_socket):
    sock, path = notify_socket
    project, log = slow_heartbeat_project(tmp_path), tmp_path / "run.log"
    messages = Messages(sock)
    daemon = start(project, log, path)
    try:
        messages.wait_for(watchdogs(4), 60)
    finally:
        daemon.send_signal(signal.SIGTERM)
        messages.wait_for(lambda ms: any("STOPPING" in m for m in ms), 30)
        daemon.wait(timeout=30)
    assert daemon.returncode == 0, log.read_text()[-2000:]
    first = messages.received[0][1]
    # READY=1 comes first, once the campaigns are planned, with what the daemon is doing.
    assert first["READY"] == "1"
    assert first["STATUS"] == "dry run, nothing is sent: 1 campaign(s) on bluesky, x"
    assert sum("READY" in m for _, m in messages.received) == 1
    pings = messages.times("WATCHDOG")
    assert min(pings) > messages.times("READY")[0]
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    # Every ping well inside WatchdogSec (2 s): systemd never restarts a healthy daemon.
    assert max(gaps) < WATCHDOG_USEC / 1e6, gaps
    # About every 1 s, not a flood (one late ping may be followed by an early one: the average).
    assert (pings[-1] - pings[0]) / len(gaps) > 0.5, gaps
    stopping = [m for _, m in messages.received if "STOPPING" in m]
    assert stopping == [{"STOPPING": "1", "STATUS": "stopping: finishing the call in flight"}]


def test_a_hung_scheduler_loop_stops_the_watchdog_pings(tmp_path, abstract_socket):
    sock, name = abstract_socket  # an abstract socket name: "@..."
    project, log = slow_heartbeat_project(tmp_path), tmp_path / "run.log"
    hang = tmp_path / "hang"
    messages = Messages(sock)
    daemon = start(project, log, name, KINDLING_TEST_HANG_SCHEDULER_FILE=str(hang))
    try:
        messages.wait_for(watchdogs(2), 60)
        hang.touch()
        until(lambda: "the scheduler loop hangs" in log.read_text(), "the loop hangs", 30, log)
        # The heartbeat goes stale (3 x 1 s) and, meanwhile, no ping comes: systemd, which
        # allows 2 s between pings, would have restarted the service.
        stale = until(lambda: answer(project, 3), "status says NOT RUNNING", 30, log)
        assert stale["daemon"]["last_seen"]["gone"] == "no heartbeat for over 3 s"
        messages.sock.setblocking(False)
        try:
            while True:
                data = messages.sock.recv(4096)
                messages.received.append((time.monotonic(), {"late": data.decode()}))
        except BlockingIOError:
            pass
        assert [m for _, m in messages.received if "late" in m] == []
        silent_for = time.monotonic() - messages.times("WATCHDOG")[-1]
        assert silent_for > WATCHDOG_USEC / 1e6, silent_for
        assert daemon.poll() is None  # alive but hung: what the watchdog is for
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    assert daemon.returncode == 0, log.read_text()[-2000:]


def test_the_notifier_is_silent_without_systemd_and_honours_watchdog_pid(notify_socket):
    sock, path = notify_socket
    sock.settimeout(0.5)
    SystemdNotifier({}).ready("nobody listens")  # no NOTIFY_SOCKET: nothing, no error
    other = SystemdNotifier(
        {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    )
    assert other.watchdog_seconds is None  # the watchdog is another process's
    other.watchdog()
    other.status("line one\nline two")
    assert sock.recv(4096) == b"STATUS=line one line two"  # the watchdog sent nothing first
    ours = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
    assert ours.watchdog_seconds == 2.0
    ours.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"


def kindling(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=project,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_kindling_systemd_prints_a_notify_unit_with_hardening(tmp_path):
    project = make_project(tmp_path)
    done = kindling(project, "systemd", "--user", "campaign-bot", "--watchdog-seconds", "45")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    script = Path(sys.executable).parent / "kindling"
    for expected in (
        "Type=notify",
        "WatchdogSec=45",
        "Restart=on-failure",
        "EnvironmentFile=/etc/kindling/kindling.env",
        "User=campaign-bot",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        f"ReadWritePaths={project.resolve() / 'data'}",
        "PrivateTmp=yes",
        f"ExecStart={script} --config {project.resolve() / 'config.toml'} run",
        f"WorkingDirectory={project.resolve()}",
    ):
        assert expected in lines, expected
    assert os.access(script, os.X_OK)

    bad = kindling(project, "systemd", "--user", "Root;rm")
    assert bad.returncode == 1
    assert "--user 'Root;rm': expected a user name like kindling" in bad.stderr


def test_kindling_systemd_write_refuses_to_replace_without_force(tmp_path):
    project = make_project(tmp_path)
    target = tmp_path / "kindling.service"
    assert kindling(project, "systemd", "--write", str(target)).returncode == 0
    written = target.read_text()
    assert "Type=notify" in written
    target.write_text("# edited by hand\n")
    again = kindling(project, "systemd", "--write", str(target))
    assert again.returncode == 1
    assert f"{target} exists: nothing written (--force replaces it)" in again.stderr
    assert target.read_text() == "# edited by hand\n"
    assert kindling(project, "systemd", "--write", str(target), "--force").returncode == 0
    assert target.read_text() == written


def test_a_path_with_spaces_and_percent_is_quoted_for_systemd(tmp_path):
    project = make_project(tmp_path / "my 100% campaign")
    done = kindling(project, "systemd")
    assert done.returncode == 0, done.stderr
    quoted = str(project.resolve() / "data").replace("%", "%%")
    assert f'ReadWritePaths="{quoted}"' in done.stdout.splitlines()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    project = make_project(tmp_path)
    unit = tmp_path / "kindling.service"
    assert kindling(project, "systemd", "--write", str(unit)).returncode == 0
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=120
    )
    said = [
        line
        for line in (verified.stdout + verified.stderr).splitlines()
        if "kindling.service" in line
    ]
    assert verified.returncode == 0, verified.stderr
    assert said == []  # no warning about any line of the unit (unknown keys, bad values)
    # The check has teeth: a misspelt value in the same unit is reported.
    broken = tmp_path / "broken.service"
    broken.write_text(unit.read_text().replace("Type=notify", "Type=notfy"))
    complaint = subprocess.run(
        ["systemd-analyze", "verify", str(broken)], capture_output=True, text=True, timeout=120
    )
    assert "Failed to parse service type" in complaint.stdout + complaint.stderr
