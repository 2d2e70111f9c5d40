"""The HTML report: one self-contained file a campaigner can email.

The page is the Jinja2 template bot/report/templates/report.html (autoescaped: every value from
the campaign or the database is text, never markup). Inline CSS, charts as inline SVG (no
scripts, no external files); their geometry is computed here, their markup is in the template.

Labels are in the campaign's languages that have a catalogue (cy and en, the campaign's first
language first; English if it has neither), from the same gettext catalogues as the action
pages (bot/translations.py). In the template, `_("English text")` is the label in every one of
those languages, shown by the `label` macro; add a new label's msgid and translation to both
catalogues (tests/web/test_finder.py checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from gettext import GNUTranslations
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from bot.campaign.model import Campaign
from bot.report.model import Point, Report
from bot.translations import CATALOG_LANGUAGES, load_translations

TEMPLATES = Path(__file__).parent / "templates"
COLOURS = ("#c0392b", "#2471a3", "#229954", "#d68910", "#7d3c98", "#17a589", "#566573", "#cb4335")


@dataclass(frozen=True)
class Label:
    """One label in each of the report's languages, the first language first."""

    texts: tuple[tuple[str, str], ...]  # (language, text)

    @property
    def first(self) -> str:
        return self.texts[0][1]

    @property
    def others(self) -> list[tuple[str, str]]:
        return list(self.texts[1:])

    def __str__(self) -> str:  # the plain form, for <title> and the charts' accessible names
        return " / ".join(text for _, text in self.texts)


class Labels:
    """`_` in the report template: a msgid (the English text) -> its Label."""

    def __init__(self, languages: list[str]) -> None:
        self.catalogues: list[tuple[str, GNUTranslations]] = [
            (language, _catalogue(language)) for language in languages
        ]

    def __call__(self, msgid: str) -> Label:
        return Label(tuple((lang, cat.gettext(msgid)) for lang, cat in self.catalogues))


@cache
def _catalogue(language: str) -> GNUTranslations:
    # Read-only once loaded: a cached catalogue is safe to share between threads.
    return load_translations(language)


def report_languages(campaign: Campaign) -> list[str]:
    """The label languages: the campaign's (in its order) that have a catalogue; English if none."""
    chosen = [lang for lang in campaign.languages if lang in CATALOG_LANGUAGES]
    return chosen or ["en"]


@dataclass(frozen=True)
class Line:
    name: str
    colour: str
    points: list[tuple[float, float]]
    legend_y: int


@dataclass(frozen=True)
class LineChart:
    """Lines over days (x: the union of days, y: 0..peak), a legend at the right."""

    title: str
    width: int
    height: int
    left: int
    top: int
    plot_w: int
    plot_h: int
    peak: int
    ticks: list[tuple[float, str]]  # (x, day) of the first and last day
    lines: list[Line]


def line_chart(series: dict[str, list[tuple[str, int]]], title: str, width: int = 900) -> LineChart:
    height, left, right, top, bottom = 300, 60, 200, 20, 40
    days = sorted({day for points in series.values() for day, _ in points})
    peak = max((v for points in series.values() for _, v in points), default=0) or 1
    plot_w, plot_h = width - left - right, height - top - bottom
    where = {day: i for i, day in enumerate(days)}
    gaps = max(len(days) - 1, 1)
    lines = [
        Line(
            name,
            COLOURS[n % len(COLOURS)],
            [
                (left + plot_w * where[day] / gaps, top + plot_h - plot_h * value / peak)
                for day, value in points
            ],
            top + 14 * n + 10,
        )
        for n, (name, points) in enumerate(sorted(series.items()))
    ]
    ticks = (
        [(left + plot_w * where[day] / gaps, day) for day in (days[0], days[-1])] if days else []
    )
    return LineChart(title, width, height, left, top, plot_w, plot_h, peak, ticks, lines)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    point: Point


@dataclass(frozen=True)
class BarChart:
    """One bar a day, the first and last day named below."""

    title: str
    width: int
    height: int
    left: int
    top: int
    plot_w: int
    plot_h: int
    peak: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (x, day)


def bar_chart(points: list[Point], title: str, width: int = 900) -> BarChart:
    height, left, top, bottom = 240, 60, 20, 40
    plot_w, plot_h = width - left - 20, height - top - bottom
    peak = max((p.value for p in points), default=0) or 1
    bar = plot_w / max(len(points), 1)
    bars = []
    for i, point in enumerate(points):
        h = plot_h * point.value / peak
        bars.append(Bar(left + i * bar + 1, top + plot_h - h, max(bar - 2, 1), h, point))
    ends = (0, len(points) - 1) if points else ()
    ticks = [(left + i * bar + bar / 2, points[i].day) for i in ends]
    return BarChart(title, width, height, left, top, plot_w, plot_h, peak, bars, ticks)


def strongest(report: Report, count: int) -> dict[str, list[tuple[str, int]]]:
    """The `count` message/platform lines that reach the highest engagement."""
    lines: dict[str, list[tuple[str, int]]] = {}
    for point in report.engagement_per_day:
        lines.setdefault(point.series, []).append((point.day, point.value))
    strongest = sorted(lines, key=lambda s: (-max(v for _, v in lines[s]), s))[:count]
    return {s: lines[s] for s in strongest}


@cache
def template(name: str = "report.html") -> Template:
    """A template of bot/report/templates (the report, the email's HTML part)."""
    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return environment.get_template(name)


def render_html(report: Report, campaign: Campaign, *, chart_series: int = 8) -> str:
    """The whole document. Charts show the `chart_series` message/platform lines that reach the
    highest engagement (collect with series=True for the charts)."""
    languages = report_languages(campaign)
    labels = Labels(languages)
    lines = strongest(report, chart_series)
    return template().render(
        _=labels,
        language=languages[0],
        name=campaign.name.get(languages[0]) or next(iter(campaign.name.values())),
        report=report,
        engagement_chart=line_chart(lines, str(labels("Engagement over time"))) if lines else None,
        clicks_chart=(
            bar_chart(report.clicks_per_day, str(labels("Clicks per day")))
            if report.clicks_per_day
            else None
        ),
    )
