"""A campaign posting on `[x, bluesky, mastodon]`: `check` and `simulate` accept it, and
`kindling post --platform mastodon` publishes through the stand-in, image and alt text included
(issue 16: before, `platforms` refused mastodon)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.mastodon_server import MastodonFakeServer
from tests.publish.test_post_now import png

ALT = "Sgwâr coch: logo'r ymgyrch"
CAMPAIGN = f"""\
id: demo
name: {{en: "Campaign", cy: "Ymgyrch"}}
languages: [en, cy]
timezone: Europe/London
active: {{start: 2026-12-01, end: 2099-01-31}}
platforms: [x, bluesky, mastodon]
messages:
  - id: launch
    schedule: {{daily: ["10:00"]}}
    text: {{en: "Read the letter https://example.org/letter", cy: "Darllenwch y llythyr https://example.org/llythyr"}}
    image: {{path: logo.png, alt: {{en: "A red square", cy: "{ALT}"}}}}
"""


@pytest.fixture
def fake() -> Iterator[MastodonFakeServer]:
    with MastodonFakeServer() as server:
        yield server
        assert server.state.violations == []
        assert server.state.response_violations == []


def project(root: Path, instance_url: str) -> Path:
    (root / "campaigns").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "campaigns" / "demo.yaml").write_text(CAMPAIGN, encoding="utf-8")
    png(root / "campaigns" / "logo.png")
    (root / "config.toml").write_text(
        f'[mastodon]\ninstance_url = "{instance_url}"\ntimeout_seconds = 5.0\n', encoding="utf-8"
    )
    return root


def kindling(root: Path, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    env["KINDLING_MASTODON_ACCESS_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_check_simulate_and_post_on_mastodon(fake: MastodonFakeServer, tmp_path: Path) -> None:
    root = project(tmp_path / "project", fake.url)
    token = fake.state.token
    checked = kindling(root, token, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    simulated = kindling(root, token, "simulate", "demo", "--days", "2")
    assert simulated.returncode == 0, simulated.stderr
    assert "mastodon" in simulated.stdout
    posted = kindling(
        root, token, "post", "demo", "launch", "--platform", "mastodon", "--language", "cy"
    )
    assert posted.returncode == 0, posted.stdout + posted.stderr
    (status,) = fake.state.own_statuses()
    assert status.text == "Darllenwch y llythyr https://example.org/llythyr"
    assert status.language == "cy"
    assert [fake.state.media[m].description for m in status.media_ids] == [ALT]
    assert fake.state.created == 1


def test_a_token_in_config_toml_is_refused_without_echoing_it(tmp_path: Path) -> None:
    root = project(tmp_path / "project", "http://127.0.0.1:9")
    config = root / "config.toml"
    config.write_text(config.read_text() + 'access_token = "tok-SECRET-999"\n', encoding="utf-8")
    checked = kindling(root, "", "check")
    assert checked.returncode != 0
    assert "access_token" in checked.stdout + checked.stderr
    assert "tok-SECRET-999" not in checked.stdout + checked.stderr


def test_check_uses_the_configured_mastodon_length(tmp_path: Path) -> None:
    """`[mastodon] max_characters` (the instance's limit) makes an over-long post an error at
    edit time; the text counts its link as 23 characters (Mastodon's rule)."""
    root = project(tmp_path / "project", "http://127.0.0.1:9")
    config = root / "config.toml"
    config.write_text(config.read_text() + "max_characters = 40\n", encoding="utf-8")
    checked = kindling(root, "", "check")
    assert checked.returncode != 0
    output = checked.stdout + checked.stderr
    # "Read the letter " (16) + a link (23) = 39: within 40; the Welsh text is 44: too long
    assert "campaigns/demo.yaml:10:" in output
    assert "44 characters, over the limit of 40" in output
    assert output.count("over the limit") == 1
