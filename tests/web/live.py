"""Kindling's web server as `kindling serve` runs it, on 127.0.0.1, and raw-socket helpers: what
the tests of the protocol, its limits, /healthz and the reverse proxy speak to."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from bot.web import KindlingApp


class _CountingEndpoint:
    """Stands in for the app's GoEndpoint on the ASGI path only: what reaches it was not answered
    by the shortcut (which keeps the real endpoint it was built with)."""

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint
        self.calls: list[str] = []

    async def __call__(self, scope: dict, receive: Any, send: Any, **kwargs: Any) -> None:
        self.calls.append(scope["path"])
        await self.endpoint(scope, receive, send, **kwargs)

    def __getattr__(self, name: str) -> Any:  # /healthz reads the endpoint's counters
        return getattr(self.endpoint, name)


@contextmanager
def serving(app: KindlingApp, **overrides: Any) -> Iterator[tuple[int, _CountingEndpoint]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = app.uvicorn_options("127.0.0.1", port, log_level="warning", **overrides)
    assert options["http"] != "auto", "httptools is a dependency: the shortcut must be in use"
    server = uvicorn.Server(uvicorn.Config(app, **options))
    asgi = _CountingEndpoint(app.web.go)
    app.web.go = asgi  # type: ignore[assignment]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    app.web.server = server  # type: ignore[attr-defined]  # for the shutdown test
    try:
        yield port, asgi
    finally:
        server.should_exit = True
        thread.join(30)


def request(path: str, *headers: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


def read_responses(sock: socket.socket, count: int, timeout: float = 10.0) -> list[dict]:
    """`count` whole responses (status, lower-cased headers, body), in the order they came."""
    sock.settimeout(timeout)
    buffer = b""
    answers: list[dict] = []
    while len(answers) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(answers)} of {count} responses"
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(buffer) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed inside a body"
            buffer += chunk
        body, buffer = buffer[:length], buffer[length:]
        answers.append({"status": int(status_line.split()[1]), "headers": headers, "body": body})
    return answers


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, made by the openssl command (Debian's openssl)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def tls_connection(port: int, cert: Path, source: str = "127.0.0.1") -> ssl.SSLSocket:
    """A TLS connection to 127.0.0.1:`port` that trusts only `cert`, from address `source`."""
    context = ssl.create_default_context(cafile=str(cert))
    sock = socket.create_connection(("127.0.0.1", port), source_address=(source, 0))
    return context.wrap_socket(sock, server_hostname="127.0.0.1")
