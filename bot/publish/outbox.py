"""The outbox: every post and amplification, each sent exactly once or accounted for.

`Outbox` hands out the due rows and publishes them, one claim per row. Around it, by concept:
the states and the moves between them in bot/publish/states.py (the diagram is there),
planning in syncing.py, recording a row sent (and its cost) in delivery.py, reconciliation
after a crash in reconciliation.py, amplification rows in amplifications.py. Every state change
goes through states.py, each one conditional on the state it expects.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, select

from bot.config import XPrices
from bot.platforms.base import (
    Ambiguous,
    AuthFailed,
    Duplicate,
    Platform,
    PlatformError,
    PostRequest,
    Published,
    RateLimited,
    Rejected,
    Transient,
)
from bot.publish import reconciliation, syncing
from bot.publish.budget import Budget
from bot.publish.delivery import Delivery, FailureStreak, request_for
from bot.publish.schedule import Slot
from bot.publish.states import (
    OPEN_STATES,
    SKIPPED,
    InvalidTransition,
    OutboxState,
    move,
    move_where,
)
from bot.publish.syncing import PlannedPost, row_key
from bot.store.engine import Store
from bot.store.tables import OutboxRow

__all__ = [
    "OPEN_STATES",
    "SKIPPED",
    "InvalidTransition",
    "Outbox",
    "OutboxState",
    "Outcome",
    "PlannedPost",
]

log = logging.getLogger("kindling.outbox")

RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=10)
MISSED_REASON = "its slot passed while the bot was not running or could not post"


@dataclass(frozen=True)
class Outcome:
    row_id: int
    state: str  # an OutboxState, or SKIPPED: the row was not this sender's to record
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
        failures_alert_after: int = 3,
    ) -> None:
        if mode not in ("live", "dry-run"):
            raise ValueError(f"unknown outbox mode {mode!r}")
        self.store = store
        self.mode = mode
        self.budget = budget
        self.prices = prices
        self.budgets_by_campaign = budgets_by_campaign or {}
        self.delivery = Delivery(mode, prices)
        self.failures = FailureStreak(failures_alert_after)
        # Rows this process is sending now: reconciliation leaves them to their sender.
        self._in_flight: set[int] = set()
        self._in_flight_lock = threading.Lock()

    def key(self, slot: Slot) -> str:
        return row_key(self.mode, slot)

    # -- planning ------------------------------------------------------------------------------

    def sync(
        self,
        campaign_id: str,
        posts: Iterable[PlannedPost],
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> tuple[int, int]:
        """Make the planned rows of `campaign_id` in [start, end) match `posts`; returns
        (inserted, cancelled). See bot/publish/syncing.py."""
        return syncing.sync(self.store, self.mode, campaign_id, posts, start, end, now)

    # -- publishing ----------------------------------------------------------------------------

    def due(self, platform: str, now: datetime, limit: int = 20) -> list[OutboxRow]:
        """Planned rows of `platform` due now, oldest first; rows too late become missed."""
        with self.store.write() as session:
            move_where(
                session,
                [
                    OutboxRow.mode == self.mode,
                    OutboxRow.platform == platform,
                    OutboxRow.latest_at < now,
                ],
                OutboxState.PLANNED,
                OutboxState.MISSED,
                now,
                reason=MISSED_REASON,
            )
        with self.store.read() as session:
            return list(
                session.scalars(
                    select(OutboxRow)
                    .where(
                        OutboxRow.mode == self.mode,
                        OutboxRow.platform == platform,
                        OutboxRow.state == OutboxState.PLANNED,
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
                    OutboxRow.state == OutboxState.PLANNED,
                )
                .order_by(ready)
                .limit(1)
            )

    def publish(self, row: OutboxRow, platform: Platform, now: datetime) -> Outcome:
        """Send one due row through `platform` and record what happened. A row that is no
        longer planned as read (claimed by another sender, withdrawn, cancelled) is `skipped`."""
        outcome = self._publish(row, platform, now)
        if outcome.state == OutboxState.SENT or _failed(outcome):
            self.failures.note(row.platform, _failed(outcome), outcome.reason)
        return outcome

    def _publish(self, row: OutboxRow, platform: Platform, now: datetime) -> Outcome:
        spend = self.delivery.spend_for(row, now)
        if spend is not None:
            refusal = self.budget.refusal(
                spend.cost,
                row.platform,
                row.campaign_id,
                self.budgets_by_campaign.get(row.campaign_id),
                now,
            )
            if refusal:
                with self.store.write() as session:
                    failed = move(
                        session,
                        row.id,
                        OutboxState.PLANNED,
                        OutboxState.FAILED,
                        now,
                        read_attempts=row.attempts,
                        reason=refusal,
                        not_before=None,
                    )
                return Outcome(row.id, OutboxState.FAILED, refusal) if failed else _skipped(row)
        with self._sending(row.id):
            with self.store.write() as session:
                claimed = move(
                    session,
                    row.id,
                    OutboxState.PLANNED,
                    OutboxState.SENDING,
                    now,
                    read_attempts=row.attempts,
                    attempts=row.attempts + 1,
                )
            if not claimed:
                return _skipped(row)
            return self._send(row, row.attempts + 1, platform, now)

    def _send(self, row: OutboxRow, attempt: int, platform: Platform, now: datetime) -> Outcome:
        """The network call for a row this sender claimed (`sending` at `attempt`)."""
        request = request_for(row)
        try:
            published = platform.publish(request)
        except Duplicate as exc:
            found = self._find(platform, row, now)
            if found is not None:
                return self._sent(row, attempt, found, now)
            return self._finish(row, attempt, OutboxState.FAILED, now, reason=exc.message)
        except Rejected as exc:
            return self._finish(row, attempt, OutboxState.FAILED, now, reason=exc.message)
        except RateLimited as exc:
            return self._finish(
                row,
                attempt,
                OutboxState.PLANNED,
                now,
                reason=exc.message,
                not_before=exc.reset_at,
                pause_until=exc.reset_at,
            )
        except AuthFailed as exc:
            return self._finish(
                row, attempt, OutboxState.PLANNED, now, reason=exc.message, auth_failed=True
            )
        except Transient as exc:
            return self._finish(
                row,
                attempt,
                OutboxState.PLANNED,
                now,
                reason=exc.message,
                not_before=now + _backoff(attempt),
            )
        except Ambiguous as exc:
            return self._finish(row, attempt, OutboxState.UNCONFIRMED, now, reason=exc.message)
        return self._sent(row, attempt, published, now)

    @contextmanager
    def _sending(self, row_id: int) -> Iterator[None]:
        with self._in_flight_lock:
            self._in_flight.add(row_id)
        try:
            yield
        finally:
            with self._in_flight_lock:
                self._in_flight.discard(row_id)

    def _is_in_flight(self, row_id: int) -> bool:
        with self._in_flight_lock:
            return row_id in self._in_flight

    def _find(self, platform: Platform, row: OutboxRow, now: datetime) -> Published | None:
        try:
            return reconciliation.look_up(
                self.store, self.delivery, self.budget, platform, row, now
            )
        except PlatformError:
            return None  # not confirmed now; reconciliation asks again later

    def request(self, row: OutboxRow) -> PostRequest:
        return request_for(row)

    def _sent(self, row: OutboxRow, attempt: int, published: Published, now: datetime) -> Outcome:
        with self.store.write() as session:
            recorded = self.delivery.record_sent(
                session, row, published, OutboxState.SENDING, attempt, now
            )
        if not recorded:
            # Only a reconciler in another process moves a row out of `sending`; if it made it
            # planned, sending again finds the post (X: a duplicate; Bluesky: the same record).
            log.warning(
                "%s was sent, but its row was changed meanwhile: left for reconciliation", row.key
            )
            return _skipped(row, "sent, but the row was changed meanwhile")
        self.delivery.log_sent(row, published)
        return Outcome(row.id, OutboxState.SENT)

    def _finish(
        self,
        row: OutboxRow,
        attempt: int,
        state: OutboxState,
        now: datetime,
        *,
        reason: str | None = None,
        not_before: datetime | None = None,
        pause_until: datetime | None = None,
        auth_failed: bool = False,
    ) -> Outcome:
        """Record how a claimed row's call ended (anything but sent)."""
        with self.store.write() as session:
            moved = move(
                session,
                row.id,
                OutboxState.SENDING,
                state,
                now,
                read_attempts=attempt,
                reason=reason,
                not_before=not_before,
            )
        return Outcome(row.id, state if moved else SKIPPED, reason, pause_until, auth_failed)

    # -- reconciliation ------------------------------------------------------------------------

    def unresolved(self, platform: str) -> list[OutboxRow]:
        """Rows whose fate is unknown: `sending` (a crash mid-call) or `unconfirmed`."""
        return reconciliation.unresolved(self.store, self.mode, platform)

    def reconcile(
        self, platform: Platform, now: datetime, rows: Sequence[OutboxRow] | None = None
    ) -> dict[str, int]:
        """Ask the network about every unresolved row (see bot/publish/reconciliation.py)."""
        pending = list(rows if rows is not None else self.unresolved(platform.name))
        return reconciliation.reconcile(
            self.store, self.delivery, self.budget, platform, pending, now, self._is_in_flight
        )


def _failed(outcome: Outcome) -> bool:
    """Did not go out, for a reason other than a pause (auth, rate limit: alerted or waited)."""
    if outcome.state in (OutboxState.FAILED, OutboxState.UNCONFIRMED):
        return True
    transient = outcome.pause_until is None and not outcome.auth_failed
    return outcome.state == OutboxState.PLANNED and transient


def _skipped(row: OutboxRow, reason: str = "no longer planned") -> Outcome:
    return Outcome(row.id, SKIPPED, reason)


def _backoff(attempts: int) -> timedelta:
    return min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_MAX)
