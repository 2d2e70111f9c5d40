"""`kindling report`: exact aggregates on SQLite and PostgreSQL, windows, JSON, CSV, HTML, CLI."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.campaign.model import Campaign
from bot.cli.main import main
from bot.report.collect import collect
from bot.report.html import render_html
from bot.report.model import Report
from bot.report.output import render_terminal, silent_targets, to_json, write_csv
from bot.store.engine import Store
from bot.store.tables import ClickRow, MetricSnapshotRow, OutboxRow, ResponseRow
from tests.peers.postgres import (  # noqa: F401 (fixtures)
    database_url_fixture,
    postgres_server_fixture,
    postgres_url_fixture,
)

CAMPAIGN_YAML = """\
id: demo
name: {cy: "Ymgyrch <script>alert('n')</script>", en: "Campaign"}
languages: [cy, en]
timezone: Europe/London
active: {start: 2026-12-01, end: 2027-01-31}
messages:
  - id: launch
    schedule: {at: "2026-12-02 10:00"}
    text: {cy: "Darllenwch", en: "Read"}
targets:
  - {id: ms-a, name: Aelod A, constituency: Caerdydd, party: Plaid, handles: {x: ms_a}}
  - {id: ms-b, name: Aelod B, constituency: Caerdydd, party: Llafur, handles: {x: ms_b}}
  - {id: ms-c, name: "<script>alert(1)</script>", constituency: Abertawe, party: Llafur, handles: {x: ms_c}}
