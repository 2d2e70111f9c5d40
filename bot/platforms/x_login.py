"""X's OAuth 1.0a PIN flow for `kindling login x`: tweepy's `OAuth1UserHandler` on the configured
base URL, with a timeout (tweepy hard-codes api.twitter.com and sends none; see x_support.py).

1. `authorize_url()`: a request token (oauth_callback=oob), and the URL where the account holder
   allows the app; X then shows a PIN.
2. `access_token(pin)`: the request token and the PIN exchanged for the account's access token
   and secret. Failures become base.py's errors; no message holds a key, a token or the PIN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import requests
import tweepy
from requests_oauthlib.oauth1_session import TokenRequestDenied

from bot.platforms.base import AuthFailed, PlatformError, Transient
from bot.platforms.x import PLATFORM  # also keeps oauthlib's DEBUG logging of tokens quiet


@dataclass(frozen=True)
class AccessToken:
    token: str = field(repr=False)
    secret: str = field(repr=False)


class _Handler(tweepy.OAuth1UserHandler):  # type: ignore[misc]
    """tweepy's handler with the configured host and a timeout on each of its sessions (it
    makes a new one for the access token)."""

    def __init__(self, key: str, secret: str, base_url: str, timeout: float) -> None:
        self._base_url, self._timeout = base_url.rstrip("/"), timeout
        super().__init__(key, secret, callback="oob")

    def _get_oauth_url(self, endpoint: str) -> str:
        return f"{self._base_url}/oauth/{endpoint}"

    @property
    def oauth(self) -> Any:
        return self._oauth

    @oauth.setter
    def oauth(self, session: Any) -> None:
        session.request = partial(session.request, timeout=self._timeout)
        self._oauth = session


class XLogin:
    def __init__(
        self, consumer_key: str, consumer_secret: str, *, api_base_url: str, timeout: float
    ) -> None:
        self._handler = _Handler(consumer_key, consumer_secret, api_base_url, timeout)

    def authorize_url(self) -> str:
        """Ask X for a request token; the URL to open to allow the app and see the PIN."""
        try:
            return str(self._handler.get_authorization_url())
        except tweepy.TweepyException as exc:
            raise _error(
                exc, "the app key or secret was refused (KINDLING_X_API_KEY, KINDLING_X_API_SECRET)"
            ) from None

    def access_token(self, pin: str) -> AccessToken:
        """Exchange the request token and the PIN for the account's access token."""
        try:
            token, secret = self._handler.get_access_token(pin.strip())
        except tweepy.TweepyException as exc:
            raise _error(
                exc, "the PIN was refused (wrong, or the request expired): start again"
            ) from None
        return AccessToken(str(token), str(secret))


def _error(exc: tweepy.TweepyException, refused: str) -> PlatformError:
    cause: BaseException | None = exc
    while isinstance(cause, tweepy.TweepyException):  # tweepy wraps, sometimes twice
        cause = cause.__context__
    if isinstance(cause, TokenRequestDenied) and cause.status_code in (401, 403):
        return AuthFailed(PLATFORM, refused)
    if isinstance(cause, TokenRequestDenied):
        return Transient(PLATFORM, f"X answered HTTP {cause.status_code}")
    if isinstance(cause, requests.RequestException):
        return Transient(PLATFORM, f"cannot reach X ({type(cause).__name__})")
    return Transient(PLATFORM, f"unreadable answer from X ({type(cause).__name__})")
