"""X's OAuth 1.0a PIN flow ("3-legged OAuth" with oauth_callback=oob), as X documents it, for the
fake X server (x_server.py mounts these routes):

1. `POST /oauth/request_token`, signed with the app's consumer key and secret, oauth_callback=oob
   in the Authorization header -> `oauth_token=…&oauth_token_secret=…&oauth_callback_confirmed=true`
2. `GET /oauth/authorize?oauth_token=…`: the page where the account holder allows the app; with
   the PIN flow it shows a PIN (here in `<code id="oauth_pin">`, as X's page does)
3. `POST /oauth/access_token`, signed with the consumer secret and the request token's secret,
   oauth_verifier=the PIN -> `oauth_token=…&oauth_token_secret=…&user_id=…&screen_name=…`

Signatures are verified (HMAC-SHA1); a wrong key, token, PIN or signature is answered 401, and a
request token is used once. The access token given is the fake account's (`state.account`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from urllib.parse import parse_qsl, urlencode

from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.x_state import XFakeState

FORM = "application/x-www-form-urlencoded"


class XOAuth:
    """The three endpoints; `requests` maps each unused request token to (secret, PIN)."""

    def __init__(self, state: XFakeState) -> None:
        self.state = state
        self.lock = threading.Lock()
        self.requests: dict[str, tuple[str, str]] = {}

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/request_token", self.request_token, methods=["POST"]),
            Route("/oauth/authorize", self.authorize, methods=["GET"]),
            Route("/oauth/access_token", self.access_token, methods=["POST"]),
        ]

    async def request_token(self, request: Request) -> Response:
        oauth = await _verified(request, self.state.account.consumer_secret, "")
        if oauth is None or oauth.get("oauth_consumer_key") != self.state.account.consumer_key:
            return _refused("Could not authenticate you.")
        if oauth.get("oauth_callback") != "oob":
            return _refused("Callback URL not approved for this client application.")
        token, secret = f"req-{secrets.token_hex(8)}", secrets.token_hex(16)
        with self.lock:
            self.requests[token] = (secret, f"{secrets.randbelow(10**7):07d}")
        return _form(oauth_token=token, oauth_token_secret=secret, oauth_callback_confirmed="true")

    async def authorize(self, request: Request) -> Response:
        with self.lock:
            pending = self.requests.get(request.query_params.get("oauth_token", ""))
        if pending is None:
            return HTMLResponse("<p>This page is no longer valid.</p>", 403)
        page = f"<p>Authorise the app, then enter this PIN:</p><code id='oauth_pin'>{pending[1]}</code>"
        return HTMLResponse(page)

    async def access_token(self, request: Request) -> Response:
        header = dict(_authorization(request))
        with self.lock:
            pending = self.requests.pop(header.get("oauth_token", ""), None)
        if pending is None:
            return _refused("Invalid request token.")
        oauth = await _verified(request, self.state.account.consumer_secret, pending[0])
        if oauth is None or oauth.get("oauth_verifier") != pending[1]:
            return _refused("Error processing your OAuth request: Invalid oauth_verifier parameter")
        account = self.state.account
        return _form(
            oauth_token=account.access_token,
            oauth_token_secret=account.access_token_secret,
            user_id=account.user_id,
            screen_name=account.username,
        )


def _authorization(request: Request) -> list[tuple[str, str]]:
    header = request.headers.get("authorization", "")
    if not header.startswith("OAuth "):
        return []
    return [(k, oauth_utils.unescape(v)) for k, v in oauth_utils.parse_authorization_header(header)]


async def _verified(
    request: Request, consumer_secret: str, token_secret: str
) -> dict[str, str] | None:
    """The OAuth parameters when the HMAC-SHA1 signature matches, else None."""
    oauth = dict(_authorization(request))
    if oauth.get("oauth_signature_method") != "HMAC-SHA1" or "oauth_signature" not in oauth:
        return None
    body = await request.body()
    params = [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]
    params += list(request.query_params.multi_items())
    if FORM in request.headers.get("content-type", ""):
        params += parse_qsl(body.decode())
    base = oauth_signature.signature_base_string(
        request.method,
        oauth_signature.base_string_uri(str(request.url.replace(query=""))),
        oauth_signature.normalize_parameters(params),
    )
    key = "&".join(map(oauth_utils.escape, (consumer_secret, token_secret)))
    digest = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest())
    return oauth if hmac.compare_digest(digest.decode(), oauth["oauth_signature"]) else None


def _form(**values: str) -> Response:
    return PlainTextResponse(urlencode(values), media_type=FORM)


def _refused(message: str) -> Response:
    return PlainTextResponse(message, 401)
