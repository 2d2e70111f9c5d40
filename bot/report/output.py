"""`kindling report`'s outputs other than HTML: JSON, one CSV per table, terminal tables."""

from __future__ import annotations

import csv
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from bot.amplify.outcomes import Amplified
from bot.report.model import (
    TABLES,
    TOP,
    AskCount,
    Count,
    Engagement,
    GroupResponse,
    Point,
    Report,
    TargetClicks,
    TargetResponse,
)
from bot.spreadsheet import neutralise

# The terminal shows the first rows of the long tables; every row is in --json, --csv and
# --html. Per-target tables: the top TOP. Per-constituency and per-party tables: up to
# GROUP_ROWS, which keeps a country's constituencies whole (Wales: 40 for the Senedd, 32 for
# Westminster) while a table of hundreds is cut (rich lays a table out at about 0.1 ms a
# cell: 2 x 400 constituencies took 0.25 s of `kindling report`'s second).
GROUP_ROWS = 50
TERMINAL_ROWS: dict[str, tuple[int, str]] = {
    "clicks_by_target": (TOP, "targets"),
    "responses_by_target": (TOP, "targets"),
    "clicks_by_constituency": (GROUP_ROWS, "constituencies"),
    "responses_by_constituency": (GROUP_ROWS, "constituencies"),
    "responses_by_party": (GROUP_ROWS, "parties"),
}

# Columns too wide for a terminal table: the links are in --json, --csv and --html.
TERMINAL_HIDDEN = frozenset({"first_url", "last_url", "first_kind"})


def to_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False)


def _rows(report: Report, attr: str) -> tuple[list[str], list[list[Any]]]:
    items = getattr(report, attr)
    kind = {
        "top_messages": Engagement,
        "top_quotes": Engagement,
        "engagement_by_platform": Engagement,
        "clicks_by_target": TargetClicks,
        "clicks_by_constituency": Count,
        "clicks_by_platform": Count,
        "clicks_by_language": Count,
        "clicks_by_ask": AskCount,
        "responses_by_target": TargetResponse,
        "responses_by_constituency": GroupResponse,
        "responses_by_party": GroupResponse,
        "engagement_per_day": Point,
        "clicks_per_day": Point,
        "amplifications": Amplified,
    }[attr]
    names = [f.name for f in fields(kind)]
    if kind is TargetResponse:
        names.insert(4, "answered")
    return names, [[getattr(item, name) for name in names] for item in items]


def write_csv(report: Report, directory: Path) -> list[Path]:
    """One CSV per table (with a header row even when empty); returns the files written."""
    from bot.progress import track  # rich: imported only by the outputs that draw

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, attr in track(TABLES, f"writing CSV files to {directory}", total=len(TABLES)):
        header, rows = _rows(report, attr)
        path = directory / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows([neutralise(v) for v in row] for row in rows)
        written.append(path)
    return written


def render_terminal(report: Report, console: Any) -> None:
    """Rich tables; campaign data is escaped (no rich markup injection)."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    window_text = f"{report.since or '…'} – {report.until or '…'}"
    console.print(f"[bold]{escape(report.campaign)}[/bold]  {escape(window_text)}")
    for name, attr in TABLES:
        if attr.endswith("_per_day"):
            continue
        header, rows = _rows(report, attr)
        if attr in ("top_messages", "top_quotes"):
            header, rows = header[:-1], [row[:-1] for row in rows]  # the text is in JSON/CSV/HTML
        header, rows = _without(header, rows, TERMINAL_HIDDEN)
        title = name.replace("_", " ")
        if attr == "clicks_by_target":
            title += f" (total {report.clicks_total})"
        table = Table(title=title, title_justify="left")
        for column_name in header:
            table.add_column(column_name, overflow="fold")
        limit, noun = TERMINAL_ROWS.get(attr, (len(rows), ""))
        for row in rows[:limit]:
            # Text, not a string: rich neither parses markup nor replaces :emoji: codes in it
            # (campaign data is shown as written), and skipping that parse is a third of the
            # time rich takes to lay these tables out.
            table.add_row(*(Text("" if v is None else str(v)) for v in row))
        if len(rows) > limit:
            table.caption = f"{limit} of {len(rows)} {noun} (all in --json, --csv and --html)"
        console.print(table)


def _without(
    header: list[str], rows: list[list[Any]], hidden: frozenset[str]
) -> tuple[list[str], list[list[Any]]]:
    keep = [i for i, name in enumerate(header) if name not in hidden]
    return [header[i] for i in keep], [[row[i] for i in keep] for row in rows]


def silent_targets(report: Report) -> list[str]:
    return [r.target for r in report.responses_by_target if not r.answered]
