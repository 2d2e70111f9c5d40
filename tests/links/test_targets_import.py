"""`kindling targets import`: Democracy Club, EveryPolitician and parlparse files -> targets CSV."""

from __future__ import annotations

import os
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.campaign.targets_csv import COLUMNS, load_targets_csv
from bot.links.targets_import import (
    import_main,
    import_targets,
    merge_rows,
    normalise_handle,
    sanitise_id,
)
from tests.links.test_export import cli

DATA = Path(__file__).parents[1] / "data" / "targets"
DC_SOURCE = "Democracy Club democracyclub-candidates.csv, retrieved 2026-05-20, CC BY 4.0"
PP_SOURCE = "mySociety parlparse social-media-commons.xml, retrieved 2026-05-20, CC BY-SA 3.0"


def _filled(row: dict[str, str]) -> dict[str, str]:
    return {column: value for column, value in row.items() if value}


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the sample files in a working directory, so paths print as written."""
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    monkeypatch.chdir(tmp_path)
    return Path("data")


def test_democracy_club_candidates(data):
    result = import_targets(
        data / "democracyclub-candidates.csv", "democracyclub", retrieved="2026-05-20"
    )
    assert result.problems == []
    aled, sian, gwenllian = result.rows
    handles = {f"{p}_source": DC_SOURCE for p in ("x", "bluesky", "mastodon", "threads", "email")}
    # Aled stood in 2021 and 2026 (two rows, joined on person_id); the 2026 candidacy wins even
    # though the 2021 row comes later in the file. Handles given as URLs become handles.
    assert _filled(aled) == {
        "id": "dc-90001",
        "name": "Aled Ffuglen",
        "constituency": "Caerdydd Penarth",
        "party": "Plaid Enghraifft",
        "x": "kt_aled_01",
        "bluesky": "aled.ffuglen.example",
        "mastodon": "aled@social.example.org",
        "threads": "kt.aled",
        "email": "aled@ffuglen.example",
        **handles,
    }
    assert (sian["name"], sian["x"], sian["bluesky"], sian["mastodon"]) == (
        "Siân Dychmygol",
        "kt_sian_02",
        "sian.dychmygol.example",
        "sian@toot.example.net",
    )
    assert (gwenllian["name"], gwenllian["bluesky"], gwenllian["x"], gwenllian["email"]) == (
        "Gwenllïan Esiampl, yr Ail",
        "did:plc:kindlingtest3",
        "",
        "",
    )
    # Invalid handles are dropped, each with a warning at its line: never silently.
    assert [str(w) for w in result.warnings] == [
        "data/democracyclub-candidates.csv:4:1: dc-90003: dropped x 'not a handle!': "
        "'not a handle!' is not an X handle (1-15 of A-Z, a-z, 0-9 and _)",
        "data/democracyclub-candidates.csv:4:1: dc-90003: dropped email 'not-an-email': "
        "'not-an-email' is not an email address",
    ]


def test_imported_csv_loads_as_campaign_targets(data, tmp_path):
    out = tmp_path / "targets.csv"
    status = import_main(data / "democracyclub-candidates.csv", "democracyclub", out, "2026-05-20")
    assert status == 0
    assert out.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS)
    loaded, problems = load_targets_csv(out, "targets.csv")
    assert problems == []
    assert [row.target.id for row in loaded] == ["dc-90001", "dc-90002", "dc-90003"]
    assert loaded[0].target.sources["mastodon"] == DC_SOURCE


def test_bad_rows_are_located_and_nothing_is_written(data, tmp_path):
    bad = data / "dc-bad.csv"
    text = (data / "democracyclub-candidates.csv").read_text(encoding="utf-8")
    bad.write_text(
        text
        + ",Nobody Without Id,senedd.2026-05-07,x,2026-05-07,True,P,P1,Caerdydd Penarth,False,6,,,,,\n"
        + "90009,,senedd.2026-05-07,x,2026-05-07,True,P,P1,Caerdydd Penarth,False,6,,,,,\n"
        + "90010,Too Few Fields\n"
        + "!!!,Odd Id,senedd.2026-05-07,x,2026-05-07,True,P,P1,Caerdydd Penarth,False,6,,,,,\n",
        encoding="utf-8",
    )
    result = import_targets(bad, "democracyclub", retrieved="2026-05-20")
    assert [str(p) for p in result.problems] == [
        "data/dc-bad.csv:6:1: no person id: every row needs one (people are joined on ids)",
        "data/dc-bad.csv:7:1: column 'person_name' is empty: every person needs a name",
        "data/dc-bad.csv:8:1: expected 16 fields, found 2",
        "data/dc-bad.csv:9:1: person id '!!!' has no letters or digits",
    ]
    out = tmp_path / "out.csv"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["targets", "import", str(bad), "--format", "democracyclub", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "data/dc-bad.csv:8:1: expected 16 fields, found 2" in result.stderr
    assert "4 problem(s): nothing written" in result.stderr
    assert not out.exists()


def test_a_file_of_the_wrong_format_is_one_clear_problem(data):
    result = import_targets(
        data / "everypolitician-term.csv", "democracyclub", retrieved="2026-05-20"
    )
    assert [str(p) for p in result.problems] == [
        "data/everypolitician-term.csv:1:1: missing column(s) person_id, person_name: is this a "
        "data/everypolitician-term.csv?"
    ]
    missing = import_targets(data / "nope.csv", "democracyclub", retrieved="2026-05-20")
    assert [str(p) for p in missing.problems] == ["data/nope.csv:1:1: file not found"]
    latin1 = data / "latin1.csv"
    latin1.write_bytes("id,name\n1,Si\xe2n\n".encode("latin-1"))
    assert "not UTF-8" in str(import_targets(latin1, "everypolitician", retrieved="x").problems[0])
    with pytest.raises(ValueError, match="unknown format"):
        import_targets(latin1, "wikidata", retrieved="x")


def test_everypolitician_terms_join_on_id(data):
    result = import_targets(
        data / "everypolitician-term.csv", "everypolitician", retrieved="2026-05-20"
    )
    assert result.problems == []
    rhodri, mererid = result.rows
    source = "EveryPolitician everypolitician-term.csv, retrieved 2026-05-20, licence as published by EveryPolitician"
    # Two terms, one person: the later term's party; the email only the first term had stays.
    assert _filled(rhodri) == {
        "id": "ep-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
        "name": "Rhodri Ffug",
        "constituency": "Ceredigion Penfro",
        "party": "Plaid Newydd",
        "x": "kt_rhodri",
        "email": "rhodri@ffug.example",
        "x_source": source,
        "email_source": source,
    }
    assert mererid["x"] == "kt_mererid"
    assert [str(w) for w in result.warnings] == [
        "data/everypolitician-term.csv:3:1: ep-a1b2c3d4-e5f6-4071-8293-a4b5c6d7e8f9: kept the "
        "first of several x values"
    ]
    bad = data / "ep-bad.csv"
    bad.write_text(
        (data / "everypolitician-term.csv").read_text(encoding="utf-8") + "ffff,,,,,,,,,,,,,,,\n",
        encoding="utf-8",
    )
    assert [str(p) for p in import_targets(bad, "everypolitician", retrieved="x").problems] == [
        "data/ep-bad.csv:5:1: column 'name' is empty: every person needs a name"
    ]


def test_parlparse_social_media_joins_onto_named_targets(data, tmp_path):
    result = import_targets(data / "social-media-commons.xml", "parlparse", retrieved="2026-05-20")
    assert result.problems == []
    # 90102 had only a Facebook page and an invalid X handle: dropped, with a warning.
    assert [row["id"] for row in result.rows] == ["parlparse-90101", "parlparse-90103"]
    assert [str(w) for w in result.warnings] == [
        "data/social-media-commons.xml:3:1: parlparse-90102: dropped x 'has space': "
        "'has space' is not an X handle (1-15 of A-Z, a-z, 0-9 and _)"
    ]
    out = tmp_path / "commons.csv"
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "targets", "import", str(data / "social-media-commons.xml"), "--format", "parlparse",
            "--retrieved", "2026-05-20", "--merge", str(data / "commons-targets.csv"), "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 people from data/social-media-commons.xml; 3 targets written to" in result.stderr
    assert "no name" not in result.stderr
    loaded, problems = load_targets_csv(out, "commons.csv")
    assert problems == []
    mp101, mp103, minister = (row.target for row in loaded)
    # Joined on id: the organiser's name and role stay; the fresher X handle replaces the old one
    # with its source; the hand-entered email keeps its own source.
    assert (mp101.name, mp101.role, mp101.handles.x, mp101.handles.bluesky) == (
        "Placeholder MP 101",
        "Member of Parliament",
        "kt_mp_101",
        "mp101.ffuglen.example",
    )
    assert mp101.sources == {"x": PP_SOURCE, "bluesky": PP_SOURCE, "email": "hand-entered 2025"}
    assert (mp103.handles.threads, mp103.language) == ("kt.mp.103", "cy")
    assert minister.id == "minister-x"


def test_parlparse_without_names_warns(data):
    result = CliRunner().invoke(
        cli,
        [
            "targets",
            "import",
            str(data / "social-media-commons.xml"),
            "--format",
            "parlparse",
            "--retrieved",
            "2026-05-20",
        ],
    )
    assert result.exit_code == 0
    assert (
        "data/social-media-commons.xml:1:1: warning: 2 target(s) have no name (parlparse-90101, "
        "parlparse-90103): join this file onto targets that have these ids with --merge"
    ) in result.stderr
    assert result.stdout.splitlines()[1].startswith("parlparse-90101,,")


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (
            '<publicwhip>\n  <personinfo twitter_username="kt_x"/>\n</publicwhip>\n',
            "x.xml:2:1: no person id: every row needs one (people are joined on ids)",
        ),
        (
            '<publicwhip>\n  <personinfo id="a"\n</publicwhip>\n',
            "x.xml:3:1: XML error: not well-formed (invalid token)",
        ),
        (
            "<people><person id='1'/></people>",
            "x.xml:1:1: expected <publicwhip> (social-media-commons.xml), not <people>",
        ),
        (
            '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
            ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n'
            "<publicwhip><personinfo id='uk.org.publicwhip/person/1' twitter_username='&lol2;'/></publicwhip>\n",
            "x.xml:3:1: entity declarations are not accepted in this file (entity expansion)",
        ),
        (
            '<?xml version="1.0"?>\n<!DOCTYPE p [<!ENTITY ext SYSTEM "file:///etc/passwd">]>\n'
            "<publicwhip><personinfo id='1' twitter_username='&ext;'/></publicwhip>\n",
            "x.xml:2:1: entity declarations are not accepted in this file (entity expansion)",
        ),
    ],
)
def test_bad_parlparse_files_are_located(tmp_path, monkeypatch, xml, expected):
    monkeypatch.chdir(tmp_path)
    Path("x.xml").write_text(xml, encoding="utf-8")
    result = import_targets(Path("x.xml"), "parlparse", retrieved="2026-05-20")
    assert [str(p) for p in result.problems] == [expected]
    assert result.rows == []


def test_ids_are_sanitised_with_a_prefix():
    assert sanitise_id("dc", "123") == "dc-123"
    assert sanitise_id("ep", "Q42/Person Ŵ") == "ep-q42-person"  # ŵ is not in [a-z0-9_-]
    assert sanitise_id("ep", "!!!") is None
    long = sanitise_id("ep", "x" * 100)
    assert long is not None and len(long) == 64 and re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", long)
    assert long != sanitise_id("ep", "x" * 101)  # still unique


@pytest.mark.parametrize(
    ("platform", "raw", "expected"),
    [
        ("x", "https://twitter.com/kt_name", "kt_name"),
        ("x", "https://x.com/@kt_name/", "kt_name"),
        ("x", "@kt_name", "kt_name"),
        ("bluesky", "https://bsky.app/profile/name.example.org", "name.example.org"),
        ("mastodon", "https://toot.example/@name", "name@toot.example"),
        ("mastodon", "@name@toot.example", "name@toot.example"),
        ("threads", "https://www.threads.com/@kt.name", "kt.name"),
        ("email", " a@b.example ", "a@b.example"),
    ],
)
def test_handles_come_out_of_urls(platform, raw, expected):
    assert normalise_handle(platform, raw) == expected


def test_merge_keeps_the_organisers_edits_and_appends_new_people():
    existing = [
        {
            **dict.fromkeys(COLUMNS, ""),
            "id": "a",
            "name": "Edited Name",
            "stance": "opposed",
            "x": "old",
        }
    ]
    imported = [
        {
            **dict.fromkeys(COLUMNS, ""),
            "id": "a",
            "name": "Source Name",
            "party": "P",
            "x": "new",
            "x_source": "S",
        },
        {**dict.fromkeys(COLUMNS, ""), "id": "b", "name": "B"},
    ]
    merged = merge_rows(existing, imported)
    assert [_filled(row) for row in merged] == [
        {
            "id": "a",
            "name": "Edited Name",
            "party": "P",
            "stance": "opposed",
            "x": "new",
            "x_source": "S",
        },
        {"id": "b", "name": "B"},
    ]


def test_retrieved_date_defaults_to_the_files_date_and_is_checked(data, tmp_path):
    path = data / "everypolitician-term.csv"
    stamp = datetime(2026, 5, 18, 12, 0).timestamp()
    os.utime(path, (stamp, stamp))
    out = tmp_path / "t.csv"
    assert import_main(path, "everypolitician", out, None) == 0
    assert "retrieved 2026-05-18, licence as published by EveryPolitician" in out.read_text(
        encoding="utf-8"
    )
    assert import_main(path, "everypolitician", out, None, licence="CC0") == 0
    assert "retrieved 2026-05-18, CC0" in out.read_text(encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["targets", "import", str(path), "--format", "everypolitician", "--retrieved", "May"]
    )
    assert result.exit_code == 2 and "expected a date like 2026-05-20" in result.stderr


def test_a_broken_merge_file_stops_the_import(data, tmp_path):
    merge = tmp_path / "merge.csv"
    merge.write_text("id,name,colour\na,A,red\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    status = import_main(
        data / "social-media-commons.xml", "parlparse", out, "2026-05-20", merge=merge
    )
    assert status == 1 and not out.exists()


def test_a_merge_keeps_the_stances_and_imports_leave_them_empty(data, tmp_path):
    merge = tmp_path / "merge.csv"
    merge.write_text("id,name,stance\ndc-90002,Organiser's Name,undecided\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    status = import_main(
        data / "democracyclub-candidates.csv", "democracyclub", out, "2026-05-20", merge=merge
    )
    assert status == 0
    loaded, problems = load_targets_csv(out, "out.csv")
    assert problems == []
    assert [(row.target.id, row.target.stance) for row in loaded] == [
        ("dc-90002", "undecided"),
        ("dc-90001", None),
        ("dc-90003", None),
    ]
