"""Amplification against the real local Bluesky network (PLC + PDS + AppView).

A supporter (allowlisted through the campaign's supporters), a stranger and a blocklisted
supporter all post with the campaign's hashtag. The bot reposts the supporter's post once — also
after a "restart" (new store and adapter objects on the same SQLite file) and another pass —,
ignores the others, keeps to the daily cap, and `kindling unamplify` removes the repost. What
the PDS stored is read back with plain XRPC, never through the adapter."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from bot.amplify.discovery import Discovery
from bot.campaign.model import Campaign
from bot.cli.main import main
from bot.config import (
    AmplifySettings,
    BlueskySettings,
    Config,
    PathsSettings,
    Secrets,
    Settings,
    XPrices,
)
from bot.platforms.bluesky import BlueskyPlatform
from bot.publish.budget import Budget
from bot.publish.outbox import Outbox
from bot.store.engine import Store
from bot.store.tables import CandidateRow, OutboxRow
from tests.peers.bluesky_network import BlueskyNetwork, kindling_platform, poll

pytestmark = pytest.mark.bluesky


def campaign(tag: str, supporter: str, blocked: str) -> Campaign:
    return Campaign.model_validate(
        {
            "id": "amp",
            "name": {"en": "Amplify"},
            "languages": ["en"],
            "timezone": "Europe/London",
            "active": {"start": "2026-01-01", "end": "2030-12-31"},
            "platforms": ["bluesky"],
            "hashtags": [tag],
            "supporters": [
                {"name": "A supporter", "handles": {"bluesky": supporter}},
                {"name": "Blocked later", "handles": {"bluesky": blocked}},
            ],
            "amplify": {
                "platforms": ["bluesky"],
                "blocklist": {"bluesky": [blocked]},
                "daily_cap": 1,
                "min_spacing_minutes": 0,
            },
        }
    )


def reposts_of(network: BlueskyNetwork, did: str) -> list[str]:
    """The subjects of the bot's repost records, as the PDS stores them."""
    reader = network.login("supporter")
    return [r["value"]["subject"]["uri"] for r in reader.list_records(did, "app.bsky.feed.repost")]


