"""The adaptive metrics cadence against today's fixed one (issue 14, point 3): billed reads per
post over 30 days, and how far the report's final counts are from the truth.

    .venv/bin/python benchmarks/bench_cadence.py                  # 25 posts a curve, + store check
    .venv/bin/python benchmarks/bench_cadence.py --posts 100 --verify 0

Each post's true engagement is a seeded list of events (a like, repost, reply or quote at a
moment after sending); its counts at time t are the events up to t. Three curves:

- fast_rise: 20-2,000 events (log-normal, median 150), times drawn from a Lomax (Pareto II)
  law with scale 20-90 min and shape 0.6-1.2: most in the first hours, a long tail (shape 0.6
  leaves ~2% of a post's events for after day 7 and ~2% after day 30, which the truth at day
  30 leaves out).
- flat: 0-4 events, nearly all in the first hours, then nothing.
- second_wave: a fast_rise post that goes quiet and takes off again on a day drawn from 2-14,
  with 0.5-2x as many events again in a burst of its own (scale 30-120 min, shape 1.2).
- late_wave: the same, the second wave on a day drawn from 15-28: what stopping costs.

The daemon runs a cycle every 60 s: a post is read on the first cycle at which the policy says
it is due (`Cadence.interval` for the fixed cadence; `AdaptiveCadence.wait` with `still_for` of
the snapshots read so far for the adaptive one: the very functions `due_posts` calls). The
report's final count is the post's latest snapshot at day 30; the error is the engagement it
misses (truth - reported, over likes + reposts + replies + quotes), as a share of the truth.
"Report lag" is the same error for a report run at each whole day 1-30, averaged.

`--verify N` (default 1) also runs N posts of each curve through the real `due_posts` and
`poll_metrics` on a SQLite file, a cycle every minute for 30 days, and checks that they read
each post at exactly the moments the simulation did. `--scale N` (default 10,000) times
`due_posts` over N posts with 30 snapshots each, all due under the fixed cadence: fixed, then
adaptive without what a running poller knows (its first cycle), then with it (every later
cycle asks the store only about posts read since). Prints tables, then one JSON line.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bot.engagement.cadence import AdaptiveCadence, Counts, Reading, still_for  # noqa: E402
from bot.engagement.metrics import Cadence, Stillness, due_posts, poll_metrics  # noqa: E402
from bot.platforms.base import Metrics  # noqa: E402
from bot.store.engine import Store  # noqa: E402
from bot.store.tables import MetricSnapshotRow, OutboxRow  # noqa: E402

DAYS = 30
CYCLE = timedelta(minutes=1)
HORIZON = timedelta(days=DAYS)
SENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
KINDS = (0.6, 0.2, 0.12, 0.08)  # likes, reposts, replies, quotes
CURVES = ("fast_rise", "flat", "second_wave", "late_wave")
# The policies compared: today's default and adaptive variants (the first is the default).
VARIANTS = {
    "adaptive (default: wait <= 4 d, stop still 21 d)": AdaptiveCadence(),
    "adaptive, wait <= 2 d, stop still 14 d": AdaptiveCadence(
        longest_wait=timedelta(days=2), stop_after_still=timedelta(days=14)
    ),
    "adaptive, stop still 7 d": AdaptiveCadence(stop_after_still=timedelta(days=7)),
    "adaptive, stop still 3 d": AdaptiveCadence(stop_after_still=timedelta(days=3)),
    "adaptive, wait <= 1 d": AdaptiveCadence(longest_wait=timedelta(days=1)),
    "adaptive, no stop (still 30 d)": AdaptiveCadence(stop_after_still=timedelta(days=30)),
}


@dataclass
class Post:
    curve: str
    seed: int
    events: list[tuple[timedelta, int]]  # (time after sending, kind), in time order
    wave_day: float | None = None

    def counts(self, age: timedelta) -> Counts:
        n = [0, 0, 0, 0]
        for _at, kind in self.events[: bisect.bisect_right(self.times, age)]:
            n[kind] += 1
        return Counts(*n)

    def total(self, age: timedelta) -> int:
        return bisect.bisect_right(self.times, age)

    def __post_init__(self) -> None:
        self.times = [at for at, _ in self.events]


def lomax(rng: random.Random, scale_min: float, shape: float) -> timedelta:
    return timedelta(minutes=scale_min * ((1 - rng.random()) ** (-1 / shape) - 1))


def burst(rng: random.Random, n: int, scale: float, shape: float, start: timedelta) -> list:
    return [(start + lomax(rng, scale, shape), rng.choices(range(4), KINDS)[0]) for _ in range(n)]


def make_post(curve: str, seed: int) -> Post:
    rng = random.Random(f"{curve}:{seed}")
    if curve == "flat":
        events = burst(rng, rng.randint(0, 4), rng.uniform(10, 60), 1.5, timedelta(0))
        return Post(curve, seed, sorted(events))
    n = min(2000, max(20, round(rng.lognormvariate(math.log(150), 0.8))))
    events = burst(rng, n, rng.uniform(20, 90), rng.uniform(0.6, 1.2), timedelta(0))
    wave_day = None
    if curve in ("second_wave", "late_wave"):
        wave_day = rng.uniform(2, 14) if curve == "second_wave" else rng.uniform(15, 28)
        start = timedelta(days=wave_day)
        events += burst(rng, round(n * rng.uniform(0.5, 2)), rng.uniform(30, 120), 1.2, start)
    return Post(curve, seed, sorted(events), wave_day)


def simulate(post: Post, wait_after: Callable[[timedelta, list[Reading]], timedelta | None]):
    """The post's reads on the 60 s cycle grid over 30 days: `wait_after(age, readings)` is the
    policy's least wait after the latest reading at that age (None: not read again)."""
    readings: list[Reading] = []
    age = timedelta(0)  # the first cycle after sending reads it (never read: due)
    while True:
        readings.append(Reading(SENT + age, post.counts(age)))
        last, age = age, age + CYCLE
        while True:  # the first cycle at which the wait (at that cycle's age) has passed
            wait = wait_after(age, readings)
            if wait is None or age > HORIZON:
                return readings
            if age - last >= wait:
                break
            age = last + math.ceil(wait / CYCLE) * CYCLE


