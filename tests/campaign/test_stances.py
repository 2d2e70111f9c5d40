"""Stances: the wording shapes and their located errors, targets left without a wording, notes."""

from __future__ import annotations

from click.testing import CliRunner

from bot.cli.main import main
from tests.conftest import STANCE_CAMPAIGN

# The general English wording (line 23); without it, only targets of a listed stance get one.
GENERAL_EN = "        - '{{ handle or target.name }}, please back co-production.'\n"


def test_the_stance_campaign_is_clean_and_loads_both_shapes(check_campaign_text):
    report = check_campaign_text(STANCE_CAMPAIGN)
    assert report.problems == [] and report.notes == []
    campaign = report.loaded.campaign
    assert [t.stance for t in campaign.targets] == ["supportive", "opposed", None]
    en = campaign.asks[0].wordings["en"]
    assert [(w.text.split(", ")[1], w.stances) for w in en] == [
        ("please back co-production.", None),
        ("thank you for your support.", ["supportive"]),
        ("please think again.", ["opposed"]),
        ("hear us out.", ["opposed", "supportive"]),
    ]
    assert campaign.asks[0].wordings_for("en", "opposed") == [1, 3, 4]
    assert campaign.asks[0].wordings_for("en", None) == [1]


def test_bad_wording_shapes_are_located(problems_of):
    text = STANCE_CAMPAIGN.replace(
        "think again.', stances: [opposed]}", "think again.', stance: [opposed]}"
    ).replace("stances: [opposed, supportive]}", "stances: []}")
    text = text.replace("stances: [supportive]}", "stances: [Supportive!]}", 1)  # cy, line 20
    text += "        - [not, a, wording]\n        - {stances: [opposed]}\n        - {text: Hi, stances: }\n"
    assert problems_of(text) == [
        "campaigns/c.yaml:20:87: 'Supportive!' is not a valid id (lower-case letters, digits, "
        "'-' and '_', starting with a letter or digit)",
        "campaigns/c.yaml:25:70: unknown key 'stance' (did you mean 'stances'?)",
        "campaigns/c.yaml:26:72: 'stances' is empty: list at least one stance, or leave it out "
        "for every target",
        "campaigns/c.yaml:27:11: a wording is a text, or a mapping with 'text' and 'stances'",
        "campaigns/c.yaml:28:11: missing required key 'text'",
        "campaigns/c.yaml:29:30: 'stances' is empty: list at least one stance, or leave it out "
        "for every target",
    ]


def test_a_bad_stance_on_a_yaml_target_is_located(problems_of):
    text = STANCE_CAMPAIGN.replace("stance: opposed,", "stance: Opposed,")
    assert problems_of(text) == [
        "campaigns/c.yaml:13:49: 'Opposed' is not a valid id (lower-case letters, digits, '-' "
        "and '_', starting with a letter or digit)"
    ]


def test_a_target_without_a_stance_and_no_general_wording_is_an_error_at_the_target(
    problems_of,
):
    # No 'stance' key: the problem points at the target's own mapping.
    assert problems_of(STANCE_CAMPAIGN.replace(GENERAL_EN, "")) == [
        "campaigns/c.yaml:14:5: target 'unsure' has no stance, but every wording of ask "
        "'statement' in en lists 'stances': give the target a stance, or add a wording without "
        "'stances'"
    ]


def test_a_target_whose_stance_no_wording_lists_is_an_error_at_its_stance(problems_of):
    text = STANCE_CAMPAIGN.replace(GENERAL_EN, "").replace(
        "name: Aelod Ansicr,", "name: Aelod Ansicr, stance: undecided,"
    )
    assert problems_of(text) == [
        "campaigns/c.yaml:14:46: target 'unsure' has the stance 'undecided', but no wording of "
        "ask 'statement' in en is for it: list 'undecided' in a wording's 'stances', or add a "
        "wording without 'stances'"
    ]


def test_a_csv_target_without_a_wording_is_an_error_at_its_row_and_stance_cell(problems_of):
    csv = (
        "id,name,stance,x\n"
        "ally-2,Aelod Arall,supportive,ally_2\n"
        "neutral,Aelod Niwtral,neutral,neutral_ms\n"
        "blank,Aelod Gwag,,blank_ms\n"
    )
    text = STANCE_CAMPAIGN.replace(GENERAL_EN, "") + "target_files: [targets.csv]\n"
    problems = problems_of(text, files={"campaigns/targets.csv": csv})
    assert problems == [
        "campaigns/c.yaml:14:5: target 'unsure' has no stance, but every wording of ask "
        "'statement' in en lists 'stances': give the target a stance, or add a wording without "
        "'stances'",
        "campaigns/targets.csv:3:23: target 'neutral' has the stance 'neutral', but no wording of "
        "ask 'statement' in en is for it: list 'neutral' in a wording's 'stances', or add a "
        "wording without 'stances'",
        "campaigns/targets.csv:4:18: target 'blank' has no stance, but every wording of ask "
        "'statement' in en lists 'stances': give the target a stance, or add a wording without "
        "'stances'",
    ]


def test_every_language_without_a_wording_is_named_once(problems_of):
    text = STANCE_CAMPAIGN.replace(GENERAL_EN, "").replace(
        "        - '{{ handle or target.name }}, cefnogwch gydgynhyrchu.'\n", ""
    )
    assert problems_of(text) == [
        "campaigns/c.yaml:14:5: target 'unsure' has no stance, but every wording of ask "
        "'statement' in cy, en lists 'stances': give the target a stance, or add a wording "
        "without 'stances'"
    ]


def test_a_stance_no_target_has_is_a_located_note_not_a_problem(check_campaign_text):
    text = STANCE_CAMPAIGN.replace("stances: [opposed]}", "stances: [opossed]}").replace(
        "stances: [opposed, supportive]}", "stances: [opposed, undecided]}"
    )
    report = check_campaign_text(text)
    assert report.problems == []
    assert [str(note) for note in report.notes] == [
        "campaigns/c.yaml:21:92: no target has the stance 'opossed' (did you mean 'opposed'?); "
        "this wording is given to no target",
        "campaigns/c.yaml:25:80: no target has the stance 'opossed' (did you mean 'opposed'?); "
        "this wording is given to no target",
        "campaigns/c.yaml:26:82: no target has the stance 'undecided' (known: opposed, supportive)",
    ]
    assert report.summary()["notes"][2] == {
        "file": "campaigns/c.yaml",
        "line": 26,
        "col": 82,
        "message": "no target has the stance 'undecided' (known: opposed, supportive)",
    }
    result = CliRunner().invoke(main, ["check", "campaigns/c.yaml"])
    assert result.exit_code == 0, result.output
    assert "campaigns/c.yaml:26:82: note: no target has the stance 'undecided'" in result.output
