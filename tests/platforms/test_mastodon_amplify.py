"""Amplifying on Mastodon (issue 16 point 6) over real HTTP against the stand-in, which validates
every request and answer against the Mastodon API description (the `fake` fixture fails a test
that leaves a violation): hashtag timelines and allowlisted accounts' statuses read exactly and
paged without gaps, boost/favourite/quote made once and undone, reconciliation after a crash,
and a whole discovery pass through the outbox to the stand-in and back with `unamplify`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.amplify.decisions import unamplify
from bot.amplify.discovery import Discovery
from bot.campaign.model import Campaign
from bot.cli.main import main
from bot.config import AmplifySettings, XPrices
from bot.platforms.base import Amplifier, FoundPost, PostRequest, Rejected, Subject
from bot.platforms.mastodon import MastodonPlatform
from bot.publish.budget import Budget
from bot.publish.outbox import Outbox
from bot.store.engine import Store
from bot.store.tables import CandidateRow, OutboxRow
from tests.amplify.conftest import store
from tests.conftest import MINIMAL_CAMPAIGN
from tests.fakes.mastodon_server import MastodonFakeServer
from tests.platforms.test_mastodon import SLOT, adapter, fake, server

__all__ = ["fake", "server", "store"]  # fixtures
NOW = datetime.now(UTC).replace(microsecond=0)
TAG_ROUTE = "GET /api/v1/timelines/tag/{hashtag}"
FRIEND = "friend@other.example"


def _subject(fake: MastodonFakeServer, text: str = "Cefnogwch #Senedd2026") -> Subject:
    status_id = fake.state.add_status(text, author="cefnogwr@other.example")
    return Subject(status_id, url=f"https://other.example/@cefnogwr/{status_id}")


def _amplify(action: str, subject: Subject, text: str = "", key: str = "") -> PostRequest:
    return PostRequest(
        key=key or f"demo:amplify:{action}",
        text=text,
        language="cy",
        slot=SLOT,
        action=action,
        subject=subject,
    )


def test_it_is_an_amplifier(fake: MastodonFakeServer) -> None:
    platform = adapter(fake)
    assert isinstance(platform, Amplifier) and platform.combines_terms is False


def test_a_hashtag_timeline_maps_every_field(fake: MastodonFakeServer) -> None:
    state, when = fake.state, NOW - timedelta(hours=2)
    text = "Cefnogwch #Senedd2026 & #Cymraeg! @kindling darllenwch https://example.org/llythyr"
    first = state.add_status(text, author="Cefnogwr@other.example", language="cy", created_at=when)
    reply = state.add_status(
        "@Cefnogwr@other.example #senedd2026 ie",
        author="ateb@third.example",
        in_reply_to_id=first,
        language=None,
        created_at=when + timedelta(minutes=1),
    )
    state.add_status("Dim byd #arall https://example.org/llythyr", author="arall@other.example")
    boost = state.store("", state.account("booster@other.example").id)
    boost.reblog_of = first  # a boost carries no tags: never on a tag timeline

    page = adapter(fake).search(["#Senedd2026"])

    author = state.account("Cefnogwr@other.example")
    assert page.posts[1] == FoundPost(
        remote_id=first,
        url=f"https://other.example/@Cefnogwr/{first}",
        author_id=author.id,
        author_handle="cefnogwr@other.example",
        text=text,
        created_at=when,
        languages=("cy",),
        tags=("Senedd2026", "Cymraeg"),
        links=("https://example.org/llythyr",),
        mentioned=("kindling@mastodon.example",),
    )
    found_reply = page.posts[0]
    assert (found_reply.remote_id, found_reply.author_handle, found_reply.languages) == (
        reply,
        "ateb@third.example",
        (),
    )
    assert (found_reply.is_reply, found_reply.reply_to_id, found_reply.reply_to_author_id) == (
        True,
        first,
        author.id,
    )
    assert found_reply.reply_to_handle == "cefnogwr@other.example"
    assert (page.next_page, page.newest) == (None, reply)
    [call] = state.calls(TAG_ROUTE)
    assert call.path == "/api/v1/timelines/tag/Senedd2026" and call.param("limit") == "40"


def test_a_timeline_pages_without_gaps_then_reads_only_newer_posts(
    fake: MastodonFakeServer,
) -> None:
    start = NOW - timedelta(hours=1)
    ids = [
        fake.state.add_status(
            f"Post {n} #hwyl",
            author=f"c{n % 7}@other.example",
            created_at=start + timedelta(seconds=n),
        )
        for n in range(50)
    ]
    platform = adapter(fake)
    first = platform.search(["#hwyl"])
    assert len(first.posts) == 40 and first.next_page and first.newest == ids[-1]
    second = platform.search(["#hwyl"], page=first.next_page)
    assert len(second.posts) == 10 and second.next_page is None
    assert [p.remote_id for p in first.posts + second.posts] == ids[::-1]
    assert fake.state.calls(TAG_ROUTE)[1].param("max_id") == first.next_page

    newer = [
        fake.state.add_status(f"Newydd {n} #hwyl", author="c1@other.example") for n in range(3)
    ]
    since = platform.search(["#hwyl"], newer_than=first.newest)
    assert [p.remote_id for p in since.posts] == newer[::-1] and since.newest == newer[-1]
    assert fake.state.calls(TAG_ROUTE)[-1].param("since_id") == first.newest


def test_a_link_is_no_search_term_on_mastodon(fake: MastodonFakeServer) -> None:
    with pytest.raises(Rejected, match="by hashtag only"):
        adapter(fake).search(["https://example.org/llythyr"])
    assert fake.state.requests == []


def test_author_posts_by_address_leave_boosts_out(fake: MastodonFakeServer) -> None:
    state = fake.state
    own = [state.add_status(f"Fy swydd {n}", author=FRIEND) for n in range(2)]
    other = state.add_status("Rhywun arall #Demo", author="stranger@other.example")
    boost = state.store("", state.account(FRIEND).id)
    boost.reblog_of = other
    platform = adapter(fake)

    page = platform.author_posts("@Friend@other.example")
    again = platform.author_posts(FRIEND, newer_than=page.newest)

    assert [p.remote_id for p in page.posts] == own[::-1]
    assert {p.author_handle for p in page.posts} == {FRIEND}
    assert again.posts == [] and len(state.calls("GET /api/v1/accounts/lookup")) == 1
    [first_read, _] = state.calls("GET /api/v1/accounts/{id}/statuses")
    assert first_read.param("exclude_reblogs") in ("1", "true")
    with pytest.raises(Rejected, match=r"no account nobody@other\.example"):
        platform.author_posts("nobody@other.example")


def test_boost_favourite_quote_once_each_and_undo(fake: MastodonFakeServer) -> None:
    state, platform = fake.state, adapter(fake)
    subject = _subject(fake)
    quote = _amplify("quote", subject, "Diolch @cefnogwr@other.example!")

    for _ in range(2):  # a second send (a retry after a lost answer) makes nothing new
        boosted = platform.publish(_amplify("repost", subject))
        liked = platform.publish(_amplify("like", subject))
        quoted = platform.publish(quote)

    made = state.reblog_by_me(subject.remote_id)
    assert made is not None and boosted.remote_id == liked.remote_id == subject.remote_id
    assert state.statuses[subject.remote_id].counts == {"reblogs": 1, "favourites": 1, "quotes": 1}
    assert state.favourites == {subject.remote_id} and state.created == 1
    assert state.statuses[quoted.remote_id].quote_of == subject.remote_id
    creates = state.calls("POST /api/v1/statuses")
    assert [c.headers.get("idempotency-key") for c in creates] == [quote.key] * 2

    for action, published in (("repost", boosted), ("like", liked), ("quote", quoted)):
        platform.unamplify(action, published.remote_id, subject)
        platform.unamplify(action, published.remote_id, subject)  # gone already: no error
    assert state.reblog_by_me(subject.remote_id) is None and state.favourites == set()
    assert quoted.remote_id not in state.statuses
    counts = state.statuses[subject.remote_id].counts
    assert (counts["reblogs"], counts["favourites"]) == (0, 0)


def test_without_quotes_on_the_instance_a_quote_links_the_original(
    fake: MastodonFakeServer,
) -> None:
    fake.state.api_version = 6  # Mastodon 4.4: no quote posts
    subject = _subject(fake)
    quoted = adapter(fake).publish(_amplify("quote", subject, "Diolch!"))
    made = fake.state.statuses[quoted.remote_id]
    assert made.text == f"Diolch!\n\n{subject.url}" and made.quote_of is None
    [create] = fake.state.calls("POST /api/v1/statuses")
    assert b"quoted_status_id" not in create.body


def test_reconciliation_finds_what_a_crash_left_unconfirmed(fake: MastodonFakeServer) -> None:
    subject, other = _subject(fake), _subject(fake, "Un arall #Senedd2026")
    requests = [
        _amplify("repost", subject),
        _amplify("like", subject),
        _amplify("quote", subject, "Diolch!"),
    ]
    sender = adapter(fake)
    for request in requests:
        sender.publish(request)
    checker = adapter(fake)  # a new process after the crash
    found = [checker.find_published(request) for request in requests]
    assert [f.remote_id if f else None for f in found[:2]] == [subject.remote_id] * 2
    assert found[2] is not None and fake.state.statuses[found[2].remote_id].quote_of
    elsewhere = [PostRequest(**{**vars(r), "subject": other}) for r in requests]
    assert [checker.find_published(request) for request in elsewhere] == [None] * 3


def test_a_discovery_pass_amplifies_the_allowlist_once_and_unamplify_undoes_it(
    fake: MastodonFakeServer, store: Store
) -> None:
    state = fake.state
    tagged = [state.add_status(f"Post {n} #Demo", author=FRIEND) for n in range(2)]
    state.add_status("Dieithryn #Demo", author="stranger@other.example")  # not allowlisted
    linked = state.add_status("Darllenwch https://example.org/letter", author=FRIEND)
    state.add_status("Dim byd i'w weld", author=FRIEND)  # neither tag nor link
    campaign = Campaign.model_validate(
        {
            "id": "demo",
            "name": {"en": "Demo"},
            "languages": ["en", "cy"],
            "active": {"start": "2026-01-01", "end": "2030-12-31"},
            "quiet_hours": {"start": "21:00", "end": "08:00"},
            "platforms": ["mastodon"],
            "hashtags": ["Demo"],
            "links": {"letter": "https://example.org/letter"},
            "supporters": [{"name": "Friend", "handles": {"mastodon": FRIEND}}],
            "amplify": {
                "platforms": ["mastodon"],
                "links": ["letter"],
                "daily_cap": 50,
                "min_spacing_minutes": 0,
            },
        }
    )
    platform = adapter(fake)
    account = platform.check_account()
    discovery = Discovery(store, "live", AmplifySettings(), Budget(store, 25.0), XPrices())

    report = discovery.run(
        campaign, platform, "mastodon", frozenset({account.id, account.handle}), NOW
    )
    repeat = discovery.run(
        campaign, platform, "mastodon", frozenset({account.id, account.handle}), NOW
    )

    assert (report.approved, report.planned, report.stopped) == (3, 3, [])
    assert repeat.new == 0 and repeat.planned == 0
    outbox = Outbox(store, "live", Budget(store, 25.0), XPrices())
    with store.read() as session:  # (quiet hours may put them at 08:00 London)
        due_at = max(r.slot_at for r in session.query(OutboxRow))
    rows = outbox.due("mastodon", due_at, limit=50)
    assert [outbox.publish(row, platform, due_at).state for row in rows] == ["sent"] * 3
    boosted = {s.reblog_of for s in state.own_statuses() if s.reblog_of}
    assert boosted == {*tagged, linked}

    with store.read() as session:
        planned = [c.id for c in session.query(CandidateRow).filter_by(state="planned")]
    for candidate_id in planned:
        unamplify(store, "live", candidate_id, partial(_undo, platform), NOW)
    assert not any(s.reblog_of for s in state.own_statuses())


def _undo(platform: MastodonPlatform, row: OutboxRow) -> None:
    """What `kindling unamplify` does with a sent row (bot/cli/amplify.py `_Undo`)."""
    subject = Subject(row.subject_id or "", row.subject_cid, row.subject_url or "")
    platform.unamplify(row.action, row.remote_id or "", subject)


MASTODON_AMPLIFY = """\
platforms: [mastodon]
hashtags: [Demo]
amplify:
  platforms: [mastodon]
  action: quote
  quote:
    cy: "Diolch {{ author }}!"
    en: "{{ author }} {{ 'x' * 460 }}"
  accounts: {mastodon: [friend@other.example]}
  blocklist: {mastodon: [friend@other.example]}
"""


def test_check_takes_mastodon_amplification_and_locates_its_mistakes(
    workdir: Path, write: Callable[[str, str], Path]
) -> None:
    write("campaigns/demo.yaml", MINIMAL_CAMPAIGN + MASTODON_AMPLIFY)
    as_of = ["--now", "2026-12-01T09:00"]  # before its launch: no note of a past 'at'
    result = CliRunner().invoke(
        main, ["check", "campaigns/demo.yaml", *as_of], catch_exceptions=False
    )
    lines = [line for line in result.output.splitlines() if line.startswith("campaigns/")]
    # (a Mastodon address of 30 + 16 characters stands in for the author: 507 characters)
    assert lines == [
        "campaigns/demo.yaml:18:9: the quote text is 507 characters on mastodon, over 500",
        "campaigns/demo.yaml:20:26: 'friend@other.example' is both allowed (amplify.accounts) "
        "and blocked: the blocklist wins; remove one of them",
    ]
    assert result.exit_code == 1
