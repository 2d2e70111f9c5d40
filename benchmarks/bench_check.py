"""Benchmark `kindling check` on a large campaign (800 targets -> 19,200 ask renderings).

    .venv/bin/python benchmarks/bench_check.py [--runs N] [--out DIR] [--target-seconds S]

1. Generates the campaign with make_large_campaign.py (into benchmarks/out/large/).
2. Whole command: times `kindling --config DIR/config.toml check DIR/campaigns --json` as a
   subprocess, 1 warm-up then N runs (default 7), and checks every run's JSON: ok is true, no
   problems, no gaps, nothing over a limit, renderings == 19,200 asks + the messages' posts.
3. Baseline in the same session, interleaved with (2): `kindling count x`, i.e. interpreter
   start-up + importing the CLI + a trivial command. check - baseline = the check's own cost.
4. In-process: imports bot.checks.run (timed once), then times run_check(config, [campaigns])
   with time.perf_counter, 1 warm-up then N runs (the lru_cache of bot.compose.lengths.count
   is cleared before each run, so no run reuses counts from the previous one), and checks that
   exactly 19,200 of the renderings are asks.

Prints a table, then one JSON line (last line of stdout). Exit status 1 if a verification
fails. Standard library plus rich (a dependency of the project).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_large_campaign as generator  # noqa: E402

KINDLING = Path(sys.executable).with_name("kindling")  # the venv's console script
TARGET_SECONDS = 2.0


class VerificationError(Exception):
    pass


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(argv: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall seconds, CPU seconds of the child, result). CPU time is less disturbed than wall
    time by other work on a shared machine."""
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, encoding="utf-8")
    return time.perf_counter() - start, _children_cpu() - cpu, done


