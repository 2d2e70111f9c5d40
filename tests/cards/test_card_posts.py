"""Issue 13, point 3: a message with a quote pool and `card: true` posts the rotated quote's
landscape card, in the post's language, with its alt text, through the outbox, on every platform
(the fake X server and the Mastodon stand-in over real HTTP; a dry-run daemon)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from bot.checks.registry import CampaignRegistry
from bot.config import XPrices, load_config
from bot.publish.budget import Budget
from bot.publish.outbox import Outbox
from bot.publish.timeline import planned_posts
from bot.store.engine import Store
from bot.store.migrate import upgrade
from bot.store.tables import OutboxRow
from tests.fakes.mastodon_server import MastodonFakeServer
from tests.fakes.x_process import x_fake_process

X_KEYS = {
    "KINDLING_X_API_KEY": "card-posts-consumer-key",
    "KINDLING_X_API_SECRET": "card-posts-consumer-secret",
    "KINDLING_X_ACCESS_TOKEN": "1-card-posts-access-token",
    "KINDLING_X_ACCESS_TOKEN_SECRET": "card-posts-access-secret",
}
CAMPAIGN = """\
id: demo
name: {en: "Campaign", cy: "Ymgyrch"}
languages: [cy, en]
timezone: Europe/London
active: {start: 2026-12-01, end: 2099-01-31}
platforms: [x, mastodon]
hashtags: [Cymru]
links: {letter: "https://example.org/letter"}
messages:
  - id: voices
    schedule: {daily: ["10:00"]}
    text: {cy: "{{ quote.text.cy }} {{ link }}", en: "{{ quote.text.en }} {{ link }}"}
    quote_pool: pool
    card: true
  - id: plain
    schedule: {daily: ["11:00"]}
    text: {cy: "Darllenwch {{ link }}", en: "Read {{ link }}"}
quote_pools:
  - id: pool
    quotes:
      - id: feet
        who: Nick Andrews
        role: {cy: Cyfarwyddwr, en: Director}
        text: {cy: "Daliwch draed eich arweinwyr at y tân.", en: "Hold your leaders’ feet to the fire."}
        source: letter
      - id: voice
        who: Gwenllïan Ŵyn
        text: {cy: "Mae gan bawb lais.", en: "Everyone has a voice."}
        source: letter
