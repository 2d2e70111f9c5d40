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
    ("start_hour", "days", "calls"),
    [
        (0, 2, 14),  # 7 full pages a day (70 posts), for two days
        (18, 1, 10),  # 6 hours of one UTC day (one pass: 3 first reads) and 18 of the next
    ],
)
def test_x_listening_costs_exactly_what_simulate_forecast(
    store: Store,
    x_fake: XFakeServer,
    x_platform: XPlatform,
    start_hour: int,
    days: int,
    calls: int,
) -> None:
    start = datetime.now(UTC).replace(hour=start_hour, minute=0, second=0, microsecond=0)
    forecast = listening_forecast(
        campaign(TARGETS_X, listen={"x": True}), SETTINGS, days, start=start
    )
    assert forecast is not None and forecast["x_most_calls"] == calls
    clock = FixedClock(start)
    poller = daemon_poller(store, x_platform, clock)
    step, end, written = timedelta(seconds=SETTINGS.engagement.cycle_seconds), start, 0
    end = start + timedelta(days=days)
    while clock.at < end:  # the daemon's engagement job, every cycle_seconds
        if (clock.at - start) % timedelta(minutes=SETTINGS.engagement.listen_every_minutes) == (
            timedelta(0)
        ):
            for who in ("ms_a", "ms_b", "ms_c"):
                for _ in range(20):
                    written += 1
                    x_fake.state.add_post(f"{who} on the weather, part {written}", author=who)
        poller.run_cycle()
        clock.at += step

    listening = [c for c in x_fake.state.calls(SEARCH) if c.param("query").startswith("from:")]
    assert len(listening) == forecast["x_most_calls"]
    assert x_fake.state.reads[SEARCH] == forecast["x_most_reads"] == calls * 10
    with store.read() as session:
        spent = sum(r.usd for r in session.scalars(select(SpendRow).where(SpendRow.kind == "read")))
    assert spent == pytest.approx(forecast["x_most_usd"]) == calls * 10 * XPrices().read
    assert f"at most {calls * 10} X reads in {calls} calls in {days} days" in describe(
        forecast, days
    )
