"""The Bluesky adapter against a real local network (PLC + PDS + AppView), and its pure parts.

Tests marked `bluesky` use the session-scoped `bluesky_network` fixture (tests/peers): they
read back what the PDS stored with plain XRPC (tests/peers XrpcAccount), never through the
adapter, and count the XRPC calls the PDS served to prove what the adapter did not do.
"""

from __future__ import annotations

import base64
import json
import stat
import struct
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import BlueskySettings, Config, PathsSettings, Secrets, Settings
from bot.platforms.base import Image, PostRequest, Rejected
from bot.platforms.bluesky import SESSION_FILE, BlueskyPlatform
from bot.platforms.bluesky_richtext import record_key
from tests.peers.bluesky_network import (
    BlueskyNetwork,
    XrpcAccount,
    bluesky_network_fixture,  # noqa: F401 (the `bluesky_network` fixture)
    poll,
)

pytestmark = pytest.mark.bluesky
SLOT = datetime.now(UTC).replace(second=0, microsecond=0)


def platform(
    network: BlueskyNetwork, data: Path, account: str = "kindling", password: str | None = None
) -> BlueskyPlatform:
    """The adapter as the daemon builds it: from a Config (config.toml settings + secrets)."""
    info = network.account(account)
    settings = Settings(
        paths=PathsSettings(data=str(data)),
        bluesky=BlueskySettings(
            service_url=network.pds_url, handle=info.handle, timeout_seconds=15
        ),
    )
    secret = {"KINDLING_BLUESKY_APP_PASSWORD": SecretStr(password or info.password)}
    return BlueskyPlatform.from_config(Config(settings, data, Secrets(secret)))


