"""How `kindling serve` runs under uvicorn: its protocol, its limits, and the version check.

uvicorn alone bounds little of what a client can make a connection hold (read in its 0.54.0
source): `timeout_keep_alive` is armed only after a response and cancelled by any byte, so a
connection that never sends a request, or sends half of one, stays open for ever;
`limit_concurrency` answers 503 once a request is parsed, but accepts every connection (each a
file descriptor); the request line and headers have no size limit. Kindling's protocol
(`LimitedHttpToolsProtocol` in bot/web/http_limits.py, with the `/go/` shortcut of
bot/web/go_protocol.py on top) adds the limits in `HttpLimits`, from the `[web]` settings.

Both lean on uvicorn's protocol internals, so they are used only with the uvicorn they were
written and tested for (`TESTED_UVICORN`, the version requirements.lock and pyproject.toml
pin; `KindlingApp.uvicorn_options` checks it). With any other version, or without httptools,
`kindling serve` logs one warning and serves every request through uvicorn's own h11 protocol,
with the limits uvicorn has there:
the keep-alive timeout after a response, a 503 past `max_connections` requests in progress,
and h11's cap on a request head still incomplete past `max_request_line_bytes +
max_header_bytes` (a 400); no limit on idle connections before their first request.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from bot.config import WebSettings
from bot.web.go import GoEndpoint

log = logging.getLogger("kindling.web")

TESTED_UVICORN = "0.54.0"
OPEN_FILES_MARGIN = 64  # descriptors besides connections: the database, logs, the listener
_REDIRECT_STATUS = b"HTTP/1.1 302 Found\r\n"
CAPACITY_WARNING_SECONDS = 60.0


class CapacityLog:
    """At most one warning a minute that connections are being turned away (the event loop's
    thread is the only one to call it)."""

    def __init__(self) -> None:
        self.last = -CAPACITY_WARNING_SECONDS
        self.unreported = 0

    def turned_away(self, limit: int) -> None:
        self.unreported += 1
        now = time.monotonic()
        if now - self.last >= CAPACITY_WARNING_SECONDS:
            log.warning(
                "%d connection(s) turned away: web.max_connections (%d) are open",
                self.unreported,
                limit,
            )
            self.last = now
            self.unreported = 0


@dataclass(frozen=True)
class HttpLimits:
    """What one client may make a connection hold (the `[web]` settings, config.toml)."""

    request_timeout: float = 10.0
    max_connections: int = 1000
    max_request_line: int = 8192
    max_header_bytes: int = 32768
    hsts_max_age: int = 31536000
    capacity_log: CapacityLog = field(default_factory=CapacityLog, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: WebSettings) -> HttpLimits:
        return cls(
            request_timeout=settings.request_timeout_seconds,
            max_connections=settings.max_connections,
            max_request_line=settings.max_request_line_bytes,
            max_header_bytes=settings.max_header_bytes,
            hsts_max_age=settings.hsts_max_age_seconds,
        )

    @property
    def hsts(self) -> tuple[bytes, bytes] | None:
        """The Strict-Transport-Security header for answers over HTTPS, or None."""
        if self.hsts_max_age <= 0:
            return None
        return (b"strict-transport-security", b"max-age=%d" % self.hsts_max_age)


class GoShortcut:
    """What the `/go/` shortcut answers with: the endpoint (its links, counters and writer) and
    the 302's head, joined once a second (uvicorn's date header changes then)."""

    __slots__ = ("benchmark_routes", "defaults", "endpoint", "heads", "hsts_line")

    def __init__(
        self,
        endpoint: GoEndpoint,
        *,
        benchmark_routes: bool = False,
        hsts: tuple[bytes, bytes] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.benchmark_routes = benchmark_routes
        self.hsts_line = b"" if hsts is None else hsts[0] + b": " + hsts[1] + b"\r\n"
        self.defaults: object = None  # the default headers `heads` were joined with
        self.heads = (b"", b"")  # (plain, with Strict-Transport-Security)

    def redirect_head(self, defaults: list[tuple[bytes, bytes]], https: bool) -> bytes:
        """Status line and uvicorn's default headers (`server_state.default_headers`, a new
        list when the date changes), with Strict-Transport-Security over HTTPS."""
        if defaults is not self.defaults:
            plain = _REDIRECT_STATUS + b"".join(
                name + b": " + value + b"\r\n" for name, value in defaults
            )
            self.heads = (plain, plain + self.hsts_line)
            self.defaults = defaults
        return self.heads[https]


def served_attribute(app: Any, name: str) -> Any:
    """`name` of the first app down uvicorn's middleware chain that has it, else None."""
    while app is not None:
        value = getattr(app, name, None)
        if value is not None:
            return value
        app = getattr(app, "app", None)
    return None


def ensure_open_files(max_connections: int) -> None:
    """Raise this process's soft open-file limit to fit `max_connections` (up to the hard
    limit), so the connection cap, not accept() failing, is what turns clients away."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = max_connections + OPEN_FILES_MARGIN
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        log.warning(
            "the open-file limit (%d) is below web.max_connections (%d) + %d: lower "
            "max_connections in config.toml or raise the limit (ulimit -n, LimitNOFILE=)",
            target,
            max_connections,
            OPEN_FILES_MARGIN,
        )
