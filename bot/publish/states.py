"""The outbox's states, the moves allowed between them, and the one way a row's state changes.

    planned -> sending -> sent -> undone (`kindling unamplify` took the amplification back)
                       -> failed (a permanent refusal; with the reason)
                       -> unconfirmed -> sent | planned (not there: try again) | missed
                       -> planned (rate limited, auth failed, a transient error: try again later)
                       -> missed (a crash mid-call, not there, and too late to try again)
    planned -> failed (over budget: refused before any call)
    planned -> missed (its slot passed by more than the allowed delay)
    planned -> cancelled (its message was removed or changed; an amplification withdrawn)
    cancelled -> planned (its slot came back into the campaign)

`sending` is committed before the network call, so a crash mid-call leaves a row that
reconciliation resolves by asking the network, never by posting again blindly.

Every change is one conditional UPDATE on the state the writer expects (`WHERE id = :id AND
state = :expected`): when two writers race (the daemon claiming a row while `kindling unamplify`
withdraws it, say), one of them finds the row changed, is told so, and changes nothing. A
publish that loses its claim answers `skipped`, an outcome that is never stored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, cast

from sqlalchemy import ColumnElement, CursorResult, Result, Table, bindparam, select, update
from sqlalchemy.orm import Session

from bot.store.tables import OutboxRow

log = logging.getLogger("kindling.outbox")


class OutboxState(StrEnum):
    """A row's state, stored as its value (the same text as before the enum existed)."""

    PLANNED = "planned"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNCONFIRMED = "unconfirmed"
    MISSED = "missed"
    CANCELLED = "cancelled"
    UNDONE = "undone"


S = OutboxState

TRANSITIONS: Final[Mapping[OutboxState, frozenset[OutboxState]]] = MappingProxyType(
    {
        S.PLANNED: frozenset({S.SENDING, S.FAILED, S.MISSED, S.CANCELLED}),
        S.SENDING: frozenset({S.SENT, S.FAILED, S.UNCONFIRMED, S.PLANNED, S.MISSED}),
        S.UNCONFIRMED: frozenset({S.SENT, S.PLANNED, S.MISSED}),
        S.CANCELLED: frozenset({S.PLANNED}),
        S.SENT: frozenset({S.UNDONE}),
        S.FAILED: frozenset(),
        S.MISSED: frozenset(),
        S.UNDONE: frozenset(),
    }
)

# Rows that may still go out; and rows whose fate only the network knows (a crash mid-call).
OPEN_STATES: Final = (S.PLANNED, S.SENDING, S.UNCONFIRMED)
UNRESOLVED_STATES: Final = (S.SENDING, S.UNCONFIRMED)
# What `Outbox.publish` answers when the row was no longer its to send; never stored.
SKIPPED: Final = "skipped"


class InvalidTransition(ValueError):
    """A change the state diagram does not allow: a bug in the caller, never a lost race."""


def check_transition(expected: OutboxState, new: OutboxState) -> None:
    if new not in TRANSITIONS[expected]:
        allowed = ", ".join(sorted(TRANSITIONS[expected])) or "nothing (it is final)"
        raise InvalidTransition(f"an outbox row cannot go from {expected} to {new} ({allowed})")


def move(
    session: Session,
    row_id: int,
    expected: OutboxState,
    new: OutboxState,
    now: datetime,
    *,
    read_attempts: int | None = None,
    **values: Any,
) -> bool:
    """Move one row from `expected` to `new` (with `values`), if it is still in `expected`
    (and, given `read_attempts`, still at that attempt). False when another writer changed it
    first: that is logged and nothing is written."""
    where = [_TABLE.c.id == row_id]
    if read_attempts is not None:
        where.append(_TABLE.c.attempts == read_attempts)
    if move_where(session, where, expected, new, now, **values):
        return True
    log.info(
        "outbox row %s was not moved from %s to %s: another writer changed it first (now %s)",
        row_id,
        expected,
        new,
        state_of(session, row_id) or "gone",
    )
    return False


def move_where(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    expected: OutboxState,
    new: OutboxState,
    now: datetime,
    **values: Any,
) -> int:
    """Move every row matching `where` that is in `expected` to `new`; how many moved."""
    check_transition(expected, new)
    statement = (
        update(_TABLE)
        .where(*where, _TABLE.c.state == expected)
        .values(state=new, updated_at=now, **values)
    )
    return _rowcount(session.execute(statement))


def move_many(
    session: Session,
    new: OutboxState,
    rows: Sequence[Mapping[str, Any]],
    now: datetime,
    **values: Any,
) -> int:
    """Move each of `rows` to `new` in one executemany, if it is still as it was read: each
    mapping has `row_id`, `read_state` and `read_attempts` (and whatever bind parameters
    `values` uses). How many moved in all; fewer than `len(rows)` means some were changed by
    another writer first (the caller finds out which by moving those one at a time)."""
    if not rows:
        return 0
    for row in rows:
        check_transition(OutboxState(row["read_state"]), new)
    statement = (
        update(_TABLE)
        .where(
            _TABLE.c.id == bindparam("row_id"),
            _TABLE.c.state == bindparam("read_state"),
            _TABLE.c.attempts == bindparam("read_attempts"),
        )
        .values(state=new, updated_at=now, **values)
    )
    return _rowcount(session.execute(statement, list(rows)))


def state_of(session: Session, row_id: int) -> OutboxState | None:
    """The row's state now (read in `session`), or None if there is no such row."""
    found = session.scalar(select(_TABLE.c.state).where(_TABLE.c.id == row_id))
    return OutboxState(found) if found is not None else None


def _rowcount(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


_TABLE = cast(Table, OutboxRow.__table__)
