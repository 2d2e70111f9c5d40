"""`kindling login` as an organiser runs it: the secret typed hidden (or piped), checked against
the Mastodon stand-in over real HTTP, written to a real file that only its owner can read."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from bot.cli.main import main
from bot.daemon.env_file import EnvFileError, write_env_file
from tests.fakes.mastodon_server import MastodonFakeServer
from tests.fakes.x_server import XFakeServer
from tests.peers.bluesky_network import BlueskyNetwork

ROOT = Path(__file__).resolve().parents[2]

VERIFY = "GET /api/v1/accounts/verify_credentials"


@pytest.fixture
def project(workdir: Path, fake: MastodonFakeServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("KINDLING_"):
            monkeypatch.delenv(name)
    (workdir / "config.toml").write_text(
        f'[mastodon]\ninstance_url = "{fake.url}"\ntimeout_seconds = 5.0\n', encoding="utf-8"
    )
    return workdir


def kindling(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_mastodon_token_typed_hidden_is_checked_and_written_0600(
    project: Path, fake: MastodonFakeServer
) -> None:
    token = fake.state.token
    result = kindling("login", "mastodon", input=f"{token}\n")
    assert result.exit_code == 0, result.output
    env = project / "kindling.env"
    assert env.read_text(encoding="utf-8") == f"KINDLING_MASTODON_ACCESS_TOKEN={token}\n"
    assert mode(env) == 0o600
    assert token not in result.output  # hidden while typed, never printed
    assert "mastodon: account kindling@mastodon.example accepted the credentials" in result.output
    assert [call.status for call in fake.state.calls(VERIFY)] == [200]


def test_a_refused_token_writes_nothing_and_is_not_shown(
    project: Path, fake: MastodonFakeServer
) -> None:
    result = kindling("login", "mastodon", "--stdin", input="revoked-token-1234\n")
    assert result.exit_code == 1
    assert "kindling login mastodon: refused:" in result.output
    assert result.output.rstrip().endswith("nothing written")
    assert "revoked-token-1234" not in result.output
    assert not (project / "kindling.env").exists()
    assert [call.status for call in fake.state.calls(VERIFY)] == [401]


def test_an_existing_token_is_replaced_only_with_force_and_other_lines_kept(
    project: Path, fake: MastodonFakeServer
) -> None:
    env = project / "secrets" / "k.env"
    env.parent.mkdir()
    before = "# campaign account\nKINDLING_BLUESKY_APP_PASSWORD=abcd-efgh\nKINDLING_MASTODON_ACCESS_TOKEN=old\n"
    env.write_text(before, encoding="utf-8")
    env.chmod(0o644)
    args = ("login", "mastodon", "--stdin", "--env-file", str(env))
    result = kindling(*args, input=f"{fake.state.token}\n")
    assert result.exit_code == 1
    assert "already sets KINDLING_MASTODON_ACCESS_TOKEN: nothing written (--force replaces it)" in (
        result.output
    )
    assert env.read_text(encoding="utf-8") == before

    result = kindling(*args, "--force", input=f"{fake.state.token}\n")
    assert result.exit_code == 0, result.output
    assert env.read_text(encoding="utf-8") == (
        "# campaign account\nKINDLING_BLUESKY_APP_PASSWORD=abcd-efgh\n"
        f"KINDLING_MASTODON_ACCESS_TOKEN={fake.state.token}\n"
    )
    assert mode(env) == 0o600
    assert [p.name for p in env.parent.iterdir()] == ["k.env"]  # no temporary file left
    # The other commands read [paths] env_file, not this file: said, with the setting to change.
    assert f"note: {env} is not [paths] env_file ({project / 'kindling.env'}): set env_file" in (
        result.output
    )


def test_bluesky_login_that_cannot_reach_the_pds_writes_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    (project / "config.toml").write_text(
        f'[bluesky]\nservice_url = "{closed}"\nhandle = "campaign.example"\n', encoding="utf-8"
    )
    result = kindling("login", "bluesky", input="abcd-efgh-ijkl-mnop\n")
    assert result.exit_code == 1
    assert "kindling login bluesky: could not check the account: logging in:" in result.output
    assert "abcd-efgh-ijkl-mnop" not in result.output
    assert list(project.glob("*.env")) == []
    assert not (project / "data").exists()  # the check's session went to a scratch directory


def test_values_read_back_unchanged_by_a_shell(tmp_path: Path) -> None:
    env = tmp_path / "k.env"
    odd = "p@ss word;$HOME`x`*"
    write_env_file(env, {"KINDLING_A": "plain-Value_1.2", "KINDLING_B": odd}, force=False)
    assert env.read_text(encoding="utf-8") == f"KINDLING_A=plain-Value_1.2\nKINDLING_B='{odd}'\n"
    shown = subprocess.run(
        ["sh", "-c", f'set -a; . "{env}"; printf "%s|%s" "$KINDLING_A" "$KINDLING_B"'],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout
    assert shown == f"plain-Value_1.2|{odd}"


def test_a_value_no_environment_file_can_carry_is_refused_unshown(tmp_path: Path) -> None:
    with pytest.raises(EnvFileError) as raised:
        write_env_file(tmp_path / "k.env", {"KINDLING_B": "it's\nsecret"}, force=False)
    assert "secret" not in str(raised.value)
    assert "nothing written" in str(raised.value)
    assert not (tmp_path / "k.env").exists()


def test_x_pin_flow_gets_the_access_token_and_writes_all_four_keys(tmp_path: Path) -> None:
    """As a user does it: the command prints X's authorise URL, the user opens it (here: GET),
    reads the PIN and types it in; the fake checks every signature and hands over the token."""
    with XFakeServer() as server:
        account = server.state.account
        (tmp_path / "config.toml").write_text(
            f'[x]\napi_base_url = "{server.url}"\ntimeout_seconds = 5.0\n', encoding="utf-8"
        )
        environment = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
        environment |= {
            "KINDLING_X_API_KEY": account.consumer_key,
            "KINDLING_X_API_SECRET": account.consumer_secret,
        }
        output, code = _login_x(tmp_path, environment, pin_of=_pin_shown)
        assert code == 0, output
        assert server.state.violations == []
    env = tmp_path / "kindling.env"
    assert env.read_text(encoding="utf-8") == (
        f"KINDLING_X_API_KEY={account.consumer_key}\n"
        f"KINDLING_X_API_SECRET={account.consumer_secret}\n"
        f"KINDLING_X_ACCESS_TOKEN={account.access_token}\n"
        f"KINDLING_X_ACCESS_TOKEN_SECRET={account.access_token_secret}\n"
    )
    assert mode(env) == 0o600
    assert f"x: account {account.username} accepted the credentials" in output
    for value in (account.consumer_secret, account.access_token, account.access_token_secret):
        assert value not in output


def test_x_wrong_pin_is_refused_and_nothing_written(tmp_path: Path) -> None:
    with XFakeServer() as server:
        account = server.state.account
        (tmp_path / "config.toml").write_text(
            f'[x]\napi_base_url = "{server.url}"\n', encoding="utf-8"
        )
        environment = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
        environment |= {
            "KINDLING_X_API_KEY": account.consumer_key,
            "KINDLING_X_API_SECRET": account.consumer_secret,
        }
        output, code = _login_x(tmp_path, environment, pin_of=lambda url: "0000000x")
        assert code == 1
        assert "kindling login x: refused: the PIN was refused" in output
        assert not (tmp_path / "kindling.env").exists()

        environment["KINDLING_X_API_SECRET"] = "not-the-app-secret"
        output, code = _login_x(tmp_path, environment, pin_of=lambda url: "")
        assert code == 1
        assert "refused: the app key or secret was refused (KINDLING_X_API_KEY" in output
        assert "not-the-app-secret" not in output


def _pin_shown(url: str) -> str:
    page = httpx.get(url, timeout=10).text
    found = re.search(r"<code id='oauth_pin'>(\d+)</code>", page)
    assert found, page
    return found.group(1)


def _login_x(
    folder: Path, environment: dict[str, str], pin_of: Callable[[str], str]
) -> tuple[str, int]:
    """Run `kindling login x --stdin`; when it prints the URL, answer with pin_of(url)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "login", "x", "--stdin"],
        cwd=folder,
        env=environment | {"PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("  http"):
            process.stdin.write(pin_of(line.strip()) + "\n")
            process.stdin.close()
    process.wait(timeout=60)
    return "".join(lines), process.returncode


@pytest.mark.bluesky
def test_bluesky_login_then_doctor_against_the_real_pds(
    bluesky_network: BlueskyNetwork, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("KINDLING_"):
            monkeypatch.delenv(name)
    account = bluesky_network.account("kindling")
    (workdir / "config.toml").write_text(
        f'[bluesky]\nservice_url = "{bluesky_network.pds_url}"\n', encoding="utf-8"
    )
    result = kindling("login", "bluesky", "--handle", account.handle, input="wrong-pass\n")
    assert result.exit_code == 1
    assert "kindling login bluesky: refused:" in result.output
    assert not (workdir / "kindling.env").exists()

    result = kindling("login", "bluesky", "--handle", account.handle, input=f"{account.password}\n")
    assert result.exit_code == 0, result.output
    assert account.password not in result.output
    env = workdir / "kindling.env"
    assert env.read_text(encoding="utf-8") == (
        f"KINDLING_BLUESKY_HANDLE={account.handle}\n"
        f"KINDLING_BLUESKY_APP_PASSWORD={account.password}\n"
    )
    assert mode(env) == 0o600

    for line in env.read_text(encoding="utf-8").splitlines():
        monkeypatch.setenv(*line.split("=", 1))
    (workdir / "data").mkdir(mode=0o750)
    assert kindling("db", "upgrade").exit_code == 0
    result = kindling("doctor")
    assert result.exit_code == 0, result.output
    assert f"ok   bluesky credentials: account {account.handle}" in result.output.splitlines()
    assert "ok   bluesky clock: within 30 s of bluesky's clock" in result.output.splitlines()
    assert account.password not in result.output
