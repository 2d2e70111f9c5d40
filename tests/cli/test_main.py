"""The `kindling` command as a user runs it: check, preview, count; exit codes and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import main
from tests.conftest import MINIMAL_CAMPAIGN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(workdir):
    """run(*args) -> click Result, in the test's project directory."""
    runner = CliRunner()

    def _run(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return _run


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_check_a_clean_campaign(run, write):
    write("campaigns/demo.yaml", MINIMAL_CAMPAIGN)
    result = run("check")
    assert result.exit_code == 0, result.output
    assert (
        "ok campaigns/demo.yaml: campaign 'demo', 1 messages, 0 asks, 0 targets, 4 renderings"
        in result.output
    )


def test_check_reports_every_problem_and_exits_1(run, write):
    write(
        "campaigns/demo.yaml",
        MINIMAL_CAMPAIGN.replace("timezone: Europe/London", "timezone: Nowhere") + "colour: red\n",
    )
    result = run("check", "campaigns/demo.yaml")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert (
        "campaigns/demo.yaml:4:11: 'Nowhere' is not an IANA time zone (e.g. Europe/London, Europe/Dublin)"
        in lines
    )
    assert any(line.startswith("campaigns/demo.yaml:11:1: unknown key 'colour'") for line in lines)
    assert "2 problems found" in lines


def test_check_json(run, write):
    # 300 ASCII characters: over X's 280, exactly Bluesky's 300.
    write("campaigns/demo.yaml", MINIMAL_CAMPAIGN.replace("Read {{ link }}", "x" * 300))
    result = run("check", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    assert report["problems"] == [
        {
            "file": "campaigns/demo.yaml",
            "line": 10,
            "col": 45,
            "message": "post 'launch' (en) on x is too long: 300 weighted characters, over the limit of 280",
        }
    ]
    (campaign,) = report["campaigns"]
    assert (campaign["id"], campaign["renderings"], campaign["over_limit"]) == ("demo", 4, 1)


def test_check_writes_nothing_when_the_campaign_is_invalid(run, write, workdir):
    write("campaigns/demo.yaml", MINIMAL_CAMPAIGN + "  - id: [broken\n")
    before = _tree(workdir)
    result = run("check")
    assert result.exit_code == 1
    assert _tree(workdir) == before
    assert not (workdir / "data").exists()


def test_check_with_a_config_secret_fails_without_echoing_it(run, write):
    write("config.toml", '[x]\naccess_token = "tok-SECRET-123"\n')
    write("campaigns/demo.yaml", MINIMAL_CAMPAIGN)
    result = run("check")
    assert result.exit_code == 1
    assert "tok-SECRET-123" not in result.output
    assert "config.toml:2:1: 'x.access_token' looks like a secret" in result.output


def test_check_a_missing_path(run):
    result = run("check", "campaigns/nope.yaml")
    assert result.exit_code == 1
    assert "campaigns/nope.yaml:1:1: no such file or directory" in result.output


def test_preview_by_id_json(run, write):
    write("campaigns/demo.yaml", MINIMAL_CAMPAIGN)
    result = run("preview", "demo", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {(r["kind"], r["id"], r["platform"], r["language"]) for r in rows} == {
        ("post", "launch", platform, language)
        for platform in ("x", "bluesky")
        for language in ("cy", "en")
    }
    x_cy = next(r for r in rows if r["platform"] == "x" and r["language"] == "cy")
    assert x_cy["text"] == "Darllenwch https://example.org/letter"
    assert (x_cy["length"], x_cy["limit"], x_cy["ok"]) == (
        34,
        280,
        True,
    )  # "Darllenwch " + URL as 23


def test_preview_by_path_with_asks_and_filters(run, write):
    write(
        "campaigns/demo.yaml",
        MINIMAL_CAMPAIGN
        + "targets:\n"
        + "  - {id: ms-a, name: Aelod A, handles: {x: ms_a, bluesky: ms-a.example.org}}\n"
        + "  - {id: ms-b, name: Aelod B, handles: {x: ms_b}}\n"
        + "asks:\n"
        + "  - id: statement\n"
        + "    wordings:\n"
        + "      cy: ['{{ handle }} Cefnogwch gydgynhyrchu! {{ link }}']\n"
        + "      en: ['{{ handle }} Back co-production! {{ link }}', 'Dear {{ target.name }}, please act.']\n",
    )
    result = run(
        "preview",
        "campaigns/demo.yaml",
        "--json",
        "--kind",
        "ask",
        "--platform",
        "x",
        "--language",
        "en",
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["target"], r["wording"], r["text"]) for r in rows] == [
        ("ms-a", 1, "@ms_a Back co-production! https://example.org/letter"),
        ("ms-b", 1, "@ms_b Back co-production! https://example.org/letter"),
        ("ms-a", 2, "Dear Aelod A, please act."),
        ("ms-b", 2, "Dear Aelod B, please act."),
    ]
    assert all(r["kind"] == "ask" and r["limit"] == 280 for r in rows)


def test_preview_table_shows_lengths(run, write):
    write("campaigns/demo.yaml", MINIMAL_CAMPAIGN)
    result = run("preview", "demo")
    assert result.exit_code == 0
    assert "34/280" in result.output and "Darllenwch" in result.output


def test_preview_of_an_invalid_campaign_fails_with_located_problems(run, write):
    write(
        "campaigns/demo.yaml",
        MINIMAL_CAMPAIGN.replace("languages: [cy, en]", "languages: [cy, en, fr]"),
    )
    result = run("preview", "demo")
    assert result.exit_code == 1
    assert (
        "campaigns/demo.yaml:2:7: the campaign name has no 'fr' text (the campaign's languages are cy, en, fr)"
        in result.output
    )


def test_preview_unknown_campaign(run):
    result = run("preview", "nothing-here")
    assert result.exit_code == 1
    assert "no campaign file or campaign id 'nothing-here'" in result.output


def test_count_json(run):
    result = run(
        "count", "--json", "a" * 280, "字" * 141, "👨‍👩‍👧‍👦", "https://example.com/a/long/path"
    )
    assert result.exit_code == 0
    assert json.loads(result.output) == [
        {"text": "a" * 280, "x": 280, "bluesky": 280, "mastodon": 280},
        {"text": "字" * 141, "x": 282, "bluesky": 141, "mastodon": 141},
        {"text": "👨‍👩‍👧‍👦", "x": 2, "bluesky": 1, "mastodon": 1},
        {"text": "https://example.com/a/long/path", "x": 23, "bluesky": 31, "mastodon": 23},
    ]


def test_count_reads_standard_input(run):
    result = run("count", "--json", "-", input="ŵŷ\n")
    assert json.loads(result.output) == [{"text": "ŵŷ\n", "x": 3, "bluesky": 3, "mastodon": 3}]


def test_count_table(run):
    result = run("count", "Helo Cymru")
    assert result.exit_code == 0
    assert "10/280" in result.output and "10/300" in result.output and "10/500" in result.output


def test_python_dash_m_bot_and_the_console_script_run(tmp_path):
    env = {**os.environ, "NO_COLOR": "1"}
    module = subprocess.run(
        [sys.executable, "-m", "bot", "count", "--json", "ŵ"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert module.returncode == 0, module.stderr
    assert json.loads(module.stdout) == [{"text": "ŵ", "x": 1, "bluesky": 1, "mastodon": 1}]
    script = Path(sys.executable).with_name("kindling")
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and "kindling, version" in version.stdout


def test_founding_campaign_passes_check():
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check", "campaigns/", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    report = json.loads(result.stdout)
    assert report["problems"] == []
    assert result.returncode == 0
    (campaign,) = report["campaigns"]
    assert campaign["id"] == "open-letter-2"
    assert campaign["renderings"] > 500
