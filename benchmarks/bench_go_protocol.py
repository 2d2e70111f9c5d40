"""Benchmark the `/go/` protocol in one process, without sockets: CPU time per request.

    .venv/bin/python benchmarks/bench_go_protocol.py [--requests 100000] [--runs 5] [--json]
        [--source DIR]

bench_go.py measures the whole server under wrk; on a machine shared with other work its rates
and even its CPU per request move with everything else running. This feeds requests straight to
the protocol uvicorn would use for `kindling serve` (`KindlingApp.uvicorn_options()["http"]`,
built as uvicorn builds it, on uvloop) through transports that only count what is written, and
takes the process's CPU time (every thread: the writer's commits count):

- unrecorded: `GET /go-unrecorded/{token}` over 16 tokens on one connection, one request at a
  time: parsing, the link lookup, the 302 written;
- recorded: `GET /go/{token}` on 32 connections, one request each per round, a round ending
  when all 32 are answered: the click too, group-committed by the writer thread to a fresh
  SQLite file.

The founding campaign (574 links), rate limit off, as bench_go.py. `--runs N`: medians. `--source
DIR` runs it on another checkout's code (its bot/ first on PYTHONPATH, its config.toml and
campaigns) in a child process, for before/after comparisons in one session
(benchmarks/README.md, "/go/{token}").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = 32
WARM_UP = 3000


class _Sink:
    """A transport that counts its writes and wakes the benchmark when `target` is reached."""

    def __init__(self, tally: _Tally) -> None:
        self.tally = tally
        self.closing = False

    def write(self, data: bytes) -> None:
        self.tally.count()

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(name)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class _Tally:
    def __init__(self) -> None:
        self.written = 0
        self.target = -1
        self.reached: asyncio.Future[None] | None = None

    def count(self) -> None:
        self.written += 1
        if self.written == self.target and self.reached is not None:
            self.reached.set_result(None)


def _request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode("ascii")


def _unrecorded(make: Any, tokens: list[str], requests: int) -> float:
    """CPU seconds for `requests` /go-unrecorded/ requests on one connection."""
    protocol, tally = make()
    data = [_request(f"/go-unrecorded/{token}") for token in tokens]
    for index in range(WARM_UP):
        protocol.data_received(data[index % len(data)])
    started = time.process_time()
    for index in range(requests):
        protocol.data_received(data[index % len(data)])
    cpu = time.process_time() - started
    assert tally.written == WARM_UP + requests, "not every request was answered"
    return cpu


def _recorded(make: Any, loop: Any, tokens: list[str], requests: int) -> float:
    """CPU seconds for `requests` committed /go/ clicks, 32 connections a round."""
    made = [make() for _ in range(CONNECTIONS)]
    tally = made[0][1]
    data = [_request(f"/go/{token}") for token in tokens]
    rounds = max(1, requests // CONNECTIONS)
    started = 0.0
    for round_number in range(rounds + WARM_UP // CONNECTIONS):
        if round_number == WARM_UP // CONNECTIONS:
            started = time.process_time()
        tally.target = tally.written + CONNECTIONS
        tally.reached = loop.create_future()
        for index, (protocol, _) in enumerate(made):
            protocol.data_received(data[(round_number + index) % len(data)])
        loop.run_until_complete(tally.reached)
    return (time.process_time() - started) * requests / (rounds * CONNECTIONS)


def measure(project: Path, requests: int) -> dict:
    """One run in this process, on `project`'s config and campaigns."""
    import uvicorn
    import uvloop
    from uvicorn.server import ServerState

    from bot.config import load_config
    from bot.web import WebOptions, create_app

    with tempfile.TemporaryDirectory(prefix="kindling-bench-") as tmp:
        os.environ["KINDLING_DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
        os.chdir(project)
        settings = project / "config.toml"
        config = load_config(settings if settings.exists() else None)
        options = WebOptions(rate_limit=0, reload_seconds=0, benchmark_routes=True)
        app = create_app(config, options)
        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(app.web.start())
        try:
            served = uvicorn.Config(app, **app.uvicorn_options("127.0.0.1", 8000))
            state = ServerState()
            state.default_headers = [(b"date", formatdate(usegmt=True).encode("ascii"))]
            tally = _Tally()

            def make() -> tuple[Any, _Tally]:
                protocol = served.http_protocol_class(served, state, {}, _loop=loop)  # type: ignore[call-arg]
                protocol.connection_made(_Sink(tally))
                return protocol, tally

            served.load()
            links = app.web.links
            tokens = sorted(t for t, link in links.items() if link.platform in ("x", "bluesky"))
            unrecorded = _unrecorded(make, tokens[:16], requests)
            recorded = _recorded(make, loop, tokens[:16], requests)
        finally:
            loop.run_until_complete(app.web.stop())
            loop.close()
    return {
        "protocol": f"{served.http_protocol_class.__module__}.{served.http_protocol_class.__name__}",
        "unrecorded_us": unrecorded / requests * 1e6,
        "recorded_us": recorded / requests * 1e6,
        "load_average": os.getloadavg(),
    }


def run_on(source: Path | None, requests: int) -> dict:
    if source is None:
        return measure(ROOT, requests)
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(source), str(requests)],
        env={**os.environ, "PYTHONPATH": str(source)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--source", type=Path, help="run on this checkout's code")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), int(args.child[1]))))
        return
    source = args.source.resolve() if args.source else None
    runs = [run_on(source, args.requests) for _ in range(args.runs)]
    result = {
        "source": str(source or ROOT),
        "protocol": runs[0]["protocol"],
        "unrecorded_us": statistics.median(run["unrecorded_us"] for run in runs),
        "recorded_us": statistics.median(run["recorded_us"] for run in runs),
        "runs": runs,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['source']}: {result['protocol']}, medians of {len(runs)} runs")
    for name in ("unrecorded", "recorded"):
        each = ", ".join(f"{run[name + '_us']:.2f}" for run in runs)
        print(f"  /go/ {name:10} {result[name + '_us']:6.2f} us CPU a request ({each})")
    print(f"  load average after the last run: {runs[-1]['load_average']}")


if __name__ == "__main__":
    main()
