"""What one client can make `kindling serve` hold, tried against the real server on 127.0.0.1
over raw sockets: idle and half-sent connections, too many connections, oversized request lines
and headers, HTTP/0.9, and clients that leave with pipelined requests unanswered."""

from __future__ import annotations

import logging
import select
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.web import KindlingApp, WebOptions, create_app
from tests.web.conftest import make_config, token_for
from tests.web.live import closed_by_server, read_responses, request, serving


@pytest.fixture
def make_app(project) -> Callable[..., KindlingApp]:
    def make(**web: Any) -> KindlingApp:
        return create_app(make_config(project, **web), WebOptions(reload_seconds=0))

    return make


def trickle(sock: socket.socket, pieces: list[bytes], pause: float) -> bool:
    """Send `pieces` one by one, waiting up to `pause` between them for the server to answer
    or close; True once it has (then nothing more is sent)."""
    for piece in pieces:
        sock.sendall(piece)
        if select.select([sock], [], [], pause)[0]:
            return True
    return False


def answer_and_close(sock: socket.socket, timeout: float = 10.0) -> tuple[int, bool]:
    """The status of the one answer the server sends, and whether it then closed."""
    (answer,) = read_responses(sock, 1, timeout)
    return answer["status"], closed_by_server(sock, timeout)


def test_a_connection_that_never_sends_a_request_is_closed_after_the_keep_alive_time(make_app):
    app = make_app(keep_alive_seconds=1)
    with serving(app) as (port, _):
        silent = socket.create_connection(("127.0.0.1", port))
        blank = socket.create_connection(("127.0.0.1", port))
        opened = time.monotonic()
        with silent, blank:
            # Blank lines begin no request: sent every 0.3 s, they do not keep it open.
            assert trickle(blank, [b"\r\n"] * 30, 0.3)
            assert closed_by_server(blank, 5)
            assert closed_by_server(silent, 5)
            assert time.monotonic() - opened < 5


def test_a_request_that_never_completes_is_answered_408_and_closed(make_app):
    app = make_app(request_timeout_seconds=1, keep_alive_seconds=30)
    with serving(app) as (port, _):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /demo HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line: not done
            assert answer_and_close(sock) == (408, True)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(request("/demo"))  # a whole request, then half of the next one
            assert read_responses(sock, 1)[0]["status"] == 200
            slow = b"GET /demo HTTP/1.1\r\nX-Slow: " + b"s" * 200  # a byte every 0.05 s
            assert trickle(sock, [bytes([byte]) for byte in slow], 0.05)
            assert answer_and_close(sock) == (408, True)


def test_connections_past_the_cap_are_answered_503_and_closed_at_once(make_app):
    app = make_app(max_connections=3, keep_alive_seconds=30)
    with serving(app) as (port, _):
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        for sock in held:  # each one served, and kept open
            sock.sendall(request("/healthz"))
            assert read_responses(sock, 1)[0]["status"] == 200
        with socket.create_connection(("127.0.0.1", port)) as extra:
            assert answer_and_close(extra, 5) == (503, True)
        held.pop().close()
        deadline = time.monotonic() + 10
        while True:  # the closed one's place is free again once the server has seen it go
            with socket.create_connection(("127.0.0.1", port)) as again:
                again.sendall(request("/healthz"))
                if read_responses(again, 1)[0]["status"] == 200:
                    break
            assert time.monotonic() < deadline, "a freed place was not given to a new client"
        for sock in held:
            sock.close()


def test_header_fields_over_the_limit_are_answered_431_and_closed(make_app):
    app = make_app(max_header_bytes=4096)
    with serving(app) as (port, _):
        token = token_for(app, platform="x")
        for path in ("/demo", f"/go/{token}"):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(request(path, "X-Big: " + "a" * 5000))
                assert answer_and_close(sock) == (431, True)
            with socket.create_connection(("127.0.0.1", port)) as sock:
                many = [f"X-Field-{n}: {'b' * 90}" for n in range(60)]  # 60 small ones, 6 kB
                sock.sendall(request(path, *many))
                assert answer_and_close(sock) == (431, True)
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(request(path, "X-Fits: " + "c" * 3000))
                assert read_responses(sock, 1)[0]["status"] in (200, 302)


def test_a_64_mb_header_is_cut_off_long_before_its_end(make_app):
    """The server stops reading within a read of the limit and closes; it neither reads the
    64 MB (httptools' joins of a field's pieces are quadratic) nor answers the request."""
    app = make_app()
    with serving(app) as (port, _), socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /demo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: ")
        chunk, sent = b"h" * 65536, 0
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            while sent < 64 * 1024 * 1024:
                sock.sendall(chunk)
                sent += len(chunk)
    # What the kernel buffers on both sides of a loopback connection: a few MB at most.
    assert sent < 16 * 1024 * 1024


def test_a_request_target_over_the_limit_is_answered_414_and_closed(make_app):
    app = make_app(max_request_line_bytes=1024)
    with serving(app) as (port, _):
        for path in ("/demo?q=" + "x" * 1100, "/go/" + "t" * 1100):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(request(path))
                assert answer_and_close(sock) == (414, True)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(request("/demo?q=" + "x" * 900))
            assert read_responses(sock, 1)[0]["status"] == 200


def test_http_0_9_request_lines_are_refused_at_once(make_app):
    app = make_app(request_timeout_seconds=60)  # so a refusal is not the timeout's
    with serving(app) as (port, _):
        token = token_for(app, platform="x")
        for line in (f"GET /go/{token}\r\n", "GET /demo\r\n", "GET /demo\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(line.encode("ascii"))
                assert answer_and_close(sock, 5) == (400, True), line


def test_clients_that_leave_with_pipelined_requests_leave_no_traceback(make_app, caplog):
    """The issue's client: pipelined /go/ requests (taken by the shortcut and by the ASGI app),
    then a close, again and again. At most one DEBUG line a connection, nothing louder."""
    app = make_app()
    caplog.set_level(logging.DEBUG, logger="kindling.web.http")
    connections = 40
    with serving(app) as (port, _):
        tokens = [token_for(app, platform=p) for p in ("x", "bluesky")]
        burst = b"".join(request(f"/go/{tokens[n % 2]}") for n in range(20))
        for _ in range(connections):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(burst + request("/healthz") + request("/demo"))
        server = app.web.server  # type: ignore[attr-defined]
        deadline = time.monotonic() + 20
        while server.server_state.connections or server.server_state.tasks:
            assert time.monotonic() < deadline, "the connections did not end"
            time.sleep(0.05)
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [r.getMessage() for r in loud]
    quiet = [r for r in caplog.records if r.name == "kindling.web.http"]
    assert len(quiet) <= connections


def test_answers_keep_coming_while_another_client_holds_many_idle_connections(make_app):
    """A client holding idle connections up to the cap locks nobody out for long: its
    connections are closed after the keep-alive time and new clients are served."""
    app = make_app(max_connections=20, keep_alive_seconds=1)
    with serving(app) as (port, _):
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
        try:
            deadline = time.monotonic() + 10
            while True:
                with socket.create_connection(("127.0.0.1", port)) as sock:
                    sock.sendall(request("/healthz"))
                    if read_responses(sock, 1)[0]["status"] == 200:
                        break
                assert time.monotonic() < deadline, "the idle connections kept everyone out"
                time.sleep(0.1)
            assert all(closed_by_server(sock, 5) for sock in idle)
        finally:
            for sock in idle:
                sock.close()
