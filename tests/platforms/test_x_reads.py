"""The X adapter reading against the fake X API: reconciliation, own posts, metrics, mentions,
delete, and building it from the configuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Config, Secrets, Settings
from bot.platforms.base import AuthFailed, Rejected
from bot.platforms.x import CREDENTIAL_VARIABLES, XPlatform, from_config
from tests.fakes.x_server import XFakeServer
from tests.platforms.conftest import ACCOUNT, request

pytestmark = pytest.mark.xfake
SLOT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def test_find_published_survives_tco_entities_and_nfc(
    x_platform: XPlatform, x_fake: XFakeServer
) -> None:
    x_fake.state.shorten_urls = True
    text = "Ŵyr & wyres <3: darllenwch senedd.wales/llythyr a https://example.org/x?y=1"
    made = x_fake.state.add_post(text, created_at=SLOT + timedelta(seconds=5))
    shown = x_fake.state.posts[made].text
    assert "t.co" in shown and "senedd.wales" not in shown
    decomposed = text.replace("Ŵ", "W\u0302")
    thread = x_fake.state.add_post(
        "Ail ran https://example.org/2", in_reply_to=made, created_at=SLOT + timedelta(seconds=6)
    )
    found = x_platform.find_published(
        request(decomposed, slot=SLOT, thread=("Ail ran https://example.org/2",))
    )
    assert found is not None and (found.remote_id, found.thread_ids) == (made, (thread,))
    [timeline] = x_fake.state.calls("GET /2/users/{id}/tweets")
    assert timeline.param("start_time") == "2026-11-01T08:00:00Z"


def test_find_published_ignores_the_same_text_before_the_slot(
    x_platform: XPlatform, x_fake: XFakeServer
) -> None:
    x_fake.state.add_post("Bob dydd Llun", created_at=SLOT - timedelta(days=7))
    assert x_platform.find_published(request("Bob dydd Llun", slot=SLOT)) is None


def test_recent_own_posts_pages(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    for number in range(120):
        x_fake.state.add_post(f"Post {number} & co")
    posts = x_platform.recent_own_posts(limit=110)
    assert len(posts) == 110 and posts[0].text == "Post 119 & co"
    assert [c.param("max_results") for c in x_fake.state.calls("GET /2/users/{id}/tweets")] == [
        "100",
        "10",
    ]


@pytest.mark.parametrize("metric_name", ["repost_count", "retweet_count"])
def test_metrics_in_batches_of_100(
    x_platform: XPlatform, x_fake: XFakeServer, metric_name: str
) -> None:
    x_fake.state.metric_name = metric_name
    ids = [x_fake.state.add_post(f"Post {n}") for n in range(250)]
    x_fake.state.set_metrics(
        ids[7],
        like_count=5,
        repost_count=3,
        reply_count=2,
        quote_count=1,
        impression_count=900,
        bookmark_count=4,
    )
    metrics = x_platform.metrics(ids)
    calls = x_fake.state.calls("GET /2/tweets")
    assert [len(c.param("ids").split(",")) for c in calls] == [100, 100, 50]
    assert {c.param("tweet.fields") for c in calls} == {"public_metrics"}
    assert [m.remote_id for m in metrics] == ids
    seventh = metrics[7]
    assert (seventh.likes, seventh.reposts, seventh.replies, seventh.quotes) == (5, 3, 2, 1)
    assert (seventh.impressions, seventh.bookmarks) == (900, 4)
    if metric_name == "retweet_count":  # live X's name is not the spec's: the fake says so
        assert x_fake.state.response_violations and all(
            "repost_count" in v for v in x_fake.state.response_violations
        )
        x_fake.state.response_violations.clear()


def test_metrics_skip_deleted_posts(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    kept = x_fake.state.add_post("Aros")
    assert [m.remote_id for m in x_platform.metrics([kept, "1234567890"])] == [kept]


def test_mentions_with_cursor(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    ours = x_platform.publish(request("Ein neges")).remote_id
    state = x_fake.state
    reply = state.add_post(f"@{ACCOUNT.username} cytuno!", author="cefnogwr", in_reply_to=ours)
    quote = state.add_post(f"Da iawn @{ACCOUNT.username}", author="ms_jones", quote_of=ours)
    plain = state.add_post(f"Helo @{ACCOUNT.username.upper()}", author="cefnogwr")
    state.add_post("Dim sôn amdanom", author="arall")
    page = x_platform.mentions()
    assert [(m.remote_id, m.kind, m.author_handle, m.in_reply_to) for m in page.mentions] == [
        (reply, "reply", "cefnogwr", ours),
        (quote, "quote", "ms_jones", ours),
        (plain, "mention", "cefnogwr", None),
    ]
    assert page.cursor == plain and page.mentions[0].url.endswith(f"/cefnogwr/status/{reply}")
    newer = state.add_post(f"@{ACCOUNT.username} a fi", author="trydydd")
    again = x_platform.mentions(page.cursor)
    assert [m.remote_id for m in again.mentions] == [newer] and again.cursor == newer
    assert x_fake.state.calls("GET /2/users/{id}/mentions")[-1].param("since_id") == plain
    assert x_platform.mentions(again.cursor).mentions == []
    assert len(x_fake.state.calls("GET /2/users/me")) == 1  # the account is looked up once


def test_a_reply_to_someone_else_naming_us_is_a_mention(
    x_platform: XPlatform, x_fake: XFakeServer
) -> None:
    theirs = x_fake.state.add_post("Barn?", author="aelod")
    reply = x_fake.state.add_post(
        f"@aelod @{ACCOUNT.username} cytuno", author="b", in_reply_to=theirs
    )
    [mention] = x_platform.mentions().mentions
    assert (mention.remote_id, mention.kind, mention.in_reply_to) == (reply, "mention", None)


def test_mentions_follow_pages_after_a_cursor(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    cursor = x_fake.state.add_post(f"@{ACCOUNT.username} hen", author="a")
    new = [x_fake.state.add_post(f"@{ACCOUNT.username} {n}", author="b") for n in range(150)]
    page = x_platform.mentions(cursor)
    assert [m.remote_id for m in page.mentions] == new and page.cursor == new[-1]
    assert len(x_fake.state.calls("GET /2/users/{id}/mentions")) == 2


def test_delete(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    remote_id = x_platform.publish(request("Dros dro")).remote_id
    x_platform.delete(remote_id)
    assert remote_id in x_fake.state.deleted and x_fake.state.own_posts() == []
    x_platform.delete(remote_id)  # already gone: nothing to do
    x_fake.state.fail_next("error", status=404, route="DELETE /2/tweets/{id}")
    x_platform.delete(remote_id)  # a 404 too
    x_fake.state.fail_next("error", status=400, route="DELETE /2/tweets/{id}")
    with pytest.raises(Rejected, match="400"):
        x_platform.delete(remote_id)


def test_from_config(x_fake: XFakeServer) -> None:
    values = dict(
        zip(
            CREDENTIAL_VARIABLES,
            (
                ACCOUNT.consumer_key,
                ACCOUNT.consumer_secret,
                ACCOUNT.access_token,
                ACCOUNT.access_token_secret,
            ),
            strict=True,
        )
    )
    settings = Settings.model_validate({"x": {"api_base_url": x_fake.url, "timeout_seconds": 2}})
    platform = from_config(Config(settings, Path.cwd(), Secrets.from_environment(values)))
    assert repr(
        XPlatform.from_config(Config(settings, Path.cwd(), Secrets.from_environment(values)))
    ) == repr(platform)
    assert platform.check_account().handle == ACCOUNT.username
    partial = {k: v for k, v in values.items() if k.endswith("_KEY")}
    with pytest.raises(AuthFailed) as caught:
        from_config(Config(settings, Path.cwd(), Secrets.from_environment(partial)))
    message = str(caught.value)
    assert "KINDLING_X_API_SECRET" in message and "KINDLING_X_ACCESS_TOKEN_SECRET" in message
    assert "KINDLING_X_API_KEY" not in message and ACCOUNT.consumer_key not in message
