"""config.toml: documented settings, defaults, located errors, secrets only from the environment."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.config import SECRET_VARIABLES, Secrets, iter_settings, load_config
from bot.problems import ProblemsFound

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.toml"


def _documented_keys(text: str) -> dict[tuple[str, ...], str]:
    """Each key of config.toml with the comment lines directly above it."""
    documented: dict[tuple[str, ...], str] = {}
    table: tuple[str, ...] = ()
    comment: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("# "))
            continue
        header = re.fullmatch(r"\[([^\]]+)\]", stripped)
        if header:
            table = tuple(header.group(1).split("."))
        elif "=" in stripped:
            documented[(*table, stripped.split("=")[0].strip())] = " ".join(comment).strip()
        if stripped and not stripped.startswith("#"):
            comment = [] if "=" in stripped else comment
    return documented


def test_every_setting_is_in_config_toml_with_a_comment():
    documented = _documented_keys(CONFIG.read_text(encoding="utf-8"))
    undocumented = []
    for path, field in iter_settings():
        if not documented.get(path):
            undocumented.append(".".join(path))
        assert field.description, f"{'.'.join(path)} has no description in bot/config.py"
    assert undocumented == [], (
        f"settings missing from config.toml or without a comment: {undocumented}"
    )


def test_config_toml_has_no_key_the_settings_do_not_know():
    documented = _documented_keys(CONFIG.read_text(encoding="utf-8"))
    known = {path for path, _ in iter_settings()}
    assert set(documented) - known == set()


def test_shipped_config_toml_equals_the_defaults():
    config = load_config(CONFIG)
    assert config.settings.model_dump() == type(config.settings)().model_dump()
    assert tomllib.loads(CONFIG.read_text(encoding="utf-8"))  # parses as TOML


def test_default_database_is_a_sqlite_file_in_the_data_directory(monkeypatch):
    monkeypatch.delenv("KINDLING_DATABASE_URL", raising=False)
    config = load_config(CONFIG)
    assert config.database_url == f"sqlite:///{ROOT / 'data' / 'kindling.sqlite3'}"


def test_database_url_from_the_environment_wins(monkeypatch):
    monkeypatch.setenv("KINDLING_DATABASE_URL", "postgresql+psycopg://k@127.0.0.1/k")
    assert load_config(CONFIG).database_url == "postgresql+psycopg://k@127.0.0.1/k"


def test_service_urls_from_the_environment_win(monkeypatch):
    monkeypatch.setenv("KINDLING_BLUESKY_SERVICE_URL", "http://127.0.0.1:2583")
    monkeypatch.setenv("KINDLING_X_API_BASE_URL", "http://127.0.0.1:8080")
    monkeypatch.setenv("KINDLING_MASTODON_INSTANCE_URL", "https://mastodon.example")
    settings = load_config(CONFIG).settings
    assert settings.bluesky.service_url == "http://127.0.0.1:2583"
    assert settings.x.api_base_url == "http://127.0.0.1:8080"
    assert settings.mastodon.instance_url == "https://mastodon.example"
    assert settings.bluesky.handle == ""  # the rest as config.toml says
    monkeypatch.delenv("KINDLING_BLUESKY_SERVICE_URL")
    file_only = load_config(None).with_env_file({"KINDLING_BLUESKY_SERVICE_URL": "http://f:1"})
    assert file_only.settings.bluesky.service_url == "http://f:1"
    under = load_config(None).with_env_file({"KINDLING_X_API_BASE_URL": "http://f:2"})
    assert under.settings.x.api_base_url == "http://127.0.0.1:8080"  # the environment wins


def test_no_config_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(None)
    assert config.settings.general.timezone == "Europe/London"
    assert config.campaigns_dir == tmp_path / "campaigns"


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProblemsFound) as found:
        load_config(path)
    return [str(p).removeprefix(str(path)) for p in found.value.problems]


def test_secret_in_config_is_an_error_that_does_not_echo_it(tmp_path):
    problems = _problems(tmp_path, '[x]\ndaily_cap = 3\napi_key = "s3cr3t-VALUE"\n')
    assert problems == [
        ":3:1: 'x.api_key' looks like a secret: secrets must not be written in config.toml "
        "(the value is not shown); remove it and set KINDLING_X_API_KEY in the environment"
    ]
    assert "s3cr3t" not in "".join(problems)


def test_bluesky_app_password_in_config_names_its_variable(tmp_path):
    problems = _problems(tmp_path, '[bluesky]\napp_password = "abcd-efgh"\n')
    assert problems[0].endswith("set KINDLING_BLUESKY_APP_PASSWORD in the environment")
    assert "KINDLING_BLUESKY_APP_PASSWORD" in SECRET_VARIABLES


def test_unknown_setting_with_suggestion_and_wrong_type(tmp_path):
    problems = _problems(tmp_path, '[x]\ndaly_cap = 3\n\n[bluesky]\ndaily_cap = "many"\n')
    assert problems == [
        ":2:1: unknown setting 'x.daly_cap' (did you mean 'daily_cap'?)",
        ":5:1: 'bluesky.daily_cap': input should be a valid integer, unable to parse string as an integer",
    ]


def test_toml_syntax_error_is_located(tmp_path):
    assert _problems(tmp_path, "[x]\ndaily_cap = = 3\n") == [
        ":2:13: TOML syntax error: Invalid value"
    ]


def test_invalid_default_timezone(tmp_path):
    assert _problems(tmp_path, '[general]\ntimezone = "Wales/Cardiff"\n') == [
        ":2:1: 'general.timezone': 'Wales/Cardiff' is not an IANA time zone (e.g. Europe/London, Europe/Dublin)"
    ]


def test_secrets_come_from_the_environment_and_never_show_in_repr():
    secrets = Secrets.from_environment(
        {
            "KINDLING_X_API_KEY": "key-value",
            "KINDLING_BLUESKY_APP_PASSWORD": "pw-value",
            "OTHER": "x",
        }
    )
    assert secrets.get("KINDLING_X_API_KEY") == "key-value"
    assert secrets.get("KINDLING_X_API_SECRET") is None
    shown = repr(secrets)
    assert "key-value" not in shown and "pw-value" not in shown
    assert "KINDLING_X_API_KEY" in shown


def test_config_imports_no_campaign_module():
    """Layers: config sits below the campaign model, so it must not import it (issue 12)."""
    probe = "import sys, bot.config; print(sorted(m for m in sys.modules if m.startswith('bot.')))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = result.stdout.strip()
    assert "bot.campaign" not in loaded, loaded


def test_limits_have_safe_defaults_and_bad_values_are_located(tmp_path):
    limits = load_config(CONFIG).settings.limits
    assert limits.campaign_file_bytes == 1_000_000
    assert limits.render_seconds > 0 and limits.loop_iterations > 0
    assert _problems(tmp_path, "[limits]\nrender_seconds = 0\nloop_iterations = -5\n") == [
        ":2:1: 'limits.render_seconds': input should be greater than 0",
        ":3:1: 'limits.loop_iterations': input should be greater than or equal to 1",
    ]


def test_a_limit_can_be_raised_in_config_toml(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[limits]\ncampaign_file_bytes = 5000000\n", encoding="utf-8")
    assert load_config(path).settings.limits.campaign_file_bytes == 5_000_000


def test_file_limit_defaults_match_the_settings():
    """The campaign layer cannot import config: its FileLimits repeats the defaults."""
    from bot.campaign.loader import FileLimits
    from bot.campaign.targets_csv import DEFAULT_MAX_BYTES
    from bot.config import LimitsSettings

    defaults = LimitsSettings()
    assert FileLimits() == FileLimits(defaults.campaign_file_bytes, defaults.targets_file_bytes)
    assert defaults.targets_file_bytes == DEFAULT_MAX_BYTES


def test_alert_email_settings_are_checked_and_located(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        '[alerts.email]\nhost = "smtp.example.org"\nsecurity = "none"\nusername = "me"\n'
        'from_address = "k@example.org"\nto = ["o@example.org"]\n'
        '[alerts.webhook]\nurl = "ftp://example.org/hook"\n',
        encoding="utf-8",
    )
    with pytest.raises(ProblemsFound) as found:
        load_config(path)
    messages = [f"{p.line}:{p.message}" for p in found.value.problems]
    assert any("password in the clear" in m for m in messages)
    assert any(m.startswith("8:") and "http:// or https://" in m for m in messages)
    path.write_text('[alerts.email]\nhost = "smtp.example.org"\n', encoding="utf-8")
    with pytest.raises(ProblemsFound, match="needs from_address"):
        load_config(path)


def test_a_weekly_report_email_without_an_smtp_server_is_refused(tmp_path):
    problems = _problems(tmp_path, "[report]\nweekly_email = true\n")
    assert problems == [
        ":1:1: [report] weekly_email needs an SMTP server: set host, from_address and to in "
        "[alerts.email]"
    ]
