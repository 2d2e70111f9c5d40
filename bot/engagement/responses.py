"""Responses to the bot: mentions, replies and quotes, linked to campaign targets (accountability).

`poll_responses` reads `platform.mentions(cursor)` from the cursor kept in `PollCursorRow`
("mentions:PLATFORM"), stores each response once (`ResponseRow` is unique on platform and
remote id) and moves the cursor in the same transaction, so a crash between the two cannot skip
or double anything. A response is linked to the target whose handle wrote it (X: the username,
case-insensitive; Bluesky: the handle, case-insensitive, or the DID) and to our outbox row when
it answers or quotes one of our posts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import insert, select

from bot.campaign.model import Campaign
from bot.engagement.telling import stored_events, tell
from bot.platforms.base import Mention, Platform
from bot.publish.budget import Budget, Cost, Spend
from bot.store.engine import Store
from bot.store.tables import OutboxRow, PollCursorRow, ResponseRow, table


class TargetRef(NamedTuple):
    campaign_id: str
    target_id: str


def targets_by_handle(
    campaigns: Iterable[Campaign], platform: str
) -> dict[str, tuple[TargetRef, ...]]:
    """Lower-cased handle (or DID) on `platform` -> the targets that have it, in campaign order
    (one politician may be a target of several campaigns)."""
    found: dict[str, list[TargetRef]] = {}
    for campaign in campaigns:
        for target in campaign.targets:
            handle = getattr(target.handles, platform, None)
            if handle:
                key = handle.removeprefix("@")
                key = key if key.startswith("did:") else key.lower()
                found.setdefault(key, []).append(TargetRef(campaign.id, target.id))
    return {key: tuple(refs) for key, refs in found.items()}


def cursor_name(platform: str) -> str:
    return f"mentions:{platform}"


def read_cursor(store: Store, platform: str) -> str | None:
    with store.read() as session:
        row = session.get(PollCursorRow, cursor_name(platform))
        return row.cursor if row is not None else None


def poll_responses(
    store: Store,
    platform: Platform,
    targets: Mapping[str, Sequence[TargetRef]],
    now: datetime,
    *,
    read_price: float = 0.0,
) -> int:
    """Store the responses newer than the saved cursor; returns how many were new. Errors of
    the adapter propagate (the cursor is then unchanged). `read_price`: X charges each post
    the mentions endpoint returns (spend of kind "read")."""
    page = platform.mentions(read_cursor(store, platform.name))
    mentions = list({m.remote_id: m for m in page.mentions}.values())
    replied = {m.in_reply_to for m in mentions if m.in_reply_to}
    with store.write() as session:
        ours: dict[str, tuple[int, str]] = {}
        if replied:
            query = select(OutboxRow.remote_id, OutboxRow.id, OutboxRow.campaign_id).where(
                OutboxRow.platform == platform.name,
                OutboxRow.mode == "live",
                OutboxRow.remote_id.in_(replied),
            )
            ours = {
                remote: (row_id, campaign)
                for remote, row_id, campaign in session.execute(query)
                if remote is not None
            }
        known: set[str] = set()
        if mentions:
            known = set(
                session.scalars(
                    select(ResponseRow.remote_id).where(
                        ResponseRow.platform == platform.name,
                        ResponseRow.remote_id.in_([m.remote_id for m in mentions]),
                    )
                )
            )
        new = [
            _row(platform.name, m, targets, ours, now) for m in mentions if m.remote_id not in known
        ]
        if new:
            session.execute(insert(table(ResponseRow)), new)
        # A target's answer is told; anyone else's mention of the bot is only stored.
        events = stored_events(session, platform.name, [row for row in new if row["target_id"]])
        if read_price and mentions:
            cost = Cost("read", read_price * len(mentions))
            Budget.record(session, [Spend(platform.name, None, cost, now)])
        cursor = session.get(PollCursorRow, cursor_name(platform.name))
        if cursor is None:
            cursor = PollCursorRow(name=cursor_name(platform.name))
            session.add(cursor)
        if page.cursor is not None or cursor.cursor is None:
            cursor.cursor = page.cursor
        cursor.updated_at = now
    for event in events:
        tell(event)
    return len(new)


def _row(
    platform: str,
    mention: Mention,
    targets: Mapping[str, Sequence[TargetRef]],
    ours: Mapping[str, tuple[int, str]],
    now: datetime,
) -> dict[str, object]:
    outbox_id, campaign_id = ours.get(mention.in_reply_to or "", (None, None))
    refs: Sequence[TargetRef] = targets.get(
        mention.author_handle.lower().removeprefix("@"), ()
    ) or targets.get(mention.author_id, ())
    # A target of several campaigns: the campaign of the post answered, else the first.
    ref = next((r for r in refs if r.campaign_id == campaign_id), refs[0] if refs else None)
    return {
        "platform": platform,
        "remote_id": mention.remote_id,
        "kind": mention.kind,
        "campaign_id": campaign_id or (ref.campaign_id if ref else None),
        "target_id": ref.target_id if ref else None,
        "outbox_id": outbox_id,
        "author_id": mention.author_id,
        "author_handle": mention.author_handle,
        "text": mention.text,
        "url": mention.url,
        "created_at": mention.created_at,
        "seen_at": now,
    }