"""
ALT = {
    "cy": "“Daliwch draed eich arweinwyr at y tân.” — Nick Andrews, Cyfarwyddwr",
    "en": "“Hold your leaders’ feet to the fire.” — Nick Andrews, Director",
}


def make_project(root: Path, config: str = "", campaign: str = CAMPAIGN) -> Path:
    project = root / "project"
    (project / "campaigns").mkdir(parents=True)
    (project / "templates").mkdir()
    (project / "campaigns" / "demo.yaml").write_text(campaign, encoding="utf-8")
    (project / "config.toml").write_text(config, encoding="utf-8")
    return project


def kindling(project: Path, *args: str, token: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    env.update(X_KEYS)
    env["KINDLING_MASTODON_ACCESS_TOKEN"] = token or "unused-token"
    env["COLUMNS"] = "300"  # tables unwrapped
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def outbox_rows(project: Path) -> list[tuple[str, str, str, str, list[dict[str, str]]]]:
    with sqlite3.connect(project / "data" / "kindling.sqlite3") as connection:
        rows = connection.execute(
            "SELECT message_id, language, platform, state, images FROM outbox ORDER BY id"
        )
        return [(m, lang, p, s, json.loads(images or "[]")) for m, lang, p, s, images in rows]


def reviewed_card(project: Path, name: str) -> bytes:
    """The card as `kindling cards --out` writes it for review."""
    done = kindling(project, "cards", "demo", "--out", "review")
    assert done.returncode == 0, done.stdout + done.stderr
    return (project / "review" / name).read_bytes()


def posted_card(project: Path, language: str, platform: str) -> Path:
    """The one image the outbox recorded for the sent `voices` post; it is in the card cache."""
    [images] = [
        images
        for message, lang, name, state, images in outbox_rows(project)
        if (message, lang, name, state) == ("voices", language, platform, "sent")
    ]
    [image] = images
    assert image["alt"] == ALT[language]
    path = Path(image["path"])
    assert path.parent.resolve() == (project / "data/cache/images/cards").resolve()
    with Image.open(path) as card:
        assert (card.format, card.size) == ("PNG", (1200, 675))
    return path


def test_card_without_a_quote_pool_is_a_located_check_error(tmp_path: Path) -> None:
    wrong = CAMPAIGN.replace(
        '    text: {cy: "Darllenwch {{ link }}", en: "Read {{ link }}"}\n',
        '    text: {cy: "Darllenwch {{ link }}", en: "Read {{ link }}"}\n    card: true\n',
    )
    project = make_project(tmp_path, campaign=wrong)
    done = kindling(project, "check")
    assert done.returncode == 1
    assert "campaigns/demo.yaml:18:11: " in done.stdout
    assert "'card: true' needs a 'quote_pool'" in done.stdout


@pytest.fixture
def x_fake(tmp_path: Path) -> Iterator[str]:
    with x_fake_process(tmp_path, X_KEYS) as url:
        yield url


@pytest.mark.xfake
def test_a_post_on_x_uploads_the_quote_card_with_its_alt_text(tmp_path: Path, x_fake: str) -> None:
    project = make_project(tmp_path, f'[x]\napi_base_url = "{x_fake}"\ntimeout_seconds = 5.0\n')
    done = kindling(project, "post", "demo", "voices", "--platform", "x", "--language", "cy")
    assert done.returncode == 0, done.stdout + done.stderr
    state = httpx.get(f"{x_fake}/_fake/state", timeout=10).json()
    assert state["violations"] == [] and state["response_violations"] == []
    [post] = state["posts"]
    assert post["text"] == "Daliwch draed eich arweinwyr at y tân. https://example.org/letter"
    [media] = state["media"]
    assert post["media_ids"] == [media["id"]]
    assert media["alt_text"] == ALT["cy"]
    card = posted_card(project, "cy", "x")
    assert media["size"] == card.stat().st_size
    assert card.read_bytes() == reviewed_card(project, "feet.cy.landscape.png")


@pytest.fixture
def mastodon() -> Iterator[MastodonFakeServer]:
    with MastodonFakeServer() as server:
        yield server
        assert server.state.violations == []
        assert server.state.response_violations == []


def test_a_post_on_mastodon_carries_the_card_with_its_description(
    tmp_path: Path, mastodon: MastodonFakeServer
) -> None:
    config = f'[mastodon]\ninstance_url = "{mastodon.url}"\ntimeout_seconds = 5.0\n'
    project = make_project(tmp_path, config)
    token = mastodon.state.token
    done = kindling(
        project, "post", "demo", "voices", "--platform", "mastodon", "--language", "en", token=token
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [status] = mastodon.state.own_statuses()
    read = httpx.get(
        f"{mastodon.url}/api/v1/statuses/{status.id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    read.raise_for_status()
    [attachment] = read.json()["media_attachments"]
    assert attachment["description"] == ALT["en"]
    card = posted_card(project, "en", "mastodon")
    assert [mastodon.state.media[m].size for m in status.media_ids] == [card.stat().st_size]
    assert card.read_bytes() == reviewed_card(project, "feet.en.landscape.png")


def test_a_dry_run_daemon_posts_each_slot_with_its_quotes_card(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    done = kindling(project, "run", "--dry-run", "--from", "2026-12-01T09:59:50", "--until", "+30s")
    assert done.returncode == 0, done.stderr
    sent = [row for row in outbox_rows(project) if row[3] == "sent"]
    assert sorted((m, lang, p) for m, lang, p, _, _ in sent) == [
        ("voices", "cy", "mastodon"),
        ("voices", "cy", "x"),
        ("voices", "en", "mastodon"),
        ("voices", "en", "x"),
    ]
    for language in ("cy", "en"):
        cards = {posted_card(project, language, p) for p in ("x", "mastodon")}
        assert len(cards) == 1  # one drawing, posted on both platforms
        [card] = cards
        assert card.read_bytes() == reviewed_card(project, f"feet.{language}.landscape.png")
    plain = [images for m, _, _, _, images in outbox_rows(project) if m == "plain"]
    assert plain and all(images == [] for images in plain)


def _plan(project: Path, store: Store, now: datetime) -> dict[str, str]:
    """The daemon's planning step (into the outbox); the image of the planned `voices` row in
    cy on x."""
    config = load_config(project / "config.toml")
    registry = CampaignRegistry(config)
    assert registry.load() == []
    end = now + timedelta(hours=2)
    cache = project / "data/cache/images/cards"
    posts = planned_posts(registry.campaigns()[0], now, end, config.settings, cache)
    outbox = Outbox(store, "live", Budget(store, 100.0), XPrices())
    outbox.sync("demo", posts, now, end, now)
    with store.read() as session:
        [images] = session.scalars(
            select(OutboxRow.images).where(
                OutboxRow.message_id == "voices",
                OutboxRow.language == "cy",
                OutboxRow.platform == "x",
                OutboxRow.state == "planned",
            )
        ).all()
    [image] = json.loads(images)
    return dict(image)


def test_a_planned_post_keeps_its_card_file_and_follows_an_edited_quote(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "data").mkdir()
    url = f"sqlite:///{project / 'data' / 'kindling.sqlite3'}"
    upgrade(url)
    store = Store(url)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    try:
        first = _plan(project, store, now)
        drawn = Path(first["path"]).read_bytes()
        Path(first["path"]).unlink()  # the cache emptied before the post was sent
        again = _plan(project, store, now)
        assert again == first
        assert Path(again["path"]).read_bytes() == drawn  # drawn again, the same bytes
        campaign = project / "campaigns" / "demo.yaml"
        edited = CAMPAIGN.replace("at y tân.", "at y tân, bob dydd.").replace(
            "Mae gan bawb lais.", "Mae gan bawb lais, bob dydd."
        )
        campaign.write_text(edited, encoding="utf-8")
        changed = _plan(project, store, now)
        assert changed["path"] != first["path"]
        assert "bob dydd." in changed["alt"]
        assert Path(changed["path"]).is_file()
    finally:
        store.dispose()


def test_preview_and_simulate_name_each_posts_card(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    previewed = kindling(project, "preview", "demo", "--json", "--kind", "post")
    assert previewed.returncode == 0, previewed.stderr
    rows = json.loads(previewed.stdout)
    cards = {(r["id"], r["quote"], r["language"], r["platform"]): r.get("card") for r in rows}
    assert cards[("voices", "feet", "cy", "x")] == "feet.cy.landscape.png"
    assert cards[("voices", "voice", "en", "mastodon")] == "voice.en.landscape.png"
    assert all("card" not in r for r in rows if r["id"] == "plain")
    table = kindling(project, "preview", "demo", "--kind", "post", "--language", "cy")
    assert table.returncode == 0, table.stderr
    assert "(card: voice.cy.landscape.png)" in table.stdout

    simulated = kindling(
        project, "simulate", "demo", "--from", "2026-12-01T09:00", "--days", "2", "--json"
    )
    assert simulated.returncode == 0, simulated.stderr
    posts = json.loads(simulated.stdout)["posts"]
    voices = [p for p in posts if p["message"] == "voices"]
    assert len(voices) == 8  # two days, two languages, two platforms
    for post in voices:
        assert post["card"] == f"{post['quote']}.{post['language']}.landscape.png"
    assert {p["quote"] for p in voices} == {"feet", "voice"}  # the card follows the rotation
    assert all("card" not in p for p in posts if p["message"] == "plain")
    shown = kindling(project, "simulate", "demo", "--from", "2026-12-01T09:00", "--days", "1")
    assert shown.returncode == 0, shown.stderr
    assert "(card: feet.cy.landscape.png)" in shown.stdout
    assert not (project / "data" / "cache").exists()  # simulate draws nothing


def test_a_card_that_cannot_be_written_stops_the_post_instead_of_dropping_the_card(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path)
    (project / "data/cache/images").mkdir(parents=True)
    (project / "data/cache/images/cards").write_text("not a folder", encoding="utf-8")
    done = kindling(project, "post", "demo", "voices", "--dry-run", "--platform", "x")
    assert done.returncode == 1
    assert "kindling post: cannot write the card to " in done.stdout + done.stderr
    database = project / "data" / "kindling.sqlite3"
    assert not database.exists() or outbox_rows(project) == []


@pytest.mark.xfake
def test_card_portrait_posts_the_portrait_card_and_preview_names_it(
    tmp_path: Path, x_fake: str
) -> None:
    portrait = CAMPAIGN.replace("    card: true\n", "    card: portrait\n")
    project = make_project(
        tmp_path, f'[x]\napi_base_url = "{x_fake}"\ntimeout_seconds = 5.0\n', campaign=portrait
    )
    previewed = kindling(project, "preview", "demo", "--json", "--kind", "post")
    assert previewed.returncode == 0, previewed.stderr
    rows = json.loads(previewed.stdout)
    cards = {
        r["quote"]: r.get("card") for r in rows if r["id"] == "voices" and r["language"] == "en"
    }
    assert set(cards.values()) == {"feet.en.portrait.png", "voice.en.portrait.png"}
    done = kindling(project, "post", "demo", "voices", "--platform", "x", "--language", "en")
    assert done.returncode == 0, done.stdout + done.stderr
    state = httpx.get(f"{x_fake}/_fake/state", timeout=10).json()
    [media] = state["media"]
    assert media["alt_text"] == ALT["en"]
    [images] = [i for m, lang, p, s, i in outbox_rows(project) if (m, s) == ("voices", "sent")]
    path = Path(images[0]["path"])
    with Image.open(path) as card:
        assert (card.format, card.size) == ("PNG", (1080, 1350))
    assert media["size"] == path.stat().st_size
    assert path.read_bytes() == reviewed_card(project, "feet.en.portrait.png")


def test_card_names_only_a_known_size(tmp_path: Path) -> None:
    project = make_project(tmp_path, campaign=CAMPAIGN.replace("card: true", "card: square"))
    done = kindling(project, "check")
    assert done.returncode == 1
    assert (
        "campaigns/demo.yaml:14:11: 'card' is true, false, landscape or portrait (the card's "
        "size), not 'square'"
    ) in done.stdout, done.stdout
