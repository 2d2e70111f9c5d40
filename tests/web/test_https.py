"""Strict-Transport-Security on the real server: on every answer that came over HTTPS, either
TLS to Kindling itself or a trusted proxy saying `X-Forwarded-Proto: https`; never otherwise."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.web import KindlingApp, WebOptions, create_app
from tests.web.conftest import make_config, token_for
from tests.web.live import read_responses, request, self_signed_certificate, serving, tls_connection

HSTS = "strict-transport-security"


@pytest.fixture
def make_app(project) -> Callable[..., KindlingApp]:
    def make(**web: Any) -> KindlingApp:
        return create_app(make_config(project, **web), WebOptions(reload_seconds=0))

    return make


def paths(app: KindlingApp) -> list[str]:
    """The shortcut's /go/, the ASGI /go/ (a query string), pages, files, 404s, /healthz."""
    token = token_for(app, platform="x")
    return [f"/go/{token}", f"/go/{token}?from=poster", "/demo", "/static/kindling.css",
            "/nope", "/healthz"]  # fmt: skip


def answers(sock: Any, app: KindlingApp, *headers: str) -> dict[str, dict]:
    wanted = paths(app)
    sock.sendall(b"".join(request(path, *headers) for path in wanted))
    return dict(zip(wanted, read_responses(sock, len(wanted)), strict=True))


def test_a_trusted_proxy_saying_https_gets_strict_transport_security_everywhere(make_app):
    app = make_app()
    with serving(app) as (port, asgi), socket.create_connection(("127.0.0.1", port)) as sock:
        proxied = answers(sock, app, "X-Forwarded-Proto: https", "X-Forwarded-For: 198.51.100.7")
        plain = answers(sock, app, "X-Forwarded-For: 198.51.100.7")
        told_http = answers(sock, app, "X-Forwarded-Proto: http")
    for path, answer in proxied.items():
        assert answer["headers"].get(HSTS) == "max-age=31536000", path
    assert [a["status"] for a in proxied.values()] == [302, 302, 200, 200, 404, 200]
    for path in plain:
        assert HSTS not in plain[path]["headers"] and HSTS not in told_http[path]["headers"], path
    assert len(asgi.calls) == 3  # one /go/ of each round went the ASGI way, the other did not


def test_an_untrusted_peer_cannot_ask_for_it(make_app):
    app = make_app()
    with (
        serving(app, forwarded_allow_ips="192.0.2.1") as (port, _),
        socket.create_connection(("127.0.0.1", port)) as sock,
    ):
        said = answers(sock, app, "X-Forwarded-Proto: https")
    assert [a["status"] for a in said.values()] == [302, 302, 200, 200, 404, 200]
    assert all(HSTS not in answer["headers"] for answer in said.values())


def test_tls_to_kindling_itself_gets_it_unless_switched_off(make_app, tmp_path: Path):
    cert, key = self_signed_certificate(tmp_path)
    for web, expected in (({}, "max-age=31536000"), ({"hsts_max_age_seconds": 0}, None)):
        app = make_app(**web)
        tls = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        with serving(app, **tls) as (port, _), tls_connection(port, cert) as sock:
            over_tls = answers(sock, app)
        assert [a["status"] for a in over_tls.values()] == [302, 302, 200, 200, 404, 200]
        for path, answer in over_tls.items():
            assert answer["headers"].get(HSTS) == expected, (web, path)
