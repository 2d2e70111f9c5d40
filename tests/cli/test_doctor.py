"""`kindling doctor` as an organiser runs it before the first live run: against the fake X API and
the Mastodon stand-in (real HTTP on 127.0.0.1), a real SQLite file, real directories."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli.doctor import database_problem
from bot.cli.main import main
from bot.clock import SystemClock
from bot.config import load_config
from bot.daemon.doctor import run_checks
from bot.store.migrate import downgrade
from tests.fakes.mastodon_server import MastodonFakeServer
from tests.fakes.x_server import XFakeServer
from tests.fakes.x_state import FakeAccount

X = FakeAccount()
X_KEYS = {
    "KINDLING_X_API_KEY": X.consumer_key,
    "KINDLING_X_API_SECRET": X.consumer_secret,
    "KINDLING_X_ACCESS_TOKEN": X.access_token,
    "KINDLING_X_ACCESS_TOKEN_SECRET": X.access_token_secret,
}
REVOKED = "1790000000000000001-revokedtoken0000"


@pytest.fixture(scope="module")
def x_server() -> Iterator[XFakeServer]:
    with XFakeServer() as server:
        yield server


@pytest.fixture(scope="module")
def mastodon_server() -> Iterator[MastodonFakeServer]:
    with MastodonFakeServer() as server:
        yield server


@pytest.fixture
def fakes(
    x_server: XFakeServer, mastodon_server: MastodonFakeServer
) -> Iterator[tuple[XFakeServer, MastodonFakeServer]]:
    """Both fakes with a clean state; no request or answer off their API descriptions."""
    for server in (x_server, mastodon_server):
        server.state.reset()
    yield x_server, mastodon_server
    for server in (x_server, mastodon_server):
        assert server.state.violations == []
        assert server.state.response_violations == []
        server.state.reset()


@pytest.fixture
def project(
    workdir: Path,
    fakes: tuple[XFakeServer, MastodonFakeServer],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A project ready for a live run on X and Mastodon: settings, credentials, database."""
    x_fake, mastodon_fake = fakes
    for name in list(os.environ):
        if name.startswith("KINDLING_"):
            monkeypatch.delenv(name)
    for name, value in X_KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KINDLING_MASTODON_ACCESS_TOKEN", mastodon_fake.state.token)
    (workdir / "config.toml").write_text(
        f'[x]\napi_base_url = "{x_fake.url}"\ntimeout_seconds = 5.0\n'
        f'[mastodon]\ninstance_url = "{mastodon_fake.url}"\ntimeout_seconds = 5.0\n',
        encoding="utf-8",
    )
    (workdir / "data").mkdir(mode=0o750)
    (workdir / "data").chmod(0o750)
    assert doctor_run("db", "upgrade").exit_code == 0
    return workdir


def doctor_run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def lines_of(result: Result) -> list[str]:
    return result.output.splitlines()


def line_starting(result: Result, start: str) -> str:
    found = [line for line in lines_of(result) if line.startswith(start)]
    assert len(found) == 1, result.output
    return found[0]


def secrets_shown(result: Result) -> list[str]:
    values = [*X_KEYS.values(), REVOKED, os.environ.get("KINDLING_MASTODON_ACCESS_TOKEN", "")]
    return [value for value in values if value and value in result.output]


def test_a_ready_project_is_all_ok(project: Path) -> None:
    result = doctor_run("doctor")
    assert result.exit_code == 0, result.output
    assert line_starting(result, "ok   config:") == "ok   config: config.toml"
    assert line_starting(result, "ok   database:") == "ok   database: at the latest revision"
    assert (
        line_starting(result, "ok   x credentials:") == "ok   x credentials: account kindling_test"
    )
    assert line_starting(result, "ok   mastodon credentials:").endswith(
        "account kindling@mastodon.example"
    )
    assert line_starting(result, "ok   x clock:") == "ok   x clock: within 30 s of x's clock"
    assert line_starting(result, "ok   mastodon clock:")
    assert line_starting(result, "ok   data directory").endswith("mode 0750")
    assert line_starting(result, "ok   disk space:")
    assert lines_of(result)[-1] == "all ok"
    assert secrets_shown(result) == []


def test_a_revoked_x_token_fails_with_the_fix_and_no_secret(
    project: Path, monkeypatch: pytest.MonkeyPatch, fakes: tuple[XFakeServer, MastodonFakeServer]
) -> None:
    monkeypatch.setenv("KINDLING_X_ACCESS_TOKEN", REVOKED)
    result = doctor_run("doctor")
    assert result.exit_code == 1, result.output
    line = line_starting(result, "FAIL x credentials:")
    assert "refused: check account: 401 Unauthorized" in line
    assert "-> run `kindling login x` for new access tokens" in line
    assert line_starting(result, "ok   mastodon credentials:")  # the others are still checked
    # X answered, so its clock was read from the refusal's Date header all the same.
    assert line_starting(result, "ok   x clock:")
    assert lines_of(result)[-1] == "1 failed, 0 warning(s)"
    assert secrets_shown(result) == []
    assert [call.status for call in fakes[0].state.calls("GET /2/users/me")] == [401]


