"""`kindling targets import`: public politicians' data -> a targets CSV (bot/campaign/targets_csv).

Formats:
- `democracyclub`: a Democracy Club candidates CSV export (CC BY 4.0). Columns used: person_id,
  person_name, post_label, party_name, election_date, and the optional twitter_username,
  blue_sky_url, mastodon_username, threads_url, email.
- `everypolitician`: an EveryPolitician term CSV (id, name, group, area, twitter, email, ...).
- `parlparse`: mySociety parlparse `members/social-media-commons.xml`: `<personinfo id=
  "uk.org.publicwhip/person/N" twitter_username=... bluesky_handle=... threads_username=.../>`.
  It has no names: join it onto a file that has them (`--merge`), or fill them in.

People are joined on ids, never on names: a person on several rows (several elections, terms)
becomes one target; ids become `dc-<person_id>`, `ep-<id>`, `parlparse-<N>`. Each handle keeps
its source: "<source> <file>, retrieved <date>, <licence>". A bad row is a problem at its
file:line (nothing is written); a handle that is not valid is dropped with a warning.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from xml.parsers import expat

import click
from pydantic import ValidationError

from bot.campaign.model import ASK_PLATFORMS, Handles, Target
from bot.campaign.targets_csv import COLUMNS, PERSON_COLUMNS, load_targets_csv
from bot.links.export import write_atomically
from bot.problems import Problem, display_path
from bot.progress import track

FORMATS = ("democracyclub", "everypolitician", "parlparse")
SOURCE_NAMES = {
    "democracyclub": "Democracy Club",
    "everypolitician": "EveryPolitician",
    "parlparse": "mySociety parlparse",
}
LICENCES = {
    "democracyclub": "CC BY 4.0",
    "everypolitician": "licence as published by EveryPolitician",
    "parlparse": "CC BY-SA 3.0",
}
PREFIXES = {"democracyclub": "dc", "everypolitician": "ep", "parlparse": "parlparse"}
# Our column <- the source's columns (first non-empty wins).
DC_COLUMNS = {
    "name": ("person_name",),
    "constituency": ("post_label",),
    "party": ("party_name",),
    "x": ("twitter_username",),
    "bluesky": ("blue_sky_url", "bluesky_url"),
    "mastodon": ("mastodon_username", "mastodon_url"),
    "threads": ("threads_url", "threads_username"),
    "email": ("email",),
}
EP_COLUMNS = {
    "name": ("name",),
    "constituency": ("area",),
    "party": ("group",),
    "x": ("twitter",),
    "email": ("email",),
}
PARLPARSE_ATTRIBUTES = {
    "x": "twitter_username",
    "bluesky": "bluesky_handle",
    "threads": "threads_username",
    "mastodon": "mastodon_username",
}
_URL_HANDLES = {
    "x": re.compile(r"https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/@?([^/?#]+)/?", re.I),
    "bluesky": re.compile(r"https?://(?:www\.)?bsky\.app/profile/([^/?#]+)/?", re.I),
    "threads": re.compile(r"https?://(?:www\.)?threads\.(?:net|com)/@?([^/?#]+)/?", re.I),
}
_MASTODON_URL = re.compile(r"https?://([^/?#@]+)/@([^/?#@]+)/?", re.I)
_PARLPARSE_PERSON = re.compile(r"uk\.org\.publicwhip/person/(\d+)")


@dataclass
class Imported:
    rows: list[dict[str, str]] = field(default_factory=list)  # our COLUMNS, one per person
    problems: list[Problem] = field(default_factory=list)  # bad rows: nothing may be written
    warnings: list[Problem] = field(default_factory=list)  # dropped handles, several values


def sanitise_id(prefix: str, raw: str) -> str | None:
    """`raw` as one of our ids (lower case, [a-z0-9_-]) behind `prefix`; None if nothing is left."""
    core = re.sub(r"[^a-z0-9_-]+", "-", unicodedata.normalize("NFKC", raw).lower()).strip("-_")
    if not core:
        return None
    result = f"{prefix}-{core}"
    if len(result) > 64:  # keep it unique: a hash of the whole id replaces the tail
        result = f"{result[:51]}-{hashlib.sha256(raw.encode()).hexdigest()[:12]}"
    return result


def normalise_handle(platform: str, raw: str) -> str:
    """A handle as our targets CSV writes it, from the forms public data uses (URLs, @names)."""
    value = raw.strip()
    if platform in _URL_HANDLES and (match := _URL_HANDLES[platform].fullmatch(value)):
        value = match.group(1)
    if platform == "mastodon" and (match := _MASTODON_URL.fullmatch(value)):
        value = f"{match.group(2)}@{match.group(1)}"
    if platform != "email":
        value = value.removeprefix("@")
    return value


def _check_handle(platform: str, value: str) -> str | None:
    """The error message if `value` is not a valid handle on `platform`, else None."""
    try:
        Handles.model_validate({platform: value})
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    return None


class _Builder:
    """Collects people by id from any format, merging repeated ids, keeping warnings."""

    def __init__(self, fmt: str, display: str, source: str) -> None:
        self.fmt, self.display, self.source = fmt, display, source
        self.result = Imported()
        self.people: dict[str, dict[str, str]] = {}

    def problem(self, line: int, message: str) -> None:
        self.result.problems.append(Problem(self.display, line, 1, message))

    def warn(self, line: int, message: str) -> None:
        self.result.warnings.append(Problem(self.display, line, 1, message))

    def add(self, line: int, raw_id: str, values: dict[str, str]) -> None:
        raw_id = raw_id.strip()
        if not raw_id:
            self.problem(line, "no person id: every row needs one (people are joined on ids)")
            return
        if self.fmt == "parlparse" and (match := _PARLPARSE_PERSON.fullmatch(raw_id)):
            raw_id = match.group(1)
        target_id = sanitise_id(PREFIXES[self.fmt], raw_id)
        if target_id is None:
            self.problem(line, f"person id {raw_id!r} has no letters or digits")
            return
        person = self.people.setdefault(target_id, dict.fromkeys(COLUMNS, "") | {"id": target_id})
        for column, raw in values.items():
            value = unicodedata.normalize("NFC", raw.strip())
            if not value:
                continue
            if column in ASK_PLATFORMS:
                first, *rest = [part.strip() for part in value.split(";") if part.strip()] or [""]
                if rest:
                    self.warn(line, f"{target_id}: kept the first of several {column} values")
                handle = normalise_handle(column, first)
                error = _check_handle(column, handle)
                if error:
                    self.warn(line, f"{target_id}: dropped {column} {raw.strip()!r}: {error}")
                    continue
                person[column] = handle
                person[f"{column}_source"] = self.source
            else:
                person[column] = value  # a later row (election, term) updates the person

    def finish(self) -> Imported:
        rows = list(self.people.values())
        if self.fmt == "parlparse":  # a social-media file: a person without a handle adds nothing
            rows = [row for row in rows if any(row[platform] for platform in ASK_PLATFORMS)]
        self.result.rows = rows
        self.result.problems.sort()
        return self.result


def unnamed_warning(rows: list[dict[str, str]], display: str) -> Problem | None:
    """A warning naming the rows with no name (parlparse has none: join it with --merge)."""
    unnamed = [row["id"] for row in rows if not row.get("name")]
    if not unnamed:
        return None
    shown = ", ".join(unnamed[:5]) + (", ..." if len(unnamed) > 5 else "")
    return Problem(
        display,
        1,
        1,
        f"{len(unnamed)} target(s) have no name ({shown}): join this file onto targets that have "
        "these ids with --merge, or fill in 'name' (kindling check insists on one)",
    )


def _read_csv(
    path: Path, display: str, builder: _Builder, required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row dict) for each CSV record; header problems go to the builder."""
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
        missing = [name for name in required if name not in header]
        if missing:
            builder.problem(1, f"missing column(s) {', '.join(missing)}: is this a {display}?")
            return
        first_line = reader.line_num + 1
        for row in track(reader, f"reading {display}", total=max(text.count("\n") - 1, 0)):
            line, first_line = first_line, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                builder.problem(line, f"expected {len(header)} fields, found {len(row)}")
                continue
            yield line, dict(zip(header, row, strict=True))
    except csv.Error as exc:
        builder.problem(reader.line_num, f"CSV syntax error: {exc}")


