"""Finding a supporter's politicians: by constituency or region, by name, or by postcode.

Targets with a constituency or region are found by choosing it from a list, by searching their
name (or role, party, constituency: case- and accent-insensitive, so `sian` finds `Siân`), or by
postcode where the operator gives `kindling serve` a postcode table. Targets with neither
(ministers, the government's accounts) are offered to everyone.

The postcode table is a UTF-8 CSV file with a header row and one postcode (or postcode sector,
or postcode district) per row. Either it names the constituency the campaign's targets use:

    postcode,constituency
    CF10 1AA,Caerdydd Penarth        # a whole postcode
    CF10 2,Caerdydd Penarth          # a sector: every postcode starting "CF10 2"
    SA1,Gŵyr Abertawe                # a district: every postcode starting "SA1 "

or it names the UK Parliament (Westminster 2024) constituency, as the ONS Postcode Directory
does, and a pairings file turns that into the Senedd constituency:

    postcode,westminster
    CF10 1AA,Cardiff South and Penarth

    westminster,senedd                (the pairings file: `kindling serve --pairings FILE`)
    Cardiff South and Penarth,Caerdydd Penarth

Since May 2026 each of the 16 Senedd constituencies is exactly two whole Westminster 2024
constituencies (Senedd Cymru (Members and Elections) Act 2024; Democracy and Boundary Commission
Cymru, Final Determinations, 11 March 2025), so a postcode's Westminster seat decides its Senedd
constituency. `senedd_2026_pairings.csv` beside this file lists the 16 pairings and is used when
the table has a `westminster` column and no pairings file is given. Spaces and case in postcodes
do not matter. A postcode is looked up whole, then by sector, then by district; a key given
twice with different constituencies (a district split between two) finds both. Constituency
names must be spelt as in the campaign's targets."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from bot.campaign.model import Campaign, Target
from bot.problems import Problem, ProblemsFound, display_path

DEFAULT_PAIRINGS = Path(__file__).with_name("senedd_2026_pairings.csv")
_OUTWARD = r"[A-Z]{1,2}[0-9][A-Z0-9]?"
_FULL = re.compile(rf"({_OUTWARD})([0-9][A-Z]{{2}})")
_SECTOR = re.compile(rf"({_OUTWARD}) ([0-9])")
_DISTRICT = re.compile(_OUTWARD)


def normalise_postcode(value: str) -> str | None:
    """'cf101aa' -> 'CF10 1AA', 'cf10 1' -> 'CF10 1', 'cf10' -> 'CF10'; None if it is not one."""
    text = " ".join(value.upper().split())
    compact = text.replace(" ", "")
    match = _FULL.fullmatch(compact)
    if match:
        return f"{match.group(1)} {match.group(2)}"
    if _SECTOR.fullmatch(text) or _DISTRICT.fullmatch(text):
        return text
    return None


class PostcodeTable:
    def __init__(self, areas: dict[str, tuple[str, ...]]) -> None:
        self.areas = areas

    def __len__(self) -> int:
        return len(self.areas)

    def lookup(self, postcode: str) -> tuple[str, ...]:
        """The constituencies of a normalised postcode, sector or district ('' parts ignored)."""
        outward, _, inward = postcode.partition(" ")
        candidates = [postcode]
        if len(inward) == 3:
            candidates.append(f"{outward} {inward[0]}")
        if inward:
            candidates.append(outward)
        for key in candidates:
            found = self.areas.get(key)
            if found:
                return found
        return ()


def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    display = display_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemsFound([Problem(display, 1, 1, f"cannot read: {exc}")]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in required if name not in header]
    if missing:
        raise ProblemsFound(
            [
                Problem(
                    display,
                    1,
                    1,
                    f"missing column(s): {', '.join(missing)} (found: {', '.join(header)})",
                )
            ]
        )
    reader.fieldnames = header
    return [
        (reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}) for row in reader
    ]


def load_pairings(path: Path) -> dict[str, str]:
    """Westminster 2024 constituency -> Senedd 2026 constituency."""
    pairings: dict[str, str] = {}
    problems = []
    for line, row in _rows(path, ("westminster", "senedd")):
        if not row["westminster"] or not row["senedd"]:
            problems.append(Problem(display_path(path), line, 1, "empty westminster or senedd"))
            continue
        pairings[row["westminster"].casefold()] = row["senedd"]
    if problems:
        raise ProblemsFound(problems)
    return pairings


def load_postcode_table(path: Path, pairings_path: Path | None = None) -> PostcodeTable:
    """Read a postcode table (see the module's documentation); ProblemsFound if it is wrong."""
    display = display_path(path)
    with path.open(encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), [])
    by_westminster = "westminster" in [name.strip() for name in header]
    column = "westminster" if by_westminster else "constituency"
    pairings = load_pairings(pairings_path or DEFAULT_PAIRINGS) if by_westminster else None
    areas: dict[str, list[str]] = {}
    problems = []
    for line, row in _rows(path, ("postcode", column)):
        key = normalise_postcode(row["postcode"])
        if key is None:
            problems.append(
                Problem(
                    display, line, 1, f"'{row['postcode']}' is not a postcode, sector or district"
                )
            )
            continue
        area = row[column]
        if pairings is not None:
            area = pairings.get(area.casefold(), "")
            if not area:
                problems.append(
                    Problem(display, line, 1, f"'{row[column]}' is not in the pairings file")
                )
                continue
        if not area:
            problems.append(Problem(display, line, 1, "empty constituency"))
            continue
        names = areas.setdefault(key, [])
        if area not in names:
            names.append(area)
    if problems:
        raise ProblemsFound(problems)
    return PostcodeTable({key: tuple(names) for key, names in areas.items()})


