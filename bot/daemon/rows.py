"""The daemon's small reads and writes of the store: platform states, history, log fields."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.store.engine import Store
from bot.store.tables import OutboxRow, PlatformStateRow

# Dry runs keep their (simulated) platform states apart from the live accounts' under this prefix.
DRY_RUN_PREFIX = "dry-run:"


def record_platform_state(
    store: Store,
    now: datetime,
    mode: str,
    name: str,
    auth: str,
    detail: str | None,
    paused_until: datetime | None,
) -> None:
    """What the daemon (of `mode`, live or dry-run) knows of platform `name` now, for `status`."""
    key = name if mode == "live" else DRY_RUN_PREFIX + name
    with store.write() as session:
        row = session.get(PlatformStateRow, key) or PlatformStateRow(platform=key)
        row.auth, row.detail, row.paused_until, row.updated_at = auth, detail, paused_until, now
        session.add(row)


def has_history(store: Store, campaign_id: str, mode: str) -> bool:
    """True once the campaign has any outbox row in this mode (a restart, not a first start)."""
    with store.read() as session:
        found = session.scalar(
            select(OutboxRow.id)
            .where(OutboxRow.campaign_id == campaign_id, OutboxRow.mode == mode)
            .limit(1)
        )
    return found is not None


def log_fields(row: OutboxRow, state: str, reason: str | None) -> dict[str, str | None]:
    return {
        "campaign": row.campaign_id,
        "message_id": row.message_id,
        "language": row.language,
        "platform": row.platform,
        "state": state,
        "reason": reason,
    }