def verify_cli_json(done: subprocess.CompletedProcess[str], expected: dict[str, int]) -> None:
    if done.returncode != 0:
        raise VerificationError(
            f"kindling check exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    result = json.loads(done.stdout)
    if result["ok"] is not True or result["problems"]:
        raise VerificationError(f"check not ok: {result['problems'][:5]}")
    (campaign,) = result["campaigns"]
    wanted = {
        "ok": True,
        "targets": expected["targets"],
        "asks": len(generator.ASK_IDS),
        "messages": len(generator.MESSAGE_IDS),
        "renderings": expected["total"],
        "over_limit": 0,
        "gaps": [],
    }
    wrong = {k: (campaign.get(k), v) for k, v in wanted.items() if campaign.get(k) != v}
    if wrong:
        raise VerificationError(f"unexpected check result (got, wanted): {wrong}")


def bench_cli(config: Path, runs: int, expected: dict[str, int]) -> dict[str, list[float]]:
    cwd = config.parent
    check_argv = [str(KINDLING), "--config", str(config), "check", str(cwd / "campaigns"), "--json"]
    count_argv = [str(KINDLING), "count", "x"]

    def run_count() -> tuple[float, float]:
        wall, cpu, done = _run(count_argv, cwd)
        if done.returncode != 0:
            raise VerificationError(f"kindling count exited {done.returncode}: {done.stderr}")
        return wall, cpu

    def run_check() -> tuple[float, float]:
        wall, cpu, done = _run(check_argv, cwd)
        verify_cli_json(done, expected)
        return wall, cpu

    run_check(), run_count()  # warm-up (page cache, .pyc files)
    times: dict[str, list[float]] = {"check": [], "check_cpu": [], "count": [], "count_cpu": []}
    for _ in range(runs):  # interleaved, so drift in machine load hits both alike
        for name, step in (("check", run_check), ("count", run_count)):
            wall, cpu = step()
            times[name].append(wall)
            times[f"{name}_cpu"].append(cpu)
    return times


def bench_in_process(
    config_path: Path, runs: int, expected: dict[str, int]
) -> tuple[float, list[float], list[float]]:
    previous = Path.cwd()
    os.chdir(config_path.parent)  # as the CLI runs: problems' paths relative to the cwd
    try:
        if any(name == "bot" or name.startswith("bot.") for name in sys.modules):
            raise RuntimeError("bot was imported before the import was timed")
        start = time.perf_counter()
        import bot.checks.run as checking
        from bot.compose.lengths import count
        from bot.config import load_config

        import_seconds = time.perf_counter() - start

        config = load_config(config_path)
        campaigns = [config.campaigns_dir]
        times, cpu_times = [], []
        for run in range(runs + 1):  # run 0 is the warm-up
            count.cache_clear()
            cpu = time.process_time()
            start = time.perf_counter()
            report = checking.run_check(config, campaigns)
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu
            if not report.ok:
                raise VerificationError(f"in-process check not ok: {report.all_problems[:5]}")
            (campaign,) = report.campaigns
            asks = sum(r.kind == "ask" for r in campaign.renderings)
            posts = sum(r.kind == "post" for r in campaign.renderings)
            if asks != expected["asks"] or posts != expected["posts"]:
                raise VerificationError(
                    f"in-process: {asks} ask + {posts} post renderings, wanted "
                    f"{expected['asks']} + {expected['posts']}"
                )
            if run:
                times.append(seconds)
                cpu_times.append(cpu)
        return import_seconds, times, cpu_times
    finally:
        os.chdir(previous)


def _git_commit() -> str | None:
    """The checked-out commit, with '+dirty' if tracked files under bot/ are modified."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "bot"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return None
    return (head + ("+dirty" if dirty else "")) or None


def _stats(times: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(times), 4),
        "min": round(min(times), 4),
        "max": round(max(times), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs after 1 warm-up (7)")
    parser.add_argument("--out", type=Path, default=generator.DEFAULT_OUT, help="campaign dir")
    parser.add_argument("--target-seconds", type=float, default=TARGET_SECONDS)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    if not KINDLING.is_file():
        parser.error(f"{KINDLING} not found: run with the venv's python (.venv/bin/python)")
    out = args.out.resolve()
    config = generator.generate(out, generator.DEFAULT_TARGETS)
    expected = generator.expected_counts(generator.DEFAULT_TARGETS)
    assert expected["asks"] == 19_200, expected  # 800 x 4 asks x 2 languages x 3 platforms

    load_before = os.getloadavg()[0]
    try:
        cli = bench_cli(config, args.runs, expected)
        import_seconds, work_times, work_cpu = bench_in_process(config, args.runs, expected)
    except VerificationError as error:
        print(f"verification failed: {error}", file=sys.stderr)
        return 1

    check, baseline, work = _stats(cli["check"]), _stats(cli["count"]), _stats(work_times)
    own = check["median"] - baseline["median"]
    result = {
        "benchmark": "kindling check (large campaign)",
        "date": date.today().isoformat(),
        "commit": _git_commit(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "runs": args.runs,
        "renderings": expected["total"],
        "ask_renderings": expected["asks"],
        "check_seconds": check,
        "baseline_count_seconds": baseline,
        "check_own_seconds": round(own, 4),
        "check_to_baseline_ratio": round(check["median"] / baseline["median"], 2),
        "import_bot_checking_seconds": round(import_seconds, 4),
        "run_check_seconds": work,
        # CPU (user + sys) seconds: a cross-check of the wall figures on a busy machine.
        "cpu_seconds_median": {
            "check": round(statistics.median(cli["check_cpu"]), 4),
            "baseline_count": round(statistics.median(cli["count_cpu"]), 4),
            "run_check": round(statistics.median(work_cpu), 4),
        },
        "renderings_per_second": round(expected["total"] / work["median"]),
        # Other work on the machine skews every figure: compare runs only at a low load.
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "target_seconds": args.target_seconds,
        "under_target": check["median"] < args.target_seconds,
    }
    _print_table(result)
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _print_table(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"kindling check: {result['renderings']:,} renderings "
        f"({result['ask_renderings']:,} asks), {result['runs']} runs, "
        f"Python {result['python']}, {result['cpus']} CPUs"
    )
    table.add_column("what")
    for column in ("median s", "min s", "max s", "median CPU s"):
        table.add_column(column, justify="right")
    cpu = result["cpu_seconds_median"]

    def row(label: str, stats: dict[str, float], cpu_seconds: float) -> None:
        cells = [f"{stats[k]:.3f}" for k in ("median", "min", "max")]
        table.add_row(label, *cells, f"{cpu_seconds:.3f}")

    row("check --json (whole command)", result["check_seconds"], cpu["check"])
    row(
        "count x (start-up baseline)",
        result["baseline_count_seconds"],
        cpu["baseline_count"],
    )
    row("run_check (in-process work)", result["run_check_seconds"], cpu["run_check"])
    imported = f"{result['import_bot_checking_seconds']:.3f}"
    table.add_row("import bot.checks.run (once)", imported, "", "", "")
    console = Console(highlight=False)
    console.print(table)
    verdict = "[green]under[/]" if result["under_target"] else "[bold red]OVER[/]"
    console.print(
        f"check's own cost (check - baseline): {result['check_own_seconds']:.3f} s; "
        f"check / baseline: {result['check_to_baseline_ratio']}x; "
        f"{result['renderings_per_second']:,} renderings/s in-process; "
        f"{verdict} the {result['target_seconds']} s target"
    )
    before, after = result["loadavg_1m"]
    console.print(
        f"commit {result['commit']}; load average (1 min) before / after: {before} / {after}"
    )


if __name__ == "__main__":
    sys.exit(main())
