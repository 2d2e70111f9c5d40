"""Issue 14: reconciliation's reads of the X timeline are charged like a post (they were not
charged at all), and reads spend only what the month's planned posts leave."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.config import XPrices
from bot.publish.budget import MAX_STRETCH, Budget, Cost, Outlook
from bot.publish.outbox import Outbox
from bot.store.engine import Store
from bot.store.tables import OutboxRow, SpendRow
from tests.fakes.x_server import XFakeServer
from tests.platforms.conftest import make_platform
from tests.publish.test_outbox import planned

pytestmark = [pytest.mark.xfake]


@pytest.fixture
def x_fake() -> Iterator[XFakeServer]:
    with XFakeServer() as server:
        yield server
        assert server.state.violations == []


def _spends(store: Store) -> list[tuple[str, float]]:
    with store.read() as session:
        return [(s.kind, s.usd) for s in session.scalars(select(SpendRow).order_by(SpendRow.id))]


def test_reconciliation_reads_are_charged_as_x_bills_them(store: Store, x_fake: XFakeServer):
    now = datetime.now(UTC)
    outbox = Outbox(store, "live", Budget(store, 25.0), XPrices(), {"demo": None})
    outbox.sync("demo", [planned(due=now, text="Helo Cymru")], now, now + timedelta(1), now)
    (row,) = outbox.due("x", now)
    with store.write() as session:  # a crash mid-call: the post was made, the row says sending
        session.get(OutboxRow, row.id).state = "sending"
    for number in range(7):
        x_fake.state.add_post(f"an earlier post {number}")
    x_fake.state.add_post("Helo Cymru")
    x = make_platform(x_fake.url)

    assert outbox.reconcile(x, now + timedelta(minutes=1))["sent"] == 1

    billed = x_fake.state.bill.by_route()
    assert billed == {"GET /2/users/{id}/tweets": pytest.approx(8 * 0.001)}  # 8 own posts read
    assert _spends(store) == [("reconcile_read", pytest.approx(8 * 0.001)), ("post", 0.015)]


def test_reconciliation_that_could_pass_the_budget_is_not_made(store: Store, x_fake: XFakeServer):
    now = datetime.now(UTC)
    budget = Budget(store, 0.1)  # a lookup may read 200 posts: $0.20
    outbox = Outbox(store, "live", budget, XPrices(), {"demo": None})
    outbox.sync("demo", [planned(due=now)], now, now + timedelta(1), now)
    (row,) = outbox.due("x", now)
    with store.write() as session:
        session.get(OutboxRow, row.id).state = "sending"

    counts = outbox.reconcile(make_platform(x_fake.url), now + timedelta(minutes=1))

    assert counts["unknown"] == 1  # left unresolved: never sent again blind
    assert x_fake.state.calls("GET /2/users/{id}/tweets") == []
    assert x_fake.state.bill.total() == 0 and _spends(store) == []


def test_planned_posts_are_reserved_and_reads_give_way(store: Store) -> None:
    now = datetime(2026, 12, 10, 12, tzinfo=UTC)
    budget = Budget(store, 25.0)
    with store.write() as session:
        session.add(SpendRow(platform="x", campaign_id="demo", kind="post", usd=4.0, at=now))
    posts = tuple((now + timedelta(hours=3 * n), 0.20) for n in range(100))  # $20, this month
    later = ((datetime(2027, 1, 2, tzinfo=UTC), 5.0),)  # next month's: not reserved now
    reads = tuple((now + timedelta(minutes=n), 0.001) for n in range(500))  # $0.50 of metrics
    budget.outlook = Outlook(posts + later, reads, optional_per_day=0.5)

    assert budget.reserved(now) == pytest.approx(20.0)
    assert budget.headroom("x", now) == pytest.approx(1.0)  # 25 - 4 spent - 20 reserved
    plan = budget.read_plan(now)  # $0.50 of metrics fit, but not ~$10.75 of optional reads too
    assert (plan.optional, plan.stretch) == (False, 1.0)
    assert budget.read_refusal(0.1, now, optional=True) is not None
    assert budget.read_refusal(0.1, now, optional=False) is None

    budget.outlook = Outlook(posts, reads * 4)  # $2 of metrics in $1 of headroom: read half
    assert budget.read_plan(now).stretch == pytest.approx(2.0)
    with store.write() as session:
        session.add(SpendRow(platform="x", campaign_id="demo", kind="post", usd=1.0, at=now))
    assert budget.read_plan(now).stretch == MAX_STRETCH  # nothing left for reads
    assert budget.read_refusal(0.001, now, optional=False) is not None
    # A planned post still may spend the reservation.
    assert budget.refusal(Cost("post_with_link", 0.2), "x", "demo", None, now) is None
