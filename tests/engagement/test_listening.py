"""Listening to the targets' own feeds (bot/engagement/listening.py).

X against the fake X server (the real adapter, real HTTP: what the server returned is what X
would bill); the Bluesky cursor rules against an in-process feed built with the adapter's own
page reader (bluesky_found.page_of), so the AppView's ordering (the earlier of createdAt and
indexedAt) is what is modelled. The whole path on the real Bluesky network is in
test_listening_bluesky.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot import events
from bot.campaign.model import Campaign
from bot.config import EngagementSettings, Settings, XPrices
from bot.engagement.forecast import describe, listening_forecast
from bot.engagement.listening import Listener, cursor_name, x_reads_today
from bot.platforms.base import Account, FoundPage, Rejected
from bot.platforms.bluesky_found import page_of
from bot.platforms.x import XPlatform
from bot.publish.budget import Budget
from bot.store.engine import Store
from bot.store.tables import CandidateRow, PollCursorRow, ResponseRow, SpendRow
from tests.fakes.x_server import XFakeServer
from tests.platforms import conftest as x_fixtures

x_server, x_fake, x_platform = x_fixtures.x_server, x_fixtures.x_fake, x_fixtures.x_platform
xfake = pytest.mark.xfake
NOW = datetime.now(UTC).replace(microsecond=0)
PRICE = XPrices().read


def campaign(targets: Sequence[dict[str, Any]], **extra: Any) -> Campaign:
    return Campaign.model_validate(
        {
            "id": "letter",
            "name": {"en": "Letter"},
            "languages": ["en"],
            "active": {"start": (NOW - timedelta(days=3)).date().isoformat()},
            "timezone": "UTC",
            "hashtags": ["CoproductionWales"],
            "links": {"letter": "https://copronet.example/open-letter-2"},
            "targets": list(targets),
            **extra,
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    made = Store(f"sqlite:///{tmp_path / 'kindling.sqlite3'}")
    made.create_tables()
    yield made
    made.dispose()


# A supporter's post amplify discovery found (it carries the campaign's hashtag).
CANDIDATE = insert(CandidateRow).values(
    platform="x", cid=None, campaign_id="letter", mode="live", author_id="9",
    author_handle="cefnogwr", text="#CoproductionWales", languages=None, created_at=NOW,
    found_at=NOW, found_by="#CoproductionWales", matched="#CoproductionWales", state="done",
    reason=None, action="repost", outbox_id=None, decided_at=None, decided_by=None,
)  # fmt: skip


def responses(store: Store) -> dict[str, ResponseRow]:
    with store.read() as session:
        return {r.target_id or "": r for r in session.scalars(select(ResponseRow))}


def x_spend(store: Store) -> float:
    with store.read() as session:
        return sum(r.usd for r in session.scalars(select(SpendRow).where(SpendRow.kind == "read")))


# --- X, against the fake server ----------------------------------------------------------------

TARGETS_X = [
    {"id": "a", "name": "A", "handles": {"x": "ms_a"}},
    {"id": "b", "name": "B", "handles": {"x": "ms_b"}},
    {"id": "c", "name": "C", "handles": {"x": "ms_c"}},
]


@xfake
def test_x_is_read_only_where_the_campaign_opts_in(
    store: Store, x_fake: XFakeServer, x_platform: XPlatform
) -> None:
    x_fake.state.add_post("Statement #CoproductionWales", author="ms_b")
    report = Listener(store, Budget(store, 25.0), PRICE).listen(
        x_platform, [campaign(TARGETS_X)], NOW
    )
    assert (report.feeds, report.posts) == (0, 0)
    assert x_fake.state.calls("GET /2/tweets/search/recent") == [] and x_spend(store) == 0


@xfake
def test_x_targets_within_the_read_budget_with_the_spend_recorded(
    store: Store, x_fake: XFakeServer, x_platform: XPlatform
) -> None:
    state = x_fake.state
    supporter = state.add_post("@ms_a back the letter #CoproductionWales", author="cefnogwr")
    with store.write() as session:  # amplify discovery found the supporter's post earlier
        session.execute(
            CANDIDATE.values(remote_id=supporter, url=f"https://x.com/cefnogwr/status/{supporter}")
        )
    reply = state.add_post("@cefnogwr I will raise it", author="ms_a", in_reply_to=supporter)
    statement = state.add_post("Our answer: yes #CoproductionWales", author="ms_b")
    state.add_post("Lovely day in Cardiff", author="ms_c")
    listener = Listener(store, Budget(store, 25.0), PRICE)
    opted_in = [campaign(TARGETS_X, listen={"x": True})]

    report = listener.listen(x_platform, opted_in, NOW)
    rows = responses(store)
    assert sorted(rows) == ["a", "b"]
    assert (rows["a"].remote_id, rows["a"].kind, rows["a"].answered_id) == (
        reply,
        "supporter_reply",
        supporter,
    )
    assert (rows["b"].remote_id, rows["b"].kind) == (statement, "statement")
    read = state.posts_read()
    assert read == report.posts == 3  # one post in each target's feed
    assert x_spend(store) == pytest.approx(read * PRICE) == pytest.approx(report.usd)

    # Again: since the newest id read, so nothing is read (nor paid for) twice.
    again = listener.listen(x_platform, opted_in, NOW + timedelta(minutes=15))
    assert (again.posts, again.new) == (0, [])
    assert state.posts_read() == read and x_spend(store) == pytest.approx(read * PRICE)
    calls = state.calls("GET /2/tweets/search/recent")
    assert all(c.param("since_id") for c in calls[-3:])


@xfake
def test_x_listening_stops_at_the_budget_before_calling(
    store: Store, x_fake: XFakeServer, x_platform: XPlatform
) -> None:
    x_fake.state.add_post("Statement #CoproductionWales", author="ms_b")
    with store.write() as session:
        session.add(SpendRow(platform="x", campaign_id=None, kind="post", usd=0.99, at=NOW))
    report = Listener(store, Budget(store, 1.0), PRICE).listen(
        x_platform, [campaign(TARGETS_X, listen={"x": True})], NOW
    )
    assert report.stopped and "budget" in report.stopped
    assert x_fake.state.calls("GET /2/tweets/search/recent") == []
    assert responses(store) == {}


@xfake
def test_x_listening_costs_what_simulate_forecasts_and_stops_at_the_daily_allowance(
    store: Store, x_fake: XFakeServer, x_platform: XPlatform
) -> None:
    for who in ("ms_a", "ms_b", "ms_c"):
        for n in range(12):
            x_fake.state.add_post(f"{who} post {n} #CoproductionWales", author=who)
    opted_in = campaign(TARGETS_X, listen={"x": True})
    settings = Settings(engagement=EngagementSettings(listen_x_reads_per_day=20))
    forecast = listening_forecast(opted_in, settings, days=1)
    assert forecast is not None
    assert (forecast["x_targets"], forecast["x_full_calls"], forecast["x_full_reads"]) == (3, 2, 20)
    assert forecast["x_most_reads"] == 20 and forecast["x_most_usd"] == round(20 * PRICE, 4)
    listener = Listener(store, Budget(store, 25.0), PRICE, x_reads_per_day=20)

    report = listener.listen(x_platform, [opted_in], NOW)
    # ms_a's and ms_b's latest pages (10 posts each); ms_c's would pass the day's 20 reads.
    assert report.stopped and "listen_x_reads_per_day" in report.stopped
    assert x_fake.state.posts_read() == 20 and x_reads_today(store, NOW) == 20
    assert x_spend(store) == pytest.approx(forecast["x_most_usd"])
    assert "20 X reads in 2 calls, $0.10, if they post more" in describe(forecast, 1)
    assert listening_forecast(campaign(TARGETS_X), settings, days=1) is None  # not opted in

    # Tomorrow ms_c, not reached today, is read first (ms_a and ms_b have nothing new).
    tomorrow = listener.listen(x_platform, [opted_in], NOW + timedelta(days=1))
    assert tomorrow.posts == 10 + 0 + 0 and x_reads_today(store, NOW + timedelta(days=1)) == 10
    searches = x_fake.state.calls("GET /2/tweets/search/recent")
    assert [c.param("query").split()[0] for c in searches] == [
        "from:ms_a",
        "from:ms_b",
        "from:ms_c",
        "from:ms_a",
        "from:ms_b",
    ]


# --- Bluesky's ordering, in process --------------------------------------------------------------


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class BlueskyShapedFeed:
    """Author feeds as the AppView serves them: newest first by the earlier of createdAt and
    indexedAt, `size` posts a page, read through the adapter's own page reader."""

    name, metrics_batch, combines_terms = "bluesky", 25, False

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self.views: list[dict[str, Any]] = []
        self.reads: list[tuple[str, str | None, str | None]] = []
        self.gone: set[str] = set()

    def add(self, handle: str, text: str, created: datetime, indexed: datetime) -> str:
        uri = f"at://did:plc:{handle}/app.bsky.feed.post/{len(self.views)}"
        record = {"text": text, "createdAt": stamp(created)}
        author = {"did": f"did:plc:{handle}", "handle": f"{handle}.test"}
        view = {"uri": uri, "cid": "c", "author": author, "record": record}
        self.views.append(view | {"indexedAt": stamp(indexed)})
        return uri

    def check_account(self) -> Account:
        return Account("did:plc:bot", "bot.test")

    def author_posts(
        self,
        author: str,
        *,
        newer_than: str | None = None,
        page: str | None = None,
        limit: int = 100,
    ) -> FoundPage:
        self.reads.append((author, newer_than, page))
        if author in self.gone:
            raise Rejected("bluesky", f"Profile not found: {author}")
        mine = [v for v in self.views if v["author"]["handle"] == author]
        mine.sort(key=lambda v: min(v["indexedAt"], v["record"]["createdAt"]), reverse=True)
        start = int(page or 0)
        chunk = mine[start : start + self.size]
        more = str(start + self.size) if start + self.size < len(mine) else None
        return page_of([(v, False) for v in chunk], {}, more, newer_than)

    def search(self, terms: Any, **options: Any) -> FoundPage:
        raise AssertionError("listening does not search")

    def unamplify(self, action: str, published_id: str, subject: Any) -> None:
        raise AssertionError("listening does not amplify")


