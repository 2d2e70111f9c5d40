"""The X adapter finding supporters' posts and amplifying them, against the fake X API: search
and author feeds read exactly, pagination survives a rate limit, repost/like/quote and their
undoing change exactly what they should, and reconciliation finds what a crash left behind.
Every request and answer is validated against the spec by the `x_fake` fixture."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from bot.platforms.base import (
    Ambiguous,
    Amplifier,
    FoundPost,
    PostRequest,
    Published,
    RateLimited,
    Rejected,
    Subject,
    Transient,
)
from bot.platforms.x import XPlatform
from tests.fakes.x_server import XFakeServer
from tests.platforms.conftest import ACCOUNT, oauth, request

pytestmark = pytest.mark.xfake
SEARCH = "GET /2/tweets/search/recent"
NOW = datetime.now(UTC).replace(microsecond=0)


def _subject(
    x_fake: XFakeServer, text: str = "Cefnogwch #Senedd2026", author: str = "cefnogwr"
) -> Subject:
    post_id = x_fake.state.add_post(text, author=author)
    return Subject(post_id, url=f"https://x.com/{author}/status/{post_id}")


def _amplify(action: str, subject: Subject, text: str = "", key: str = "") -> PostRequest:
    return request(text, key=key or f"demo:amplify:{action}", action=action, subject=subject)


def _seed(x_fake: XFakeServer, count: int, tag: str = "#hwyl") -> list[str]:
    """`count` posts with the tag, oldest first, a minute apart, the newest a minute ago."""
    start = NOW - timedelta(minutes=count)
    return [
        x_fake.state.add_post(
            f"Post {n} {tag}", author=f"c{n % 7}", created_at=start + timedelta(minutes=n)
        )
        for n in range(count)
    ]


def test_it_is_an_amplifier(x_platform: XPlatform) -> None:
    assert isinstance(x_platform, Amplifier) and x_platform.combines_terms is True


def test_search_maps_every_field(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    state = x_fake.state
    state.shorten_urls = True  # links come back as t.co with the real URL in expanded_url
    when = NOW - timedelta(hours=2)
    text = "Cefnogwch #Senedd2026 & #Cymraeg! @Kindling_Test darllenwch https://example.org/llythyr"
    first = state.add_post(text, author="Cefnogwr_A", lang="cy", created_at=when)
    reply = state.add_post(
        "#senedd2026 ie",
        author="ateb",
        in_reply_to=first,
        lang="und",
        created_at=when + timedelta(minutes=1),
    )
    linked = state.add_post("Gwelwch www.example.org/llythyr/ heddiw", author="arall", lang="en")
    state.add_post("", author="ailadroddwr", retweet_of=first)  # a plain retweet: left out
    state.add_post("Dim byd #arall https://example.org/llythyrau", author="arall")  # no match

    page = x_platform.search(["#senedd2026", "https://example.org/llythyr"])

    author_id = state.posts[first].author_id
    assert page.posts[2] == FoundPost(
        remote_id=first,
        url=f"https://x.com/Cefnogwr_A/status/{first}",
        author_id=author_id,
        author_handle="cefnogwr_a",
        text=state.posts[first].text,  # as X shows it: with the t.co link, & unescaped
        created_at=when,
        languages=("cy",),
        tags=("Senedd2026", "Cymraeg"),
        links=("https://example.org/llythyr",),
        mentioned=("kindling_test",),
    )
    assert "&" in page.posts[2].text and "https://t.co/" in page.posts[2].text
    found_reply = page.posts[1]
    assert (found_reply.remote_id, found_reply.author_handle, found_reply.languages) == (
        reply,
        "ateb",
        (),
    )
    assert (found_reply.is_reply, found_reply.reply_to_author_id, found_reply.reply_to_handle) == (
        True,
        author_id,
        "cefnogwr_a",
    )
    assert found_reply.tags == ("senedd2026",)
    assert (page.posts[0].remote_id, page.posts[0].links) == (
        linked,
        ("http://www.example.org/llythyr/",),
    )
    assert [p.remote_id for p in page.posts] == [linked, reply, first]  # newest first
    assert not any(p.is_repost for p in page.posts)
    assert (page.next_page, page.newest) == (None, linked)
    [call] = state.calls(SEARCH)
    assert call.param("query") == '(#senedd2026 OR url:"example.org/llythyr") -is:retweet'
    assert call.param("max_results") == "100" and call.param("user.fields") == "username"
    assert call.param("sort_order") == "recency"
    assert call.param("expansions") == "author_id,in_reply_to_user_id"
    assert set(call.param("tweet.fields").split(",")) == {  # type: ignore[union-attr]
        "created_at",
        "lang",
        "author_id",
        "entities",
        "conversation_id",
        "in_reply_to_user_id",
        "referenced_tweets",
    }
    assert state.posts_read() == 3  # X bills what it returns


def test_search_pages_then_only_newer_posts(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    ids = _seed(x_fake, 150)
    first = x_platform.search(["#hwyl"])
    assert len(first.posts) == 100 and first.next_page and first.newest == ids[-1]
    second = x_platform.search(["#hwyl"], page=first.next_page)
    assert len(second.posts) == 50 and second.next_page is None
    assert [p.remote_id for p in first.posts + second.posts] == ids[::-1]
    assert x_fake.state.calls(SEARCH)[1].param("next_token") == first.next_page

    newer = [x_fake.state.add_post(f"Newydd {n} #hwyl", author="c1") for n in range(3)]
    since = x_platform.search(["#hwyl"], newer_than=first.newest)
    assert [p.remote_id for p in since.posts] == newer[::-1] and since.newest == newer[-1]
    assert x_fake.state.calls(SEARCH)[2].param("since_id") == first.newest
    assert x_platform.search(["#hwyl"], newer_than=since.newest).posts == []
    assert x_fake.state.posts_read() == 153


def test_a_rate_limit_mid_pagination_loses_and_doubles_nothing(
    x_platform: XPlatform, x_fake: XFakeServer
) -> None:
    ids = _seed(x_fake, 250)
    reset = int(time.time())  # already over when the adapter calls again
    x_fake.state.fail_next("rate_limit", route=SEARCH, skip=1, reset_at=reset)
    seen = x_platform.search(["#hwyl"])
    with pytest.raises(RateLimited) as limited:
        x_platform.search(["#hwyl"], page=seen.next_page)
    assert limited.value.reset_at == datetime.fromtimestamp(reset, UTC)
    pages = [seen]
    while pages[-1].next_page:  # again from the same page
        pages.append(x_platform.search(["#hwyl"], page=pages[-1].next_page))
    assert [p.remote_id for page in pages for p in page.posts] == ids[::-1]
    assert [c.status for c in x_fake.state.calls(SEARCH)] == [200, 429, 200, 200]
    assert x_fake.state.posts_read() == 250


def test_author_posts(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    own = x_fake.state.add_post("Fy marn i", author="Llais")
    answer = x_fake.state.add_post("Ateb", author="Llais", in_reply_to=own)
    x_fake.state.add_post("Rhywun arall", author="eraill")
    x_fake.state.add_post(
        "", author="Llais", retweet_of=x_fake.state.add_post("x", author="eraill")
    )
    by_name = x_platform.author_posts("@Llais")
    assert [(p.remote_id, p.author_handle, p.is_reply) for p in by_name.posts] == [
        (answer, "llais", True),
        (own, "llais", False),
    ]
    user_id = x_fake.state.posts[own].author_id
    assert [p.remote_id for p in x_platform.author_posts(user_id).posts] == [answer, own]
    assert [c.param("query") for c in x_fake.state.calls(SEARCH)] == [
        "from:Llais -is:retweet",
        f"from:{user_id} -is:retweet",
    ]
    with pytest.raises(Rejected, match="not an X username"):
        x_platform.author_posts("not a name")
    assert len(x_fake.state.calls(SEARCH)) == 2


def test_queries_x_would_refuse_are_not_sent(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    many = [f"https://example.org/campaign/page-number-{n}" for n in range(20)]
    with pytest.raises(Rejected, match="over X's limit of 512"):
        x_platform.search(many)
    with pytest.raises(Rejected, match="neither a #hashtag nor an http"):
        x_platform.search(["senedd"])
    assert x_fake.state.calls(SEARCH) == []
    # A watermark older than recent search reaches would be refused: it is left out.
    old = x_fake.state.add_post("Hen #hwyl", author="c1", created_at=NOW - timedelta(days=8))
    fresh = x_fake.state.add_post("Newydd #hwyl", author="c1")
    assert [p.remote_id for p in x_platform.search(["#hwyl"], newer_than=old).posts] == [fresh]
    assert x_fake.state.calls(SEARCH)[0].param("since_id") is None


def test_the_fake_refuses_what_x_would(x_fake: XFakeServer) -> None:
    """Queries outside the subset Kindling sends, another user's id, malformed ids."""
    url, auth = x_fake.url, oauth()
    subject = x_fake.state.add_post("Cefnogwch #hwyl", author="cefnogwr")

    def search(query: str, **params: str) -> requests.Response:
        return requests.get(
            f"{url}/2/tweets/search/recent", params={"query": query, **params}, auth=auth, timeout=5
        )

    refused = [
        search("senedd #hwyl"),  # a bare keyword: Kindling never sends one
        search("#hwyl OR"),
        search("(#hwyl"),
        search("-is:retweet"),  # no standalone operator
        search("url:example.org"),  # punctuation must be quoted
        search("#hwyl lang:cy"),
        search(" OR ".join(f"#tag{n:03d}" for n in range(80))),  # over 512 characters
        search("#hwyl", since_id="1"),  # older than 7 days
    ]
    assert [r.status_code for r in refused] == [400] * len(refused)
    assert {r.json()["type"] for r in refused} == {"https://api.x.com/2/problems/invalid-request"}
    assert len(x_fake.state.violations) == len(refused)
    x_fake.state.violations.clear()
    assert (
        search('(#HWYL OR url:"example.org/x") -is:retweet -is:reply').json()["meta"][
            "result_count"
        ]
        == 1
    )

    foreign = "1234567890"
    answers = [
        requests.post(
            f"{url}/2/users/{foreign}/retweets", json={"tweet_id": subject}, auth=auth, timeout=5
        ),
        requests.post(
            f"{url}/2/users/{foreign}/likes", json={"tweet_id": subject}, auth=auth, timeout=5
        ),
        requests.delete(f"{url}/2/users/{foreign}/likes/{subject}", auth=auth, timeout=5),
        requests.delete(f"{url}/2/users/{foreign}/retweets/{subject}", auth=auth, timeout=5),
    ]
    assert [a.status_code for a in answers] == [403] * 4
    assert (x_fake.state.retweets, x_fake.state.likes) == ({}, {})
    bad = requests.post(
        f"{url}/2/users/{ACCOUNT.user_id}/likes", json={"tweet_id": "abc"}, auth=auth, timeout=5
    )
    assert bad.status_code == 400
    [violation] = x_fake.state.violations
    assert "/likes" in violation
    x_fake.state.violations.clear()


