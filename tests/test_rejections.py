"""The run-wide guarantee of issue 16: a request a stand-in refuses fails the whole test run
unless a test consumed it (tests/fakes/rejections.py, the hooks in tests/conftest.py).

The proof runs pytest itself, in a process of its own, on the probe below: the probe sends one
request the Mastodon API description refuses and passes either way, so only the run-wide check
can fail the nested run. The probe's file does not match pytest's `test_*.py`, so only the
nested run, which names it, collects it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes import rejections
from tests.rejection_probe import PROBE

ROOT = Path(__file__).resolve().parents[1]


def nested(probe: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != rejections.ENV} | {PROBE: probe}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/rejection_probe.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_an_unexpected_refusal_fails_the_run_even_when_every_test_passes() -> None:
    run = nested("unexpected")
    assert "1 passed" in run.stdout, run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout
    assert "1 request(s) refused by a stand-in's API description" in run.stdout
    assert "[mastodon] POST /api/v1/statuses" in run.stdout and "visibility" in run.stdout
    assert "during tests/rejection_probe.py::test_probe_sends_a_refused_request" in run.stdout


def test_a_refusal_the_test_consumed_does_not_fail_the_run() -> None:
    run = nested("consumed")
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr
    assert "refused by a stand-in" not in run.stdout


def test_this_run_records_refusals() -> None:
    """The run this test is part of has its directory, which fakes in other processes inherit."""
    folder = os.environ.get(rejections.ENV)
    assert folder and Path(folder).is_dir()
