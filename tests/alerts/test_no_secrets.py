"""Every kind of alert, with every secret set in the environment and each channel failing once:
no secret appears in an email, a webhook body, or the log (as `kindling run` configures it)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot import events
from bot.alerts.dispatch import start_alerts
from bot.config import (
    SECRET_VARIABLES,
    AlertEmailSettings,
    AlertsSettings,
    AlertWebhookSettings,
    Config,
    Secrets,
    Settings,
)
from bot.store.engine import Store
from tests.alerts.conftest import (
    Logins,
    MailHandler,
    MailServer,
    WebhookServer,
    server_tls,
    wait_for,
)

EVERY_EVENT: list[events.Event] = [
    events.PlatformPausedForAuth("x", "create post: 401 Unauthorized (check KINDLING_X_API_KEY)"),
    events.BudgetThreshold("x", "2026-12", 80, 20.0, 25.0),
    events.BudgetThreshold("x", "2026-12", 100, 25.0, 25.0),
    events.PostsFailing("bluesky", 3, "503 Service Unavailable"),
    events.RestartedAfterCrash("kindling-host", 4242, datetime(2026, 12, 4, 9, 0, tzinfo=UTC)),
    events.ReconcileStuck("x", 2),
    events.TargetAnswered("senedd", "jane-jones", "x", "https://x.com/jane/status/1"),
]


def test_no_alert_email_webhook_body_or_log_line_holds_a_secret(
    tmp_path: Path,
    monkeypatch,
    certificate: tuple[Path, Path],
    webhook: WebhookServer,
    production_logging: Path,
) -> None:
    secrets = {name: f"sEcReT-{i}-{name.lower()}" for i, name in enumerate(SECRET_VARIABLES)}
    secrets["KINDLING_ALERTS_WEBHOOK_URL"] = f"{webhook.url}/T0/B0/sEcReT-hook-token"
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    webhook.statuses = [500]  # the first call fails, and is logged
    logins = Logins("alerts@example.org", secrets["KINDLING_SMTP_PASSWORD"])
    handler = MailHandler(refuse=1)  # so does the first email
    tls = server_tls(certificate)
    store = Store(f"sqlite:///{tmp_path / 'kindling.sqlite3'}")
    store.create_tables()
    with MailServer(handler, tls_context=tls, authenticator=logins) as server:
        email = AlertEmailSettings(
            host="127.0.0.1",
            port=server.port,
            username="alerts@example.org",
            from_address="kindling@example.org",
            to=["organiser@example.org"],
        )
        settings = AlertsSettings(
            email=email,
            webhook=AlertWebhookSettings(format="matrix"),
            retry_first_seconds=0.05,
        )
        config = Config(Settings(alerts=settings), tmp_path, Secrets.from_environment())
        alerts = start_alerts(config, store)
        try:
            for event in EVERY_EVENT:
                events.publish(event)
            wait_for(lambda: len(handler.messages) == len(EVERY_EVENT), what="every email")
            wait_for(lambda: len(webhook.calls) == len(EVERY_EVENT) + 1, what="every call")
            wait_for(alerts.idle)
        finally:
            alerts.close()
            store.dispose()
    assert set(logins.attempts) == {"alerts@example.org"}  # the password from the environment
    assert {path for path, _, _ in webhook.calls} == {"/hook/T0/B0/sEcReT-hook-token"}
    logged = production_logging.read_text(encoding="utf-8")
    assert "failed (attempt 1 of 8)" in logged and "answered HTTP 500" in logged
    written = [raw.decode() for raw in handler.raw] + [body.decode() for *_, body in webhook.calls]
    for text in [*written, logged]:
        assert "sEcReT" not in text
