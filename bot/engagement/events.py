"""Telling someone a target answered: a `NewResponse` event for each response stored for the
first time, logged at WARNING with its link, and handed to whoever subscribed (the alerting of
the operations issue, once it exists). A subscriber that fails is logged and skipped: telling
never loses or undoes a stored response.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.events import TargetAnswered, publish
from bot.store.tables import ResponseRow

log = logging.getLogger("kindling.responses")


@dataclass(frozen=True)
class NewResponse:
    """A response stored for the first time (its `ResponseRow` id)."""

    response_id: int
    platform: str
    campaign_id: str | None
    target_id: str | None
    kind: str
    url: str
    author_handle: str
    created_at: datetime | None


Subscriber = Callable[[NewResponse], None]

_subscribers: list[Subscriber] = []
_lock = threading.Lock()


def subscribe(subscriber: Subscriber) -> None:
    """Call `subscriber` with every new response from now on."""
    with _lock:
        _subscribers.append(subscriber)


def unsubscribe(subscriber: Subscriber) -> None:
    with _lock:
        if subscriber in _subscribers:
            _subscribers.remove(subscriber)


def tell(event: NewResponse) -> None:
    """Log `event` at WARNING (an organiser wants to know at once) and pass it on."""
    who = event.target_id or f"@{event.author_handle}"
    log.warning(
        "%s: %s answered %s (%s): %s",
        event.platform,
        who,
        event.campaign_id or "?",
        event.kind,
        event.url,
    )
    with _lock:
        subscribers = list(_subscribers)
    for subscriber in subscribers:
        try:
            subscriber(event)
        except Exception:  # one broken alert channel must not stop the others or the poller
            log.exception("a response subscriber failed on response %d", event.response_id)
    if event.target_id is not None:  # the alerts (bot/alerts/) listen on bot.events
        answered = TargetAnswered(
            event.campaign_id or "", event.target_id, event.platform, event.url
        )
        publish(answered)


def stored_events(
    session: Session, platform: str, rows: Sequence[Mapping[str, Any]]
) -> list[NewResponse]:
    """The response rows just inserted in `session` (by their remote ids), with their new ids,
    as events to tell once the transaction commits."""
    if not rows:
        return []
    query = select(ResponseRow).where(
        ResponseRow.platform == platform,
        ResponseRow.remote_id.in_([row["remote_id"] for row in rows]),
    )
    return [
        NewResponse(
            r.id, platform, r.campaign_id, r.target_id, r.kind, r.url, r.author_handle, r.created_at
        )
        for r in session.scalars(query.order_by(ResponseRow.id))
    ]
