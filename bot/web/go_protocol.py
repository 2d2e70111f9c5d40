"""`/go/{token}` answered at the HTTP protocol level, without an ASGI request cycle.

Before the app runs, uvicorn spends ~27 µs of CPU on every request here: a scope dict, a
`RequestResponseCycle` with an `asyncio.Event`, a Task, the ASGI messages and the checks of every
header. A prepared 302 written straight from the parser's callbacks costs ~11 µs, this module's
`/go/` without the click ~19 µs, with the click committed ~27 µs (benchmarks/README.md,
"/go/{token}"); the target of 30,000 committed clicks a second on one core leaves 33 µs for
everything, so the hot case is answered here.

`GoProtocol` is uvicorn's httptools protocol with Kindling's limits (bot/web/http_limits.py) and
one shortcut. A GET or HEAD of `/go/{token}` (no query, no escapes) on a connection with no
request in progress, for a token with a stored URL, that is not a prefetch: the click is made by
the same `GoEndpoint.click_for` (hash, rate limit, DNT/Sec-GPC) and handed to the same writer
thread; the 302 is written by the writer's callback once the commit holding the click returned.
Everything else (an unknown token, Mastodon's instance form, other methods, prefetches, a request
pipelined behind a pending one, every page) goes the usual way through uvicorn to `KindlingApp`,
whose `GoEndpoint` answers `/go/` identically, only more slowly; tests/web/test_go_protocol.py
holds the two to the same answers. While a click commits, `_PendingRedirect` stands where
uvicorn keeps its request cycle, so uvicorn's own handling of pipelining, lost connections and
shutdown keeps working: a request pipelined behind it is queued by uvicorn and started by
`on_response_complete`, as uvicorn does after its own responses.

The protocol finds what it serves on the app uvicorn runs: the `GoShortcut` (endpoint, 302
head) that `KindlingApp` carries as `go_shortcut`, and uvicorn's trusted proxies. This leans on
uvicorn's protocol internals (`url`, `headers`, `parser`, `cycle`, `pipeline`, `flow`, `tasks`,
`_start_asgi_task`, `server_state.default_headers`, `STATUS_LINE`): bot/web/server.py uses it
only with the uvicorn they were read from (0.54.0), and the tests exercise each of them.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from uvicorn.config import Config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.server import ServerState

from bot.web.go import (
    BENCH_PREFIX,
    PREFIX,
    REDIRECT_HEADERS,
    page_headers,
    read_request_headers,
)
from bot.web.http_limits import LimitedHttpToolsProtocol
from bot.web.linkset import GoLink
from bot.web.server import GoShortcut, served_attribute
from bot.web.writer import WriterClosed

log = logging.getLogger("kindling.web.go")

_PREFIX = PREFIX.encode("ascii")
_BENCH_PREFIX = BENCH_PREFIX.encode("ascii")
_FIXED_REDIRECT_HEADERS = b"".join(
    name + b": " + value + b"\r\n" for name, value in REDIRECT_HEADERS
)


class _NoEvent:
    """uvicorn sets its cycle's message event when the connection is lost; nothing waits here."""

    @staticmethod
    def set() -> None:
        return None


class _PendingRedirect:
    """Where uvicorn keeps its `RequestResponseCycle` while a shortcut click commits: uvicorn's
    pipelining, connection-loss and shutdown code reads exactly these attributes."""

    __slots__ = ("disconnected", "keep_alive", "message_event", "response_complete")

    def __init__(self, keep_alive: bool) -> None:
        self.response_complete = False
        self.keep_alive = keep_alive
        self.disconnected = False
        self.message_event = _NoEvent


def _trusted_proxies(app: Any) -> Any:
    """uvicorn's trusted-proxy set when `proxy_headers` wrapped the app, else None: the shortcut
    then finds the client address exactly as the ASGI path's middleware does."""
    while app is not None:
        if isinstance(app, ProxyHeadersMiddleware):
            return app.trusted_hosts
        app = getattr(app, "app", None)
    return None


