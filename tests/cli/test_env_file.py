"""Every command reads the credentials file `kindling login` writes ([paths] env_file): nobody
has to source it. A variable already in the environment wins over the file. Through the command
line, against the Mastodon stand-in (real HTTP on 127.0.0.1) and a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli.main import main
from bot.daemon.env_file import EnvFileError, read_env_file, write_env_file
from tests.fakes.mastodon_server import MastodonFakeServer

CAMPAIGN = """\
id: toot
name: {en: "Toot"}
languages: [en]
timezone: UTC
active: {start: 2026-12-01, end: 2099-01-31}
platforms: [mastodon]
messages:
  - id: hello
    schedule: {at: "2099-01-01 12:00"}
    text: {en: "Hello from the credentials file"}
"""
ROOT = Path(__file__).resolve().parents[2]
VERIFY = "GET /api/v1/accounts/verify_credentials"


@pytest.fixture
def project(workdir: Path, fake: MastodonFakeServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Mastodon project whose token is only in kindling.env, none in the environment."""
    for name in list(os.environ):
        if name.startswith("KINDLING_"):
            monkeypatch.delenv(name)
    (workdir / "config.toml").write_text(
        f'[mastodon]\ninstance_url = "{fake.url}"\ntimeout_seconds = 5.0\n', encoding="utf-8"
    )
    (workdir / "campaigns" / "toot.yaml").write_text(CAMPAIGN, encoding="utf-8")
    (workdir / "data").mkdir(mode=0o750)
    (workdir / "data").chmod(0o750)
    write_env_file(
        workdir / "kindling.env",
        {"KINDLING_MASTODON_ACCESS_TOKEN": fake.state.token},
        force=False,
    )
    assert kindling("db", "upgrade").exit_code == 0
    return workdir


