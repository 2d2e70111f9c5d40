"""Proof under crashes: kill -9 the daemon at random moments while it posts to the fake X server,
the real local Bluesky PDS and the Mastodon stand-in; restart it each time; count on the
servers, not in our database. Every due post must exist exactly once on each server: 0 lost,
0 duplicated."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.fakes.mastodon_process import mastodon_fake_process as running_mastodon_fake
from tests.fakes.x_process import x_fake_process as running_x_fake
from tests.peers.bluesky_network import BlueskyNetwork

pytestmark = [pytest.mark.crash, pytest.mark.bluesky, pytest.mark.xfake]

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 50  # each every minute, on X, Bluesky and Mastodon: 150 posts a minute
PLATFORMS = 3
MASTODON_TOKEN = "crash-mastodon-token"
WINDOW_MINUTES = 8
X_KEYS = {
    "KINDLING_X_API_KEY": "crash-consumer-key",
    "KINDLING_X_API_SECRET": "crash-consumer-secret",
    "KINDLING_X_ACCESS_TOKEN": "1-crash-access-token",
    "KINDLING_X_ACCESS_TOKEN_SECRET": "crash-access-secret",
}


@pytest.fixture
def x_fake_process(tmp_path: Path):
    # X allows 100 creates per 15 minutes; this test posts more than that on purpose.
    with running_x_fake(tmp_path, X_KEYS, limits={"POST /2/tweets": 100000}) as url:
        yield url


@pytest.fixture
def mastodon_fake_process(tmp_path: Path):
    # Mastodon allows 300 calls per 5 minutes and 300 statuses per 3 hours: lifted likewise.
    unlimited = {"*": (1_000_000, 300), "POST /api/v1/statuses": (1_000_000, 10800)}
    with running_mastodon_fake(tmp_path, MASTODON_TOKEN, limits=unlimited) as url:
        yield url


def _project(
    tmp_path: Path, network: BlueskyNetwork, x_url: str, mastodon_url: str
) -> tuple[Path, dict[str, str]]:
    project = tmp_path / "project"
    (project / "campaigns").mkdir(parents=True)
    (project / "templates").mkdir()
    (project / "config.toml").write_text(
        f'[x]\napi_base_url = "{x_url}"\ndaily_cap = 100000\nmonthly_budget_usd = 100000.0\ntimeout_seconds = 5.0\n'
        f'[bluesky]\nservice_url = "{network.pds_url}"\ndaily_cap = 100000\ntimeout_seconds = 5.0\n'
        f'[mastodon]\ninstance_url = "{mastodon_url}"\ndaily_cap = 100000\ntimeout_seconds = 5.0\n'
    )
    # Every minute for a bounded window, so each restart plans a few hundred slots, not a day's.
    begin = datetime.now(UTC).replace(second=0, microsecond=0)
    end = begin + timedelta(minutes=WINDOW_MINUTES)
    messages = "".join(
        f"  - id: crash-{i:02d}\n    schedule: {{cron: '* * * * *'}}\n"
        f"    text: {{en: 'crash-{i:02d} at {{{{ slot }}}}'}}\n"
        for i in range(MESSAGES)
    )
    (project / "campaigns" / "crash.yaml").write_text(
        "id: crash\nname: {en: Crash test}\nlanguages: [en]\ntimezone: UTC\n"
        f"active: {{start: '{begin:%Y-%m-%d %H:%M}', end: '{end:%Y-%m-%d %H:%M}'}}\nplatforms: [x, bluesky, mastodon]\n"
        f"messages:\n{messages}"
    )
    account = network.account("kindling")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    env.update(
        X_KEYS,
        KINDLING_BLUESKY_HANDLE=account.handle,
        KINDLING_BLUESKY_APP_PASSWORD=account.password,
        KINDLING_MASTODON_ACCESS_TOKEN=MASTODON_TOKEN,
    )
    return project, env


def _start(project: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=project, env=env, stdout=out, stderr=out
        )


def _open_rows(project: Path, until: datetime) -> int:
    engine = create_engine(f"sqlite:///{project / 'data' / 'kindling.sqlite3'}")
    with engine.connect() as connection:
        count = connection.execute(
            text(
                "SELECT count(*) FROM outbox WHERE state IN ('planned', 'sending', 'unconfirmed') AND slot_at <= :until"
            ),
            {"until": until.replace(tzinfo=None).isoformat(sep=" ")},
        ).scalar()
    engine.dispose()
    return int(count)


def _sent_rows(project: Path, since: datetime, until: datetime) -> int:
    engine = create_engine(f"sqlite:///{project / 'data' / 'kindling.sqlite3'}")
    with engine.connect() as connection:
        count = connection.execute(
            text(
                "SELECT count(*) FROM outbox WHERE state = 'sent' AND slot_at >= :since AND slot_at <= :until"
            ),
            {
                "since": since.replace(tzinfo=None).isoformat(sep=" "),
                "until": until.replace(tzinfo=None).isoformat(sep=" "),
            },
        ).scalar()
    engine.dispose()
    return int(count)


@pytest.mark.timeout(900)  # 170 s of kills, 120 s to settle, and the networks' start
def test_kill_9_twenty_times_loses_and_duplicates_nothing(
    tmp_path, bluesky_network, x_fake_process, mastodon_fake_process
):
    project, env = _project(tmp_path, bluesky_network, x_fake_process, mastodon_fake_process)
    log = tmp_path / "daemon.log"
    random.seed(20261125)
    while datetime.now(UTC).second >= 30:  # the first slot is then >= 30 s away: planned by then
        time.sleep(0.5)
    started = datetime.now(UTC)
    kills = 0
    crash_until = time.monotonic() + 170
    while kills < 20 or time.monotonic() < crash_until:
        daemon = _start(project, env, log)
        time.sleep(random.uniform(0.8, 6.0))
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
        kills += 1
    cutoff = datetime.now(UTC).replace(second=0, microsecond=0)
    first_minute = (started + timedelta(minutes=1)).replace(second=0, microsecond=0)
    minutes = int((cutoff - first_minute).total_seconds() // 60) + 1
    expected = {
        f"crash-{i:02d} at {first_minute + timedelta(minutes=m):%Y-%m-%d %H:%M:%S}"
        for m in range(minutes)
        for i in range(MESSAGES)
    }

    daemon = _start(project, env, log)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if _open_rows(project, cutoff) == 0 and _sent_rows(
                project, first_minute, cutoff
            ) >= PLATFORMS * len(expected):
                break
            time.sleep(1)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=15)

    x_posts = httpx.get(f"{x_fake_process}/_fake/state", timeout=30).json()["posts"]
    x_texts = Counter(p["text"] for p in x_posts if p["text"].startswith("crash-"))
    reader = bluesky_network.login("kindling")
    records = reader.list_records(bluesky_network.account("kindling").did)
    bsky_texts = Counter(
        r["value"]["text"] for r in records if r["value"]["text"].startswith("crash-")
    )

    mastodon = httpx.get(f"{mastodon_fake_process}/_fake/state", timeout=30).json()
    mastodon_texts = Counter(
        s["text"] for s in mastodon["statuses"] if s["text"].startswith("crash-")
    )
    assert mastodon["violations"] == [], "requests the Mastodon API description refuses"
    assert mastodon["created"] == sum(mastodon_texts.values())

    for name, texts in (("x", x_texts), ("bluesky", bsky_texts), ("mastodon", mastodon_texts)):
        duplicated = {t: n for t, n in texts.items() if n > 1}
        lost = expected - set(texts)
        assert duplicated == {}, f"{name}: posted more than once: {sorted(duplicated)[:5]}"
        assert lost == set(), f"{name}: {len(lost)} due posts never posted, e.g. {sorted(lost)[:5]}"
    assert kills >= 20
    assert len(expected) * PLATFORMS >= 300, "fewer than 300 due posts across the three"
