"""HTTP plumbing and text matching for the X adapter (x.py); no tweepy here.

- `XSession` replaces tweepy's `requests.Session`: tweepy 4.17 hard-codes the host
  `https://api.twitter.com` in `BaseClient.request` and passes no timeout. The session rewrites
  the host to the configured base URL and applies the timeout *before* `requests` prepares the
  request, so OAuth 1.0a signs the final URL. It also remembers every answer's x-rate-limit-*.
- `reset_at` reads when to try again after a 429, `never_sent` tells a connection that never
  carried the request from one whose answer was lost, `fingerprint` compares a text we sent
  with the text X shows back.
- `mention_of` reads one post of the mentions timeline into a `Mention`.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from twitter_text import extract_urls_with_indices

from bot.platforms.base import Mention, http_date

TWEEPY_HOST = "https://api.twitter.com"
_ID_SEGMENT = re.compile(r"(?<=.)/\d+(?=/|$)")  # ids in a path; not the leading /2


@dataclass(frozen=True)
class RateWindow:
    """One endpoint's rate-limit window, as X last reported it."""

    limit: int | None
    remaining: int
    reset_at: datetime


def route_of(method: str, path: str) -> str:
    """'GET /2/users/123/tweets' -> 'GET /2/users/{id}/tweets': one key per rate-limit bucket."""
    return f"{method.upper()} {_ID_SEGMENT.sub('/{id}', path)}"


class XSession(requests.Session):
    """The configured host instead of api.twitter.com, a timeout on every call, and the
    rate-limit headers of every answer remembered per endpoint (`windows`)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.windows: dict[str, RateWindow] = {}
        self.server_date: datetime | None = None  # the Date header of the latest answer

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        url = url.decode() if isinstance(url, bytes) else url
        method = method.decode() if isinstance(method, bytes) else method
        if url.startswith(TWEEPY_HOST):
            url = self.base_url + url[len(TWEEPY_HOST) :]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        response = super().request(method, url, *args, **kwargs)
        self.server_date = http_date(response.headers.get("date")) or self.server_date
        self._remember(str(response.request.method), urlsplit(url).path, response.headers)
        return response

    def _remember(self, method: str, path: str, headers: Any) -> None:
        try:
            limit = headers.get("x-rate-limit-limit")
            window = RateWindow(
                int(limit) if limit else None,
                int(headers["x-rate-limit-remaining"]),
                datetime.fromtimestamp(int(headers["x-rate-limit-reset"]), UTC),
            )
        except (KeyError, ValueError, OverflowError):
            return  # no (usable) rate-limit headers on this answer
        self.windows[route_of(method, path)] = window


def reset_at(headers: Any, now: datetime) -> datetime:
    """When to try again after a 429: the latest reset among the windows used up. Besides the
    15-minute window, X caps posts per 24 hours per user and per app and says so in
    x-user-limit-24hour-* and x-app-limit-24hour-*; a 429 from those resets much later than
    x-rate-limit-reset says."""
    resets = []
    for prefix in ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"):
        reset, remaining = headers.get(f"{prefix}-reset"), headers.get(f"{prefix}-remaining")
        if reset and reset.isdigit() and (prefix == "x-rate-limit" or remaining == "0"):
            resets.append(datetime.fromtimestamp(int(reset), UTC))
    return max(resets) if resets else now + timedelta(minutes=15)


def never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached X: connection refused, DNS failure, connect
    timeout. Anything later (read timeout, connection reset mid-answer) may have reached it."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(exc, requests.ConnectionError) and isinstance(
        reason,
        urllib3.exceptions.NewConnectionError,  # NameResolutionError is one too
    )


def fingerprint(text: str, *, from_x: bool = False) -> str:
    """A text as compared with what X shows back: NFC, links masked (X shows every link, bare
    domains too, as t.co, and appends one for attached media), whitespace collapsed. Text from
    X is HTML-unescaped first (v2 returns & < > as &amp; &lt; &gt;)."""
    text = unicodedata.normalize("NFC", html.unescape(text) if from_x else text)
    if "." in text:
        for url in reversed(extract_urls_with_indices(text)):
            start, end = url["indices"]
            text = f"{text[:start]} {text[end:]}"
    return " ".join(text.split())


def references(data: dict[str, Any]) -> dict[str, str]:
    """{"replied_to": id, "quoted": id}: live X's `referenced_tweets` or the spec's
    `referenced_posts`."""
    refs = data.get("referenced_tweets") or data.get("referenced_posts") or []
    return {str(r["type"]): str(r["id"]) for r in refs}


def created_at(data: dict[str, Any]) -> datetime | None:
    value = data.get("created_at")
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def mention_of(data: dict[str, Any], users: dict[str, str], me: str) -> Mention:
    """A reply to the account, a quote, or a mention (a reply to someone else that names
    the account is a mention). `in_reply_to`: the post replied to or quoted."""
    refs = references(data)
    to_us = str(data.get("in_reply_to_user_id", me)) == me
    kind, target = "mention", None
    if "replied_to" in refs and to_us:
        kind, target = "reply", refs["replied_to"]
    elif "quoted" in refs:
        kind, target = "quote", refs["quoted"]
    author = str(data.get("author_id", ""))
    handle = users.get(author, "")
    url = f"https://x.com/{handle or 'i/web'}/status/{data['id']}"
    text = html.unescape(data["text"])
    return Mention(str(data["id"]), kind, author, handle, text, created_at(data), url, target)