def _import_csv(path: Path, builder: _Builder, id_column: str, columns: dict) -> None:
    required = (id_column, columns["name"][0])
    rows = _read_csv(path, builder.display, builder, required)
    for line, cells in sorted(rows, key=lambda pair: (pair[1].get("election_date", ""), pair[0])):
        values = {}
        for ours, theirs in columns.items():
            values[ours] = next((cells[c] for c in theirs if cells.get(c, "").strip()), "")
        if not values["name"].strip():
            builder.problem(line, f"column '{required[1]}' is empty: every person needs a name")
            continue
        builder.add(line, cells[id_column], values)


class _Refused(Exception):
    pass


def _import_parlparse(path: Path, builder: _Builder) -> None:
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(*_: Any) -> None:  # what defusedxml refuses: no entity can expand to anything
        raise _Refused("entity declarations are not accepted in this file (entity expansion)")

    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]  # it never returns
    seen_root: list[str] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        line = parser.CurrentLineNumber
        if not seen_root:
            seen_root.append(name)
            if name != "publicwhip":
                builder.problem(
                    line, f"expected <publicwhip> (social-media-commons.xml), not <{name}>"
                )
            return
        if name != "personinfo" or seen_root[0] != "publicwhip":
            return
        values = {ours: attributes.get(theirs, "") for ours, theirs in PARLPARSE_ATTRIBUTES.items()}
        builder.add(line, attributes.get("id", ""), values)

    parser.StartElementHandler = start
    try:
        parser.Parse(path.read_bytes(), True)
    except expat.ExpatError as exc:
        builder.result.problems.append(
            Problem(
                builder.display,
                exc.lineno,
                exc.offset + 1,
                f"XML error: {expat.ErrorString(exc.code)}",
            )
        )
    except _Refused as exc:
        builder.problem(parser.CurrentLineNumber, str(exc))


