"""`kindling unamplify` withdrawing a planned repost while the daemon publishes it, raced many
times on a SQLite file and on PostgreSQL, each side with its own connections (two processes).

Whoever moves the row first wins and the other is told: the repost is either withdrawn before
it goes out, or it goes out and stays recorded as sent (`unamplify` says it is being sent), or
it went out and `unamplify` took it back (undone). Never a repost on the network recorded as
cancelled, never a candidate marked undone whose repost is live.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.amplify.decisions import DecisionError, unamplify
from bot.amplify.discovery import Discovery
from bot.config import AmplifySettings, XPrices
from bot.publish.budget import Budget
from bot.publish.outbox import Outbox
from bot.store.engine import Store
from bot.store.tables import CandidateRow, OutboxRow
from tests.amplify.conftest import make_campaign
from tests.amplify.test_discovery import OWN, RecordingNetwork, post
from tests.fakes.scripted_platform import ScriptedPlatform

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday, 10:00 in London
ROUNDS = 200


def test_withdrawing_while_the_daemon_publishes_never_records_a_sent_repost_as_cancelled(
    database_url: str,
) -> None:
    store = Store(database_url)
    store.create_tables()
    _plan_reposts(store, ROUNDS)
    daemon, command = Store(database_url), Store(database_url)
    outbox = Outbox(daemon, "live", Budget(daemon, 25.0), XPrices())
    network = ScriptedPlatform("bluesky")
    with store.read() as session:
        candidate_of = dict(session.execute(select(CandidateRow.outbox_id, CandidateRow.id)).all())
    rows = outbox.due("bluesky", NOW, limit=ROUNDS)
    assert len(rows) == ROUNDS
    endings: Counter[str] = Counter()
    try:
        for row in rows:
            endings[_race(store, command, outbox, network, row, candidate_of[row.id])] += 1
    finally:
        for own in (store, daemon, command):
            own.dispose()
    assert sum(endings.values()) == ROUNDS, endings


def _race(
    store: Store,
    command: Store,
    outbox: Outbox,
    network: ScriptedPlatform,
    row: OutboxRow,
    candidate_id: int,
) -> str:
    """The daemon publishes `row` while `kindling unamplify` withdraws its candidate, both
    released at once; the round's checked ending."""
    undone: list[OutboxRow] = []  # what unamplify took back on the network
    start = threading.Barrier(2)
    results: dict[str, Any] = {}
    sides = [
        ("publish", outbox.publish, row, network, NOW),
        ("unamplify", unamplify, command, "live", candidate_id, undone.append, NOW),
    ]
    threads = [threading.Thread(target=_after, args=(start, results, *side)) for side in sides]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return _check_round(store, row.id, candidate_id, network, undone, results)


def _plan_reposts(store: Store, count: int) -> None:
    """`count` supporters' posts found and planned as reposts, all due at NOW."""
    campaign = make_campaign(
        watch_feeds=False, links=[], min_spacing_minutes=0, daily_cap=500, max_age_hours=720
    )
    network = RecordingNetwork([post(n) for n in range(count, 0, -1)], page_size=count)
    found = Discovery(store, "live", AmplifySettings(), Budget(store, 25.0), XPrices()).run(
        campaign, network, "bluesky", OWN, NOW
    )
    assert found.planned == count


def _after(
    start: threading.Barrier, results: dict[str, Any], name: str, function: Any, *args: Any
) -> None:
    """Wait for the other side, then call; keep what it returned or raised."""
    start.wait()
    try:
        results[name] = function(*args)
    except DecisionError as exc:
        results[name] = exc


def _check_round(
    store: Store,
    row_id: int,
    candidate_id: int,
    network: ScriptedPlatform,
    undone: list[OutboxRow],
    results: dict[str, Any],
) -> str:
    """The round's ending, after checking that the row, the candidate, the network and what
    each side was told agree. Returns the row's final state."""
    with store.read() as session:
        row = session.get(OutboxRow, row_id)
        candidate = session.get(CandidateRow, candidate_id)
    assert row is not None and candidate is not None
    published = f"publish {row.key}" in network.calls
    told = results["unamplify"]
    seen = (row.state, candidate.state, published, bool(undone), type(told).__name__)
    if row.state == "cancelled":
        assert not published, f"a sent repost is recorded as cancelled: {seen}"
        assert candidate.state == "undone" and isinstance(told, str), seen
        assert results["publish"].state == "skipped", seen
    elif row.state == "sent":
        assert published and not undone, seen
        assert candidate.state == "planned" and isinstance(told, DecisionError), seen
    else:
        assert row.state == "undone", f"the race ended {seen}"
        assert published and undone and candidate.state == "undone", seen
    return row.state
