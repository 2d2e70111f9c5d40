"""`kindling run` as an operator runs it: a real process, a real SQLite file, signals, reloads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

DEMO = """\
id: demo
name: {cy: "Ymgyrch", en: "Campaign"}
languages: [cy, en]
timezone: Europe/London
active: {start: 2026-12-01, end: 2027-01-31}
quiet_hours: {start: "21:00", end: "08:00"}
links: {letter: "https://example.org/letter"}
messages:
  - id: launch
    schedule: {at: "2026-12-01 09:30"}
    text: {cy: "Darllenwch {{ link }}", en: "Read {{ link }}"}
  - id: hourly
    schedule: {cron: "0 10-20 * * *"}
    text: {cy: "Awr {{ link }}", en: "Hour {{ link }}"}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "campaigns" / "demo.yaml").write_text(DEMO, encoding="utf-8")
    (tmp_path / "config.toml").write_text('[logging]\nlevel = "INFO"\n', encoding="utf-8")
    return tmp_path


def kindling(project: Path, *args: str, **kwargs) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=project,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def outbox(project: Path) -> list[dict]:
    engine = create_engine(f"sqlite:///{project / 'data' / 'kindling.sqlite3'}")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT key, state, message_id, language, platform, text FROM outbox ORDER BY id")
        )
        result = [dict(row._mapping) for row in rows]
    engine.dispose()
    return result


