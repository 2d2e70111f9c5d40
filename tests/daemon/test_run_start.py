"""What an organiser sees before the first post: `kindling run` lists each campaign it will post,
where and when next, `--campaign` limits a run, and `status` keeps dry runs apart from the live
bot and lists what went out with its link."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.store import migrate
from bot.store.engine import Store
from bot.store.tables import OutboxRow, PlatformStateRow
from tests.daemon.test_liveness import environment, make_project

OTHER = """\
id: other
name: {en: "Other"}
languages: [en]
timezone: UTC
active: {start: 2026-12-01, end: 2099-01-31}
platforms: [x]
messages:
  - id: weekly
    schedule: {at: "2026-12-03 12:00"}
    text: {en: "Other campaign"}
"""


def kindling(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=project,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def two_campaigns(tmp_path: Path) -> Path:
    project = make_project(tmp_path)
    (project / "campaigns" / "other.yaml").write_text(OTHER, encoding="utf-8")
    return project


def dry_run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return kindling(
        project, "run", "--dry-run", "--from", "2026-12-01T09:00", "--until", "+1s", *args
    )


def test_run_lists_each_campaign_its_platforms_and_its_next_post(tmp_path):
    project = two_campaigns(tmp_path)
    done = dry_run(project)
    assert done.returncode == 0, done.stderr
    assert (
        "campaign 'demo' (demo.yaml) on bluesky, x: next post 2026-12-01 09:30 UTC "
        "(Tue 01 Dec 09:30 Europe/London), message 'launch' on bluesky" in done.stderr
    )
    assert (
        "campaign 'other' (other.yaml) on x: next post 2026-12-03 12:00 UTC "
        "(Thu 03 Dec 12:00 UTC), message 'weekly' on x" in done.stderr
    )


def test_run_with_campaign_posts_only_that_campaign(tmp_path):
    project = two_campaigns(tmp_path)
    done = dry_run(project, "--campaign", "other")
    assert done.returncode == 0, done.stderr
    assert "campaign 'other' (other.yaml) on x" in done.stderr
    assert "campaign 'demo'" not in done.stderr
    assert "1 campaign(s) on x" in done.stderr
    unknown = dry_run(project, "--campaign", "nope")
    assert unknown.returncode == 1
    assert "nope: no campaign file or campaign id 'nope' in" in unknown.stderr


def test_status_keeps_dry_runs_apart_from_the_live_bot(tmp_path):
    project = make_project(tmp_path)
    posted = kindling(project, "post", "demo", "launch", "--dry-run")
    assert posted.returncode == 0, posted.stderr
    assert dry_run(project).returncode == 0  # records the simulated accounts
    live = kindling(project, "status")
    assert live.returncode == 3
    assert "\nOutbox: none\n" in live.stdout
    apart = "Outbox (dry runs, kept apart; see `kindling status --dry-run`): planned 12, sent 4"
    assert apart in live.stdout.splitlines()
    assert "dry-run.x" not in live.stdout and "dry-run://" not in live.stdout
    report = json.loads(kindling(project, "status", "--json").stdout)
    assert (report["counts"], report["recent_sent"], report["platforms"]) == ({}, [], [])

    dry = json.loads(kindling(project, "status", "--dry-run", "--json").stdout)
    assert dry["counts"] == {"planned": 12, "sent": 4}
    assert {r["url"].split("/")[2] for r in dry["recent_sent"]} == {"bluesky", "x"}
    assert [(p["platform"], p["detail"]) for p in dry["platforms"]] == [
        ("bluesky", "account dry-run.bluesky"),
        ("x", "account dry-run.x"),
    ]
    shown = kindling(project, "status", "--dry-run").stdout
    assert "Outbox (dry runs: nothing was sent): planned 12, sent 4" in shown
    assert "Platforms (dry run: simulated accounts)" in shown


def test_status_lists_recent_live_posts_with_their_links(tmp_path):
    project = make_project(tmp_path)
    url = f"sqlite:///{project / 'data' / 'kindling.sqlite3'}"
    (project / "data").mkdir()
    migrate.upgrade(url)
    store = Store(url)
    now = datetime.now(UTC)
    try:
        with store.write() as session:
            for n, platform in enumerate(("x", "bluesky")):
                session.add(_sent_row(platform, now - timedelta(minutes=n), n))
            # A state an older dry run left under the platform's own name is not the live one.
            session.add(
                PlatformStateRow(
                    platform="x", auth="ok", detail="account dry-run.x", updated_at=now
                )
            )
    finally:
        store.dispose()
    shown = kindling(project, "status")
    assert "Outbox: sent 2" in shown.stdout
    assert "Recently sent" in shown.stdout
    assert "https://x.example/status/0" in shown.stdout
    assert "https://bsky.example/post/1" in shown.stdout
    assert json.loads(kindling(project, "status", "--json").stdout)["platforms"] == []


def _sent_row(platform: str, at: datetime, n: int) -> OutboxRow:
    link = f"https://x.example/status/{n}" if platform == "x" else f"https://bsky.example/post/{n}"
    return OutboxRow(
        key=f"demo/launch/en/{platform}/{n}",
        mode="live",
        campaign_id="demo",
        message_id="launch",
        language="en",
        platform=platform,
        slot_at=at,
        latest_at=at + timedelta(hours=1),
        text="Read",
        state="sent",
        url=link,
        created_at=at,
        updated_at=at,
        sent_at=at,
    )
