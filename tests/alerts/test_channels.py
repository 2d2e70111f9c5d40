"""The alert channels against real receivers: aiosmtpd (plain on loopback, STARTTLS with a login,
implicit TLS) parsed as MIME, and a local HTTP server taking the webhook's JSON in each shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.alerts.channels import ChannelFailed, EmailChannel, WebhookChannel, webhook_body
from bot.alerts.messages import alert_for
from bot.config import AlertEmailSettings, AlertWebhookSettings
from bot.events import PlatformPausedForAuth, TargetAnswered
from tests.alerts.conftest import (
    Logins,
    MailHandler,
    MailServer,
    WebhookServer,
    server_tls,
)

ANSWER = alert_for(
    TargetAnswered("senedd", "jane-<mp>", "bluesky", "https://bsky.app/profile/x/post/1")
)


def email_settings(port: int, **options: object) -> AlertEmailSettings:
    values = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "kindling@example.org",
        "to": ["organiser@example.org", "second@example.org"],
        "timeout_seconds": 5,
    } | options
    return AlertEmailSettings.model_validate(values)


def test_an_alert_email_has_a_plain_and_an_html_part(mail: MailServer) -> None:
    EmailChannel(email_settings(mail.port), None).send(ANSWER)
    [message] = mail.handler.messages
    assert message["Subject"] == "Kindling: jane-<mp> answered campaign senedd on bluesky"
    assert message["From"] == "kindling@example.org"
    assert message["To"] == "organiser@example.org, second@example.org"
    assert message["X-Kindling-Alert"] == "target_answered"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    assert "https://bsky.app/profile/x/post/1" in plain.get_content()
    assert "jane-&lt;mp&gt;" in html.get_content() and "<mp>" not in html.get_content()


def test_starttls_with_a_login_from_the_environment(certificate: tuple[Path, Path]) -> None:
    logins = Logins("alerts@example.org", "s3cret-smtp")
    handler = MailHandler()
    with MailServer(handler, tls_context=server_tls(certificate), authenticator=logins) as server:
        settings = email_settings(server.port, security="starttls", username="alerts@example.org")
        EmailChannel(settings, "s3cret-smtp").send(ANSWER)
        assert logins.attempts == ["alerts@example.org"]
        assert len(handler.messages) == 1
        with pytest.raises(ChannelFailed, match="refused: 535") as refused:
            EmailChannel(settings, "wrong").send(ANSWER)
        assert "wrong" not in str(refused.value)


def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    handler = MailHandler()
    with MailServer(handler, ssl_context=server_tls(certificate)) as server:
        EmailChannel(email_settings(server.port, security="tls"), None).send(ANSWER)
    assert [m["X-Kindling-Alert"] for m in handler.messages] == ["target_answered"]


def test_starttls_refuses_a_server_without_tls(mail: MailServer) -> None:
    with pytest.raises(ChannelFailed, match="SMTP failed: SMTPNotSupportedError"):
        EmailChannel(email_settings(mail.port, security="starttls"), None).send(ANSWER)
    assert mail.handler.messages == []


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        (
            "slack",
            {"text": "*Kindling: x refused the credentials, its posts are paused*\nx answered: "},
        ),
        ("matrix", {"text": "Kindling: x refused the credentials, its posts are paused\n"}),
        ("plain", {"event": "platform_paused_for_auth"}),
    ],
)
def test_the_webhook_posts_json_in_each_shape(
    webhook: WebhookServer, shape: str, expected: dict[str, str]
) -> None:
    alert = alert_for(PlatformPausedForAuth("x", "401 Unauthorized <&>"))
    WebhookChannel(AlertWebhookSettings(format=shape), webhook.url).send(alert)  # type: ignore[arg-type]
    [(path, content_type, body)] = webhook.calls
    assert path == "/hook" and content_type == "application/json"
    received = json.loads(body)
    assert received == webhook_body(alert, shape)
    for key, start in expected.items():
        assert received[key].startswith(start)
    if shape == "slack":
        assert set(received) == {"text"} and "401 Unauthorized &lt;&amp;&gt;" in received["text"]
    if shape == "matrix":
        assert set(received) == {"text", "html"}
        assert "<strong>" in received["html"] and "&lt;&amp;&gt;" in received["html"]
    if shape == "plain":
        assert set(received) == {"event", "subject", "text"}


def test_a_webhook_error_names_the_host_and_status_only(webhook: WebhookServer) -> None:
    webhook.statuses = [500]
    secret_url = webhook.url + "/T000/B000/tokentokentoken"
    with pytest.raises(ChannelFailed) as failed:
        WebhookChannel(AlertWebhookSettings(), secret_url).send(ANSWER)
    assert str(failed.value) == "the webhook at 127.0.0.1 answered HTTP 500"
