"""`kindling status` links each sent Bluesky post where it opens: bsky.app on Bluesky's own
service, the at:// URI on a self-hosted PDS (bsky.app would not show it), or the address
`[bluesky] web_url` makes of it. Real SQLite file, through the command line."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli.main import main
from bot.store import migrate
from bot.store.engine import Store
from bot.store.tables import OutboxRow

DID = "did:plc:kindlingtest0000000000000"
URI = f"at://{DID}/app.bsky.feed.post/3lbkindling22"
BSKY_APP = "https://bsky.app/profile/kindling.test/post/3lbkindling22"


@pytest.fixture
def project(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("KINDLING_"):
            monkeypatch.delenv(name)
    url = f"sqlite:///{workdir / 'data' / 'kindling.sqlite3'}"
    (workdir / "data").mkdir()
    migrate.upgrade(url)
    store = Store(url)
    at = datetime.now(UTC) - timedelta(minutes=5)
    try:
        with store.write() as session:
            for n, (platform, remote, link) in enumerate(
                (("bluesky", URI, BSKY_APP), ("x", "1890", "https://x.com/k/status/1890"))
            ):
                session.add(
                    OutboxRow(
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
                        remote_id=remote,
                        url=link,
                        created_at=at,
                        updated_at=at,
                        sent_at=at,
                    )
                )
    finally:
        store.dispose()
    return workdir


def status(project: Path, bluesky: str) -> tuple[Result, dict[str, str]]:
    (project / "config.toml").write_text(f"[bluesky]\n{bluesky}\n", encoding="utf-8")
    shown = CliRunner().invoke(main, ["status"], catch_exceptions=False)
    report = CliRunner().invoke(main, ["status", "--json"], catch_exceptions=False)
    if report.exit_code == 1:
        return shown, {}
    return shown, {r["platform"]: r["url"] for r in json.loads(report.output)["recent_sent"]}


def test_bluesky_s_own_service_links_to_bsky_app(project: Path) -> None:
    shown, links = status(project, 'service_url = "https://bsky.social"')
    assert links == {"bluesky": BSKY_APP, "x": "https://x.com/k/status/1890"}
    assert BSKY_APP in shown.output


def test_a_self_hosted_pds_shows_the_at_uri(project: Path) -> None:
    shown, links = status(project, 'service_url = "https://pds.example.org"')
    assert links == {"bluesky": URI, "x": "https://x.com/k/status/1890"}
    assert URI in shown.output and "bsky.app" not in shown.output


def test_a_configured_web_address_is_filled_in(project: Path) -> None:
    shown, links = status(
        project,
        'service_url = "https://pds.example.org"\n'
        'web_url = "https://view.example.org/profile/{did}/post/{rkey}?as={handle}"',
    )
    made = f"https://view.example.org/profile/{DID}/post/3lbkindling22?as=kindling.test"
    assert links["bluesky"] == made and made in shown.output


def test_a_web_address_naming_other_fields_is_refused_where_it_is_written(
    project: Path,
) -> None:
    shown, _ = status(project, 'web_url = "https://view.example.org/{user}/{rkey}"')
    assert shown.exit_code == 1
    assert shown.output.startswith("config.toml:2:1: 'bluesky.web_url': may name only {handle}")


def test_status_and_queue_on_a_new_project_create_no_database(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read-only commands leave a new project as it was: `doctor` must not then find an empty
    database that nothing made on purpose."""
    for name in list(os.environ):
        if name.startswith("KINDLING_"):
            monkeypatch.delenv(name)
    database = workdir / "data" / "kindling.sqlite3"
    shown = CliRunner().invoke(main, ["status"], catch_exceptions=False)
    assert shown.exit_code == 3
    assert shown.output.splitlines()[0] == (
        "NOT RUNNING: no database yet: no daemon has run here (`kindling run` creates it)"
    )
    assert "does not exist yet (`kindling run` or `kindling db upgrade` creates it)" in shown.output
    report = json.loads(CliRunner().invoke(main, ["status", "--json"]).output)
    assert (report["daemon"]["running"], report["initialised"]) == (False, False)
    for queue in (["queue"], ["queue", "--all", "--json"], ["queue", "--dry-run"]):
        listed = CliRunner().invoke(main, queue, catch_exceptions=False)
        assert listed.exit_code == 0, listed.output
    assert not database.exists()
    doctor = CliRunner().invoke(main, ["doctor"], catch_exceptions=False)
    assert "does not exist yet -> run `kindling db upgrade` to create it" in doctor.output
    assert not database.exists()
