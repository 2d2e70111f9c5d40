"""`/healthz` on the real server: only ok / not ok for a client elsewhere, the details for this
machine, and not ok (503) promptly when the database cannot take a write."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.web import KindlingApp, WebOptions, create_app
from bot.web.health import DATABASE_BOUND_SECONDS, PROBE_REUSE_SECONDS, Health, is_loopback
from tests.web.conftest import make_config
from tests.web.live import read_responses, request, serving

DETAILS = {
    "ok",
    "database",
    "writer",
    "campaigns",
    "campaign_ids",
    "links",
    "clicks_recorded",
    "clicks_not_recorded",
    "commits",
}


@pytest.fixture
def make_app(project) -> Callable[..., KindlingApp]:
    def make(**web: Any) -> KindlingApp:
        return create_app(make_config(project, **web), WebOptions(reload_seconds=0))

    return make


def health(port: int, *headers: str, timeout: float = 10.0) -> tuple[int, dict]:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request("/healthz", *headers))
        (answer,) = read_responses(sock, 1, timeout)
    return answer["status"], json.loads(answer["body"])


def test_a_client_elsewhere_is_told_only_ok_this_machine_gets_the_details(make_app):
    app = make_app()
    with serving(app) as (port, _):
        status, local = health(port)
        # 127.0.0.1 is a trusted proxy (uvicorn's default): the visitor it forwards is elsewhere.
        proxied = health(port, "X-Forwarded-For: 198.51.100.7")
        via_local_proxy = health(port, "X-Forwarded-For: 127.0.0.1")
    assert status == 200 and set(local) == DETAILS and local["ok"] is True
    assert set(local["campaign_ids"]) == {"demo", "other"}
    assert proxied == (200, {"ok": True})
    assert set(via_local_proxy[1]) == DETAILS


def test_the_details_go_to_everyone_when_configured(make_app):
    app = make_app(healthz_details=True)
    with serving(app) as (port, _):
        status, body = health(port, "X-Forwarded-For: 198.51.100.7")
    assert status == 200 and set(body) == DETAILS


def test_a_database_locked_by_another_process_is_503_within_the_bound(make_app):
    app = make_app()
    path = app.web.store.sqlite_path
    assert path is not None
    with serving(app) as (port, _):
        assert health(port)[0] == 200
        other = sqlite3.connect(path, isolation_level=None)  # another process's write lock
        try:
            other.execute("BEGIN IMMEDIATE")
            locked = time.monotonic()
            while True:  # the probe made just before the lock answers for a second
                asked = time.monotonic()
                status, body = health(port, "X-Forwarded-For: 198.51.100.7")
                assert time.monotonic() - asked < DATABASE_BOUND_SECONDS + 3  # not SQLite's 30 s
                if status != 200:
                    break
                assert time.monotonic() - locked < PROBE_REUSE_SECONDS + 3
            assert (status, body) == (503, {"ok": False})
            status, body = health(port)
            assert status == 503 and body["database"] is False and body["writer"] is True
        finally:
            other.rollback()
            other.close()
        deadline = time.monotonic() + 45
        while health(port)[0] != 200:  # the lock is gone: ok again
            assert time.monotonic() < deadline, "healthz stayed 503 after the lock was released"
            time.sleep(0.2)


def test_a_database_missing_its_tables_is_503(make_app):
    app = make_app()
    with serving(app) as (port, _):
        assert health(port)[0] == 200
        with app.web.store.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE links")
        deadline = time.monotonic() + 10  # a finished probe answers for a second
        while (answer := health(port))[0] != 503:
            assert time.monotonic() < deadline, "healthz stayed ok without the links table"
            time.sleep(0.2)
        assert answer[1]["ok"] is False and answer[1]["database"] is False


class _SlowWriter:
    """Counts the probes that reach the writer; each takes `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.runs = 0
        self.alive = True
        self.batches = 0

    async def run(self, fn: Any) -> None:
        self.runs += 1
        await asyncio.sleep(self.delay)


class _Source:
    def __init__(self, writer: _SlowWriter) -> None:
        self.writer = writer
        self.go = None
        self.campaigns = {"demo": object()}
        self.links: dict = {}


def test_concurrent_requests_share_one_probe_and_a_stuck_probe_is_not_repeated():
    async def scenario() -> tuple[list[bool], list[bool], list[bool], int]:
        writer = _SlowWriter(0.05)
        checker = Health(_Source(writer), bound_seconds=0.3, reuse_seconds=0)  # type: ignore[arg-type]
        together = await asyncio.gather(*(checker.database_usable() for _ in range(50)))
        writer.delay = 30  # a lock: the next probe outlives the bound
        stuck = await asyncio.gather(*(checker.database_usable() for _ in range(20)))
        still = await asyncio.gather(*(checker.database_usable() for _ in range(20)))
        return together, stuck, still, writer.runs

    together, stuck, still, runs = asyncio.run(scenario())
    assert together == [True] * 50
    assert stuck == still == [False] * 20
    assert runs == 2  # one probe for the first 50, one (still waiting) for the other 40


def test_loopback_clients():
    assert is_loopback(("127.0.0.1", 1)) and is_loopback(("::1", 1))
    assert is_loopback(("127.5.6.7", 1))
    assert not is_loopback(("198.51.100.7", 1)) and not is_loopback(("testclient", 1))
    assert not is_loopback(None)
