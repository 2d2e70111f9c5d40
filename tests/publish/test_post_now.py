"""`kindling post` publishes what the daemon would: the message's image and its alt text too
(issue 11, finding 7: the manual post went out without its picture)."""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.checks.registry import CampaignRegistry
from bot.config import load_config
from bot.publish.timeline import planned_posts
from tests.fakes.x_process import x_fake_process

X_KEYS = {
    "KINDLING_X_API_KEY": "post-now-consumer-key",
    "KINDLING_X_API_SECRET": "post-now-consumer-secret",
    "KINDLING_X_ACCESS_TOKEN": "1-post-now-access-token",
    "KINDLING_X_ACCESS_TOKEN_SECRET": "post-now-access-secret",
}
ALT = {"en": "A red square: the campaign's logo", "cy": "Sgwâr coch: logo'r ymgyrch"}
CAMPAIGN = f"""\
id: demo
name: {{en: "Campaign", cy: "Ymgyrch"}}
languages: [en, cy]
timezone: Europe/London
active: {{start: 2026-12-01, end: 2099-01-31}}
platforms: [x]
messages:
  - id: launch
    schedule: {{daily: ["10:00"]}}
    text: {{en: "Read the letter", cy: "Darllenwch y llythyr"}}
    image: {{path: logo.png, alt: {{en: "{ALT["en"]}", cy: "{ALT["cy"]}"}}}}
"""


def png(path: Path) -> Path:
    """A real (tiny, red) PNG file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" + b"\xff\x00\x00" * 2)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
    return path


def make_project(root: Path, x_url: str = "http://127.0.0.1:9") -> Path:
    project = root / "project"
    (project / "campaigns").mkdir(parents=True)
    (project / "templates").mkdir()
    (project / "campaigns" / "demo.yaml").write_text(CAMPAIGN, encoding="utf-8")
    png(project / "campaigns" / "logo.png")
    (project / "config.toml").write_text(
        f'[x]\napi_base_url = "{x_url}"\ntimeout_seconds = 5.0\n', encoding="utf-8"
    )
    return project


def kindling(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    env.update(X_KEYS)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


def outbox_images(project: Path) -> list[tuple[str, str, list[dict[str, str]]]]:
    with sqlite3.connect(project / "data" / "kindling.sqlite3") as connection:
        rows = connection.execute("SELECT language, state, images FROM outbox ORDER BY id")
        return [(language, state, json.loads(images or "[]")) for language, state, images in rows]


def daemon_images(project: Path, language: str) -> list[dict[str, str]]:
    """The image the daemon plans for this message's next slot in `language`."""
    config = load_config(project / "config.toml")
    registry = CampaignRegistry(config)
    assert registry.load() == []
    start = datetime.now(UTC)
    posts = planned_posts(
        registry.campaigns()[0], start, start + timedelta(days=2), config.settings
    )
    post = next(p for p in posts if p.slot.language == language)
    return [{"path": str(image.path), "alt": image.alt} for image in post.images]


def test_a_manual_post_carries_the_image_the_daemon_would_post(tmp_path):
    project = make_project(tmp_path)
    done = kindling(project, "post", "demo", "launch", "--dry-run")
    assert done.returncode == 0, done.stderr
    recorded = outbox_images(project)
    assert [(language, state) for language, state, _ in recorded] == [
        ("en", "sent"),
        ("cy", "sent"),
    ]
    for language, _, images in recorded:
        assert images == daemon_images(project, language)
        assert [image["alt"] for image in images] == [ALT[language]]
        assert Path(images[0]["path"]).resolve() == (project / "campaigns" / "logo.png").resolve()


@pytest.fixture
def x_fake(tmp_path: Path) -> Iterator[str]:
    with x_fake_process(tmp_path, X_KEYS) as url:
        yield url


@pytest.mark.xfake
def test_a_manual_post_on_x_uploads_the_image_with_its_alt_text(tmp_path, x_fake):
    project = make_project(tmp_path, x_fake)
    done = kindling(project, "post", "demo", "launch", "--language", "cy")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "x cy: sent"
    state = httpx.get(f"{x_fake}/_fake/state", timeout=10).json()
    assert state["violations"] == [] and state["response_violations"] == []
    [post] = state["posts"]
    assert post["text"] == "Darllenwch y llythyr"
    [media] = state["media"]
    assert post["media_ids"] == [media["id"]]
    assert media["alt_text"] == ALT["cy"]
    assert media["size"] == (project / "campaigns" / "logo.png").stat().st_size
