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

from bot.web.go import BENCH_PREFIX, PREFIX, page_headers, read_request_headers
from bot.web.http_limits import LimitedHttpToolsProtocol
from bot.web.linkset import GoLink
from bot.web.server import GoShortcut, served_attribute
from bot.web.writer import WriterClosed

log = logging.getLogger("kindling.web.go")

_PREFIX = PREFIX.encode("ascii")
_BENCH_PREFIX = BENCH_PREFIX.encode("ascii")
_FORWARDED_SCHEMES = {"http", "https", "ws", "wss"}


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
        cycle = self.cycle
        if cycle is not None and type(cycle) is not _PendingRedirect:
            super().on_body(body)

    def on_message_complete(self) -> None:
        cycle = self.cycle
        if cycle is None or type(cycle) is _PendingRedirect or cycle.response_complete:
            self._request_since = None  # answered by the shortcut (or answering)
        else:
            super().on_message_complete()

    # -- the shortcut -------------------------------------------------------------------------

    def _shortcut(self, go: GoShortcut, token: bytes, record: bool) -> bool:
        """Answer (now or after the commit) and return True, or False to leave the request
        to the ASGI app."""
        endpoint = go.endpoint
        found = endpoint.link_for_path(token)  # exact bytes: a query or escape is no token
        if found is None or not found[1]:  # unknown, or Mastodon's form
            return False
        parser = self.parser
        method = parser.get_method()
        if method != b"GET" and method != b"HEAD":
            return False
        version = parser.get_http_version()
        if version == "0.9" or parser.should_upgrade():
            return False
        opted_out, _, prefetch, forwarded_for, forwarded_proto = read_request_headers(self.headers)
        if prefetch:
            return False
        https = self.scheme == "https"
        if forwarded_proto is not None and self._from_proxy:
            # As uvicorn's ProxyHeadersMiddleware sets the ASGI path's scheme.
            proto = forwarded_proto.decode("latin1").strip()
            if proto in _FORWARDED_SCHEMES:
                https = proto == "https"
        keep_alive = version != "1.0" and parser.should_keep_alive()
        link, end = found
        if record and method == b"GET":
            click = endpoint.click_for(link, self._client_host(forwarded_for), opted_out)
            if click is not None:
                pending = self.cycle = _PendingRedirect(keep_alive)  # type: ignore[assignment]
                done = partial(self._committed, go, pending, link, end, https)
                try:
                    endpoint.writer.submit(click, done, self.loop)
                except WriterClosed as exc:
                    self._committed(go, pending, link, end, https, exc)
                return True
        self._write(self._redirect_head(go, https), end, keep_alive)
        return True

    def _client_host(self, forwarded_for: list[bytes] | None) -> str | None:
        """The client's address: the peer's, or through a trusted proxy its X-Forwarded-For,
        read exactly as uvicorn's ProxyHeadersMiddleware reads it for the ASGI path."""
        host = self.client[0] if self.client else None
        if forwarded_for and self._from_proxy:
            address = b", ".join(forwarded_for).decode("latin1")
            proxied, _ = self._trusted.get_trusted_client_address(address)
            if proxied:
                host = proxied
        return host

    def _redirect_head(self, go: GoShortcut, https: bool) -> bytes:
        defaults = self.server_state.default_headers  # a new list when the date changes
        return go.heads[https] if defaults is go.defaults else go.redirect_head(defaults, https)

    def _committed(
        self,
        go: GoShortcut,
        pending: _PendingRedirect,
        link: GoLink,
        end: bytes,
        https: bool,
        error: BaseException | None,
    ) -> None:
        """The writer's callback: the click is committed (or could not be)."""
        if error is not None:
            log.error("click not recorded, answering 503: %s", error)
            task = self.loop.create_task(self._unavailable(go, pending, link, https))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return
        go.endpoint.recorded += 1
        self._finish(pending, self._redirect_head(go, https), end)

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
        self._finish(pending, b"".join(parts), b"\r\n" + body)

    def _finish(self, pending: _PendingRedirect, head: bytes, end: bytes) -> None:
        """Answer a request whose click was committing, unless its client has gone."""
        pending.response_complete = True
        if pending.disconnected or self.transport.is_closing():
            return
        self._write(head, end, pending.keep_alive)

    def _write(self, head: bytes, end: bytes, keep_alive: bool) -> None:
        """Write an answer (status line and headers, then `end`: the last header lines, the
        blank line, the body), then hand the connection back to keep-alive and pipelining, as
        uvicorn's own cycle does after a response."""
        if keep_alive:
            self.transport.write(head + end)
        else:
            self.transport.write(head + b"connection: close\r\n" + end)
            self.transport.close()
        self.on_response_complete()
