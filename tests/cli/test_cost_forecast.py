"""Issue 14: `simulate` forecasts every kind of billed X call per day and month, and warns, naming
the day, when the plan alone passes the budget; `status` shows spent, reserved and the projected
month end of the running month."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from bot.store.engine import Store
from bot.store.migrate import upgrade
from bot.store.tables import SpendRow

DAILY = """\
id: demo
name: {en: "Campaign"}
languages: [en]
timezone: UTC
platforms: [x]
active: {start: 2026-12-01, end: 2027-01-31}
links: {letter: "https://copronet.org.uk/letter"}
messages:
  - id: daily
    schedule: {cron: "0 10 * * *"}
    text: {en: "Read the letter, day {{ slot.day }}: {{ link }}"}
"""


@pytest.fixture
def run(workdir, write):  # type: ignore[no-untyped-def]
    write("campaigns/demo.yaml", DAILY)
    write("config.toml", "[x]\nmonthly_budget_usd = 1.0\n")
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_simulate_gives_every_kind_of_x_cost_and_the_day_the_posts_alone_run_out(run) -> None:  # type: ignore[no-untyped-def]
    result = run("simulate", "demo", "--from", "2026-12-01T00:00", "--days", "31", "--json")
    assert result.exit_code == 0, result.output
    costs = json.loads(result.output)["x_costs"]
    [month] = costs["months"]
    assert set(month) == {
        "month",
        "post",
        "post_with_link",
        "metrics",
        "mentions",
        "discovery",
        "listening",
        "reconciliation",
        "total",
    }
    # $1 buys five posts with a link: the budget stops the rest, which are neither billed nor read.
    assert month["post_with_link"] == pytest.approx(1.0)
    assert month["metrics"] > 0 and len(costs["days"]) == 31
    assert costs["days"][0]["reads"]["mentions"] == 288  # every 5 minutes
    assert costs["posts_alone_run_out"] == "2026-12-06"

    shown = run("simulate", "demo", "--from", "2026-12-01T00:00", "--days", "31").output
    assert (
        "WARNING: the planned X posts alone cost more than the $1.00 monthly budget: the money "
        "runs out on Sun 06 Dec 2026" in " ".join(shown.split())
    )
    assert "X cost forecast 2026-12: $" in shown and "metrics reads (at most) $" in shown


def test_status_shows_spent_reserved_and_the_projected_month_end(run, workdir) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{workdir / 'data' / 'kindling.sqlite3'}"
    (workdir / "data").mkdir(exist_ok=True)
    upgrade(url)
    store = Store(url)
    now = datetime.now(UTC)
    with store.write() as session:
        session.add(SpendRow(platform="x", campaign_id="demo", kind="own_read", usd=0.3, at=now))
    store.dispose()
    result = run("status", "--json")
    month = json.loads(result.output)["x_month"]
    assert month["spent_usd"] == pytest.approx(0.3)
    assert month["reserved_usd"] >= 0
    projected = month["spent_usd"] + sum(month["rest_of_month_usd"].values())
    assert month["projected_month_end_usd"] == pytest.approx(projected, abs=0.001)
    shown = " ".join(run("status").output.split())
    assert "X spend this month: $0.300 of $1.00; reserved for the month's planned posts $" in shown
    assert "projected month end $" in shown