"""


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


@pytest.fixture
def campaign() -> Campaign:
    import yaml

    return Campaign.model_validate(yaml.safe_load(CAMPAIGN_YAML))


@pytest.fixture
def store(database_url: str) -> Store:
    store = Store(database_url)
    store.create_tables()
    posts = [  # id, message, quote, platform, language, sent day
        (1, "launch", None, "x", "cy", 2),
        (2, "launch", None, "bluesky", "en", 2),
        (3, "second", "q1", "x", "en", 5),
        (4, "other-campaign", None, "x", "en", 2),
    ]
    snapshots = [  # post, day, likes, reposts, replies, quotes
        (1, 2, 1, 0, 0, 0),
        (1, 3, 5, 2, 1, 0),  # latest of post 1: 8
        (2, 2, 3, 1, 0, 0),
        (2, 4, 3, 1, 0, 1),  # latest of post 2: 5 (4 until the 3rd)
        (3, 5, 20, 5, 0, 0),
        (3, 6, 30, 5, 0, 0),  # latest of post 3: 35
        (4, 2, 999, 0, 0, 0),  # another campaign's post
    ]
    clicks = [("ms-a", 2)] * 3 + [("ms-b", 5)] * 2 + [("ms-c", 2)]
    with store.write() as session:
        for oid, message, quote, platform, language, day in posts:
            session.add(
                OutboxRow(
                    id=oid,
                    key=f"k{oid}",
                    mode="live",
                    campaign_id="other" if oid == 4 else "demo",
                    message_id=message,
                    language=language,
                    platform=platform,
                    quote_id=quote,
                    slot_at=at(day, 10),
                    latest_at=at(day, 11),
                    text=f"<b>{message}</b> {language}",
                    state="sent",
                    remote_id=f"r{oid}",
                    url=f"https://example.org/{oid}",
                    created_at=at(day, 10),
                    updated_at=at(day, 10),
                    sent_at=at(day, 10),
                )
            )
        for oid, day, likes, reposts, replies, quotes in snapshots:
            session.add(
                MetricSnapshotRow(
                    outbox_id=oid,
                    platform="x",
                    remote_id=f"r{oid}",
                    at=at(day),
                    likes=likes,
                    reposts=reposts,
                    replies=replies,
                    quotes=quotes,
                )
            )
        for n, (target, day) in enumerate(clicks):
            session.add(
                ClickRow(
                    token=f"t{n}",
                    campaign_id="demo",
                    target_id=target,
                    ask_id="letter",
                    wording=n % 2,
                    platform=("x", "bluesky")[n % 2],
                    language="cy" if n < 4 else "en",
                    at=at(day),
                    client_hash=None,
                )
            )
        session.add(
            ResponseRow(
                platform="x",
                remote_id="resp1",
                kind="reply",
                campaign_id="demo",
                target_id="ms-a",
                outbox_id=1,
                author_id="1",
                author_handle="ms_a",
                text="Diolch",
                url="https://x.com/ms_a/status/1",
                created_at=at(3, 9),
                seen_at=at(3, 10),
            )
        )
    yield store
    store.dispose()


def test_exact_aggregates(store: Store, campaign: Campaign) -> None:
    report = collect(store, campaign)
    top = report.top_messages[0]
    assert (top.id, top.platform, top.language, top.engagement, top.posts) == (
        "second",
        "x",
        "en",
        35,
        1,
    )
    assert [(e.id, e.platform, e.engagement) for e in report.top_messages] == [
        ("second", "x", 35),
        ("launch", "x", 8),
        ("launch", "bluesky", 5),
    ]
    assert [(q.id, q.engagement) for q in report.top_quotes] == [("q1", 35)]
    assert {(e.platform, e.language): e.engagement for e in report.engagement_by_platform} == {
        ("x", "en"): 35,
        ("x", "cy"): 8,
        ("bluesky", "en"): 5,
    }
    assert report.clicks_total == 6
    assert [(c.key, c.clicks) for c in report.clicks_by_constituency] == [
        ("Caerdydd", 5),
        ("Abertawe", 1),
    ]
    assert [(c.target, c.clicks) for c in report.clicks_by_target] == [
        ("ms-a", 3),
        ("ms-b", 2),
        ("ms-c", 1),
    ]
    assert {c.key: c.clicks for c in report.clicks_by_platform} == {"x": 3, "bluesky": 3}
    assert {c.key: c.clicks for c in report.clicks_by_language} == {"cy": 4, "en": 2}
    assert {(a.ask, a.wording): a.clicks for a in report.clicks_by_ask} == {
        ("letter", 0): 3,
        ("letter", 1): 3,
    }
    answered = {r.target: r.answered for r in report.responses_by_target}
    assert answered == {"ms-a": True, "ms-b": False, "ms-c": False}
    assert silent_targets(report) == ["ms-b", "ms-c"]
    assert report.responses_by_target[0].first_at == "2026-12-03T09:00:00+00:00"
    assert {(g.key, g.targets, g.answered, g.silent) for g in report.responses_by_party} == {
        ("Plaid", 1, 1, 0),
        ("Llafur", 2, 0, 2),
    }
    assert {(g.key, g.answered, g.silent) for g in report.responses_by_constituency} == {
        ("Caerdydd", 1, 1),
        ("Abertawe", 0, 1),
    }


def test_windows(store: Store, campaign: Campaign) -> None:
    early = collect(store, campaign, until=date(2026, 12, 3))
    assert [(e.id, e.platform, e.engagement) for e in early.top_messages] == [
        ("launch", "x", 8),
        ("launch", "bluesky", 4),  # the 4th's snapshot is after the window
    ]
    assert early.top_quotes == []
    assert early.clicks_total == 4
    assert [r.target for r in early.responses_by_target if r.answered] == ["ms-a"]
    late = collect(store, campaign, since=date(2026, 12, 4))
    assert [e.id for e in late.top_messages] == ["second"]
    assert [(c.key, c.clicks) for c in late.clicks_by_constituency] == [("Caerdydd", 2)]
    assert silent_targets(late) == ["ms-a", "ms-b", "ms-c"]


def test_series(store: Store, campaign: Campaign) -> None:
    report = collect(store, campaign, series=True)
    lines: dict[str, list[tuple[str, int]]] = {}
    for point in report.engagement_per_day:
        lines.setdefault(point.series, []).append((point.day, point.value))
    assert lines["launch x"] == [("2026-12-02", 1), ("2026-12-03", 8)]
    assert lines["second x"] == [("2026-12-05", 25), ("2026-12-06", 35)]
    assert [(p.day, p.value) for p in report.clicks_per_day] == [
        ("2026-12-02", 4),
        ("2026-12-05", 2),
    ]


def test_json_and_csv(store: Store, campaign: Campaign, tmp_path: Path) -> None:
    report = collect(store, campaign)
    data = json.loads(to_json(report))
    assert data["campaign"] == "demo" and data["clicks_total"] == 6
    assert set(data) >= {"top_messages", "clicks_by_target", "responses_by_party"}
    assert data["top_messages"][0] == {
        "id": "second",
        "platform": "x",
        "language": "en",
        "posts": 1,
        "likes": 30,
        "reposts": 5,
        "replies": 0,
        "quotes": 0,
        "engagement": 35,
        "text": "<b>second</b> en",
    }
    assert data["responses_by_target"][0]["answered"] is True
    files = write_csv(report, tmp_path / "csv")
    assert {f.name for f in files} >= {"clicks_by_constituency.csv", "responses_by_target.csv"}
    with (tmp_path / "csv" / "clicks_by_constituency.csv").open(newline="") as handle:
        assert list(csv.reader(handle)) == [["key", "clicks"], ["Caerdydd", "5"], ["Abertawe", "1"]]
    with (tmp_path / "csv" / "responses_by_target.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["target"], r["answered"]) for r in rows] == [
        ("ms-a", "True"),
        ("ms-b", "False"),
        ("ms-c", "False"),
    ]


class _Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.html_lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "html":
            self.html_lang = dict(attrs).get("lang") or ""

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html(store: Store, campaign: Campaign) -> None:
    page = render_html(collect(store, campaign, series=True), campaign)
    parsed = _Parsed()
    parsed.feed(page)
    assert "svg" in parsed.tags and "polyline" in parsed.tags and "rect" in parsed.tags
    assert "script" not in parsed.tags  # hostile names are text, not elements
    text = " ".join(parsed.text)
    assert "<script>alert(1)</script>" in text
    assert parsed.html_lang == "cy"
    assert text.index("Cliciau") < text.index("Clicks")  # Welsh first, English too
    assert "Wedi ateb" in text and "Answered" in text and "Yn dawel" in text
    assert "<b>second</b>" in text  # a post's text shown, not interpreted
    assert "<link" not in page and "src=" not in page  # self-contained


def test_terminal(store: Store, campaign: Campaign) -> None:
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    render_terminal(collect(store, campaign), Console(file=out, width=200))
    assert "second" in out.getvalue() and "Caerdydd" in out.getvalue()


def test_cli(store: Store, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (workdir / "campaigns" / "demo.yaml").write_text(CAMPAIGN_YAML, encoding="utf-8")
    monkeypatch.setenv("KINDLING_DATABASE_URL", store.url)

    runner = CliRunner()
    result = runner.invoke(main, ["report", "demo", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["clicks_total"] == 6
    result = runner.invoke(
        main,
        ["report", "demo", "--since", "2026-12-04", "--csv", "out", "--html", "r.html"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert (workdir / "out" / "top_messages.csv").is_file()
    assert "<svg" in (workdir / "r.html").read_text(encoding="utf-8")
    result = runner.invoke(main, ["report", "demo"], catch_exceptions=False)
    assert result.exit_code == 0 and "Caerdydd" in result.output
    result = runner.invoke(main, ["report", "demo", "--since", "yesterday"])
    assert result.exit_code == 2


def test_report_type() -> None:
    assert Report("x", ["en"], None, None).as_dict()["top_messages"] == []


def test_terminal_cuts_long_group_tables_and_says_where_the_rest_is() -> None:
    from io import StringIO

    from rich.console import Console

    from bot.report.model import Count, GroupResponse
    from bot.report.output import GROUP_ROWS

    report = Report("x", ["en"], None, None)
    report.clicks_by_constituency = [Count(f"C{i:03d}", 1000 - i) for i in range(GROUP_ROWS + 10)]
    report.responses_by_party = [GroupResponse(f"P{i}", 2, 1, 1) for i in range(GROUP_ROWS)]
    out = StringIO()
    render_terminal(report, Console(file=out, width=200))
    text = " ".join(out.getvalue().split())  # a caption wider than its table wraps
    assert f"C{GROUP_ROWS - 1:03d}" in text and f"C{GROUP_ROWS:03d}" not in text
    assert f"{GROUP_ROWS} of {GROUP_ROWS + 10} constituencies (all in --json" in text
    assert f"P{GROUP_ROWS - 1}" in text and "parties (all in" not in text  # not cut: all fit


def test_the_kept_click_counts_give_the_report_the_clicks_scan_gives(store, campaign):
    """Without a window the report reads click_counts; it must equal grouping the clicks, also
    after clicks were deleted (a key with none left has no row). Windows group the clicks."""
    from sqlalchemy import delete

    def both() -> tuple[str, str]:
        return (
            to_json(collect(store, campaign)),
            to_json(collect(store, campaign, scan_clicks=True)),
        )

    counted, scanned = both()
    assert counted == scanned
    assert json.loads(counted)["clicks_total"] == 6
    with store.write() as session:
        session.execute(delete(ClickRow).where(ClickRow.target_id == "ms-c"))
    counted, scanned = both()
    assert counted == scanned
    assert json.loads(counted)["clicks_total"] == 5
    assert "ms-c" not in {t["target"] for t in json.loads(counted)["clicks_by_target"]}
    # A window holding every click (grouped from the clicks) says the same but for its bounds.
    windowed = collect(store, campaign, since=date(2026, 12, 1), until=date(2026, 12, 31))
    assert windowed.since and windowed.until
    windowed.since = windowed.until = None
    assert to_json(windowed) == counted


def test_a_window_counts_its_clicks_whichever_side_of_it_is_grouped(store, campaign):
    """A window holding more than half the clicks is counted as the kept counts less the clicks
    outside it; a smaller one by grouping its own clicks. Both must give what a count of the
    rows themselves gives, for windows on either side, in the middle, everything and nothing."""
    import random
    from collections import Counter

    rng = random.Random(7)
    extra = []
    for n in range(120):
        extra.append(
            ClickRow(
                token=f"w{n}",
                campaign_id="demo",
                target_id=rng.choice(["ms-a", "ms-b", "ms-c"]),
                ask_id="letter",
                wording=rng.randrange(2),
                platform=rng.choice(["x", "bluesky"]),
                language=rng.choice(["cy", "en"]),
                at=at(rng.randrange(6, 20), rng.randrange(24)),
                client_hash=None,
            )
        )
    with store.write() as session:
        session.add_all(extra)
        session.add(  # another campaign's click inside every window: never counted
            ClickRow(
                token="o1", campaign_id="other", target_id="ms-a", ask_id="letter", wording=0,
                platform="x", language="cy", at=at(10), client_hash=None,
            )
        )  # fmt: skip
    with store.read() as session:
        rows = [
            (r.target_id, r.platform, r.at)
            for r in session.query(ClickRow).filter(ClickRow.campaign_id == "demo")
        ]

    def london_midnight(day: date) -> datetime:  # GMT in December and January
        return datetime(day.year, day.month, day.day, tzinfo=UTC)

    windows = [
        (None, date(2026, 12, 3)),
        (date(2026, 12, 4), None),
        (date(2026, 12, 8), date(2026, 12, 17)),
        (date(2026, 12, 16), date(2026, 12, 16)),
        (date(2026, 12, 1), date(2026, 12, 31)),
        (date(2026, 12, 25), None),
    ]
    seen_sides = set()
    for since, until in windows:
        start = london_midnight(since) if since else None
        end = london_midnight(until + timedelta(days=1)) if until else None
        inside = [
            (t, p) for t, p, when in rows
            if (start is None or when.replace(tzinfo=UTC) >= start)
            and (end is None or when.replace(tzinfo=UTC) < end)
        ]  # fmt: skip
        seen_sides.add(2 * len(inside) > len(rows))
        report = collect(store, campaign, since=since, until=until)
        assert report.clicks_total == len(inside), (since, until)
        by_target = Counter(t for t, _ in inside)
        assert {c.target: c.clicks for c in report.clicks_by_target} == dict(by_target)
        assert {c.key: c.clicks for c in report.clicks_by_platform} == dict(
            Counter(p for _, p in inside)
        )
    assert seen_sides == {True, False}  # both ways of counting were used


def test_the_terminal_shows_campaign_data_as_written_no_markup_no_emoji_codes() -> None:
    from io import StringIO

    from rich.console import Console

    from bot.report.model import Count

    report = Report(campaign="demo", languages=["cy"], since=None, until=None)
    report.clicks_by_constituency = [Count("[bold]Ceredigion[/bold] :smile: [link=x]y", 3)]
    out = StringIO()
    render_terminal(report, Console(file=out, width=200))
    assert "[bold]Ceredigion[/bold] :smile: [link=x]y" in out.getvalue()
