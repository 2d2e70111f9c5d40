"""Targets from CSV: handles with their sources, every bad row at file:line:col."""

from __future__ import annotations

from pathlib import Path

from bot.campaign.targets_csv import load_targets_csv

HEADER = "id,name,role,constituency,party,language,x,bluesky,email,x_source,bluesky_source\n"


def _load(tmp_path: Path, text: str):
    path = tmp_path / "targets.csv"
    path.write_text(text, encoding="utf-8")
    targets, problems = load_targets_csv(path, "targets.csv")
    return targets, [str(p) for p in problems]


def test_good_rows_keep_handles_and_their_sources(tmp_path):
    targets, problems = _load(
        tmp_path,
        HEADER
        + "ms-a,Aelod A,MS,Caerdydd Penarth,Independent,cy,@kindling_ms_a,ms-a.placeholder.example,a@senedd.example,fictional placeholder,fictional placeholder\n"
        + "\n"
        + 'ms-b,"Aelod B, Jr",MS,Gwynedd Maldwyn,,en,kindling_ms_b,,,,\n',
    )
    assert problems == []
    a, b = (row.target for row in targets)
    assert (a.handles.x, a.handles.bluesky, a.handles.email) == (
        "kindling_ms_a",
        "ms-a.placeholder.example",
        "a@senedd.example",
    )
    assert a.sources == {"x": "fictional placeholder", "bluesky": "fictional placeholder"}
    assert (b.name, b.party, b.handles.bluesky, b.language) == ("Aelod B, Jr", None, None, "en")
    assert targets[1].located.where(("handles", "x")) == (4, 43)


def test_bad_rows_are_each_located_and_good_rows_still_load(tmp_path):
    targets, problems = _load(
        tmp_path,
        HEADER
        + "ms-a,Aelod A,,,,,kindling_ms_a,,,,\n"
        + "Bad Id,Aelod B,,,,,,,,,\n"
        + "ms-c,Aelod C,,,,,,-leading-hyphen.example,,,\n"
        + "ms-d,Aelod D,,,,\n"
        + "ms-e,,,,,,,,not-an-email,,\n",
    )
    assert [row.target.id for row in targets] == ["ms-a"]
    assert problems == [
        "targets.csv:3:1: 'Bad Id' is not a valid id (lower-case letters, digits, '-' and '_', starting with a letter or digit)",
        "targets.csv:4:19: '-leading-hyphen.example' is not a Bluesky handle (a domain name such as name.bsky.social) or a DID",
        "targets.csv:5:1: expected 11 fields, found 6",
        "targets.csv:6:6: column 'name' is empty: every target needs one",
        "targets.csv:6:13: 'not-an-email' is not an email address",
    ]


def test_missing_required_column_and_duplicate_column(tmp_path):
    _, problems = _load(tmp_path, "name,x,x\nAelod,a,b\n")
    assert problems == [
        "targets.csv:1:1: column 'x' appears twice",
        "targets.csv:1:1: missing required column 'id'",
    ]


def test_multi_line_quoted_cell_keeps_line_numbers_of_later_rows(tmp_path):
    _, problems = _load(tmp_path, 'id,name,x\nms-a,"Aelod\nA",ok_handle\nms-b,Aelod B,bad handle\n')
    assert problems == [
        "targets.csv:4:14: 'bad handle' is not an X handle (1-15 of A-Z, a-z, 0-9 and _)"
    ]


def test_not_utf8(tmp_path):
    path = tmp_path / "targets.csv"
    path.write_bytes(b"id,name\nms-a,Aelod \xff\n")
    _, problems = load_targets_csv(path, "targets.csv")
    assert [str(p) for p in problems] == ["targets.csv:1:1: not UTF-8 text (invalid start byte)"]


def test_stance_column_is_optional_and_checked_like_any_other(tmp_path):
    targets, problems = _load(
        tmp_path,
        "id,name,stance,x\n"
        "ms-a,Aelod A,opposed,ms_a\n"
        "ms-b,Aelod B,,ms_b\n"
        "ms-c,Aelod C,Not Sure,ms_c\n"
        "ms-d,Aelod D, undecided ,ms_d\n",
    )
    assert [(row.target.id, row.target.stance) for row in targets] == [
        ("ms-a", "opposed"),
        ("ms-b", None),
        ("ms-d", "undecided"),
    ]
    assert problems == [
        "targets.csv:4:14: 'Not Sure' is not a valid id (lower-case letters, digits, '-' and "
        "'_', starting with a letter or digit)"
    ]
    assert targets[0].located.where(("stance",)) == (2, 14)
