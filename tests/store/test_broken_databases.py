"""Every database Kindling cannot use, met by the real commands (issue 11, finding 6).

Each case is a real broken SQLite path (or an unreachable PostgreSQL server), and each command
that opens the database is run as an operator runs it, as a process. Each must end with exit
status 1 and exactly one line on stderr that names the path, says what is wrong and what to do,
no traceback, and nothing written or created where the database is.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.store import migrate

CAMPAIGN = """\
id: demo
name: {en: "Campaign"}
languages: [en]
timezone: Europe/London
active: {start: 2026-12-01, end: 2099-01-31}
platforms: [bluesky]
messages:
  - id: launch
    schedule: {at: "2026-12-02 10:00"}
    text: {en: "Read the letter"}
"""

# Every command that opens the database: the read-only ones too (SQLite in WAL mode writes
# beside the file even to read it). `serve --port 1` never gets as far as listening here.
COMMANDS = {
    "status": ["status"],
    "report": ["report", "demo"],
    "db current": ["db", "current"],
    "db upgrade": ["db", "upgrade"],
    "post": ["post", "demo", "launch", "--dry-run"],
    "run": ["run", "--dry-run", "--until", "+1s"],
    "serve": ["serve", "--port", "1"],
}


@dataclass(frozen=True)
class Broken:
    url: str
    named: str  # the path (or URL) the message must name
    says: str  # what the message must say is wrong


def make_project(root: Path, busy_timeout: float | None = None) -> Path:
    project = root / "project"
    (project / "campaigns").mkdir(parents=True)
    (project / "templates").mkdir()
    (project / "campaigns" / "demo.yaml").write_text(CAMPAIGN, encoding="utf-8")
    if busy_timeout is not None:
        (project / "config.toml").write_text(
            f"[database]\nbusy_timeout_seconds = {busy_timeout}\n", encoding="utf-8"
        )
    return project


def kindling(
    project: Path, url: str, args: list[str], prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    env["KINDLING_DATABASE_URL"] = url
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [*prefix, sys.executable, "-m", "bot", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def a_real_database(path: Path) -> Path:
    """A database as Kindling makes it: migrated, closed (no -wal or -shm left)."""
    migrate.upgrade(f"sqlite:///{path}")
    assert not Path(f"{path}-wal").exists()
    return path


def snapshot(folder: Path) -> dict[str, tuple[str, int, str]]:
    """Every file and directory under `folder`: kind, mode and content hash."""
    found = {}
    for path in sorted(folder.rglob("*")):
        kind = "dir" if path.is_dir() else "file"
        digest = "" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        found[str(path.relative_to(folder))] = (kind, stat.S_IMODE(path.lstat().st_mode), digest)
    return found


def assert_one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# -- the cases ---------------------------------------------------------------------------------


def parent_is_a_file(area: Path) -> Broken:
    (area / "notes.txt").write_text("not a directory\n", encoding="utf-8")
    return Broken(
        f"sqlite:///{area / 'notes.txt' / 'kindling.sqlite3'}",
        str(area / "notes.txt"),
        "is a file, not a directory",
    )


def path_is_a_directory(area: Path) -> Broken:
    (area / "kindling.sqlite3").mkdir()
    return Broken(
        f"sqlite:///{area / 'kindling.sqlite3'}",
        str(area / "kindling.sqlite3"),
        "is a directory, not a file",
    )


def directory_missing(area: Path) -> Broken:
    """A typo in the directory: refused, not a new, empty outbox."""
    return Broken(
        f"sqlite:///{area / 'kindlnig' / 'kindling.sqlite3'}",
        str(area / "kindlnig"),
        "does not exist: check the database URL",
    )


def read_only_uri(area: Path) -> Broken:
    path = a_real_database(area / "kindling.sqlite3")
    return Broken(f"sqlite:///file:{path}?mode=ro&uri=true", str(path), "read-only (mode=ro")


def garbage(area: Path) -> Broken:
    path = area / "kindling.sqlite3"
    path.write_bytes(bytes(range(256)) * 40)
    return Broken(f"sqlite:///{path}", str(path), "is not a SQLite database")


def truncated(area: Path) -> Broken:
    """A real database cut off in the middle of a page (a disk full, a copy interrupted)."""
    path = a_real_database(area / "kindling.sqlite3")
    size = path.stat().st_size
    os.truncate(path, size // 2 + 100)
    return Broken(f"sqlite:///{path}", str(path), "is damaged")


CASES: dict[str, Callable[[Path], Broken]] = {
    "parent is a file": parent_is_a_file,
    "path is a directory": path_is_a_directory,
    "directory missing": directory_missing,
    "mode=ro URI": read_only_uri,
    "not a database": garbage,
    "truncated": truncated,
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CASES)
def test_a_broken_sqlite_path_is_one_line_and_nothing_is_written(tmp_path, case, command):
    area = tmp_path / "area"
    area.mkdir()
    broken = CASES[case](area)
    project = make_project(tmp_path)
    before = snapshot(area)
    done = kindling(project, broken.url, COMMANDS[command])
    line = assert_one_line_error(done, broken.named, broken.says)
    assert snapshot(area) == before, line
    assert not list(project.rglob("*.sqlite3*"))


# -- read-only: a directory the user cannot write, a read-only file system ---------------------


@pytest.fixture
def shared_area() -> Iterator[Path]:
    """A directory another user can reach (pytest's own are private to root)."""
    with tempfile.TemporaryDirectory(prefix="kindling-ro-") as folder:
        os.chmod(folder, 0o755)
        yield Path(folder)


def as_unprivileged() -> tuple[str, ...]:
    """Root ignores file modes: run the command as `nobody` (uid 65534, no capabilities)."""
    if os.geteuid() != 0:
        return ()
    prefix = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    # As the tests run it: `-m bot` from outside the repository, so the installed package (and
    # the virtual environment's own site-packages) must be readable by nobody.
    probe = subprocess.run(
        [*prefix, sys.executable, "-m", "bot", "--version"],
        capture_output=True,
        cwd=tempfile.gettempdir(),
    )
    if probe.returncode != 0:
        why = f"running as root, and Kindling cannot run as nobody: {probe.stderr[-200:]!r}"
        if os.environ.get("CI") == "true":
            pytest.fail(why + " (CI: put the virtual environment where nobody can read it)")
        pytest.skip(why)
    return prefix


@pytest.mark.parametrize("command", COMMANDS)
def test_a_read_only_directory_is_one_line_and_nothing_is_written(shared_area, command):
    area = shared_area / "area"
    area.mkdir()
    path = a_real_database(area / "kindling.sqlite3")
    project = make_project(shared_area)
    for folder in (project, project / "campaigns", project / "templates"):
        os.chmod(folder, 0o777)  # the project itself stays writable: only the database is not
    os.chmod(path, 0o644)
    os.chmod(area, 0o555)
    before = snapshot(area)
    done = kindling(project, f"sqlite:///{path}", COMMANDS[command], as_unprivileged())
    assert_one_line_error(done, str(area), "is not writable by the user running Kindling")
    assert snapshot(area) == before


@pytest.mark.parametrize("command", ["status", "run"])
def test_wal_files_left_by_another_user_are_one_line(shared_area, command):
    if os.geteuid() != 0:
        pytest.skip("only root can make files that belong to another user")
    area = shared_area / "area"
    area.mkdir()
    os.chmod(area, 0o777)
    path = a_real_database(area / "kindling.sqlite3")
    os.chmod(path, 0o666)
    for suffix in ("-wal", "-shm"):  # as root's `kindling run` leaves them while it runs
        Path(f"{path}{suffix}").touch(mode=0o600)
    project = make_project(shared_area)
    before = snapshot(area)
    done = kindling(project, f"sqlite:///{path}", COMMANDS[command], as_unprivileged())
    assert_one_line_error(done, f"{path}-wal", "is not readable and writable by the user")
    assert snapshot(area) == before


def test_a_daemon_lock_file_left_by_another_user_is_one_line(shared_area):
    if os.geteuid() != 0:
        pytest.skip("only root can make files that belong to another user")
    area = shared_area / "area"
    area.mkdir()
    os.chmod(area, 0o777)
    path = a_real_database(area / "kindling.sqlite3")
    os.chmod(path, 0o666)
    Path(f"{path}.lock").touch(mode=0o600)  # as root's `kindling run` leaves it
    project = make_project(shared_area)
    before = snapshot(area)
    done = kindling(project, f"sqlite:///{path}", COMMANDS["run"], as_unprivileged())
    assert_one_line_error(done, f"{path}.lock", "lock file")
    assert snapshot(area) == before


@pytest.mark.parametrize("command", ["status", "report", "db current", "run", "post"])
def test_a_read_only_file_system_is_one_line(tmp_path, command):
    """The database on a tmpfs mounted read-only, in a mount namespace of the command's own."""
    source = a_real_database(tmp_path / "kindling.sqlite3")
    mount_point = tmp_path / "ro"
    mount_point.mkdir()
    namespace = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "-rm"]
    script = (
        'mount -t tmpfs -o size=16m tmpfs "$1" && cp "$2" "$1"/ && mount -o remount,ro "$1" '
        '&& shift 2 && exec "$@"'
    )
    prefix = (*namespace, "sh", "-c", script, "sh", str(mount_point), str(source))
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a private namespace here: {probe.stderr.strip()}")
    project = make_project(tmp_path)
    url = f"sqlite:///{mount_point / 'kindling.sqlite3'}"
    done = kindling(project, url, COMMANDS[command], prefix)
    assert_one_line_error(done, str(mount_point), "is on a read-only file system")