def test_supporters_post_is_reposted_once_strangers_and_blocked_are_not(
    bluesky_network: BlueskyNetwork, tmp_path: Path
) -> None:
    network = bluesky_network
    run = uuid.uuid4().hex[:8]
    tag = f"Kindling{run}"
    people = {n: network.create_account(f"{n}{run}") for n in ("sup", "stranger", "blocked")}
    accounts = {n: network.login(info.name) for n, info in people.items()}
    posts = {
        n: accounts[n].create(
            "app.bsky.feed.post", {"text": f"Backing the letter #{tag}", "langs": ["en"]}
        )
        for n in people
    }
    bot_did = network.account("kindling").did
    database = tmp_path / "kindling.sqlite3"
    url = f"sqlite:///{database}"
    store = Store(url)
    store.create_tables()
    the_campaign = campaign(tag, people["sup"].handle, people["blocked"].handle)
    prices = XPrices()

    def one_pass(store: Store, platform: BlueskyPlatform, now: datetime):
        discovery = Discovery(store, "live", AmplifySettings(), Budget(store, 25.0), prices)
        own = frozenset({bot_did, network.account("kindling").handle})
        return discovery.run(the_campaign, platform, "bluesky", own, now)

    def publish_due(store: Store, platform: BlueskyPlatform, now: datetime) -> list[str]:
        outbox = Outbox(store, "live", Budget(store, 25.0), prices)
        return [outbox.publish(row, platform, now).state for row in outbox.due("bluesky", now)]

    bot = kindling_platform(network, tmp_path / "data")
    # The AppView indexes asynchronously: wait until a search sees all three posts.
    poll(lambda: len(bot.search([f"#{tag}"]).posts) == 3 or None, timeout=30)
    now = datetime.now(UTC)
    report = one_pass(store, bot, now)
    assert (report.new, report.approved, report.skipped, report.planned) == (3, 1, 2, 1)
    with store.read() as session:
        decided = {c.author_handle: (c.state, c.reason) for c in session.query(CandidateRow)}
    assert decided == {
        people["sup"].handle: ("planned", None),
        people["stranger"].handle: ("skipped", "the author is not on the allowlist"),
        people["blocked"].handle: ("skipped", "the author is on the blocklist"),
    }
    assert publish_due(store, bot, datetime.now(UTC)) == ["sent"]
    assert reposts_of(network, bot_did).count(posts["sup"]["uri"]) == 1

    # A second post by the supporter: found, but today's cap (1) is used, so it waits for
    # tomorrow (London time) instead of going out now.
    second = accounts["sup"].create(
        "app.bsky.feed.post", {"text": f"Again #{tag}", "langs": ["en"]}
    )
    second_url = (
        f"https://bsky.app/profile/{people['sup'].handle}/post/{second['uri'].rsplit('/', 1)[1]}"
    )
    poll(lambda: len(bot.search([f"#{tag}"]).posts) == 4 or None, timeout=30)
    bot.close()
    store.dispose()

    # "Restart": new objects on the same database file, another pass.
    store = Store(url)
    bot = kindling_platform(network, tmp_path / "data")
    later = datetime.now(UTC)
    report = one_pass(store, bot, later)
    assert (report.new, report.planned) == (1, 1)  # only the new post; the old ones not again
    assert publish_due(store, bot, datetime.now(UTC)) == []
    with store.read() as session:
        waiting = session.query(OutboxRow).filter(OutboxRow.subject_id == second["uri"]).one()
    london = ZoneInfo("Europe/London")
    assert waiting.state == "planned"
    assert waiting.slot_at.astimezone(london).date() == later.astimezone(london).date() + timedelta(
        days=1
    )
    subjects = reposts_of(network, bot_did)
    assert subjects.count(posts["sup"]["uri"]) == 1
    assert posts["stranger"]["uri"] not in subjects and posts["blocked"]["uri"] not in subjects
    bot.close()
    store.dispose()

    # `kindling unamplify ID`, run as an operator would: config file + the app password.
    with Store(url).read() as session:
        reposted = (
            session.query(CandidateRow).filter(CandidateRow.remote_id == posts["sup"]["uri"]).one()
        )
    (tmp_path / "config.toml").write_text(
        f'[paths]\ndata = "{tmp_path / "data"}"\n[database]\nurl = "{url}"\n'
        f'[bluesky]\nservice_url = "{network.pds_url}"\nhandle = "{network.account("kindling").handle}"\n'
    )
    env = {**os.environ, "KINDLING_BLUESKY_APP_PASSWORD": network.account("kindling").password}
    cli = CliRunner()
    result = cli.invoke(
        main, ["--config", str(tmp_path / "config.toml"), "unamplify", str(reposted.id)], env=env
    )
    assert result.exit_code == 0, result.output
    assert f"undid the repost of candidate {reposted.id}" in result.output
    assert posts["sup"]["uri"] not in reposts_of(network, bot_did)
    listing = cli.invoke(
        main, ["--config", str(tmp_path / "config.toml"), "queue", "--all", "--json"], env=env
    )
    views = json.loads(listing.output)
    assert sorted((v["author"], v["state"], v["url"] == second_url) for v in views) == sorted(
        [
            (people["sup"].handle, "undone", False),
            (people["sup"].handle, "planned", True),
            (people["stranger"].handle, "skipped", False),
            (people["blocked"].handle, "skipped", False),
        ]
    )
    again = cli.invoke(
        main, ["--config", str(tmp_path / "config.toml"), "unamplify", str(reposted.id)], env=env
    )
    assert again.exit_code == 1 and "has not amplified it" in again.output


