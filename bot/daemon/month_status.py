"""`kindling status`'s X month: spent so far, reserved for the month's remaining planned posts,
and the projected month end, by kind, from the same planner and cadence as the daemon's budget
outlook (outlook.py) and `kindling simulate` (x_costs.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.checks.registry import CampaignRegistry
from bot.config import Config
from bot.daemon.outlook import month_outlook, x_posts_planned, x_sent_since
from bot.daemon.x_costs import KINDS, cadence_of, engagement_cycle, forecast
from bot.publish.budget import Budget, next_month_start
from bot.store.engine import Store


def x_month(config: Config, store: Store, now: datetime) -> dict[str, Any]:
    settings = config.settings
    budget = Budget(store, settings.x.monthly_budget_usd)
    spent = budget.spent("x", now)
    shown: dict[str, Any] = {"spent_usd": round(spent, 4), "budget_usd": budget.monthly_usd}
    registry = CampaignRegistry(config)
    problems = registry.load()
    campaigns = registry.campaigns()
    if problems and not campaigns:
        shown["projection"] = f"not projected: {len(problems)} problem(s) (kindling check)"
        return shown
    cycle, end = engagement_cycle(settings), next_month_start(now)
    budget.outlook = month_outlook(store, campaigns, settings, now, cycle)
    posts = x_posts_planned(campaigns, settings, now, end)
    sent = x_sent_since(store, now - cadence_of(settings).stop_after)
    models = [active.loaded.campaign for active in campaigns]
    rest = forecast(settings, models, posts, now, end, sent_before=sent, cycle=cycle)
    plan = budget.read_plan(now)
    by_kind = {kind: round(sum(rest.usd[d][kind] for d in rest.days()), 4) for kind in KINDS}
    return shown | {
        "reserved_usd": round(budget.reserved(now), 4),
        "rest_of_month_usd": by_kind,
        "projected_month_end_usd": round(spent + rest.total(), 4),
        "metrics_stretch": round(plan.stretch, 2),
        "optional_reads": plan.optional or not budget.outlook.optional_per_day,
    }


def x_month_lines(month: dict[str, Any]) -> list[str]:
    lines = [
        f"X spend this month: ${month['spent_usd']:.3f} of ${month['budget_usd']:.2f}"
        + (
            f"; reserved for the month's planned posts ${month['reserved_usd']:.3f}; "
            f"projected month end ${month['projected_month_end_usd']:.2f}"
            if "reserved_usd" in month
            else f" ({month.get('projection', 'not projected')})"
        )
    ]
    if month.get("projected_month_end_usd", 0) > month["budget_usd"]:
        lines[0] += " at the normal read cadence (the daemon reads less to stay within budget)"
    if "rest_of_month_usd" in month:
        parts = ", ".join(f"{k} ${v:.2f}" for k, v in month["rest_of_month_usd"].items())
        lines.append(f"  rest of the month by kind (optional reads at most): {parts}")
        if month["metrics_stretch"] > 1 or not month["optional_reads"]:
            lines.append(
                f"  money is short: metrics read {month['metrics_stretch']}x less often"
                + ("" if month["optional_reads"] else "; discovery and listening paused")
            )
    return lines
