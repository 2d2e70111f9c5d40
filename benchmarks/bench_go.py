"""Benchmark `/go/{token}`: redirects per second with every click committed to SQLite.

    .venv/bin/python benchmarks/bench_go.py [--seconds 15] [--connections 32] [--runs 1] [--json]
        [--source DIR]

`--source DIR`: phases 3 and 4 on another checkout's code, config and campaigns (before/after
in one session: benchmarks/README.md, "/go/{token}").

Each server runs pinned to core 0 with `taskset` (uvicorn, uvloop + httptools when installed, no
access log) on 127.0.0.1 and a free port; `wrk` (Debian package `wrk`) runs pinned to core 1,
one thread, 32 connections, rotating over 16 tokens. Four phases:

1. the reference the design quotes: a bare Starlette route answering a 302 (its own process),
   to place this machine's figures against the design's (~40,000/s there);
2. the ceiling of any ASGI app here: a raw ASGI callable answering a fixed 302 (no routing, no
   lookup) on the same uvicorn settings as Kindling (`proxy_headers` on), its own process;
3. `kindling serve`'s application on the founding campaign (574 links, a fresh SQLite file):
   `/go-unrecorded/{token}`, the same endpoint and redirect without recording;
4. the same process: `/go/{token}`, every click committed (group commit in the writer thread)
   before its 302.

`--runs N` repeats all four N times and reports each figure's median (ratios to bare Starlette
are taken within each run, then their median), since a shared machine moves single runs a lot.

Exact row check: in phase 4 the wrk script switches, 0.25 s before the end, to a token that
does not exist (a 404, recorded nowhere) so the requests wrk abandons when it stops are not
clicks; afterwards the number of click rows must equal the number of 302s wrk completed. The
tail is kept short because wrk's latency figures include it, and a 404 goes through the ASGI
app and renders a page: a 1 s tail put ~1.5 % of the run's requests there and lifted the
phase's p99 from ~1.5 ms to ~4.5 ms. Rate
limiting is off here (one client address would otherwise be capped at 30 clicks a window).
Besides wrk's rate, each phase reports the server's own CPU per request (from /proc) and the
rate that gives on a core of its own: other work on a shared machine lowers the first, hardly
the second. Needs: taskset, wrk, two cores. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TAIL_SECONDS = 0.25  # the end of the /go/ phase asks for an unknown token (see the docstring)
LUA = """
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } kts; int clock_gettime(int, kts*); ]]
local ts = ffi.new("kts")
local function now() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9 end
local requests = {}
for index, token in ipairs({TOKENS}) do requests[index] = wrk.format("GET", "PREFIX" .. token) end
local tail = wrk.format("GET", "/go/0000000000000000")
local count, turn, stop_at = #requests, 0, nil
found, other = 0, 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function request()
  local moment = now()
  if stop_at == nil then stop_at = moment + RECORD_SECONDS end
  if moment >= stop_at then return tail end
  turn = turn % count + 1
  return requests[turn]