def test_the_running_daemon_discovers_and_reposts_a_supporters_post(
    bluesky_network: BlueskyNetwork, tmp_path: Path
) -> None:
    """`kindling run`'s wiring: the amplify job runs at start, plans, and the publish job sends."""
    import threading

    from bot.config import GeneralSettings
    from bot.daemon.scheduler import Daemon

    network = bluesky_network
    run = uuid.uuid4().hex[:8]
    tag = f"Daemon{run}"
    friend = network.create_account(f"friend{run}")
    stranger = network.create_account(f"other{run}")
    liked = network.login(friend.name).create(
        "app.bsky.feed.post", {"text": f"Please read the letter #{tag}", "langs": ["en"]}
    )
    network.login(stranger.name).create(
        "app.bsky.feed.post", {"text": f"Meh #{tag}", "langs": ["en"]}
    )
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates").mkdir()
    today = datetime.now(UTC).date()
    (tmp_path / "campaigns" / "amp.yaml").write_text(
        f"id: amp\nname: {{en: Amp}}\nlanguages: [en]\ntimezone: UTC\n"
        f"active: {{start: {today}, end: {today + timedelta(days=2)}}}\nplatforms: [bluesky]\n"
        f"hashtags: [{tag}]\nsupporters:\n  - name: Friend\n    handles: {{bluesky: {friend.handle}}}\n"
        f"amplify:\n  platforms: [bluesky]\n  action: like\n  min_spacing_minutes: 0\n"
    )
    account = network.account("kindling")
    settings = Settings(
        paths=PathsSettings(data=str(tmp_path / "data")),
        general=GeneralSettings(timezone="UTC"),
        bluesky=BlueskySettings(
            service_url=network.pds_url, handle=account.handle, timeout_seconds=10
        ),
    )
    secret = {"KINDLING_BLUESKY_APP_PASSWORD": SecretStr(account.password)}
    config = Config(settings, tmp_path, Secrets(secret))
    store = Store(config.database)
    store.create_tables()
    store.dispose()
    bot = kindling_platform(network, tmp_path / "probe")
    poll(lambda: len(bot.search([f"#{tag}"]).posts) == 2 or None, timeout=30)
    bot.close()
    daemon = Daemon(config, dry_run=False)
    runner = threading.Thread(target=daemon.run, kwargs={"handle_signals": False})
    runner.start()
    reader = network.login("supporter")
    try:

        def likes() -> list[str]:
            records = reader.list_records(account.did, "app.bsky.feed.like")
            return [r["value"]["subject"]["uri"] for r in records]

        assert poll(lambda: liked["uri"] in likes() or None, timeout=30)
    finally:
        daemon.stop_event.set()
        runner.join(timeout=30)
    subjects = likes()
    assert subjects.count(liked["uri"]) == 1
    with Store(config.database).read() as session:
        states = {c.author_handle: c.state for c in session.query(CandidateRow)}
    assert states == {friend.handle: "planned", stranger.handle: "skipped"}


