"""What a report holds: the rows of each of its tables, in output order (`TABLES`).

`collect` (bot/report/collect.py) fills a `Report` from the database; bot/report/output.py and
bot/report/html.py show it. Counts are exact integers; times are ISO 8601 strings in UTC.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.amplify.outcomes import Amplified

# The rows of the "top" tables (messages, quotes, targets) the database returns and the
# terminal shows.
TOP = 20


@dataclass(frozen=True)
class Engagement:
    """Summed latest counts of the posts of one message (or quote) on one platform in one language."""

    id: str
    platform: str
    language: str
    posts: int
    likes: int
    reposts: int
    replies: int
    quotes: int
    engagement: int
    text: str


@dataclass(frozen=True)
class Count:
    key: str
    clicks: int


@dataclass(frozen=True)
class AskCount:
    ask: str
    wording: int
    clicks: int


@dataclass(frozen=True)
class TargetClicks:
    target: str
    name: str
    constituency: str
    party: str
    clicks: int


@dataclass(frozen=True)
class TargetResponse:
    target: str
    name: str
    constituency: str
    party: str
    responses: int
    first_at: str | None
    last_at: str | None
    first_url: str | None = None
    first_kind: str | None = None  # reply, quote, mention, supporter_reply, statement
    last_url: str | None = None
    # Hours to the first response from the campaign's launch, and from the first supporter
    # message to the target (its first click on a pre-filled link) where one came before it.
    hours_since_launch: float | None = None
    hours_since_first_message: float | None = None

    @property
    def answered(self) -> bool:
        return self.responses > 0


@dataclass(frozen=True)
class GroupResponse:
    """Targets of one constituency or party: how many answered, how many stayed silent."""

    key: str
    targets: int
    answered: int
    silent: int


@dataclass(frozen=True)
class Point:
    series: str  # "message platform" for engagement, "" for clicks
    day: str  # YYYY-MM-DD (UTC)
    value: int


@dataclass
class Report:
    campaign: str
    languages: list[str]
    since: str | None
    until: str | None
    top_messages: list[Engagement] = field(default_factory=list)
    top_quotes: list[Engagement] = field(default_factory=list)
    engagement_by_platform: list[Engagement] = field(default_factory=list)
    clicks_total: int = 0
    clicks_by_target: list[TargetClicks] = field(default_factory=list)
    clicks_by_constituency: list[Count] = field(default_factory=list)
    clicks_by_platform: list[Count] = field(default_factory=list)
    clicks_by_language: list[Count] = field(default_factory=list)
    clicks_by_ask: list[AskCount] = field(default_factory=list)
    responses_by_target: list[TargetResponse] = field(default_factory=list)
    responses_by_constituency: list[GroupResponse] = field(default_factory=list)
    responses_by_party: list[GroupResponse] = field(default_factory=list)
    # Only with collect(..., series=True) (the HTML charts): two more passes over the data.
    engagement_per_day: list[Point] = field(default_factory=list)
    clicks_per_day: list[Point] = field(default_factory=list)
    amplifications: list[Amplified] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for row, out in zip(self.responses_by_target, data["responses_by_target"], strict=True):
            out["answered"] = row.answered
        return data


# The tables of a report, in output order: (name, attribute).
TABLES: tuple[tuple[str, str], ...] = (
    ("top_messages", "top_messages"),
    ("top_quotes", "top_quotes"),
    ("engagement_by_platform", "engagement_by_platform"),
    ("clicks_by_target", "clicks_by_target"),
    ("clicks_by_constituency", "clicks_by_constituency"),
    ("clicks_by_platform", "clicks_by_platform"),
    ("clicks_by_language", "clicks_by_language"),
    ("clicks_by_ask", "clicks_by_ask"),
    ("responses_by_target", "responses_by_target"),
    ("responses_by_constituency", "responses_by_constituency"),
    ("responses_by_party", "responses_by_party"),
    ("engagement_per_day", "engagement_per_day"),
    ("clicks_per_day", "clicks_per_day"),
    ("amplifications", "amplifications"),
)
