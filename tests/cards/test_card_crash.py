"""Issue 13, point 3: a crash between uploading a post's card and creating the post neither loses
the post nor posts it twice. A real `kindling run` posts a card message on the fake X server and
the real local Bluesky network; the create call is held on both (the fake X's hang fault, a
holding proxy in front of the PDS) after the card's upload went through, the daemon is killed
with SIGKILL there, and restarted. Counted on the servers: each post exactly once, with its card
and alt text. `after`: the create took effect before the hold (the ambiguous case) -- the
restart must find it, not post again."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cards.test_cards_live import (
    ALT,
    X_KEYS,
    bluesky_post,
    first_slot_sent,
    outbox,
    project_for,
    run_until,
)
from tests.fakes.x_process import x_fake_process as running_x_fake
from tests.peers.bluesky_network import BlueskyNetwork

pytestmark = [pytest.mark.bluesky, pytest.mark.xfake, pytest.mark.crash]

CREATE = "/xrpc/com.atproto.repo.createRecord"
UPLOAD = "/xrpc/com.atproto.repo.uploadBlob"
DROPPED = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


class HoldingProxy:
    """Forwards every request to the PDS, except that while `holding` a post's createRecord is
    held (forwarded first when `after`) until `release`. Counts what passed through."""

    def __init__(self, target: str, *, after: bool) -> None:
        self.target, self.after = target, after
        self.holding = threading.Event()
        self.released = threading.Event()
        self.seen: Counter[str] = Counter()
        self.held = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy.handle(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                proxy.handle(self, self.rfile.read(length))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        path = request.path.split("?")[0]
        hold = path == CREATE and b"app.bsky.feed.post" in body and self.holding.is_set()
        answer = None
        if not hold or self.after:
            answer = self.forward(request, body)
        with self.lock:
            self.seen[path] += 1
        if hold:
            with self.lock:
                self.held += 1
            self.released.wait(120)  # the daemon is killed meanwhile: nobody reads the answer
            return
        assert answer is not None
        try:
            request.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in DROPPED:
                    request.send_header(name, value)
            request.send_header("content-length", str(len(answer.content)))
            request.end_headers()
            request.wfile.write(answer.content)
        except OSError:
            pass

    def held_count(self) -> int:
        with self.lock:
            return self.held

    def forward(self, request: BaseHTTPRequestHandler, body: bytes) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED}
        return httpx.request(
            request.command,
            self.target + request.path,
            headers=headers,
            content=body or None,
            timeout=60,
        )

    def __enter__(self) -> HoldingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def x_fake(tmp_path: Path) -> Iterator[str]:
    with running_x_fake(tmp_path, X_KEYS) as url:
        yield url


def x_state(x_url: str) -> dict[str, Any]:
    return dict(httpx.get(f"{x_url}/_fake/state", timeout=30).json())


@pytest.mark.timeout(600)
@pytest.mark.parametrize("after", [False, True], ids=["before-create", "create-took-effect"])
def test_kill_9_between_the_cards_upload_and_the_post_loses_and_duplicates_nothing(
    tmp_path: Path, bluesky_network: BlueskyNetwork, x_fake: str, after: bool
) -> None:
    messages = (
        "  - id: voices\n    schedule: {cron: '* * * * *'}\n"
        "    text: {cy: '{{ quote.text.cy }} {{ slot }}', en: '{{ quote.text.en }} {{ slot }}'}\n"
        "    quote_pool: pool\n    card: true\n"
    )
    with HoldingProxy(bluesky_network.pds_url, after=after) as proxy:
        network = BlueskyNetwork(**{**bluesky_network.__dict__, "pds_url": proxy.url})
        project, env = project_for(tmp_path, network, x_fake, messages)
        # Two languages: two posts a platform, each create held.
        fault = {
            "kind": "hang",
            "route": "POST /2/tweets",
            "after": after,
            "seconds": 120,
            "count": 2,
        }
        httpx.post(f"{x_fake}/_fake/fault", json=fault, timeout=10).raise_for_status()
        proxy.holding.set()
        log = tmp_path / "daemon.log"
        with log.open("a") as out:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"], cwd=project, env=env, stdout=out, stderr=out
            )
        try:
            deadline = time.monotonic() + 150
            while not (
                proxy.held_count() == 2
                and sum(r["route"] == "POST /2/tweets" for r in x_state(x_fake)["requests"]) == 2
            ):
                assert daemon.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
        finally:
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
        # Killed between upload and post: both cards were uploaded, no create was answered.
        state = x_state(x_fake)
        assert sorted(m["alt_text"] for m in state["media"]) == sorted(ALT.values())
        assert len(state["posts"]) == (2 if after else 0)
        assert proxy.seen[UPLOAD] == 2
        httpx.post(f"{x_fake}/_fake/clear-faults", json={}, timeout=10).raise_for_status()
        proxy.holding.clear()
        proxy.released.set()

        run_until(project, env, log, first_slot_sent(4), 180)

    rows = outbox(project)
    first = min(row["slot"] for row in rows)
    sent = {
        (r["platform"], r["language"]): r
        for r in rows
        if r["slot"] == first and r["state"] == "sent"
    }
    assert len(sent) == 4, rows
    state = x_state(x_fake)
    media = {m["id"]: m for m in state["media"]}
    x_texts = Counter(p["text"] for p in state["posts"])
    did = bluesky_network.account("kindling").did
    records = bluesky_network.login("kindling").list_records(did)
    bluesky_texts = Counter(r["value"]["text"] for r in records)
    for language in ("cy", "en"):
        # X: one post of that slot, carrying the card with its alt text.
        [x_post] = [p for p in state["posts"] if p["id"] == sent["x", language]["remote_id"]]
        assert x_texts[x_post["text"]] == 1
        [media_id] = x_post["media_ids"]
        assert media[media_id]["alt_text"] == ALT[language]
        # Bluesky: one record with that text, its image described.
        record = bluesky_post(bluesky_network, sent["bluesky", language]["remote_id"])
        assert [i["alt"] for i in record["embed"]["images"]] == [ALT[language]]
        assert bluesky_texts[record["text"]] == 1
    # Nothing else of that slot on X (the next minute's slot may have gone out too).
    assert [p["text"].endswith(first[:19]) for p in state["posts"]].count(True) == 2
