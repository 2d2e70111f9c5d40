"""The daemon's live campaigns (bot/checks/registry.py) against hostile files (issue 11): a hot
reload is bounded by the limits, keeps the last good campaign, reports the file's problems
without its content, and never holds up a post that is due."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.checks import registry as registry_module
from bot.checks.registry import CampaignRegistry
from bot.clock import AcceleratedClock
from bot.config import Config, PathsSettings, Secrets, Settings
from bot.daemon.scheduler import Daemon
from bot.platforms.base import PostRequest, Published
from bot.store.engine import Store
from tests.fakes.scripted_platform import ScriptedPlatform

DUE = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)  # Europe/London is on UTC in December
GOOD = """\
id: demo
name: {en: Campaign}
languages: [en]
timezone: Europe/London
platforms: [bluesky]
active: {start: 2026-12-01, end: 2027-01-31}
messages:
  - id: launch
    schedule: {at: "2026-12-01 09:30"}
    text: {en: "Read the letter"}
"""
# A campaign a volunteer might send: each part alone would stall or leak without the limits.
# `10 ** (10 ** 7)` is one C call of about 11 s here that holds the interpreter lock, so no
# other thread of the daemon runs meanwhile; the environment holds the daemon's credentials.
HOSTILE = """\
id: hostile
name: {en: Hostile}
languages: [en]
platforms: [bluesky]
active: {start: 2026-12-01, end: 2027-01-31}
target_files: [/proc/self/environ]
messages:
  - id: bomb
    schedule: {at: "2026-12-01 09:45"}
    text: {en: "{{ 10 ** (10 ** 7) }}"}
"""


def _config(root: Path) -> Config:
    (root / "campaigns").mkdir(exist_ok=True)
    (root / "templates").mkdir(exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    return Config(Settings(paths=PathsSettings(data=str(root / "data"))), root, Secrets({}))


def _wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s: {what}")


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


def test_a_hostile_change_is_reported_and_the_last_good_campaign_kept(tmp_path, caplog):
    config = _config(tmp_path)
    campaign = tmp_path / "campaigns" / "demo.yaml"
    campaign.write_text(GOOD)
    registry = CampaignRegistry(config)
    assert registry.load() == []
    [before] = registry.campaigns()
    campaign.write_text(GOOD.replace('"Read the letter"', "\"{{ 'a' * 10**9 }}\""))
    caplog.set_level(logging.ERROR, logger="kindling.campaigns")
    assert registry.reload() is True
    assert registry.campaigns() == [before]
    assert (
        "invalid campaign change, keeping the last good version: campaigns/demo.yaml:10:16: "
        "repetition makes 1,000,000,000 items, more than 1,000"
    ) in _logged(caplog).replace(str(tmp_path) + "/", "")


def test_a_file_whose_check_fails_unexpectedly_does_not_stop_the_others(
    tmp_path, caplog, monkeypatch
):
    config = _config(tmp_path)
    (tmp_path / "campaigns" / "a.yaml").write_text(GOOD)
    (tmp_path / "campaigns" / "b.yaml").write_text(GOOD.replace("id: demo", "id: other"))
    real_check = registry_module.check_one

    def failing_for_a(path: Path, *args: object, **options: object) -> object:
        if path.name == "a.yaml":
            raise RuntimeError("\x1b[2J" + "x" * 10_000)
        return real_check(path, *args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(registry_module, "check_one", failing_for_a)
    caplog.set_level(logging.ERROR, logger="kindling.campaigns")
    problems = CampaignRegistry(config).load()
    [problem] = problems
    assert problem.file.endswith("a.yaml") and (problem.line, problem.col) == (1, 1)
    assert problem.message.startswith("could not be checked: RuntimeError: \\x1b[2Jxxxxxxxxx")
    assert len(problem.message) < 200
    assert "x" * 200 not in _logged(caplog)


class RecordingPlatform(ScriptedPlatform):
    """Notes when each post is published (monotonic seconds)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.published_at: dict[str, float] = {}
        self.first = threading.Event()

    def publish(self, post: PostRequest) -> Published:
        published = super().publish(post)
        self.published_at[post.key] = time.monotonic()
        self.first.set()
        return published


def test_a_hostile_file_arriving_while_the_daemon_runs_does_not_delay_a_due_post(tmp_path, caplog):
    config = _config(tmp_path)
    (tmp_path / "campaigns" / "demo.yaml").write_text(GOOD)
    Store(config.database_url).require_migrated()  # so that starting takes no time
    caplog.set_level(logging.INFO)
    clock = AcceleratedClock(DUE - timedelta(seconds=8), speed=1)
    due_at = time.monotonic() + 8  # when the clock reads DUE
    platform = RecordingPlatform("bluesky")
    daemon = Daemon(
        config,
        dry_run=True,
        clock=clock,
        platforms={"bluesky": platform},
        tick_seconds=0.05,
        reload_every=timedelta(seconds=0.2),
    )
    daemon.start()
    try:
        (tmp_path / "campaigns" / "hostile.yaml").write_text(HOSTILE)
        assert time.monotonic() < due_at - 3, "the daemon took too long to start"
        _wait_for(platform.first.is_set, 60, "the due post was published")
        late = max(platform.published_at.values()) - due_at
        assert late < 2.0, f"the due post went out {late:.1f} s late"
        _wait_for(lambda: "hostile.yaml" in _logged(caplog), 30, "the hostile file was reported")
    finally:
        daemon.stop()
    logged = _logged(caplog)
    assert "target file '/proc/self/environ' is outside the campaign's folder" in logged
    assert "a number beyond 16,384 bits" in logged
    assert "PATH=" not in logged and "HOME=" not in logged  # nothing of the environment
    assert [active.id for active in daemon.registry.campaigns()] == ["demo"]


def test_a_daemon_with_text_only_campaigns_never_loads_pillow(tmp_path):
    # Pillow and the card fonts cost an idle daemon about 10 MB: they are loaded only for a
    # campaign with images or cards to check or post (a fresh interpreter, so nothing is cached).
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "campaigns" / "a.yaml").write_text(GOOD)
    (tmp_path / "config.toml").write_text("")
    probe = (
        "import sys; from pathlib import Path; from bot.config import load_config; "
        "from bot.checks.registry import CampaignRegistry; import bot.daemon.scheduler; "
        "assert not CampaignRegistry(load_config(Path('config.toml'))).load(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'PIL', 'fontTools', 'httpx'}))"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "[]"