def wait_for(process: subprocess.Popen, needle: str, timeout: float = 20) -> str:
    """Read stderr lines until one contains `needle`; returns everything read."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        seen.append(line)
        if needle in line:
            return "".join(seen)
    raise AssertionError(f"{needle!r} not seen in:\n{''.join(seen)}")


def test_dry_run_posts_exactly_what_simulate_forecasts(project):
    run = kindling(
        project,
        "run",
        "--dry-run",
        "--from",
        "2026-12-01T09:00",
        "--speed",
        "3600",
        "--until",
        "+5.5h",
    )
    _out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    sent = [r for r in outbox(project) if r["state"] == "sent"]
    # 09:30 launch, then 10:00 .. 14:00 hourly: 6 posts x 2 languages x 2 platforms.
    assert len(sent) == 6 * 2 * 2
    assert all(r["key"].startswith("dry-run:demo/") for r in sent)
    assert "dry run: would have posted campaign=demo message=launch language=cy platform=x" in err

    simulated = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "simulate",
            "demo",
            "--from",
            "2026-12-01T09:00",
            "--days",
            "1",
            "--json",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    forecast = json.loads(simulated.stdout)["posts"]
    before_15 = [p for p in forecast if p["local"] < "2026-12-01T15:00"]
    assert sorted(
        (p["message"], p["language"], p["platform"], p["text"]) for p in before_15
    ) == sorted((r["message_id"], r["language"], r["platform"], r["text"]) for r in sent)


def test_a_second_daemon_on_the_same_database_refuses_and_sigterm_stops_within_10s(project):
    first = kindling(project, "run", "--dry-run")
    try:
        wait_for(first, "kindling running")
        second = kindling(project, "run", "--dry-run")
        _, err = second.communicate(timeout=30)
        assert second.returncode == 1
        assert f"another `kindling run` (pid {first.pid}) is already running on" in err
    finally:
        started = time.monotonic()
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=15)
    assert time.monotonic() - started < 10
    assert first.returncode == 0


def test_an_invalid_campaign_stops_the_start_with_located_problems(project):
    (project / "campaigns" / "demo.yaml").write_text(
        DEMO.replace("timezone: Europe/London", "timezone: Mars")
    )
    run = kindling(project, "run", "--dry-run")
    _, err = run.communicate(timeout=30)
    assert run.returncode == 1
    assert "campaigns/demo.yaml:4:11: 'Mars' is not an IANA time zone" in err
    assert not (project / "data" / "kindling.sqlite3").exists() or outbox(project) == []


def test_hot_reload_applies_valid_changes_and_keeps_the_last_good_campaign(project):
    campaign = project / "campaigns" / "demo.yaml"
    added = '  - id: added\n    schedule: {at: "2026-12-01 10:30"}\n    text: {cy: "Newydd", en: "New"}\n'
    run = kindling(project, "run", "--dry-run", "--from", "2026-12-01T09:00")
    try:
        wait_for(run, "kindling running")
        # A valid change: the new message's slots are planned without a restart.
        campaign.write_text(DEMO + added)
        wait_for(run, "campaign 'demo' reloaded")
        # The new message's 4 slots (and, as the clock moved on, any slot the window now reaches).
        wait_for(run, "planned campaign 'demo':")
        rows = [r for r in outbox(project) if r["message_id"] == "added"]
        assert len(rows) == 4 and {r["state"] for r in rows} == {"planned"}
        # An invalid change: rejected with its location; the last good version keeps running.
        campaign.write_text(
            DEMO.replace('{cy: "Awr {{ link }}", en: "Hour {{ link }}"}', '{cy: "Awr"}') + added
        )
        logged = wait_for(run, "invalid campaign change")
        assert "campaigns/demo.yaml:14:11: message 'hourly' has no 'en' text" in logged
        hourly_en = [
            r for r in outbox(project) if r["message_id"] == "hourly" and r["language"] == "en"
        ]
        assert hourly_en and {r["state"] for r in hourly_en} == {"planned"}
        # A valid change that removes a message cancels its slots that were not sent.
        campaign.write_text(DEMO)
        wait_for(run, "campaign 'demo' reloaded")
        wait_for(run, "0 new slot(s), 4 cancelled")
        assert {r["state"] for r in outbox(project) if r["message_id"] == "added"} == {"cancelled"}
    finally:
        run.send_signal(signal.SIGTERM)
        run.communicate(timeout=15)
    assert run.returncode == 0


def test_post_now_goes_through_the_outbox_once_and_status_reports_it(project):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    (project / "campaigns" / "demo.yaml").write_text(
        DEMO.replace("end: 2027-01-31", "end: 2099-01-31")
    )
    post = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "post",
            "demo",
            "launch",
            "--platform",
            "bluesky",
            "--language",
            "cy",
            "--dry-run",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert post.returncode == 0, post.stderr
    assert post.stdout.strip() == "bluesky cy: sent"
    rows = outbox(project)
    assert [
        (r["message_id"], r["language"], r["platform"], r["state"], r["text"]) for r in rows
    ] == [("launch", "cy", "bluesky", "sent", "Darllenwch https://example.org/letter")]
    unknown = subprocess.run(
        [sys.executable, "-m", "bot", "post", "demo", "nope", "--dry-run"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert unknown.returncode == 1
    assert "campaign 'demo' has no message 'nope' (messages: launch, hourly)" in unknown.stderr
    status = subprocess.run(
        [sys.executable, "-m", "bot", "status", "--dry-run", "--json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert status.returncode == 3  # no daemon runs
    report = json.loads(status.stdout)
    assert report["counts"] == {"sent": 1}
    assert report["x_spend_this_month_usd"] == 0


def test_simulate_forecasts_x_spend_and_the_budget_stop(project):
    (project / "config.toml").write_text("[x]\nmonthly_budget_usd = 0.5\n")
    simulated = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "simulate",
            "demo",
            "--from",
            "2026-12-01T00:00",
            "--days",
            "1",
            "--json",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    forecast = json.loads(simulated.stdout)
    x_posts = [p for p in forecast["posts"] if p["platform"] == "x"]
    # Every text carries a link: $0.20 each on X, so two go out and the rest stop at $0.50.
    assert [p["status"] for p in x_posts[:3]] == ["post", "post", "over budget"]
    assert {p["cost_usd"] for p in x_posts} == {0.2}
    assert forecast["x_spend_usd"] == 0.4
    assert all(
        p["status"] == "post" and p["cost_usd"] == 0
        for p in forecast["posts"]
        if p["platform"] == "bluesky"
    )


def test_a_restart_on_a_current_database_does_not_load_alembic(project: Path) -> None:
    """Alembic is ~10 MB of an idle daemon's memory: it is needed only to migrate."""
    first = kindling(project, "run", "--dry-run", "--until", "+1s")
    assert first.wait(timeout=60) == 0, first.stderr.read()
    probe = (
        "import sys\nfrom bot.cli.main import main\n"
        "try:\n    main(['run', '--dry-run', '--until', '+1s'])\nexcept SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('alembic' in sys.modules, 'bot.store.migrate' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=project,
        env=env,
        text=True,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
