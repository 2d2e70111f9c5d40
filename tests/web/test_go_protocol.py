"""The `/go/` shortcut at the HTTP protocol level (bot/web/go_protocol.py), under a real uvicorn on
127.0.0.1 with the options `kindling serve` uses, spoken to over raw sockets: the same answers as
the ASGI path, one committed row a click, HTTP/1.1 keep-alive, pipelining, closing, proxies."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.web import KindlingApp, WebOptions, create_app
from tests.web.conftest import make_config, token_for
from tests.web.live import closed_by_server, read_responses, request, serving
from tests.web.test_go import HOSTILE_PATHS


@pytest.fixture
def make_app(project) -> Callable[..., KindlingApp]:
    def make(**options: Any) -> KindlingApp:
        return create_app(make_config(project), WebOptions(reload_seconds=0, **options))

    return make


def test_the_shortcut_answers_as_the_asgi_path_does_and_commits_one_row(make_app, clicks):
    app = make_app()
    with serving(app) as (port, asgi):
        token = token_for(app, target_id="sian", platform="bluesky", language="cy")
        location = app.web.links[token].location.decode()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(request(f"/go/{token}"))
            (fast,) = read_responses(sock, 1)
            # The same link with a query string is left to the ASGI path, which answers alike.
            sock.sendall(request(f"/go/{token}?from=poster"))
            (slow,) = read_responses(sock, 1)
        assert asgi.calls == [f"/go/{token}"]  # only the second request reached the ASGI app
    assert fast["status"] == slow["status"] == 302
    assert fast["headers"]["location"] == slow["headers"]["location"] == location
    assert location.startswith("https://bsky.app/intent/compose?text=")
    for answer in (fast, slow):
        answer["headers"].pop("date")
    assert fast["headers"] == slow["headers"]
    assert fast["headers"] == {
        "location": location,
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
        "cache-control": "no-store",
        "content-length": "0",
    }
    assert fast["body"] == b""
    rows = clicks()
    assert [(r.token, r.target_id, r.platform, r.language) for r in rows] == [
        (token, "sian", "bluesky", "cy")
    ] * 2
    assert rows[0].client_hash == rows[1].client_hash and len(rows[0].client_hash) == 32


def test_keep_alive_and_pipelined_requests_are_answered_in_order(make_app, clicks):
    app = make_app()
    with serving(app) as (port, asgi), socket.create_connection(("127.0.0.1", port)) as sock:
        x = token_for(app, target_id="sian", platform="x", language="en")
        bluesky = token_for(app, target_id="bob", platform="bluesky", language="cy")
        for _ in range(3):  # one connection, one request at a time
            sock.sendall(request(f"/go/{x}"))
            assert read_responses(sock, 1)[0]["status"] == 302
        # Five requests in one write: the first takes the shortcut, the others queue behind it
        # in uvicorn's pipeline, and every answer comes back in the order asked.
        sock.sendall(
            request(f"/go/{bluesky}")
            + request("/healthz")
            + request(f"/go/{x}")
            + request("/go/no-such-token")
            + request(f"/go/{bluesky}", method="HEAD")
        )
        answers = read_responses(sock, 5)
    assert [a["status"] for a in answers] == [302, 200, 302, 404, 302]
    assert answers[0]["headers"]["location"] == app.web.links[bluesky].location.decode()
    assert answers[2]["headers"]["location"] == app.web.links[x].location.decode()
    assert b'"ok": true' in answers[1]["body"]
    assert "location" not in answers[3]["headers"]
    assert [r.token for r in clicks()] == [x, x, x, bluesky, x]  # HEAD and 404: no rows
    assert f"/go/{x}" in asgi.calls  # the pipelined ones went the ASGI way


def test_connection_close_and_http_1_0_get_their_redirect_then_the_connection_ends(
    make_app, clicks
):
    app = make_app()
    with serving(app) as (port, _):
        token = token_for(app, platform="x")
        for message in (
            request(f"/go/{token}", "Connection: close"),
            request(f"/go/{token}", version="1.0"),
        ):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(message)
                (answer,) = read_responses(sock, 1)
                assert answer["status"] == 302
                assert answer["headers"]["connection"] == "close"
                assert closed_by_server(sock, 5)
    assert len(clicks()) == 2


def test_an_idle_connection_is_closed_after_the_keep_alive_timeout_a_busy_one_is_not(make_app):
    app = make_app()
    with (
        serving(app, timeout_keep_alive=1) as (port, _),
        socket.create_connection(("127.0.0.1", port)) as busy,
    ):
        token = token_for(app, platform="bluesky")
        started = time.monotonic()
        while time.monotonic() - started < 2.5:  # a request every 0.3 s for 2.5 s
            busy.sendall(request(f"/go/{token}"))
            assert read_responses(busy, 1)[0]["status"] == 302
            idle_from = time.monotonic()
            time.sleep(0.3)
        assert closed_by_server(busy, 5)
        assert 0.9 < time.monotonic() - idle_from < 2.5


def test_do_not_track_and_proxied_clients_are_treated_as_on_the_asgi_path(make_app, clicks):
    app = make_app(rate_limit=2)
    with serving(app) as (port, asgi), socket.create_connection(("127.0.0.1", port)) as sock:
        token = token_for(app, platform="x")
        sends = [
            ("X-Forwarded-For: 198.51.100.7",),  # 127.0.0.1 is a trusted proxy by default
            ("X-Forwarded-For: 198.51.100.7", "DNT: 1"),
            ("X-Forwarded-For: 198.51.100.7",),  # a third click from one client: not counted
            ("X-Forwarded-For: 203.0.113.9",),  # another supporter behind the same proxy
        ]
        for headers in sends:
            sock.sendall(request(f"/go/{token}", *headers))
            assert read_responses(sock, 1)[0]["status"] == 302
        assert asgi.calls == []
    first, opted_out, other = clicks()
    assert opted_out.client_hash is None
    assert first.client_hash and other.client_hash and first.client_hash != other.client_hash
    assert (app.web.go.endpoint.recorded, app.web.go.endpoint.unrecorded) == (3, 1)


def test_a_prefetch_a_post_and_mastodon_go_the_asgi_way_and_record_nothing(make_app, clicks):
    app = make_app()
    with serving(app) as (port, asgi), socket.create_connection(("127.0.0.1", port)) as sock:
        x = token_for(app, platform="x")
        mastodon = token_for(app, platform="mastodon")
        sock.sendall(request(f"/go/{x}", "Sec-Purpose: prefetch"))
        sock.sendall(request(f"/go/{x}", "Content-Length: 0", method="POST"))
        sock.sendall(request(f"/go/{mastodon}"))
        answers = read_responses(sock, 3)
    assert [a["status"] for a in answers] == [503, 405, 200]
    assert b"instance" in answers[2]["body"]
    assert len(asgi.calls) == 3
    assert clicks() == []


def test_when_the_click_cannot_be_committed_the_answer_is_503_not_a_redirect(make_app, clicks):
    app = make_app()
    with serving(app) as (port, asgi), socket.create_connection(("127.0.0.1", port)) as sock:
        token = token_for(app, platform="x")
        with app.web.store.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE clicks")
        sock.sendall(request(f"/go/{token}"))
        (answer,) = read_responses(sock, 1)
        assert answer["status"] == 503 and "location" not in answer["headers"]
        assert b"Please try again" in answer["body"]
        assert answer["headers"]["content-type"] == "text/html; charset=utf-8"
        assert "default-src 'none'" in answer["headers"]["content-security-policy"]
        app.web.writer.stop()  # and once the writer is gone, the same answer
        sock.sendall(request(f"/go/{token}"))
        (after,) = read_responses(sock, 1)
        assert after["status"] == 503 and "location" not in after["headers"]
        assert asgi.calls == []


def test_hostile_paths_through_the_real_server_never_redirect_anywhere_else(make_app, clicks):
    """The ASGI path's hostile-path list (tests/web/test_go.py), over sockets: whichever way
    uvicorn and the shortcut take each one, a 302 only ever carries the stored URL of the token
    asked for, and only a 302 is a click."""
    app = make_app()
    redirects = 0
    with serving(app) as (port, _):
        token = token_for(app, campaign_id="demo", platform="x")
        other = token_for(app, campaign_id="other")
        generated = {link.location.decode() for link in app.web.links.values() if link.location}
        for path in HOSTILE_PATHS:
            target = path.replace("TOKEN", token).replace("OTHER", other)
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(request(target, "Connection: close"))
                (answer,) = read_responses(sock, 1)
            location = answer["headers"].get("location")
            if answer["status"] == 302:
                redirects += 1
                assert location == app.web.links[token].location.decode(), target
            else:
                assert answer["status"] in (400, 404), (target, answer["status"])
                assert location is None, target
            assert location is None or location in generated
    assert redirects == 1  # the token with a hostile query string: the stored URL, query ignored
    assert len(clicks()) == redirects


def test_a_shutdown_while_a_click_commits_still_answers_it_and_keeps_the_row(make_app, clicks):
    """uvicorn's graceful shutdown with a shortcut click in the writer's queue: the commit
    completes, the supporter gets the 302 (with `connection: close`), the row is there."""
    app = make_app()
    app.web.writer.commit_delay = 1.0  # the click waits in the queue while the server stops
    with serving(app) as (port, _), socket.create_connection(("127.0.0.1", port)) as sock:
        token = token_for(app, platform="bluesky")
        sock.sendall(request(f"/go/{token}"))
        time.sleep(0.1)
        app.web.server.should_exit = True  # type: ignore[attr-defined]
        (answer,) = read_responses(sock, 1)
        assert answer["status"] == 302
        assert answer["headers"]["location"] == app.web.links[token].location.decode()
        assert answer["headers"]["connection"] == "close"
        assert closed_by_server(sock, 5)
    assert [row.token for row in clicks()] == [token]
