"""The HTML report: one self-contained file a campaigner can email.

Inline CSS, charts as inline SVG drawn here (no scripts, no external files), labels in the
campaign's languages (cy and en; the campaign's first language first). Every value from the
campaign or the database goes through markupsafe's autoescaping `Markup.format`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from markupsafe import Markup, escape

from bot.campaign.model import Campaign
from bot.report.model import Point, Report

LABELS: dict[str, dict[str, str]] = {
    "report": {"cy": "Adroddiad", "en": "Report"},
    "period": {"cy": "Cyfnod", "en": "Period"},
    "all": {"cy": "y cyfan", "en": "all time"},
    "top_messages": {"cy": "Y negeseuon a ledodd fwyaf", "en": "Top messages"},
    "top_quotes": {"cy": "Y dyfyniadau a ledodd fwyaf", "en": "Top quotes"},
    "engagement_time": {"cy": "Ymgysylltiad dros amser", "en": "Engagement over time"},
    "clicks_day": {"cy": "Cliciau bob dydd", "en": "Clicks per day"},
    "clicks_target": {"cy": "Cliciau fesul targed", "en": "Clicks per target"},
    "clicks_constituency": {"cy": "Cliciau fesul etholaeth", "en": "Clicks per constituency"},
    "clicks_platform": {"cy": "Cliciau fesul platfform", "en": "Clicks per platform"},
    "clicks_language": {"cy": "Cliciau fesul iaith", "en": "Clicks per language"},
    "clicks_ask": {"cy": "Cliciau fesul geiriad", "en": "Clicks per ask wording"},
    "responses": {"cy": "Ymatebion fesul targed", "en": "Responses per target"},
    "responses_constituency": {
        "cy": "Ymatebion fesul etholaeth",
        "en": "Responses per constituency",
    },
    "responses_party": {"cy": "Ymatebion fesul plaid", "en": "Responses per party"},
    "message": {"cy": "Neges", "en": "Message"},
    "quote": {"cy": "Dyfyniad", "en": "Quote"},
    "platform": {"cy": "Platfform", "en": "Platform"},
    "language": {"cy": "Iaith", "en": "Language"},
    "posts": {"cy": "Postiadau", "en": "Posts"},
    "likes": {"cy": "Hoffi", "en": "Likes"},
    "reposts": {"cy": "Ailbostio", "en": "Reposts"},
    "replies": {"cy": "Atebion", "en": "Replies"},
    "quotes": {"cy": "Dyfynnu", "en": "Quotes"},
    "engagement": {"cy": "Ymgysylltiad", "en": "Engagement"},
    "text": {"cy": "Testun", "en": "Text"},
    "amplifications": {
        "cy": "Ymhelaethu ar bostiadau cefnogwyr",
        "en": "Supporters' posts amplified",
    },
    "action": {"cy": "Gweithred", "en": "Action"},
    "author": {"cy": "Awdur", "en": "Author"},
    "post": {"cy": "Postiad", "en": "Post"},
    "sent": {"cy": "Anfonwyd", "en": "Sent"},
    "target": {"cy": "Targed", "en": "Target"},
    "constituency": {"cy": "Etholaeth", "en": "Constituency"},
    "party": {"cy": "Plaid", "en": "Party"},
    "clicks": {"cy": "Cliciau", "en": "Clicks"},
    "ask": {"cy": "Cais", "en": "Ask"},
    "wording": {"cy": "Geiriad", "en": "Wording"},
    "answered": {"cy": "Wedi ateb", "en": "Answered"},
    "silent": {"cy": "Yn dawel", "en": "Silent"},
    "status": {"cy": "Statws", "en": "Status"},
    "first": {"cy": "Ymateb cyntaf", "en": "First response"},
    "last": {"cy": "Ymateb olaf", "en": "Last response"},
    "targets": {"cy": "Targedau", "en": "Targets"},
    "none": {"cy": "Dim data", "en": "No data"},
}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:2px solid #c33;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
.answered{color:#176117;font-weight:bold}.silent{color:#a00;font-weight:bold}
.alt{color:#666;font-weight:normal}svg{max-width:100%;height:auto}
"""

COLOURS = ("#c0392b", "#2471a3", "#229954", "#d68910", "#7d3c98", "#17a589", "#566573", "#cb4335")


def _languages(campaign: Campaign) -> list[str]:
    """The label languages: the campaign's (in its order) that have labels; English if none."""
    chosen = [lang for lang in campaign.languages if lang in ("cy", "en")]
    return chosen or ["en"]


class _Labels:
    def __init__(self, languages: Sequence[str]) -> None:
        self.languages = languages

    def __call__(self, key: str) -> Markup:
        texts = [LABELS[key][lang] for lang in self.languages]
        if len(texts) == 1:
            return Markup("{}").format(texts[0])
        first, rest = texts[0], " / ".join(texts[1:])
        return Markup('{} <span class="alt" lang="{}">/ {}</span>').format(
            first, self.languages[1], rest
        )


