"""A private PostgreSQL cluster for tests: `initdb` into a temporary directory, 127.0.0.1, a free port.

Used by the local Bluesky network (its AppView needs PostgreSQL) and by the store tests, which run
against SQLite and PostgreSQL alike. The binaries come from the Debian package `postgresql`
(`tests/peers/bluesky/setup.sh` installs it; `.ci/run` runs setup.sh). As root, the server runs
as the package's `postgres` user (PostgreSQL refuses to run as root).

Fixtures (import them into a test module, e.g. `from tests.peers.postgres import
database_url_fixture`):
- `postgres_server`: the session's cluster (its maintenance URL, database `postgres`);
- `postgres_url`: a fresh, empty database on it for one test, dropped afterwards;
- `database_url`: parametrized over "sqlite" (a file in tmp_path) and "postgresql".
Without PostgreSQL binaries the PostgreSQL cases skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SQLALCHEMY_DRIVER = "postgresql+psycopg"
_databases = itertools.count(1)


def find_pg_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin directory, or None."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def postgres_cluster(pg_bin: Path, workdir: Path) -> Iterator[str]:
    """A fresh private PostgreSQL cluster on 127.0.0.1 at a free port; yields its URL."""
    data, sockets, log = workdir / "pgdata", workdir / "pgsock", workdir / "postgres.log"
    for directory in (data, sockets):
        directory.mkdir(mode=0o700)
    log.touch()
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use the Debian package's user
        prefix = ["runuser", "-u", "postgres", "--"]
        for path in (data, sockets, log):
            shutil.chown(path, "postgres", "postgres")
    port = free_port()
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={sockets} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )

    def run(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}{log_tail(log)}")

    initdb = (str(pg_bin / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres")
    run(*initdb, "-E", "UTF8", "--no-sync")
    run(str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")


def sqlalchemy_url(url: str, database: str | None = None) -> str:
    """`url` with the psycopg 3 driver named (and another database, if given)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername=SQLALCHEMY_DRIVER)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _maintenance(server_url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new empty database on the cluster (a SQLAlchemy URL), dropped afterwards."""
    name = f"kindling_test_{os.getpid()}_{next(_databases)}"
    _maintenance(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield sqlalchemy_url(server_url, name)
    finally:
        _maintenance(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _unavailable(reason: str) -> None:
    message = f"{reason}: apt-get install postgresql (tests/peers/bluesky/setup.sh does)"
    if os.environ.get("CI") == "true":  # .ci/run installs PostgreSQL: a skip there hides a bug
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session", name="postgres_server")
def postgres_server_fixture() -> Iterator[str]:
    """The session's private cluster: a libpq URL to its `postgres` maintenance database."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        _unavailable("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are missing")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("the psycopg package is not installed")
    assert pg_bin is not None
    workdir = Path(tempfile.mkdtemp(prefix="kindling-pg-"))
    workdir.chmod(0o755)
    try:
        with postgres_cluster(pg_bin, workdir) as url:
            yield url
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(name="postgres_url")
def postgres_url_fixture(postgres_server: str) -> Iterator[str]:
    """A fresh empty PostgreSQL database for one test (SQLAlchemy URL, psycopg 3 driver)."""
    with fresh_database(postgres_server) as url:
        yield url


@pytest.fixture(name="database_url", params=["sqlite", "postgresql"])
def database_url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh empty database on each backend: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kindling.sqlite3'}"
    return str(request.getfixturevalue("postgres_url"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that starts the PostgreSQL server `postgres`, so `-m "not postgres"`
    leaves them out of a quick loop (the sqlite half of `database_url` stays in)."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("database_url") == "postgresql"
        if "postgres_server" in fixtures or on_postgres:
            item.add_marker(pytest.mark.postgres)
