"""Every request a stand-in refuses against its API description, recorded for the whole test run
(issue 16: "zero requests rejected by the spec validation across the whole test suite").

Each fake keeps its refusals in `state.violations`, a `Rejections` list: besides holding them
for the test, every refusal is written as a file to the session's directory, named by
`KINDLING_TEST_REJECTIONS` (tests/conftest.py sets it at the start of a run; a fake running in a
process of its own inherits it). A test that sends invalid requests on purpose consumes the
refusals it expected with `state.violations.clear()` (after asserting on them): their files are marked expected. At the end of the run
tests/conftest.py fails it, listing them, if any refusal was left unconsumed, whether or not
the test that caused it looked at the list. Outside a test run (no variable) nothing is written.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

ENV = "KINDLING_TEST_REJECTIONS"
EXPECTED = ".expected"


class Rejections(list[str]):
    """A fake's refused requests; `append` records one for the run, `clear` consumes them."""

    def __init__(self, fake: str) -> None:
        super().__init__()
        self.fake = fake
        self._files: list[Path] = []

    def append(self, message: str) -> None:
        super().append(message)
        written = record(self.fake, message)
        if written is not None:
            self._files.append(written)

    def clear(self) -> None:
        """The test expected these refusals: they no longer fail the run."""
        for path in self._files:
            if path.exists():
                path.rename(path.with_name(path.name + EXPECTED))
        self._files = []
        super().clear()


def record(fake: str, message: str) -> Path | None:
    """Write one refusal to the run's directory (None outside a run)."""
    folder = os.environ.get(ENV)
    if not folder:
        return None
    path = Path(folder) / f"{uuid.uuid4().hex}.json"
    test = os.environ.get("PYTEST_CURRENT_TEST", "(outside a test)")
    path.write_text(
        json.dumps({"fake": fake, "message": message, "test": test, "pid": os.getpid()}),
        encoding="utf-8",
    )
    return path


def unexpected(folder: Path) -> list[dict[str, str]]:
    """The refusals of the run that no test consumed, oldest first."""
    found = sorted(folder.glob("*.json"), key=lambda path: path.stat().st_mtime_ns)
    return [json.loads(path.read_text(encoding="utf-8")) for path in found]


def summary(found: list[dict[str, str]], folder: Path) -> list[str]:
    lines = [
        f"{len(found)} request(s) refused by a stand-in's API description that no test expected "
        f"(a test sending invalid requests on purpose consumes them: state.violations.clear()); "
        f"records in {folder}:"
    ]
    for item in found:
        lines.append(f"  [{item['fake']}] {item['message'][:300]}")
        lines.append(f"      during {item['test']}")
    return lines
