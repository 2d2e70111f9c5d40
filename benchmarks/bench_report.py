"""Benchmark of `kindling report` (issue 5: "over 1,000,000 metric snapshots and 1,000,000
clicks in under 1 second (terminal and JSON)").

    .venv/bin/python benchmarks/bench_report.py              # 10,000 posts x 100 snapshots
    .venv/bin/python benchmarks/bench_report.py --runs 9 --keep

A SQLite file (benchmarks/out/report.sqlite3, migrated by Alembic, rebuilt unless --keep and
present) gets 10,000 sent posts (50 messages, some with quotes, x/bluesky, cy/en) with 100
snapshots each = 1,000,000 metric snapshots, 1,000,000 clicks over 800 targets (4 asks x 2
wordings, 4 platforms, 2 languages, 30 days) and 400 responses. Rows are written with sqlite3
directly in SQLAlchemy's own SQLite timestamp format (checked: the report reads them back).

Timed, 1 warm-up then N runs (median, min, max), each on a fresh Store (cold connection):
  - collect + terminal: `collect()` and rendering the rich tables to a null console;
  - collect + JSON: `collect()` and `to_json()`;
  - collect alone, and the HTML report (collect with series + render; not under the target).
Then the whole command as users run it, each run a new process (the `kindling` script of this
Python's environment): `kindling report bench --json` and `kindling report bench` (terminal
form: output to a pipe, with FORCE_COLOR and COLUMNS=120 so rich renders as for a terminal),
on a campaign file with 50 messages, a pool of 7 quotes, 4 asks and the 800 targets in a CSV
file (benchmarks/out/command/), next to two start-up baselines in the same session:
`python -c pass` and `kindling --help`. Each process's CPU time (user + system) is given too:
the steadier figure on a shared machine. `--only-command` skips the in-process phases;
`--source DIR` runs the commands from another source tree (e.g. `git archive COMMIT bot | tar
-x -C DIR`), to compare two versions in one session.
Verified per run: total clicks 1,000,000, 10,000 posts in the engagement totals; once, that the
report from the kept click counts (click_counts, migration 0005) equals the one grouping every
click. The fill's sqlite3 INSERTs go through the click_counts triggers like any other writer's.
Prints a table, then one JSON line (the last line of stdout).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from bot.campaign.model import Campaign  # noqa: E402
from bot.report.collect import collect  # noqa: E402
from bot.report.html import render_html  # noqa: E402
from bot.report.output import render_terminal, to_json  # noqa: E402
from bot.store.engine import Store  # noqa: E402

TARGET_SECONDS = 1.0
TARGETS = 800
START = datetime(2026, 12, 1, 9, tzinfo=UTC)
FMT = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's DateTime storage format on SQLite


PARTIES = ("Plaid Cymru", "Labour", "Conservative", "Liberal Democrat", "Reform")


def target_rows() -> list[dict[str, str]]:
    return [
        {
            "id": f"t{i:04d}",
            "name": f"Target {i}",
            "constituency": f"Constituency {i // 2}",
            "party": PARTIES[i % len(PARTIES)],
        }
        for i in range(1, TARGETS + 1)
    ]


def make_campaign() -> Campaign:
    return Campaign.model_validate(
        {
            "id": "bench",
            "name": {"cy": "Meincnod", "en": "Benchmark"},
            "languages": ["cy", "en"],
            "active": {"start": "2026-12-01", "end": "2027-01-31"},
            "targets": target_rows(),
        }
    )


def write_command_fixture(directory: Path, database: Path) -> Path:
    """config.toml and a campaign `bench` as organisers keep one (messages, quotes, asks in
    YAML, the targets in a CSV file with handles); returns the config file. The campaign's
    targets are make_campaign()'s, so the reports agree."""
    campaigns = directory / "campaigns"
    campaigns.mkdir(parents=True, exist_ok=True)
    config = directory / "config.toml"
    config.write_text(
        f'[paths]\ncampaigns = "campaigns"\ndata = "data"\n\n'
        f'[database]\nurl = "sqlite:///{database.resolve()}"\n',
        encoding="utf-8",
    )
    lines = [
        "id: bench",
        "name: {cy: Meincnod, en: Benchmark}",
        "languages: [cy, en]",
        "timezone: Europe/London",
        "active: {start: 2026-12-01, end: 2027-01-31}",
        "links: {letter: 'https://example.org/letter'}",
        "hashtags: [Meincnod]",
        "target_files: [bench-targets.csv]",
        "messages:",
    ]
    for m in range(50):
        lines += [
            f"  - id: m{m:02d}",
            f"    schedule: {{weekly: {{days: [mon, thu], times: ['{9 + m % 10:02d}:30']}}}}",
            "    text:",
            f"      cy: Neges {m} y meincnod {{{{ link }}}} {{{{ hashtags | tags }}}}",
            f"      en: Benchmark message {m} {{{{ link }}}} {{{{ hashtags | tags }}}}",
        ]
        if m % 3 == 0:
            lines.append("    quote_pool: quotes")
    lines += ["quote_pools:", "  - id: quotes", "    quotes:"]
    for q in range(7):
        lines += [
            f"      - id: q{q}",
            f"        who: Person {q}",
            f"        text: {{cy: 'Dyfyniad {q}', en: 'Quote {q}'}}",
            "        source: https://example.org/letter",
        ]
    lines.append("asks:")
    for a in range(4):
        lines += [
            f"  - id: a{a}",
            "    wordings:",
            f"      cy: ['Annwyl {{{{ target.name }}}}, cais {a}.', 'Cais {a}, ail eiriad.']",
            f"      en: ['Dear {{{{ target.name }}}}, ask {a}.', 'Ask {a}, second wording.']",
        ]
    (campaigns / "bench.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (campaigns / "bench-targets.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "constituency", "party", "x", "bluesky", "email"])
        for row in target_rows():
            n = row["id"][1:]
            writer.writerow(
                [
                    *row.values(),
                    f"target_{n}",
                    f"target-{n}.bsky.social",
                    f"target{n}@senedd.example",
                ]
            )
    return config


