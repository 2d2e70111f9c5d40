"""`kindling engagement poll` as an operator runs it, against the fake X server."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli.main import main
from bot.store.engine import Store
from bot.store.tables import MetricSnapshotRow
from tests.engagement.test_poller import add_sent
from tests.platforms.conftest import ACCOUNT, request

CAMPAIGN = """\
id: demo
name: {en: Demo}
languages: [en]
timezone: UTC
active: {start: 2026-01-01, end: 2030-12-31}
platforms: [x]
messages:
  - id: m
    schedule: {at: "2026-12-01 10:00"}
    text: {en: "Hello"}
"""


def test_engagement_poll_snapshots_due_posts_now(tmp_path, monkeypatch, x_fake, x_platform):
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates").mkdir()
    (tmp_path / "campaigns" / "demo.yaml").write_text(CAMPAIGN)
    (tmp_path / "config.toml").write_text(f'[x]\napi_base_url = "{x_fake.url}"\n')
    monkeypatch.chdir(tmp_path)
    for variable, value in {
        "KINDLING_X_API_KEY": ACCOUNT.consumer_key,
        "KINDLING_X_API_SECRET": ACCOUNT.consumer_secret,
        "KINDLING_X_ACCESS_TOKEN": ACCOUNT.access_token,
        "KINDLING_X_ACCESS_TOKEN_SECRET": ACCOUNT.access_token_secret,
    }.items():
        monkeypatch.setenv(variable, value)
    posted = [x_platform.publish(request(f"post {n}", key=f"k{n}")).remote_id for n in range(3)]
    (tmp_path / "data").mkdir()
    store = Store(f"sqlite:///{tmp_path / 'data' / 'kindling.sqlite3'}")
    store.create_tables()
    add_sent(store, "x", posted, datetime.now(UTC))
    before = len(x_fake.state.calls("GET /2/tweets"))

    result = CliRunner().invoke(main, ["engagement", "poll"], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "x: 3 snapshot(s) of 3 due post(s) in 1 call(s), $0.003" in result.output
    assert len(x_fake.state.calls("GET /2/tweets")) == before + 1
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(MetricSnapshotRow)) == 3
    store.dispose()
