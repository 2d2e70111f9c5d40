"""The amplification parts of the command line: `check` finds mistakes in `amplify:` at their
file:line:col, `simulate` states the most amplification may cost, and `queue`/`approve`/`reject`
work on a real database file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from bot.amplify.discovery import Discovery
from bot.campaign.loader import load_campaign
from bot.cli.main import main
from bot.config import AmplifySettings, XPrices
from bot.platforms.base import FoundPage, FoundPost
from bot.publish.budget import Budget
from bot.store.engine import Store
from bot.store.tables import OutboxRow
from tests.conftest import MINIMAL_CAMPAIGN

AMPLIFY = """\
platforms: [bluesky]
hashtags: [Demo]
amplify:
  platforms: [bluesky, x]
  links: [letter, leter]
  action: quote
  quote:
    cy: "Diolch {{ author }}! {{ link }}"
    en: "{{ 'x' * 300 }}"
  accounts: {bluesky: [friend.test]}
  blocklist: {bluesky: [friend.test]}
"""


@pytest.fixture
def run(workdir):
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_check_locates_every_mistake_in_the_amplify_section(run, write) -> None:
    write("campaigns/demo.yaml", MINIMAL_CAMPAIGN + AMPLIFY)
    # As of before its launch: an 'at' already past would add a note (tests/checks/test_at_notes.py)
    result = run("check", "campaigns/demo.yaml", "--now", "2026-12-01T09:00")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("campaigns/")]
    # (columns counted by hand from AMPLIFY: MINIMAL_CAMPAIGN is 10 lines)
    assert lines == [
        "campaigns/demo.yaml:14:24: 'x' is not in the campaign's platforms (bluesky): the bot has "
        "no account there to amplify from",
        "campaigns/demo.yaml:15:19: unknown link 'leter': use an id from `links:` (letter) or a "
        "full http(s) URL",
        "campaigns/demo.yaml:19:9: the quote text is 300 weighted characters on x, over 280",
        "campaigns/demo.yaml:21:25: 'friend.test' is both allowed (amplify.accounts) and blocked: "
        "the blocklist wins; remove one of them",
    ]


class OnePage:
    combines_terms = False

    def __init__(self, posts: list[FoundPost]) -> None:
        self.posts = posts

    def search(self, terms, *, newer_than=None, page=None, limit=100) -> FoundPage:
        return FoundPage(self.posts if newer_than is None else [], None, "2")

    def author_posts(self, author, **kwargs) -> FoundPage:
        return FoundPage()


def test_simulate_states_what_amplification_may_cost(run, write) -> None:
    write(
        "campaigns/demo.yaml",
        MINIMAL_CAMPAIGN.replace(
            "languages: [cy, en]", "languages: [cy, en]\nplatforms: [x, bluesky]"
        )
        + "hashtags: [Demo]\namplify: {platforms: [bluesky, x], daily_cap: 3}\n",
    )
    result = run("simulate", "demo", "--days", "10", "--from", "2026-12-01T09:00")
    assert result.exit_code == 0, result.output
    assert (
        "Amplification (repost): at most 60 in 10 days on bluesky, x, as supporters post (not in "
        "the timeline above); X discovery on: at most 1000 X reads, up to $5.45 with the "
        "amplifications"
    ) in result.output.splitlines()  # 1000 reads x $0.005 + 30 reposts on X x $0.015
    data = json.loads(run("simulate", "demo", "--days", "10", "--json").output)
    assert data["amplification"]["x_most_reads"] == 1000


def test_queue_approve_and_reject_on_a_database_file(run, write, workdir) -> None:
    write(
        "campaigns/demo.yaml",
        MINIMAL_CAMPAIGN.replace("start: 2026-12-01", "start: 2026-11-01").replace(
            "languages: [cy, en]", "languages: [cy, en]\nplatforms: [bluesky]"
        )
        + "hashtags: [Demo]\namplify: {anyone: true, approval: true, min_spacing_minutes: 0}\n",
    )
    (workdir / "data").mkdir(exist_ok=True)
    store = Store(f"sqlite:///{workdir / 'data' / 'kindling.sqlite3'}")
    store.create_tables()
    loaded, problems = load_campaign(workdir / "campaigns" / "demo.yaml")
    assert loaded is not None and not problems
    now = datetime.now(UTC)
    posts = [
        FoundPost(
            f"at://did:plc:p{n}/app.bsky.feed.post/{n}",
            f"https://bsky.app/p{n}",
            f"did:plc:p{n}",
            f"p{n}.test",
            f"Yes #Demo {n}",
            now - timedelta(minutes=n),
            cid=f"c{n}",
        )
        for n in (1, 2)
    ]
    discovery = Discovery(store, "live", AmplifySettings(), Budget(store, 25.0), XPrices())
    assert discovery.run(loaded.campaign, OnePage(posts), "bluesky", frozenset(), now).queued == 2
    store.dispose()
    listed = json.loads(run("queue", "--json").output)
    assert [(c["id"], c["author"], c["state"]) for c in listed] == [
        (1, "p1.test", "queued"),
        (2, "p2.test", "queued"),
    ]
    approved = run("approve", "1")
    assert (
        approved.exit_code == 0 and "approved candidate 1 (https://bsky.app/p1)" in approved.output
    )
    assert run("reject", "2").exit_code == 0
    again = run("approve", "2")
    assert (
        again.exit_code == 1
        and "candidate 2 is rejected, not queued: nothing changed" in again.output
    )
    assert run("queue").output.strip() == "nothing waits for approval"
    store = Store(f"sqlite:///{workdir / 'data' / 'kindling.sqlite3'}")
    with store.read() as session:
        row = session.query(OutboxRow).one()
        assert (row.action, row.subject_id, row.state) == ("repost", posts[0].remote_id, "planned")
    store.dispose()


def test_discover_without_credentials_says_what_to_set_and_fails(
    run, write, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("KINDLING_BLUESKY_APP_PASSWORD", "KINDLING_BLUESKY_HANDLE"):
        monkeypatch.delenv(variable, raising=False)
    write(
        "campaigns/demo.yaml",
        MINIMAL_CAMPAIGN.replace("languages: [cy, en]", "languages: [cy, en]\nplatforms: [bluesky]")
        + "hashtags: [Demo]\namplify: {anyone: true}\n",
    )
    result = run("amplify", "discover")
    assert result.exit_code == 1
    assert "kindling amplify discover: bluesky: not configured: set the handle" in result.output
