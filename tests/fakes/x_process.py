"""The fake X server in a process of its own, for tests that run `kindling` as a subprocess or
kill -9 things: `python -m tests.fakes.x_server` on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def x_fake_process(
    folder: Path, keys: Mapping[str, str], limits: Mapping[str, int] | None = None
) -> Iterator[str]:
    """Start the fake with the account `keys` (KINDLING_X_*), yield its base URL, kill it.
    `limits` overrides X's rate limits per route, e.g. {"POST /2/tweets": 100000}."""
    port_file = folder / "x-port"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.x_server",
            "--port",
            "0",
            "--port-file",
            str(port_file),
        ],
        cwd=ROOT,
        env={**os.environ, **keys},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            assert process.poll() is None and time.monotonic() < deadline, (
                "the fake X server did not start"
            )
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        if limits:
            httpx.post(
                f"{url}/_fake/config", json={"limits": dict(limits)}, timeout=10
            ).raise_for_status()
        yield url
    finally:
        process.kill()
        process.wait()
