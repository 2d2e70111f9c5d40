"""The outbox's side of amplification: a repost, like or quote of someone's post enters the
outbox as a planned row, and leaves it only by the outbox's own moves (withdrawn while planned,
undone once sent), each conditional on the state it expects. Planning and withdrawing happen
inside the caller's transaction, so a candidate's state changes together with its row's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.publish.states import OutboxState, move
from bot.store.tables import OutboxRow

# Every amplification shares this message id: its subject, not a campaign message, is the post.
AMPLIFY_MESSAGE = "amplify"


def amplification_key(mode: str, platform: str, action: str, remote_id: str) -> str:
    return f"{mode}:amplify:{platform}:{action}:{remote_id}"


@dataclass(frozen=True)
class PlannedAmplification:
    """A repost, like or quote of `subject_id`, due at `slot_at`, missed after `latest_at`."""

    mode: str
    campaign_id: str
    platform: str
    language: str
    action: str  # repost, like or quote
    subject_id: str
    subject_cid: str | None
    subject_url: str
    slot_at: datetime
    latest_at: datetime
    text: str = ""  # a quote's own words

    @property
    def key(self) -> str:
        return amplification_key(self.mode, self.platform, self.action, self.subject_id)


def plan_amplification(session: Session, planned: PlannedAmplification, now: datetime) -> int:
    """Add `planned` to the outbox in `session`'s transaction; the new row's id."""
    row = OutboxRow(
        key=planned.key,
        mode=planned.mode,
        campaign_id=planned.campaign_id,
        message_id=AMPLIFY_MESSAGE,
        language=planned.language,
        platform=planned.platform,
        quote_id=None,
        slot_at=planned.slot_at,
        latest_at=planned.latest_at,
        text=planned.text,
        state=OutboxState.PLANNED,
        attempts=0,
        created_at=now,
        updated_at=now,
        action=planned.action,
        subject_id=planned.subject_id,
        subject_cid=planned.subject_cid,
        subject_url=planned.subject_url,
    )
    session.add(row)
    session.flush()
    return row.id


def withdraw(session: Session, row_id: int, reason: str, now: datetime) -> bool:
    """Cancel a planned amplification. False (nothing written) if it is no longer planned: a
    sender claimed it first, and the network call is its to finish."""
    return move(session, row_id, OutboxState.PLANNED, OutboxState.CANCELLED, now, reason=reason)


def record_undone(session: Session, row_id: int, reason: str, now: datetime) -> bool:
    """A sent amplification was taken back on the network. False if it was not `sent` (another
    `kindling unamplify` recorded it first)."""
    return move(session, row_id, OutboxState.SENT, OutboxState.UNDONE, now, reason=reason)
