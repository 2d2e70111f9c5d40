"""Benchmark of one engagement polling cycle (issue 5: "a polling cycle over 10,000 tracked
posts against the fakes in under 30 s with exactly 100 X calls and 400 Bluesky calls").

    .venv/bin/python benchmarks/bench_engagement.py            # 10,000 posts a platform, 3 runs
    .venv/bin/python benchmarks/bench_engagement.py --posts 2000 --runs 5

- X: the real adapter (tweepy, OAuth 1.0a, real HTTP) against the fake X server, run in a
  child process (forked) so its OpenAPI validation of every request and answer does not share
  the benchmark's interpreter lock; 10,000 posts exist there. The child counts the calls.
- Bluesky: an in-process fake adapter (`metrics_batch` 25) that counts its calls and answers
  at once: the real local network would need 10,000 posts created first and is not a fake.
- The store: a SQLite file with 10,000 sent live outbox rows per platform.

Each run is one `EngagementPoller.run_cycle()` with every post due (run k happens 15 minutes of
poller time after run k-1, so the previous snapshots do not make them not due), so it measures
finding the due posts, the calls, and writing 20,000 snapshots and the spend rows. Verified per
run: exactly ceil(n/100) `GET /2/tweets` calls received by the fake, ceil(n/25) Bluesky calls,
and one snapshot per post. Prints a table, then one JSON line (the last line of stdout).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from bot.config import XPrices  # noqa: E402
from bot.engagement.poller import EngagementPoller  # noqa: E402
from bot.platforms.base import MentionPage, Metrics  # noqa: E402
from bot.platforms.x import XPlatform  # noqa: E402
from bot.publish.budget import Budget  # noqa: E402
from bot.store.engine import Store  # noqa: E402
from bot.store.tables import MetricSnapshotRow, OutboxRow  # noqa: E402
from tests.fakes.x_server import XFakeServer  # noqa: E402

TARGET_SECONDS = 30.0


class CountingBluesky:
    """A Bluesky stand-in: 25 URIs a call, every call counted, counts answered at once."""

    name = "bluesky"
    metrics_batch = 25

    def __init__(self) -> None:
        self.calls = 0

    def metrics(self, remote_ids: Sequence[str]) -> list[Metrics]:
        if len(remote_ids) > self.metrics_batch:
            raise AssertionError(f"{len(remote_ids)} URIs in one call")
        self.calls += 1
        return [Metrics(uri, 3, 1, 1, 0) for uri in remote_ids]

    def mentions(self, cursor: str | None = None) -> MentionPage:
        return MentionPage([], cursor)


def serve_fake_x(conn: Connection, n: int) -> None:
    """The child: the fake X server holding `n` posts; answers "calls" and "stop" on `conn`."""
    with XFakeServer() as server:
        state = server.state
        ids = [state.add_post(f"Post {i}") for i in range(n)]
        for i in range(0, n, 97):
            state.set_metrics(ids[i], like_count=i % 50, repost_count=i % 7)
        conn.send((server.url, ids, state.account))
        while conn.recv() != "stop":
            violations = list(state.violations) + list(state.response_violations)
            conn.send((len(state.calls("GET /2/tweets")), violations))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


def outbox_rows(platform: str, remote_ids: list[str], sent_at: datetime) -> list[dict]:
    return [
        {
            "key": f"live:bench/m{n % 7}/en/{platform}/{n}",
            "mode": "live",
            "campaign_id": f"c{n % 10}",
            "message_id": f"m{n % 7}",
            "language": "en",
            "platform": platform,
            "slot_at": sent_at,
            "latest_at": sent_at,
            "text": f"post {n}",
            "state": "sent",
            "remote_id": remote_id,
            "url": f"https://example.test/{n}",
            "attempts": 1,
            "created_at": sent_at,
            "updated_at": sent_at,
            "sent_at": sent_at,
        }
        for n, remote_id in enumerate(remote_ids)
    ]


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=10_000, help="tracked posts per platform")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    n = args.posts
    load_before = os.getloadavg()[0]
    parent, child = multiprocessing.get_context("fork").Pipe()
    fake = multiprocessing.get_context("fork").Process(target=serve_fake_x, args=(child, n))
    fake.start()
    url, x_ids, account = parent.recv()

    def fake_x() -> tuple[int, list[str]]:
        parent.send("calls")
        calls, violations = parent.recv()
        return int(calls), list(violations)

    with tempfile.TemporaryDirectory(prefix="kindling-bench-") as tmp:
        bsky_ids = [f"at://did:plc:benchbench/app.bsky.feed.post/3k{i:011d}" for i in range(n)]
        store = Store(f"sqlite:///{Path(tmp) / 'kindling.sqlite3'}")
        store.create_tables()
        start = datetime.now(UTC).replace(microsecond=0)
        with store.write() as session:
            session.execute(insert(OutboxRow.__table__), outbox_rows("x", x_ids, start))
            session.execute(insert(OutboxRow.__table__), outbox_rows("bluesky", bsky_ids, start))
        x = XPlatform(
            account.consumer_key,
            account.consumer_secret,
            account.access_token,
            account.access_token_secret,
            api_base_url=url,
            timeout=30,
        )
        bluesky = CountingBluesky()
        clock = Clock(start)
        poller = EngagementPoller(
            store,
            {"x": x, "bluesky": bluesky},  # type: ignore[dict-item]
            Budget(store, 1_000_000.0),
            XPrices(),
            list,
            clock,
        )
        runs = []
        failures: list[str] = []
        for run in range(args.runs):
            clock.at = start + timedelta(minutes=15 * run)
            x_before, b_before = fake_x()[0], bluesky.calls
            began = time.perf_counter()
            report = poller.run_cycle()
            seconds = time.perf_counter() - began
            x_calls = fake_x()[0] - x_before
            b_calls = bluesky.calls - b_before
            with store.read() as session:
                written = session.scalar(
                    select(func.count()).where(MetricSnapshotRow.at == clock.at)
                )
            runs.append(
                {
                    "seconds": round(seconds, 3),
                    "x_calls": x_calls,
                    "bluesky_calls": b_calls,
                    "snapshots": written,
                    "x_usd": round(report.metrics["x"].usd, 6),
                }
            )
            if x_calls != math.ceil(n / 100) or b_calls != math.ceil(n / 25):
                failures.append(f"run {run + 1}: {x_calls} X and {b_calls} Bluesky calls")
            if written != 2 * n:
                failures.append(f"run {run + 1}: {written} snapshots, not {2 * n}")
        violations = fake_x()[1]
        if violations:
            failures.append(f"{len(violations)} spec violations at the fake: {violations[:2]}")
        store.dispose()
    parent.send("stop")
    fake.join(timeout=10)
    median = statistics.median(r["seconds"] for r in runs)
    print(f"{'run':>4} {'seconds':>8} {'X calls':>8} {'Bsky calls':>10} {'snapshots':>10}")
    for number, r in enumerate(runs, 1):
        print(
            f"{number:>4} {r['seconds']:>8.2f} {r['x_calls']:>8} {r['bluesky_calls']:>10} "
            f"{r['snapshots']:>10}"
        )
    print(f"median {median:.2f} s (target {TARGET_SECONDS:.0f} s)")
    for failure in failures:
        print("FAILED:", failure)
    result = {
        "benchmark": "engagement_cycle",
        "posts_per_platform": n,
        "runs": runs,
        "median_seconds": median,
        "target_seconds": TARGET_SECONDS,
        "under_target": median < TARGET_SECONDS,
        "x": "real adapter -> fake X server in a child process (HTTP, OpenAPI-validated)",
        "bluesky": "in-process counting fake adapter (25 URIs a call)",
        "verified": not failures,
        "commit": commit(),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