class GoProtocol(LimitedHttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.go: GoShortcut | None = served_attribute(self.app, "go_shortcut")
        self._trusted = _trusted_proxies(self.app)
        self._from_proxy = False  # the peer is a trusted proxy: read X-Forwarded-*

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        trusted, client = self._trusted, self.client
        self._from_proxy = trusted is not None and client is not None and client[0] in trusted

    # -- parser callbacks (the limits', with the shortcut in front) ----------------------------

    def on_headers_complete(self) -> None:
        self._in_head = False
        go, url = self.go, self.url
        if go is None:
            self._to_asgi()
            return
        if url.startswith(_PREFIX):
            token, record = url[len(_PREFIX) :], True
        elif go.benchmark_routes and url.startswith(_BENCH_PREFIX):
            token, record = url[len(_BENCH_PREFIX) :], False
        else:
            self._to_asgi()
            return
        cycle = self.cycle
        if (cycle is not None and not cycle.response_complete) or not self._shortcut(
            go, token, record
        ):
            self._to_asgi()

    def on_body(self, body: bytes) -> None:
        if type(self.cycle) is not _PendingRedirect:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if type(self.cycle) is _PendingRedirect:
            self._request_since = None
        else:
            super().on_message_complete()

    # -- the shortcut -------------------------------------------------------------------------

    def _shortcut(self, go: GoShortcut, token: bytes, record: bool) -> bool:
        """Answer (now or after the commit) and return True, or False to leave the request
        to the ASGI app."""
        endpoint = go.endpoint
        link = endpoint.link_for_path(token)  # exact bytes: a query or escape is no token
        if link is None or link.location is None:
            return False
        parser = self.parser
        method = parser.get_method()
        if method != b"GET" and method != b"HEAD":
            return False
        version = parser.get_http_version()
        if version == "0.9" or parser.should_upgrade():
            return False
        opted_out, _, prefetch = read_request_headers(self.headers)
        if prefetch:
            return False
        host, https = self._client() if self._from_proxy else self._peer()
        pending = _PendingRedirect(version != "1.0" and parser.should_keep_alive())
        self.cycle = pending  # type: ignore[assignment]
        if record and method == b"GET":
            click = endpoint.click_for(link, host, opted_out)
            if click is not None:
                done = partial(self._committed, go, pending, link, https)
                try:
                    endpoint.writer.submit(click, done, self.loop)
                except WriterClosed as exc:
                    self._committed(go, pending, link, https, exc)
                return True
        self._redirect(go, pending, link.location, https)
        return True

    def _peer(self) -> tuple[str | None, bool]:
        """The client's address and whether it came over HTTPS, from the connection itself."""
        return (self.client[0] if self.client else None), self.scheme == "https"

    def _client(self) -> tuple[str | None, bool]:
        """The same, through a trusted proxy's X-Forwarded-For and -Proto, read exactly as
        uvicorn's ProxyHeadersMiddleware reads them for the ASGI path."""
        host, https = self._peer()
        forwarded: list[bytes] = []
        for name, value in self.headers:
            if name == b"x-forwarded-for":
                forwarded.append(value)
            elif name == b"x-forwarded-proto":
                https = value.decode("latin1").strip() == "https"
        if forwarded:
            address = b", ".join(forwarded).decode("latin1")
            proxied, _ = self._trusted.get_trusted_client_address(address)
            if proxied:
                host = proxied
        return host, https

    def _committed(
        self,
        go: GoShortcut,
        pending: _PendingRedirect,
        link: GoLink,
        https: bool,
        error: BaseException | None,
    ) -> None:
        if error is not None:
            log.error("click not recorded, answering 503: %s", error)
            task = self.loop.create_task(self._unavailable(go, pending, link, https))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return
        go.endpoint.recorded += 1
        self._redirect(go, pending, link.location, https)  # type: ignore[arg-type]

    def _redirect(
        self, go: GoShortcut, pending: _PendingRedirect, location: bytes, https: bool
    ) -> None:
        head = go.redirect_head(self.server_state.default_headers, https)
        self._finish(pending, [head, b"location: ", location, b"\r\n", _FIXED_REDIRECT_HEADERS])

    async def _unavailable(
        self, go: GoShortcut, pending: _PendingRedirect, link: GoLink, https: bool
    ) -> None:
        body = await go.endpoint.render(503, "unavailable", link, {})
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            *page_headers(),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"cache-control", b"no-store"),
        ]
        parts = [STATUS_LINE[503]]
        for name, value in (*self.server_state.default_headers, *headers):
            parts += (name, b": ", value, b"\r\n")
        if https:
            parts.append(go.hsts_line)
        self._finish(pending, parts, body)

    def _finish(self, pending: _PendingRedirect, head: list[bytes], body: bytes = b"") -> None:
        """Write the response, then hand the connection back to keep-alive and pipelining, as
        uvicorn's own cycle does after a response."""
        pending.response_complete = True
        if pending.disconnected or self.transport.is_closing():
            return
        if not pending.keep_alive:
            head.append(b"connection: close\r\n")
        head += (b"\r\n", body)
        self.transport.write(b"".join(head))
        if not pending.keep_alive:
            self.transport.close()
        self.on_response_complete()