def fixed_wait(cadence: Cadence) -> Callable[[timedelta, list[Reading]], timedelta | None]:
    return lambda age, _readings: cadence.interval(age)


def adaptive_wait(cadence: Cadence, adaptive: AdaptiveCadence) -> Callable:
    def wait(age: timedelta, readings: list[Reading]) -> timedelta | None:
        every = cadence.interval(age)
        recent = readings[-adaptive.history :]
        return None if every is None else adaptive.wait(every, still_for(recent))

    return wait


def measure(post: Post, readings: list[Reading]) -> dict:
    truth = post.total(HORIZON)
    read_at = [r.at - SENT for r in readings]

    def reported(age: timedelta) -> int:
        i = bisect.bisect_right(read_at, age)
        return sum(readings[i - 1].counts) if i else 0

    lag = []
    for day in range(1, DAYS + 1):
        true = post.total(timedelta(days=day))
        lag.append((true - reported(timedelta(days=day))) / true if true else 0.0)
    missed = truth - reported(HORIZON)
    return {
        "reads": len(readings),
        "truth": truth,
        "missed": missed,
        "error": missed / truth if truth else 0.0,
        "lag": statistics.fmean(lag),
        "last_read_day": round(read_at[-1] / timedelta(days=1), 2),
    }


def summarise(results: list[dict], fixed: list[dict]) -> dict:
    reads = [r["reads"] for r in results]
    errors = sorted(r["error"] for r in results)
    return {
        "reads_median": statistics.median(reads),
        "reads_mean": round(statistics.fmean(reads), 1),
        "saving": round(1 - sum(reads) / sum(f["reads"] for f in fixed), 3),
        "error_median": round(statistics.median(errors), 4),
        "error_p90": round(errors[min(len(errors) - 1, math.ceil(0.9 * len(errors)) - 1)], 4),
        "error_max": round(errors[-1], 4),
        "lag_median": round(statistics.median(r["lag"] for r in results), 4),
        "last_read_day_median": round(statistics.median(r["last_read_day"] for r in results), 1),
        "missed_10pct": sum(e > 0.10 for e in errors),
    }


class CurvePlatform:
    """A metrics adapter answering each post's true counts at the benchmark's clock."""

    name, metrics_batch = "bluesky", 25

    def __init__(self, posts: dict[str, Post]) -> None:
        self.posts, self.now = posts, SENT

    def metrics(self, remote_ids: Sequence[str]) -> list[Metrics]:
        return [Metrics(r, *self.posts[r].counts(self.now - SENT)) for r in remote_ids]


def verify_in_store(posts: list[Post], adaptive: AdaptiveCadence | None) -> dict[str, list]:
    """Each post's read times through due_posts + poll_metrics on SQLite, a cycle a minute."""
    cadence = Cadence()
    by_remote = {f"{p.curve}-{p.seed}": p for p in posts}
    with tempfile.TemporaryDirectory(prefix="kindling-bench-") as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'kindling.sqlite3'}")
        store.create_tables()
        with store.write() as session:
            session.execute(insert(OutboxRow.__table__), [_row(r) for r in by_remote])
        platform = CurvePlatform(by_remote)
        reads: dict[str, list] = {r: [] for r in by_remote}
        for minute in range(DAYS * 24 * 60 + 1):
            now = platform.now = SENT + minute * CYCLE
            due = due_posts(store, now, cadence, "bluesky", adaptive)
            poll_metrics(store, platform, due, now)  # type: ignore[arg-type]
            for row in due:
                reads[row.remote_id].append(now)
        store.dispose()
    return reads


