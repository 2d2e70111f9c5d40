"""Planning into the outbox: the planned rows of a campaign's window are made to match its
timeline, each change conditional on the row still being as it was read (a row claimed by a
sender in between is the sender's)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.platforms.base import Image
from bot.publish.schedule import Slot
from bot.publish.states import OutboxState, move
from bot.store.engine import Store
from bot.store.tables import OutboxRow

REMOVED_REASON = "no longer in the campaign"

# An existing row as planning sees it: id, state, text, thread (JSON).
# (row id, state, text, thread, images), as stored.
_Existing = tuple[int, OutboxState, str, str | None, str | None]


@dataclass(frozen=True)
class PlannedPost:
    """A slot with the text it will carry, ready to enter the outbox."""

    slot: Slot
    text: str
    thread: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()


def sync(
    store: Store,
    mode: str,
    campaign_id: str,
    posts: Iterable[PlannedPost],
    start: datetime,
    end: datetime,
    now: datetime,
) -> tuple[int, int]:
    """Make the planned rows of `campaign_id` in [start, end) match `posts`.

    New slots are inserted; planned rows whose slot disappeared are cancelled; planned rows
    whose text changed get the new text; cancelled rows whose slot is back are planned again.
    Rows already sending or sent are never touched. Returns (inserted, cancelled).
    """
    wanted = {row_key(mode, post.slot): post for post in posts}
    inserted = cancelled = 0
    with store.write() as session:
        existing = _existing(session, mode, campaign_id, start, end)
        for key, post in wanted.items():
            if key not in existing:
                session.add(_new_row(key, mode, post, now))
                inserted += 1
            else:
                _resync(session, existing[key], post, now)
        for key, (row_id, state, _, _, _) in existing.items():
            if key not in wanted and state == OutboxState.PLANNED:
                cancelled += move(
                    session,
                    row_id,
                    OutboxState.PLANNED,
                    OutboxState.CANCELLED,
                    now,
                    reason=REMOVED_REASON,
                )
    return inserted, cancelled


def row_key(mode: str, slot: Slot) -> str:
    return f"{mode}:{slot.key}"


def _existing(
    session: Session, mode: str, campaign_id: str, start: datetime, end: datetime
) -> dict[str, _Existing]:
    return {
        key: (row_id, OutboxState(state), text, thread, images)
        for row_id, key, state, text, thread, images in session.execute(
            select(
                OutboxRow.id,
                OutboxRow.key,
                OutboxRow.state,
                OutboxRow.text,
                OutboxRow.thread,
                OutboxRow.images,
            ).where(
                OutboxRow.campaign_id == campaign_id,
                OutboxRow.mode == mode,
                OutboxRow.action == "post",  # amplifications are planned elsewhere
                OutboxRow.slot_at >= start,
                OutboxRow.slot_at < end,
            )
        )
    }


def _resync(session: Session, found: _Existing, post: PlannedPost, now: datetime) -> None:
    """An existing row for a wanted slot: a planned one takes the new text and images (a quote
    card follows its quote's words), a cancelled one is planned again; any other is the
    sender's (or history) and stays as it is."""
    row_id, state, text, thread, images = found
    wanted = (post.text, _json(post.thread), _images(post))
    if state == OutboxState.PLANNED and (text, thread, images) != wanted:
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row_id, OutboxRow.state == OutboxState.PLANNED)
            .values(text=post.text, thread=wanted[1], images=wanted[2], updated_at=now)
        )
    elif state == OutboxState.CANCELLED:
        move(
            session,
            row_id,
            OutboxState.CANCELLED,
            OutboxState.PLANNED,
            now,
            reason=None,
            text=post.text,
            images=wanted[2],
        )


def _new_row(key: str, mode: str, post: PlannedPost, now: datetime) -> OutboxRow:
    slot = post.slot
    return OutboxRow(
        key=key,
        mode=mode,
        campaign_id=slot.campaign_id,
        message_id=slot.message_id,
        language=slot.language,
        platform=slot.platform,
        quote_id=slot.quote_id,
        slot_at=slot.due,
        latest_at=slot.latest,
        text=post.text,
        thread=_json(post.thread),
        images=_images(post),
        state=OutboxState.PLANNED,
        attempts=0,
        created_at=now,
        updated_at=now,
    )


def _images(post: PlannedPost) -> str | None:
    if not post.images:
        return None
    return json.dumps([{"path": str(i.path), "alt": i.alt} for i in post.images])


def _json(values: Sequence[str]) -> str | None:
    return json.dumps(list(values), ensure_ascii=False) if values else None
