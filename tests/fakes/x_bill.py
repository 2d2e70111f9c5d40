"""The fake X's bill: every call X charges for, at the prices of Kindling's `[x.prices]`
(`XFakeState.bill.prices`, the XPrices defaults unless a test sets them), so that a test can
hold the daemon's forecast and its budget against what X would have billed.

What is billed, as X's pay-per-use does: each post created (a post with a link at its own
price; every reply of a thread is a post); each post a read returns: the account's own posts
(metrics lookups, its timeline, its likes) at `own_read`, anyone else's (mentions, search,
another user's timeline) at `read`; each account a user lookup returns (`GET /2/users/by`,
`kindling check --online --x`) at `user_read`. An empty answer, a refused call, the account lookup and
media uploads bill nothing.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.x_entities import links_in

DEFAULT_PRICES = {
    "post": 0.015,
    "post_with_link": 0.20,
    "read": 0.005,
    "own_read": 0.001,
    "user_read": 0.010,
}
OWN_READS = ("GET /2/tweets", "GET /2/users/{id}/liked_tweets")
OTHERS_READS = ("GET /2/users/{id}/mentions", "GET /2/tweets/search/recent")


@dataclass
class BillLine:
    route: str
    kind: str  # post, post_with_link, own_read, read or user_read
    units: int
    usd: float


@dataclass
class XBill:
    prices: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    lines: list[BillLine] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def charge(self, route: str, kind: str, units: int) -> None:
        if units:
            with self.lock:
                self.lines.append(BillLine(route, kind, units, units * self.prices[kind]))

    def total(self) -> float:
        with self.lock:
            return sum(line.usd for line in self.lines)

    def by_route(self) -> dict[str, float]:
        totals: defaultdict[str, float] = defaultdict(float)
        with self.lock:
            for line in self.lines:
                totals[line.route] += line.usd
        return dict(totals)

    def by_kind(self) -> dict[str, float]:
        totals: defaultdict[str, float] = defaultdict(float)
        with self.lock:
            for line in self.lines:
                totals[line.kind] += line.usd
        return dict(totals)

    def clear(self) -> None:
        with self.lock:
            self.lines.clear()


def bill_call(
    bill: XBill,
    account_id: str,
    route: str,
    path: dict[str, Any],
    status: int,
    payload: Any,
    body: Any,
) -> None:
    """Charge one answered call (`status`, `payload`) that took effect on X."""
    if not 200 <= status < 300 or not isinstance(payload, dict):
        return
    if route == "POST /2/tweets":
        _, links = links_in(str((body or {}).get("text", "")), shorten=False)
        bill.charge(route, "post_with_link" if links else "post", 1)
        return
    data = payload.get("data")
    read = len(data) if isinstance(data, list) else 0
    if route in OWN_READS:
        bill.charge(route, "own_read", read)
    elif route in OTHERS_READS:
        bill.charge(route, "read", read)
    elif route == "GET /2/users/by":
        bill.charge(route, "user_read", read)
    elif route == "GET /2/users/{id}/tweets":
        bill.charge(route, "own_read" if path.get("id") == account_id else "read", read)
