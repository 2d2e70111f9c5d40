"""Listening on the real local Bluesky network: a supporter sends the campaign's pre-filled
message (rendered by Kindling's own link code) mentioning target A; A replies to the supporter;
B posts its own statement with the campaign's hashtag; C posts about something else. Only A and
B are recorded, once each, also after a restart; the report shows A and B with links and C
silent, in Welsh and English. Slow (the network and its AppView): run it on its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.compose.links import ask_links
from bot.compose.templates import Templates
from bot.config import XPrices
from bot.engagement.listening import cursor_name
from bot.engagement.poller import Cadence, EngagementPoller
from bot.publish.budget import Budget
from bot.report.collect import collect
from bot.report.html import render_html
from bot.store.engine import Store
from bot.store.tables import PollCursorRow, ResponseRow, SpendRow

CAMPAIGN = """\
id: letter
name: {{cy: "Llythyr Agored", en: "Open Letter"}}
languages: [cy, en]
timezone: UTC
active: {{start: "{start}"}}
platforms: [bluesky]
ask_platforms: [bluesky]
links: {{letter: "https://copronet.example/open-letter-2"}}
hashtags: [CoproductionWales]
targets:
  - {{id: ms-a, name: Aelod A, constituency: Caerdydd, party: Plaid, handles: {{bluesky: {a}}}}}
  - {{id: ms-b, name: Aelod B, constituency: Caerdydd, party: Llafur, handles: {{bluesky: {b}}}}}
  - {{id: ms-c, name: Aelod C, constituency: Abertawe, party: Llafur, handles: {{bluesky: {c}}}}}
asks:
  - id: statement
    wordings:
      cy: ["{{{{ handle }}}}, cefnogwch gydgynhyrchu yng Nghymru: {{{{ link }}}} {{{{ hashtags | tags }}}}"]
      en: ["{{{{ handle }}}}, please back co-production in Wales: {{{{ link }}}} {{{{ hashtags | tags }}}}"]
"""


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    made = Store(f"sqlite:///{tmp_path / 'kindling.sqlite3'}")
    made.create_tables()
    yield made
    made.dispose()


def poller(store: Store, bot: Any, campaign: Any, clock: Clock) -> EngagementPoller:
    """A fresh poller (a restart): only the store carries state from one to the next."""
    return EngagementPoller(
        store,
        {"bluesky": bot},
        Budget(store, 25.0),
        XPrices(),
        lambda: [campaign],
        clock,
        cadence=Cadence(((timedelta(days=1), timedelta(days=1)),)),
        responses_every=timedelta(days=365),  # the bot's mentions: another test's (and none here)
        listen_every=timedelta(0),
    )


def recorded(store: Store) -> dict[str, list[ResponseRow]]:
    with store.read() as session:
        query = select(ResponseRow).where(ResponseRow.campaign_id == "letter")
        rows = list(session.scalars(query.order_by(ResponseRow.id)))
    found: dict[str, list[ResponseRow]] = {}
    for row in rows:
        found.setdefault(row.target_id or "", []).append(row)
    return found


@pytest.mark.bluesky
@pytest.mark.timeout(420)  # up to 150 s for the AppView, after the network's own start
def test_targets_answering_on_their_own_feeds(
    store: Store, tmp_path: Path, bluesky_network: Any, check_campaign_text: Any, workdir: Path
) -> None:
    from tests.peers.bluesky_network import kindling_platform, poll

    run = uuid.uuid4().hex[:6]  # fresh accounts: the network is shared by the session's tests
    a, b, c, fan = (bluesky_network.create_account(f"{who}{run}") for who in "abcs")
    start = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    text = CAMPAIGN.format(start=start, a=a.handle, b=b.handle, c=c.handle)
    checked = check_campaign_text(text, name="campaigns/letter.yaml")
    assert checked.problems == []
    campaign = checked.loaded.campaign
    [to_a] = [
        link.text
        for link in ask_links(checked.loaded, Templates(workdir / "templates"))
        if link.target_id == "ms-a" and link.language == "en"
    ]
    assert "#CoproductionWales" in to_a and f"@{a.handle}" in to_a

    supporter = bluesky_network.login(fan.name)
    message = supporter.create("app.bsky.feed.post", {"text": to_a})
    ref = {"uri": message["uri"], "cid": message["cid"]}
    answer = bluesky_network.login(a.name).create(
        "app.bsky.feed.post",
        {"text": "Thank you, I will raise it.", "reply": {"root": ref, "parent": ref}},
    )
    statement = bluesky_network.login(b.name).create(
        "app.bsky.feed.post", {"text": "We back the letter. #CoproductionWales"}
    )
    bluesky_network.login(c.name).create("app.bsky.feed.post", {"text": "Lovely day in Swansea"})

    bot = kindling_platform(bluesky_network, tmp_path / "bot-data")
    clock = Clock()
    try:

        def both() -> dict[str, list[ResponseRow]] | None:
            clock.at += timedelta(minutes=1)
            poller(store, bot, campaign, clock).run_cycle()  # a restart every cycle
            found = recorded(store)
            return found if {"ms-a", "ms-b"} <= set(found) else None

        found = poll(both, timeout=150, interval=0.5)
        for _ in range(2):  # and again, once everything is indexed: nothing new
            clock.at += timedelta(minutes=15)
            report = poller(store, bot, campaign, clock).run_cycle()
            assert report.listened["bluesky"].new == [] and report.listened["bluesky"].feeds == 3
    finally:
        bot.close()

    found = recorded(store)
    assert sorted(found) == ["ms-a", "ms-b"] and [len(rows) for rows in found.values()] == [1, 1]
    [reply], [own] = found["ms-a"], found["ms-b"]
    assert (reply.remote_id, reply.kind) == (answer["uri"], "supporter_reply")
    assert reply.answered_id == message["uri"] and reply.answered_url.startswith(
        f"https://bsky.app/profile/{fan.handle}/post/"
    )
    assert (own.remote_id, own.kind, own.text) == (
        statement["uri"],
        "statement",
        "We back the letter. #CoproductionWales",
    )
    with store.read() as session:
        cursors = {
            who: session.get(PollCursorRow, cursor_name("bluesky", who.handle)) for who in (a, b, c)
        }
        spent = session.scalars(select(SpendRow)).all()
    assert all(row is not None and json.loads(row.cursor)["newest"] for row in cursors.values())
    assert spent == []  # Bluesky charges nothing

    result = collect(store, campaign)
    by_target = {r.target: r for r in result.responses_by_target}
    assert {t: r.answered for t, r in by_target.items()} == {
        "ms-a": True,
        "ms-b": True,
        "ms-c": False,
    }
    assert by_target["ms-a"].first_url == reply.url and by_target["ms-b"].first_url == own.url
    page = render_html(result, campaign)
    assert f'<a href="{reply.url}">' in page and f'<a href="{own.url}">' in page
    assert page.count('<span class="answered">') == 2 and page.count('<span class="silent">') == 1
    assert "Wedi ateb" in page and "Answered" in page and "Yn dawel" in page and "Silent" in page
    assert by_target["ms-a"].hours_since_launch is not None
