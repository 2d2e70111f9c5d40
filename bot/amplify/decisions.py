"""What people decide about candidates: list the queue, approve, reject, and undo an
amplification the bot made (`kindling queue`, `approve`, `reject`, `unamplify`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.publish.amplifications import record_undone, withdraw
from bot.publish.states import OutboxState, state_of
from bot.store.engine import Store
from bot.store.tables import CandidateRow, OutboxRow


class CandidateState(StrEnum):
    """A found post's fate (its outbox row, once planned, has the outbox's own states):

    queued (waits for `kindling approve`) -> approved -> planned (it has an outbox row)
    queued -> rejected (by a person); found -> skipped (a rule refused it; or, once approved
    or planned, no room before it is too old, the active window over, its author blocklisted)
    planned -> undone (`kindling unamplify`: withdrawn while planned, or taken back once sent)
    """

    QUEUED = "queued"
    APPROVED = "approved"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    PLANNED = "planned"
    UNDONE = "undone"


class DecisionError(Exception):
    """A candidate cannot take this decision (unknown id, wrong state): nothing was changed."""


@dataclass(frozen=True)
class CandidateView:
    id: int
    campaign: str
    platform: str
    state: str  # the candidate's, or the outbox row's once planned (planned, sent, failed, ...)
    action: str
    author: str
    text: str
    url: str
    matched: str
    found_at: datetime
    reason: str | None
    amplified_url: str | None  # what the bot made (a quote's own post), where known


def list_candidates(
    store: Store,
    mode: str,
    states: Sequence[str] | None = (CandidateState.QUEUED,),
    campaign: str | None = None,
) -> list[CandidateView]:
    query = (
        select(CandidateRow, OutboxRow)
        .outerjoin(OutboxRow, OutboxRow.id == CandidateRow.outbox_id)
        .where(CandidateRow.mode == mode)
        .order_by(CandidateRow.id)
    )
    if states is not None:
        query = query.where(CandidateRow.state.in_(states))
    if campaign is not None:
        query = query.where(CandidateRow.campaign_id == campaign)
    with store.read() as session:
        return [_view(c, o) for c, o in session.execute(query).all()]


def _view(candidate: CandidateRow, row: OutboxRow | None) -> CandidateView:
    state = candidate.state
    if state == CandidateState.PLANNED and row is not None:
        state = row.state
    return CandidateView(
        id=candidate.id,
        campaign=candidate.campaign_id,
        platform=candidate.platform,
        state=state,
        action=candidate.action,
        author=candidate.author_handle,
        text=candidate.text,
        url=candidate.url,
        matched=candidate.matched,
        found_at=candidate.found_at,
        reason=candidate.reason if row is None else (candidate.reason or row.reason),
        amplified_url=row.url if row is not None and row.action == "quote" else None,
    )


def decide(
    store: Store, mode: str, candidate_id: int, approve: bool, now: datetime
) -> CandidateRow:
    """Approve or reject a queued candidate. Returns it (approved ones are planned by the
    caller, with the campaign's rules)."""
    with store.write() as session:
        candidate = _get(session, mode, candidate_id)
        if candidate.state != CandidateState.QUEUED:
            raise DecisionError(
                f"candidate {candidate_id} is {candidate.state}, not queued: nothing changed"
            )
        candidate.state = CandidateState.APPROVED if approve else CandidateState.REJECTED
        candidate.reason = None if approve else "rejected by a person"
        candidate.decided_at, candidate.decided_by = (
            now,
            "kindling approve" if approve else "kindling reject",
        )
        session.flush()
        session.expunge(candidate)
        return candidate


WITHDRAWN = "withdrawn by kindling unamplify"
UNDONE = "undone by kindling unamplify"


def unamplify(
    store: Store,
    mode: str,
    candidate_id: int,
    undo: Callable[[OutboxRow], None],
    now: datetime,
) -> str:
    """Withdraw a planned amplification, or undo a made one through `undo(row)` (the network
    call). Returns what happened; raises DecisionError if there is nothing to undo, or if the
    daemon claimed the row first (then it is being sent: nothing was changed)."""
    with store.read() as session:
        candidate = _get(session, mode, candidate_id)
        row = session.get(OutboxRow, candidate.outbox_id) if candidate.outbox_id else None
        if row is not None:
            session.expunge(row)
    if candidate.state != CandidateState.PLANNED or row is None:
        raise DecisionError(
            f"candidate {candidate_id} is {candidate.state}: the bot has not amplified it"
        )
    if row.state in (OutboxState.SENDING, OutboxState.UNCONFIRMED):
        raise DecisionError(
            f"candidate {candidate_id}'s {row.action} is being sent: try again in a minute"
        )
    if row.state == OutboxState.PLANNED:
        with store.write() as session:
            if not withdraw(session, row.id, WITHDRAWN, now):
                raise DecisionError(
                    f"candidate {candidate_id}'s {row.action} is no longer planned (it became "
                    f"{state_of(session, row.id)} meanwhile): nothing changed; try again in a "
                    "minute"
                )
            _undone(session, candidate_id, WITHDRAWN, now)
        return f"withdrew the planned {row.action} of candidate {candidate_id}"
    if row.state != OutboxState.SENT:
        raise DecisionError(
            f"candidate {candidate_id}'s {row.action} was {row.state}: nothing to undo"
        )
    undo(row)  # raises PlatformError: nothing recorded, the operator may try again
    with store.write() as session:
        if not record_undone(session, row.id, UNDONE, now):
            raise DecisionError(
                f"candidate {candidate_id}'s {row.action} was undone by another command already"
            )
        _undone(session, candidate_id, UNDONE, now)
    return f"undid the {row.action} of candidate {candidate_id} ({candidate.url})"


def _undone(session: Session, candidate_id: int, reason: str, now: datetime) -> None:
    candidate = session.get(CandidateRow, candidate_id)
    assert candidate is not None
    candidate.state, candidate.reason = CandidateState.UNDONE, reason
    candidate.decided_at, candidate.decided_by = now, "kindling unamplify"


def _get(session: Session, mode: str, candidate_id: int) -> CandidateRow:
    candidate = session.get(CandidateRow, candidate_id)
    if candidate is None or candidate.mode != mode:
        raise DecisionError(f"no candidate {candidate_id} (see `kindling queue --all`)")
    return candidate
