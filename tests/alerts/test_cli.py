"""`kindling alerts test` as an organiser runs it: one test alert through each configured channel,
each channel's outcome on its own line, exit status 1 when one failed or none is configured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.alerts.conftest import MailServer, WebhookServer


def kindling(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=folder,
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )


def test_alerts_test_sends_through_each_channel_and_says_how_each_went(
    tmp_path: Path, mail: MailServer, webhook: WebhookServer
) -> None:
    (tmp_path / "config.toml").write_text(
        f'[alerts.email]\nhost = "127.0.0.1"\nport = {mail.port}\nsecurity = "none"\n'
        'from_address = "kindling@example.org"\nto = ["organiser@example.org"]\n'
        f'[alerts.webhook]\nurl = "{webhook.url}"\nformat = "matrix"\n'
    )
    done = kindling(tmp_path, "alerts", "test")
    assert (done.returncode, done.stdout, done.stderr) == (0, "email: sent\nwebhook: sent\n", "")
    [message] = mail.handler.messages
    assert message["Subject"] == "Kindling: a test alert"
    assert webhook.bodies()[0]["text"].startswith("Kindling: a test alert\n")

    webhook.statuses = [404]
    failed = kindling(tmp_path, "alerts", "test")
    assert failed.returncode == 1
    assert failed.stdout == "email: sent\n"
    assert failed.stderr == "webhook: FAILED: the webhook at 127.0.0.1 answered HTTP 404\n"


def test_alerts_test_without_a_channel_says_what_to_set(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[alerts]\nquiet_period_minutes = 60\n")
    done = kindling(tmp_path, "alerts", "test")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        "no alert channel is configured: set [alerts.email] host or [alerts.webhook] url\n"
    )
