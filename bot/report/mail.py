"""The report as an email that Gmail and Outlook show: `report_email` builds the MIME message.

    multipart/mixed
      multipart/alternative
        text/plain                   the tables as text
        multipart/related
          text/html                  the tables in HTML (inline styles), <img src="cid:...">
          image/png (Content-ID)     one per chart, drawn by bot/report/png.py
      text/html (attachment)         the full HTML report (bot/report/html.py)

Labels are in the campaign's languages (Welsh and English, its first language first), from the
same catalogues as the HTML report. Sending is the caller's (bot/alerts/channels.py's SMTP).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from zoneinfo import ZoneInfo

from bot.campaign.model import Campaign
from bot.report.html import (
    Label,
    Labels,
    bar_chart,
    line_chart,
    render_html,
    report_languages,
    strongest,
    template,
)
from bot.report.model import Report

# Rows of each table in the email; every row is in the attached report.
EMAIL_ROWS = 10
CHART_WIDTH = 600  # pixels shown: the width email clients are laid out for
MSGID_DOMAIN = "kindling.invalid"


@dataclass(frozen=True)
class ChartImage:
    cid: str  # without the angle brackets
    title: Label
    width: int
    png: bytes


@dataclass(frozen=True)
class Section:
    title: Label
    headers: list[Label] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    more: bool = False
    is_chart: bool = False
    chart: ChartImage | None = None


def _table(title: Label, headers: list[Label], rows: list[list[Any]]) -> Section:
    return Section(title, headers, rows[:EMAIL_ROWS], len(rows) > EMAIL_ROWS)


def _cid(name: str) -> str:
    """A Content-ID unique to this message, short enough that its header is never folded."""
    return f"{name}.{secrets.token_hex(8)}@kindling.invalid"


def _charts(report: Report, _: Labels) -> tuple[ChartImage | None, ChartImage | None]:
    from bot.report.png import bar_chart_png, line_chart_png

    engagement = clicks = None
    lines = strongest(report, 8)
    if lines:
        chart = line_chart(lines, str(_("Engagement over time")), width=CHART_WIDTH)
        cid = _cid("engagement")
        engagement = ChartImage(cid, _("Engagement over time"), chart.width, line_chart_png(chart))
    if report.clicks_per_day:
        bars = bar_chart(report.clicks_per_day, str(_("Clicks per day")), width=CHART_WIDTH)
        cid = _cid("clicks")
        clicks = ChartImage(cid, _("Clicks per day"), bars.width, bar_chart_png(bars))
    return engagement, clicks


def sections(report: Report, _: Labels) -> list[Section]:
    """What the email shows, in order: the strongest rows of the main tables and both charts."""
    engagement, clicks = _charts(report, _)
    lines = sorted(strongest(report, 8).items())
    return [
        _table(
            _("Top messages"),
            [_("Message"), _("Platform"), _("Language"), _("Engagement"), _("Text")],
            [[m.id, m.platform, m.language, m.engagement, m.text] for m in report.top_messages],
        ),
        Section(
            _("Engagement over time"),
            # The plain part's stand-in for the chart: where each line ends.
            rows=[[f"{name}: {points[-1][1]} ({points[-1][0]})"] for name, points in lines],
            is_chart=True,
            chart=engagement,
        ),
        _table(
            _("Responses per target"),
            [_("Target"), _("Constituency"), _("Party"), _("Status"), _("Responses")],
            [
                [
                    r.name,
                    r.constituency,
                    r.party,
                    _("Answered" if r.answered else "Silent"),
                    r.responses,
                ]
                for r in sorted(report.responses_by_target, key=lambda r: -r.responses)
            ],
        ),
        Section(
            _("Clicks per day"),
            rows=[[f"{p.day}: {p.value}"] for p in report.clicks_per_day],
            is_chart=True,
            chart=clicks,
        ),
        _table(
            _("Clicks per target"),
            [_("Target"), _("Constituency"), _("Party"), _("Clicks")],
            [[t.name, t.constituency, t.party, t.clicks] for t in report.clicks_by_target],
        ),
        _table(
            _("Clicks per platform"),
            [_("Platform"), _("Clicks")],
            [[c.key, c.clicks] for c in report.clicks_by_platform],
        ),
    ]


def period(report: Report, campaign: Campaign, _: Labels) -> str:
    """The report's days in the campaign's time zone ("all time" without a window)."""
    if not (report.since or report.until):
        return str(_("all time"))
    zone = ZoneInfo(campaign.timezone)
    first = datetime.fromisoformat(report.since).astimezone(zone) if report.since else None
    # `until` is the exclusive end: the last day is the one before it.
    last = datetime.fromisoformat(report.until).astimezone(zone) if report.until else None
    last_day = (last - timedelta(microseconds=1)).date() if last else None
    return f"{first.date() if first else '…'} – {last_day or '…'}"


def plain_text(name: str, when: str, parts: list[Section], _: Labels) -> str:
    lines = [f"{_('Report')}: {name}", f"{_('Period')}: {when}", ""]
    lines += [str(_("The full report, with every table, is attached.")), ""]
    for section in parts:
        lines += [str(section.title), "=" * len(str(section.title))]
        if section.is_chart:
            lines += [row[0] for row in section.rows] or [str(_("No data"))]
        elif not section.rows:
            lines.append(str(_("No data")))
        else:
            lines.append(" | ".join(str(h) for h in section.headers))
            for row in section.rows:
                lines.append(" | ".join("" if v is None else str(v) for v in row))
            if section.more:
                lines.append(str(_("More rows in the attached report.")))
        lines.append("")
    return "\n".join(lines)


def report_email(report: Report, campaign: Campaign, *, sender: str, to: list[str]) -> EmailMessage:
    """The whole message, addressed (collect the report with series=True for the charts)."""
    languages = report_languages(campaign)
    _ = Labels(languages)
    name = campaign.name.get(languages[0]) or next(iter(campaign.name.values()))
    parts = sections(report, _)
    when = period(report, campaign, _)
    message = EmailMessage()
    message["Subject"] = f"{_('Report')}: {name} ({when})"
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=MSGID_DOMAIN)
    message["X-Kindling-Report"] = campaign.id
    message.set_content(plain_text(name, when, parts, _))
    html = template("email.html").render(
        _=_, language=languages[0], name=name, period=when, sections=parts
    )
    message.add_alternative(html, subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    for section in parts:
        if section.chart is not None:
            image = section.chart
            html_part.add_related(
                image.png,
                "image",
                "png",
                cid=f"<{image.cid}>",
                disposition="inline",
                filename=f"{image.cid.split('.')[0]}.png",
            )
    message.add_attachment(
        render_html(report, campaign).encode("utf-8"),
        "text",
        "html",
        filename=f"kindling-report-{campaign.id}.html",
    )
    return message
