"""Located problems: the one shape every error shown to an organiser takes.

A problem is `file:line:col: message`. Checks collect problems instead of raising, so one run
reports everything that is wrong at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class ProblemsFound(Exception):
    """Raised when loading cannot go on; carries every problem found so far."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def display_path(path: Path | str) -> str:
    """The path as the organiser typed it or, for absolute paths, relative to the cwd if inside."""
    path = Path(path)
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)
