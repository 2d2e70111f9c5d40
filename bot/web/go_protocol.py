"""`/go/{token}` answered at the HTTP protocol level, without an ASGI request cycle.

Before the app runs, uvicorn spends ~27 µs of CPU on every request here: a scope dict, a
`RequestResponseCycle` with an `asyncio.Event`, a Task, the ASGI messages and the checks of every
header. A prepared 302 written straight from the parser's callbacks costs ~11 µs, this module's
`/go/` without the click ~19 µs, with the click committed ~27 µs (benchmarks/README.md,
"/go/{token}"); the target of 30,000 committed clicks a second on one core leaves 33 µs for
everything, so the hot case is answered here.

`go_protocol(endpoint)` is uvicorn's own httptools protocol with one shortcut. A GET or HEAD of
`/go/{token}` (no query, no escapes) on a connection with no request in progress, for a token
with a stored URL, that is not a prefetch: the click is made by the same `GoEndpoint.click_for`
(hash, rate limit, DNT/Sec-GPC) and handed to the same writer thread; the 302 is written by the
writer's callback once the commit holding the click returned. Everything else (an unknown token,
Mastodon's instance form, other methods, prefetches, a request pipelined behind a pending one,
every page) goes the usual way through uvicorn to `KindlingApp`, whose `GoEndpoint` answers
`/go/` identically, only more slowly; tests/web/test_go_protocol.py holds the two to the same
answers. While a click commits, `_PendingRedirect` stands where uvicorn keeps its request cycle,
so uvicorn's own handling of pipelining, lost connections and shutdown keeps working: a request
pipelined behind it is queued by uvicorn and started by `on_response_complete`, as uvicorn does
after its own responses.

This leans on uvicorn's protocol internals (`url`, `headers`, `parser`, `cycle`, `pipeline`,
`flow`, `tasks`, `_start_asgi_task`, the keep-alive timer, `server_state.default_headers`,
`STATUS_LINE`): requirements.lock pins the uvicorn they were read from (0.54.0) and the tests
above exercise each of them. Without httptools there is no shortcut: `go_protocol` returns
None and uvicorn's default protocol serves everything through the ASGI app.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from bot.web.go import (
    BENCH_PREFIX,
    PREFIX,
    REDIRECT_HEADERS,
    GoEndpoint,
    page_headers,
    read_request_headers,
)
from bot.web.linkset import GoLink
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
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    while app is not None:
        if isinstance(app, ProxyHeadersMiddleware):
            return app.trusted_hosts
        app = getattr(app, "app", None)
    return None


def go_protocol(endpoint: GoEndpoint, *, benchmark_routes: bool = False) -> type | None:
    """uvicorn's httptools protocol with the `/go/` shortcut; None without httptools."""
    try:
        from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
    except ImportError:
        log.info("httptools is not installed: /go/ is answered through the ASGI app")
        return None

    redirect_line = STATUS_LINE[302]
    head_cache: list[Any] = [None, b""]  # (uvicorn's default headers, status line + them)

    class GoProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._trusted = _trusted_proxies(self.app)
            self._idle_since: float | None = None

        # -- parser callbacks (uvicorn's, with the shortcut in front) --------------------------

        def on_message_begin(self) -> None:
            # uvicorn builds the ASGI scope here; the shortcut needs none, so it is built only
            # for the requests that go on to the ASGI app (`_to_asgi`).
            self.url = b""
            self.expect_100_continue = False
            self.headers = []

        def on_headers_complete(self) -> None:
            url: bytes = self.url
            if url.startswith(_PREFIX):
                token, record = url[len(_PREFIX) :], True
            elif benchmark_routes and url.startswith(_BENCH_PREFIX):
                token, record = url[len(_BENCH_PREFIX) :], False
            else:
                self._to_asgi()
                return
            cycle = self.cycle
            if (cycle is not None and not cycle.response_complete) or not self._shortcut(
                token, record
            ):
                self._to_asgi()

        def _to_asgi(self) -> None:
            """uvicorn's own handling: its message-begin (the scope), then its headers-complete."""
            url, headers, expect = self.url, self.headers, self.expect_100_continue
            super().on_message_begin()
            self.url, self.expect_100_continue = url, expect
            self.headers = self.scope["headers"] = headers
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if type(self.cycle) is not _PendingRedirect:
                super().on_body(body)

        def on_message_complete(self) -> None:
            if type(self.cycle) is not _PendingRedirect:
                super().on_message_complete()

        # -- keep-alive: one timer per idle period, not one per response ----------------------
        # uvicorn arms a timer after every response and cancels it on the next request's data:
        # ~5 µs a request with uvloop, a sixth of the shortcut's budget. Here data only marks
        # the connection busy; the timer, armed when none is, closes the connection once it has
        # been idle for `timeout_keep_alive` seconds, or re-arms itself for the time left.

        def _unset_keepalive_if_required(self) -> None:
            self._idle_since = None

        def on_response_complete(self) -> None:
            self.server_state.total_requests += 1
            if self.transport.is_closing():
                return
            self.flow.resume_reading()
            if self.pipeline:
                cycle, app = self.pipeline.pop()
                self._start_asgi_task(cycle, app)
                return
            self._idle_since = self.loop.time()
            if self.timeout_keep_alive_task is None:
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.timeout_keep_alive, self._keep_alive_expired
                )

        def _keep_alive_expired(self) -> None:
            self.timeout_keep_alive_task = None
            if self._idle_since is None or self.transport.is_closing():
                return  # a request is in progress: its response arms the timer again
            left = self._idle_since + self.timeout_keep_alive - self.loop.time()
            if left > 0:
                self.timeout_keep_alive_task = self.loop.call_later(left, self._keep_alive_expired)
            else:
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            super().connection_lost(exc)
            if self.timeout_keep_alive_task is not None:
                self.timeout_keep_alive_task.cancel()
                self.timeout_keep_alive_task = None

        # -- the shortcut ---------------------------------------------------------------------

        def _shortcut(self, token: bytes, record: bool) -> bool:
            """Answer (now or after the commit) and return True, or False to leave the request
            to the ASGI app."""
            link = endpoint.link_for_path(token)  # exact bytes: a query or escape is no token
            if link is None or link.location is None:
                return False
            method = self.parser.get_method()
            if method != b"GET" and method != b"HEAD":
                return False
            if self.parser.should_upgrade():
                return False
            opted_out, _, prefetch = read_request_headers(self.headers)
            if prefetch:
                return False
            keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
            pending = _PendingRedirect(keep_alive)
            self.cycle = pending  # type: ignore[assignment]
            if record and method == b"GET":
                click = endpoint.click_for(link, self._client_host(), opted_out)
                if click is not None:
                    try:
                        endpoint.writer.submit(
                            click, partial(self._committed, pending, link), self.loop
                        )
                    except WriterClosed as exc:
                        self._committed(pending, link, exc)
                    return True
            self._redirect(pending, link.location)
            return True

        def _client_host(self) -> str | None:
            host = self.client[0] if self.client else None
            trusted = self._trusted
            if trusted is not None and host in trusted:
                forwarded = [value for name, value in self.headers if name == b"x-forwarded-for"]
                if forwarded:
                    address = b", ".join(forwarded).decode("latin1")
                    proxied, _ = trusted.get_trusted_client_address(address)
                    if proxied:
                        host = proxied
            return host

        def _committed(
            self, pending: _PendingRedirect, link: GoLink, error: BaseException | None
        ) -> None:
            if error is not None:
                log.error("click not recorded, answering 503: %s", error)
                task = self.loop.create_task(self._unavailable(pending, link))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
                return
            endpoint.recorded += 1
            self._redirect(pending, link.location)  # type: ignore[arg-type]

        def _redirect(self, pending: _PendingRedirect, location: bytes) -> None:
            defaults = self.server_state.default_headers  # a new list when the date changes
            if defaults is not head_cache[0]:
                lines = [name + b": " + value + b"\r\n" for name, value in defaults]
                head_cache[:] = [defaults, redirect_line + b"".join(lines)]
            parts = [head_cache[1], b"location: ", location, b"\r\n", _FIXED_REDIRECT_HEADERS]
            self._finish(pending, parts)

        async def _unavailable(self, pending: _PendingRedirect, link: GoLink) -> None:
            body = await endpoint.render(503, "unavailable", link, {})
            headers = [
                (b"content-type", b"text/html; charset=utf-8"),
                *page_headers(),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"cache-control", b"no-store"),
            ]
            parts = [STATUS_LINE[503]]
            for name, value in (*self.server_state.default_headers, *headers):
                parts += (name, b": ", value, b"\r\n")
            self._finish(pending, parts, body)

        def _finish(self, pending: _PendingRedirect, head: list[bytes], body: bytes = b"") -> None:
            """Write the response, then hand the connection back to uvicorn's keep-alive and
            pipelining, as its own cycle does after a response."""
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

    return GoProtocol