MAX_QUERY = 100
MAX_RESULTS = 60


def fold(text: str) -> str:
    """Lower case without accents: 'Siân Ŵyn' -> 'sian wyn'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass
class Search:
    """What the supporter asked for, and what was found."""

    constituency: str = ""
    region: str = ""
    query: str = ""
    postcode: str = ""
    postcode_areas: tuple[str, ...] = ()
    postcode_unknown: bool = False
    postcode_invalid: bool = False
    results: list[Target] = field(default_factory=list)
    truncated: bool = False

    @property
    def asked(self) -> bool:
        return bool(self.constituency or self.region or self.query or self.postcode)


class Finder:
    def __init__(self, campaign: Campaign, postcodes: PostcodeTable | None = None) -> None:
        self.targets = list(campaign.targets)
        self.postcodes = postcodes
        self.constituencies = sorted(
            {t.constituency for t in self.targets if t.constituency}, key=fold
        )
        self.regions = sorted({t.region for t in self.targets if t.region}, key=fold)
        self.everyone = [t for t in self.targets if not t.constituency and not t.region]
        self._everyone_ids = {t.id for t in self.everyone}
        self._haystacks = {
            t.id: fold(" ".join(filter(None, (t.name, t.role, t.constituency, t.region, t.party))))
            for t in self.targets
        }

    def search(
        self, constituency: str = "", region: str = "", query: str = "", postcode: str = ""
    ) -> Search:
        found = Search(
            constituency=constituency if constituency in self.constituencies else "",
            region=region if region in self.regions else "",
            query=" ".join(query.split())[:MAX_QUERY],
            postcode=" ".join(postcode.split())[:16],
        )
        areas: set[str] = set()
        if found.constituency:
            areas.add(found.constituency)
        if found.region:
            areas.add(found.region)
        if found.postcode:
            key = normalise_postcode(found.postcode)
            if key is None:
                found.postcode_invalid = True
            elif self.postcodes is not None:
                found.postcode_areas = self.postcodes.lookup(key)
                found.postcode_unknown = not found.postcode_areas
                areas.update(found.postcode_areas)
        words = fold(found.query).split()
        results = []
        for target in self.targets:
            if target.id in self._everyone_ids:
                continue
            in_area = target.constituency in areas or target.region in areas
            named = bool(words) and all(word in self._haystacks[target.id] for word in words)
            if in_area or named:
                results.append(target)
        found.truncated = len(results) > MAX_RESULTS
        found.results = results[:MAX_RESULTS]
        return found
