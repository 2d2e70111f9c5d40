"""Where alerts go: an email over SMTP and a webhook taking JSON, as `[alerts]` in config.toml says.

A channel's `send` either delivers the alert or raises `ChannelFailed` with a message that is
safe to log: it names the failure (a refusal code, a timeout, an HTTP status), never the SMTP
password or the webhook's URL, which often holds a token itself.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from bot.alerts.messages import Alert
from bot.config import AlertEmailSettings, AlertWebhookSettings, Config

if TYPE_CHECKING:
    import smtplib

SMTP_PASSWORD = "KINDLING_SMTP_PASSWORD"
WEBHOOK_URL = "KINDLING_ALERTS_WEBHOOK_URL"


class ChannelFailed(Exception):
    """The alert did not get through; the message is safe to log."""


class Channel(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


class EmailChannel:
    """One email per alert, plain text and HTML, through the configured SMTP server."""

    name = "email"

    def __init__(self, settings: AlertEmailSettings, password: str | None) -> None:
        self.settings = settings
        self._password = password

    def message(self, alert: Alert) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = alert.subject
        message["From"] = self.settings.from_address
        message["To"] = ", ".join(self.settings.to)
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain="kindling.invalid")
        message["X-Kindling-Alert"] = alert.kind
        message.set_content(alert.text)
        message.add_alternative(alert.html, subtype="html")
        return message

    def send(self, alert: Alert) -> None:
        send_email(self.settings, self._password, self.message(alert))


def send_email(settings: AlertEmailSettings, password: str | None, message: EmailMessage) -> None:
    """Deliver `message` through the SMTP server of `[alerts.email]` (alerts, the weekly report);
    raises ChannelFailed with a message safe to log."""
    import smtplib  # here, not at the top: an idle daemon without alerts stays small

    try:
        with _connect(settings) as smtp:
            if settings.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, password or "")
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        raise ChannelFailed(f"the SMTP server refused: {exc.smtp_code}") from None
    except (smtplib.SMTPException, ssl.SSLError) as exc:
        raise ChannelFailed(f"SMTP failed: {type(exc).__name__}") from None
    except TimeoutError:
        raise ChannelFailed("the SMTP server did not answer in time") from None
    except OSError as exc:
        raise ChannelFailed(f"cannot reach the SMTP server: {exc.strerror or exc}") from None


def _connect(settings: AlertEmailSettings) -> smtplib.SMTP:
    import smtplib

    if settings.security == "tls":
        return smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            timeout=settings.timeout_seconds,
            context=ssl.create_default_context(),
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)


class WebhookChannel:
    """One JSON POST per alert, shaped for Slack, Matrix (hookshot) or as plain fields."""

    name = "webhook"

    def __init__(self, settings: AlertWebhookSettings, url: str) -> None:
        self.settings = settings
        self._url = url

    def body(self, alert: Alert) -> dict[str, Any]:
        return webhook_body(alert, self.settings.format)

    def send(self, alert: Alert) -> None:
        import httpx  # here, not at the top: a dry-run daemon otherwise never loads httpx

        try:
            response = httpx.post(
                self._url, json=self.body(alert), timeout=self.settings.timeout_seconds
            )
        except httpx.TimeoutException:
            raise ChannelFailed(f"the webhook at {self.host} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ChannelFailed(f"cannot reach the webhook at {self.host}: {_kind(exc)}") from None
        if response.status_code >= 300:
            raise ChannelFailed(f"the webhook at {self.host} answered HTTP {response.status_code}")

    @property
    def host(self) -> str:
        """The URL's host only: its path and query may hold a token."""
        return urlsplit(self._url).hostname or "?"


def webhook_body(alert: Alert, shape: str) -> dict[str, Any]:
    """The JSON body: README.md, "Alerts", shows each shape."""
    if shape == "slack":
        return {"text": f"*{_slack_escape(alert.subject)}*\n{_slack_escape(alert.text)}"}
    if shape == "matrix":
        return {"text": f"{alert.subject}\n{alert.text}", "html": alert.html}
    return {"event": alert.kind, "subject": alert.subject, "text": alert.text}


def channels_for(config: Config) -> list[Channel]:
    """The channels `[alerts]` configures (none: alerts are only logged)."""
    settings = config.settings.alerts
    channels: list[Channel] = []
    if settings.email.host:
        channels.append(EmailChannel(settings.email, config.secrets.get(SMTP_PASSWORD)))
    url = config.secrets.get(WEBHOOK_URL) or settings.webhook.url
    if url:
        channels.append(WebhookChannel(settings.webhook, url))
    return channels


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn gives these three a meaning: escaped as its documentation says.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _kind(exc: Exception) -> str:
    cause = exc.__cause__ or exc.__context__
    return type(cause).__name__ if cause is not None else type(exc).__name__
