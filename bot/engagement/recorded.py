"""The responses recorded so far, as `kindling responses list` shows them, and dismissing one
(`kindling responses dismiss`): a dismissed response stays stored, so it is never recorded
again, but leaves the report's counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from bot.store.engine import Store
from bot.store.tables import OutboxRow, ResponseRow


@dataclass(frozen=True)
class Recorded:
    id: int
    platform: str
    kind: str
    target: str | None
    author: str
    at: str | None  # ISO 8601, UTC: when it was posted (else when it was seen)
    url: str
    text: str
    answers: str | None  # the campaign post's or the supporter's post's URL, where known
    dismissed: bool


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


def recorded(store: Store, campaign_id: str, *, dismissed: bool = False) -> list[Recorded]:
    """The campaign's responses, oldest first; dismissed ones only if `dismissed`."""
    query = (
        select(ResponseRow, OutboxRow.url)
        .outerjoin(OutboxRow, OutboxRow.id == ResponseRow.outbox_id)
        .where(ResponseRow.campaign_id == campaign_id)
        .order_by(func.coalesce(ResponseRow.created_at, ResponseRow.seen_at), ResponseRow.id)
    )
    if not dismissed:
        query = query.where(ResponseRow.dismissed.is_(False))
    with store.read() as session:
        return [_recorded(row, ours) for row, ours in session.execute(query)]


def first_answers(store: Store, campaign_id: str) -> dict[str, str]:
    """Target id -> the link of the target's first response to the campaign (not dismissed)."""
    query = (
        select(ResponseRow.target_id, ResponseRow.url)
        .where(
            ResponseRow.campaign_id == campaign_id,
            ResponseRow.dismissed.is_(False),
            ResponseRow.target_id.is_not(None),
        )
        .order_by(func.coalesce(ResponseRow.created_at, ResponseRow.seen_at), ResponseRow.id)
    )
    found: dict[str, str] = {}
    with store.read() as session:
        for target, url in session.execute(query):
            if target is not None:
                found.setdefault(target, url)
    return found


def _recorded(row: ResponseRow, our_post_url: str | None) -> Recorded:
    return Recorded(
        row.id,
        row.platform,
        row.kind,
        row.target_id,
        row.author_handle,
        _iso(row.created_at or row.seen_at),
        row.url,
        row.text,
        our_post_url or row.answered_url,
        row.dismissed,
    )


def dismiss(store: Store, response_id: int, *, undo: bool = False) -> Recorded | None:
    """Mark the response not relevant (`undo`: relevant again); None if there is no such id.
    Returns it as it was before."""
    with store.write() as session:
        row = session.get(ResponseRow, response_id)
        if row is None:
            return None
        before = _recorded(row, None)
        row.dismissed = not undo
    return before