def kindling(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def line_starting(result: Result, start: str) -> str:
    found = [line for line in result.output.splitlines() if line.startswith(start)]
    assert len(found) == 1, result.output
    return found[0]


def test_doctor_and_post_use_the_credentials_file(project: Path, fake: MastodonFakeServer) -> None:
    doctor = kindling("doctor")
    assert doctor.exit_code == 0, doctor.output
    assert line_starting(doctor, "ok   credentials file:") == (
        f"ok   credentials file: {project / 'kindling.env'} (the environment's variables win)"
    )
    assert line_starting(doctor, "ok   mastodon credentials:").endswith(
        "account kindling@mastodon.example"
    )
    posted = kindling("post", "toot", "hello")
    assert posted.exit_code == 0, posted.output
    assert posted.output.strip() == "mastodon en: sent"
    assert [s.text for s in fake.state.own_statuses()] == ["Hello from the credentials file"]
    assert fake.state.token not in doctor.output + posted.output


def test_the_environment_wins_over_the_file(
    project: Path, fake: MastodonFakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KINDLING_MASTODON_ACCESS_TOKEN", "revoked-mastodon-token-0000")
    doctor = kindling("doctor")
    assert doctor.exit_code == 1
    assert line_starting(doctor, "FAIL mastodon credentials: refused:")
    assert [call.status for call in fake.state.calls(VERIFY)] == [401]


def test_without_the_file_there_are_no_credentials(project: Path) -> None:
    (project / "kindling.env").unlink()
    doctor = kindling("doctor")
    assert "credentials file" not in doctor.output
    assert "mastodon credentials" not in doctor.output or "FAIL" in doctor.output


def test_a_line_that_is_not_an_assignment_stops_the_command_and_is_not_shown(
    project: Path, fake: MastodonFakeServer
) -> None:
    env = project / "kindling.env"
    env.write_text(
        env.read_text(encoding="utf-8") + "# a comment\n\n  oops-secret-value\n", encoding="utf-8"
    )
    for command in (("doctor",), ("post", "toot", "hello"), ("status",)):
        result = kindling(*command)
        assert result.exit_code == 1, (command, result.output)
        assert f"{env}:4:3: expected NAME=value" in result.output
        assert "oops-secret-value" not in result.output
    assert fake.state.own_statuses() == []


def test_quoted_values_and_export_are_read_as_systemd_and_sh_read_them(tmp_path: Path) -> None:
    env = tmp_path / "kindling.env"
    env.write_text(
        "KINDLING_A='a b#c'\nexport KINDLING_B=plain\n# a comment\n"
        'KINDLING_C="say \\"hi\\""\nKINDLING_D=\n',
        encoding="utf-8",
    )
    expected = {"KINDLING_A": "a b#c", "KINDLING_B": "plain", "KINDLING_C": 'say "hi"'}
    assert read_env_file(env) == expected | {"KINDLING_D": ""}
    shell = subprocess.run(
        [
            "sh",
            "-c",
            f'set -a; . "{env}"; printf "%s|%s|%s" "$KINDLING_A" "$KINDLING_B" "$KINDLING_C"',
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == "|".join(expected.values())
    env.write_text("; systemd's other comment\nKINDLING_A=1\n", encoding="utf-8")
    assert read_env_file(env) == {"KINDLING_A": "1"}
    assert read_env_file(tmp_path / "missing.env") == {}
    env.write_text("KINDLING_A='unclosed\n", encoding="utf-8")
    with pytest.raises(EnvFileError, match=r"kindling.env:1:1: expected NAME=value"):
        read_env_file(env)


def test_kindling_run_reads_the_credentials_file(project: Path, fake: MastodonFakeServer) -> None:
    """The live daemon, started as a new process without KINDLING_* in its environment, logs in
    to Mastodon with the file's token: the platform's state says so."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    env.pop("NOTIFY_SOCKET", None)
    env["PYTHONPATH"] = str(ROOT)  # this checkout's bot, whatever the venv has installed
    run = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--until", "+3s"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert fake.state.token not in run.stdout + run.stderr
    shown = kindling("status", "--json")
    platforms = json.loads(shown.output)["platforms"]
    assert [(p["platform"], p["auth"]) for p in platforms] == [("mastodon", "ok")], platforms
    assert fake.state.calls(VERIFY), "the daemon never checked the account"


def test_the_instance_url_comes_from_the_environment_or_the_file(
    project: Path, fake: MastodonFakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KINDLING_MASTODON_INSTANCE_URL (like KINDLING_BLUESKY_SERVICE_URL and
    KINDLING_X_API_BASE_URL) overrides config.toml; from the file too, under the environment."""
    (project / "config.toml").write_text(
        '[mastodon]\ninstance_url = "http://127.0.0.1:9"\ntimeout_seconds = 5.0\n',
        encoding="utf-8",
    )
    unreachable = kindling("doctor")
    assert line_starting(unreachable, "FAIL mastodon credentials:")
    monkeypatch.setenv("KINDLING_MASTODON_INSTANCE_URL", fake.url)
    reached = kindling("doctor")
    assert reached.exit_code == 0, reached.output
    assert line_starting(reached, "ok   mastodon credentials:")

    monkeypatch.delenv("KINDLING_MASTODON_INSTANCE_URL")
    write_env_file(
        project / "kindling.env", {"KINDLING_MASTODON_INSTANCE_URL": fake.url}, force=False
    )
    assert kindling("doctor").exit_code == 0
    monkeypatch.setenv("KINDLING_MASTODON_INSTANCE_URL", "http://127.0.0.1:9")
    assert line_starting(kindling("doctor"), "FAIL mastodon credentials:")


def test_a_file_this_user_cannot_read_is_passed_over(
    project: Path, fake: MastodonFakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service user may not read the organiser's 0600 file in the checkout: with credentials
    in its environment (systemd's EnvironmentFile=) it goes on in silence, without them it says
    so. (Tests run as root, who reads any file: a directory stands in for an unreadable file.)"""
    (project / "kindling.env").unlink()
    (project / "kindling.env").mkdir()
    alone = kindling("doctor")
    assert f"kindling: cannot read the credentials file {project / 'kindling.env'}" in (
        alone.output
    )
    monkeypatch.setenv("KINDLING_MASTODON_ACCESS_TOKEN", fake.state.token)
    given = kindling("doctor")
    assert given.exit_code == 0, given.output
    assert "cannot read" not in given.output
    assert line_starting(given, "ok   mastodon credentials:")
