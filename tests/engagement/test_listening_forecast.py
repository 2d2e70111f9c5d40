"""Listening on X costs what `kindling simulate` forecast (issue 15): the daemon's engagement
poller, built with the settings' cadence, runs over an accelerated period against the fake X
server, and the listening calls and posts the server answered (what X bills: each post read)
are compared with `listening_forecast`.

The targets post more than listening may read (20 posts each before every pass), which is the
case the forecast describes exactly: with fewer new posts the pages are not full and the cost is
lower, never higher (see bot/engagement/forecast.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.config import EngagementSettings, Settings, XPrices, XSettings
from bot.engagement.forecast import describe, listening_forecast
from bot.engagement.poller import EngagementPoller
from bot.platforms.x import XPlatform
from bot.publish.budget import Budget
from bot.store.engine import Store
from bot.store.tables import SpendRow
from tests.engagement.test_listening import TARGETS_X, campaign, store, x_fake, x_platform, x_server
from tests.engagement.test_poller import FixedClock
from tests.fakes.x_server import XFakeServer

__all__ = ["store", "x_fake", "x_platform", "x_server"]  # fixtures, used by name
SEARCH = "GET /2/tweets/search/recent"
SETTINGS = Settings(
    x=XSettings(monthly_budget_usd=100.0),
    engagement=EngagementSettings(
        cycle_seconds=300,
        listen_every_minutes=360,
        listen_pages_per_pass=2,
        listen_x_reads_per_day=75,  # not a whole number of pages: 7 full pages fit, not 7.5
    ),
)


def daemon_poller(store: Store, platform: XPlatform, clock: FixedClock) -> EngagementPoller:
    """The poller as bot/daemon/parts.py builds it from the settings (mentions read once)."""
    engagement = SETTINGS.engagement
    return EngagementPoller(
        store,
        {"x": platform},
        Budget(store, SETTINGS.x.monthly_budget_usd),
        SETTINGS.x.prices,
        lambda: [campaign(TARGETS_X, listen={"x": True})],
        clock,
        responses_every=timedelta(days=365),
        listen_every=timedelta(minutes=engagement.listen_every_minutes),
        listen_pages=engagement.listen_pages_per_pass,
        listen_x_reads_per_day=engagement.listen_x_reads_per_day,
    )


@pytest.mark.xfake
@pytest.mark.parametrize(
    ("start_hour", "days", "posts", "reads"),
    [
        (0, 2, 20, 140),  # more than listening may read: 7 full pages a day, exactly forecast
        (18, 1, 20, 100),  # 6 hours of one UTC day (one pass: 3 first reads), 18 of the next
        # Fewer: part-full pages leave room for one more call, so a day's reads can pass the
        # full-page figure (70), never the allowance (75): 8 + 8 + 8 a pass, and 72 > 70.
        (0, 1, 8, 72),
    ],
)
def test_x_listening_costs_what_simulate_forecast(
    store: Store,
    x_fake: XFakeServer,
    x_platform: XPlatform,
    start_hour: int,
    days: int,
    posts: int,
    reads: int,
) -> None:
    start = datetime.now(UTC).replace(hour=start_hour, minute=0, second=0, microsecond=0)
    forecast = listening_forecast(
        campaign(TARGETS_X, listen={"x": True}), SETTINGS, days, start=start
    )
    assert forecast is not None
    clock = FixedClock(start)
    poller = daemon_poller(store, x_platform, clock)
    every = timedelta(minutes=SETTINGS.engagement.listen_every_minutes)
    step, end, written = timedelta(seconds=SETTINGS.engagement.cycle_seconds), start, 0
    end = start + timedelta(days=days)
    while clock.at < end:  # the daemon's engagement job, every cycle_seconds
        if (clock.at - start) % every == timedelta(0):  # each target posts before each pass
            for who in ("ms_a", "ms_b", "ms_c"):
                for _ in range(posts):
                    written += 1
                    x_fake.state.add_post(f"{who} on the weather, part {written}", author=who)
        poller.run_cycle()
        clock.at += step

    # What the server answered to listening: what X bills (each post read).
    calls = [c for c in x_fake.state.calls(SEARCH) if c.param("query").startswith("from:")]
    served = x_fake.state.reads.get(SEARCH, 0)
    with store.read() as session:
        spent = sum(r.usd for r in session.scalars(select(SpendRow).where(SpendRow.kind == "read")))
    assert served == reads and spent == pytest.approx(served * XPrices().read)
    assert served <= forecast["x_most_reads"] and spent <= forecast["x_most_usd"] + 1e-9
    if posts >= 10 * SETTINGS.engagement.listen_pages_per_pass:  # every page full: exact
        assert (len(calls), served) == (forecast["x_full_calls"], forecast["x_full_reads"])
        assert spent == pytest.approx(forecast["x_full_usd"])
    else:
        assert served > forecast["x_full_reads"]
    text = describe(forecast, days)
    assert f"{forecast['x_full_reads']} X reads in {forecast['x_full_calls']} calls" in text


def test_the_forecast_figures() -> None:
    """The settings above: 4 passes a day, 2 pages a pass, 75 reads a day (7 full pages)."""
    listening = campaign(TARGETS_X, listen={"x": True})
    midnight = datetime(2026, 12, 5, tzinfo=UTC)
    two_days = listening_forecast(listening, SETTINGS, 2, start=midnight)
    assert two_days is not None
    assert (two_days["x_full_calls"], two_days["x_full_reads"], two_days["x_most_reads"]) == (
        14,
        140,
        150,
    )
    evening = listening_forecast(listening, SETTINGS, 1, start=midnight.replace(hour=18))
    assert evening is not None  # one pass of first reads (3 pages), then a whole allowance
    assert (evening["x_full_calls"], evening["x_most_reads"]) == (10, 30 + 75)
    assert two_days["x_passes_per_day"] == 4
