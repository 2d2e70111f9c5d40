"""Faults on Mastodon while the daemon runs for real against the Mastodon stand-in and the fake
X server: a 429, a connection dropped after the status was made, 5xx, an outage and a refused
token. X keeps posting throughout; nothing is posted twice on Mastodon (counted on the
stand-in); everything due is posted once Mastodon is back."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import (
    Config,
    GeneralSettings,
    MastodonSettings,
    PathsSettings,
    Secrets,
    Settings,
    XSettings,
)
from bot.daemon.scheduler import Daemon
from bot.publish.outbox import OPEN_STATES
from bot.store.tables import OutboxRow
from tests.fakes.mastodon_server import MastodonFakeServer
from tests.fakes.x_server import XFakeServer
from tests.platforms.conftest import ACCOUNT

pytestmark = [pytest.mark.xfake]
MESSAGES = 6


@pytest.fixture
def mastodon() -> Iterator[MastodonFakeServer]:
    with MastodonFakeServer() as server:
        yield server


def _config(tmp_path: Path, x_url: str, mastodon: MastodonFakeServer) -> Config:
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates").mkdir()
    today = datetime.now(UTC).date()
    messages = "".join(
        f"  - id: fault-{i}\n    schedule: {{cron: '* * * * *'}}\n"
        f"    text: {{en: 'fault-{i} at {{{{ slot }}}}'}}\n"
        for i in range(MESSAGES)
    )
    (tmp_path / "campaigns" / "faults.yaml").write_text(
        f"id: faults\nname: {{en: Faults}}\nlanguages: [en]\ntimezone: UTC\n"
        f"active: {{start: {today}, end: {today + timedelta(days=1)}}}\n"
        f"platforms: [x, mastodon]\nmessages:\n{messages}"
    )
    settings = Settings(
        paths=PathsSettings(data=str(tmp_path / "data")),
        general=GeneralSettings(timezone="UTC"),
        x=XSettings(
            api_base_url=x_url, daily_cap=100000, monthly_budget_usd=100000, timeout_seconds=2
        ),
        mastodon=MastodonSettings(instance_url=mastodon.url, daily_cap=100000, timeout_seconds=2),
    )
    secrets = {
        "KINDLING_X_API_KEY": ACCOUNT.consumer_key,
        "KINDLING_X_API_SECRET": ACCOUNT.consumer_secret,
        "KINDLING_X_ACCESS_TOKEN": ACCOUNT.access_token,
        "KINDLING_X_ACCESS_TOKEN_SECRET": ACCOUNT.access_token_secret,
        "KINDLING_MASTODON_ACCESS_TOKEN": mastodon.state.token,
    }
    return Config(settings, tmp_path, Secrets({k: SecretStr(v) for k, v in secrets.items()}))


def _wait_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def _minute(moment: datetime) -> set[str]:
    return {f"fault-{i} at {moment:%Y-%m-%d %H:%M:%S}" for i in range(MESSAGES)}


def _texts(x_fake: XFakeServer, mastodon: MastodonFakeServer) -> tuple[Counter, Counter]:
    x = Counter(p.text for p in x_fake.state.posts.values() if p.text.startswith("fault-"))
    statuses = mastodon.state.own_statuses()
    return x, Counter(s.text for s in statuses if s.text.startswith("fault-"))


def _settled(daemon: Daemon, until: datetime) -> bool:
    with daemon.store.read() as session:
        return not (
            session.query(OutboxRow)
            .filter(OutboxRow.state.in_(OPEN_STATES), OutboxRow.slot_at <= until)
            .count()
        )


def test_x_keeps_posting_through_mastodon_faults_and_nothing_is_doubled(
    tmp_path, x_fake, mastodon, caplog
):
    caplog.set_level(logging.INFO)
    config = _config(tmp_path, x_fake.url, mastodon)
    while datetime.now(UTC).second > 40:
        time.sleep(0.5)
    m1 = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    m2 = m1 + timedelta(minutes=1)
    daemon = Daemon(
        config,
        dry_run=False,
        reconcile_every=timedelta(seconds=5),
        auth_retry=timedelta(seconds=15),
    )
    runner = threading.Thread(target=daemon.run, kwargs={"handle_signals": False})
    runner.start()
    state, create = mastodon.state, "POST /api/v1/statuses"
    try:
        # M1: a 429, a status made and its answer lost (dropped connection), then 5xx before.
        _wait_until(m1 - timedelta(seconds=3))
        state.fail_next("rate_limit", route=create, seconds=8)
        state.fail_next("drop", count=2, route=create, after=True)
        state.fail_next("error", count=2, route=create, status=503)
        # M2: Mastodon is down (every call answers 503); X must not wait for it.
        _wait_until(m2 - timedelta(seconds=2))
        state.fail_next("error", count=100000, status=503)
        _wait_until(m2 + timedelta(seconds=20))
        x_now, mastodon_now = _texts(x_fake, mastodon)
        assert _minute(m2) <= set(x_now), "X waited for Mastodon"
        assert not _minute(m2) & set(mastodon_now)
        state.clear_faults()
        # Then the token is refused once: Mastodon pauses loudly, then resumes.
        state.fail_next("unauthorized", route=create)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _settled(daemon, m2):
            time.sleep(1)
    finally:
        state.clear_faults()
        daemon.stop_event.set()
        runner.join(timeout=30)

    with daemon.store.read() as session:
        rows = session.query(OutboxRow).filter(OutboxRow.slot_at.between(m1, m2)).all()
    assert {r.state for r in rows} == {"sent"}, Counter(
        (r.platform, r.state, r.reason) for r in rows
    )
    x_texts, mastodon_texts = _texts(x_fake, mastodon)
    for name, texts in (("x", x_texts), ("mastodon", mastodon_texts)):
        assert {t: n for t, n in texts.items() if n > 1} == {}, f"{name}: posted twice"
        assert _minute(m1) | _minute(m2) <= set(texts), f"{name}: due posts never posted"
    assert state.created == sum(mastodon_texts.values())
    assert state.violations == []
    assert state.response_violations == []
    log = caplog.text
    assert "mastodon: rate limited until" in log
    assert "mastodon: AUTHENTICATION FAILED" in log and "other platforms continue" in log
    assert state.token not in log