def test_a_revoked_mastodon_token_fails_with_the_fix(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KINDLING_MASTODON_ACCESS_TOKEN", "revoked-mastodon-token-0000")
    result = doctor_run("doctor")
    assert result.exit_code == 1, result.output
    line = line_starting(result, "FAIL mastodon credentials: refused:")
    assert "`kindling login mastodon`" in line
    assert "revoked-mastodon-token-0000" not in result.output
    assert line_starting(result, "ok   x credentials:")


def test_a_missing_and_an_old_database_say_what_to_run(project: Path) -> None:
    downgrade(load_config(project / "config.toml").database, "0007")
    result = doctor_run("doctor")
    assert result.exit_code == 1
    line = line_starting(result, "FAIL database:")
    assert "is at revision 0007, this Kindling needs" in line
    assert line.endswith("-> run `kindling db upgrade`")

    (project / "data" / "kindling.sqlite3").unlink()
    result = doctor_run("doctor")
    line = line_starting(result, "FAIL database:")
    assert line.endswith("does not exist yet -> run `kindling db upgrade` to create it")
    assert not (project / "data" / "kindling.sqlite3").exists()  # the doctor only looks


def test_a_world_writable_or_missing_data_directory_fails(project: Path) -> None:
    (project / "data").chmod(0o777)
    result = doctor_run("doctor")
    assert result.exit_code == 1
    line = line_starting(result, "FAIL data directory")
    assert line.endswith(
        f"writable by every user of this machine -> `chmod o-w {project / 'data'}`"
    )

    for path in (project / "data").iterdir():
        path.unlink()
    (project / "data").rmdir()
    result = doctor_run("doctor")
    line = line_starting(result, "FAIL data directory")
    assert "does not exist -> create it: `mkdir -m 0750 -p" in line
    assert not (project / "data").exists()


def test_too_little_free_disk_space_fails(project: Path) -> None:
    with (project / "config.toml").open("a", encoding="utf-8") as file:
        file.write("[doctor]\nmin_free_disk_mb = 1000000000000\n")
    result = doctor_run("doctor")
    assert result.exit_code == 1
    line = line_starting(result, "FAIL disk space:")
    assert "MB free for" in line and "at least 1000000000000 MB" in line


def test_a_clock_off_by_minutes_is_a_warning(project: Path) -> None:
    config = load_config(project / "config.toml")
    ahead = ShiftedClock(timedelta(minutes=2))
    findings = run_checks(config, database_problem, clock=ahead)
    clocks = [f for f in findings if f.what.endswith("clock")]
    assert [(f.what, f.status) for f in clocks] == [("x clock", "warn"), ("mastodon clock", "warn")]
    assert clocks[0].line().startswith("WARN x clock: this machine is 12")  # 120 s, give or take 1
    assert "s ahead of x's clock (more than 30 s) -> synchronise" in clocks[0].line()
    assert all(f.status == "ok" for f in findings if f not in clocks)


def test_unreachable_platform_and_bluesky_without_password(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    text = (project / "config.toml").read_text(encoding="utf-8")
    text = text.replace("[x]\napi_base_url = ", f'[x]\napi_base_url = "{closed}"\n# was ')
    (project / "config.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("KINDLING_BLUESKY_HANDLE", "campaign.example")
    result = doctor_run("doctor")
    assert result.exit_code == 1
    line = line_starting(result, "FAIL x credentials: not checked:")
    assert "cannot reach X" in line and "-> check [x] api_base_url" in line
    line = line_starting(result, "FAIL bluesky credentials: not configured:")
    assert "set the app password (KINDLING_BLUESKY_APP_PASSWORD)" in line
    assert line.endswith("-> set what is missing, or run `kindling login bluesky`")


def test_bad_settings_and_no_platform_at_all(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("KINDLING_"):
            monkeypatch.delenv(name)
    (workdir / "config.toml").write_text("[doctor]\nclock_skew_seconds = -1\n", encoding="utf-8")
    result = doctor_run("doctor")
    assert result.exit_code == 1
    assert lines_of(result)[0].startswith(
        "FAIL config: config.toml:2:1: 'doctor.clock_skew_seconds'"
    )

    (workdir / "config.toml").write_text("", encoding="utf-8")
    result = doctor_run("doctor")
    assert result.exit_code == 1
    assert "FAIL platforms: no platform has credentials -> run `kindling login bluesky`" in (
        result.output
    )


class ShiftedClock:
    """This machine's clock, off by `offset`."""

    def __init__(self, offset: timedelta) -> None:
        self._offset = offset

    def now(self) -> datetime:
        return SystemClock().now() + self._offset