end
function response(status, headers, body)
  if status == 302 then found = found + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local f, o = 0, 0
  for _, thread in ipairs(threads) do f = f + thread:get("found"); o = o + thread:get("other") end
  io.write(string.format("BENCH found=%d other=%d p50=%.3f p90=%.3f p99=%.3f max=%.3f\\n",
    f, o, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def serve(database: str, port: int, project: Path) -> None:
    """The server process (run pinned by the parent), on `project`'s config and campaigns."""
    import uvicorn

    from bot.config import load_config
    from bot.web import WebOptions, create_app

    os.environ["KINDLING_DATABASE_URL"] = f"sqlite:///{database}"
    os.chdir(project)
    settings = project / "config.toml"
    config = load_config(settings if settings.exists() else None)
    app = create_app(config, WebOptions(rate_limit=0, reload_seconds=0, benchmark_routes=True))
    # Exactly as `kindling serve` runs it (httptools with the /go/ shortcut), quieter.
    options = app.uvicorn_options("127.0.0.1", port, log_level="warning")
    uvicorn.run(app, **options, **({"loop": "uvloop"} if "loop" in _uvicorn_options() else {}))


def serve_bare(port: int) -> None:
    """The reference the design quotes: a bare Starlette route answering a 302 (no lookup)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import RedirectResponse
    from starlette.routing import Route

    async def go(request):  # type: ignore[no-untyped-def]
        return RedirectResponse("https://bsky.app/intent/compose?text=hello", status_code=302)

    app = Starlette(routes=[Route("/go-unrecorded/{token}", go)])
    uvicorn.run(app, host="127.0.0.1", port=port, **_uvicorn_options())


def serve_raw(port: int) -> None:
    """What uvicorn itself can do here: a fixed 302, prepared once, nothing else."""
    import uvicorn

    start = {
        "type": "http.response.start",
        "status": 302,
        "headers": [
            (b"location", b"https://bsky.app/intent/compose?text=hello"),
            (b"content-length", b"0"),
        ],
    }
    body = {"type": "http.response.body", "body": b""}

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            await send(start)
            await send(body)

    uvicorn.run(app, host="127.0.0.1", port=port, **_uvicorn_options())


def _uvicorn_options() -> dict:
    # As `kindling serve` runs it (bot/cli/web.py): no access log, no server header, proxy
    # headers read (uvicorn's default, spelled out).
    kwargs: dict = {
        "access_log": False,
        "log_level": "warning",
        "server_header": False,
        "proxy_headers": True,
    }
    for module, option, value in (("uvloop", "loop", "uvloop"), ("httptools", "http", "httptools")):
        try:
            __import__(module)
            kwargs[option] = value
        except ImportError:
            print(f"bench: {module} not installed, using uvicorn's default", file=sys.stderr)
    return kwargs


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(port: int, path: str = "/healthz", timeout: float = 60.0) -> None:
    """Poll 127.0.0.1 until `path` answers (never following a redirect off the machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", path)
            answer = connection.getresponse()
            body = answer.read()
            if path != "/healthz" or (answer.status == 200 and json.loads(body).get("ok")):
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise SystemExit("bench: the server did not become healthy")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(
    port: int,
    prefix: str,
    tokens: list[str],
    seconds: int,
    connections: int,
    workdir: Path,
    server_pid: int,
) -> dict:
    script = workdir / f"bench{prefix.replace('/', '_')}.lua"
    record_seconds = seconds - TAIL_SECONDS if prefix == "/go/" else seconds + 60
    script.write_text(
        LUA.replace("{TOKENS}", "{" + ", ".join(f'"{t}"' for t in tokens) + "}")
        .replace("PREFIX", prefix)
        .replace("RECORD_SECONDS", str(record_seconds)),
        encoding="utf-8",
    )
    command = [
        "taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
        "-s", str(script), f"http://127.0.0.1:{port}/",
    ]  # fmt: skip
    cpu_before, wall_before = cpu_seconds(server_pid), time.monotonic()
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(server_pid) - cpu_before
    wall = time.monotonic() - wall_before
    stats = dict(re.findall(r"(\w+)=([\d.]+)", output.split("BENCH", 1)[1]))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    return {
        "prefix": prefix,
        "requests": total,
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "redirects": int(stats["found"]),
        "other_responses": int(stats["other"]),
        "redirects_per_second": int(stats["found"]) / min(seconds, record_seconds),
        "p50_ms": float(stats["p50"]),
        "p90_ms": float(stats["p90"]),
        "p99_ms": float(stats["p99"]),
        "max_ms": float(stats["max"]),
        "errors": re.findall(r"Socket errors:.*", output),
        # The server's own CPU per request, and the rate that gives on a core of its own: the
        # figure that holds when other work shares core 0 (the share it got is cpu_share).
        "server_cpu_us_per_request": cpu / total * 1e6,
        "cpu_share": cpu / wall,
        "projected_per_second_on_own_core": total / cpu if cpu else None,
    }


def reference(flag: str, seconds: int, connections: int, workdir: Path) -> dict:
    """Phases 1 and 2: a reference server in its own pinned process."""
    port = free_port()
    server = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, __file__, flag, str(port)], cwd=ROOT
    )
    try:
        wait_healthy(port, "/go-unrecorded/warm-up")
        tokens = ["a" * 16]
        run_wrk(port, "/go-unrecorded/", tokens, 2, connections, workdir, server.pid)  # warm-up
        return run_wrk(port, "/go-unrecorded/", tokens, seconds, connections, workdir, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def kindling_server(database: Path, port: int, source: Path | None) -> subprocess.Popen:
    """Phases 3 and 4's server, pinned to core 0, on this checkout's code or `source`'s."""
    project = source or ROOT
    command = ["taskset", "-c", "0", sys.executable, __file__, "--serve", str(database),
               str(port), str(project)]  # fmt: skip
    return subprocess.Popen(command, cwd=project, env={**os.environ, "PYTHONPATH": str(project)})


def one_run(seconds: int, connections: int, source: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="kindling-bench-") as tmp:
        workdir = Path(tmp)
        database = workdir / "bench.sqlite3"
        starlette = reference("--serve-bare", seconds, connections, workdir)
        raw = reference("--serve-raw", seconds, connections, workdir)
        port = free_port()
        server = kindling_server(database, port, source)
        try:
            wait_healthy(port)
            with sqlite3.connect(database) as db:
                tokens = [
                    row[0]
                    for row in db.execute(
                        "SELECT token FROM links WHERE platform IN ('x', 'bluesky') ORDER BY token LIMIT 16"
                    )
                ]
            pid = server.pid
            run_wrk(port, "/go-unrecorded/", tokens, 3, connections, workdir, pid)  # warm-up
            bare = run_wrk(port, "/go-unrecorded/", tokens, seconds, connections, workdir, pid)
            recorded = run_wrk(port, "/go/", tokens, seconds, connections, workdir, pid)
            # Counted while the server still runs: what it acknowledged is committed already,
            # nothing is left for its shutdown to write.
            with sqlite3.connect(database) as db:
                rows = db.execute("SELECT count(*) FROM clicks").fetchone()[0]
        finally:
            server.terminate()
            server.wait(timeout=30)
    result = {
        "source": str(source or ROOT),
        "load_average": os.getloadavg(),
        "connections": connections,
        "seconds": seconds,
        "starlette_bare_redirect": starlette,
        "raw_asgi_redirect": raw,
        "unrecorded": bare,
        "recorded": recorded,
        "click_rows": rows,
        "rows_match": rows == recorded["redirects"],
    }
    print(
        f"bench: run done, /go/ {recorded['redirects_per_second']:,.0f}/s, "
        f"bare Starlette {starlette['redirects_per_second']:,.0f}/s, rows match: "
        f"{result['rows_match']}",
        file=sys.stderr,
    )
    return result


PHASES = ("starlette_bare_redirect", "raw_asgi_redirect", "unrecorded", "recorded")
FIGURES = (
    "redirects_per_second",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
    "server_cpu_us_per_request",
    "cpu_share",
    "projected_per_second_on_own_core",
)


def summarise(runs: list[dict]) -> dict:
    """Medians of every figure over the runs; ratios to bare Starlette are per run, then median."""
    summary: dict = {
        "median_of_runs": len(runs),
        "source": runs[0]["source"],
        "load_average": [run["load_average"] for run in runs],
        "connections": runs[0]["connections"],
        "seconds": runs[0]["seconds"],
        "click_rows": sum(run["click_rows"] for run in runs),
        "rows_match": all(run["rows_match"] for run in runs),
    }
    for phase in PHASES:
        summary[phase] = {
            "prefix": runs[0][phase]["prefix"],
            "errors": [e for run in runs for e in run[phase]["errors"]],
            **{k: statistics.median(run[phase][k] for run in runs) for k in FIGURES},
            "redirects": sum(run[phase]["redirects"] for run in runs),
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--runs", type=int, default=1, help="repeat, report medians")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--source", type=Path, help="run Kindling's phases on this checkout")
    parser.add_argument(
        "--serve", nargs=3, metavar=("DATABASE", "PORT", "PROJECT"), help=argparse.SUPPRESS
    )
    parser.add_argument("--serve-bare", metavar="PORT", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-raw", metavar="PORT", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), Path(args.serve[2]))
        return
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    if args.serve_raw:
        serve_raw(args.serve_raw)
        return
    for tool in ("taskset", "wrk"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} not found (apt-get install wrk util-linux)")
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("bench: needs two cores (server on core 0, wrk on core 1)")
    source = args.source.resolve() if args.source else None
    runs = [one_run(args.seconds, args.connections, source) for _ in range(args.runs)]
    result = runs[0] if len(runs) == 1 else {**summarise(runs), "runs": runs}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)
    if not all(run["rows_match"] for run in runs):
        sys.exit(1)


def report(result: dict) -> None:
    phases = (
        ("bare Starlette 302 (reference)", result["starlette_bare_redirect"]),
        ("raw ASGI 302 (uvicorn ceiling)", result["raw_asgi_redirect"]),
        ("/go-unrecorded/ (no click)", result["unrecorded"]),
        ("/go/ (click committed)", result["recorded"]),
    )
    runs = result.get("runs", [result])
    if len(runs) > 1:
        print(f"medians of {len(runs)} runs")
    for name, phase in phases:
        key = next(k for k, v in result.items() if v is phase)
        ratio = statistics.median(
            run[key]["redirects_per_second"]
            / run["starlette_bare_redirect"]["redirects_per_second"]
            for run in runs
        )
        print(
            f"{name:31} {phase['redirects_per_second']:>8,.0f}/s ({ratio:.2f}x Starlette)  "
            f"p50 {phase['p50_ms']:.2f}  p90 {phase['p90_ms']:.2f}  p99 {phase['p99_ms']:.2f}  "
            f"max {phase['max_ms']:.1f} ms"
            + (f"   {' '.join(phase['errors'])}" if phase["errors"] else "")
        )
        print(
            f"{'':31} server CPU {phase['server_cpu_us_per_request']:.1f} us/request "
            f"({phase['cpu_share']:.0%} of core 0): "
            f"{phase['projected_per_second_on_own_core']:,.0f}/s on a core of its own"
        )
    for run in runs:
        load = ", ".join(f"{value:.2f}" for value in run["load_average"])
        print(f"load average after a run: {load} (other work on the machine lowers the rates)")
    rows = sum(run["click_rows"] for run in runs)
    done = sum(run["recorded"]["redirects"] for run in runs)
    verdict = "OK" if result["rows_match"] else "MISMATCH"
    print(f"click rows {rows:,} == completed /go/ redirects {done:,}: {verdict}")


if __name__ == "__main__":
    main()
