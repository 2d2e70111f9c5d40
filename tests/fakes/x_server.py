"""A local fake of the X API v2: a real HTTP server on 127.0.0.1 that answers as the official
OpenAPI spec says and validates every request against it (openapi-core).

- Invalid requests get X's 400 problem and are recorded in `state.violations`; so are requests
  without a usable `Authorization` (OAuth 1.0a signatures are verified; `Bearer None` and
  Bearer on user-context-only endpoints are refused). Wrong keys get a plain 401: an answer.
- Every answer is validated against the spec's response schema (`state.response_violations`).
- Faults: `state.fail_next(kind, ...)` answers the next calls with 429, 401, 403 duplicate,
  5xx or a hang, before or (`after=True`) after the call took effect: the ambiguous case;
  `skip=N` lets N calls pass first (a search failing on its third page).
- Recent search takes only the query subset Kindling sends (x_query.py); posts returned by
  reads are counted per route in `state.reads` (X bills per post read).
- Where live X and the spec differ, the fake accepts both: `tweet.fields` (live; checked against
  live X's list) and `post.fields` (spec); `referenced_tweets` (live) and `referenced_posts`.

Standalone (for daemon crash tests; state lives as long as this process):
    python -m tests.fakes.x_server --port 8099 [--port-file F] [--metric-name retweet_count]
It takes the account's keys from KINDLING_X_* when set. Control it over HTTP: `GET /_fake/state`,
`POST /_fake/reset`, `/_fake/fault` {"kind": "error", "route": "POST /2/tweets", "after": true},
`/_fake/post` {"text": "#tag https://example.org", "author": "someone", "lang": "cy",
"in_reply_to": id, "retweet_of": id, "created_at": iso}, `/_fake/metrics`
{"post_id": "...", "like_count": 3}, `/_fake/user` {"username": "someone"} (an account that
`GET /2/users/by` finds), `/_fake/config` {"metric_name": ..., "limits": {...}}.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import threading
import time
from functools import cache
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import uvicorn
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils
from openapi_core import Config, OpenAPI
from openapi_core.contrib.starlette import StarletteOpenAPIRequest, StarletteOpenAPIResponse
from openapi_core.datatypes import RequestParameters
from openapi_core.security.factories import SecurityProviderFactory
from openapi_core.security.providers import BaseProvider
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.x_amplify import HANDLERS
from tests.fakes.x_bill import bill_call
from tests.fakes.x_endpoints import (
    LIVE_TWEET_FIELDS,
    Answer,
    fault_answer,
    invalid,
    problem,
)
from tests.fakes.x_oauth import XOAuth
from tests.fakes.x_state import WINDOW, FakeAccount, Fault, Received, XFakeState

SPEC_NAME = "x-api-v2-openapi.json"
_REPO = Path(__file__).resolve().parents[2]
# The official X API v2 spec, carried in the project (tests/specs/README.md says where from).
SPEC_CANDIDATES = (_REPO / "tests" / "specs" / SPEC_NAME,)
OAUTH_REQUIRED = set(
    ["consumer_key", "token", "signature_method", "signature", "timestamp", "nonce"]
)
_ROUTES = [(r, re.compile(re.sub(r"\{\w+\}", "[^/]+", r.split(" ", 1)[1]))) for r in HANDLERS]


def spec_path() -> Path:
    """KINDLING_X_OPENAPI_SPEC, else the first of SPEC_CANDIDATES that exists."""
    override = os.environ.get("KINDLING_X_OPENAPI_SPEC")
    found = [Path(override)] if override else [p for p in SPEC_CANDIDATES if p.is_file()]
    if not found:
        raise FileNotFoundError(f"{SPEC_NAME} not found in {[str(p) for p in SPEC_CANDIDATES]}")
    return found[0]


class _NotChecked(BaseProvider):
    def __call__(self, parameters: RequestParameters) -> Any:
        return None  # XFakeApi._authenticate checks the Authorization header


class _OwnAuthCheck(SecurityProviderFactory):
    """openapi-core cannot check OAuth 1.0a or OAuth 2 (and warns on every call): we do."""

    PROVIDERS: ClassVar[dict[str, type[BaseProvider]]] = dict.fromkeys(
        ("apiKey", "http", "oauth2", "openIdConnect"), _NotChecked
    )


@cache
def openapi() -> OpenAPI:
    """The spec, loaded once per process (~0.5 s), without validating the spec itself (it
    fails strict validation: an enum lists a value twice)."""
    # openapi-core does not know application/problem+json is JSON (X's error answers use it).
    extra = {"application/problem+json": json.loads}
    config = Config(
        spec_validator_cls=None,
        extra_media_type_deserializers=extra,
        security_provider_factory=_OwnAuthCheck(),
    )
    return OpenAPI.from_file_path(str(spec_path()), config=config)


@cache
def security_schemes(route: str) -> frozenset[str]:
    method, template = route.split(" ", 1)
    operation = json.loads(spec_path().read_text())["paths"][template][method.lower()]
    return frozenset(name for option in operation.get("security", []) for name in option)


def describe(error: Exception) -> str:
    """An openapi-core error with its schema errors, long values shortened in the middle."""

    def short(text: str) -> str:
        return text if len(text) <= 200 else f"{text[:90]} … {text[-90:]}"

    schema_errors = getattr(error.__cause__, "schema_errors", None) or [error.__cause__]
    details = [short(str(getattr(e, "message", e))) for e in schema_errors if e is not None]
    return f"{error}: {'; '.join(details)}" if details else str(error)


class SpecRequest(StarletteOpenAPIRequest):
    host_url = "https://api.x.com"  # the spec's only server; the fake's own host differs


class XFakeApi:
    """The X API side of the fake: authenticate, validate, inject faults, answer, check."""

    def __init__(self, state: XFakeState) -> None:
        self.state = state

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        method, path = request.method, request.url.path
        route = next(
            (r for r, p in _ROUTES if r.startswith(method + " ") and p.fullmatch(path)), None
        )
        query = list(request.query_params.multi_items())
        entry = Received(method, path, route, query, dict(request.headers), body)
        with self.state.lock:
            self.state.requests.append(entry)
        try:
            response = await self._answer(request, body, entry)
        except Answer as answer:
            response = answer.response
        if route:
            self._rate_headers(route, response)
            self._check_response(request, body, response, entry)
        entry.status, entry.response = response.status_code, bytes(response.body)
        entry.content_type = response.headers.get("content-type", "")
        return response

    async def _answer(self, request: Request, body: bytes, entry: Received) -> Response:
        route, state = entry.route, self.state
        if route is None:
            self._violation(entry, "no such endpoint in the fake")
            detail = f"{entry.method} {entry.path} does not exist"
            return problem(
                404, "Not Found Error", detail, "resource-not-found", resource_type="endpoint"
            )
        self._authenticate(request, body, route, entry)
        result = openapi().unmarshal_request(SpecRequest(request, body))
        if result.errors:
            message = "; ".join(map(describe, result.errors))
            self._violation(entry, message)
            return invalid(message)
        fields = self._fields(request, entry)
        with state.lock:
            fault = next((f for f in state.faults if f.matches(route, entry.path)), None)
            if fault and fault.skip > 0:  # this call passes; a later one fails
                fault.skip, fault = fault.skip - 1, None
            if fault:
                fault.count -= 1
                state.faults = [f for f in state.faults if f.count > 0]
            exhausted = self._consume(route)
        if fault and not fault.after:
            return await self._fault(fault)
        if exhausted:
            return problem(429, "Too Many Requests", "Too Many Requests")
        with state.lock:
            params = result.parameters
            status, payload = HANDLERS[route](state, params.path, params.query, fields, result.body)
            bill_call(
                state.bill, state.account.user_id, route, params.path, status, payload, result.body
            )
            if entry.method == "GET" and isinstance(payload.get("data"), list):
                state.reads[route] = state.reads.get(route, 0) + len(payload["data"])
        return await self._fault(fault) if fault else JSONResponse(payload, status)

    def _authenticate(self, request: Request, body: bytes, route: str, entry: Received) -> None:
        """OAuth 1.0a user context (signature verified) or, where the spec allows, Bearer."""
        account, header = self.state.account, request.headers.get("authorization", "")
        allowed = security_schemes(route)
        scheme, _, credentials = header.partition(" ")
        unauthorized = Answer(problem(401, "Unauthorized", "Unauthorized"))
        if scheme == "Bearer" and "BearerToken" in allowed:
            if credentials in ("", "None"):
                self._violation(entry, f"Authorization: Bearer {credentials!r}")
            if credentials != account.bearer_token:
                raise unauthorized
            return
        if scheme != "OAuth" or "UserToken" not in allowed:
            self._violation(entry, f"no usable Authorization for {route}: {scheme or 'none'}")
            detail = f"Authenticating with {scheme or 'nothing'} is forbidden for this endpoint."
            raise Answer(problem(403 if scheme else 401, "Unsupported Authentication", detail))
        oauth = {
            k: oauth_utils.unescape(v) for k, v in oauth_utils.parse_authorization_header(header)
        }
        missing = sorted(f"oauth_{k}" for k in OAUTH_REQUIRED if f"oauth_{k}" not in oauth)
        if missing or oauth["oauth_signature_method"] != "HMAC-SHA1":
            self._violation(entry, f"malformed OAuth header (missing {missing})")
            raise unauthorized
        if (oauth["oauth_consumer_key"], oauth["oauth_token"]) != (
            account.consumer_key,
            account.access_token,
        ):
            raise unauthorized  # unknown keys: X's answer, not the client's mistake
        form = "application/x-www-form-urlencoded" in request.headers.get("content-type", "")
        params = [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]
        params += entry.query + (parse_qsl(body.decode()) if form else [])
        base = oauth_signature.signature_base_string(
            request.method,
            oauth_signature.base_string_uri(str(request.url.replace(query=""))),
            oauth_signature.normalize_parameters(params),
        )
        key = "&".join(
            map(oauth_utils.escape, (account.consumer_secret, account.access_token_secret))
        )
        digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), oauth["oauth_signature"]):
            self._violation(entry, "OAuth 1.0a signature does not match the request")
            raise unauthorized

    def _fields(self, request: Request, entry: Received) -> tuple[set[str], set[str]]:
        """(post fields, expansions): live X's `tweet.fields` and the spec's `post.fields`."""
        query = request.query_params
        live = {v for v in query.get("tweet.fields", "").split(",") if v}
        if unknown := sorted(live - LIVE_TWEET_FIELDS):
            self._violation(entry, f"tweet.fields: unknown {unknown}")
            message = f"The `tweet.fields` query parameter value {unknown} is not one of the fields"
            raise Answer(invalid(message, {"tweet.fields": sorted(live)}))
        spec = {v for v in query.get("post.fields", "").split(",") if v}
        return live | spec, {v for v in query.get("expansions", "").split(",") if v}

    def _consume(self, route: str) -> bool:
        """Count a call in its 15-minute window; True when the window was already used up."""
        now = int(time.time())
        used, reset = self.state.windows.get(route, (0, now + WINDOW))
        used, reset = (0, now + WINDOW) if reset <= now else (used, reset)
        self.state.windows[route] = (used + 1, reset)
        return used >= self.state.limits[route]

    def _rate_headers(self, route: str, response: Response) -> None:
        with self.state.lock:
            used, reset = self.state.windows.get(route, (0, int(time.time()) + WINDOW))
            limit = self.state.limits[route]
        response.headers.setdefault("x-rate-limit-limit", str(limit))
        response.headers.setdefault("x-rate-limit-remaining", str(max(limit - used, 0)))
        response.headers.setdefault("x-rate-limit-reset", str(reset))

    async def _fault(self, fault: Fault) -> Response:
        if fault.kind == "hang":  # until fault.seconds pass or the state is reset
            release, until = self.state.release, time.monotonic() + fault.seconds
            while not release.is_set() and time.monotonic() < until:
                await asyncio.sleep(0.02)
        return fault_answer(fault)

    def _check_response(
        self, request: Request, body: bytes, response: Response, entry: Received
    ) -> None:
        try:  # validate, not unmarshal: 10 times faster on 100 posts
            openapi().validate_response(
                SpecRequest(request, body), StarletteOpenAPIResponse(response)
            )
        except Exception as error:  # any failure of openapi-core on an answer is a finding
            with self.state.lock:
                self.state.response_violations.append(
                    f"{entry.route} -> {response.status_code}: {describe(error)}"
                )

    def _violation(self, entry: Received, message: str) -> None:
        with self.state.lock:
            self.state.violations.append(f"{entry.method} {entry.path}: {message}")


def create_app(state: XFakeState) -> Starlette:
    """The X API routes plus `/_fake/{action}` to control the fake from another process."""

    async def control(request: Request) -> Response:
        action = request.path_params["action"]
        options = await request.json() if request.method == "POST" else {}
        if action == "reset":
            state.reset()
        elif action == "fault":
            state.fail_next(**options)
        elif action == "clear-faults":
            state.clear_faults()
        elif action == "post":
            return JSONResponse({"id": state.add_post(**options)})
        elif action == "user":
            return JSONResponse({"id": state.add_user(**options)})
        elif action == "metrics":
            state.set_metrics(**options)
        elif action == "config":
            with state.lock:
                for name in ("metric_name", "shorten_urls", "escape_html"):
                    setattr(state, name, options.get(name, getattr(state, name)))
                state.limits.update(options.get("limits", {}))  # {"POST /2/tweets": 1000}
        elif action != "state":
            return JSONResponse({"error": f"unknown action {action}"}, 404)
        return JSONResponse(state.snapshot())

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(
        routes=[
            Route("/_fake/{action}", control, methods=["GET", "POST"]),
            *XOAuth(state).routes(),  # the OAuth 1.0a PIN flow (x_oauth.py)
            Route("/{path:path}", XFakeApi(state).handle, methods=methods),
        ]
    )


class XFakeServer:
    """The fake in a background thread: `with XFakeServer() as server: server.url, server.state`."""

    def __init__(
        self, state: XFakeState | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.state = state or XFakeState()
        self.host = host
        openapi()  # load the spec before the first request, not during it
        config = uvicorn.Config(
            create_app(self.state),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="x-fake", daemon=True)

    def start(self) -> XFakeServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake X server did not start")
            time.sleep(0.01)
        return self

    @property
    def port(self) -> int:
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.state.reset()  # releases hanging handlers
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> XFakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_ENVIRONMENT = {
    "consumer_key": "KINDLING_X_API_KEY",
    "consumer_secret": "KINDLING_X_API_SECRET",
    "access_token": "KINDLING_X_ACCESS_TOKEN",
    "access_token_secret": "KINDLING_X_ACCESS_TOKEN_SECRET",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake X API v2 server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the port here once listening")
    parser.add_argument(
        "--metric-name", choices=["repost_count", "retweet_count"], default="repost_count"
    )
    parser.add_argument("--shorten-urls", action="store_true", help="show links as t.co, like X")
    args = parser.parse_args(argv)
    keys = {field: os.environ[name] for field, name in _ENVIRONMENT.items() if os.environ.get(name)}
    state = XFakeState(
        FakeAccount(**keys), metric_name=args.metric_name, shorten_urls=args.shorten_urls
    )
    server = XFakeServer(state, port=args.port).start()
    if args.port_file:
        args.port_file.write_text(str(server.port))
    source = "KINDLING_X_* from the environment" if keys else "the FakeAccount defaults"
    print(f"fake X API listening on {server.url}; keys: {source}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
