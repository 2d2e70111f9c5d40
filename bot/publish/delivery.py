"""What a row asks of its platform, and how a row found on the network is recorded as sent.

Publishing and reconciliation both end here: a row becomes `sent` and its cost (X charges per
post) enters the spend ledger in the same transaction, or neither happens. That is the one path
by which spend for posting is recorded.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam
from sqlalchemy.orm import Session

from bot import events
from bot.config import XPrices
from bot.platforms.base import Image, PostRequest, Published, Subject
from bot.publish.budget import Budget, Spend, post_cost
from bot.publish.states import OutboxState, move, move_many
from bot.store.tables import OutboxRow

log = logging.getLogger("kindling.outbox")

# A row found on the network, and what the network holds for it.
Found = tuple[OutboxRow, Published]


def request_for(row: OutboxRow) -> PostRequest:
    images = (
        tuple(Image(Path(i["path"]), i["alt"]) for i in json.loads(row.images))
        if row.images
        else ()
    )
    thread = tuple(json.loads(row.thread)) if row.thread else ()
    subject = None
    if row.subject_id is not None:
        subject = Subject(row.subject_id, row.subject_cid, row.subject_url or "")
    return PostRequest(
        key=row.key,
        text=row.text,
        language=row.language,
        slot=row.slot_at,
        images=images,
        thread=thread,
        action=row.action or "post",
        subject=subject,
    )


class Delivery:
    """Records rows as sent, with what they cost, for one outbox mode."""

    def __init__(self, mode: str, prices: XPrices) -> None:
        self.mode = mode
        self.prices = prices

    def spend_for(self, row: OutboxRow, now: datetime) -> Spend | None:
        """What sending `row` is charged (live X posts), or None."""
        thread = json.loads(row.thread) if row.thread else ()
        live = self.mode == "live"
        cost = post_cost(row.platform, row.text, self.prices, thread) if live else None
        if cost is None:
            return None
        return Spend(row.platform, row.campaign_id, cost, now, row.id)

    def record_sent(
        self,
        session: Session,
        row: OutboxRow,
        published: Published,
        read_state: OutboxState,
        read_attempts: int,
        now: datetime,
    ) -> bool:
        """`row` (read in `read_state` at `read_attempts`) is on the network: move it to sent and
        record its cost. False, with nothing written, if another writer changed it first."""
        moved = move(
            session,
            row.id,
            read_state,
            OutboxState.SENT,
            now,
            read_attempts=read_attempts,
            reason=None,
            remote_id=published.remote_id,
            url=published.url,
            sent_at=now,
        )
        spend = self.spend_for(row, now)
        if moved and spend is not None:
            Budget.record(session, [spend])
        return moved

    def record_all_sent(self, session: Session, found: Sequence[Found], now: datetime) -> int:
        """The batch form of `record_sent` (one executemany): each row as it was read. How
        many moved; fewer than `len(found)` means some changed meanwhile, and the caller must
        roll this transaction back (its spend counts every row) and record them one at a time."""
        moved = move_many(
            session,
            OutboxState.SENT,
            [
                {
                    "row_id": row.id,
                    "read_state": row.state,
                    "read_attempts": row.attempts,
                    "new_remote_id": published.remote_id,
                    "new_url": published.url,
                }
                for row, published in found
            ],
            now,
            reason=None,
            sent_at=now,
            remote_id=bindparam("new_remote_id"),
            url=bindparam("new_url"),
        )
        spends = [spend for row, _ in found if (spend := self.spend_for(row, now)) is not None]
        Budget.record(session, spends)
        return moved

    def log_sent(self, row: OutboxRow, published: Published) -> None:
        done = {"post": "posted", "repost": "reposted", "like": "liked", "quote": "quoted"}[
            row.action
        ]
        log.info(
            f"dry run: would have {done}" if self.mode == "dry-run" else f"{row.action} sent",
            extra={
                "campaign": row.campaign_id,
                "message_id": row.message_id,
                "language": row.language,
                "platform": row.platform,
                "slot": f"{row.slot_at:%Y-%m-%dT%H:%MZ}",
                "state": OutboxState.SENT,
                "url": published.url,
                "text": _excerpt(row.text) if self.mode == "dry-run" else None,
            },
        )


class FailureStreak:
    """Posts in a row that did not go out, per platform; at `alert_after` a PostsFailing event
    (once per streak: a sent post starts the count again)."""

    def __init__(self, alert_after: int) -> None:
        self.alert_after = alert_after
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def note(self, platform: str, failed: bool, reason: str | None) -> None:
        with self._lock:
            count = self._counts.get(platform, 0) + 1 if failed else 0
            self._counts[platform] = count
        if count == self.alert_after:
            events.publish(events.PostsFailing(platform, count, reason or "no reason given"))


def _excerpt(text: str, limit: int = 70) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")
