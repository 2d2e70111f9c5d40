"""Campaign files -> validated Campaign objects, or every located problem in one pass.

Each entry of the campaign's lists (messages, quote pools, supporters, targets, asks) is
validated on its own, so one broken message does not hide the problems of the others, and the
whole-campaign checks still run on the entries that are valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.campaign.confine import Refused, TooLarge, inside, missing, read_limited
from bot.campaign.errors import problems_from_validation
from bot.campaign.model import Ask, Campaign, Message, QuotePool, Supporter, Target
from bot.campaign.targets_csv import CsvTarget, load_targets_csv
from bot.campaign.yamlsource import Located, Path_, load_yaml
from bot.problems import PATH_CHARS, Problem, display_path, excerpt

CAMPAIGN_SUFFIXES = (".yaml", ".yml")
LIST_ENTRIES: dict[str, type[BaseModel]] = {
    "messages": Message,
    "quote_pools": QuotePool,
    "supporters": Supporter,
    "targets": Target,
    "asks": Ask,
}


@dataclass(frozen=True)
class FileLimits:
    """How large the files of a campaign may be (bytes); Settings.limits holds the configured
    values (bot/config.py), these defaults are the same."""

    campaign_bytes: int = 1_000_000
    targets_bytes: int = 2_000_000


@dataclass
class LoadedCampaign:
    """A valid campaign and where each of its parts was written."""

    campaign: Campaign
    path: Path
    located: Located
    # id(entry) -> (where it was read from, its path there): YAML entries and CSV rows alike.
    origins: dict[int, tuple[Located, Path_]] = field(default_factory=dict)
    # ids of entries that failed validation: references to them are not reported again.
    broken_ids: set[str] = field(default_factory=set)

    @property
    def file(self) -> str:
        return self.located.file

    def problem(self, entry: object, path: Path_, message: str, *, key: bool = False) -> Problem:
        located, base = self.origins.get(id(entry), (self.located, ()))
        return located.problem((*base, *path), message, key=key)

    def where(self, entry: object, path: Path_ = ()) -> tuple[str, int, int]:
        located, base = self.origins.get(id(entry), (self.located, ()))
        line, col = located.where((*base, *path))
        return located.file, line, col

    def find_written(
        self, entry: object, start: tuple[int, int], needle: str, skip: int = 0
    ) -> tuple[int, int] | None:
        """Where `needle` is written in the value of `entry` that starts at `start`: see
        Located.find."""
        located, _ = self.origins.get(id(entry), (self.located, ()))
        return located.find(start, needle, skip)

    def file_named(self, name: str) -> Path:
        """The file a campaign names (an image, a logo), resolved inside the campaign's folder.
        Raises Refused for anything outside it."""
        return inside(self.path.parent, name)


def load_campaign(
    path: Path,
    *,
    default_timezone: str = "Europe/London",
    yaml_cache: Path | None = None,
    limits: FileLimits = FileLimits(),
) -> tuple[LoadedCampaign | None, list[Problem]]:
    """Read and validate one campaign file (and its target CSV files). `yaml_cache`: a
    directory where the parsed YAML is kept between runs (bot/campaign/yamlcache.py)."""
    display = display_path(path)
    text, problem = _read_campaign_file(path, display, limits.campaign_bytes)
    if text is None:
        assert problem is not None
        return None, [problem]
    if yaml_cache is None:
        located, problems = load_yaml(text, display)
    else:
        from bot.campaign.yamlcache import load_yaml_cached

        located, problems = load_yaml_cached(text, display, path, yaml_cache)
    if located is None:
        return None, problems
    if not isinstance(located.data, dict):
        return None, [located.problem((), "a campaign file must be a mapping of keys to values")]

    data: dict[str, Any] = located.data
    header_data = {key: value for key, value in data.items() if key not in LIST_ENTRIES}
    header_data.setdefault("timezone", default_timezone)
    header: Campaign | None = None
    try:
        header = Campaign.model_validate(header_data)
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc, located, (), Campaign))
        header = _fallback_header(header_data, exc)

    entries, origins, broken_ids = _list_entries(data, located, problems)
    if header is None:
        return None, problems
    for row in _target_files(path, located, header.target_files, limits, problems):
        entries["targets"].append(row.target)
        origins[id(row.target)] = (row.located, ())
    campaign = header.model_copy(update=entries)
    loaded = LoadedCampaign(campaign, path, located, origins, broken_ids)
    return loaded, problems


def _list_entries(
    data: dict[str, Any], located: Located, problems: list[Problem]
) -> tuple[dict[str, list[Any]], dict[int, tuple[Located, Path_]], set[str]]:
    """Each entry of the campaign's lists validated on its own (problems appended): the valid
    entries by list, where each was written, and the ids of the entries that are broken."""
    origins: dict[int, tuple[Located, Path_]] = {}
    broken_ids: set[str] = set()
    entries: dict[str, list[Any]] = {}
    for name, model in LIST_ENTRIES.items():
        raw = data.get(name)
        entries[name] = []
        if raw is None:
            continue
        if not isinstance(raw, list):
            problems.append(
                located.problem((name,), f"'{name}' must be a list (one '- ' item each)")
            )
            continue
        for index, item in enumerate(raw):
            try:
                entry = model.model_validate(item)
            except ValidationError as exc:
                problems.extend(problems_from_validation(exc, located, (name, index), model))
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    broken_ids.add(item["id"])
                continue
            entries[name].append(entry)
            origins[id(entry)] = (located, (name, index))
            if isinstance(entry, QuotePool):
                for quote_index, quote in enumerate(entry.quotes):
                    origins[id(quote)] = (located, (name, index, "quotes", quote_index))
    return entries, origins, broken_ids


def _target_files(
    path: Path, located: Located, names: list[str], limits: FileLimits, problems: list[Problem]
) -> list[CsvTarget]:
    """The targets of the CSV files the campaign names: only files inside its folder, each read
    up to limits.targets_bytes (problems appended)."""
    rows: list[CsvTarget] = []
    for index, name in enumerate(names):
        shown = excerpt(name, PATH_CHARS)
        try:
            csv_path = inside(path.parent, name)
        except Refused as refused:
            problems.append(
                located.problem(("target_files", index), f"target file '{shown}' {refused.message}")
            )
            continue
        reason = missing(csv_path)
        if reason is not None:
            problems.append(
                located.problem(("target_files", index), f"target file '{shown}' {reason}")
            )
            continue
        display = display_path(path.parent / name)
        found, csv_problems = load_targets_csv(csv_path, display, max_bytes=limits.targets_bytes)
        rows += found
        problems += csv_problems
    return rows


def _read_campaign_file(path: Path, display: str, limit: int) -> tuple[str | None, Problem | None]:
    """The campaign file's text, or the problem that stops it being read. A campaign file that
    is a link to a file outside its folder is not read: it could be any file on the server."""
    try:
        inside(path.parent, path.name)
        return read_limited(path, limit), None
    except Refused:
        message = "the campaign file is a link to a file outside its folder: it is not read"
    except TooLarge as too_large:
        message = f"{too_large.message} (limits.campaign_file_bytes in config.toml)"
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text ({exc.reason})"
    except OSError as exc:
        message = f"cannot read campaign file: {exc.strerror or 'unreadable'}"
    return None, Problem(display, 1, 1, message)


def _fallback_header(header_data: dict[str, Any], error: ValidationError) -> Campaign | None:
    """The header without its broken keys, so the whole-campaign checks can still run.

    Broken optional keys fall back to their defaults; a broken id or name gets a placeholder.
    Without valid languages or active window there is nothing to check against: None.
    """
    broken = {detail["loc"][0] for detail in error.errors() if detail["loc"]}
    repaired = {key: value for key, value in header_data.items() if key not in broken}
    languages = header_data.get("languages")
    known = (
        [lang for lang in languages if isinstance(lang, str)] if isinstance(languages, list) else []
    )
    placeholders = {"id": "invalid-id", "name": dict.fromkeys(known, "?")}
    repaired.update({key: value for key, value in placeholders.items() if key in broken})
    try:
        return Campaign.model_validate(repaired)
    except ValidationError:
        return None


def campaign_files(paths: list[Path]) -> tuple[list[Path], list[Problem]]:
    """Expand directories to the campaign files in them (sorted); report paths that are missing."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in CAMPAIGN_SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(display_path(path), 1, 1, "no such file or directory"))
    return files, problems


def find_campaign(reference: str, campaigns_dir: Path) -> Path | None:
    """A campaign given as a file path, or as the id of a campaign in `campaigns_dir`."""
    as_path = Path(reference)
    if as_path.is_file():
        return as_path
    for suffix in CAMPAIGN_SUFFIXES:
        candidate = campaigns_dir / f"{reference}{suffix}"
        if candidate.is_file():
            return candidate
    if campaigns_dir.is_dir():
        for candidate in sorted(campaigns_dir.iterdir()):
            if candidate.suffix in CAMPAIGN_SUFFIXES and _declares_id(candidate, reference):
                return candidate
    return None


def _declares_id(path: Path, campaign_id: str) -> bool:
    text, _ = _read_campaign_file(path, str(path), FileLimits().campaign_bytes)
    if text is None:
        return False
    located, _ = load_yaml(text, str(path))
    return (
        located is not None
        and isinstance(located.data, dict)
        and located.data.get("id") == campaign_id
    )
