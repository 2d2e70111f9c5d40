"""Two `kindling run` on one PostgreSQL database: one leads, one stands by; kill -9 the leader and
the standby takes over within 30 s. Posts are counted on the fake X server: 0 duplicated, 0 lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.store import migrate
from tests.fakes.x_process import x_fake_process

pytestmark = [pytest.mark.xfake]

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 5  # each every minute on X
X_KEYS = {
    "KINDLING_X_API_KEY": "standby-consumer-key",
    "KINDLING_X_API_SECRET": "standby-consumer-secret",
    "KINDLING_X_ACCESS_TOKEN": "1-standby-access-token",
    "KINDLING_X_ACCESS_TOKEN_SECRET": "standby-access-secret",
}


@pytest.fixture
def x_fake(tmp_path: Path):
    with x_fake_process(tmp_path, X_KEYS) as url:
        yield url


def _project(tmp_path: Path, x_url: str) -> Path:
    project = tmp_path / "project"
    (project / "campaigns").mkdir(parents=True)
    (project / "templates").mkdir()
    (project / "config.toml").write_text(
        f'[logging]\nlevel = "INFO"\n[x]\napi_base_url = "{x_url}"\ndaily_cap = 10000\n'
        "monthly_budget_usd = 10000.0\ntimeout_seconds = 5.0\n"
    )
    begin = datetime.now(UTC).replace(second=0, microsecond=0)
    end = begin + timedelta(minutes=6)
    messages = "".join(
        f"  - id: standby-{i}\n    schedule: {{cron: '* * * * *'}}\n"
        f"    text: {{en: 'standby-{i} at {{{{ slot }}}}'}}\n"
        for i in range(MESSAGES)
    )
    (project / "campaigns" / "standby.yaml").write_text(
        "id: standby\nname: {en: Standby test}\nlanguages: [en]\ntimezone: UTC\n"
        f"active: {{start: '{begin:%Y-%m-%d %H:%M}', end: '{end:%Y-%m-%d %H:%M}'}}\n"
        f"platforms: [x]\nmessages:\n{messages}"
    )
    return project


def _start(project: Path, url: str, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    env.update(X_KEYS, KINDLING_DATABASE_URL=url)
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=project, env=env, stdout=out, stderr=out
        )


def _wait(check, what: str, timeout: float, logs: list[Path]) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            tails = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in logs)
            raise AssertionError(f"{what}: not within {timeout} s\n{tails}")
        time.sleep(0.2)
    return time.monotonic() - started


def _posts(x_url: str) -> Counter[str]:
    posts = httpx.get(f"{x_url}/_fake/state", timeout=30).json()["posts"]
    return Counter(p["text"] for p in posts if p["text"].startswith("standby-"))


def test_the_standby_takes_over_within_30s_of_a_kill_9_without_duplicates(
    tmp_path, postgres_url, x_fake
):
    migrate.upgrade(postgres_url)
    while datetime.now(UTC).second >= 40:  # the first slot is >= 20 s away: planned by then
        time.sleep(0.5)
    project = _project(tmp_path, x_fake)
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    logs = [log_a, log_b]
    leader = _start(project, postgres_url, log_a)
    standby = None
    try:
        _wait(lambda: "kindling running" in log_a.read_text(), "the leader starts", 30, logs)
        standby = _start(project, postgres_url, log_b)
        _wait(lambda: "standing by" in log_b.read_text(), "the second stands by", 30, logs)
        assert standby.poll() is None
        _wait(lambda: sum(_posts(x_fake).values()) >= MESSAGES, "the leader posts", 90, logs)
        assert "kindling running" not in log_b.read_text()

        leader.send_signal(signal.SIGKILL)
        leader.wait()
        took = _wait(lambda: "taking over" in log_b.read_text(), "the standby takes over", 30, logs)
        assert took < 30
        _wait(lambda: "kindling running" in log_b.read_text(), "the standby runs", 30, logs)
        posted_by_leader = sum(_posts(x_fake).values())
        _wait(
            lambda: sum(_posts(x_fake).values()) >= posted_by_leader + MESSAGES,
            "the new leader posts the next minute's slots",
            90,
            logs,
        )
    finally:
        for process in (leader, standby):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=15)

    texts = _posts(x_fake)
    duplicated = {t: n for t, n in texts.items() if n > 1}
    assert duplicated == {}, f"posted more than once: {sorted(duplicated)}"
    minutes = sorted({t.split(" at ", 1)[1] for t in texts})
    complete = minutes[:-1]  # the last minute may still have been posting when stopped
    expected = {f"standby-{i} at {m}" for m in complete for i in range(MESSAGES)}
    assert expected - set(texts) == set(), "slots lost in the take-over"
    assert len(minutes) >= 2