def request(text: str, **kwargs: object) -> PostRequest:
    return PostRequest(key=f"test:{uuid.uuid4()}", text=text, language="en", slot=SLOT, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def bot(bluesky_network: BlueskyNetwork, tmp_path_factory: pytest.TempPathFactory):
    adapter = platform(bluesky_network, tmp_path_factory.mktemp("bot-data"))
    yield adapter
    adapter.close()


@pytest.fixture(scope="module")
def reader(bluesky_network: BlueskyNetwork) -> XrpcAccount:
    return bluesky_network.login("supporter")


def rkey_of(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


def counts(network: BlueskyNetwork, method: str) -> int:
    return network.xrpc_counts().get(method, 0)


def test_welsh_post_with_link_hashtag_and_mention(bot, reader, bluesky_network):
    target = bluesky_network.account("target")
    text = "Darllenwch ein llythyr ŵyr 🏴󠁧󠁢󠁷󠁬󠁳󠁿 https://example.org/llythyr #CymruWyrdd @target.test!"
    post = PostRequest(key=f"cy:{uuid.uuid4()}", text=text, language="cy", slot=SLOT)
    published = bot.publish(post)

    assert rkey_of(published.remote_id) == record_key(post.key, SLOT)
    value = reader.get_record(published.remote_id)["value"]
    assert value["langs"] == ["cy"]
    assert value["text"] == text
    assert value["createdAt"] == SLOT.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    encoded = text.encode("utf-8")
    spans = {}
    for facet in value["facets"]:
        piece = encoded[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode("utf-8")
        spans[piece] = facet["features"][0]
    assert spans["https://example.org/llythyr"]["uri"] == "https://example.org/llythyr"
    assert spans["#CymruWyrdd"]["tag"] == "CymruWyrdd"
    assert spans["@target.test"]["did"] == target.did
    # A PDS of its own (not bsky.social): bsky.app would not open the post, its at:// URI does.
    assert published.url == published.remote_id and published.url.startswith("at://did:plc:")


def test_unresolvable_mention_is_rejected_and_nothing_is_posted(bot, reader, bluesky_network):
    before = counts(bluesky_network, "com.atproto.repo.createRecord")
    with pytest.raises(Rejected, match=r"@nobody-here\.test"):
        bot.publish(request("Helo @nobody-here.test, darllenwch hwn"))
    assert counts(bluesky_network, "com.atproto.repo.createRecord") == before


def test_publishing_the_same_request_twice_leaves_one_post(bot, reader, bluesky_network):
    post = request("Exactly once, whatever happens")
    first = bot.publish(post)
    creates = counts(bluesky_network, "com.atproto.repo.createRecord")
    # The retry really reaches the PDS (createRecord answers 500 on the used key); the adapter
    # reads the key back and recognises its own post: idempotent success, same URI.
    second = bot.publish(post)
    assert second.remote_id == first.remote_id
    assert counts(bluesky_network, "com.atproto.repo.createRecord") == creates + 1
    did = bluesky_network.account("kindling").did
    keys = [rkey_of(r["uri"]) for r in reader.list_records(did)]
    assert keys.count(record_key(post.key, SLOT)) == 1


def test_find_published(bot):
    post = request("Find me later")
    published = bot.publish(post)
    found = bot.find_published(post)
    assert found is not None and found.remote_id == published.remote_id
    assert bot.find_published(request("never published")) is None


def test_thread_of_three_and_a_half_made_thread_is_completed(bot, reader):
    post = request("Edefyn 1/3", thread=("Edefyn 2/3", "Edefyn 3/3"))
    published = bot.publish(post)
    assert len(published.thread_ids) == 2
    root = reader.get_record(published.remote_id)
    second = reader.get_record(published.thread_ids[0])
    third = reader.get_record(published.thread_ids[1])
    assert second["value"]["reply"]["root"]["uri"] == published.remote_id
    assert second["value"]["reply"]["parent"]["uri"] == published.remote_id
    assert third["value"]["reply"]["root"]["cid"] == root["cid"]
    assert third["value"]["reply"]["parent"]["uri"] == published.thread_ids[0]
    assert [rkey_of(u) for u in published.thread_ids] == [
        record_key(post.key, SLOT, 1),
        record_key(post.key, SLOT, 2),
    ]
    assert bot.find_published(post) == published

    bot.delete(published.thread_ids[1])  # as if the process died before the last reply
    assert bot.find_published(post) is None
    assert bot.publish(post) == published  # completes the thread on the same keys


def test_image_with_alt_text(bot, reader, tmp_path):
    image = tmp_path / "poster.png"
    image.write_bytes(tiny_png())
    post = request("Poster", images=(Image(image, "Poster yr ymgyrch: llythyr agored"),))
    published = bot.publish(post)
    embed = reader.get_record(published.remote_id)["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert embed["images"][0]["alt"] == "Poster yr ymgyrch: llythyr agored"
    assert embed["images"][0]["image"]["mimeType"] == "image/png"


def test_over_300_graphemes_is_rejected_before_any_call(bot, bluesky_network):
    before = bluesky_network.xrpc_counts()
    with pytest.raises(Rejected, match="301 graphemes"):
        bot.publish(request("ŵ" * 301))
    with pytest.raises(Rejected, match="reply 1 of the thread"):
        bot.publish(request("short", thread=("ŵ" * 301,)))
    assert bluesky_network.xrpc_counts() == before


def test_metrics_after_likes_reposts_replies_and_quotes(bot, bluesky_network):
    published = bot.publish(request("Count me"))
    record = bluesky_network.login("kindling").get_record(published.remote_id)
    supporter, third = bluesky_network.login("supporter"), bluesky_network.login("third")
    for account in (supporter, third):
        account.like(published.remote_id, record["cid"])
    supporter.repost(published.remote_id, record["cid"])
    third.reply("Cytuno!", published.remote_id, record["cid"])
    supporter.quote("Darllenwch hwn", published.remote_id, record["cid"])

    def counted():
        found = bot.metrics([published.remote_id])
        m = found[0] if found else None
        return m if m and (m.likes, m.reposts, m.replies, m.quotes) == (2, 1, 1, 1) else None

    assert poll(counted, timeout=30).remote_id == published.remote_id


def test_26_uris_take_two_calls(bot, bluesky_network):
    real = [bot.publish(request(f"batch {i}")).remote_id for i in range(3)]
    did = bluesky_network.account("kindling").did
    missing = [
        f"at://{did}/app.bsky.feed.post/{record_key(f'missing {i}', SLOT)}" for i in range(23)
    ]
    poll(lambda: len(bot.metrics(real)) == 3, timeout=30)  # the AppView has indexed them
    before = counts(bluesky_network, "app.bsky.feed.getPosts")
    found = bot.metrics(real + missing)
    assert counts(bluesky_network, "app.bsky.feed.getPosts") - before == 2
    assert {m.remote_id for m in found} == set(real)  # posts that do not exist are left out


def test_invalid_uri_in_metrics_is_rejected_not_a_validation_error(bot):
    with pytest.raises(Rejected):
        bot.metrics(["not an at-uri"])


def test_mentions_replies_and_quotes_with_cursor(bot, bluesky_network):
    published = bot.publish(request("Ask me anything"))
    cid = bluesky_network.login("kindling").get_record(published.remote_id)["cid"]
    third, target = bluesky_network.login("third"), bluesky_network.login("target")
    reply = third.reply("Ateb gan y trydydd", published.remote_id, cid)
    mention = target.create("app.bsky.feed.post", {"text": "Diolch @kindling.test", "facets": [
        {"index": {"byteStart": 7, "byteEnd": 21},
         "features": [{"$type": "app.bsky.richtext.facet#mention",
                       "did": bluesky_network.account("kindling").did}]}]})  # fmt: skip

    def both():
        page = bot.mentions()
        by_uri = {m.remote_id: m for m in page.mentions}
        return page if reply["uri"] in by_uri and mention["uri"] in by_uri else None

    page = poll(both, timeout=30)
    by_uri = {m.remote_id: m for m in page.mentions}
    assert by_uri[reply["uri"]].kind == "reply"
    assert by_uri[reply["uri"]].in_reply_to == published.remote_id
    assert by_uri[reply["uri"]].author_handle == "third.test"
    assert by_uri[mention["uri"]].kind == "mention"
    assert by_uri[mention["uri"]].text == "Diolch @kindling.test"

    # From the cursor, nothing new; some already returned may come again (notifications indexed
    # late sort among older ones, so the adapter reads a margin below the cursor) and the store
    # keeps each response once.
    assert {m.remote_id for m in bot.mentions(page.cursor).mentions} <= set(by_uri)
    later = third.reply("Ail ateb", published.remote_id, cid)

    def new_since_cursor() -> list[str]:
        found = bot.mentions(page.cursor).mentions
        return [m.remote_id for m in found if m.remote_id not in by_uri]

    assert poll(new_since_cursor, timeout=30) == [later["uri"]]


def test_recent_own_posts_and_delete(bot, bluesky_network):
    post = request("Mine, then gone")
    published = bot.publish(post)
    own = poll(lambda: [p for p in bot.recent_own_posts(50) if p.remote_id == published.remote_id])
    assert own[0].text == "Mine, then gone"
    bot.delete(published.remote_id)
    assert bot.find_published(post) is None
    with pytest.raises(Rejected):
        bot.delete(f"at://{bluesky_network.account('target').did}/app.bsky.feed.post/x")


def test_session_is_saved_and_reused_without_create_session(bluesky_network, tmp_path):
    fresh = bluesky_network.create_account()
    first = platform(bluesky_network, tmp_path, fresh.name)
    before = counts(bluesky_network, "com.atproto.server.createSession")
    account = first.check_account()
    assert (account.id, account.handle) == (fresh.did, fresh.handle)
    assert counts(bluesky_network, "com.atproto.server.createSession") == before + 1
    saved = tmp_path / SESSION_FILE
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert fresh.password not in saved.read_text()

    # A second process (a restart): the same data dir, even with a wrong password.
    second = platform(bluesky_network, tmp_path, fresh.name, password="wrong password")
    assert second.check_account() == account
    second.publish(request("After a restart, no new session"))
    assert counts(bluesky_network, "com.atproto.server.createSession") == before + 1
    first.close()
    second.close()


def test_expired_access_token_is_refreshed_and_the_new_session_saved(bluesky_network, tmp_path):
    platform(bluesky_network, tmp_path, "third").check_account()
    saved = tmp_path / SESSION_FILE
    data = json.loads(saved.read_text())
    handle, did, access, refresh, pds = data["session"].split(":::")
    data["session"] = ":::".join((handle, did, expired_copy(access), refresh, pds))
    saved.write_text(json.dumps(data))
    sessions = counts(bluesky_network, "com.atproto.server.createSession")
    refreshes = counts(bluesky_network, "com.atproto.server.refreshSession")

    adapter = platform(bluesky_network, tmp_path, "third", password="wrong password")
    assert adapter.check_account().id == did
    assert counts(bluesky_network, "com.atproto.server.refreshSession") == refreshes + 1
    assert counts(bluesky_network, "com.atproto.server.createSession") == sessions
    new_refresh = json.loads(saved.read_text())["session"].split(":::")[3]
    assert new_refresh != refresh  # refresh tokens are single-use: the new one was saved
    adapter.close()


def test_rejected_saved_session_falls_back_to_the_password(bluesky_network, tmp_path):
    platform(bluesky_network, tmp_path, "target").check_account()
    saved = tmp_path / SESSION_FILE
    data = json.loads(saved.read_text())
    handle, did, access, refresh, pds = data["session"].split(":::")
    data["session"] = ":::".join((handle, did, access[:-4] + "AAAA", refresh[:-4] + "AAAA", pds))
    saved.write_text(json.dumps(data))
    before = counts(bluesky_network, "com.atproto.server.createSession")
    adapter = platform(bluesky_network, tmp_path, "target")
    assert adapter.check_account().id == did
    assert counts(bluesky_network, "com.atproto.server.createSession") == before + 1
    adapter.close()


def test_the_network_stayed_on_loopback(bluesky_network):
    assert bluesky_network.blocked_hosts() == []


def expired_copy(jwt: str) -> str:
    """The same JWT with `exp` an hour ago (signature left stale: only the client reads exp)."""
    header, payload, signature = jwt.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


def tiny_png() -> bytes:
    """A valid 1x1 green PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00\xff\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
