"""`kindling links`: CSV and JSON read back, the HTML page parsed, hostile data inert, limits."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from bot.compose.links import AskLink, ask_links, mastodon_share_path
from bot.compose.templates import Templates
from bot.config import load_config
from bot.links.export import FIELDS, LinkLengthError, export_links, links_main
from bot.links.targets_import import import_main
from bot.spreadsheet import neutralise
from tests.compose.test_links import LINKS_CAMPAIGN, X_BOUNDARY
from tests.conftest import MINIMAL_CAMPAIGN, STANCE_CAMPAIGN

# The real command line.
cli = main


# ---------------------------------------------------------------------------------------------

HOSTILE = (
    LINKS_CAMPAIGN.replace("name: Aelod B,", "name: \"<script>alert('name')</script>\",")
    .replace(
        "constituency: Caerdydd Penarth, handles: {x: ms_b}",
        "constituency: '</h2><b>x', handles: {x: ms_b}",
    )
    .replace(
        "please back it.",
        "please back it. <img src=x onerror=alert(1)></p><script>alert(2)</script>",
    )
)


@pytest.fixture
def campaign_links(check_campaign_text, workdir):
    def _make(text: str = LINKS_CAMPAIGN) -> tuple[object, list[AskLink]]:
        report = check_campaign_text(text, name="campaigns/demo.yaml")
        assert report.problems == []
        return report.loaded.campaign, ask_links(report.loaded, Templates(workdir / "templates"))

    return _make


def test_csv_reads_back_one_row_per_link(campaign_links):
    campaign, links = campaign_links()
    rows = list(
        csv.DictReader(io.StringIO(export_links(links, "csv", campaign=campaign), newline=""))
    )
    assert len(rows) == len(links) == 18
    assert tuple(rows[0]) == FIELDS
    for row, link in zip(rows, links, strict=True):
        assert (row["target"], row["ask"], row["platform"], row["language"]) == (
            link.target_id,
            link.ask_id,
            link.platform,
            link.language,
        )
        # A text that starts with a handle starts with '@': a formula start to a spreadsheet.
        text = f"'{link.text}" if link.text.startswith("@") else link.text
        assert (row["text"], row["url"], row["wording"]) == (
            text,
            link.url or "",
            str(link.wording),
        )
        assert row["token"] == link.token
    ms_a = next(r for r in rows if r["target"] == "ms-a" and r["platform"] == "x")
    assert (ms_a["target_name"], ms_a["constituency"], ms_a["limit"]) == (
        "Aelod A",
        "Caerdydd Penarth",
        "280",
    )
    assert any("\n" in r["text"] for r in rows)  # a two-line wording survives the round trip


def test_csv_rows_carry_only_each_targets_stance_wordings_by_their_number(campaign_links):
    campaign, links = campaign_links(STANCE_CAMPAIGN)
    rows = list(
        csv.DictReader(io.StringIO(export_links(links, "csv", campaign=campaign), newline=""))
    )
    en_x = [
        (row["target"], row["wording"], row["text"])
        for row in rows
        if (row["language"], row["platform"]) == ("en", "x")
    ]
    # Per target, the next wording first (rotate_from=0), then round its applicable ones.
    by_target: dict[str, list[tuple[str, str]]] = {}
    for target, wording, text in en_x:
        by_target.setdefault(target, []).append((wording, text))
    assert list(by_target) == ["ally", "foe", "unsure"]
    # Texts that start with '@' are quoted for spreadsheets (see the formula tests below).
    assert sorted(by_target["ally"]) == [
        ("1", "'@ally_ms, please back co-production."),
        ("2", "'@ally_ms, thank you for your support."),
        ("4", "'@ally_ms, hear us out."),
    ]
    assert sorted(by_target["foe"]) == [
        ("1", "'@foe_ms, please back co-production."),
        ("3", "'@foe_ms, please think again."),
        ("4", "'@foe_ms, hear us out."),
    ]
    assert by_target["unsure"] == [("1", "'@unsure_ms, please back co-production.")]
    foe_email = [
        (row["wording"], row["url"])
        for row in rows
        if (row["target"], row["platform"], row["language"]) == ("foe", "email", "cy")
    ]
    assert sorted(foe_email) == [
        (
            "1",
            "mailto:foe@senedd.example?subject=Ymgyrch"
            "&body=Aelod%20Gwrthwynebus%2C%20cefnogwch%20gydgynhyrchu.",
        ),
        (
            "3",
            "mailto:foe@senedd.example?subject=Ymgyrch"
            "&body=Aelod%20Gwrthwynebus%2C%20ailystyriwch%20os%20gwelwch%20yn%20dda.",
        ),
    ]


def test_json_objects_carry_target_ask_platform_language_text_url(campaign_links):
    campaign, links = campaign_links()
    rows = json.loads(export_links(links, "json", campaign=campaign))
    assert len(rows) == len(links)
    for row, link in zip(rows, links, strict=True):
        assert {"target", "ask", "platform", "language", "text", "url"} <= set(row)
        assert (
            row["target"],
            row["ask"],
            row["platform"],
            row["language"],
            row["text"],
            row["url"],
        ) == (
            link.target_id,
            link.ask_id,
            link.platform,
            link.language,
            link.text,
            link.url,
        )
        assert row["wording"] == link.wording and row["target_name"]
    assert all(row["url"] is None for row in rows if row["platform"] == "mastodon")


class Page(HTMLParser):
    """Links with the language in force where they stand; texts; scripts; every tag seen."""

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []
        self.tags: Counter[str] = Counter()
        self.hrefs: list[tuple[str, str | None, str | None]] = []
        self.shares: list[tuple[str, str | None, str | None]] = []
        self.texts: dict[str, list] = {}
        self.scripts: list[str] = []
        self.headings: list[str] = []
        self._text: str | None = None
        self._heading = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        found = dict(attrs)
        self.tags[tag] += 1
        lang = found.get("lang") or (self.stack[-1][1] if self.stack else None)
        if tag not in self.VOID:
            self.stack.append((tag, lang))
        if tag == "a":
            self.hrefs.append((found["href"], lang, found.get("aria-describedby")))
        if tag == "button" and "data-share" in found:
            self.shares.append((found["data-share"], lang, found.get("aria-describedby")))
        if tag == "p" and found.get("id", "").startswith("text-"):
            self._text = found["id"]
            self.texts[self._text] = ["", lang]
        if tag == "script":
            self.scripts.append("")
        if tag == "h2":
            self._heading = True
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break
        if tag == "p":
            self._text = None
        if tag == "h2":
            self._heading = False

    def handle_data(self, data: str) -> None:
        if self._text:
            self.texts[self._text][0] += data
        if self.stack and self.stack[-1][0] == "script":
            self.scripts[-1] += data
        if self._heading:
            self.headings[-1] += data


def test_html_has_every_link_where_its_language_says(campaign_links):
    campaign, links = campaign_links()
    html = export_links(links, "html", campaign=campaign)
    page = Page()
    page.feed(html)
    assert html.startswith('<!DOCTYPE html>\n<html lang="cy">')
    hrefs = {(href, lang, described) for href, lang, described in page.hrefs}
    shares = set(page.shares)
    for link in links:
        described = f"text-{link.token}"
        assert page.texts[described] == [link.text, link.language]
        if link.url:
            assert (link.url, link.language, described) in hrefs
        else:
            assert (mastodon_share_path(link.text), link.language, described) in shares
    assert len(page.hrefs) == sum(1 for link in links if link.url)
    assert len(page.shares) == sum(1 for link in links if link.platform == "mastodon")
    # Grouped by constituency; targets with no links are left out.
    assert page.headings == ["Caerdydd Penarth"]
    assert "Prif Weinidog" not in html
    assert page.tags["script"] == 1  # the Mastodon instance prompt, and nothing else


def test_html_puts_fixed_targets_first_with_bilingual_labels(campaign_links):
    campaign, links = campaign_links(
        LINKS_CAMPAIGN.replace(
            "constituency: Caerdydd Penarth, handles: {x: ms_b}",
            "role: Minister, handles: {x: ms_b}",
        )
    )
    page = Page()
    page.feed(export_links(links, "html", campaign=campaign))
    assert page.headings == [
        "Y Llywodraeth a gweinidogion / The Government and ministers",
        "Caerdydd Penarth",
    ]
    without_mastodon = [link for link in links if link.platform != "mastodon"]
    page = Page()
    page.feed(export_links(without_mastodon, "html", campaign=campaign))
    assert page.tags["script"] == 0 and page.shares == []


def test_script_in_campaign_data_is_rendered_inert(campaign_links):
    campaign, links = campaign_links(HOSTILE)
    html = export_links(links, "html", campaign=campaign)
    page = Page()
    page.feed(html)
    assert page.tags["script"] == 1  # ours: no data in it
    assert not any(f"alert({x})" in page.scripts[0] for x in ("1", "2", "'name'"))
    assert page.tags["img"] == 0 and page.tags["b"] == 0
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in html
    assert page.headings == ["Caerdydd Penarth", "</h2><b>x"]
    hostile = next(link for link in links if "onerror" in link.text)
    assert page.texts[f"text-{hostile.token}"][0] == hostile.text
    assert "%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E" in hostile.url


def test_an_over_long_link_is_never_exported(campaign_links):
    campaign, links = campaign_links()
    long = AskLink("demo", "ms-b", "statement", 1, "x", "en", "x" * 281, "https://x.com/", "t" * 16)
    for fmt in ("csv", "json", "html"):
        with pytest.raises(LinkLengthError, match="for target 'ms-b' on x is too long: 281"):
            export_links([*links, long], fmt, campaign=campaign)
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        export_links(links, "pdf", campaign=campaign)


def test_links_command_writes_each_format(write, workdir):
    write("campaigns/demo.yaml", LINKS_CAMPAIGN)
    runner = CliRunner()
    result = runner.invoke(cli, ["links", "demo", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 18
    result = runner.invoke(
        cli, ["links", "campaigns/demo.yaml", "--format", "html", "--out", "site/index.html"]
    )
    assert result.exit_code == 0, result.output
    assert "18 links written to site/index.html" in result.stderr
    assert (workdir / "site/index.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    result = runner.invoke(cli, ["links", "demo"])
    assert result.stdout.startswith("campaign,target,target_name,")
    assert [p.name for p in (workdir / "site").iterdir()] == ["index.html"]  # no temporary left


def test_links_command_refuses_an_over_long_ask_with_its_location(write, workdir):
    write("campaigns/demo.yaml", X_BOUNDARY)
    result = CliRunner().invoke(cli, ["links", "demo", "--format", "html", "--out", "out.html"])
    assert result.exit_code == 1
    assert (
        "campaigns/demo.yaml:17:12: ask 'boundary' wording 1 (cy) for target 'longer' on x is too "
        "long: 281 weighted characters, over the limit of 280"
    ) in result.stderr
    assert "no links exported" in result.stderr
    assert not (workdir / "out.html").exists()


def test_links_command_unknown_campaign_and_broken_campaign(write, workdir):
    result = CliRunner().invoke(cli, ["links", "nope"])
    assert result.exit_code == 1 and "no campaign file or campaign id 'nope'" in result.stderr
    write("campaigns/bad.yaml", "id: bad\nname: {cy: x}\n")
    result = CliRunner().invoke(cli, ["links", "campaigns/bad.yaml"])
    assert result.exit_code == 1 and "campaigns/bad.yaml:" in result.stderr
    config = load_config(None)
    assert links_main(config, "campaigns/bad.yaml", "csv", None) == 1


def test_targets_import_command_is_wired(tmp_path):
    data = Path(__file__).parents[1] / "data" / "targets" / "everypolitician-term.csv"
    result = CliRunner().invoke(
        cli,
        [
            "targets",
            "import",
            str(data),
            "--format",
            "everypolitician",
            "--retrieved",
            "2026-05-20",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("id,name,role,")
    assert import_main(data, "everypolitician", tmp_path / "t.csv", "2026-05-20") == 0


# ---- CSV formula injection (OWASP): cells a spreadsheet would run ------------------------------

# Target names, parties and constituencies as they might arrive in imported public data.
FORMULAS = ('=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_CAMPAIGN = (
    MINIMAL_CAMPAIGN
    + "target_files: [targets.csv]\n"
    + "asks:\n"
    + "  - id: statement\n"
    + "    wordings:\n"
    + "      cy: ['{{ target.name }}: {{ handle }}, cefnogwch! {{ link }}']\n"
    + "      en: ['Please back it, {{ handle }}. {{ link }}']\n"
)


@pytest.fixture
def imported_formulas(write, workdir) -> list[list[str]]:
    """A campaign whose targets came from `kindling targets import` of hostile public data;
    returns the imported (name, party, constituency) of each."""
    people = [
        [f"p{n}", name, FORMULAS[(n + 1) % 4], FORMULAS[(n + 2) % 4], f"kt_{n}"]
        for n, name in enumerate(FORMULAS)
    ]
    with (workdir / "ep.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "group", "area", "twitter"])
        writer.writerows(people)
    write("campaigns/demo.yaml", FORMULA_CAMPAIGN)
    imported = ["ep.csv", "--format", "everypolitician", "--retrieved", "2026-05-20"]
    result = CliRunner().invoke(
        cli, ["targets", "import", *imported, "--out", "campaigns/targets.csv"]
    )
    assert result.exit_code == 0, result.output
    return [person[1:4] for person in people]


def test_links_csv_starts_no_cell_with_a_formula_and_json_keeps_the_data(imported_formulas):
    result = CliRunner().invoke(cli, ["links", "demo", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert len(rows) == 8  # 4 targets x (cy, en) on X
    formulas = [cell for row in rows for cell in row.values() if cell.startswith(FORMULA_STARTS)]
    assert formulas == []
    shown = {(row["target_name"], row["party"], row["constituency"]) for row in rows}
    assert shown == {tuple(f"'{value}" for value in person) for person in imported_formulas}
    welsh = [row["text"] for row in rows if row["language"] == "cy"]
    assert all(text.startswith("'") for text in welsh)  # the text starts with the name
    english = [row["text"] for row in rows if row["language"] == "en"]
    assert all(text.startswith("Please back it, @kt_") for text in english)  # left alone
    result = CliRunner().invoke(cli, ["links", "demo", "--format", "json"])
    assert result.exit_code == 0, result.output
    exact = {(r["target_name"], r["party"], r["constituency"]) for r in json.loads(result.stdout)}
    assert exact == {tuple(person) for person in imported_formulas}


@pytest.mark.parametrize("cell", [*FORMULAS, "\t=1+1", "\r=1+1", "=", "@"])
def test_a_formula_leading_cell_gets_a_single_quote(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("value", ["Aelod A", "", "a=b", "'=1+1", "https://x.com/intent", 7, -2])
def test_other_cells_and_numbers_are_written_as_they_are(value: object) -> None:
    assert neutralise(value) is value


def test_an_empty_value_is_an_empty_cell() -> None:
    assert neutralise(None) == ""