def _table(headers: Iterable[Markup], rows: Iterable[Iterable[object]], empty: Markup) -> Markup:
    head = Markup("").join(Markup("<th>{}</th>").format(h) for h in headers)
    body = []
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, Markup):
                cells.append(Markup("<td>{}</td>").format(value))
            elif isinstance(value, int):
                cells.append(Markup('<td class="n">{}</td>').format(value))
            else:
                cells.append(Markup("<td>{}</td>").format("" if value is None else value))
        body.append(Markup("<tr>{}</tr>").format(Markup("").join(cells)))
    if not body:
        return Markup("<p>{}</p>").format(empty)
    return Markup("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>").format(
        head, Markup("").join(body)
    )


def line_chart(series: dict[str, list[tuple[str, int]]], title: str, width: int = 900) -> Markup:
    """Lines over days (x: the union of days, y: 0..max), with a legend; empty SVG if no data."""
    height, left, right, top, bottom = 300, 60, 200, 20, 40
    days = sorted({day for points in series.values() for day, _ in points})
    peak = max((v for points in series.values() for _, v in points), default=0) or 1
    plot_w, plot_h = width - left - right, height - top - bottom
    where = {day: i for i, day in enumerate(days)}

    def x(day: str) -> float:
        return left + (plot_w * where[day] / max(len(days) - 1, 1))

    def y(value: int) -> float:
        return top + plot_h - plot_h * value / peak

    parts = [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" '
            'height="{h}" role="img" aria-label="{t}"><title>{t}</title>'
        ).format(w=width, h=height, t=title),
        Markup(
            '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#888"/>'
            '<line x1="{l}" y1="{t}" x2="{l}" y2="{b}" stroke="#888"/>'
            '<text x="{tx}" y="{ty}" font-size="11" text-anchor="end">{peak}</text>'
            '<text x="{tx}" y="{b}" font-size="11" text-anchor="end">0</text>'
        ).format(
            l=left, r=left + plot_w, t=top, b=top + plot_h, tx=left - 4, ty=top + 4, peak=peak
        ),
    ]
    if days:
        for day in (days[0], days[-1]):
            parts.append(
                Markup(
                    '<text x="{:.1f}" y="{}" font-size="11" text-anchor="middle">{}</text>'
                ).format(x(day), top + plot_h + 16, day)
            )
    for n, (name, points) in enumerate(sorted(series.items())):
        colour = COLOURS[n % len(COLOURS)]
        coords = " ".join(f"{x(day):.1f},{y(value):.1f}" for day, value in points)
        if len(points) == 1:
            day, value = points[0]
            parts.append(
                Markup('<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"/>').format(
                    x(day), y(value), colour
                )
            )
        else:
            parts.append(
                Markup('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>').format(
                    colour, coords
                )
            )
        legend_y = top + 14 * n + 10
        parts.append(
            Markup(
                '<rect x="{}" y="{}" width="10" height="10" fill="{}"/>'
                '<text x="{}" y="{}" font-size="11">{}</text>'
            ).format(left + plot_w + 10, legend_y - 9, colour, left + plot_w + 24, legend_y, name)
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def bar_chart(points: list[Point], title: str, width: int = 900) -> Markup:
    height, left, top, bottom = 240, 60, 20, 40
    plot_w, plot_h = width - left - 20, height - top - bottom
    peak = max((p.value for p in points), default=0) or 1
    bar = plot_w / max(len(points), 1)
    parts = [
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" '
            'height="{h}" role="img" aria-label="{t}"><title>{t}</title>'
            '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#888"/>'
            '<text x="{tx}" y="{ty}" font-size="11" text-anchor="end">{peak}</text>'
        ).format(
            w=width,
            h=height,
            t=title,
            l=left,
            b=top + plot_h,
            r=left + plot_w,
            tx=left - 4,
            ty=top + 4,
            peak=peak,
        )
    ]
    for i, point in enumerate(points):
        h = plot_h * point.value / peak
        parts.append(
            Markup(
                '<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#2471a3">'
                "<title>{}: {}</title></rect>"
            ).format(
                left + i * bar + 1, top + plot_h - h, max(bar - 2, 1), h, point.day, point.value
            )
        )
    if points:
        for i in (0, len(points) - 1):
            parts.append(
                Markup(
                    '<text x="{:.1f}" y="{}" font-size="11" text-anchor="middle">{}</text>'
                ).format(left + i * bar + bar / 2, top + plot_h + 16, points[i].day)
            )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def render_html(report: Report, campaign: Campaign, *, chart_series: int = 8) -> str:
    """The whole document. Charts show the `chart_series` message/platform lines that reach the
    highest engagement (collect with series=True for the charts)."""
    languages = _languages(campaign)
    t = _Labels(languages)
    plain = " / ".join(LABELS["report"][lang] for lang in languages)
    name = campaign.name.get(languages[0]) or next(iter(campaign.name.values()))
    none = t("none")
    sections: list[Markup] = []

    def section(key: str, body: Markup) -> None:
        sections.append(Markup("<section><h2>{}</h2>{}</section>").format(t(key), body))

    def engagement_rows(rows: list, key: str) -> Markup:
        headers = [
            t(key),
            t("platform"),
            t("language"),
            t("posts"),
            t("likes"),
            t("reposts"),
            t("replies"),
            t("quotes"),
            t("engagement"),
            t("text"),
        ]
        return _table(
            headers,
            (
                [
                    e.id,
                    e.platform,
                    e.language,
                    e.posts,
                    e.likes,
                    e.reposts,
                    e.replies,
                    e.quotes,
                    e.engagement,
                    e.text,
                ]
                for e in rows
            ),
            none,
        )

    section("top_messages", engagement_rows(report.top_messages, "message"))
    section("top_quotes", engagement_rows(report.top_quotes, "quote"))
    lines: dict[str, list[tuple[str, int]]] = {}
    for point in report.engagement_per_day:
        lines.setdefault(point.series, []).append((point.day, point.value))
    strongest = sorted(lines, key=lambda s: (-max(v for _, v in lines[s]), s))[:chart_series]
    plain_label = " / ".join(LABELS["engagement_time"][lang] for lang in languages)
    section(
        "engagement_time",
        line_chart({s: lines[s] for s in strongest}, plain_label)
        if lines
        else Markup("<p>{}</p>").format(none),
    )
    plain_label = " / ".join(LABELS["clicks_day"][lang] for lang in languages)
    section(
        "clicks_day",
        bar_chart(report.clicks_per_day, plain_label)
        if report.clicks_per_day
        else Markup("<p>{}</p>").format(none),
    )
    status = {
        True: Markup('<span class="answered">{}</span>').format(t("answered")),
        False: Markup('<span class="silent">{}</span>').format(t("silent")),
    }
    section(
        "responses",
        _table(
            [
                t("target"),
                t("constituency"),
                t("party"),
                t("status"),
                t("replies"),
                t("first"),
                t("last"),
            ],
            (
                [
                    r.name,
                    r.constituency,
                    r.party,
                    status[r.answered],
                    r.responses,
                    r.first_at,
                    r.last_at,
                ]
                for r in report.responses_by_target
            ),
            none,
        ),
    )
    section(
        "amplifications",
        _table(
            [
                t("platform"),
                t("action"),
                t("author"),
                t("sent"),
                t("likes"),
                t("reposts"),
                t("replies"),
                t("quotes"),
                t("post"),
            ],
            (
                [
                    a.platform,
                    a.action,
                    a.author,
                    a.sent_at,
                    a.likes,
                    a.reposts,
                    a.replies,
                    a.quotes,
                    a.url,
                ]
                for a in report.amplifications
            ),
            none,
        ),
    )
    for key, rows in (
        ("responses_constituency", report.responses_by_constituency),
        ("responses_party", report.responses_by_party),
    ):
        head = t("constituency" if key.endswith("constituency") else "party")
        section(
            key,
            _table(
                [head, t("targets"), t("answered"), t("silent")],
                ([g.key, g.targets, g.answered, g.silent] for g in rows),
                none,
            ),
        )
    section(
        "clicks_target",
        _table(
            [t("target"), t("constituency"), t("party"), t("clicks")],
            ([c.name, c.constituency, c.party, c.clicks] for c in report.clicks_by_target),
            none,
        ),
    )
    for key, head, counts in (
        ("clicks_constituency", "constituency", report.clicks_by_constituency),
        ("clicks_platform", "platform", report.clicks_by_platform),
        ("clicks_language", "language", report.clicks_by_language),
    ):
        section(key, _table([t(head), t("clicks")], ([c.key, c.clicks] for c in counts), none))
    section(
        "clicks_ask",
        _table(
            [t("ask"), t("wording"), t("clicks")],
            ([a.ask, a.wording, a.clicks] for a in report.clicks_by_ask),
            none,
        ),
    )
    period = Markup("{} – {}").format(report.since or "…", report.until or "…")
    if not report.since and not report.until:
        period = t("all")
    document = Markup(
        '<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{plain}: {name}</title><style>{css}</style></head><body>"
        "<h1>{report}: {name}</h1><p>{period_label}: {period}</p>{sections}</body></html>\n"
    ).format(
        lang=languages[0],
        plain=plain,
        name=name,
        css=Markup(CSS),
        report=t("report"),
        period_label=t("period"),
        period=period,
        sections=Markup("").join(sections),
    )
    return str(document)


__all__ = ["LABELS", "bar_chart", "escape", "line_chart", "render_html"]
