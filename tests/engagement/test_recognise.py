"""Which of a target's own posts answer the campaign (bot/engagement/recognise.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.campaign.model import Campaign
from bot.engagement.recognise import Context, Marks, normal_link, recognise
from bot.platforms.base import FoundPost


def campaign(**extra: Any) -> Campaign:
    return Campaign.model_validate(
        {
            "id": "letter",
            "name": {"en": "Letter"},
            "languages": ["en"],
            "active": {"start": "2026-12-01"},
            "links": {"letter": "https://Copronet.example/open-letter-2/"},
            "hashtags": ["CoproductionWales"],
            "messages": [
                {
                    "id": "m",
                    "schedule": {"at": "2026-12-02 10:00"},
                    "text": {"en": "hi"},
                    "hashtags": ["CydgynhyrchuCymru"],
                }
            ],
            **extra,
        }
    )


MARKS = Marks.of(campaign())


def post(remote_id: str = "p1", text: str = "", **fields: Any) -> FoundPost:
    values: dict[str, Any] = {
        "remote_id": remote_id,
        "url": f"https://example.test/{remote_id}",
        "author_id": "did:plc:target",
        "author_handle": "target.test",
        "text": text,
        "created_at": None,
    }
    return FoundPost(**{**values, **fields})


def test_the_marks_are_every_hashtag_and_link_of_the_campaign() -> None:
    assert MARKS.hashtags == {"coproductionwales", "cydgynhyrchucymru"}
    assert MARKS.links == {"copronet.example/open-letter-2"}
    assert normal_link("http://www.COPRONET.example/open-letter-2/") == normal_link(
        "copronet.example/open-letter-2"
    )


@pytest.mark.parametrize(
    "text",
    [
        "We hear you #CoproductionWales",
        "Diolch! #cydgynhyrchucymru",
        "Read it at https://copronet.example/open-letter-2",
        "See www.copronet.example/open-letter-2/#sign today",
    ],
)
def test_a_post_carrying_the_marks_is_an_own_statement(text: str) -> None:
    assert recognise(post(text=text), MARKS, Context()).kind == "statement"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "Lovely weather in Cardiff today",
        "#CoproductionWalesX is another campaign",
        "https://copronet.example/open-letter-22 is not the letter",
        "https://elsewhere.example/?u=copronet.example/open-letter-2",
    ],
)
def test_a_post_without_the_marks_is_none(text: str) -> None:
    assert recognise(post(text=text), MARKS, Context()) is None


def test_marks_in_facets_or_entities_count_without_the_text() -> None:
    assert recognise(post(tags=("CoproductionWales",)), MARKS, Context()) is not None
    links = ("https://copronet.example/open-letter-2/act",)
    assert recognise(post(links=links), MARKS, Context()) is not None


def test_a_reply_to_a_supporters_marked_post_answers_that_post() -> None:
    supporter = post("s1", "@target.test please back the letter #CoproductionWales")
    reply = post(
        "r1", "Thank you, I will", is_reply=True, reply_to_id="s1", referenced=(supporter,)
    )
    found = recognise(reply, MARKS, Context())
    assert found is not None
    assert (found.kind, found.answered_id, found.answered_url) == (
        "supporter_reply",
        "s1",
        "https://example.test/s1",
    )


def test_a_reply_to_an_unmarked_post_is_none() -> None:
    other = post("s1", "Nice photo")
    reply = post("r1", "Thanks", is_reply=True, reply_to_id="s1", referenced=(other,))
    assert recognise(reply, MARKS, Context()) is None


def test_a_reply_to_a_post_the_store_knows_as_marked_counts_without_its_text() -> None:
    reply = post("r1", "Thanks", is_reply=True, reply_to_id="s1")
    context = Context(marked={("letter", "s1"): "https://x.com/s/status/s1"})
    found = recognise(reply, MARKS, context)
    assert found is not None and (found.kind, found.answered_url) == (
        "supporter_reply",
        "https://x.com/s/status/s1",
    )
    assert recognise(reply, Marks("other", frozenset({"x"}), frozenset()), context) is None


def test_replies_and_quotes_of_the_bot() -> None:
    context = Context(bot_ids=frozenset({"did:plc:bot"}), our_posts=frozenset({"ours"}))
    to_bot = post("r1", "ok", is_reply=True, reply_to_author_id="did:plc:bot", reply_to_id="b")
    to_post = post("r2", "ok", is_reply=True, reply_to_id="ours")
    quote = post("q1", "worth reading", quoted_id="ours")
    found = [recognise(p, MARKS, context) for p in (to_bot, to_post, quote)]
    kinds = [(r.kind, r.answered_id, r.ours) if r else None for r in found]
    assert kinds == [("reply", "b", True), ("reply", "ours", True), ("quote", "ours", True)]


def test_a_quote_of_a_marked_post_and_a_plain_repost() -> None:
    marked = post("s1", "#CoproductionWales")
    quote = post("q1", "Agreed", quoted_id="s1", referenced=(marked,))
    found = recognise(quote, MARKS, Context())
    assert found is not None and (found.kind, found.answered_id) == ("quote", "s1")
    assert recognise(post(text="#CoproductionWales", is_repost=True), MARKS, Context()) is None
