"""The X cost forecast as `simulate` and `status` show it: by kind of call, per day and month,
with the budget's warnings. The figures come from bot/daemon/x_costs.py."""

from __future__ import annotations

from datetime import UTC, date
from typing import Any

from rich.console import Console
from rich.table import Table

from bot.daemon.x_costs import KINDS, OPTIONAL, XCosts, run_out_day
from bot.publish.timeline import TimelineEntry

LABELS = {
    "post": "posts",
    "post_with_link": "posts with links",
    "metrics": "metrics reads",
    "mentions": "responses polling",
    "discovery": "discovery (at most)",
    "listening": "listening (at most)",
    "reconciliation": "reconciliation",
}
SHORT = {
    "post": "posts",
    "post_with_link": "links",
    "metrics": "metrics",
    "mentions": "mentions",
    "discovery": "discover",
    "listening": "listen",
    "reconciliation": "reconcile",
}


def posts_run_out(entries: list[TimelineEntry]) -> date | None:
    """The UTC day of the first planned post the budget would stop, if any."""
    stopped = [e.post.slot.due for e in entries if e.status != "post"]
    return min(stopped).astimezone(UTC).date() if stopped else None


def costs_json(costs: XCosts, budget: float, posts_day: date | None) -> dict[str, Any]:
    all_run_out = run_out_day(costs, KINDS, budget)
    return {
        "kinds": list(KINDS),
        "total_usd": round(costs.total(), 4),
        "months": [
            {"month": month, **{k: round(v, 4) for k, v in usd.items()}}
            for month, usd in costs.months().items()
        ],
        "days": costs.by_day(),
        "monthly_budget_usd": budget,
        "posts_alone_run_out": posts_day.isoformat() if posts_day else None,
        "reads_cut_from": all_run_out.isoformat() if all_run_out else None,
    }


def warnings(costs: XCosts, budget: float, posts_day: date | None) -> list[str]:
    """What an organiser must hear before the month starts."""
    said = []
    if posts_day is not None:
        said.append(
            f"WARNING: the planned X posts alone cost more than the ${budget:.2f} monthly budget: "
            f"the money runs out on {_day(posts_day)}, and the budget stops the posts after it"
        )
        return said
    day = run_out_day(costs, KINDS, budget)
    if day is not None:
        said.append(
            f"Note: with every read the month would pass the ${budget:.2f} budget on {_day(day)}. "
            "The planned posts are reserved first: the daemon skips "
            f"{' and '.join(OPTIONAL)} and reads metrics less often instead of refusing a post"
        )
    return said


def print_costs(
    costs: XCosts,
    budget: float,
    read_price: float,
    console: Console,
    posts_day: date | None,
    *,
    daily: bool = True,
    adaptive: bool = False,
) -> None:
    """`adaptive`: the metrics cadence reads a post less once its counts stop moving, so the
    forecast's metrics reads (at the fixed cadence) are the most it can read."""
    labels = LABELS | ({"metrics": "metrics reads (at most)"} if adaptive else {})
    if daily:
        table = Table(title="X cost forecast per day (UTC), USD; links: posts with links")
        table.add_column("day", no_wrap=True)
        for kind in KINDS:
            table.add_column(SHORT[kind], justify="right")
        table.add_column("total", justify="right")
        for row in costs.by_day():
            table.add_row(
                str(row["date"])[5:],
                *(_usd(row[k]) for k in KINDS),
                _usd(row["total"]),
            )
        console.print(table)
    for month, usd in costs.months().items():
        parts = ", ".join(f"{labels[k]} ${usd[k]:.2f}" for k in KINDS)
        console.print(
            f"X cost forecast {month}: ${usd['total']:.2f} of the ${budget:.2f} budget ({parts})",
            soft_wrap=True,
        )
    polls = sum(units["mentions"] for units in costs.units.values())
    console.print(
        f"Responses polling: {polls} polls, X bills ${read_price:.3f} per mention they "
        "return (none counted: no one knows them in advance). Reconciliation: only after an "
        "interrupted send, each lookup reading at most 200 of the account's own posts.",
        soft_wrap=True,
    )
    for line in warnings(costs, budget, posts_day):
        console.print(line, soft_wrap=True, style="bold red" if "WARNING" in line else None)


def _usd(value: object) -> str:
    return f"{float(value):.3f}" if isinstance(value, (int, float)) and value else ""  # type: ignore[arg-type]


def _day(day: date) -> str:
    return f"{day:%a %d %b %Y}"
