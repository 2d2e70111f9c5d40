"""x_found.py without a server: the query Kindling sends and the reading of X's answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.platforms.base import FoundPost, Rejected
from bot.platforms.x_found import (
    XRefusal,
    author_query,
    confirm,
    found_page,
    query_term,
    search_query,
    usable_since,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _snowflake(moment: datetime) -> str:
    return str((int(moment.timestamp() * 1000) - 1288834974657) << 22)


@pytest.mark.parametrize(
    ("term", "operator"),
    [
        ("#Senedd2026", "#Senedd2026"),
        (" #ŵyl ", "#ŵyl"),
        ("https://www.Example.org/Llythyr/", 'url:"example.org/Llythyr"'),
        ("http://example.org", 'url:"example.org"'),
        ("https://act.example.org/go?c=senedd#top", 'url:"act.example.org/go?c=senedd"'),
        ("https://example.org:8443/a", 'url:"example.org:8443/a"'),
    ],
)
def test_query_terms(term: str, operator: str) -> None:
    assert query_term(term) == operator


@pytest.mark.parametrize("term", ["senedd", "#2026", "ftp://example.org/a", "https://", "#a b"])
def test_terms_x_cannot_search_for_are_rejected(term: str) -> None:
    with pytest.raises(Rejected, match="neither a #hashtag nor an http"):
        query_term(term)


def test_search_query() -> None:
    assert search_query(["#hwyl"]) == "#hwyl -is:retweet"
    assert (
        search_query(["#a", "https://example.org/b", "#a"])
        == '(#a OR url:"example.org/b") -is:retweet'
    )
    assert len(search_query([f"#t{n:04d}" for n in range(50)])) <= 512
    with pytest.raises(Rejected, match="over X's limit of 512"):
        search_query([f"#tag{n:05d}" for n in range(50)])
    with pytest.raises(Rejected, match="at least one term"):
        search_query([])
    assert author_query("@Llais_1") == "from:Llais_1 -is:retweet"
    for bad in ("", "two words", "a" * 16, "from:x"):
        with pytest.raises(Rejected):
            author_query(bad)


def test_usable_since() -> None:
    recent, old = (
        _snowflake(NOW - timedelta(days=6)),
        _snowflake(NOW - timedelta(days=7, minutes=1)),
    )
    assert (usable_since(None, NOW), usable_since(recent, NOW), usable_since(old, NOW)) == (
        recent and None,
        recent,
        None,
    )
    with pytest.raises(Rejected):
        usable_since("abc", NOW)


def test_found_page_reads_what_x_answers() -> None:
    data = {
        "id": "20",
        "text": "A &amp; B #Hwyl @Someone https://t.co/x https://t.co/m",
        "author_id": "7",
        "created_at": "2026-11-20T11:00:00.000Z",
        "lang": "qme",
        "in_reply_to_user_id": "99",  # not in includes: the handle is unknown
        "referenced_tweets": [{"type": "replied_to", "id": "19"}],
        "entities": {
            "hashtags": [{"start": 6, "end": 11, "tag": "Hwyl"}],
            "mentions": [{"start": 12, "end": 20, "username": "Someone", "id": "8"}],
            "urls": [
                {
                    "start": 21,
                    "end": 33,
                    "url": "https://t.co/x",
                    "expanded_url": "https://example.org/x",
                },
                {
                    "start": 34,
                    "end": 46,
                    "url": "https://t.co/m",
                    "expanded_url": "https://x.com/a/status/20/photo/1",
                    "media_key": "3_1",
                },
            ],
        },
    }
    page = found_page(
        [data, {"id": "21", "text": "hi"}], {"7": "Awdur"}, {"next_token": "n1", "newest_id": "21"}
    )
    assert page.posts[0] == FoundPost(
        remote_id="20",
        url="https://x.com/Awdur/status/20",
        author_id="7",
        author_handle="awdur",
        text="A & B #Hwyl @Someone https://t.co/x https://t.co/m",
        created_at=datetime(2026, 11, 20, 11, 0, tzinfo=UTC),
        languages=(),  # qme: only media links, no language
        tags=("Hwyl",),
        links=("https://example.org/x",),  # the photo's link is no link the author shared
        mentioned=("someone",),
        is_reply=True,
        reply_to_author_id="99",
        reply_to_handle=None,
        reply_to_id="19",  # the post it answers, from referenced_tweets
    )
    assert page.posts[1].url == "https://x.com/i/web/status/21" and page.posts[1].created_at is None
    assert (page.next_page, page.newest) == ("n1", "21")


def test_confirm() -> None:
    confirm({"retweeted": True, "rest_id": "5"}, [], "retweeted")
    with pytest.raises(XRefusal, match="Could not find tweet"):
        confirm(None, [{"detail": "Could not find tweet with tweet_id: [1]."}], "liked")
    with pytest.raises(ValueError, match="not liked: true"):
        confirm({"liked": False}, [], "liked")
