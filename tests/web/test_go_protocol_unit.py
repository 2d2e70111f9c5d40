"""`GoProtocol` on its own: built by hand with a transport that records what is written, a
writer that holds clicks until the test commits them, and no server, socket or thread. What the
real server does with it is in test_go_protocol.py and test_limits.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from bot.web.go import ClientHasher, GoEndpoint, RateLimiter
from bot.web.go_protocol import GoProtocol
from bot.web.linkset import GoLink
from bot.web.server import GoShortcut, HttpLimits

LOCATION = b"https://bsky.app/intent/compose?text=hello"


def _link(token: str, location: bytes | None) -> GoLink:
    fields = (token, "demo", "sian", "ask-water", 0, "bluesky", "cy")
    return GoLink(*fields[:7], "hello", location, fields)  # type: ignore[arg-type]


class _Transport:
    def __init__(self, peer: tuple[str, int]) -> None:
        self.written = bytearray()
        self.closed = False
        self.peer = peer

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self.peer, "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class _Writer:
    """Holds submitted clicks; `commit()` acknowledges them as the writer thread would."""

    def __init__(self) -> None:
        self.waiting: list[tuple[tuple, Any]] = []
        self.committed: list[tuple] = []

    def submit(self, click: tuple, done: Any, loop: Any) -> None:
        self.waiting.append((click, done))

    def commit(self, error: BaseException | None = None) -> None:
        waiting, self.waiting = self.waiting, []
        for click, done in waiting:
            if error is None:
                self.committed.append(click)
            done(error)


class _App:
    """What uvicorn serves: the ASGI app the shortcut falls back to, carrying its settings."""

    def __init__(self, endpoint: GoEndpoint, limits: HttpLimits) -> None:
        self.http_limits = limits
        self.go_shortcut = GoShortcut(endpoint, hsts=limits.hsts)
        self.paths: list[str] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not here"})


class Harness:
    def __init__(self, limits: HttpLimits, peer: tuple[str, int]) -> None:
        self.loop = asyncio.new_event_loop()
        self.writer = _Writer()
        links = {"tok": _link("tok", LOCATION), "masto": _link("masto", None)}
        self.endpoint = GoEndpoint(
            lambda: links, self.writer, ClientHasher(), RateLimiter(0, 600), self._render
        )  # type: ignore[arg-type]
        self.app = _App(self.endpoint, limits)
        config = Config(app=self.app, log_config=None, proxy_headers=True, ws="none")
        self.protocol = GoProtocol(config, ServerState(), {}, _loop=self.loop)
        self.transport = _Transport(peer)
        self.protocol.connection_made(self.transport)  # type: ignore[arg-type]

    @staticmethod
    async def _render(status: int, name: str, link: Any, context: dict) -> bytes:
        return name.encode()

    def send(self, data: bytes) -> bytes:
        """Feed `data`, let the loop run what it started; what was written since."""
        before = len(self.transport.written)
        self.protocol.data_received(data)
        for _ in range(5):
            self.loop.run_until_complete(asyncio.sleep(0))
        return bytes(self.transport.written[before:])


@pytest.fixture
def harness() -> Iterator[Harness]:
    made = Harness(HttpLimits(max_header_bytes=2048, max_request_line=512), ("198.51.100.7", 1))
    yield made
    made.loop.close()


def get(path: str, *headers: str, method: str = "GET") -> bytes:
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: x", *headers, "", ""]).encode()


def test_a_click_is_answered_only_once_it_is_committed(harness):
    assert harness.send(get("/go/tok")) == b""  # waiting for the commit
    ((click, _),) = harness.writer.waiting
    assert click[:7] == ("tok", "demo", "sian", "ask-water", 0, "bluesky", "cy")
    assert len(click[8]) == 32  # the client's salted hash
    harness.writer.commit()
    answer = bytes(harness.transport.written)
    assert answer.startswith(b"HTTP/1.1 302 Found\r\n")
    assert b"\r\nlocation: " + LOCATION + b"\r\n" in answer
    assert b"strict-transport-security" not in answer  # plain HTTP
    assert harness.endpoint.recorded == 1 and not harness.transport.closed
    assert harness.app.paths == []


def test_head_unknown_tokens_and_mastodon_take_their_own_ways(harness):
    assert harness.send(get("/go/tok", method="HEAD")).startswith(b"HTTP/1.1 302")
    assert harness.writer.waiting == []  # a HEAD is no click
    assert harness.send(get("/go/nope")).startswith(b"HTTP/1.1 404")
    assert harness.send(get("/go/masto")).startswith(b"HTTP/1.1 404")
    assert harness.app.paths == ["/go/nope", "/go/masto"]  # the ASGI app's answers


def test_a_request_pipelined_behind_a_pending_click_waits_its_turn(harness):
    assert harness.send(get("/go/tok") + get("/elsewhere")) == b""
    assert harness.app.paths == []  # queued behind the click, not started
    harness.writer.commit()
    for _ in range(5):
        harness.loop.run_until_complete(asyncio.sleep(0))
    written = bytes(harness.transport.written)
    assert written.index(b"302 Found") < written.index(b"404 Not Found")
    assert harness.app.paths == ["/elsewhere"]


def test_a_failed_commit_is_a_503_page_and_no_redirect(harness):
    harness.send(get("/go/tok"))
    harness.writer.commit(RuntimeError("disk full"))
    for _ in range(5):
        harness.loop.run_until_complete(asyncio.sleep(0))
    written = bytes(harness.transport.written)
    assert written.startswith(b"HTTP/1.1 503") and written.endswith(b"unavailable")
    assert b"location" not in written and harness.endpoint.recorded == 0


def test_a_trusted_proxys_client_and_https():
    proxied = Harness(HttpLimits(), ("127.0.0.1", 1))  # uvicorn trusts 127.0.0.1 by default
    try:
        proxied.send(get("/go/tok", "X-Forwarded-For: 203.0.113.9", "X-Forwarded-Proto: https"))
        ((click, _),) = proxied.writer.waiting
        assert click[8] == proxied.endpoint.hasher("203.0.113.9")
        proxied.writer.commit()
        assert b"\r\nstrict-transport-security: max-age=31536000\r\n" in proxied.transport.written
    finally:
        proxied.loop.close()


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (get("/go/tok", "X-Big: " + "a" * 3000), b"431"),
        (get("/go/" + "t" * 600), b"414"),
        (b"GET /go/tok\r\n", b"400"),
        (b"GET /go/tok\r\n\r\n", b"400"),
        (b"BREW /go/tok HTTP/1.1\r\n\r\n", b"400"),
    ],
)
def test_refusals_answer_and_close(harness, data, status):
    written = harness.send(data)
    assert written.startswith(b"HTTP/1.1 " + status) and b"connection: close" in written
    assert harness.transport.closed and harness.writer.waiting == []


def test_an_incomplete_head_is_refused_once_its_reads_pass_the_limit(harness):
    assert harness.send(b"GET /go/tok HTTP/1.1\r\nX-Long: ") == b""
    for _ in range(2):
        assert harness.send(b"z" * 1000) == b""
    assert harness.send(b"z" * 1000).startswith(b"HTTP/1.1 431")  # past 512 + 2048 bytes


def test_deadlines_close_idle_connections_and_time_out_slow_requests(harness):
    protocol = harness.protocol
    protocol._idle_since -= 60  # as if opened a minute ago
    protocol._check_deadlines()
    assert harness.transport.closed and harness.transport.written == b""
    slow = Harness(HttpLimits(request_timeout=10), ("198.51.100.7", 1))
    try:
        slow.send(b"GET /go/tok HTTP/1.1\r\n")
        slow.protocol._request_since -= 11
        slow.protocol._check_deadlines()
        assert slow.transport.written.startswith(b"HTTP/1.1 408") and slow.transport.closed
    finally:
        slow.loop.close()


def test_a_client_that_leaves_marks_every_waiting_cycle_gone(harness):
    harness.send(get("/go/tok") + get("/a") + get("/b"))
    queued = [cycle for cycle, _ in harness.protocol.pipeline]
    assert len(queued) == 2
    harness.transport.closed = True
    harness.protocol.connection_lost(None)
    assert all(cycle.disconnected for cycle in queued)
    harness.writer.commit()  # the click commits after the client left: nothing is written
    assert b"302" not in harness.transport.written and harness.app.paths == []
