"""Discovery, rules, planning and decisions on a SQLite file, with a recording network: an
in-process `Amplifier` that serves pages from a list of posts and records every call (the
adapters themselves are tested against the real Bluesky network and the fake X server)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.amplify.decisions import DecisionError, decide, list_candidates, unamplify
from bot.amplify.discovery import Discovery, x_reads_today
from bot.amplify.planning import plan_approved
from bot.amplify.rules import judge
from bot.campaign.amplify_sources import same_link, sources_for
from bot.config import AmplifySettings, XPrices
from bot.platforms.base import FoundPage, FoundPost, RateLimited, Subject
from bot.publish.budget import Budget
from bot.store.engine import Store
from bot.store.tables import CandidateRow, OutboxRow
from tests.amplify.conftest import make_campaign
from tests.peers.postgres import (  # noqa: F401 (fixtures)
    database_url_fixture,
    postgres_server_fixture,
    postgres_url_fixture,
)

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday, 10:00 in London


def post(number: int, author: str = "friend.test", **fields: Any) -> FoundPost:
    values: dict[str, Any] = {
        "remote_id": f"at://did:plc:{author}/app.bsky.feed.post/{number:06d}",
        "url": f"https://bsky.app/profile/{author}/post/{number}",
        "author_id": f"did:plc:{author}",
        "author_handle": author,
        "text": f"Post {number} #Demo",
        "created_at": NOW - timedelta(minutes=number),
        "cid": f"cid{number}",
        "languages": ("en",),
        "tags": ("Demo",),
    }
    return FoundPost(**{**values, **fields})


class RecordingNetwork:
    """Serves `posts` (newest first) in pages of `page_size`; `fail_on` call numbers raise a
    rate limit. `calls` records (terms or author, newer_than, page, limit)."""

    def __init__(self, posts: list[FoundPost], page_size: int = 2, combines_terms: bool = False):
        self.posts, self.page_size, self.combines_terms = posts, page_size, combines_terms
        self.calls: list[tuple[Any, ...]] = []
        self.fail_on: set[int] = set()

    def search(self, terms, *, newer_than=None, page=None, limit=100) -> FoundPage:
        return self._serve(tuple(terms), newer_than, page, limit)

    def author_posts(self, author, *, newer_than=None, page=None, limit=100) -> FoundPage:
        return self._serve(author, newer_than, page, limit)

    def unamplify(self, action: str, published_id: str, subject: Subject) -> None:
        self.calls.append(("unamplify", action, published_id, subject.remote_id))

    def _serve(self, what, newer_than, page, limit) -> FoundPage:
        self.calls.append((what, newer_than, page, limit))
        if len(self.calls) in self.fail_on:
            raise RateLimited("bluesky", "slow down", NOW + timedelta(minutes=5))
        fresh = [p for p in self.posts if newer_than is None or p.remote_id[-6:] > newer_than]
        start = int(page or 0)
        size = min(self.page_size, limit)
        chunk = fresh[start : start + size]
        more = start + size < len(fresh)
        return FoundPage(
            chunk, str(start + size) if more else None, chunk[0].remote_id[-6:] if chunk else None
        )


def discovery(store: Store, **settings: Any) -> Discovery:
    return Discovery(store, "live", AmplifySettings(**settings), Budget(store, 25.0), XPrices())


def candidates(store: Store) -> dict[str, tuple[str, str | None]]:
    with store.read() as session:
        return {c.remote_id[-6:]: (c.state, c.reason) for c in session.query(CandidateRow)}


OWN = frozenset({"did:plc:bot", "bot.test"})


# -- rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({}, None),
        (
            {"author_handle": "stranger.test", "author_id": "did:plc:s"},
            "the author is not on the allowlist",
        ),
        ({"author_handle": "bot.test"}, "the bot's own post"),
        ({"tags": (), "text": "nothing to see"}, "neither the campaign's hashtags nor its links"),
        (
            {"tags": (), "text": "#DemoX is another tag"},
            "neither the campaign's hashtags nor its links",
        ),
        ({"is_repost": True}, "a repost, not the author's own words"),
        (
            {"is_reply": True, "reply_to_handle": "ms.test"},
            "a reply to a politician: people address politicians, not the bot",
        ),
        (
            {"is_reply": True, "reply_to_handle": "pal.test"},
            "a reply (the campaign amplifies replies only with 'replies: true')",
        ),
        ({"languages": ("de",)}, "in de, not a campaign language"),
        ({"created_at": NOW - timedelta(hours=49)}, "older than 48 hours"),
        ({"author_handle": "ms.test"}, "a politician's own post: the bot leaves targets alone"),
    ],
)
def test_each_rule_refuses_with_its_reason(changes: dict[str, Any], refusal: str | None) -> None:
    sources = sources_for(make_campaign(), "bluesky")
    assert sources is not None
    assert judge(replace(post(1), **changes), sources, OWN, NOW).refusal == refusal


def test_blocklist_wins_over_allowlist_and_anyone_widens_the_allowlist() -> None:
    blocked = sources_for(
        make_campaign(blocklist={"bluesky": ["friend.test"]}, anyone=True), "bluesky"
    )
    assert blocked is not None
    assert judge(post(1), blocked, OWN, NOW).refusal == "the author is on the blocklist"
    anyone = sources_for(make_campaign(anyone=True), "bluesky")
    assert anyone is not None
    stranger = replace(post(1), author_handle="stranger.test", author_id="did:plc:s")
    assert judge(stranger, anyone, OWN, NOW).refusal is None


def test_a_link_matches_with_or_without_www_and_trailing_slash_but_not_a_sibling_path() -> None:
    assert same_link("https://www.EXAMPLE.org/letter/?utm=x", "https://example.org/letter")
    assert same_link("http://example.org/letter/sign", "https://example.org/letter")
    assert not same_link("https://example.org/letters", "https://example.org/letter")
    sources = sources_for(make_campaign(), "x")
    assert sources is not None
    by_link = replace(post(1), tags=(), text="Read it", links=("https://example.org/letter",))
    assert judge(by_link, sources, OWN, NOW).matched == "link https://example.org/letter"


# -- discovery: cursors, storing once, resuming --------------------------------------------------


def test_a_pass_pages_down_and_the_next_pass_asks_only_for_newer_posts(store: Store) -> None:
    network = RecordingNetwork([post(n) for n in (5, 4, 3)])
    first = discovery(store).run(make_campaign(watch_feeds=False), network, "bluesky", OWN, NOW)
    assert (first.found, first.new, first.approved) == (6, 3, 3)  # both searches see all
    assert network.calls == [
        (("#Demo",), None, None, 100),
        (("#Demo",), None, "2", 100),
        (("https://example.org/letter",), None, None, 100),
        (("https://example.org/letter",), None, "2", 100),
    ]
    network.calls.clear()
    network.posts.insert(0, post(9))
    second = discovery(store).run(make_campaign(watch_feeds=False), network, "bluesky", OWN, NOW)
    assert network.calls[0] == (("#Demo",), "000005", None, 100)
    assert (second.found, second.new) == (2, 1)  # post 9 by both searches, stored once


def test_a_rate_limit_mid_pass_resumes_from_the_page_without_missing_or_doubling(
    store: Store,
) -> None:
    network = RecordingNetwork([post(n) for n in (6, 5, 4, 3, 2, 1)])
    network.fail_on = {2}
    campaign = make_campaign(watch_feeds=False, links=[])
    first = discovery(store).run(campaign, network, "bluesky", OWN, NOW)
    assert first.new == 2 and "rate limited" in first.stopped[0]
    second = discovery(store).run(campaign, network, "bluesky", OWN, NOW)
    # The second pass continues at page "2" with the old watermark (none), then finishes.
    assert network.calls[2] == (("#Demo",), None, "2", 100)
    assert second.new == 4
    assert sorted(candidates(store)) == [f"{n:06d}" for n in range(1, 7)]
    third = discovery(store).run(campaign, network, "bluesky", OWN, NOW)
    assert network.calls[-1] == (("#Demo",), "000006", None, 100) and third.new == 0


def test_x_reads_stop_at_the_daily_read_budget(store: Store) -> None:
    network = RecordingNetwork(
        [post(n, "friend") for n in range(30, 0, -1)], page_size=100, combines_terms=True
    )
    report = discovery(store, x_reads_per_day=25).run(make_campaign(), network, "x", OWN, NOW)
    assert network.calls[0] == (("#Demo", "https://example.org/letter"), None, None, 25)
    assert report.x_reads == 25 and x_reads_today(store, NOW) == 25
    assert report.stopped == [
        "search #Demo OR https://example.org/letter: the X read budget for today is used"
    ]
    again = discovery(store, x_reads_per_day=25).run(make_campaign(), network, "x", OWN, NOW)
    assert again.x_reads == 0 and "X read budget for today is used" in again.stopped[0]
    assert len(network.calls) == 1  # neither the rest of the first pass nor the second called


# -- planning: spacing, quiet hours, the daily cap ------------------------------------------------


def test_planning_spaces_caps_and_avoids_quiet_hours(store: Store) -> None:
    network = RecordingNetwork([post(n) for n in (4, 3, 2, 1)], page_size=10)
    campaign = make_campaign(watch_feeds=False, links=[], daily_cap=2, min_spacing_minutes=60)
    evening = datetime(2026, 12, 2, 20, 30, tzinfo=UTC)  # 20:30 London; quiet from 21:00
    report = discovery(store).run(campaign, network, "bluesky", OWN, evening)
    assert report.planned == 4
    with store.read() as session:
        slots = [r.slot_at for r in session.query(OutboxRow).order_by(OutboxRow.slot_at)]
    assert slots == [
        evening,
        datetime(
            2026, 12, 3, 8, 0, tzinfo=UTC
        ),  # after quiet hours (the day's cap is not the issue)
        datetime(2026, 12, 3, 9, 0, tzinfo=UTC),  # spacing
        datetime(2026, 12, 4, 8, 0, tzinfo=UTC),  # 3 December is full (cap 2): next morning
    ]


def test_posts_too_old_by_their_turn_are_skipped(store: Store) -> None:
    network = RecordingNetwork(
        [post(n, created_at=NOW - timedelta(hours=20)) for n in (3, 2, 1)], page_size=10
    )
    campaign = make_campaign(watch_feeds=False, links=[], daily_cap=1)
    discovery(store).run(campaign, network, "bluesky", OWN, NOW)
    states = sorted(state for state, _ in candidates(store).values())
    assert states == [
        "planned",
        "planned",
        "skipped",
    ]  # now; tomorrow 08:00 (42 h old); 4 Dec (66 h): too old


# -- the approval queue and undo ------------------------------------------------------------------


def test_queue_approve_reject_and_unamplify(store: Store) -> None:
    network = RecordingNetwork([post(2), post(1)], page_size=10)
    campaign = make_campaign(watch_feeds=False, links=[], approval=True)
    report = discovery(store).run(campaign, network, "bluesky", OWN, NOW)
    assert (report.queued, report.planned) == (2, 0)
    queued = list_candidates(store, "live")
    assert [v.state for v in queued] == ["queued", "queued"]
    first, second = (v.id for v in queued)
    decide(store, "live", first, True, NOW)
    decide(store, "live", second, False, NOW)
    with pytest.raises(DecisionError, match="is rejected, not queued"):
        decide(store, "live", second, True, NOW)
    assert plan_approved(store, "live", campaign, "bluesky", NOW) == 1
    assert [v.state for v in list_candidates(store, "live", None)] == ["planned", "rejected"]
    # Planned, not sent: unamplify withdraws it without calling the network.
    message = unamplify(store, "live", first, lambda row: pytest.fail("no network call"), NOW)
    assert message.startswith("withdrew the planned repost")
    with store.read() as session:
        assert session.query(OutboxRow).one().state == "cancelled"
    with pytest.raises(DecisionError, match="no candidate 99"):
        unamplify(store, "live", 99, lambda row: None, NOW)


def test_the_blocklist_withdraws_what_was_planned_before_it_changed(store: Store) -> None:
    network = RecordingNetwork([post(2), post(1, "pal.test")], page_size=10)
    friendly = make_campaign(watch_feeds=False, links=[], anyone=True, min_spacing_minutes=600)
    assert discovery(store).run(friendly, network, "bluesky", OWN, NOW).planned == 2
    blocked = make_campaign(
        watch_feeds=False,
        links=[],
        anyone=True,
        min_spacing_minutes=600,
        blocklist={"bluesky": ["pal.test"]},
    )
    report = discovery(store).run(blocked, network, "bluesky", OWN, NOW)
    assert report.new == 0
    with store.read() as session:
        rows = {r.subject_id[-6:]: (r.state, r.reason) for r in session.query(OutboxRow)}
    assert rows == {
        "000002": ("planned", None),
        "000001": ("cancelled", "the author is on the blocklist"),
    }
    assert candidates(store)["000001"] == ("skipped", "the author is on the blocklist")


def test_two_processes_planning_at_once_plan_each_candidate_once_within_the_cap(
    database_url: str,
) -> None:
    """`kindling approve` and the daemon may plan at the same moment, each with its own
    connection: planning is serialised by the database (SQLite and PostgreSQL), so every
    approved candidate gets one outbox row and no day gets more than `daily_cap`, however the
    two interleave. (Without the lock: a UNIQUE failure on the outbox key within 8 rounds.)"""
    import threading

    store = Store(database_url)
    store.create_tables()

    campaign = make_campaign(
        watch_feeds=False, links=[], approval=True, daily_cap=2, max_age_hours=720
    )
    for round_number in range(8):
        posts = [post(100 * round_number + n) for n in range(6)]
        discovery(store).run(campaign, RecordingNetwork(posts, page_size=10), "bluesky", OWN, NOW)
        for view in list_candidates(store, "live"):
            decide(store, "live", view.id, True, NOW)
        stores = [Store(store.url) for _ in range(2)]
        start = threading.Barrier(2)
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=_plan_after, args=(start, own, campaign, errors))
            for own in stores
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for own in stores:
            own.dispose()
        assert errors == []
        with store.read() as session:
            rows = session.query(OutboxRow).all()
            states = {c.state for c in session.query(CandidateRow)}
        assert states == {"planned"}
        assert len(rows) == 6 * (round_number + 1)
        assert len({row.subject_id for row in rows}) == len(rows)
        per_day: dict[object, int] = {}
        for row in rows:
            day = row.slot_at.date()
            per_day[day] = per_day.get(day, 0) + 1
        assert max(per_day.values()) <= 2, per_day
    store.dispose()


def _plan_after(start: Any, own: Store, campaign: Any, errors: list[BaseException]) -> None:
    start.wait()
    try:
        plan_approved(own, "live", campaign, "bluesky", NOW)
    except BaseException as exc:
        errors.append(exc)
