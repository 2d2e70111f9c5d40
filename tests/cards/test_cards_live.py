"""Issue 13, done when: a daemon (`kindling run`, a real process) against the real local Bluesky
network and the fake X server posts a quote with its card and alt text on both, read back from
the servers (the PDS's record and blob, the fake X's media), and a ~3 MB photo goes to Bluesky
as the re-encoded copy under its 1,000,000-byte limit (the blob the PDS stored is that size).
Slow: the network's start and a wait for the next minute's slot."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.fakes.x_process import x_fake_process as running_x_fake
from tests.peers.bluesky_network import BlueskyNetwork

pytestmark = [pytest.mark.bluesky, pytest.mark.xfake]

ROOT = Path(__file__).resolve().parents[2]
X_KEYS = {
    "KINDLING_X_API_KEY": "cards-live-consumer-key",
    "KINDLING_X_API_SECRET": "cards-live-consumer-secret",
    "KINDLING_X_ACCESS_TOKEN": "1-cards-live-access-token",
    "KINDLING_X_ACCESS_TOKEN_SECRET": "cards-live-access-secret",
}
ALT = {
    "cy": "“Daliwch draed eich arweinwyr at y tân.” — Gwenllïan Ŵyn, Cyfarwyddwr",
    "en": "“Hold your leaders’ feet to the fire.” — Gwenllïan Ŵyn, Director",
}
PHOTO_ALT = {"cy": "Afon lân yn y wawr", "en": "A clean river at dawn"}
BLUESKY_LIMIT = 1_000_000


def noisy_photo(path: Path) -> bytes:
    """A deterministic photo-like JPEG of about 3 MB: a gradient under heavy grain, which
    compresses badly at quality 95 and fits Bluesky only re-encoded."""
    width, height = 2000, 1500
    grain = Image.frombytes("RGB", (width, height), random.Random(13).randbytes(width * height * 3))
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    Image.blend(gradient, grain, 0.7).save(path, "JPEG", quality=95)
    return path.read_bytes()


def project_for(
    tmp_path: Path, network: BlueskyNetwork, x_url: str, messages: str
) -> tuple[Path, dict[str, str]]:
    """A project posting every minute from the next minute for two minutes, on X and Bluesky."""
    project = tmp_path / "project"
    (project / "campaigns").mkdir(parents=True)
    (project / "templates").mkdir()
    (project / "config.toml").write_text(
        f'[x]\napi_base_url = "{x_url}"\ntimeout_seconds = 10.0\n'
        f'[bluesky]\nservice_url = "{network.pds_url}"\ntimeout_seconds = 15.0\n'
    )
    begin = datetime.now(UTC).replace(second=0, microsecond=0)
    end = begin + timedelta(minutes=2)
    (project / "campaigns" / "cards.yaml").write_text(
        "id: cards\nname: {cy: Cardiau, en: Cards}\nlanguages: [cy, en]\ntimezone: UTC\n"
        f"active: {{start: '{begin:%Y-%m-%d %H:%M}', end: '{end:%Y-%m-%d %H:%M}'}}\n"
        "platforms: [x, bluesky]\nhashtags: [Cymru]\n"
        "links: {letter: 'https://example.org/letter'}\n"
        "quote_pools:\n  - id: pool\n    quotes:\n      - id: feet\n"
        "        who: Gwenllïan Ŵyn\n        role: {cy: Cyfarwyddwr, en: Director}\n"
        "        text: {cy: 'Daliwch draed eich arweinwyr at y tân.', "
        "en: 'Hold your leaders’ feet to the fire.'}\n        source: letter\n"
        f"messages:\n{messages}",
        encoding="utf-8",
    )
    account = network.account("kindling")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    env.update(
        X_KEYS,
        KINDLING_BLUESKY_HANDLE=account.handle,
        KINDLING_BLUESKY_APP_PASSWORD=account.password,
        PYTHONPATH=str(ROOT),  # this checkout's code, whatever the venv has installed
    )
    return project, env


def outbox(project: Path) -> list[dict[str, Any]]:
    database = project / "data" / "kindling.sqlite3"
    if not database.exists():
        return []
    try:
        with sqlite3.connect(database) as connection:
            rows = connection.execute(
                "SELECT message_id, language, platform, state, images, remote_id, slot_at "
                "FROM outbox ORDER BY id"
            ).fetchall()
    except sqlite3.OperationalError:  # the daemon is still making its tables
        return []
    return [
        {
            "message": m,
            "language": lang,
            "platform": p,
            "state": s,
            "images": json.loads(i or "[]"),
            "remote_id": r,
            "slot": slot,
        }
        for m, lang, p, s, i, r, slot in rows
    ]


def run_until(project: Path, env: dict[str, str], log: Path, done: Any, seconds: float) -> None:
    """`kindling run` until `done(outbox rows)` holds (or the deadline passes), then SIGTERM."""
    with log.open("a") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=project, env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + seconds
        while not done(outbox(project)):
            assert daemon.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, (outbox(project), log.read_text()[-3000:])
            time.sleep(0.5)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)


def first_slot_sent(count: int) -> Any:
    def done(rows: list[dict[str, Any]]) -> bool:
        if not rows:
            return False
        first = min(row["slot"] for row in rows)
        return sum(1 for r in rows if r["slot"] == first and r["state"] == "sent") >= count

    return done


def bluesky_post(network: BlueskyNetwork, uri: str) -> dict[str, Any]:
    return network.login("kindling").get_record(uri)["value"]


def bluesky_blob(network: BlueskyNetwork, blob: dict[str, Any]) -> bytes:
    did = network.account("kindling").did
    answer = httpx.get(
        f"{network.pds_url}/xrpc/com.atproto.sync.getBlob",
        params={"did": did, "cid": blob["ref"]["$link"]},
        timeout=30,
    )
    answer.raise_for_status()
    return answer.content


@pytest.fixture
def x_fake(tmp_path: Path):
    with running_x_fake(tmp_path, X_KEYS) as url:
        yield url


@pytest.mark.timeout(600)  # the network's first start, and up to a minute to the first slot
def test_a_daemon_posts_the_quote_card_with_alt_text_and_a_fitted_photo_on_x_and_bluesky(
    tmp_path: Path, bluesky_network: BlueskyNetwork, x_fake: str
) -> None:
    messages = (
        "  - id: voices\n    schedule: {cron: '* * * * *'}\n"
        "    text: {cy: '{{ quote.text.cy }} {{ link }} {{ slot }}', "
        "en: '{{ quote.text.en }} {{ link }} {{ slot }}'}\n"
        "    quote_pool: pool\n    card: true\n"
        "  - id: photo\n    schedule: {cron: '* * * * *'}\n"
        "    text: {cy: 'Yr afon {{ slot }}', en: 'The river {{ slot }}'}\n"
        "    image: {path: river.jpg, alt: {cy: 'Afon lân yn y wawr', en: 'A clean river at dawn'}}\n"
    )
    project, env = project_for(tmp_path, bluesky_network, x_fake, messages)
    photo = noisy_photo(project / "campaigns" / "river.jpg")
    assert 2_900_000 < len(photo) < 3_300_000

    # 2 messages x 2 languages x 2 platforms in the first minute's slot
    run_until(project, env, tmp_path / "daemon.log", first_slot_sent(8), 240)

    rows = outbox(project)
    first = min(row["slot"] for row in rows)
    sent = [r for r in rows if r["slot"] == first and r["state"] == "sent"]
    x_state = httpx.get(f"{x_fake}/_fake/state", timeout=30).json()
    assert x_state["violations"] == []
    x_posts = {p["id"]: p for p in x_state["posts"]}
    x_media = {m["id"]: m for m in x_state["media"]}
    assert len(sent) == 8, rows
    for row in sent:
        language = row["language"]
        alt = ALT[language] if row["message"] == "voices" else PHOTO_ALT[language]
        [image] = row["images"]
        path = Path(image["path"])
        assert image["alt"] == alt
        if row["platform"] == "x":
            [media_id] = x_posts[row["remote_id"]]["media_ids"]
            assert x_media[media_id]["alt_text"] == alt  # what the fake X server stored
            assert x_media[media_id]["size"] == path.stat().st_size
            continue
        record = bluesky_post(bluesky_network, row["remote_id"])  # read back from the PDS
        [embedded] = record["embed"]["images"]
        assert record["embed"]["$type"] == "app.bsky.embed.images"
        assert embedded["alt"] == alt
        blob = bluesky_blob(bluesky_network, embedded["image"])
        assert embedded["image"]["size"] == len(blob) == path.stat().st_size
        assert blob == path.read_bytes()
        with Image.open(io.BytesIO(blob)) as stored:
            shown = (stored.format, stored.size)
        if row["message"] == "voices":
            assert shown == ("PNG", (1200, 675)) and embedded["image"]["mimeType"] == "image/png"
        else:  # the fitted copy, not the 3 MB original
            assert len(blob) < BLUESKY_LIMIT < len(photo)
            assert shown[0] == "JPEG" and embedded["image"]["mimeType"] == "image/jpeg"
    # Every post of that slot went out once on each server: counted there, not in our database.
    assert len([r for r in rows if r["slot"] == first]) == len(sent) == 8
    x_sent = [r for r in rows if r["platform"] == "x" and r["state"] == "sent"]
    assert len(x_state["posts"]) == len(x_sent)  # nothing on X that the outbox does not know
    did = bluesky_network.account("kindling").did
    texts = Counter(r["value"]["text"] for r in bluesky_network.login("kindling").list_records(did))
    for row in sent:
        if row["platform"] == "bluesky":
            assert texts[bluesky_post(bluesky_network, row["remote_id"])["text"]] == 1
