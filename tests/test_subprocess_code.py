"""Subprocesses the tests start import this checkout's `bot`, not the one the venv was installed
from (tests/conftest.py puts this checkout first on PYTHONPATH)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_subprocess_imports_this_checkout_s_bot() -> None:
    shown = subprocess.run(
        [sys.executable, "-c", "import bot; print(bot.__file__)"],
        env=dict(os.environ),
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert Path(shown.stdout.strip()).resolve() == ROOT / "bot" / "__init__.py"
