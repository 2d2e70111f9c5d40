"""Issue 17's "Done when" for alerts: the X token is revoked while the daemon runs (against the
fake X server); exactly one alert email (aiosmtpd) and one webhook call (a local HTTP server)
follow, though X keeps refusing at each retry, while Bluesky keeps posting. No secret of the
environment appears in the email, the webhook's body or the log."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.clock import AcceleratedClock
from bot.config import (
    AlertEmailSettings,
    AlertsSettings,
    AlertWebhookSettings,
    BlueskySettings,
    Config,
    GeneralSettings,
    PathsSettings,
    Secrets,
    Settings,
    XSettings,
)
from bot.daemon.scheduler import Daemon
from tests.alerts.conftest import MailServer, WebhookServer, wait_for
from tests.fakes.scripted_platform import ScriptedPlatform
from tests.fakes.x_server import XFakeServer
from tests.fakes.x_state import FakeAccount

pytestmark = [pytest.mark.xfake]
ACCOUNT = FakeAccount()
SMTP_PASSWORD = "smtp-pass-never-shown-41c7"
HOOK_TOKEN = "hooktoken-never-shown-9d2e"


def _config(tmp_path: Path, x_url: str, mail_port: int, hook_url: str) -> Config:
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "templates").mkdir()
    today = datetime.now(UTC).date()
    (tmp_path / "campaigns" / "minutely.yaml").write_text(
        "id: minutely\nname: {en: Minutely}\nlanguages: [en]\ntimezone: UTC\n"
        f"active: {{start: {today - timedelta(days=1)}, end: {today + timedelta(days=2)}}}\n"
        "messages:\n  - id: tick\n    schedule: {cron: '* * * * *'}\n"
        "    text: {en: 'tick at {{ slot }}'}\n"
    )
    settings = Settings(
        paths=PathsSettings(data=str(tmp_path / "data")),
        general=GeneralSettings(timezone="UTC"),
        bluesky=BlueskySettings(daily_cap=100000),
        x=XSettings(
            api_base_url=x_url, daily_cap=100000, monthly_budget_usd=100000, timeout_seconds=3
        ),
        alerts=AlertsSettings(
            email=AlertEmailSettings(
                host="127.0.0.1",
                port=mail_port,
                security="none",
                from_address="kindling@example.org",
                to=["organiser@example.org"],
            ),
            webhook=AlertWebhookSettings(url=hook_url, format="slack"),
        ),
    )
    secrets = {
        "KINDLING_X_API_KEY": ACCOUNT.consumer_key,
        "KINDLING_X_API_SECRET": ACCOUNT.consumer_secret,
        "KINDLING_X_ACCESS_TOKEN": ACCOUNT.access_token,
        "KINDLING_X_ACCESS_TOKEN_SECRET": ACCOUNT.access_token_secret,
        "KINDLING_SMTP_PASSWORD": SMTP_PASSWORD,
        "KINDLING_ALERTS_WEBHOOK_URL": f"{hook_url}/{HOOK_TOKEN}",
    }
    return Config(settings, tmp_path, Secrets({k: SecretStr(v) for k, v in secrets.items()}))


def _refused(x: XFakeServer) -> int:
    return sum(1 for call in x.state.calls("POST /2/tweets") if call.status == 401)


def test_a_revoked_x_token_makes_one_email_and_one_webhook_call_while_bluesky_posts(
    tmp_path: Path, mail: MailServer, webhook: WebhookServer, production_logging: Path
) -> None:
    bluesky = ScriptedPlatform("bluesky")
    with XFakeServer() as x:
        config = _config(tmp_path, x.url, mail.port, webhook.url)
        daemon = Daemon(
            config,
            dry_run=False,
            clock=AcceleratedClock(datetime.now(UTC), speed=60),  # a minute a second
            platforms={"bluesky": bluesky},
            tick_seconds=0.05,
            plan_every=timedelta(seconds=1),  # the 3 hours planned ahead pass in 3 seconds
            auth_retry=timedelta(minutes=2),  # two seconds
        )
        daemon.start()
        try:
            wait_for(lambda: len(x.state.own_posts()) >= 2, 60, "X posts")
            with x.state.lock:  # the campaign account's token is revoked on X
                x.state.account = dataclasses.replace(
                    x.state.account, access_token="1790000000000000001-renewedtoken"
                )
            wait_for(lambda: mail.handler.messages and webhook.calls, 60, "the alerts")
            posted = len(bluesky.posts)
            wait_for(lambda: _refused(x) >= 3, 60, "X refused again at later retries")
            wait_for(lambda: len(bluesky.posts) >= posted + 3, 60, "Bluesky kept posting")
            assert daemon.alerts is not None
            wait_for(daemon.alerts.idle, 30, "the alerts settled")
        finally:
            daemon.stop()

    [message] = mail.handler.messages
    assert message["Subject"] == "Kindling: x refused the credentials, its posts are paused"
    assert message["To"] == "organiser@example.org"
    [(path, _, body)] = webhook.calls
    assert path == f"/hook/{HOOK_TOKEN}"
    assert json.loads(body)["text"].startswith("*Kindling: x refused the credentials")
    logged = production_logging.read_text(encoding="utf-8")
    assert logged.count("x: AUTHENTICATION FAILED") >= 3
    assert logged.count("ALERT: Kindling: x refused the credentials") == 1
    secrets = [*dataclasses.astuple(ACCOUNT)[3:], SMTP_PASSWORD, HOOK_TOKEN]
    seen = [mail.handler.raw[0].decode(), body.decode(), logged]
    assert [s for s in secrets for text in seen if s in text] == []
