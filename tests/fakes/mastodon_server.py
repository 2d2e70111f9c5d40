"""A local stand-in for a Mastodon instance: a real HTTP server on 127.0.0.1 that validates every
request against the community OpenAPI description of Mastodon's API (tests/specs/, openapi-core)
and answers with JSON built from the same description's schemas (mastodon_entities.py).

- An invalid request is answered 422 and recorded in `state.violations` (tests assert none);
  so is a call without a Bearer token where the spec asks for one. A wrong token gets 401.
- Every answer is validated against the spec's response schema (`state.response_violations`).
- Mastodon is a Rails app, and the spec describes only JSON bodies: Rails reads form and query
  parameters `key[]` as arrays and `1`/`0` as booleans, and Mastodon.py sends those. The stand-in
  rewrites such a request to the spec's form (rails_form.py) before validating it, so what Rails
  would read is what is validated. Rails also ignores a trailing slash.
- Two corrections to the description, made at load time: `POST /api/v1/statuses` takes `oneOf`
  TextStatus, MediaStatus, PollStatus, which overlap (a status with text and media matches two),
  and a Status's `quote` is `oneOf` Quote, ShallowQuote, which overlap too: both are validated
  as `anyOf`. Answers to injected faults are not checked (a 500 is off the description anyway).
- Semantics: Idempotency-Key replay (the first status, for an hour), X-RateLimit-* headers and
  429s per bucket, media processing (202, then 206 until processed, then 200), paging with Link
  headers, and faults (`state.fail_next`): 5xx, 429, 401, a hang, and "drop": the connection is
  closed without an answer, before or (`after=True`) after the call took effect.

Standalone (for tests that run the daemon as a subprocess and kill it):
    python -m tests.fakes.mastodon_server --port 0 --port-file F
The token comes from KINDLING_MASTODON_ACCESS_TOKEN when set. Control: `GET /_fake/state`,
`POST /_fake/reset`, `/_fake/fault` {"kind": "drop", "route": "POST /api/v1/statuses",
"after": true}, `/_fake/clear-faults`, `/_fake/status` {"text": ..., "author": "a@b.example",
"in_reply_to_id": id}, `/_fake/counts` {"status_id": id, "favourites": 3}, `/_fake/config`.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import uvicorn
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.security.factories import SecurityProviderFactory
from openapi_core.security.providers import BaseProvider
from openapi_core.testing import MockRequest, MockResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.fakes import mastodon_entities as render
from tests.fakes.mastodon_amplify import HANDLERS
from tests.fakes.mastodon_endpoints import Call, Refusal
from tests.fakes.mastodon_state import Fault, MastodonFakeState, Received
from tests.fakes.rails_form import normalise

# Where the description's `oneOf` branches overlap, so a valid value matches two: validated as
# `anyOf` (a status's `quote`: Quote and ShallowQuote both require only `state`).
OVERLAPPING = ((render.spec()["components"]["schemas"]["Status"]["properties"], "quote"),)
HOST_URL = "https://mastodon.example"  # the spec's server, with its default hostname
_ROUTES = [(r, re.compile(re.sub(r"\{\w+\}", "[^/]+", r.split(" ", 1)[1]))) for r in HANDLERS]


class _NotChecked(BaseProvider):
    def __call__(self, parameters: RequestParameters) -> Any:
        return None  # MastodonFakeApi._authenticate checks the Bearer token


class _BearerCheckedHere(SecurityProviderFactory):
    """openapi-core cannot check OAuth 2 (and warns on every call): the stand-in does."""

    PROVIDERS: ClassVar[dict[str, type[BaseProvider]]] = dict.fromkeys(
        ("apiKey", "http", "oauth2", "openIdConnect"), _NotChecked
    )


def _without_binary(media: dict[str, Any]) -> dict[str, Any]:
    """The multipart schema for its JSON copy: a file is then a text naming it, not bytes."""
    schema = copy.deepcopy(media["schema"])
    for prop in schema.get("properties", {}).values():
        if prop.get("format") == "binary":
            del prop["format"]
    return {"schema": schema}


@cache
def openapi() -> OpenAPI:
    """The description, loaded once per process, with the one correction the module names."""
    data = render.spec()
    request_body = data["paths"]["/api/v1/statuses"]["post"]["requestBody"]["content"]
    for holder, key in ((request_body["application/json"], "schema"), *OVERLAPPING):
        schema = holder if key is None else holder[key]
        if "oneOf" in schema:
            schema["anyOf"] = schema.pop("oneOf")
    for operations in data["paths"].values():  # see rails_form.normalise on multipart bodies
        for operation in operations.values():
            content = (
                operation.get("requestBody", {}).get("content", {})
                if isinstance(operation, dict)
                else {}
            )
            if "multipart/form-data" in content:
                content.setdefault(
                    "application/json", _without_binary(content["multipart/form-data"])
                )
    config = Config(spec_validator_cls=None, security_provider_factory=_BearerCheckedHere())
    return OpenAPI.from_dict(data, config=config)


@cache
def secured(route: str) -> bool:
    method, template = route.split(" ", 1)
    return bool(render.spec()["paths"][template][method.lower()].get("security"))


def describe(error: Exception) -> str:
    schema_errors = getattr(error.__cause__, "schema_errors", None) or [error.__cause__]
    details = [str(getattr(e, "message", e))[:200] for e in schema_errors if e is not None]
    return f"{error}: {'; '.join(details)}" if details else str(error)


class DroppedConnection(Response):
    """Starts an answer it never finishes: uvicorn then closes the connection."""

    def __init__(self) -> None:
        super().__init__(b"", 200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise ConnectionAbortedError("the stand-in drops this connection on purpose")


class MastodonFakeApi:
    def __init__(self, state: MastodonFakeState) -> None:
        self.state = state

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        method, path = request.method, request.url.path.rstrip("/") or "/"
        route = next(
            (r for r, p in _ROUTES if r.startswith(method + " ") and p.fullmatch(path)), None
        )
        entry = Received(
            method,
            path,
            route,
            list(request.query_params.multi_items()),
            dict(request.headers),
            body,
        )
        with self.state.lock:
            self.state.requests.append(entry)
        try:
            response = await self._answer(request, body, entry)
        except Refusal as refusal:
            response = JSONResponse(render.error(refusal.message), refusal.status)
        if route and not entry.faulted:
            self._rate_headers(route, response)
            self._check_response(entry, response)
        entry.status = response.status_code
        return response

    async def _answer(self, request: Request, body: bytes, entry: Received) -> Response:
        route, state = entry.route, self.state
        if route is None:
            self._violation(entry, "no such endpoint in the stand-in")
            raise Refusal(404, "Not found")
        self._authenticate(request, route, entry)
        call = await self._validated(request, body, route, entry)
        with state.lock:
            fault = self._fault_for(route, entry.path)
            if fault is None and self._exhausted(route):
                raise Refusal(429, "Too many requests")
        entry.faulted = fault is not None
        if fault and not fault.after:
            return await self._fault(fault)
        with state.lock:
            status, payload, headers = HANDLERS[route](state, call)
        if fault:
            return await self._fault(fault)
        return JSONResponse(payload, status, headers=headers)

    def _authenticate(self, request: Request, route: str, entry: Received) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not secured(route) and not header:
            return
        if scheme != "Bearer" or not token or token == "None":
            self._violation(entry, f"no usable Authorization for {route}: {scheme or 'none'}")
            raise Refusal(401, "The access token is invalid")
        if token != self.state.token:
            raise Refusal(401, "The access token is invalid")

    async def _validated(self, request: Request, body: bytes, route: str, entry: Received) -> Call:
        sent = normalise(route, entry.query, body, request.headers.get("content-type", ""))
        spec_request = MockRequest(
            HOST_URL,
            request.method.lower(),
            entry.path,
            args=sent.query,
            data=sent.spec_body,
            content_type=sent.spec_type,
            headers=dict(request.headers),
        )
        result = openapi().unmarshal_request(spec_request)
        if result.errors:
            message = "; ".join(map(describe, result.errors))
            self._violation(entry, message)
            raise Refusal(422, f"Validation failed: {message}"[:500])
        params = result.parameters
        return Call(
            dict(params.path),
            dict(params.query),
            dict(sent.body or {}),
            {k.lower(): v for k, v in request.headers.items()},
            str(request.url.replace(query="")).rstrip("/"),
            sent.files,
        )

    def _fault_for(self, route: str, path: str) -> Fault | None:
        fault = next((f for f in self.state.faults if f.matches(route, path)), None)
        if fault and fault.skip > 0:
            fault.skip -= 1
            return None
        if fault:
            fault.count -= 1
            self.state.faults = [f for f in self.state.faults if f.count > 0]
        return fault

    def _buckets(self, route: str) -> list[str]:
        return ["*", route] if route in self.state.limits else ["*"]

    def _exhausted(self, route: str) -> bool:
        now, exhausted = datetime.now(UTC), False
        for bucket in self._buckets(route):
            limit, seconds = self.state.limits[bucket]
            used, reset = self.state.windows.get(bucket, (0, now + timedelta(seconds=seconds)))
            if reset <= now:
                used, reset = 0, now + timedelta(seconds=seconds)
            exhausted = exhausted or used >= limit
            self.state.windows[bucket] = (used + 1, reset)
        return exhausted

    def _rate_headers(self, route: str, response: Response) -> None:
        with self.state.lock:
            bucket = self._buckets(route)[-1]
            limit, seconds = self.state.limits[bucket]
            default = (0, datetime.now(UTC) + timedelta(seconds=seconds))
            used, reset = self.state.windows.get(bucket, default)
        response.headers.setdefault("x-ratelimit-limit", str(limit))
        response.headers.setdefault("x-ratelimit-remaining", str(max(limit - used, 0)))
        response.headers.setdefault("x-ratelimit-reset", render.iso(reset))

    async def _fault(self, fault: Fault) -> Response:
        if fault.kind == "drop":
            return DroppedConnection()
        if fault.kind == "hang":
            release, until = self.state.release, time.monotonic() + fault.seconds
            while not release.is_set() and time.monotonic() < until:
                await asyncio.sleep(0.02)
            return JSONResponse(render.error("Service Unavailable"), 503)
        if fault.kind == "rate_limit":
            reset = datetime.now(UTC) + timedelta(seconds=fault.seconds)
            headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": render.iso(reset)}
            return JSONResponse(render.error("Too many requests"), 429, headers=headers)
        if fault.kind == "unauthorized":
            return JSONResponse(render.error("The access token is invalid"), 401)
        if fault.kind == "error":
            return JSONResponse(render.error("Internal Server Error"), fault.status)
        raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _check_response(self, entry: Received, response: Response) -> None:
        spec_request = MockRequest(HOST_URL, entry.method.lower(), entry.path)
        media = response.headers.get("content-type", "application/json").split(";")[0]
        spec_response = MockResponse(bytes(response.body), response.status_code, content_type=media)
        try:
            openapi().validate_response(spec_request, spec_response)
        except Exception as error:  # any failure of openapi-core on an answer is a finding
            with self.state.lock:
                self.state.response_violations.append(
                    f"{entry.route} -> {response.status_code}: {describe(error)}"[:1000]
                )

    def _violation(self, entry: Received, message: str) -> None:
        with self.state.lock:
            self.state.violations.append(f"{entry.method} {entry.path}: {message}")


async def _control(request: Request) -> Response:
    state: MastodonFakeState = request.app.state.fake
    action = request.path_params["action"]
    options = await request.json() if request.method == "POST" else {}
    if action == "reset":
        state.reset()
    elif action == "fault":
        state.fail_next(**options)
    elif action == "clear-faults":
        state.clear_faults()
    elif action == "status":
        return JSONResponse({"id": state.add_status(**options)})
    elif action == "counts":
        state.set_counts(**options)
    elif action == "config":
        with state.lock:
            for name in ("max_characters", "media_polls", "batch_statuses", "api_version"):
                setattr(state, name, options.get(name, getattr(state, name)))
            for bucket, (limit, seconds) in options.get("limits", {}).items():
                state.limits[bucket] = (int(limit), int(seconds))
    elif action != "state":
        return JSONResponse({"error": f"unknown action {action}"}, 404)
    return JSONResponse(state.snapshot())


def create_app(state: MastodonFakeState) -> Starlette:
    app = Starlette(
        routes=[
            Route("/_fake/{action}", _control, methods=["GET", "POST"]),
            Route(
                "/{path:path}",
                MastodonFakeApi(state).handle,
                methods=["GET", "POST", "PUT", "DELETE"],
            ),
        ]
    )
    app.state.fake = state
    return app


class MastodonFakeServer:
    """`with MastodonFakeServer() as server: server.url, server.state` (a background thread)."""

    def __init__(self, state: MastodonFakeState | None = None, port: int = 0) -> None:
        self.state = state or MastodonFakeState()
        openapi()  # load the description before the first request, not during it
        config = uvicorn.Config(
            create_app(self.state),
            host="127.0.0.1",
            port=port,
            log_level="critical",  # a dropped connection is logged as an ASGI error otherwise
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="mastodon-fake", daemon=True)

    def start(self) -> MastodonFakeServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Mastodon stand-in did not start")
            time.sleep(0.01)
        return self

    @property
    def port(self) -> int:
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.state.clear_faults()  # releases hanging handlers
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> MastodonFakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Mastodon stand-in on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the port here once listening")
    args = parser.parse_args(argv)
    token = os.environ.get("KINDLING_MASTODON_ACCESS_TOKEN")
    state = MastodonFakeState(token) if token else MastodonFakeState()
    server = MastodonFakeServer(state, port=args.port).start()
    if args.port_file:
        args.port_file.write_text(str(server.port))
    print(f"Mastodon stand-in listening on {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
