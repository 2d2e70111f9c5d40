"""`/go/{token}`: record one click, committed, then 302 to the link Kindling generated.

This is a plain ASGI function, not a Starlette route: it is the hot path (the benchmark asks for
30,000 redirects a second on one core), so it reads the token from the path, finds it in a dict,
and answers with prepared headers. The redirect target is only ever the URL stored for the token
(or, for Mastodon, the stored text sent to `https://{host}/share` where `host` passed
`mastodon_instance`): nothing from the request can choose where the browser goes.

A click is recorded (and committed, through the writer thread) before the 302 is sent, unless the
request is a HEAD, a prefetch, or over the client's rate limit: then the supporter is still sent
on, uncounted. Mastodon needs the supporter's own server: without `?instance=` the endpoint shows
a small form; a request that did not come from this site's own pages (`Sec-Fetch-Site` other than
`same-origin`) is asked to confirm the server first, so a link crafted elsewhere cannot bounce a
visitor through Kindling to a host of the crafter's choosing.

What is kept about a client: a salted hash at most, and only for rate limiting. The address is
never stored or logged. `ClientHasher` keys BLAKE2b with a random salt that lives only in this
process's memory and is replaced when the UTC day changes, so hashes of one day cannot be linked
to the next and nothing on disk can be reversed to an address (the salt is gone). A client that
sends `DNT: 1` or `Sec-GPC: 1` gets no hash in the database at all; its clicks are still
rate-limited by the same in-memory hash, forgotten within two windows. `RateLimiter` counts
clicks per client in a sliding window (two fixed windows, the previous one weighted by how much
of it still overlaps): past `limit` clicks in `window` seconds a click is not recorded, but the
supporter is still sent on (a crowd behind one mobile network address is never blocked, only not
counted twice)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from bot.compose.links import intent_url, mastodon_instance
from bot.web.linkset import GoLink
from bot.web.writer import Click, ClickWriter


class ClientHasher:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._day = -1
        self._salt = b""
        self._cache: dict[str, str] = {}

    def _rotate(self, day: int) -> None:
        self._day = day
        self._salt = secrets.token_bytes(32)
        self._cache = {}

    def __call__(self, address: str) -> str:
        day = int(self._clock() // 86400)
        if day != self._day:
            self._rotate(day)
        cached = self._cache.get(address)
        if cached is None:
            cached = hashlib.blake2b(
                address.encode("utf-8", "replace"), key=self._salt, digest_size=16
            ).hexdigest()
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[address] = cached
        return cached


class RateLimiter:
    """`allow(key)`: True while `key` has made at most `limit` clicks in the last `window`."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._slot = -1
        self._current: dict[str, int] = {}
        self._previous: dict[str, int] = {}
        self.refused = 0

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def allow(self, key: str) -> bool:
        if self.limit <= 0:
            return True
        now = self._clock()
        slot = int(now // self.window)
        if slot != self._slot:
            self._previous = self._current if slot == self._slot + 1 else {}
            self._current = {}
            self._slot = slot
        count = self._current.get(key, 0)
        weight = 1.0 - (now - slot * self.window) / self.window
        if count + self._previous.get(key, 0) * weight >= self.limit:
            self.refused += 1
            return False
        self._current[key] = count + 1
        return True


log = logging.getLogger("kindling.web.go")

PREFIX = "/go/"
BENCH_PREFIX = "/go-unrecorded/"  # only with WebOptions.benchmark_routes: the same path, no click
SECURITY_HEADERS = [
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]
REDIRECT_HEADERS = [*SECURITY_HEADERS, (b"content-length", b"0")]  # no body: no CSP needed

_REDIRECT_END = b"".join(name + b": " + value + b"\r\n" for name, value in REDIRECT_HEADERS)


def redirect_end(location: bytes | None) -> bytes:
    """A 302's header lines after the status line and the server's own, and the blank line."""
    if location is None:
        return b""
    return b"location: " + location + b"\r\n" + _REDIRECT_END + b"\r\n"


# (status, page name, link, context) -> HTML bytes: the pages module renders them.
RenderPage = Callable[[int, str, GoLink | None, dict[str, Any]], Awaitable[bytes]]


def clean_instance(value: str) -> str:
    """What a supporter types, as a bare host: 'https://Mastodon.Social/' -> 'mastodon.social'.

    Takes off a scheme, a trailing slash and a leading `@user@`; `mastodon_instance` then refuses
    anything that is still not only a host name (ValueError).
    """
    text = value.strip()
    for scheme in ("https://", "http://"):
        if text[: len(scheme)].lower() == scheme:
            text = text[len(scheme) :]
    text = text.rstrip("/")
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    return mastodon_instance(text)


class GoEndpoint:
    def __init__(
        self,
        links: Callable[[], dict[str, GoLink]],
        writer: ClickWriter,
        hasher: ClientHasher,
        limiter: RateLimiter,
        render: RenderPage,
    ) -> None:
        self._links = links
        self._links_seen: dict[str, GoLink] | None = None
        self._by_bytes: dict[bytes, tuple[GoLink, bytes]] = {}
        self.writer = writer
        self.hasher = hasher
        self.limiter = limiter
        self.render = render
        self.recorded = 0
        self.unrecorded = 0

    def link_for_path(self, token: bytes) -> tuple[GoLink, bytes] | None:
        """The link of a token given as the raw bytes of a request path (the protocol-level
        shortcut: a query string or an escape in them finds nothing), with the end of its 302
        (`redirect_end`; empty for Mastodon, whose location is built per request)."""
        links = self._links()
        if links is not self._links_seen:  # swapped whole on reload, never mutated
            self._by_bytes = {
                token.encode("ascii"): (link, redirect_end(link.location))
                for token, link in links.items()
            }
            self._links_seen = links
        return self._by_bytes.get(token)

    async def __call__(self, scope: dict, receive: Any, send: Any, *, record: bool = True) -> None:
        path: str = scope["path"]
        token = path[len(PREFIX) :] if record else path[len(BENCH_PREFIX) :]
        link = self._links().get(token)
        if link is None:
            await self._page(send, 404, "not_found", None, {})
            return
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            await _respond(send, 405, [*SECURITY_HEADERS, (b"allow", b"GET, HEAD")], b"")
            return
        opted_out, same_origin, prefetch, _, _ = read_request_headers(scope["headers"])
        if prefetch:  # never count a prefetch, and never let the browser reuse it as the click
            await _respond(send, 503, [*SECURITY_HEADERS, (b"content-length", b"0")], b"")
            return
        location = link.location
        if location is None:
            location = await self._mastodon(scope, send, link, same_origin)
            if location is None:
                return
        if record and method == "GET":
            client = scope.get("client")
            click = self.click_for(link, client[0] if client else None, opted_out)
            if click is not None:
                try:
                    await self.writer.record(click)
                except Exception as exc:
                    log.error("click not recorded, answering 503: %s", exc)
                    await self._page(send, 503, "unavailable", link, {})
                    return
                self.recorded += 1
        await send(
            {
                "type": "http.response.start",
                "status": 302,
                "headers": [(b"location", location), *REDIRECT_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    def click_for(self, link: GoLink, client_host: str | None, opted_out: bool) -> Click | None:
        """The click row to record for `client_host`, or None past its rate limit (counted)."""
        digest = self.hasher(client_host or "unknown")
        if not self.limiter.allow(digest):
            self.unrecorded += 1
            return None
        return (*link.click, time.time(), None if opted_out else digest)

    async def _mastodon(
        self, scope: dict, send: Any, link: GoLink, same_origin: bool
    ) -> bytes | None:
        """The Mastodon share URL, or None after answering with the instance form."""
        query = scope.get("query_string", b"")[:2048].decode("latin-1")
        given = ""
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key == "instance":
                given = value[:300]
        if not given:
            await self._page(send, 200, "mastodon", link, {"instance": "", "error": False})
            return None
        try:
            host = clean_instance(given)
        except ValueError:
            await self._page(send, 400, "mastodon", link, {"instance": given, "error": True})
            return None
        if not same_origin:
            await self._page(send, 200, "mastodon", link, {"instance": host, "confirm": True})
            return None
        return intent_url("mastodon", link.text, instance=host).encode("ascii")

    async def _page(
        self, send: Any, status: int, name: str, link: GoLink | None, context: dict
    ) -> None:
        body = await self.render(status, name, link, context)
        await _respond(
            send, status, [(b"content-type", b"text/html; charset=utf-8"), *page_headers()], body
        )


def read_request_headers(
    headers: list[tuple[bytes, bytes]],
) -> tuple[bool, bool, bool, list[bytes] | None, bytes | None]:
    """(opted out by DNT/Sec-GPC, came from this site's own pages, is a prefetch, the
    X-Forwarded-For values, the X-Forwarded-Proto value): one pass, for both `/go/` paths (the
    forwarded ones count only from a trusted proxy, which the caller knows)."""
    opted_out = same_origin = prefetch = False
    forwarded_for: list[bytes] | None = None
    forwarded_proto: bytes | None = None
    for name, value in headers:
        if name == b"dnt" or name == b"sec-gpc":
            opted_out = opted_out or value.strip() == b"1"
        elif name == b"sec-fetch-site":
            same_origin = value == b"same-origin"
        elif name == b"sec-purpose" or name == b"purpose":
            prefetch = prefetch or b"prefetch" in value
        elif name == b"x-forwarded-for":
            if forwarded_for is None:
                forwarded_for = [value]
            else:
                forwarded_for.append(value)
        elif name == b"x-forwarded-proto":
            forwarded_proto = value
    return opted_out, same_origin, prefetch, forwarded_for, forwarded_proto


CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    b"form-action 'self' https:; base-uri 'none'; frame-ancestors 'none'"
)


def page_headers() -> list[tuple[bytes, bytes]]:
    """Security headers for every HTML page and file the server answers with."""
    return [
        (b"content-security-policy", CSP),
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"interest-cohort=(), browsing-topics=()"),
    ]


async def _respond(send: Any, status: int, headers: list, body: bytes) -> None:
    if not any(name == b"content-length" for name, _ in headers):
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    if not any(name == b"cache-control" for name, _ in headers):
        headers = [*headers, (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
