"""uvicorn's httptools protocol with limits on what a client can make a connection hold.

Written against uvicorn 0.54.0 (bot/web/server.py checks the version before using it). What it
changes, on the same parser callbacks uvicorn uses:

- **Deadlines.** One timer per connection, armed when it opens and re-armed by itself: a
  connection with nothing in progress is closed `timeout_keep_alive` seconds after it opened or
  after its last answer (bytes that begin no request do not count as activity); a request must
  arrive whole within `request_timeout` seconds of its first byte (else 408 and close). While
  an answer is owed, the app's time is not limited here.
- **Sizes.** The request target is cut off at `max_request_line` bytes (414) as it arrives;
  header fields at `max_header_bytes` (431), counted exactly for each complete field and, for a
  head still incomplete after a read, by the bytes read since it began. So a head is refused
  within one read (at most 256 KiB) of its limit: httptools joins the pieces of a field with
  `bytes +=`, quadratic over many reads (a 64 MB header took 4 s of CPU).
- **HTTP/0.9.** llhttp takes `GET /path` with no version for HTTP/0.9 and waits for headers that
  such a client never sends: a request line that ended without a version is answered 400.
- **Connections.** Past `max_connections` open connections a new one is answered 503 and
  closed at once (one warning a minute at most).
- **Clients that leave.** uvicorn tells only the last parsed request's cycle that the client
  went away: a pipelined request then running wrote its answer to a closed transport and
  logged "Exception in ASGI application". Here every cycle is told, and an ASGI cycle's writes
  go through `_ClosedAwareTransport`, which drops what it cannot write any more.

Every refusal closes the connection and is logged at DEBUG only: a client cannot fill the log.
The ASGI scope is built only for requests that reach the app (`_to_asgi`), so the `/go/`
shortcut above this class (bot/web/go_protocol.py) pays nothing for it.
"""

from __future__ import annotations

import asyncio
import logging
from asyncio import TimerHandle
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from bot.web.server import HttpLimits, served_attribute

log = logging.getLogger("kindling.web.http")


class Refused(Exception):
    """Raised from a parser callback: answer `status` (if no answer is owed) and close."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _ClosedAwareTransport(asyncio.Transport):
    """What an ASGI cycle writes to: the connection's transport, minus writes once it closes."""

    def __init__(self, transport: asyncio.Transport) -> None:
        super().__init__()
        self._transport = transport

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)


