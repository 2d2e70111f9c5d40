"""Whether a handle belongs to an account, asked of its network (`kindling check --online`).

Read-only and free: Bluesky's `com.atproto.identity.resolveHandle` (asked of the configured
service) and Mastodon's WebFinger (asked of the address's own server). X is not asked here: X
bills every read (`check --online --x`: bot/publish/x_handles.py). An answer is `Lookup`: found, missing, or not known (the network failed), so a
network failure is never reported as a bad handle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx

from bot.problems import excerpt

Outcome = Literal["found", "missing", "unknown"]
_REDIRECTS = 3  # a WebFinger may move to the server's own host (example.org -> social.example.org)


@dataclass(frozen=True)
class Lookup:
    outcome: Outcome
    reason: str = ""  # for "unknown": what went wrong


class HandleLookup:
    """Looks handles up over one HTTP client; every answer is kept for the run."""

    def __init__(self, bluesky_url: str, webfinger_url: str, timeout: float) -> None:
        self.bluesky_url = bluesky_url.rstrip("/")
        self.webfinger_url = webfinger_url
        self._client = httpx.Client(
            timeout=timeout, follow_redirects=True, max_redirects=_REDIRECTS
        )
        self._answers: dict[tuple[str, str], Lookup] = {}

    def __enter__(self) -> HandleLookup:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def look_up(self, platform: str, handle: str) -> Lookup:
        key = (platform, handle.lower())
        if key not in self._answers:
            self._answers[key] = self._ask(platform, handle)
        return self._answers[key]

    def _ask(self, platform: str, handle: str) -> Lookup:
        if platform == "bluesky":
            url = f"{self.bluesky_url}/xrpc/com.atproto.identity.resolveHandle"
            params = {"handle": handle}
        elif platform == "mastodon":
            server = handle.rsplit("@", 1)[-1]
            url = self.webfinger_url.replace("{server}", server)
            params = {"resource": f"acct:{handle}"}
        else:
            return Lookup("unknown", f"{platform} handles are not looked up")
        try:
            response = self._client.get(url, params=params)
        except httpx.HTTPError as exc:
            return Lookup("unknown", f"{type(exc).__name__}: {excerpt(exc, 80)}")
        return _judged(platform, response)


def _judged(platform: str, response: httpx.Response) -> Lookup:
    if response.status_code == 200:
        return Lookup("found")
    if platform == "mastodon" and response.status_code in (404, 410):
        return Lookup("missing")
    if platform == "bluesky" and response.status_code == 400:
        # "Unable to resolve handle" is the answer for a handle no account has.
        try:
            error = response.json().get("message", "")
        except ValueError:
            error = ""
        if "resolve handle" in str(error).lower():
            return Lookup("missing")
    return Lookup("unknown", f"the server answered {response.status_code}")
