"""Files a campaign names stay inside its folder, and are read only up to a size limit.

Campaign files arrive as pull requests from volunteers, so every path one names (targets files,
images, templates, anything added later) is untrusted: `/proc/self/environ`, `../config.toml`
or a symbolic link committed next to the campaign must not be read, shown or uploaded. A name is
resolved with every link followed, and must land inside the folder it is relative to. Errors
name the path, never what is in the file.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

from bot.problems import display_path, excerpt


class Refused(Exception):
    """A file a campaign names that Kindling will not read; the message says why, in words that
    follow the quoted name (e.g. "is outside the campaign's folder (campaigns)")."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def inside(folder: Path, name: str, what: str = "the campaign's folder") -> Path:
    """The file `name` names, relative to `folder`, with every link followed. Raises Refused if
    it lies outside `folder` (an absolute path, `..`, a link that leads out) or is unusable."""
    try:
        base = folder.resolve()
        target = (folder / name).resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # NUL byte, name too long, link loop
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise Refused(f"is not a usable file name: {excerpt(reason)}") from None
    if not target.is_relative_to(base):
        raise Refused(
            f"is outside {what} ({display_path(folder) or '.'}): only files inside it can be used"
        )
    return target


def is_file(path: Path) -> bool:
    """Path.is_file, False for a name the system cannot even look up (too long)."""
    return missing(path) is None


def missing(path: Path) -> str | None:
    """None for a regular file; else why it cannot be read ("not found", ...)."""
    try:
        if path.is_file():
            return None
        return "is not a regular file" if path.exists() else "not found"
    except (OSError, ValueError):  # a name too long for the system, a NUL byte
        return "not found"


class TooLarge(Exception):
    def __init__(self, size: int | None, limit: int) -> None:
        shown = f"{size:,} bytes" if size is not None else "more than that"
        super().__init__(f"the file is {shown}, over the limit of {limit:,} bytes")
        self.message = str(self)


def read_limited(path: Path, limit: int, encoding: str = "utf-8") -> str:
    """The text of the regular file `path`, read with universal newlines as `Path.read_text`
    does. Raises TooLarge beyond `limit` bytes (checked before reading, and again while reading,
    since /proc files say they are empty), OSError for a device, FIFO or directory (opened
    without blocking, so a FIFO cannot stall the reader), UnicodeDecodeError."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(0, "not a regular file")
        if info.st_size > limit:
            raise TooLarge(info.st_size, limit)
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(None, limit)
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding).read()