def import_targets(path: Path, fmt: str, *, retrieved: str, licence: str | None = None) -> Imported:
    """Read one public data file; rows in our targets CSV columns, with problems and warnings."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    display = display_path(path)
    source = f"{SOURCE_NAMES[fmt]} {path.name}, retrieved {retrieved}, {licence or LICENCES[fmt]}"
    builder = _Builder(fmt, display, source)
    try:
        if fmt == "democracyclub":
            _import_csv(path, builder, "person_id", DC_COLUMNS)
        elif fmt == "everypolitician":
            _import_csv(path, builder, "id", EP_COLUMNS)
        else:
            _import_parlparse(path, builder)
    except FileNotFoundError:
        builder.problem(1, "file not found")
    except UnicodeDecodeError as exc:
        builder.problem(1, f"not UTF-8 text ({exc.reason})")
    except OSError as exc:
        builder.problem(1, f"cannot read the file: {exc.strerror}")
    return builder.finish()


def target_row(target: Target) -> dict[str, str]:
    """A Target as a row of our targets CSV."""
    row = {column: str(getattr(target, column) or "") for column in PERSON_COLUMNS}
    sources = {str(platform): source for platform, source in target.sources.items()}
    for platform in ASK_PLATFORMS:
        row[platform] = getattr(target.handles, platform) or ""
        row[f"{platform}_source"] = sources.get(platform, "")
    return row


def merge_rows(
    existing: list[dict[str, str]], imported: list[dict[str, str]]
) -> list[dict[str, str]]:
    """Join `imported` onto `existing` by id: imported handles (with their sources) replace the
    old ones, other columns fill only empty cells (the organiser's edits win); new ids follow."""
    merged = {row["id"]: dict(row) for row in existing}
    for row in imported:
        current = merged.setdefault(row["id"], dict.fromkeys(COLUMNS, "") | {"id": row["id"]})
        for column, value in row.items():
            if not value:
                continue
            if column in ASK_PLATFORMS or column.endswith("_source") or not current.get(column):
                current[column] = value
    return list(merged.values())


def targets_csv_text(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({column: row.get(column, "") for column in COLUMNS} for row in rows)
    return buffer.getvalue()


def _echo_warning(warning: Problem) -> None:
    click.echo(f"{warning.file}:{warning.line}:{warning.col}: warning: {warning.message}", err=True)


def import_main(
    file: Path,
    fmt: str,
    out: Path | None,
    retrieved: str | None,
    licence: str | None = None,
    merge: Path | None = None,
) -> int:
    """`kindling targets import FILE --format F [--out CSV] ...`; returns the exit status."""
    if retrieved is None:  # the file's own date: when it was downloaded, as near as we know
        retrieved = date.fromtimestamp(file.stat().st_mtime).isoformat() if file.exists() else ""
    else:
        try:
            retrieved = date.fromisoformat(retrieved).isoformat()
        except ValueError:
            click.echo(f"--retrieved {retrieved!r}: expected a date like 2026-05-20", err=True)
            return 2
    result = import_targets(file, fmt, retrieved=retrieved, licence=licence)
    problems = list(result.problems)
    existing: list[dict[str, str]] = []
    if merge is not None:
        loaded, merge_problems = load_targets_csv(merge, display_path(merge))
        problems += merge_problems
        existing = [target_row(row.target) for row in loaded]
    for warning in result.warnings:
        _echo_warning(warning)
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(problems)} problem(s): nothing written", err=True)
        return 1
    rows = merge_rows(existing, result.rows) if merge is not None else result.rows
    unnamed = unnamed_warning(rows, display_path(file))
    if unnamed:
        _echo_warning(unnamed)
    text = targets_csv_text(rows)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_atomically(out, text)
        click.echo(
            f"{len(result.rows)} people from {display_path(file)}; {len(rows)} targets written to {out}",
            err=True,
        )
    return 0
