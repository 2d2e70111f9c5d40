"""Faults while the daemon runs for real against the fake X server and the local Bluesky PDS:
a 429 storm, 5xx bursts (before and after the post was created), a 60 s outage of X, and a
revoked X credential. Bluesky keeps posting throughout; nothing is posted twice; everything due
is posted (or recorded as missed with its reason). Counts are taken on the servers."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import (
    BlueskySettings,
    Config,
    GeneralSettings,
    PathsSettings,
    Secrets,
    Settings,
    XSettings,
)
from bot.daemon.scheduler import Daemon
from bot.publish.outbox import OPEN_STATES
from bot.store.tables import OutboxRow
from tests.fakes.x_server import XFakeServer
from tests.peers.bluesky_network import BlueskyNetwork
from tests.platforms.conftest import ACCOUNT

pytestmark = [pytest.mark.bluesky, pytest.mark.xfake]
MESSAGES = 8


def _config(tmp_path: Path, network: BlueskyNetwork, x_url: str) -> Config:
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates").mkdir()
    today = datetime.now(UTC).date()
    messages = "".join(
        f"  - id: fault-{i}\n    schedule: {{cron: '* * * * *'}}\n    text: {{en: 'fault-{i} at {{{{ slot }}}}'}}\n"
        for i in range(MESSAGES)
    )
    (tmp_path / "campaigns" / "faults.yaml").write_text(
        f"id: faults\nname: {{en: Faults}}\nlanguages: [en]\ntimezone: UTC\n"
        f"active: {{start: {today}, end: {today + timedelta(days=1)}}}\nmessages:\n{messages}"
    )
    account = network.account("kindling")
    settings = Settings(
        paths=PathsSettings(data=str(tmp_path / "data")),
        general=GeneralSettings(timezone="UTC"),
        x=XSettings(
            api_base_url=x_url, daily_cap=100000, monthly_budget_usd=100000, timeout_seconds=2
        ),
        bluesky=BlueskySettings(
            service_url=network.pds_url, handle=account.handle, daily_cap=100000, timeout_seconds=10
        ),
    )
    secrets = {
        "KINDLING_X_API_KEY": ACCOUNT.consumer_key,
        "KINDLING_X_API_SECRET": ACCOUNT.consumer_secret,
        "KINDLING_X_ACCESS_TOKEN": ACCOUNT.access_token,
        "KINDLING_X_ACCESS_TOKEN_SECRET": ACCOUNT.access_token_secret,
        "KINDLING_BLUESKY_APP_PASSWORD": account.password,
    }
    return Config(settings, tmp_path, Secrets({k: SecretStr(v) for k, v in secrets.items()}))


def _wait_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def _texts(x_fake: XFakeServer, network: BlueskyNetwork) -> tuple[Counter, Counter]:
    x = Counter(p.text for p in x_fake.state.posts.values() if p.text.startswith("fault-"))
    reader = network.login("kindling")
    records = reader.list_records(network.account("kindling").did)
    bsky = Counter(r["value"]["text"] for r in records if r["value"]["text"].startswith("fault-"))
    return x, bsky


def _minute(moment: datetime) -> set[str]:
    return {f"fault-{i} at {moment:%Y-%m-%d %H:%M:%S}" for i in range(MESSAGES)}


def test_bluesky_keeps_posting_through_x_faults_and_nothing_is_doubled(
    tmp_path, x_fake, bluesky_network, caplog
):
    caplog.set_level(logging.INFO)
    config = _config(tmp_path, bluesky_network, x_fake.url)
    while datetime.now(UTC).second > 40:
        time.sleep(0.5)
    m1 = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    m2, m3, m4 = (m1 + timedelta(minutes=n) for n in (1, 2, 3))
    daemon = Daemon(
        config,
        dry_run=False,
        reconcile_every=timedelta(seconds=5),
        auth_retry=timedelta(seconds=20),
    )
    runner = threading.Thread(target=daemon.run, kwargs={"handle_signals": False})
    runner.start()
    state = x_fake.state
    try:
        # M1: a 429 storm, then 5xx after the post was created (ambiguous), then 5xx before.
        _wait_until(m1 - timedelta(seconds=3))
        reset = int(time.time()) + 12
        state.fail_next("rate_limit", count=2, route="POST /2/tweets", reset_at=reset)
        state.fail_next("error", count=2, route="POST /2/tweets", status=503, after=True)
        state.fail_next("error", count=2, route="POST /2/tweets", status=500)
        # M2: X is down for 60 s (every call answers 503); Bluesky must not wait for it.
        _wait_until(m2 - timedelta(seconds=2))
        state.fail_next("error", count=100000, status=503)
        _wait_until(m2 + timedelta(seconds=30))
        x_now, bsky_now = _texts(x_fake, bluesky_network)
        assert _minute(m2) <= set(bsky_now), "Bluesky waited for X"
        assert not _minute(m2) & set(x_now)
        _wait_until(m2 + timedelta(seconds=58))
        state.clear_faults()
        # M3: the X credential is refused (401) for a while: X pauses loudly, then resumes.
        _wait_until(m3 - timedelta(seconds=2))
        state.fail_next("unauthorized", count=3, route="POST /2/tweets")
        _wait_until(m4 + timedelta(seconds=25))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with daemon.store.read() as session:
                open_rows = (
                    session.query(OutboxRow)
                    .filter(OutboxRow.state.in_(OPEN_STATES), OutboxRow.slot_at <= m4)
                    .count()
                )
            if not open_rows:
                break
            time.sleep(1)
    finally:
        state.clear_faults()
        daemon.stop_event.set()
        runner.join(timeout=30)

    with daemon.store.read() as session:
        rows = (
            session.query(OutboxRow).filter(OutboxRow.slot_at >= m1, OutboxRow.slot_at <= m4).all()
        )
    assert {r.state for r in rows} == {"sent"}, Counter(
        (r.platform, r.state, r.reason) for r in rows
    )
    x_texts, bsky_texts = _texts(x_fake, bluesky_network)
    expected = _minute(m1) | _minute(m2) | _minute(m3) | _minute(m4)
    for name, texts in (("x", x_texts), ("bluesky", bsky_texts)):
        assert {t: n for t, n in texts.items() if n > 1} == {}, f"{name}: posted twice"
        assert expected - set(texts) == set(), f"{name}: due posts never posted"
    log = caplog.text
    assert "x: rate limited until" in log
    assert "x: AUTHENTICATION FAILED" in log and "other platforms continue" in log
    assert "KINDLING_X" not in log or ACCOUNT.consumer_secret not in log
    state.violations.clear()  # the 401s and 503s are answers, not request violations
