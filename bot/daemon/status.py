"""`kindling status`: whether the daemon runs, what is due next, what went out and what failed
lately, money spent, each platform's state. Live rows and dry-run rows are shown apart: a dry
run sends nothing, and its outbox and simulated accounts must never read as the live bot's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from bot.config import Config
from bot.daemon.liveness import daemon_liveness, liveness_lines
from bot.daemon.month_status import x_month, x_month_lines
from bot.daemon.rows import DRY_RUN_PREFIX
from bot.publish.budget import Budget
from bot.publish.states import OutboxState
from bot.store.engine import Store
from bot.store.location import sqlite_file_missing
from bot.store.tables import CandidateRow, OutboxRow, PlatformStateRow

# What `status` lists as recent failures.
FAILURES = (OutboxState.FAILED, OutboxState.MISSED, OutboxState.UNCONFIRMED)
MODES = ("live", "dry-run")


def collect_status(config: Config, now: datetime, mode: str = "live") -> dict[str, Any]:
    """Everything `status` shows; the outbox, amplifications and platforms of `mode` only.
    It only reads: a SQLite database that does not exist yet is not created."""
    if sqlite_file_missing(config.database):
        note = "no database yet: no daemon has run here (`kindling run` creates it)"
        return {
            "daemon": {"running": False, "leader": None, "standbys": [], "last_seen": None}
            | {"note": note},
            "database": config.database_url,
            "initialised": False,
            "exists": False,
        }
    store = Store(config.database)
    try:
        if not inspect(store.engine).has_table("outbox"):
            return {
                "daemon": daemon_liveness(store, now, config.settings.daemon.missed_heartbeats),
                "database": config.database_url,
                "initialised": False,
            }
        daemon = daemon_liveness(store, now, config.settings.daemon.missed_heartbeats)
        with store.read() as session:
            outbox = _outbox(session, now, mode, _shown_link(config))
            other = next(m for m in MODES if m != mode)
            other_counts = _counts(session, other)
            amplification = _amplification(session, mode)
            platforms = _platforms(session, mode)
        budget = Budget(store, config.settings.x.monthly_budget_usd)
        from bot.amplify.discovery import x_reads_today

        return {
            "daemon": daemon,
            "mode": mode,
            "amplification": amplification
            | {
                "x_discovery_reads_today": x_reads_today(store, now),
                "x_discovery_reads_per_day": config.settings.amplify.x_reads_per_day,
                "x_read_usd": config.settings.x.prices.read,
            },
            "database": config.database_url,
            "initialised": True,
            **outbox,
            "other_mode": {"mode": other, "counts": other_counts},
            "x_spend_this_month_usd": round(budget.spent("x", now), 4),
            "x_monthly_budget_usd": config.settings.x.monthly_budget_usd,
            "x_month": x_month(config, store, now) if mode == "live" else None,
            "platforms": platforms,
        }
    finally:
        store.dispose()


def _platforms(session: Session, mode: str) -> list[dict[str, Any]]:
    """The platform states of `mode`. Rows written before dry runs had their own (a simulated
    account, `dry-run.x`) count as dry-run rows."""
    shown = []
    for p in session.scalars(select(PlatformStateRow).order_by(PlatformStateRow.platform)):
        name = p.platform.removeprefix(DRY_RUN_PREFIX)
        dry = p.platform.startswith(DRY_RUN_PREFIX) or p.detail == f"account dry-run.{name}"
        if dry == (mode == "dry-run"):
            shown.append(
                {
                    "platform": name,
                    "auth": p.auth,
                    "detail": p.detail,
                    "paused_until": p.paused_until,
                    "updated_at": p.updated_at,
                }
            )
    return shown


def _counts(session: Session, mode: str) -> dict[str, int]:
    return dict(
        session.execute(
            select(OutboxRow.state, func.count())
            .where(OutboxRow.mode == mode)
            .group_by(OutboxRow.state)
        ).all()
    )


def _shown_link(config: Config) -> Callable[[OutboxRow], str | None]:
    """The link `status` shows for a sent row: a Bluesky post's as [bluesky] web_url says, or
    its at:// URI on a self-hosted PDS (bsky.app would not open it); others' as recorded."""
    from bot.platforms.bluesky_support import shown_link

    bluesky = config.settings.bluesky

    def link(row: OutboxRow) -> str | None:
        if row.platform != "bluesky" or row.mode != "live":
            return row.url
        return shown_link(bluesky.service_url, bluesky.web_url, row.remote_id, row.url)

    return link


