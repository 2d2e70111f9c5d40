"""Telling someone a target answered: a `NewResponse` event (bot/events.py) for each response
stored for the first time, logged at WARNING with its link and published to whoever subscribed
to it, and for a response by a target a `TargetAnswered`, which the alerts (bot/alerts/) turn
into a message. A subscriber that fails is logged and skipped by bot/events.py: telling never
loses or undoes a stored response.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.events import NewResponse, TargetAnswered, publish
from bot.store.tables import ResponseRow

log = logging.getLogger("kindling.responses")


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
    publish(event)
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
