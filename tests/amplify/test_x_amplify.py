"""Amplification on X end to end against the fake X server (which validates every request and
answer against the official spec): discovery reads within the read budget, a 429 in the middle
of a pass resumes from the cursor without missing or doubling a post, and the outbox retweets
exactly the qualifying posts, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.amplify.discovery import Discovery, x_reads_today
from bot.config import AmplifySettings, XPrices
from bot.platforms.x import XPlatform
from bot.publish.budget import Budget
from bot.publish.outbox import Outbox
from bot.store.engine import Store
from bot.store.tables import CandidateRow, OutboxRow
from tests.amplify.conftest import make_campaign
from tests.fakes.x_server import XFakeServer
from tests.platforms import conftest as x_fixtures
from tests.platforms.conftest import make_platform
from tests.platforms.test_rate_gates import ManualClock

pytestmark = pytest.mark.xfake
x_server, x_fake, x_platform = x_fixtures.x_server, x_fixtures.x_fake, x_fixtures.x_platform
SEARCH = "GET /2/tweets/search/recent"


def seed(x_fake: XFakeServer, count: int) -> list[str]:
    """`count` posts with #Demo, oldest first, a minute apart; every third by a supporter."""
    now = datetime.now(UTC).replace(microsecond=0)
    return [
        x_fake.state.add_post(
            f"Post {n} #Demo",
            author="friend" if n % 3 == 0 else f"stranger{n}",
            created_at=now - timedelta(minutes=count - n),
        )
        for n in range(count)
    ]


def discovery(store: Store, reads: int = 1000, pages: int = 5) -> Discovery:
    settings = AmplifySettings(x_reads_per_day=reads, pages_per_pass=pages)
    return Discovery(store, "live", settings, Budget(store, 25.0), XPrices())


def own(x_platform: XPlatform) -> frozenset[str]:
    account = x_platform.check_account()
    return frozenset({account.id, account.handle.lower()})


def stored(store: Store) -> list[str]:
    with store.read() as session:
        return sorted(c.remote_id for c in session.query(CandidateRow))


def test_a_429_mid_pass_resumes_from_the_cursor_without_missing_or_doubling(
    x_fake: XFakeServer, store: Store
) -> None:
    clock = ManualClock(datetime.now(UTC))
    x = make_platform(x_fake.url, clock=clock)
    ids = seed(x_fake, 250)
    campaign = make_campaign(platforms=["x"], links=[])
    reset = clock.now() + timedelta(seconds=60)
    x_fake.state.fail_next("rate_limit", route=SEARCH, skip=1, reset_at=int(reset.timestamp()))
    first = discovery(store).run(campaign, x, "x", own(x), clock.now())
    assert first.new == 100 and "rate limited" in first.stopped[0]
    clock.advance(timedelta(seconds=61))  # past the reset on the adapter's clock: no waiting
    second = discovery(store).run(campaign, x, "x", own(x), clock.now())
    assert second.new == 150 and second.stopped == []
    assert stored(store) == sorted(ids)  # every post once: none missed, none doubled
    calls = x_fake.state.calls(SEARCH)
    assert [c.status for c in calls] == [200, 429, 200, 200]
    # A later pass asks only for posts newer than the newest seen, and finds the new one.
    newest = x_fake.state.add_post("One more #Demo", author="friend")
    third = discovery(store).run(campaign, x, "x", own(x), clock.now())
    assert (third.found, third.new) == (1, 1) and newest in stored(store)
    assert x_reads_today(store, clock.now()) == 251


def test_search_results_are_amplified_within_the_read_budget(
    x_platform: XPlatform, x_fake: XFakeServer, store: Store
) -> None:
    seed(x_fake, 60)
    campaign = make_campaign(
        active={"start": "2026-01-01", "end": "2030-12-31"},
        platforms=["x"],
        links=[],
        daily_cap=50,
        min_spacing_minutes=0,
    )
    report = discovery(store, reads=30).run(
        campaign, x_platform, "x", own(x_platform), datetime.now(UTC)
    )
    # 30 reads allowed: one page of 30 (X's max_results), then the budget stops the pass.
    assert report.x_reads == 30 and x_fake.state.posts_read() == 30
    assert report.stopped == ["search #Demo: the X read budget for today is used"]
    assert report.approved == 10  # the supporter's posts among the newest 30
    outbox = Outbox(store, "live", Budget(store, 25.0), XPrices())
    with store.read() as session:  # (quiet hours may put them at 08:00 London)
        now = max(r.slot_at for r in session.query(OutboxRow))
    states = [outbox.publish(row, x_platform, now).state for row in outbox.due("x", now, limit=50)]
    assert states == ["sent"] * 10
    with store.read() as session:
        reposted = {c.remote_id for c in session.query(CandidateRow).filter_by(state="planned")}
    assert set(x_fake.state.retweets) == reposted
    # The budget holds for the rest of the day: no further search call at all.
    calls = len(x_fake.state.calls(SEARCH))
    # (the day the reads were charged: `now` above may be tomorrow morning, after quiet hours)
    today = datetime.now(UTC)
    again = discovery(store, reads=30).run(campaign, x_platform, "x", own(x_platform), today)
    assert again.x_reads == 0 and len(x_fake.state.calls(SEARCH)) == calls
