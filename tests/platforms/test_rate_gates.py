"""The adapters' rate-limit gates read the clock they are given (the daemon's), so a spent
budget is honoured, and released, on that clock: tests move time instead of waiting for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.platforms.base import RateLimited
from bot.platforms.bluesky_support import RateLimitGate
from tests.fakes.x_server import XFakeServer
from tests.platforms.conftest import make_platform

METRICS = "GET /2/tweets"


class ManualClock:
    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


@pytest.mark.xfake
def test_x_refuses_a_spent_route_until_the_injected_clock_passes_its_reset(
    x_fake: XFakeServer,
) -> None:
    clock = ManualClock(datetime.now(UTC))
    reset = clock.now() + timedelta(minutes=15)
    x = make_platform(x_fake.url, clock=clock)
    x_fake.state.fail_next("rate_limit", route=METRICS, reset_at=int(reset.timestamp()))
    with pytest.raises(RateLimited) as first:
        x.metrics(["1"])
    assert first.value.reset_at is not None and abs(first.value.reset_at - reset) < timedelta(
        seconds=1
    )
    assert len(x_fake.state.calls(METRICS)) == 1

    clock.advance(timedelta(minutes=14))
    with pytest.raises(RateLimited):  # refused before sending: the fake sees no second call
        x.metrics(["1"])
    assert len(x_fake.state.calls(METRICS)) == 1

    clock.advance(timedelta(minutes=2))  # past the reset on the injected clock only
    assert x.metrics(["1"]) == []
    assert [call.status for call in x_fake.state.calls(METRICS)] == [429, 200]


def _exchange(gate: RateLimitGate, status: int, headers: dict[str, str]) -> httpx.Request:
    request = httpx.Request("GET", "http://127.0.0.1/xrpc/app.bsky.feed.getPosts")
    gate.before(request)
    gate.after(httpx.Response(status, headers=headers, request=request))
    return request


def test_bluesky_gate_holds_a_method_until_the_injected_clock_passes_retry_after() -> None:
    clock = ManualClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    gate = RateLimitGate(clock.now)
    request = _exchange(gate, 429, {"retry-after": "60"})
    assert gate.blocked_until("app.bsky.feed.getPosts") == clock.now() + timedelta(seconds=60)

    clock.advance(timedelta(seconds=59))
    with pytest.raises(RateLimited):
        gate.before(request)
    clock.advance(timedelta(seconds=2))
    gate.before(request)  # released: no exception
    assert gate.blocked_until("app.bsky.feed.getPosts") is None
