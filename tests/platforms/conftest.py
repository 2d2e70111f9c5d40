"""Fixtures for the X adapter tests: the fake X server (one per session, a clean state per
test, no request or response violations allowed) and adapters pointed at it."""

from __future__ import annotations

import socket
import struct
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from requests_oauthlib import OAuth1

from bot.clock import Clock
from bot.platforms.base import PostRequest
from bot.platforms.x import XPlatform
from tests.fakes.x_server import XFakeServer
from tests.fakes.x_state import FakeAccount

CLIENT_TIMEOUT = 3.0  # seconds: generous, the machine may be busy
HANG_TIMEOUT = 0.5  # for tests of hangs (the fake hangs for 30 s, or until reset)
ACCOUNT = FakeAccount()


@pytest.fixture(scope="session")
def x_server() -> Iterator[XFakeServer]:
    """The fake X API, running on 127.0.0.1 for the whole session."""
    with XFakeServer() as server:
        yield server


@pytest.fixture
def x_fake(x_server: XFakeServer) -> Iterator[XFakeServer]:
    """The fake with a clean state. At teardown every request the test made must have been
    valid against the spec, and every answer too (a test that provokes violations on purpose
    clears the lists after asserting on them)."""
    x_server.state.reset()
    yield x_server
    state = x_server.state
    violations, answers = list(state.violations), list(state.response_violations)
    state.reset()
    assert violations == [], "requests the spec (or X) refuses"
    assert answers == [], "answers of the fake that do not match the spec"


@pytest.fixture
def x_platform(x_fake: XFakeServer) -> XPlatform:
    """The real adapter (real tweepy, real HTTP) talking to the fake."""
    return make_platform(x_fake.url)


@pytest.fixture
def x_impatient(x_fake: XFakeServer) -> XPlatform:
    """The adapter with a short timeout, for tests where the fake hangs."""
    return make_platform(x_fake.url, timeout=HANG_TIMEOUT)


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def make_platform(
    url: str,
    account: FakeAccount = ACCOUNT,
    timeout: float = CLIENT_TIMEOUT,
    clock: Clock | None = None,
) -> XPlatform:
    return XPlatform(
        account.consumer_key,
        account.consumer_secret,
        account.access_token,
        account.access_token_secret,
        api_base_url=url,
        timeout=timeout,
        clock=clock,
    )


def oauth(account: FakeAccount = ACCOUNT) -> OAuth1:
    """OAuth 1.0a for hand-made requests to the fake."""
    keys = (account.consumer_key, account.consumer_secret)
    return OAuth1(*keys, account.access_token, account.access_token_secret)


def request(
    text: str, *, key: str = "demo:launch:en:x:1", slot: datetime | None = None, **extra: object
) -> PostRequest:
    return PostRequest(key, text, "en", slot or datetime.now(UTC), **extra)  # type: ignore[arg-type]


def png(path: Path, width: int = 2, height: int = 1) -> Path:
    """A real (tiny, red) PNG file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\0" + b"\xff\x00\x00" * width for _ in range(height)))
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunks)
    return path
