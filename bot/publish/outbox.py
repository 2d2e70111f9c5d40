"""The durable publishing state machine: each post is sent exactly once, or accounted for.

    planned -> sending -> sent
                       -> failed (a permanent refusal, over budget; with the reason)
                       -> unconfirmed -> sent | planned (not there: try again) | missed
    planned -> missed (its slot passed by more than the allowed delay)
    planned -> cancelled (its message was removed or changed before it was sent)

`sending` is committed before the network call, so a crash mid-call leaves a row that start-up
reconciliation resolves by asking the network, never by posting again blindly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.orm import Session

from bot.config import XPrices
from bot.platforms.base import (
    Ambiguous,
    AuthFailed,
    Duplicate,
    Image,
    Platform,
    PlatformError,
    PostRequest,
    Published,
    RateLimited,
    Rejected,
    Subject,
    Transient,
)
from bot.publish.budget import Budget, post_cost
from bot.publish.schedule import Slot
from bot.store.engine import Store
from bot.store.tables import OutboxRow, SpendRow

log = logging.getLogger("kindling.outbox")

OPEN_STATES = ("planned", "sending", "unconfirmed")
RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=10)
RECONCILE_BATCH = 200


@dataclass(frozen=True)
class PlannedPost:
    """A slot with the text it will carry, ready to enter the outbox."""

    slot: Slot
    text: str
    thread: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()


@dataclass(frozen=True)
class Outcome:
    row_id: int
    state: str
    reason: str | None = None
    pause_until: datetime | None = None  # the platform should wait until then
    auth_failed: bool = False


class Outbox:
    def __init__(
        self,
        store: Store,
        mode: str,
        budget: Budget,
        prices: XPrices,
        budgets_by_campaign: dict[str, float | None] | None = None,
    ) -> None:
        if mode not in ("live", "dry-run"):
            raise ValueError(f"unknown outbox mode {mode!r}")
        self.store = store
        self.mode = mode
        self.budget = budget
        self.prices = prices
        self.budgets_by_campaign = budgets_by_campaign or {}

    def key(self, slot: Slot) -> str:
        return f"{self.mode}:{slot.key}"

    # -- planning ------------------------------------------------------------------------------

    def sync(
        self,
        campaign_id: str,
        posts: Iterable[PlannedPost],
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> tuple[int, int]:
        """Make the planned rows of `campaign_id` in [start, end) match `posts`.

        New slots are inserted; planned rows whose slot disappeared are cancelled; planned rows
        whose text changed get the new text. Rows already sending or sent are never touched.
        Returns (inserted, cancelled).
        """
        wanted = {self.key(post.slot): post for post in posts}
        inserted = cancelled = 0
        with self.store.write() as session:
            existing = {
                row.key: row
                for row in session.scalars(
                    select(OutboxRow).where(
                        OutboxRow.campaign_id == campaign_id,
                        OutboxRow.mode == self.mode,
                        OutboxRow.action == "post",  # amplifications are planned elsewhere
                        OutboxRow.slot_at >= start,
                        OutboxRow.slot_at < end,
                    )
                )
            }
            for key, post in wanted.items():
                row = existing.get(key)
                if row is None:
                    session.add(self._new_row(key, post, now))
                    inserted += 1
                elif row.state == "planned" and (row.text, row.thread) != (
                    post.text,
                    _json(post.thread),
                ):
                    row.text, row.thread, row.updated_at = post.text, _json(post.thread), now
                elif row.state == "cancelled":
                    row.state, row.reason, row.text, row.updated_at = (
                        "planned",
                        None,
                        post.text,
                        now,
                    )
            for key, row in existing.items():
                if key not in wanted and row.state == "planned":
                    row.state, row.reason, row.updated_at = (
                        "cancelled",
                        "no longer in the campaign",
                        now,
                    )
                    cancelled += 1
        return inserted, cancelled

    def _new_row(self, key: str, post: PlannedPost, now: datetime) -> OutboxRow:
        slot = post.slot
        return OutboxRow(
            key=key,
            mode=self.mode,
            campaign_id=slot.campaign_id,
            message_id=slot.message_id,
            language=slot.language,
            platform=slot.platform,
            quote_id=slot.quote_id,
            slot_at=slot.due,
            latest_at=slot.latest,
            text=post.text,
            thread=_json(post.thread),
            images=json.dumps([{"path": str(i.path), "alt": i.alt} for i in post.images])
            if post.images
            else None,
            state="planned",
            attempts=0,
            created_at=now,
            updated_at=now,
        )

    # -- publishing ----------------------------------------------------------------------------

    def due(self, platform: str, now: datetime, limit: int = 20) -> list[OutboxRow]:
        """Planned rows of `platform` due now, oldest first; rows too late become missed."""
        with self.store.write() as session:
            session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.mode == self.mode,
                    OutboxRow.platform == platform,
                    OutboxRow.state == "planned",
                    OutboxRow.latest_at < now,
                )
                .values(
                    state="missed",
                    reason="its slot passed while the bot was not running or could not post",
                    updated_at=now,
                )
            )
        with self.store.read() as session:
            return list(
                session.scalars(
                    select(OutboxRow)
                    .where(
                        OutboxRow.mode == self.mode,
                        OutboxRow.platform == platform,
                        OutboxRow.state == "planned",
                        OutboxRow.slot_at <= now,
                        (OutboxRow.not_before.is_(None)) | (OutboxRow.not_before <= now),
                    )
                    .order_by(OutboxRow.slot_at, OutboxRow.id)
                    .limit(limit)
                )
            )

    def next_due_at(self, platform: str) -> datetime | None:
        """When the next planned row of `platform` may go out (its slot, or later if deferred)."""
        ready = case(
            (OutboxRow.not_before > OutboxRow.slot_at, OutboxRow.not_before),
            else_=OutboxRow.slot_at,
        )
        with self.store.read() as session:
            return session.scalar(
                select(ready)
                .where(
                    OutboxRow.mode == self.mode,
                    OutboxRow.platform == platform,
                    OutboxRow.state == "planned",
                )
                .order_by(ready)
                .limit(1)
            )

    def publish(self, row: OutboxRow, platform: Platform, now: datetime) -> Outcome:
        """Send one due row through `platform` and record what happened."""
        cost = post_cost(row.platform, row.text, self.prices) if self.mode == "live" else None
        if cost is not None:
            refusal = self.budget.refusal(
                cost,
                row.platform,
                row.campaign_id,
                self.budgets_by_campaign.get(row.campaign_id),
                now,
            )
            if refusal:
                return self._finish(row.id, "failed", now, reason=refusal)
        with self.store.write() as session:
            claimed = session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row.id, OutboxRow.state == "planned")
                .values(state="sending", attempts=OutboxRow.attempts + 1, updated_at=now)
            ).rowcount
        if not claimed:
            return Outcome(row.id, "skipped", "no longer planned")
        request = self.request(row)
        try:
            published = platform.publish(request)
        except Duplicate as exc:
            found = self._find(platform, request)
            if found is not None:
                return self._sent(row, found, now)
            return self._finish(row.id, "failed", now, reason=exc.message)
        except Rejected as exc:
            return self._finish(row.id, "failed", now, reason=exc.message)
        except RateLimited as exc:
            return self._finish(
                row.id,
                "planned",
                now,
                reason=exc.message,
                not_before=exc.reset_at,
                pause_until=exc.reset_at,
            )
        except AuthFailed as exc:
            return self._finish(row.id, "planned", now, reason=exc.message, auth_failed=True)
        except Transient as exc:
            return self._finish(
                row.id,
                "planned",
                now,
                reason=exc.message,
                not_before=now + _backoff(row.attempts + 1),
            )
        except Ambiguous as exc:
            return self._finish(row.id, "unconfirmed", now, reason=exc.message)
        return self._sent(row, published, now)

    @staticmethod
    def _find(platform: Platform, request: PostRequest) -> Published | None:
        try:
            return platform.find_published(request)
        except PlatformError:
            return None  # not confirmed now; reconciliation asks again later

    def request(self, row: OutboxRow) -> PostRequest:
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

    def _sent(self, row: OutboxRow, published: Published, now: datetime) -> Outcome:
        with self.store.write() as session:
            self._record_sent(session, row, published, now)
        self._log_sent(row, published)
        return Outcome(row.id, "sent")

    def _record_sent(
        self, session: Session, row: OutboxRow, published: Published, now: datetime
    ) -> None:
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row.id)
            .values(
                state="sent",
                reason=None,
                remote_id=published.remote_id,
                url=published.url,
                sent_at=now,
                updated_at=now,
            )
        )
        cost = post_cost(row.platform, row.text, self.prices) if self.mode == "live" else None
        if cost is not None:
            self.budget.record(session, row.platform, row.campaign_id, cost, now, row.id)

    def _log_sent(self, row: OutboxRow, published: Published) -> None:
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
                "state": "sent",
                "url": published.url,
                "text": _excerpt(row.text) if self.mode == "dry-run" else None,
            },
        )

    def _finish(
        self,
        row_id: int,
        state: str,
        now: datetime,
        *,
        reason: str | None = None,
        not_before: datetime | None = None,
        pause_until: datetime | None = None,
        auth_failed: bool = False,
    ) -> Outcome:
        with self.store.write() as session:
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row_id)
                .values(state=state, reason=reason, not_before=not_before, updated_at=now)
            )
        return Outcome(row_id, state, reason, pause_until, auth_failed)

    # -- reconciliation ------------------------------------------------------------------------

    def unresolved(self, platform: str) -> list[OutboxRow]:
        """Rows whose fate is unknown: `sending` (a crash mid-call) or `unconfirmed`."""
        with self.store.read() as session:
            return list(
                session.scalars(
                    select(OutboxRow)
                    .where(
                        OutboxRow.mode == self.mode,
                        OutboxRow.platform == platform,
                        OutboxRow.state.in_(("sending", "unconfirmed")),
                    )
                    .order_by(OutboxRow.slot_at)
                )
            )

    def _write_answers(
        self,
        answers: list[tuple[OutboxRow, Published | None]],
        now: datetime,
        counts: dict[str, int],
    ) -> None:
        """One transaction, one executemany per kind of change (statement building per row
        would cost more than the writes)."""
        table = OutboxRow.__table__
        sent, other, spend = [], [], []
        for row, found in answers:
            if found is not None:
                sent.append({"row_id": row.id, "remote_id": found.remote_id, "url": found.url})
                cost = (
                    post_cost(row.platform, row.text, self.prices) if self.mode == "live" else None
                )
                if cost is not None:
                    spend.append(
                        {
                            "platform": row.platform,
                            "campaign_id": row.campaign_id,
                            "kind": cost.kind,
                            "usd": cost.usd,
                            "at": now,
                            "outbox_id": row.id,
                        }
                    )
                counts["sent"] += 1
            elif now > row.latest_at:
                other.append(
                    {
                        "row_id": row.id,
                        "state": "missed",
                        "reason": "not found on the network after an interrupted send, and too late to retry",
                    }
                )
                counts["missed"] += 1
            else:
                other.append(
                    {
                        "row_id": row.id,
                        "state": "planned",
                        "reason": "not found on the network: will send again",
                    }
                )
                counts["planned"] += 1
        with self.store.write() as session:
            if sent:
                session.execute(
                    update(table)
                    .where(_BY_ID)
                    .values(
                        state="sent",
                        reason=None,
                        sent_at=now,
                        updated_at=now,
                        remote_id=bindparam("remote_id"),
                        url=bindparam("url"),
                    ),
                    sent,
                )
            if other:
                session.execute(
                    update(table)
                    .where(_BY_ID)
                    .values(
                        state=bindparam("state"),
                        reason=bindparam("reason"),
                        not_before=None,
                        updated_at=now,
                    ),
                    other,
                )
            if spend:
                session.execute(insert(SpendRow.__table__), spend)

    def reconcile(
        self, platform: Platform, now: datetime, rows: Sequence[OutboxRow] | None = None
    ) -> dict[str, int]:
        """Ask the network about every unresolved row: sent if it is there; otherwise planned
        again (it was never created) or missed if its slot has passed. The answers are written
        in batches, one transaction each."""
        counts = {"sent": 0, "planned": 0, "missed": 0, "unknown": 0}
        pending = list(rows if rows is not None else self.unresolved(platform.name))
        for start in range(0, len(pending), RECONCILE_BATCH):
            answers: list[tuple[OutboxRow, Published | None]] = []
            for row in pending[start : start + RECONCILE_BATCH]:
                try:
                    answers.append((row, platform.find_published(self.request(row))))
                except PlatformError as exc:
                    log.warning("cannot reconcile %s yet: %s", row.key, exc)
                    counts["unknown"] += 1
            self._write_answers(answers, now, counts)
            for row, found in answers:
                if found is not None:
                    self._log_sent(row, found)
        return counts


_BY_ID = OutboxRow.__table__.c.id == bindparam("row_id")


def _excerpt(text: str, limit: int = 70) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def _backoff(attempts: int) -> timedelta:
    return min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_MAX)


def _json(values: Sequence[str]) -> str | None:
    return json.dumps(list(values), ensure_ascii=False) if values else None