def test_repost_like_quote_and_undo(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    state = x_fake.state
    subject = _subject(x_fake)
    x_platform.check_account()

    assert x_platform.publish(_amplify("repost", subject)) == Published(
        subject.remote_id, subject.url
    )
    [retweet] = state.retweets.values()
    assert state.retweets == {subject.remote_id: retweet}
    assert state.posts[retweet].retweet_of == subject.remote_id
    assert state.posts[retweet].author_id == ACCOUNT.user_id
    # X ignores a second retweet: still published, still one retweet
    assert x_platform.publish(_amplify("repost", subject)) == Published(
        subject.remote_id, subject.url
    )
    assert state.retweets == {subject.remote_id: retweet}

    assert x_platform.publish(_amplify("like", subject)) == Published(
        subject.remote_id, subject.url
    )
    assert x_platform.publish(_amplify("like", subject)).remote_id == subject.remote_id
    assert list(state.likes) == [subject.remote_id]

    quote = x_platform.publish(_amplify("quote", subject, "Darllenwch hwn & rhannwch"))
    made = state.posts[quote.remote_id]
    assert (made.sent_text, made.quote_of, made.author_id) == (
        "Darllenwch hwn & rhannwch",
        subject.remote_id,
        ACCOUNT.user_id,
    )
    assert quote.url == f"https://x.com/{ACCOUNT.username}/status/{quote.remote_id}"
    assert [c.json for c in state.calls("POST /2/users/{id}/retweets")] == [
        {"tweet_id": subject.remote_id}
    ] * 2

    x_platform.unamplify("repost", subject.remote_id, subject)
    x_platform.unamplify("like", subject.remote_id, subject)
    x_platform.unamplify("quote", quote.remote_id, subject)
    assert (state.retweets, state.likes) == ({}, {})
    assert retweet not in state.posts and quote.remote_id not in state.posts
    assert subject.remote_id in state.posts
    # undoing again: already gone, not an error
    for action, published in (
        ("repost", subject.remote_id),
        ("like", subject.remote_id),
        ("quote", quote.remote_id),
    ):
        x_platform.unamplify(action, published, subject)
    assert [c.status for c in state.calls("DELETE /2/users/{id}/retweets/{source_tweet_id}")] == [
        200,
        200,
    ]
    assert [c.status for c in state.calls("DELETE /2/users/{id}/likes/{tweet_id}")] == [200, 200]


def test_amplifying_what_is_not_there_is_rejected(
    x_platform: XPlatform, x_fake: XFakeServer
) -> None:
    gone = Subject("1790000000000009999")
    for action in ("repost", "like"):
        with pytest.raises(Rejected, match="Could not find tweet"):
            x_platform.publish(_amplify(action, gone))
    with pytest.raises(Rejected, match="deleted or not visible"):
        x_platform.publish(_amplify("quote", gone, "Edrychwch"))
    with pytest.raises(Rejected, match="needs the X post id"):
        x_platform.publish(request("x", action="like"))
    assert (x_fake.state.retweets, x_fake.state.likes) == ({}, {})
    assert x_fake.state.own_posts() == []


def test_an_already_retweeted_refusal_counts_as_published(
    x_platform: XPlatform, x_fake: XFakeServer
) -> None:
    """Should X refuse a second retweet or like (as v1.1 did) instead of answering 200."""
    subject = _subject(x_fake)
    for action, detail in (
        ("repost", "You have already retweeted this Tweet."),
        ("like", "You have already liked this Tweet."),
    ):
        x_fake.state.fail_next(
            "error",
            route=f"POST /2/users/{{id}}/{'retweets' if action == 'repost' else 'likes'}",
            status=403,
            detail=detail,
        )
        assert x_platform.publish(_amplify(action, subject)).remote_id == subject.remote_id
    assert (x_fake.state.retweets, x_fake.state.likes) == ({}, {})  # the faults answered


def test_reconcile_finds_amplifications_a_crash_left_unconfirmed(
    x_platform: XPlatform, x_fake: XFakeServer
) -> None:
    state = x_fake.state
    subject, other = _subject(x_fake), _subject(x_fake, "Arall #hwyl", "rhywun")
    repost, like = _amplify("repost", subject), _amplify("like", subject)
    quote = _amplify("quote", subject, "Rhannwch hwn")
    assert [x_platform.find_published(r) for r in (repost, like, quote)] == [None, None, None]
    # Someone else's post amplified: not ours.
    x_platform.publish(_amplify("repost", other))
    x_platform.publish(_amplify("like", other))
    assert [x_platform.find_published(r) for r in (repost, like, quote)] == [None, None, None]

    for route, wanted in (
        ("POST /2/users/{id}/retweets", repost),
        ("POST /2/users/{id}/likes", like),
        ("POST /2/tweets", quote),
    ):
        state.fail_next("error", route=route, after=True, status=503)  # done, answer lost
        with pytest.raises(Ambiguous):
            x_platform.publish(wanted)
    assert state.retweets[subject.remote_id] and subject.remote_id in state.likes
    # The same words quoting another post, earlier (made here: X would refuse the duplicate).
    state.add_post("Rhannwch hwn", quote_of=other.remote_id, created_at=NOW - timedelta(minutes=30))

    made_at = state.posts[state.retweets[subject.remote_id]].created_at
    shown_at = made_at.replace(microsecond=made_at.microsecond // 1000 * 1000)  # X shows ms
    assert x_platform.find_published(repost) == Published(subject.remote_id, subject.url, shown_at)
    assert x_platform.find_published(like) == Published(subject.remote_id, subject.url)
    found = x_platform.find_published(quote)
    [made] = [p for p in state.own_posts() if p.quote_of == subject.remote_id]
    assert found is not None and found.remote_id == made.id
    assert [c.param("max_results") for c in state.calls("GET /2/users/{id}/liked_tweets")] == [
        "100"
    ] * 3


def test_own_posts_leave_retweets_out(x_platform: XPlatform, x_fake: XFakeServer) -> None:
    """A busy amplifier's retweets must not crowd its posts out of the 200 read to reconcile."""
    state = x_fake.state
    slot = NOW - timedelta(minutes=30)
    posted = state.add_post("Ein neges", created_at=slot + timedelta(seconds=1))
    for n in range(210):
        subject = state.add_post(f"Cefnogaeth {n}", author=f"c{n % 5}", created_at=slot)
        state.add_post("", retweet_of=subject)  # the account's retweet, made just now
    found = x_platform.find_published(request("Ein neges", slot=slot))
    assert found is not None and found.remote_id == posted
    assert [p.remote_id for p in x_platform.recent_own_posts(10)] == [posted]
    calls = state.calls("GET /2/users/{id}/tweets")
    assert {c.param("exclude") for c in calls} == {"retweets"}


def test_the_fake_is_seeded_and_read_over_http(x_fake: XFakeServer) -> None:
    """The daemon tests drive the standalone fake over /_fake: seeding searchable posts and
    reading back retweets, likes and the read count."""
    url = x_fake.url
    requests.post(f"{url}/_fake/config", json={"shorten_urls": True}, timeout=5).raise_for_status()
    made = NOW - timedelta(hours=1)
    seeded = requests.post(
        f"{url}/_fake/post",
        json={
            "text": "Ymunwch #Senedd2026 https://example.org/a",
            "author": "cefnogwr",
            "lang": "cy",
            "created_at": made.isoformat(),
        },
        timeout=5,
    ).json()["id"]
    reply = requests.post(
        f"{url}/_fake/post",
        json={"text": "ie #Senedd2026", "author": "ateb", "in_reply_to": seeded},
        timeout=5,
    ).json()["id"]
    query = {"query": "#senedd2026", "tweet.fields": "entities,lang,in_reply_to_user_id"}
    query |= {"expansions": "author_id,in_reply_to_user_id", "user.fields": "username"}
    found = requests.get(f"{url}/2/tweets/search/recent", params=query, auth=oauth(), timeout=5)
    replied, first = found.json()["data"]
    assert (first["id"], first["lang"], replied["id"]) == (seeded, "cy", reply)
    assert first["entities"]["urls"][0]["expanded_url"] == "https://example.org/a"
    assert first["entities"]["urls"][0]["url"].startswith("https://t.co/")
    assert replied["in_reply_to_user_id"] == x_fake.state.posts[seeded].author_id
    requests.post(
        f"{url}/2/users/{ACCOUNT.user_id}/likes", json={"tweet_id": seeded}, auth=oauth(), timeout=5
    ).raise_for_status()
    state = requests.get(f"{url}/_fake/state", timeout=5).json()
    assert (state["likes"], state["retweets"], state["posts_read"]) == ([seeded], {}, 2)
    assert state["reads"] == {SEARCH: 2}


def test_undo_and_search_failures_map_like_every_call(
    x_platform: XPlatform, x_fake: XFakeServer
) -> None:
    state = x_fake.state
    subject = _subject(x_fake)
    x_platform.publish(_amplify("like", subject))
    state.fail_next("error", route="DELETE /2/users/{id}/likes/{tweet_id}", status=404)
    x_platform.unamplify("like", subject.remote_id, subject)  # a 404: already gone
    assert list(state.likes) == [subject.remote_id]  # the fault answered, nothing changed
    state.fail_next("error", route="DELETE /2/users/{id}/likes/{tweet_id}", status=400)
    with pytest.raises(Rejected, match="undo like: 400"):
        x_platform.unamplify("like", subject.remote_id, subject)
    state.fail_next("rate_limit", route="DELETE /2/users/{id}/retweets/{source_tweet_id}")
    with pytest.raises(RateLimited):
        x_platform.unamplify("repost", subject.remote_id, subject)
    with pytest.raises(Rejected, match="cannot undo 'post'"):
        x_platform.unamplify("post", subject.remote_id, subject)
    state.fail_next("error", route=SEARCH, status=503)
    with pytest.raises(Transient):  # a read: safe to repeat, never Ambiguous
        x_platform.search(["#Senedd2026"])
    assert [p.remote_id for p in x_platform.search(["#Senedd2026"]).posts] == [subject.remote_id]