def fill(path: Path, posts: int, snapshots: int, clicks: int) -> None:
    if path.exists():
        path.unlink()
    store = Store(f"sqlite:///{path}")
    store.create_tables()
    store.dispose()
    rng = random.Random(5)
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    outbox = []
    for i in range(1, posts + 1):
        message = f"m{i % 50:02d}"
        platform = ("x", "bluesky")[i % 2]
        language = ("cy", "en")[(i // 2) % 2]
        sent = START + timedelta(minutes=i)
        at = sent.strftime(FMT)
        quote = f"q{i % 7}" if i % 3 == 0 else None
        outbox.append(
            (
                i,
                f"k{i}",
                "live",
                "bench",
                message,
                language,
                platform,
                quote,
                at,
                at,
                f"text of {message} {language}",
                "sent",
                f"r{i}",
                at,
                at,
                at,
                1,
            )
        )
    db.executemany(
        "INSERT INTO outbox (id, key, mode, campaign_id, message_id, language, platform, "
        "quote_id, slot_at, latest_at, text, state, remote_id, created_at, updated_at, sent_at, "
        "attempts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        outbox,
    )

    def snapshot_rows():
        for i in range(1, posts + 1):
            sent = START + timedelta(minutes=i)
            likes = reposts = replies = quotes = 0
            for k in range(snapshots):
                likes += rng.randrange(3)
                reposts += rng.randrange(2)
                replies += k % 2
                quotes += k % 5 == 0
                at = (sent + timedelta(minutes=15 * k * (1 + k // 24))).strftime(FMT)
                yield (i, ("x", "bluesky")[i % 2], f"r{i}", at, likes, reposts, replies, quotes)

    db.executemany(
        "INSERT INTO metric_snapshots (outbox_id, platform, remote_id, at, likes, reposts, "
        "replies, quotes) VALUES (?,?,?,?,?,?,?,?)",
        snapshot_rows(),
    )
    platforms = ("x", "bluesky", "mastodon", "email")

    def click_rows():
        for n in range(clicks):
            target = f"t{rng.randrange(TARGETS) + 1:04d}"
            at = (START + timedelta(seconds=rng.randrange(30 * 86400))).strftime(FMT)
            yield (
                f"tok{n % 5000}",
                "bench",
                target,
                f"a{n % 4}",
                n % 2,
                platforms[n % 4],
                ("cy", "en")[n % 3 == 0],
                at,
                None,
            )

    db.executemany(
        "INSERT INTO clicks (token, campaign_id, target_id, ask_id, wording, platform, language, "
        "at, client_hash) VALUES (?,?,?,?,?,?,?,?,?)",
        click_rows(),
    )
    responses = [
        (
            "x",
            f"resp{n}",
            "reply",
            "bench",
            f"t{(n * 7) % TARGETS + 1:04d}",
            None,
            "a",
            "h",
            "text",
            "https://x.com/h/status/1",
            (START + timedelta(hours=n)).strftime(FMT),
            (START + timedelta(hours=n)).strftime(FMT),
        )
        for n in range(400)
    ]
    db.executemany(
        "INSERT INTO responses (platform, remote_id, kind, campaign_id, target_id, outbox_id, "
        "author_id, author_handle, text, url, created_at, seen_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        responses,
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()


def timed(runs: int, work: Callable[[], None]) -> list[float]:
    work()  # warm-up
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return times


def command_runs(
    runs: int, argv: list[str], env: dict[str, str]
) -> tuple[list[float], list[float], str]:
    """Wall and CPU seconds (user + system of the child) of `argv`, 1 warm-up + `runs`
    processes; and the last run's standard output."""
    walls: list[float] = []
    cpus: list[float] = []
    out = ""
    for n in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"{argv} failed ({done.returncode}): {done.stderr}")
        if n:  # the first is the warm-up (page cache, .pyc files)
            walls.append(wall)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        out = done.stdout
    return walls, cpus, out


def kindling_argv(source: Path | None) -> list[str]:
    """The `kindling` script installed next to this Python (what users run), else -m bot; or
    the command line of the source tree `source` (ahead of the installed one on sys.path)."""
    if source is not None:
        code = f"import sys; sys.path.insert(0, {str(source)!r}); from bot.cli.main import main; main()"
        return [sys.executable, "-c", code]
    script = Path(sys.executable).parent / "kindling"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "bot"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only-command", action="store_true", help="only the whole-command phases")
    parser.add_argument("--source", type=Path, help="run the commands from this source tree")
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--snapshots", type=int, default=100, help="per post")
    parser.add_argument("--clicks", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="reuse the database if present")
    args = parser.parse_args()
    path = ROOT / "benchmarks" / "out" / "report.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not (args.keep and path.exists()):
        began = time.perf_counter()
        fill(path, args.posts, args.snapshots, args.clicks)
        print(f"filled {path} in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    campaign = make_campaign()
    url = f"sqlite:///{path}"
    failures: list[str] = []

    def run(output: Callable[[object], None] | None, series: bool = False) -> None:
        store = Store(url)
        try:
            report = collect(store, campaign, series=series)
        finally:
            store.dispose()
        if report.clicks_total != args.clicks:
            failures.append(f"clicks_total {report.clicks_total} != {args.clicks}")
        if sum(e.posts for e in report.engagement_by_platform) != args.posts:
            failures.append("engagement totals do not cover every post")
        if output is not None:
            output(report)

    def terminal(report: object) -> None:
        render_terminal(report, Console(file=io.StringIO(), width=120))  # type: ignore[arg-type]

    # The report reads the click counts the database keeps (click_counts, kept by triggers while
    # `fill` inserted); once per session, check they give what grouping every click gives.
    store = Store(url)
    try:
        if to_json(collect(store, campaign)) != to_json(collect(store, campaign, scan_clicks=True)):
            failures.append("the kept click counts differ from grouping the clicks")
    finally:
        store.dispose()

    results: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    if not args.only_command:
        results["collect"] = timed(args.runs, lambda: run(None))
        results["collect_terminal"] = timed(args.runs, lambda: run(terminal))
        results["collect_json"] = timed(args.runs, lambda: run(lambda r: to_json(r)))  # type: ignore[arg-type]
        results["collect_series_html"] = timed(
            args.runs,
            lambda: run(lambda r: render_html(r, campaign), series=True),  # type: ignore[arg-type]
        )

    config = write_command_fixture(path.parent / "command", path)
    kindling = [*kindling_argv(args.source), "--config", str(config)]
    env = {**os.environ, "COLUMNS": "120"}
    terminal_env = {**env, "FORCE_COLOR": "1"}
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "python_pass": ([sys.executable, "-c", "pass"], env),
        "kindling_help": ([*kindling, "--help"], env),
        "command_json": ([*kindling, "report", "bench", "--json"], env),
        "command_terminal": ([*kindling, "report", "bench"], terminal_env),
    }
    for name, (argv, environment) in commands.items():
        results[name], cpu[name], out = command_runs(args.runs, argv, environment)
        if name == "command_json":
            data = json.loads(out)
            if data["clicks_total"] != args.clicks:
                failures.append(f"command: clicks_total {data['clicks_total']} != {args.clicks}")
            if sum(e["posts"] for e in data["engagement_by_platform"]) != args.posts:
                failures.append("command: engagement totals do not cover every post")
        if name == "command_terminal" and f"total {args.clicks}" not in out:
            failures.append("command: the terminal report lacks the clicks total")

    summary: dict[str, object] = {
        "benchmark": "report",
        "snapshots": args.posts * args.snapshots,
        "clicks": args.clicks,
        "targets": TARGETS,
        "runs": args.runs,
        "target_seconds": TARGET_SECONDS,
        "sqlite": sqlite3.sqlite_version,
        "python": sys.version.split()[0],
        "loadavg": os.getloadavg()[0],
    }
    print(f"{'measure':<22} {'median':>8} {'min':>8} {'max':>8} {'CPU':>8}")
    for name, times in results.items():
        median = statistics.median(times)
        summary[name] = {
            "median": round(median, 4),
            "min": round(min(times), 4),
            "max": round(max(times), 4),
        }
        cpu_text = ""
        if name in cpu:
            summary[name]["median_cpu"] = round(statistics.median(cpu[name]), 4)  # type: ignore[index]
            cpu_text = f" {statistics.median(cpu[name]):8.3f}"
        print(f"{name:<22} {median:8.3f} {min(times):8.3f} {max(times):8.3f}{cpu_text}")
    # Issue 5's target is the command users run: both whole-command forms under 1 s.
    summary["under_target"] = all(
        statistics.median(results[name]) < TARGET_SECONDS
        for name in ("command_terminal", "command_json")
    )
    if not args.only_command:
        summary["in_process_under_target"] = all(
            statistics.median(results[name]) < TARGET_SECONDS
            for name in ("collect_terminal", "collect_json")
        )
    summary["failures"] = sorted(set(failures))
    print(json.dumps(summary))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
