"""What happened that an organiser should hear about, and who is told.

Events are small frozen dataclasses raised where the thing happens (publish, engagement, the
daemon) and delivered to whoever subscribed (the alert channels, bot/alerts/). This module is at
the bottom of the layers so that any package may raise them without importing the alerts.

`publish` calls each subscriber in the publisher's thread: a subscriber must return at once
(the alerts only queue the event) and its failure is logged, never raised into the publisher.
An event carries no secret: only names, counts, reasons and public addresses.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

log = logging.getLogger("kindling.events")


@dataclass(frozen=True)
class PlatformPausedForAuth:
    """The platform refused the credentials; its posting is paused until they work again."""

    platform: str
    reason: str


@dataclass(frozen=True)
class BudgetThreshold:
    """The month's spend on `platform` crossed `percent` of its budget (USD)."""

    platform: str
    month: str  # YYYY-MM, UTC
    percent: Literal[80, 100]
    spent: float
    budget: float


@dataclass(frozen=True)
class PostsFailing:
    """`count` posts in a row on `platform` did not go out."""

    platform: str
    count: int
    last_error: str


@dataclass(frozen=True)
class RestartedAfterCrash:
    """The daemon started while the previous one had not stopped cleanly."""

    host: str
    pid: int
    last_seen: datetime


@dataclass(frozen=True)
class ReconcileStuck:
    """Reconciliation could not learn the fate of `rows` outbox rows on `platform`."""

    platform: str
    rows: int


@dataclass(frozen=True)
class TargetAnswered:
    """A campaign target mentioned, replied to or quoted the campaign account."""

    campaign: str
    target: str
    platform: str
    url: str


@dataclass(frozen=True)
class NewResponse:
    """A response to a campaign stored for the first time (its `ResponseRow` id), by a target
    or anyone else (bot/engagement/telling.py); a target's also raises `TargetAnswered`."""

    response_id: int
    platform: str
    campaign_id: str | None
    target_id: str | None
    kind: str
    url: str
    author_handle: str
    created_at: datetime | None


Event = (
    PlatformPausedForAuth
    | BudgetThreshold
    | PostsFailing
    | RestartedAfterCrash
    | ReconcileStuck
    | TargetAnswered
    | NewResponse
)
Subscriber = Callable[[Event], object]


class Subscription:
    """A subscriber's registration; `cancel()` stops its deliveries (idempotent)."""

    def __init__(self, subscriber: Subscriber, kinds: tuple[type, ...] = ()) -> None:
        self.subscriber = subscriber
        self.kinds = kinds

    def wants(self, event: Event) -> bool:
        return not self.kinds or isinstance(event, self.kinds)

    def cancel(self) -> None:
        with _lock:
            if self in _subscriptions:
                _subscriptions.remove(self)


_lock = threading.Lock()
_subscriptions: list[Subscription] = []


def subscribe(subscriber: Subscriber, *kinds: type) -> Subscription:
    """Call `subscriber(event)` for every event published from now on, until cancelled; with
    `kinds`, only for events of those types."""
    subscription = Subscription(subscriber, kinds)
    with _lock:
        _subscriptions.append(subscription)
    return subscription


def publish(event: Event) -> None:
    """Tell every subscriber about `event`. Never raises: a failing subscriber is logged."""
    with _lock:
        current = list(_subscriptions)
    for subscription in current:
        if not subscription.wants(event):
            continue
        try:
            subscription.subscriber(event)
        except Exception:
            log.exception("an event subscriber failed on %s", type(event).__name__)
