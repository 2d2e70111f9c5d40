"""HTTP plumbing and text reading for the Mastodon adapter (mastodon.py); no Mastodon.py here.

- `MastodonSession` is the `requests.Session` Mastodon.py is given: it remembers every answer's
  X-RateLimit-* headers per endpoint (Mastodon.py keeps one window for all of them), so a used-up
  window raises `RateLimited` without calling the instance.
- `never_sent` tells a connection that never carried the request from one whose answer was lost.
- Mastodon shows a status as HTML (`content`): `plain_text` reads it back, `fingerprint`
  compares it with the text we sent (links masked: Mastodon shortens how they are shown).
- `mention_of`, `published`, `metrics_of` read Mastodon's entities into base.py's types.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from bot.platforms.base import Mention, Metrics, Published, Rejected, http_date

_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")
_URL = re.compile(r"https?://\S+")
_REMOTE_MENTION = re.compile(r"(@\w+)@[\w.-]+\w")
CHARACTERS_PER_URL = 23  # Mastodon counts every link as this many characters
DEFAULT_MAX_CHARACTERS = 500  # Mastodon's default status length limit


class NotFound(Rejected):
    """A 404: the status or account is not there (deleted, or unknown to the instance)."""


@dataclass(frozen=True)
class RateWindow:
    limit: int | None
    remaining: int
    reset_at: datetime


def route_of(method: str, path: str) -> str:
    """'GET /api/v1/media/123' -> 'GET /api/v1/media/{id}': one key per rate-limit bucket."""
    return f"{method.upper()} {_ID_SEGMENT.sub('/{id}', path.rstrip('/'))}"


class MastodonSession(requests.Session):
    """Remembers the rate-limit window of every answer, per endpoint (`windows`)."""

    def __init__(self) -> None:
        super().__init__()
        self.windows: dict[str, RateWindow] = {}
        self.server_date: datetime | None = None  # the Date header of the latest answer

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        url = url.decode() if isinstance(url, bytes) else url
        method = method.decode() if isinstance(method, bytes) else method
        response = super().request(method, url, *args, **kwargs)
        self.server_date = http_date(response.headers.get("date")) or self.server_date
        path = urlsplit(url).path
        self._remember(route_of(str(response.request.method), path), response.headers)
        return response

    def _remember(self, route: str, headers: Any) -> None:
        try:
            limit = headers.get("x-ratelimit-limit")
            reset = datetime.fromisoformat(str(headers["x-ratelimit-reset"]).replace("Z", "+00:00"))
            window = RateWindow(
                int(limit) if limit else None,
                int(headers["x-ratelimit-remaining"]),
                reset if reset.tzinfo else reset.replace(tzinfo=UTC),
            )
        except (KeyError, ValueError):
            return  # no (usable) rate-limit headers on this answer
        self.windows[route] = window


def reset_after_429(window: RateWindow | None, now: datetime) -> datetime:
    """When to try again after a 429: the window's reset, else Mastodon's 5-minute period."""
    if window is not None and window.reset_at > now:
        return window.reset_at
    return now + timedelta(minutes=5)


def never_sent(exc: BaseException | None) -> bool:
    """True when the request cannot have reached the instance: connection refused, DNS
    failure, connect timeout. A read timeout or a connection broken mid-answer may have."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc is not None and exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(exc, requests.ConnectionError) and isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(content: str) -> str:
    """A status's HTML `content` as the text a person reads."""
    reader = _TextOf()
    reader.feed(content)
    reader.close()
    return "".join(reader.parts)


def fingerprint(text: str) -> str:
    """A text as compared with what Mastodon shows back: NFC, links masked, a remote mention
    by its local part (as Mastodon shows it), whitespace collapsed."""
    text = _REMOTE_MENTION.sub(r"\1", _URL.sub(" ", unicodedata.normalize("NFC", text)))
    return " ".join(text.split())


def length(text: str, per_url: int = CHARACTERS_PER_URL) -> int:
    """Mastodon's length of a status: every link `per_url` characters, a remote mention by
    its local part, the rest in code points."""
    return len(_REMOTE_MENTION.sub(r"\1", _URL.sub("x" * per_url, text)))


def when(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def address(account: Any, domain: str) -> str:
    """`user@instance` for any account: a local account's `acct` has no instance part, so it
    is taken from the account's web address (the instance's own domain), else `domain`."""
    acct = str(account["acct"])
    if "@" in acct:
        return acct.lower()
    host = urlsplit(str(account.get("url") or "")).hostname or domain
    return f"{acct}@{host}".lower()


def mention_of(notification: Any, me: str, domain: str) -> Mention | None:
    """A mention, reply or quote notification as a Mention; None without a status."""
    status = notification.get("status")
    if not status:
        return None
    kind, target = "mention", None
    quote = status.get("quote") or {}
    quoted = quote.get("quoted_status") if isinstance(quote, dict) else None
    if notification["type"] == "quote" and quoted:
        kind, target = "quote", str(quoted["id"])
    elif status.get("in_reply_to_account_id") and str(status["in_reply_to_account_id"]) == me:
        kind, target = "reply", str(status["in_reply_to_id"])
    author = status["account"]
    return Mention(
        str(status["id"]),
        kind,
        str(author["id"]),
        address(author, domain),
        plain_text(str(status.get("content") or "")),
        when(status.get("created_at")),
        str(status.get("url") or status.get("uri") or ""),
        target,
    )


def said(exc: Any) -> str:
    """'422 Validation failed: ...' from Mastodon.py's error arguments."""
    args = [a for a in exc.args[1:] if a is not None]
    return " ".join(str(a) for a in args[:1] + args[2:])[:300] or str(exc)


def status_text(status: Any) -> str:
    return plain_text(str(status.get("content") or ""))


def published(root: Any, replies: Sequence[Any]) -> Published:
    return Published(
        str(root["id"]),
        str(root.get("url") or root.get("uri") or ""),
        when(root.get("created_at")),
        tuple(str(r["id"]) for r in replies),
    )


def metrics_of(status: Any) -> Metrics:
    return Metrics(
        str(status["id"]),
        likes=int(status.get("favourites_count") or 0),
        reposts=int(status.get("reblogs_count") or 0),
        replies=int(status.get("replies_count") or 0),
        quotes=int(status.get("quotes_count") or 0),
    )