def test_queue_approve_quote_and_unamplify_through_the_commands(
    bluesky_network: BlueskyNetwork, tmp_path: Path
) -> None:
    """An organiser's day: `amplify discover` queues a supporter's post, `queue` lists it,
    `approve` plans a quote, the outbox publishes it on the PDS, `unamplify` deletes it."""
    network = bluesky_network
    run = uuid.uuid4().hex[:8]
    tag = f"Quote{run}"
    friend = network.create_account(f"quoted{run}")
    original = network.login(friend.name).create(
        "app.bsky.feed.post", {"text": f"We signed the letter #{tag}", "langs": ["en"]}
    )
    account = network.account("kindling")
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates").mkdir()
    today = datetime.now(UTC).date()
    (tmp_path / "campaigns" / "q.yaml").write_text(
        f"id: q\nname: {{en: Q}}\nlanguages: [en]\ntimezone: UTC\n"
        f"active: {{start: {today - timedelta(days=1)}, end: {today + timedelta(days=2)}}}\n"
        f"platforms: [bluesky]\nhashtags: [{tag}]\nlinks: {{letter: 'https://example.org/l'}}\n"
        f"supporters:\n  - name: Friend\n    handles: {{bluesky: {friend.handle}}}\n"
        "amplify:\n  approval: true\n  action: quote\n  min_spacing_minutes: 0\n"
        "  quote: {en: 'Thank you, {{ author }}! Read it: {{ link }}'}\n"
    )
    data = tmp_path / "data"
    (tmp_path / "config.toml").write_text(
        f'[paths]\ncampaigns = "{tmp_path / "campaigns"}"\ntemplates = "{tmp_path / "templates"}"\n'
        f'data = "{data}"\n[general]\ntimezone = "UTC"\n'
        f'[bluesky]\nservice_url = "{network.pds_url}"\nhandle = "{account.handle}"\n'
    )
    env = {**os.environ, "KINDLING_BLUESKY_APP_PASSWORD": account.password}
    cli = CliRunner()

    def kindling(*args: str):
        return cli.invoke(main, ["--config", str(tmp_path / "config.toml"), *args], env=env)

    assert kindling("db", "upgrade").exit_code == 0
    bot = kindling_platform(network, tmp_path / "probe")
    poll(lambda: bot.search([f"#{tag}"]).posts or None, timeout=30)
    bot.close()
    discovered = kindling("amplify", "discover")
    assert discovered.exit_code == 0, discovered.output
    # read twice (the hashtag search and the supporter's own feed), stored once
    assert "bluesky: 2 post(s) read, 1 new: 0 approved, 1 queued, 0 skipped" in discovered.output
    queued = json.loads(kindling("queue", "--json").output)
    assert [(c["author"], c["state"], c["action"]) for c in queued] == [
        (friend.handle, "queued", "quote")
    ]
    assert kindling("approve", str(queued[0]["id"])).exit_code == 0
    url = f"sqlite:///{data / 'kindling.sqlite3'}"
    store = Store(url)
    outbox = Outbox(store, "live", Budget(store, 25.0), XPrices())
    bot = kindling_platform(network, tmp_path / "probe")
    now = datetime.now(UTC)
    rows = outbox.due("bluesky", now)
    assert [(r.action, r.text) for r in rows] == [
        ("quote", f"Thank you, {friend.handle}! Read it: https://example.org/l")
    ]
    assert outbox.publish(rows[0], bot, now).state == "sent"
    bot.close()
    with store.read() as session:
        made = session.get(OutboxRow, rows[0].id)
        assert made is not None and made.remote_id is not None
        quote_uri = made.remote_id
    store.dispose()
    record = network.login("supporter").get_record(quote_uri)["value"]
    assert record["embed"]["record"]["uri"] == original["uri"]
    assert record["text"] == f"Thank you, {friend.handle}! Read it: https://example.org/l"
    undone = kindling("unamplify", str(queued[0]["id"]))
    assert undone.exit_code == 0, undone.output
    reader = network.login("supporter")
    assert quote_uri not in {r["uri"] for r in reader.list_records(account.did)}


def test_a_repost_or_like_is_made_once_and_found_again_after_a_crash(
    bluesky_network: BlueskyNetwork, tmp_path: Path
) -> None:
    """Exactly once: the record key comes from the outbox key, so sending again (a crash
    between the network call and the commit) finds the record instead of making a second."""
    from bot.platforms.base import PostRequest, Subject

    network = bluesky_network
    run = uuid.uuid4().hex[:8]
    friend = network.create_account(f"once{run}")
    made = network.login(friend.name).create(
        "app.bsky.feed.post", {"text": "once", "langs": ["en"]}
    )
    subject = Subject(made["uri"], made["cid"], "https://bsky.app/x")
    slot = datetime.now(UTC).replace(microsecond=0)
    bot = kindling_platform(network, tmp_path / "data")
    did = network.account("kindling").did
    reader = network.login("supporter")
    try:
        for action, collection in (
            ("repost", "app.bsky.feed.repost"),
            ("like", "app.bsky.feed.like"),
        ):
            request = PostRequest(
                key=f"live:amplify:bluesky:{action}:{made['uri']}",
                text="",
                language="en",
                slot=slot,
                action=action,
                subject=subject,
            )
            assert bot.find_published(request) is None
            first = bot.publish(request)
            again = bot.publish(request)  # as after a crash: the same key, the same record
            assert again.remote_id == first.remote_id
            found = bot.find_published(request)
            assert found is not None and found.remote_id == first.remote_id
            records = [
                r
                for r in reader.list_records(did, collection)
                if r["value"]["subject"]["uri"] == made["uri"]
            ]
            assert [r["uri"] for r in records] == [first.remote_id]
            bot.unamplify(action, first.remote_id, subject)
            bot.unamplify(action, first.remote_id, subject)  # undoing twice is harmless
            assert bot.find_published(request) is None
    finally:
        bot.close()
