"""Benchmarks of the publishing daemon (issue: "The publishing daemon").

    .venv/bin/python benchmarks/bench_daemon.py            # all four, about two and a half minutes
    .venv/bin/python benchmarks/bench_daemon.py plan reconcile

1. plan: `bot.publish.schedule.plan` for 100 campaigns x a year of slots; baseline in the same process:
   enumerating the same schedules' occurrences without any rule (window, quiet hours, rotation,
   spacing, caps, DST).
2. reconcile: `Outbox.reconcile` over 10,000 unresolved rows in a SQLite file (half found on
   the network, half not), with the simulated adapter, so what is measured is Kindling's own
   work; baseline: the same number of `find_published` calls alone.
3. idle: `kindling run --dry-run` with nothing due: resident memory and CPU over 20 s.
4. latency: `kindling run` (live) against the fake X server, three posts due every minute:
   how long after its slot each post reached the server (two minutes of slots).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import TypeAdapter  # noqa: E402

from bot.campaign.model import Campaign  # noqa: E402
from bot.campaign.recurrence import occurrences  # noqa: E402
from bot.config import XPrices  # noqa: E402
from bot.platforms.simulated import SimulatedPlatform  # noqa: E402
from bot.publish.budget import Budget  # noqa: E402
from bot.publish.outbox import Outbox, PlannedPost  # noqa: E402
from bot.publish.schedule import Slot, plan  # noqa: E402
from bot.store.engine import Store  # noqa: E402

RUNS = 5


def _campaign(number: int) -> Campaign:
    quotes = [
        {"id": f"q{i}", "who": "W", "text": {"cy": f"d{i}", "en": f"q{i}"}, "source": "s"}
        for i in range(6)
    ]
    return TypeAdapter(Campaign).validate_python(
        {
            "id": f"c{number:03d}",
            "name": {"cy": "Ymgyrch", "en": "Campaign"},
            "languages": ["cy", "en"],
            "timezone": "Europe/London",
            "active": {"start": "2027-01-01", "end": "2027-12-31"},
            "quiet_hours": {"start": "21:00", "end": "08:00"},
            "platforms": ["x", "bluesky"],
            "quote_pools": [{"id": "p", "quotes": quotes}],
            "messages": [
                {
                    "id": "daily",
                    "schedule": {"daily": ["11:00", "16:00"]},
                    "quote_pool": "p",
                    "text": {
                        "cy": "{{ quote.text[language] }}",
                        "en": "{{ quote.text[language] }}",
                    },
                    "jitter_minutes": 10,
                },
                {
                    "id": "weekly",
                    "schedule": {"weekly": {"days": ["tue", "thu"], "times": ["18:30"]}},
                    "text": {"cy": "a", "en": "b"},
                },
                {
                    "id": "cron",
                    "schedule": {"cron": "0 12 5,20 * *"},
                    "text": {"cy": "a", "en": "b"},
                },
                {
                    "id": "once",
                    "schedule": {"at": "2027-03-28 01:30"},
                    "text": {"cy": "a", "en": "b"},
                },
            ],
        }
    )


def bench_plan() -> dict:
    campaigns = [_campaign(n) for n in range(100)]
    start, end = datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
    caps = {"x": 12, "bluesky": 24}
    planned, baseline, slots = [], [], 0
    for _ in range(RUNS):
        began = time.perf_counter()
        slots = sum(len(plan(c, start, end, caps)) for c in campaigns)
        planned.append(time.perf_counter() - began)
        began = time.perf_counter()
        for c in campaigns:
            for message in c.messages:
                for _moment in occurrences(
                    message.schedule, datetime(2027, 1, 1), datetime(2028, 1, 1)
                ):
                    pass
        baseline.append(time.perf_counter() - began)
    return {
        "benchmark": "plan 100 campaigns x 1 year",
        "slots": slots,
        "median_s": statistics.median(planned),
        "baseline_occurrences_s": statistics.median(baseline),
        "ratio": statistics.median(planned) / statistics.median(baseline),
        "target_s": 2.0,
    }


def bench_reconcile() -> dict:
    times, baseline = [], []
    counts = {}
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as folder:
            store = Store(f"sqlite:///{folder}/kindling.sqlite3")
            store.create_tables()
            outbox = Outbox(store, "live", Budget(store, 1e9), XPrices())
            now = datetime(2026, 12, 1, tzinfo=UTC)
            posts = [
                PlannedPost(
                    Slot(
                        now + timedelta(seconds=i),
                        "c",
                        "m",
                        "en",
                        "bluesky",
                        now.replace(tzinfo=None),
                        now + timedelta(days=1),
                    ),
                    f"text {i}",
                )
                for i in range(10_000)
            ]
            outbox.sync("c", posts, now, now + timedelta(days=1), now)
            with store.write() as session:
                from sqlalchemy import update

                from bot.store.tables import OutboxRow

                session.execute(update(OutboxRow).values(state="unconfirmed"))
            platform = SimulatedPlatform("bluesky")
            rows = outbox.unresolved("bluesky")
            for row in rows[::2]:
                platform.publish(outbox.request(row))
            began = time.perf_counter()
            for row in rows:
                platform.find_published(outbox.request(row))
            baseline.append(time.perf_counter() - began)
            began = time.perf_counter()
            counts = outbox.reconcile(platform, now)
            times.append(time.perf_counter() - began)
            store.dispose()
    return {
        "benchmark": "reconcile 10,000 outbox rows",
        "counts": counts,
        "median_s": statistics.median(times),
        "baseline_find_only_s": statistics.median(baseline),
        "ratio": statistics.median(times) / statistics.median(baseline),
        "target_s": 5.0,
    }


def _project(folder: Path, campaign: str, config: str = "") -> Path:
    (folder / "campaigns").mkdir()
    (folder / "templates").mkdir()
    (folder / "campaigns" / "bench.yaml").write_text(campaign)
    (folder / "config.toml").write_text('[logging]\nlevel = "WARNING"\n' + config)
    return folder


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDLING_")}
    env.update(extra or {})
    return env


def bench_idle() -> dict:
    """RSS and CPU of a dry-run daemon with nothing due (the founding campaign starts later):
    the first start (it creates and migrates the SQLite file) and a restart on that file."""
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        for name in ("campaigns", "templates"):
            subprocess.run(["cp", "-r", str(ROOT / name), str(project / name)], check=True)
        (project / "config.toml").write_text('[logging]\nlevel = "WARNING"\n')
        first = _idle_sample(project)
        restart = _idle_sample(project)
    return {
        "benchmark": "idle daemon (dry run, nothing due)",
        "rss_mb": restart[0],
        "cpu_percent": restart[1],
        "first_start_rss_mb": first[0],
        "first_start_cpu_percent": first[1],
        "targets": "rss < 80 MB, ~0% CPU",
    }


def _idle_sample(project: Path) -> tuple[float, float]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--dry-run"],
        cwd=project,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(10)  # start-up, first plan, first reconcile
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    before, began = cpu(), time.monotonic()
    time.sleep(20)
    used, elapsed = cpu() - before, time.monotonic() - began
    rss_kb = int(
        next(
            line.split()[1]
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines()
            if line.startswith("VmRSS:")
        )
    )
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=15)
    return rss_kb / 1024, 100 * used / elapsed


def bench_latency() -> dict:
    from tests.fakes.x_server import XFakeServer
    from tests.fakes.x_state import FakeAccount

    account = FakeAccount()
    keys = {
        "KINDLING_X_API_KEY": account.consumer_key,
        "KINDLING_X_API_SECRET": account.consumer_secret,
        "KINDLING_X_ACCESS_TOKEN": account.access_token,
        "KINDLING_X_ACCESS_TOKEN_SECRET": account.access_token_secret,
    }
    with XFakeServer() as server, tempfile.TemporaryDirectory() as folder:
        today = datetime.now(UTC).date()
        messages = "".join(
            f"  - id: m{i}\n    schedule: {{cron: '* * * * *'}}\n    text: {{en: 'm{i} {{{{ slot }}}}'}}\n"
            for i in range(3)
        )
        project = _project(
            Path(folder),
            f"id: bench\nname: {{en: B}}\nlanguages: [en]\ntimezone: UTC\nplatforms: [x]\n"
            f"active: {{start: {today}, end: {today + timedelta(days=1)}}}\nmessages:\n{messages}",
            f'[x]\napi_base_url = "{server.url}"\ndaily_cap = 100000\n',
        )
        while datetime.now(UTC).second > 45:
            time.sleep(0.5)
        first = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=project,
            env=_env(keys),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(
            max(0.0, (first + timedelta(minutes=1, seconds=10) - datetime.now(UTC)).total_seconds())
        )
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        delays = []
        for post in server.state.posts.values():
            slot = datetime.fromisoformat(post.text.split(" ", 1)[1]).replace(tzinfo=UTC)
            delays.append((post.created_at - slot).total_seconds())
    return {
        "benchmark": "a due post reaches the fake X server after its slot",
        "posts": len(delays),
        "median_s": statistics.median(delays),
        "max_s": max(delays),
        "target_s": 1.0,
    }


BENCHMARKS = {
    "plan": bench_plan,
    "reconcile": bench_reconcile,
    "idle": bench_idle,
    "latency": bench_latency,
}


def main(names: list[str]) -> None:
    for name in names or list(BENCHMARKS):
        result = BENCHMARKS[name]()
        print(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
