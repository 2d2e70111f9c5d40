"""Which targets answered, in the report and on the command line: first and latest responses
linked, hours to the first answer, dismissed responses out of the counts (SQLite and
PostgreSQL), `kindling responses list` and `dismiss`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bot.campaign.model import Campaign
from bot.cli.main import main
from bot.report.collect import collect
from bot.report.html import render_html
from bot.store.engine import Store
from bot.store.tables import ClickRow, ResponseRow
from tests.peers.postgres import (  # noqa: F401 (fixtures)
    database_url_fixture,
    postgres_server_fixture,
    postgres_url_fixture,
)

CAMPAIGN_YAML = """\
id: demo
name: {cy: "Ymgyrch", en: "Campaign"}
languages: [cy, en]
timezone: Europe/London
active: {start: 2026-12-01, end: 2027-01-31}
targets:
  - {id: ms-a, name: Aelod A, constituency: Caerdydd, party: Plaid, handles: {bluesky: a.test}}
  - {id: ms-b, name: Aelod B, constituency: Caerdydd, party: Llafur, handles: {bluesky: b.test}}
"""


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def response(n: int, target: str, kind: str, when: datetime, **extra: object) -> ResponseRow:
    values: dict[str, object] = {
        "platform": "bluesky",
        "remote_id": f"at://did:plc:{target}/app.bsky.feed.post/{n}",
        "kind": kind,
        "campaign_id": "demo",
        "target_id": target,
        "outbox_id": None,
        "author_id": f"did:plc:{target}",
        "author_handle": f"{target}.test",
        "text": f"answer {n}",
        "url": f"https://bsky.app/profile/{target}.test/post/{n}",
        "created_at": when,
        "seen_at": when,
    }
    return ResponseRow(**{**values, **extra})


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    made = Store(database_url)
    made.create_tables()
    with made.write() as session:
        session.add(response(1, "ms-a", "supporter_reply", at(3, 9), answered_url="https://s/1"))
        session.add(response(2, "ms-a", "statement", at(4)))
        session.add(response(3, "ms-a", "statement", at(5), dismissed=True))
        session.add(response(4, "ms-b", "statement", at(2), dismissed=True))
        for day in (2, 6):  # supporters' first message to A on the 2nd; to B after its post
            for target in ("ms-a", "ms-b"):
                session.add(
                    ClickRow(
                        token="t", campaign_id="demo", target_id=target, ask_id="letter",
                        wording=1, platform="bluesky", language="cy", at=at(day),
                        client_hash=None,
                    )
                )  # fmt: skip
    yield made
    made.dispose()


@pytest.fixture
def campaign() -> Campaign:
    return Campaign.model_validate(yaml.safe_load(CAMPAIGN_YAML))


def test_first_and_latest_responses_linked_and_dismissed_ones_left_out(
    store: Store, campaign: Campaign
) -> None:
    a, b = collect(store, campaign).responses_by_target
    assert (a.target, a.responses, a.answered) == ("ms-a", 2, True)
    assert (a.first_at, a.first_kind, a.first_url) == (
        "2026-12-03T09:00:00+00:00",
        "supporter_reply",
        "https://bsky.app/profile/ms-a.test/post/1",
    )
    assert (a.last_at, a.last_url) == (
        "2026-12-04T12:00:00+00:00",
        "https://bsky.app/profile/ms-a.test/post/2",
    )
    # Launch: 1 December 00:00 in Europe/London (UTC then); A's first message on the 2nd at noon.
    assert (a.hours_since_launch, a.hours_since_first_message) == (57.0, 21.0)
    assert (b.target, b.responses, b.answered, b.first_url, b.hours_since_launch) == (
        "ms-b",
        0,
        False,
        None,
        None,
    )
    report = collect(store, campaign)
    assert [(g.key, g.answered, g.silent) for g in report.responses_by_party] == [
        ("Llafur", 0, 1),
        ("Plaid", 1, 0),
    ]


def test_the_html_report_links_the_responses_in_both_languages(
    store: Store, campaign: Campaign
) -> None:
    page = render_html(collect(store, campaign), campaign)
    assert (
        '<a href="https://bsky.app/profile/ms-a.test/post/1">2026-12-03T09:00:00+00:00</a>' in page
    )
    assert '<a href="https://bsky.app/profile/ms-a.test/post/2">' in page
    assert "Oriau ers y lansiad" in page and "Hours from launch" in page
    assert "Wedi ateb" in page and "Yn dawel" in page and "Silent" in page


def test_responses_list_and_dismiss(
    store: Store, campaign: Campaign, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "campaigns" / "demo.yaml").write_text(CAMPAIGN_YAML, encoding="utf-8")
    monkeypatch.setenv("KINDLING_DATABASE_URL", store.url)
    runner = CliRunner()

    listed = runner.invoke(main, ["responses", "list", "demo", "--json"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["target"], r["kind"], r["answers"]) for r in rows] == [
        ("ms-a", "supporter_reply", "https://s/1"),
        ("ms-a", "statement", None),
    ]
    everything = runner.invoke(main, ["responses", "list", "demo", "--all", "--json"])
    assert len(json.loads(everything.output)) == 4

    first = rows[0]["id"]
    done = runner.invoke(main, ["responses", "dismiss", str(first)], catch_exceptions=False)
    assert done.exit_code == 0 and "dismissed" in done.output
    again = runner.invoke(main, ["responses", "dismiss", str(first)], catch_exceptions=False)
    assert "already dismissed" in again.output
    a = collect(store, campaign).responses_by_target[0]
    assert (a.responses, a.first_at) == (1, "2026-12-04T12:00:00+00:00")  # it left the counts

    undone = runner.invoke(main, ["responses", "dismiss", str(first), "--undo"])
    assert undone.exit_code == 0 and collect(store, campaign).responses_by_target[0].responses == 2

    missing = runner.invoke(main, ["responses", "dismiss", "999999"])
    assert missing.exit_code == 1 and "no response with id 999999" in missing.output
    table = runner.invoke(main, ["responses", "list", "demo"], catch_exceptions=False)
    assert table.exit_code == 0 and "supporter_reply" in table.output


def test_responses_recorded_before_migration_0008_still_count(database_url: str) -> None:
    from sqlalchemy import text

    from bot.store import migrate

    migrate.upgrade(database_url, "0006")
    store = Store(database_url)
    try:
        with store.write() as session:  # a response as 0006 stored it: no dismissed column yet
            session.execute(
                text(
                    "INSERT INTO responses (platform, remote_id, kind, campaign_id, target_id, "
                    "author_id, author_handle, text, url, created_at, seen_at) VALUES ('x', '1', "
                    "'reply', 'demo', 'ms-a', '7', 'ms_a', 'Diolch', 'https://x.com/ms_a/status/1', "
                    ":at, :at)"
                ),
                {"at": at(3)},
            )
        migrate.upgrade(database_url)
        campaign = Campaign.model_validate(yaml.safe_load(CAMPAIGN_YAML))
        a = collect(store, campaign).responses_by_target[0]
        assert (a.target, a.responses, a.first_url) == ("ms-a", 1, "https://x.com/ms_a/status/1")
        migrate.downgrade(database_url, "0006")  # and back: the column goes, the row stays
        with store.read() as session:
            assert session.execute(text("SELECT count(*) FROM responses")).scalar() == 1
    finally:
        store.dispose()