def _outbox(
    session: Session, now: datetime, mode: str, link: Callable[[OutboxRow], str | None]
) -> dict[str, Any]:
    """Rows per state, the next planned, the latest sent (with links), the latest failures."""
    rows = select(OutboxRow).where(OutboxRow.mode == mode)
    upcoming = session.scalars(
        rows.where(OutboxRow.state == OutboxState.PLANNED, OutboxRow.slot_at >= now)
        .order_by(OutboxRow.slot_at)
        .limit(10)
    ).all()
    sent = session.scalars(
        rows.where(OutboxRow.action == "post", OutboxRow.state == OutboxState.SENT)
        .order_by(OutboxRow.sent_at.desc(), OutboxRow.id.desc())
        .limit(10)
    ).all()
    failures = session.scalars(
        rows.where(OutboxRow.state.in_(FAILURES)).order_by(OutboxRow.updated_at.desc()).limit(10)
    ).all()
    return {
        "counts": _counts(session, mode),
        "next": [_row(r) for r in upcoming],
        "recent_sent": [_row(r) | {"sent_at": r.sent_at, "url": link(r)} for r in sent],
        "recent_failures": [_row(r) | {"reason": r.reason} for r in failures],
    }


def _amplification(session: Session, mode: str) -> dict[str, Any]:
    """Candidates per state, and the latest amplifications sent."""
    amplified = session.scalars(
        select(OutboxRow)
        .where(
            OutboxRow.mode == mode,
            OutboxRow.action != "post",
            OutboxRow.state == OutboxState.SENT,
        )
        .order_by(OutboxRow.sent_at.desc())
        .limit(10)
    ).all()
    candidates = dict(
        session.execute(
            select(CandidateRow.state, func.count())
            .where(CandidateRow.mode == mode)
            .group_by(CandidateRow.state)
        ).all()
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


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{state} {n}" for state, n in sorted(counts.items())) or "none"


def print_status(report: dict[str, Any], console: Console) -> None:
    for line in liveness_lines(report["daemon"]):
        console.print(line, markup=False)
    if not report["initialised"]:
        unused = (
            "has not been used by `kindling run`"
            if report.get("exists", True)
            else "does not exist yet (`kindling run` or `kindling db upgrade` creates it)"
        )
        console.print(f"No posts yet: the database {report['database']} {unused}.")
        return
    dry = report["mode"] == "dry-run"
    title = "Outbox (dry runs: nothing was sent)" if dry else "Outbox"
    console.print(f"{title}: {_counted(report['counts'])}")
    other = report["other_mode"]
    if other["counts"]:
        shown = "kindling status --dry-run" if other["mode"] == "dry-run" else "kindling status"
        kind = "dry runs, kept apart" if other["mode"] == "dry-run" else "live"
        console.print(f"Outbox ({kind}; see `{shown}`): {_counted(other['counts'])}")
    if report.get("x_month"):
        for line in x_month_lines(report["x_month"]):
            console.print(line, markup=False, soft_wrap=True)
    else:
        console.print(
            f"X spend this month: ${report['x_spend_this_month_usd']:.3f} of ${report['x_monthly_budget_usd']:.2f}"
        )
    for title, rows in (
        ("Next due posts", report["next"]),
        ("Recent failures", report["recent_failures"]),
    ):
        console.print(_posts_table(title, rows))
    _print_sent(report["recent_sent"], dry, console)
    _print_amplification(report["amplification"], console)
    table = Table(title="Platforms (dry run: simulated accounts)" if dry else "Platforms")
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


def _print_sent(rows: list[dict[str, Any]], dry: bool, console: Console) -> None:
    """One line per post, its link whole (a table would fold it where it cannot be clicked)."""
    console.print("Recently recorded as sent by dry runs:" if dry else "Recently sent:")
    for r in rows:
        sent = f"{r['sent_at']:%Y-%m-%d %H:%M}" if r["sent_at"] else "?"
        console.print(
            f"  {sent} UTC  {r['campaign']}/{r['message']} {r['language']} {r['platform']}  "
            f"{r['url'] or '(no link)'}",
            markup=False,
        )
    if not rows:
        console.print("  none")


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
