"""A discovery pass over 10,000 candidate posts: fetched in pages of 100 from an in-process
network (no HTTP: the adapters' own costs are measured against the real peers in tests), judged
by the rules and stored in a fresh SQLite file, the qualifying ones planned into the outbox.

    .venv/bin/python benchmarks/bench_amplify.py [--posts N] [--runs R]

Baseline in the same run: the same pages fetched and judged without storing (the rules alone).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.amplify.discovery import Discovery
from bot.amplify.rules import judge
from bot.campaign.amplify_sources import sources_for
from bot.campaign.model import Campaign
from bot.config import AmplifySettings, XPrices
from bot.platforms.base import FoundPage, FoundPost
from bot.publish.budget import Budget
from bot.store.engine import Store

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def campaign() -> Campaign:
    return Campaign.model_validate(
        {
            "id": "bench",
            "name": {"en": "Bench"},
            "languages": ["en", "cy"],
            "active": {"start": "2026-12-01", "end": "2027-02-28"},
            "platforms": ["bluesky"],
            "hashtags": ["Bench"],
            "supporters": [
                {"name": f"S{i}", "handles": {"bluesky": f"supporter{i}.test"}} for i in range(200)
            ],
            "amplify": {"platforms": ["bluesky"], "watch_feeds": False, "daily_cap": 20},
        }
    )


def make_posts(count: int) -> list[FoundPost]:
    posts = []
    for n in range(count, 0, -1):
        author = f"supporter{n % 400}.test"  # half on the allowlist
        posts.append(
            FoundPost(
                remote_id=f"at://did:plc:{n % 400}/app.bsky.feed.post/{n:08d}",
                url=f"https://bsky.app/profile/{author}/post/{n}",
                author_id=f"did:plc:{n % 400}",
                author_handle=author,
                text=f"Post {n} about the letter #Bench https://example.org/x",
                created_at=NOW - timedelta(seconds=n),
                cid=f"cid{n}",
                languages=("en",) if n % 3 else ("de",),
                tags=("Bench",),
                is_reply=n % 7 == 0,
            )
        )
    return posts


class PagedNetwork:
    combines_terms = False

    def __init__(self, posts: list[FoundPost]) -> None:
        self.posts = posts
        self.calls = 0

    def search(self, terms, *, newer_than=None, page=None, limit=100) -> FoundPage:
        self.calls += 1
        start = int(page or 0)
        chunk = self.posts[start : start + limit]
        more = start + limit < len(self.posts)
        return FoundPage(
            chunk, str(start + limit) if more else None, chunk[0].remote_id[-8:] if chunk else None
        )

    def author_posts(self, author, **kwargs) -> FoundPage:
        return FoundPage()

    def unamplify(self, *args) -> None:
        raise AssertionError("not in a benchmark")


def one_run(posts: list[FoundPost], pages: int) -> tuple[float, float, int, int]:
    the_campaign = campaign()
    sources = sources_for(the_campaign, "bluesky")
    assert sources is not None
    own = frozenset({"did:plc:bot"})
    started = time.perf_counter()
    network = PagedNetwork(posts)
    page = None
    while True:
        found = network.search(["#Bench"], page=page)
        for post in found.posts:
            judge(post, sources, own, NOW)
        page = found.next_page
        if page is None:
            break
    baseline = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as directory:
        store = Store(f"sqlite:///{Path(directory) / 'bench.sqlite3'}")
        store.create_tables()
        discovery = Discovery(
            store, "live", AmplifySettings(pages_per_pass=pages), Budget(store, 25.0), XPrices()
        )
        network = PagedNetwork(posts)
        started = time.perf_counter()
        report = discovery.run(the_campaign, network, "bluesky", own, NOW)
        elapsed = time.perf_counter() - started
        store.dispose()
    assert report.new == len(posts), report
    return elapsed, baseline, report.new, report.planned


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    posts = make_posts(args.posts)
    pages = min(100, -(-args.posts // 100))
    runs = [one_run(posts, pages) for _ in range(args.runs)]
    passes = [r[0] for r in runs]
    baselines = [r[1] for r in runs]
    print(f"{args.posts} candidates, {pages} pages of 100, {args.runs} runs")
    print(
        f"  discovery pass (fetch, judge, store, plan): median {statistics.median(passes):.3f} s "
        f"(runs: {', '.join(f'{p:.2f}' for p in passes)})"
    )
    print(
        f"  baseline (fetch and judge only):           median {statistics.median(baselines):.3f} s"
    )
    print(
        f"  ratio: {statistics.median(passes) / statistics.median(baselines):.1f}x; "
        f"stored {runs[0][2]}, planned {runs[0][3]} (daily cap 20)"
    )


if __name__ == "__main__":
    main()
