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


# Longest excerpt of untrusted input (a campaign value, a CSV cell, a template name) an error
# message may quote: enough to find it in the file, too little to leak a file or a secret.
EXCERPT_CHARS = 60
PATH_CHARS = 160  # a file name a campaign gives, quoted whole when it is any ordinary length


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """`value` as text an error message can quote: at most `limit` characters (an ellipsis
    and the full length mark a cut), every unprintable character (control, bidi override,
    line separator) escaped as in a Python literal, so it cannot reshape the terminal or log."""
    text = str(value)
    if len(text) > limit:
        text = f"{text[: limit - 1]}… ({len(text)} characters)"
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


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
