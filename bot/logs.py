"""Logging set-up: text for people, JSON lines for collectors; context fields on every post line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from bot.config import LoggingSettings

# Extra fields of post log lines: (LogRecord attribute, label). "message" is taken by logging.
CONTEXT_FIELDS = (
    ("campaign", "campaign"),
    ("message_id", "message"),
    ("language", "language"),
    ("platform", "platform"),
    ("slot", "slot"),
    ("state", "state"),
    ("url", "url"),
    ("reason", "reason"),
    ("text", "text"),
)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        fields = " ".join(
            f"{label}={getattr(record, name)}"
            for name, label in CONTEXT_FIELDS
            if getattr(record, name, None)
        )
        line = f"{stamp} {record.levelname:<7} {record.getMessage()}"
        if fields:
            line = f"{line} {fields}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(
            {
                label: getattr(record, name)
                for name, label in CONTEXT_FIELDS
                if getattr(record, name, None)
            }
        )
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure(settings: LoggingSettings) -> None:
    handler: logging.Handler = (
        logging.FileHandler(settings.file, encoding="utf-8")
        if settings.file
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    # Libraries' own request logs could carry credentials in URLs or headers.
    for noisy in ("httpx", "httpcore", "urllib3", "requests_oauthlib", "oauthlib", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