# -- a lock another process holds ---------------------------------------------------------------


@pytest.fixture
def held_lock(tmp_path: Path) -> Iterator[Path]:
    """A real database whose write lock another process holds until the test ends."""
    path = a_real_database(tmp_path / "kindling.sqlite3")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\nprint('locked', flush=True)\nsys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    try:
        yield path
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


@pytest.mark.parametrize("command", ["post", "run"])
def test_a_lock_held_by_another_process_is_waited_for_within_the_setting_then_said(
    tmp_path, held_lock, command
):
    project = make_project(tmp_path, busy_timeout=1.0)
    done = kindling(project, f"sqlite:///{held_lock}", COMMANDS[command])
    assert_one_line_error(
        done, str(held_lock), "is locked by another process (waited 1 s)", "busy_timeout_seconds"
    )


def test_what_a_locked_command_was_writing_is_not_there_afterwards(tmp_path, held_lock):
    project = make_project(tmp_path, busy_timeout=0.5)
    done = kindling(project, f"sqlite:///{held_lock}", COMMANDS["post"])
    assert_one_line_error(done, "is locked")
    with sqlite3.connect(f"file:{held_lock}?mode=ro", uri=True) as connection:
        assert connection.execute("SELECT count(*) FROM outbox").fetchone() == (0,)


# -- PostgreSQL -----------------------------------------------------------------------------------


def test_an_unreachable_postgresql_server_is_one_line(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    project = make_project(tmp_path)
    url = f"postgresql://kindling:s3cret-pw@127.0.0.1:{port}/kindling"
    for command in ("status", "db current"):
        done = kindling(project, url, COMMANDS[command])
        line = assert_one_line_error(done, f"127.0.0.1:{port}/kindling", "cannot connect")
        assert "s3cret-pw" not in line


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("kindling.sqlite3", "is not a database URL"),
        ("mysql://kindling:s3cret-pw@127.0.0.1/kindling", "use SQLite or PostgreSQL"),
    ],
)
def test_a_url_kindling_cannot_use_is_one_line_without_its_password(tmp_path, url, says):
    done = kindling(make_project(tmp_path), url, COMMANDS["status"])
    line = assert_one_line_error(done, says, "KINDLING_DATABASE_URL")
    assert "s3cret-pw" not in line