def plain_response(status: int, reason: str, defaults: list[tuple[bytes, bytes]]) -> bytes:
    body = reason.encode("ascii", "replace")
    parts = [STATUS_LINE[status]]
    for name, value in defaults:
        parts += (name, b": ", value, b"\r\n")
    parts += (
        b"content-type: text/plain; charset=utf-8\r\ncontent-length: ",
        str(len(body)).encode("ascii"),
        b"\r\nconnection: close\r\n\r\n",
        body,
    )
    return b"".join(parts)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: HttpLimits = served_attribute(self.app, "http_limits") or HttpLimits()
        self._max_line = self.limits.max_request_line  # read on every request: kept at hand
        self._max_header = self.limits.max_header_bytes
        self._timer: TimerHandle | None = None
        self._idle_since = 0.0
        self._request_since: float | None = None  # the current request's first byte
        self._in_head = False  # a request has begun and its headers are not complete
        self._head_began_now = False  # ... and it began in the read being parsed
        self._head_bytes = 0
        self._header_bytes = 0
        self._url_piece: bytes | None = None  # the request target's piece in this read
        self._running: Any = None  # the ASGI cycle last started
        self._guard: _ClosedAwareTransport | None = None

    # -- connections ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self.transport = transport
            transport.write(
                plain_response(503, "Too many connections", self.server_state.default_headers)
            )
            transport.close()
            self.limits.capacity_log.turned_away(self.limits.max_connections)
            return
        super().connection_made(transport)
        self._idle_since = self.loop.time()
        self._timer = self.loop.call_later(self._next_look, self._check_deadlines)

    def connection_lost(self, exc: Exception | None) -> None:
        cycles = {id(c): c for c in (self._running, self.cycle, *(c for c, _ in self.pipeline))}
        unanswered = 0
        for cycle in cycles.values():
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()
                unanswered += 1
        self.pipeline.clear()
        if unanswered:
            log.debug("a client went away with %d request(s) unanswered", unanswered)
        super().connection_lost(exc)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _unset_keepalive_if_required(self) -> None:
        """uvicorn's per-response keep-alive timer is replaced by `_check_deadlines`."""

    def _check_deadlines(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if self._request_since is not None:
            left = self._request_since + self.limits.request_timeout - now
            if left <= 0:
                self.refuse(Refused(408, "Request not received in time"))
                return
        elif self._owes_answer():
            left = self._next_look  # the app's time is not limited here
        else:
            left = self._idle_since + self.timeout_keep_alive - now
            if left <= 0:
                self.transport.close()
                return
            # A request may begin before then: look again within its timeout.
            left = min(left, self._next_look)
        self._timer = self.loop.call_later(left, self._check_deadlines)

    @property
    def _next_look(self) -> float:
        return min(self.timeout_keep_alive, self.limits.request_timeout)

    def _owes_answer(self) -> bool:
        return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

    def refuse(self, refusal: Refused) -> None:
        """Answer `refusal` unless an earlier answer is still owed (answers go in order), then
        close."""
        log.debug("refused a request: %d %s", refusal.status, refusal.reason)
        if self.transport.is_closing():
            return
        if not self._owes_answer():
            self.transport.write(
                plain_response(refusal.status, refusal.reason, self.server_state.default_headers)
            )
        self.transport.close()

    # -- reading ---------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._url_piece = None
        self._head_began_now = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            return  # no websockets here: the request was answered as plain HTTP
        except httptools.HttpParserError as exc:
            refusal = exc.__context__
            if not isinstance(refusal, Refused):
                refusal = Refused(400, "Invalid HTTP request")
            self.refuse(refusal)
            return
        if self._in_head:
            self._check_incomplete_head(data)

    def _check_incomplete_head(self, data: bytes) -> None:
        limits = self.limits
        if self._head_began_now:
            self._head_bytes = len(self.url) + self._header_bytes
        else:
            self._head_bytes += len(data)
        if self._head_bytes > limits.max_request_line + limits.max_header_bytes:
            self.refuse(Refused(431, "Request header fields too large"))
        elif self.url and self.parser.get_http_version() == "0.0":
            piece = self._url_piece
            after_target = data if piece is None else data[data.rfind(piece) + len(piece) :]
            if b"\n" in after_target:  # the request line ended without "HTTP/1.x"
                self.refuse(Refused(400, "HTTP/0.9 is not served"))

    # -- parser callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        # uvicorn builds the ASGI scope here; `_to_asgi` builds it for the requests that
        # reach the app.
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self._in_head = self._head_began_now = True
        self._header_bytes = 0
        self._request_since = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._url_piece = url
        if len(self.url) > self._max_line:
            raise Refused(414, "URI too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self._max_header:
            raise Refused(431, "Request header fields too large")
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._to_asgi()

    def _to_asgi(self) -> None:
        """uvicorn's own handling: its message-begin (the scope), then its headers-complete."""
        if self.parser.get_http_version() == "0.9":
            raise Refused(400, "HTTP/0.9 is not served")
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()
        self.url, self.expect_100_continue = url, expect
        self.headers = self.scope["headers"] = headers
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._request_since = None
        super().on_message_complete()

    # -- answering -------------------------------------------------------------------------

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        if self._guard is None:
            self._guard = _ClosedAwareTransport(self.transport)
        cycle.transport = self._guard
        self._running = cycle
        super()._start_asgi_task(cycle, app)

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
