"""The Mastodon stand-in in a process of its own, for tests that kill -9 the daemon:
`python -m tests.fakes.mastodon_server` on a free loopback port."""

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
def mastodon_fake_process(
    folder: Path, token: str, limits: Mapping[str, tuple[int, int]] | None = None
) -> Iterator[str]:
    """Start the stand-in accepting `token`, yield its base URL, kill it. `limits` overrides
    rate-limit buckets: {"*": (calls, seconds), "POST /api/v1/statuses": (calls, seconds)}."""
    port_file = folder / "mastodon-port"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.mastodon_server", "--port-file", str(port_file)],
        cwd=ROOT,
        env={**os.environ, "KINDLING_MASTODON_ACCESS_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            assert process.poll() is None and time.monotonic() < deadline, (
                "the Mastodon stand-in did not start"
            )
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        if limits:
            options = {"limits": {k: list(v) for k, v in limits.items()}}
            httpx.post(f"{url}/_fake/config", json=options, timeout=10).raise_for_status()
        yield url
    finally:
        process.kill()
        process.wait()
