"""Kindling behind nginx with deploy/nginx/kindling.conf (tests/web/nginx.py runs it): clicks and
pages over TLS carry the supporter's own address and Strict-Transport-Security, plain HTTP is
sent to HTTPS, and nginx's own limits answer before Kindling sees anything."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.web import KindlingApp, WebOptions, create_app
from tests.web.conftest import make_config, token_for
from tests.web.live import read_responses, request, self_signed_certificate, serving, tls_connection
from tests.web.nginx import Proxy, running_nginx

pytestmark = pytest.mark.proxy
SUPPORTER = "127.0.0.2"  # a loopback address other than the proxy's own, so the two differ


@pytest.fixture
def behind_nginx(project: Path, tmp_path: Path) -> Iterator[tuple[KindlingApp, Proxy, object]]:
    app = create_app(make_config(project), WebOptions(reload_seconds=0))
    cert, key = self_signed_certificate(tmp_path)
    with serving(app) as (port, asgi), running_nginx(port, tmp_path / "nginx", cert, key) as proxy:
        yield app, proxy, asgi


def requests_seen(app: KindlingApp) -> int:
    return app.web.server.server_state.total_requests  # type: ignore[attr-defined]


def test_a_click_and_a_page_over_tls_carry_the_supporters_address_and_hsts(behind_nginx, clicks):
    app, proxy, asgi = behind_nginx
    token = token_for(app, platform="bluesky")
    with tls_connection(proxy.https_port, proxy.certificate, SUPPORTER) as sock:
        spoofed = "X-Forwarded-For: 203.0.113.5"  # replaced by nginx, never believed
        sock.sendall(request(f"/go/{token}", spoofed) + request("/demo") + request("/healthz"))
        click, page, health = read_responses(sock, 3)
    assert click["status"] == 302
    assert click["headers"]["location"] == app.web.links[token].location.decode()
    for answer in (click, page, health):
        assert answer["headers"]["strict-transport-security"] == "max-age=31536000"
        assert "server" not in answer["headers"] or answer["headers"]["server"] == "nginx"
    assert page["status"] == 200 and "Ymgyrch Ffug" in page["body"].decode()
    assert b'"campaign_ids"' in health["body"]  # 127.0.0.2 is this machine: the details
    (row,) = clicks()
    assert row.client_hash == asgi.endpoint.hasher(SUPPORTER)  # not the proxy's, not spoofed
    assert asgi.calls == []  # nginx's kept-open HTTP/1.1 connection took the shortcut


def test_plain_http_is_sent_to_https(behind_nginx):
    app, proxy, _ = behind_nginx
    with socket.create_connection(("127.0.0.1", proxy.http_port)) as sock:
        sock.sendall(request("/demo?lang=en"))
        (answer,) = read_responses(sock, 1)
    assert answer["status"] == 301
    assert answer["headers"]["location"] == "https://127.0.0.1/demo?lang=en"
    assert requests_seen(app) == 0


def test_nginx_refuses_oversized_requests_before_kindling_sees_them(behind_nginx):
    app, proxy, _ = behind_nginx
    refused = {
        "long request line": (request("/demo?q=" + "x" * 9000), 414),
        "long header field": (request("/demo", "X-Big: " + "y" * 9000), 400),
        "a body": (request("/demo", "Content-Length: 20000", method="POST") + b"z" * 20000, 413),
    }
    for name, (data, status) in refused.items():
        with tls_connection(proxy.https_port, proxy.certificate, SUPPORTER) as sock:
            sock.sendall(data)
            (answer,) = read_responses(sock, 1)
        assert answer["status"] == status, name
    assert requests_seen(app) == 0


def test_pages_past_the_rate_limit_get_429_clicks_never(behind_nginx):
    app, proxy, _ = behind_nginx
    token = token_for(app, platform="x")
    with tls_connection(proxy.https_port, proxy.certificate, SUPPORTER) as sock:
        started = time.monotonic()
        pages = []
        for _ in range(80):
            sock.sendall(request("/demo"))
            pages += read_responses(sock, 1)
        elapsed = time.monotonic() - started
        clicks = []
        for _ in range(80):
            sock.sendall(request(f"/go/{token}"))
            clicks += read_responses(sock, 1)
    served = [a["status"] for a in pages].count(200)
    assert {a["status"] for a in pages} == {200, 429}
    assert served <= 41 + 10 * elapsed + 1  # burst 40 (+1), then 10 a second
    assert [a["status"] for a in clicks] == [302] * 80
