"""`kindling status`: what is due next, what failed lately, money spent, each platform's state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from bot.config import Config
from bot.publish.budget import Budget
from bot.publish.states import OutboxState
from bot.store.engine import Store
from bot.store.tables import CandidateRow, OutboxRow, PlatformStateRow

# What `status` lists as recent failures.
FAILURES = (OutboxState.FAILED, OutboxState.MISSED, OutboxState.UNCONFIRMED)


def collect_status(config: Config, now: datetime) -> dict[str, Any]:
    store = Store(config.database)
    try:
        if not inspect(store.engine).has_table("outbox"):
            return {"database": config.database_url, "initialised": False}
        with store.read() as session:
            outbox = _outbox(session, now)
            amplification = _amplification(session)
            platforms = session.scalars(
                select(PlatformStateRow).order_by(PlatformStateRow.platform)
            ).all()
        budget = Budget(store, config.settings.x.monthly_budget_usd)
        from bot.amplify.discovery import x_reads_today

        return {
            "amplification": amplification
            | {
                "x_discovery_reads_today": x_reads_today(store, now),
                "x_discovery_reads_per_day": config.settings.amplify.x_reads_per_day,
                "x_read_usd": config.settings.x.prices.read,
            },
            "database": config.database_url,
            "initialised": True,
            **outbox,
            "x_spend_this_month_usd": round(budget.spent("x", now), 4),
            "x_monthly_budget_usd": config.settings.x.monthly_budget_usd,
            "platforms": [
                {
                    "platform": p.platform,
                    "auth": p.auth,
                    "detail": p.detail,
                    "paused_until": p.paused_until,
                    "updated_at": p.updated_at,
                }
                for p in platforms
            ],
        }
    finally:
        store.dispose()


def _outbox(session: Session, now: datetime) -> dict[str, Any]:
    """Rows per state, the next planned, the latest failures."""
    upcoming = session.scalars(
        select(OutboxRow)
        .where(OutboxRow.state == OutboxState.PLANNED, OutboxRow.slot_at >= now)
        .order_by(OutboxRow.slot_at)
        .limit(10)
    ).all()
    failures = session.scalars(
        select(OutboxRow)
        .where(OutboxRow.state.in_(FAILURES))
        .order_by(OutboxRow.updated_at.desc())
        .limit(10)
    ).all()
    counts = dict(
        session.execute(select(OutboxRow.state, func.count()).group_by(OutboxRow.state)).all()
    )
    return {
        "counts": counts,
        "next": [_row(r) for r in upcoming],
        "recent_failures": [_row(r) | {"reason": r.reason} for r in failures],
    }


def _amplification(session: Session) -> dict[str, Any]:
    """Candidates per state, and the latest amplifications sent."""
    amplified = session.scalars(
        select(OutboxRow)
        .where(OutboxRow.action != "post", OutboxRow.state == OutboxState.SENT)
        .order_by(OutboxRow.sent_at.desc())
        .limit(10)
    ).all()
    candidates = dict(
        session.execute(select(CandidateRow.state, func.count()).group_by(CandidateRow.state)).all()
    )
    return {
        "candidates": candidates,
        "recent": [
            _row(r) | {"action": r.action, "subject": r.subject_url, "sent_at": r.sent_at}
            for r in amplified
        ],
    }


def _row(row: OutboxRow) -> dict[str, Any]:
    return {
        "due": row.slot_at,
        "mode": row.mode,
        "campaign": row.campaign_id,
        "message": row.message_id,
        "language": row.language,
        "platform": row.platform,
        "state": row.state,
        "url": row.url,
    }


def print_status(report: dict[str, Any], console: Console) -> None:
    if not report["initialised"]:
        console.print(
            f"No posts yet: the database {report['database']} has not been used by `kindling run`."
        )
        return
    counts = ", ".join(f"{state} {n}" for state, n in sorted(report["counts"].items())) or "none"
    console.print(f"Outbox: {counts}")
    console.print(
        f"X spend this month: ${report['x_spend_this_month_usd']:.3f} of ${report['x_monthly_budget_usd']:.2f}"
    )
    for title, rows in (
        ("Next due posts", report["next"]),
        ("Recent failures", report["recent_failures"]),
    ):
        console.print(_posts_table(title, rows))
    _print_amplification(report["amplification"], console)
    table = Table(title="Platforms")
    for column in ("platform", "auth", "detail", "paused until"):
        table.add_column(column)
    for p in report["platforms"]:
        table.add_row(
            p["platform"],
            p["auth"],
            p["detail"] or "",
            f"{p['paused_until']:%Y-%m-%d %H:%M}" if p["paused_until"] else "",
        )
    console.print(table)


def _posts_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for column in ("due (UTC)", "campaign", "message", "lang", "platform", "state", "reason"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            f"{r['due']:%Y-%m-%d %H:%M}",
            r["campaign"],
            r["message"],
            r["language"],
            r["platform"],
            r["state"],
            r.get("reason") or "",
        )
    return table


def _print_amplification(amplification: dict[str, Any], console: Console) -> None:
    states = ", ".join(f"{k} {v}" for k, v in sorted(amplification["candidates"].items()))
    console.print(f"Amplification candidates: {states or 'none'}")
    reads = amplification["x_discovery_reads_today"]
    console.print(
        f"X discovery reads today: {reads} of {amplification['x_discovery_reads_per_day']} "
        f"(${reads * amplification['x_read_usd']:.3f}; off unless a campaign lists x in amplify)"
    )
    if amplification["recent"]:
        table = Table(title="Recent amplifications")
        for column in ("sent (UTC)", "campaign", "platform", "action", "post amplified"):
            table.add_column(column, overflow="fold")
        for r in amplification["recent"]:
            table.add_row(
                f"{r['sent_at']:%Y-%m-%d %H:%M}" if r["sent_at"] else "",
                r["campaign"],
                r["platform"],
                r["action"],
                r["subject"] or "",
            )
        console.print(table)
