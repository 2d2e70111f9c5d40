"""`kindling db upgrade` / `kindling db current`, and `kindling run` refusing an unmigrated database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from bot.cli.main import main
from bot.store import migrate

CAMPAIGN = """\
id: demo
name: {en: "Campaign"}
languages: [en]
timezone: Europe/London
active: {start: 2026-12-01, end: 2027-01-31}
messages:
  - id: launch
    schedule: {at: "2026-12-02 10:00"}
    text: {en: "Read the letter"}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "campaigns" / "demo.yaml").write_text(CAMPAIGN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_daemon(project: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    env["KINDLING_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "bot", "run", "--dry-run", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_db_upgrade_then_current(project, database_url, monkeypatch):
    monkeypatch.setenv("KINDLING_DATABASE_URL", database_url)
    runner = CliRunner()
    before = runner.invoke(main, ["db", "current", "--check"])
    assert before.exit_code == 1
    assert "revision none" in before.output
    upgraded = runner.invoke(main, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"upgraded from nothing to revision {migrate.head()}" in upgraded.output
    again = runner.invoke(main, ["db", "upgrade"])
    assert f"already at revision {migrate.head()}" in again.output
    now = runner.invoke(main, ["db", "current", "--check"])
    assert now.exit_code == 0, now.output
    assert f"revision {migrate.head()} (latest {migrate.head()}): up to date" in now.output


def test_kindling_run_refuses_an_unmigrated_postgresql_database(project, postgres_url):
    done = run_daemon(project, postgres_url)
    assert done.returncode == 1
    assert "is empty (no tables): run `kindling db upgrade`" in done.stderr


def test_kindling_run_refuses_an_outdated_sqlite_database(project):
    url = f"sqlite:///{project / 'old.sqlite3'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    done = run_daemon(project, url)
    assert done.returncode == 1
    assert "at revision 0000" in done.stderr


def test_kindling_run_dry_run_creates_a_new_sqlite_database(project):
    url = f"sqlite:///{project / 'data' / 'kindling.sqlite3'}"
    done = run_daemon(project, url, "--until", "+2s")
    assert done.returncode == 0, done.stderr
    assert "new database" in done.stderr and "tables created" in done.stderr
    assert migrate.current(url) == migrate.head()


def test_kindling_serve_refuses_an_outdated_database_and_leaves_it_as_it_was(project):
    url = f"sqlite:///{project / 'old.sqlite3'}"
    migrate.upgrade(url, "0005")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    env["KINDLING_DATABASE_URL"] = url
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--port", "1"],  # never reaches listening
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "at revision 0005" in done.stderr and "kindling db upgrade" in done.stderr
    assert migrate.current(url) == "0005"


def test_a_database_the_web_server_created_is_one_the_daemon_accepts(project):
    """`kindling serve` first, `kindling run` after, on one new SQLite file: the server builds
    it by the migrations (not from the models), so the daemon finds it current."""
    from bot.config import Config, PathsSettings, Secrets, Settings
    from bot.web import WebOptions, create_app
    from tests.web.conftest import TestClient  # imported there without httpx's warning

    url = f"sqlite:///{project / 'data' / 'kindling.sqlite3'}"
    paths = PathsSettings(campaigns="campaigns", templates="templates", data="data")
    config = Config(Settings(paths=paths), project, Secrets({"KINDLING_DATABASE_URL": url}))
    with TestClient(create_app(config, WebOptions(reload_seconds=0))) as client:
        assert client.get("/healthz").json()["ok"] is True
    assert migrate.current(url) == migrate.head()
    done = run_daemon(project, url, "--until", "+2s")
    assert done.returncode == 0, done.stderr
    assert "new database" not in done.stderr
