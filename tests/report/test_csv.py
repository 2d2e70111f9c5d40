"""`kindling report --csv`: no cell a spreadsheet would run as a formula (OWASP's rule), while
`--json` keeps every value exactly."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.campaign.model import Campaign
from bot.report.collect import collect
from bot.report.output import to_json, write_csv
from bot.store.engine import Store
from bot.store.tables import ClickRow
from tests.links.test_export import FORMULA_STARTS, FORMULAS

# Each target's name, party and constituency: hostile strings, as public data might bring them.
TARGETS = [
    {"id": f"t{n}", "name": name, "party": FORMULAS[(n + 1) % 4]}
    | {"constituency": FORMULAS[(n + 2) % 4], "handles": {"x": f"kt_{n}"}}
    for n, name in enumerate(FORMULAS)
]
CAMPAIGN = {
    "id": "demo",
    "name": {"en": "Campaign"},
    "languages": ["en"],
    "timezone": "Europe/London",
    "active": {"start": "2026-12-01", "end": "2027-01-31"},
    "messages": [{"id": "launch", "schedule": {"at": "2026-12-02 10:00"}, "text": {"en": "Read"}}],
    "targets": TARGETS,
}


@pytest.fixture
def store(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'kindling.sqlite3'}")
    store.create_tables()
    with store.write() as session:
        for n, target in enumerate(TARGETS):
            session.add(
                ClickRow(
                    token=f"tok{n}", campaign_id="demo", target_id=target["id"],
                    ask_id="@ask", wording=1, platform="x", language="en",
                    at=datetime(2026, 12, 2, 12, tzinfo=UTC), client_hash=None,
                )
            )  # fmt: skip
    yield store
    store.dispose()


def test_report_csv_starts_no_cell_with_a_formula_and_json_keeps_the_data(store, tmp_path):
    campaign = Campaign.model_validate(CAMPAIGN)
    report = collect(store, campaign)
    cells: list[str] = []
    tables = {}
    for path in write_csv(report, tmp_path / "csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        tables[path.stem] = rows
        cells += [cell for row in rows for cell in row.values()]
    assert [cell for cell in cells if cell.startswith(FORMULA_STARTS)] == []
    expected = {(f"'{t['name']}", f"'{t['constituency']}", f"'{t['party']}") for t in TARGETS}
    for table in ("clicks_by_target", "responses_by_target"):
        shown = {(r["name"], r["constituency"], r["party"]) for r in tables[table]}
        assert shown == expected, table
    assert {r["key"] for r in tables["clicks_by_constituency"]} == {f"'{f}" for f in FORMULAS}
    assert {r["ask"] for r in tables["clicks_by_ask"]} == {"'@ask"}
    assert {r["clicks"] for r in tables["clicks_by_target"]} == {"1"}  # numbers as they are
    data = json.loads(to_json(report))
    exact = {(r["name"], r["constituency"], r["party"]) for r in data["responses_by_target"]}
    assert exact == {(t["name"], t["constituency"], t["party"]) for t in TARGETS}
    assert {r["key"] for r in data["clicks_by_constituency"]} == set(FORMULAS)