def scale(n: int) -> dict[str, float]:
    """Median seconds of `due_posts` over `n` posts with 30 hourly snapshots each (half still,
    half moving), read 3 days after sending: every post is due under the fixed cadence."""
    with tempfile.TemporaryDirectory(prefix="kindling-bench-") as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'kindling.sqlite3'}")
        store.create_tables()
        with store.write() as session:
            session.execute(insert(OutboxRow.__table__), [_row(f"p{i}") for i in range(n)])
            session.execute(
                insert(MetricSnapshotRow.__table__),
                [
                    {
                        "outbox_id": i + 1,
                        "platform": "bluesky",
                        "remote_id": f"p{i}",
                        "at": SENT + j * timedelta(hours=1),
                        "likes": j if i % 2 else 3,
                        "reposts": 0,
                        "replies": 0,
                        "quotes": 0,
                    }
                    for i in range(n)
                    for j in range(30)
                ],
            )
        now, cadence, adaptive = SENT + timedelta(days=3), Cadence(), AdaptiveCadence()

        def timed(call: Callable[[], object]) -> float:
            runs = []
            for _ in range(3):
                began = time.perf_counter()
                call()
                runs.append(time.perf_counter() - began)
            return round(statistics.median(runs), 3)

        kept = Stillness()
        due_posts(store, now, cadence, "bluesky", adaptive, kept)
        timings = {
            "fixed": timed(lambda: due_posts(store, now, cadence, "bluesky")),
            "adaptive, first cycle": timed(
                lambda: due_posts(store, now, cadence, "bluesky", adaptive)
            ),
            "adaptive, later cycles": timed(
                lambda: due_posts(store, now, cadence, "bluesky", adaptive, kept)
            ),
        }
        store.dispose()
    return timings


def _row(remote_id: str) -> dict:
    return {
        "key": f"live:bench/m/en/bluesky/{remote_id}",
        "mode": "live",
        "campaign_id": "bench",
        "message_id": "m",
        "language": "en",
        "platform": "bluesky",
        "slot_at": SENT,
        "latest_at": SENT,
        "text": remote_id,
        "state": "sent",
        "remote_id": remote_id,
        "url": f"https://example.test/{remote_id}",
        "attempts": 1,
        "created_at": SENT,
        "updated_at": SENT,
        "sent_at": SENT,
    }


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip()


def print_table(summary: dict) -> None:
    print(
        f"{'curve':<12} {'policy':<50} {'reads':>6} {'saving':>7} {'err med':>8} "
        f"{'err p90':>8} {'err max':>8} {'lag med':>8} {'>10%':>5} {'last read':>9}"
    )
    for curve, policies in summary.items():
        for name, s in policies.items():
            print(
                f"{curve:<12} {name:<50} {s['reads_median']:>6} {s['saving']:>7.1%} "
                f"{s['error_median']:>8.2%} {s['error_p90']:>8.2%} {s['error_max']:>8.2%} "
                f"{s['lag_median']:>8.2%} {s['missed_10pct']:>5} {s['last_read_day_median']:>9}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=25, help="seeded posts per curve")
    parser.add_argument("--verify", type=int, default=1, help="posts a curve run on SQLite")
    parser.add_argument("--scale", type=int, default=10_000, help="posts for due_posts' time")
    args = parser.parse_args(argv)
    cadence = Cadence()
    began = time.perf_counter()
    summary: dict[str, dict] = {}
    for curve in CURVES:
        posts = [make_post(curve, seed) for seed in range(args.posts)]
        fixed = [measure(p, simulate(p, fixed_wait(cadence))) for p in posts]
        summary[curve] = {"fixed (today)": summarise(fixed, fixed)}
        for name, adaptive in VARIANTS.items():
            results = [measure(p, simulate(p, adaptive_wait(cadence, adaptive))) for p in posts]
            summary[curve][name] = summarise(results, fixed)
    simulated = time.perf_counter() - began
    print_table(summary)
    failures = []
    checked = 0
    if args.verify:
        posts = [make_post(c, seed) for c in CURVES for seed in range(args.verify)]
        default = next(iter(VARIANTS.values()))
        for adaptive in (None, default):
            wait = adaptive_wait(cadence, adaptive) if adaptive else fixed_wait(cadence)
            stored = verify_in_store(posts, adaptive)
            for post in posts:
                expected = [r.at for r in simulate(post, wait)]
                checked += len(expected)
                if stored[f"{post.curve}-{post.seed}"] != expected:
                    failures.append(f"{post.curve} {post.seed} adaptive={bool(adaptive)}")
        print(f"store check: {checked} reads of {len(posts)} posts x 2 policies", end=" ")
        print("identical to the simulation" if not failures else f"DIFFER: {failures}")
    timings = scale(args.scale) if args.scale else {}
    for name, seconds in timings.items():
        print(f"due_posts over {args.scale} posts, {name}: {seconds:.3f} s (median of 3)")
    result = {
        "benchmark": "metrics_cadence",
        "due_posts_seconds": timings,
        "posts_per_curve": args.posts,
        "days": DAYS,
        "summary": summary,
        "simulated_seconds": round(simulated, 1),
        "store_verified_reads": checked,
        "verified": not failures,
        "commit": commit(),
    }
    print(json.dumps(result))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
