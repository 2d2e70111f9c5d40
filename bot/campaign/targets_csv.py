"""Targets from a CSV file: one politician or office a row, each problem at its file:line:col.

Columns (header row required, any order; only `id` and `name` are required):
id, name, role, constituency, region, party, language, stance, then one column per platform
handle (x, bluesky, mastodon, threads, email) and where it came from (x_source, ...).
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from bot.campaign.confine import TooLarge, read_limited
from bot.campaign.errors import problems_from_validation
from bot.campaign.model import ASK_PLATFORMS, Target
from bot.campaign.yamlsource import Located
from bot.problems import Problem, excerpt

PERSON_COLUMNS = ("id", "name", "role", "constituency", "region", "party", "language", "stance")
COLUMNS = (
    *PERSON_COLUMNS,
    *ASK_PLATFORMS,
    *(f"{platform}_source" for platform in ASK_PLATFORMS),
)
REQUIRED = ("id", "name")
DEFAULT_MAX_BYTES = 2_000_000  # Settings.limits.targets_file_bytes


@dataclass(frozen=True)
class CsvTarget:
    target: Target
    located: Located  # the row: paths like ('handles', 'x') -> (line, col)


def load_targets_csv(
    path: Path, display: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[CsvTarget], list[Problem]]:
    """The targets of the CSV file `path` (shown as `display`), refused unread beyond
    `max_bytes`. Problems quote at most a short, escaped excerpt of a cell."""
    text, unreadable = _read(path, display, max_bytes)
    if text is None:
        return [], [unreadable] if unreadable else []

    lines = text.splitlines()
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return [], [Problem(display, 1, 1, f"CSV syntax error: {excerpt(exc)}")]
    if not header:
        return [], [Problem(display, 1, 1, "the file is empty: expected a header row")]
    header = [name.strip() for name in header]
    problems = _check_header(header, lines[0] if lines else "", display)
    if problems:
        return [], problems

    targets: list[CsvTarget] = []
    first_line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(
                Problem(display, reader.line_num, 1, f"CSV syntax error: {excerpt(exc)}")
            )
            break
        # line_num is the last physical line of the record; a record starts after the previous.
        line = first_line
        first_line = reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(
                Problem(display, line, 1, f"expected {len(header)} fields, found {len(row)}")
            )
            continue
        text_line = lines[line - 1] if line <= len(lines) else ""
        target = _row_target(
            _locate_row(display, line, text_line, header, row), header, row, problems
        )
        if target is not None:
            targets.append(target)
    return targets, problems


def _row_target(
    located: Located, header: list[str], row: list[str], problems: list[Problem]
) -> CsvTarget | None:
    """One row as a target, or None (its problems appended)."""
    cells = dict(zip(header, row, strict=True))
    for column in REQUIRED:
        if not cells[column].strip():
            line, col = located.where((column,))
            message = f"column '{column}' is empty: every target needs one"
            problems.append(Problem(located.file, line, col, message))
    try:
        return CsvTarget(Target.model_validate(_row_to_target_data(cells)), located)
    except ValidationError as exc:
        problems.extend(
            p
            for p in problems_from_validation(exc, located, (), Target)
            if not p.message.startswith("missing required key")
        )
        return None


def _read(path: Path, display: str, max_bytes: int) -> tuple[str | None, Problem | None]:
    try:
        return read_limited(path, max_bytes, encoding="utf-8-sig"), None
    except FileNotFoundError:
        message = "target file not found"
    except TooLarge as too_large:
        message = f"{too_large.message} (limits.targets_file_bytes in config.toml)"
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text ({exc.reason})"
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        message = f"cannot read target file: {excerpt(reason)}"
    return None, Problem(display, 1, 1, message)


def _check_header(header: list[str], line: str, display: str) -> list[Problem]:
    problems = []
    offset = 0
    for name in header:
        col = line.find(name, offset) + 1 or 1
        offset = max(offset, col)
        if name not in COLUMNS:
            close = difflib.get_close_matches(name, COLUMNS, n=1, cutoff=0.6)
            hint = (
                f" (did you mean '{close[0]}'?)" if close else f" (columns: {', '.join(COLUMNS)})"
            )
            problems.append(Problem(display, 1, col, f"unknown column '{excerpt(name)}'{hint}"))
    seen = set()
    for name in header:
        if name in seen:
            problems.append(Problem(display, 1, 1, f"column '{excerpt(name)}' appears twice"))
        seen.add(name)
    for name in REQUIRED:
        if name not in header:
            problems.append(Problem(display, 1, 1, f"missing required column '{name}'"))
    return problems


def _row_to_target_data(cells: dict[str, str]) -> dict[str, object]:
    data: dict[str, object] = {}
    handles: dict[str, str] = {}
    sources: dict[str, str] = {}
    for column, raw in cells.items():
        value = raw.strip()
        if not value:
            continue
        if column in ASK_PLATFORMS:
            handles[column] = value
        elif column.endswith("_source"):
            sources[column.removesuffix("_source")] = value
        else:
            data[column] = value
    data["handles"] = handles
    data["sources"] = sources
    return data


def _field_path(column: str) -> tuple[str, ...]:
    if column in ASK_PLATFORMS:
        return ("handles", column)
    if column.endswith("_source"):
        return ("sources", column.removesuffix("_source"))
    return (column,)


def _locate_row(display: str, line: int, text: str, header: list[str], row: list[str]) -> Located:
    located = Located(data=None, file=display, values={(): (line, 1)})
    offset = 0
    for column, cell in zip(header, row, strict=True):
        found = text.find(cell, offset) if cell else -1
        located.values[_field_path(column)] = (line, (found if found >= 0 else offset) + 1)
        end = found + len(cell) if found >= 0 else offset
        comma = text.find(",", end)
        offset = comma + 1 if comma >= 0 else len(text)
    located.values[("handles",)] = (line, 1)
    located.values[("sources",)] = (line, 1)
    return located
