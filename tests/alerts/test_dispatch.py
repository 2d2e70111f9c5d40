"""Alerts from events: once per cause and quiet period (also across a restart, in the database),
retried in the background when a channel fails, and never in the publisher's way."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot import events
from bot.alerts.dispatch import Alerts, RetryPolicy, start_alerts
from bot.config import (
    AlertEmailSettings,
    AlertsSettings,
    AlertWebhookSettings,
    Config,
    Secrets,
    Settings,
)
from bot.events import PlatformPausedForAuth, PostsFailing, ReconcileStuck
from bot.store.engine import Store
from bot.store.migrate import upgrade
from tests.alerts.conftest import MailHandler, MailServer, wait_for


class SetClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment


def make_config(
    tmp_path: Path,
    mail_port: int | None = None,
    hook_url: str = "",
    secrets: dict[str, str] | None = None,
    hook_timeout: float = 1,
    **alerts: object,
) -> Config:
    email = (
        AlertEmailSettings(
            host="127.0.0.1",
            port=mail_port,
            security="none",
            from_address="kindling@example.org",
            to=["organiser@example.org"],
            timeout_seconds=5,
        )
        if mail_port
        else AlertEmailSettings()
    )
    settings = AlertsSettings.model_validate(
        {
            "email": email,
            "webhook": AlertWebhookSettings(
                url=hook_url, format="slack", timeout_seconds=hook_timeout
            ),
            "retry_first_seconds": 0.05,
            "retry_max_seconds": 0.2,
        }
        | alerts
    )
    values = {k: SecretStr(v) for k, v in (secrets or {}).items()}
    return Config(Settings(alerts=settings), tmp_path, Secrets(values))


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'kindling.sqlite3'}"
    upgrade(url)
    store = Store(url)
    yield store
    store.dispose()


@pytest.fixture
def running() -> Iterator[list[Alerts]]:
    """Alerts a test starts are closed (unsubscribed) however it ends."""
    started: list[Alerts] = []
    yield started
    for alerts in started:
        alerts.close()


def test_retry_waits_double_up_to_the_most() -> None:
    policy = RetryPolicy(30, 100, 8)
    assert [policy.wait(n) for n in (1, 2, 3, 4)] == [30, 60, 100, 100]


def test_one_alert_per_cause_within_the_quiet_period(
    tmp_path, mail, webhook, sqlite_store, running
) -> None:
    clock = SetClock()
    config = make_config(tmp_path, mail.port, webhook.url, quiet_period_minutes=60)
    alerts = start_alerts(config, sqlite_store, clock)
    running.append(alerts)
    for _ in range(3):
        events.publish(PlatformPausedForAuth("x", "401 Unauthorized"))
    events.publish(ReconcileStuck("x", 2))  # another cause: its own alert
    wait_for(alerts.idle, what="the alerts were sent")
    assert len(mail.handler.messages) == 2 and len(webhook.calls) == 2
    clock.moment += timedelta(minutes=59)
    events.publish(PlatformPausedForAuth("x", "401 Unauthorized"))
    wait_for(alerts.idle)
    assert len(mail.handler.messages) == 2
    clock.moment += timedelta(minutes=1)  # the quiet period is over: it is said again
    events.publish(PlatformPausedForAuth("x", "401 Unauthorized"))
    wait_for(lambda: len(mail.handler.messages) == 3 and len(webhook.calls) == 3)
    subjects = [m["Subject"] for m in mail.handler.messages]
    assert subjects.count("Kindling: x refused the credentials, its posts are paused") == 2


def test_the_quiet_period_survives_a_restart(tmp_path, mail, database_url, running) -> None:
    upgrade(database_url)
    clock = SetClock()
    config = make_config(tmp_path, mail.port)
    for _ in range(2):  # the daemon started twice (a crash loop)
        store = Store(database_url)
        alerts = start_alerts(config, store, clock)
        events.publish(PostsFailing("bluesky", 3, "503 Service Unavailable"))
        wait_for(alerts.idle)
        alerts.close()
        store.dispose()
        clock.moment += timedelta(minutes=5)
    [message] = mail.handler.messages
    assert message["Subject"] == "Kindling: 3 posts in a row failed on bluesky"


def test_a_refusing_smtp_server_is_retried_in_the_background(
    tmp_path, sqlite_store, running, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="kindling.alerts")
    with MailServer(MailHandler(refuse=2)) as server:
        alerts = start_alerts(make_config(tmp_path, server.port), sqlite_store, SetClock())
        running.append(alerts)
        events.publish(ReconcileStuck("x", 4))
        wait_for(lambda: "sent reconcile_stuck by email" in caplog.text, what="the third attempt")
    assert server.handler.attempts == 3 and len(server.handler.messages) == 1
    assert "sending reconcile_stuck by email failed (attempt 1 of 8): the SMTP server " in (
        caplog.text
    )
    assert "refused: 451; trying again in 0.05 s" in caplog.text
    assert "(attempt 2 of 8): the SMTP server refused: 451; trying again in 0.1 s" in caplog.text


def test_a_channel_that_keeps_failing_is_given_up_and_logged(
    tmp_path, webhook, sqlite_store, running, caplog
) -> None:
    webhook.statuses = [500] * 10
    config = make_config(tmp_path, hook_url=webhook.url, retry_attempts=3)
    alerts = start_alerts(config, sqlite_store, SetClock())
    running.append(alerts)
    events.publish(ReconcileStuck("x", 4))
    wait_for(lambda: "gave up" in caplog.text, what="the alert was given up")
    assert len(webhook.calls) == 3
    assert "gave up sending reconcile_stuck by webhook after 3 attempts" in caplog.text
    assert "answered HTTP 500" in caplog.text


def test_a_hanging_webhook_holds_up_neither_the_publisher_nor_the_email(
    tmp_path, mail, webhook, sqlite_store, running
) -> None:
    webhook.hang.set()  # it answers only when released
    config = make_config(tmp_path, mail.port, webhook.url, hook_timeout=60)
    alerts = start_alerts(config, sqlite_store, SetClock())
    running.append(alerts)
    events.publish(PlatformPausedForAuth("x", "401"))
    # publish returned; the webhook call is still open, and the email went out meanwhile
    wait_for(webhook.hanging.is_set, what="the webhook call hangs")
    wait_for(lambda: len(mail.handler.messages) == 1, what="the email went out meanwhile")
    hook = next(o for o in alerts.outlets if o.channel.name == "webhook")
    assert not hook.idle() and len(webhook.calls) == 1
    webhook.release.set()
    wait_for(alerts.idle, what="the webhook answered")
    assert len(webhook.calls) == 1


def test_a_failing_subscriber_is_logged_and_the_others_still_hear(caplog) -> None:
    heard: list[events.Event] = []

    def broken(event: events.Event) -> None:
        raise RuntimeError("boom")

    subscriptions = [events.subscribe(broken), events.subscribe(heard.append)]
    try:
        events.publish(ReconcileStuck("x", 1))
    finally:
        for subscription in subscriptions:
            subscription.cancel()
    events.publish(ReconcileStuck("x", 2))  # cancelled: no longer heard
    assert heard == [ReconcileStuck("x", 1)]
    assert "an event subscriber failed on ReconcileStuck" in caplog.text


def test_without_channels_an_alert_is_still_logged(tmp_path, sqlite_store, running, caplog):
    alerts = start_alerts(make_config(tmp_path), sqlite_store, SetClock())
    running.append(alerts)
    events.publish(ReconcileStuck("bluesky", 1))
    wait_for(alerts.idle)
    assert "ALERT: Kindling cannot tell whether 1 post(s) went out on bluesky" in caplog.text