TARGET_B = [{"id": "b", "name": "B", "handles": {"bluesky": "ms-b.test"}}]


def listen(store: Store, feed: BlueskyShapedFeed, at: datetime, pages: int = 3) -> Any:
    """A pass by a new Listener each time: only the store carries state (a restart)."""
    listener = Listener(store, Budget(store, 25.0), PRICE, pages_per_pass=pages)
    return listener.listen(feed, [campaign(TARGET_B)], at)  # type: ignore[arg-type]


def test_a_post_indexed_late_is_not_skipped(store: Store) -> None:
    feed = BlueskyShapedFeed()
    feed.add("ms-b", "First #CoproductionWales", NOW - timedelta(minutes=5), NOW)
    assert len(listen(store, feed, NOW).new) == 1
    # Written 10 minutes before the post already read, indexed only after that read: the
    # AppView sorts it below it, by its createdAt.
    late = feed.add(
        "ms-b", "Late #CoproductionWales", NOW - timedelta(minutes=10), NOW + timedelta(minutes=1)
    )
    second = listen(store, feed, NOW + timedelta(minutes=15))
    assert [event.url.rsplit("/", 1)[-1] for event in second.new] == [late.rsplit("/", 1)[-1]]
    assert len(responses_list(store)) == 2


def test_a_backlog_is_read_over_passes_and_nothing_twice_after_restarts(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    feed = BlueskyShapedFeed(size=2)
    for n in range(5):
        moment = NOW - timedelta(hours=5 - n)
        feed.add("ms-b", f"Statement {n} #CoproductionWales", moment, moment)
    feed.add("ms-b", "About the weather", NOW, NOW)
    told: list[events.NewResponse] = []
    subscription = events.subscribe(told.append, events.NewResponse)
    try:
        with caplog.at_level(logging.WARNING, logger="kindling.responses"):
            counts = [len(listen(store, feed, NOW, pages=1).new) for _ in range(3)]
            assert counts == [1, 2, 2]  # newest first, a page a pass, the cursor resumed
            assert len(listen(store, feed, NOW, pages=1).new) == 0  # all read: nothing twice
    finally:
        subscription.cancel()
    rows = responses_list(store)
    assert sorted(r.text for r in rows) == [f"Statement {n} #CoproductionWales" for n in range(5)]
    assert sorted(e.response_id for e in told) == sorted(r.id for r in rows)
    assert all(e.target_id == "b" and e.kind == "statement" for e in told)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 5 and all("https://bsky.app/profile/ms-b.test/post/" in w for w in warned)
    with store.read() as session:
        cursor = session.get(PollCursorRow, cursor_name("bluesky", "ms-b.test"))
    assert cursor is not None and set(json.loads(cursor.cursor or "{}")) == {"newest"}
    # Later reads go down to the newest post read (less the late-indexing margin), no further.
    last_read_down_to = feed.reads[-1][1]
    assert last_read_down_to is not None and last_read_down_to > stamp(NOW - timedelta(hours=1))


def test_posts_from_before_the_launch_answer_nothing(store: Store) -> None:
    feed = BlueskyShapedFeed()
    old = NOW - timedelta(days=10)
    feed.add("ms-b", "Old news #CoproductionWales", old, old)
    assert listen(store, feed, NOW).new == [] and responses_list(store) == []


def responses_list(store: Store) -> list[ResponseRow]:
    with store.read() as session:
        return list(session.scalars(select(ResponseRow).order_by(ResponseRow.id)))


def test_a_refused_feed_does_not_stop_the_others(store: Store) -> None:
    feed = BlueskyShapedFeed()
    feed.gone.add("ms-a.test")
    feed.add("ms-b", "Yes #CoproductionWales", NOW - timedelta(minutes=1), NOW)
    targets = [{"id": "a", "name": "A", "handles": {"bluesky": "ms-a.test"}}, *TARGET_B]
    listener = Listener(store, Budget(store, 25.0), PRICE)
    report = listener.listen(feed, [campaign(targets)], NOW)  # type: ignore[arg-type]
    assert report.refused == {"ms-a.test": "Profile not found: ms-a.test"}
    assert [e.target_id for e in report.new] == ["b"]
