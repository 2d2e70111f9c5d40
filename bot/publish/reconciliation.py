"""Reconciliation: rows whose fate only the network knows (`sending` after a crash mid-call,
`unconfirmed` after an ambiguous answer) are looked up there and settled: sent if the post is
there; otherwise planned again (it was never created), or missed if its slot has passed.

Each answer is written only if the row is still as it was read (same state, same attempt), so
a row that a sender or another reconciler settled meanwhile is left as they left it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import events
from bot.platforms.base import (
    BillsOwnReads,
    Platform,
    PlatformError,
    PostRequest,
    Published,
    Transient,
)
from bot.publish.budget import Budget, Cost, Spend
from bot.publish.delivery import Delivery, Found, request_for
from bot.publish.states import UNRESOLVED_STATES, OutboxState, move, move_many
from bot.store.engine import Store
from bot.store.tables import OutboxRow

log = logging.getLogger("kindling.outbox")

RECONCILE_BATCH = 200
NOT_FOUND = "not found on the network: will send again"
TOO_LATE = "not found on the network after an interrupted send, and too late to retry"
# A row the network could not be asked about for this long is alerted (ReconcileStuck): a
# network blip resolves itself sooner, and until then the row is never sent again.
STUCK_AFTER = timedelta(minutes=30)

# A looked-up row and what the network holds for it (None: not there).
Answer = tuple[OutboxRow, Published | None]


class _ChangedMeanwhile(Exception):
    """A batch found some row no longer as it was read: write that batch one row at a time."""


def unresolved(store: Store, mode: str, platform: str) -> list[OutboxRow]:
    """Rows whose fate is unknown: `sending` (a crash mid-call) or `unconfirmed`."""
    with store.read() as session:
        return list(
            session.scalars(
                select(OutboxRow)
                .where(
                    OutboxRow.mode == mode,
                    OutboxRow.platform == platform,
                    OutboxRow.state.in_(UNRESOLVED_STATES),
                )
                .order_by(OutboxRow.slot_at)
            )
        )


def look_up(
    store: Store,
    delivery: Delivery,
    budget: Budget,
    platform: Platform,
    row: OutboxRow,
    now: datetime,
) -> Published | None:
    """`platform.find_published` for `row`, charged like a post where the network bills the
    reads (X: each own post read, kind "reconcile_read"): refused (Transient, the row stays
    unresolved) when the most it may read would pass the budget."""
    request: PostRequest = request_for(row)
    if not isinstance(platform, BillsOwnReads) or delivery.mode != "live":
        return platform.find_published(request)
    price = delivery.prices.own_read
    most = Cost("reconcile_read", platform.most_reads_per_lookup * price)
    refusal = budget.refusal(most, platform.name, row.campaign_id, None, now)
    if refusal:
        raise Transient(platform.name, f"not looked up: {refusal}")
    platform.take_own_reads()  # what this thread read before is not this lookup's
    try:
        return platform.find_published(request)
    finally:
        reads = platform.take_own_reads()
        if reads and price:
            spend = Spend(
                platform.name, row.campaign_id, Cost("reconcile_read", reads * price), now
            )
            with store.write() as session:
                Budget.record(session, [spend])


def reconcile(
    store: Store,
    delivery: Delivery,
    budget: Budget,
    platform: Platform,
    rows: Sequence[OutboxRow],
    now: datetime,
    in_flight: Callable[[int], bool],
) -> dict[str, int]:
    """Ask the network about each of `rows`, except those this process is sending right now
    (`in_flight`: their sender settles them). The answers are written in batches, one
    transaction each. Counts per outcome; `lost`: rows another writer settled first."""
    counts = {"sent": 0, "planned": 0, "missed": 0, "unknown": 0, "lost": 0}
    stuck = 0
    for start in range(0, len(rows), RECONCILE_BATCH):
        answers: list[Answer] = []
        for row in rows[start : start + RECONCILE_BATCH]:
            if in_flight(row.id):
                continue
            try:
                answers.append((row, look_up(store, delivery, budget, platform, row, now)))
            except PlatformError as exc:
                log.warning("cannot reconcile %s yet: %s", row.key, exc)
                counts["unknown"] += 1
                stuck += now - row.updated_at >= STUCK_AFTER
        for (row, found), moved in zip(answers, _write(store, delivery, answers, now), strict=True):
            counts[_verdict(row, found, now) if moved else "lost"] += 1
            if moved and found is not None:
                delivery.log_sent(row, found)
    if stuck:
        events.publish(events.ReconcileStuck(platform.name, stuck))
    return counts


def _verdict(row: OutboxRow, found: Published | None, now: datetime) -> OutboxState:
    if found is not None:
        return OutboxState.SENT
    return OutboxState.MISSED if now > row.latest_at else OutboxState.PLANNED


def _write(store: Store, delivery: Delivery, answers: list[Answer], now: datetime) -> list[bool]:
    """Write `answers` in one transaction, one executemany per kind of change (statement
    building per row would cost more than the writes); if any row changed meanwhile, roll
    that back and write them one at a time. Whether each answer was written."""
    try:
        with store.write() as session:
            if _write_batch(session, delivery, answers, now) < len(answers):
                raise _ChangedMeanwhile
        return [True] * len(answers)
    except _ChangedMeanwhile:
        with store.write() as session:
            return [_write_one(session, delivery, row, found, now) for row, found in answers]


def _write_batch(session: Session, delivery: Delivery, answers: list[Answer], now: datetime) -> int:
    sent: list[Found] = [(row, found) for row, found in answers if found is not None]
    moved = delivery.record_all_sent(session, sent, now) if sent else 0
    for state, reason in ((OutboxState.MISSED, TOO_LATE), (OutboxState.PLANNED, NOT_FOUND)):
        rows = [
            {"row_id": row.id, "read_state": row.state, "read_attempts": row.attempts}
            for row, found in answers
            if found is None and _verdict(row, found, now) == state
        ]
        moved += move_many(session, state, rows, now, reason=reason, not_before=None)
    return moved


def _write_one(
    session: Session, delivery: Delivery, row: OutboxRow, found: Published | None, now: datetime
) -> bool:
    read_state = OutboxState(row.state)
    if found is not None:
        return delivery.record_sent(session, row, found, read_state, row.attempts, now)
    state = _verdict(row, found, now)
    reason = TOO_LATE if state == OutboxState.MISSED else NOT_FOUND
    return move(
        session,
        row.id,
        read_state,
        state,
        now,
        read_attempts=row.attempts,
        reason=reason,
        not_before=None,
    )
