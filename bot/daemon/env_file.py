"""The credentials file `kindling login` writes: `KINDLING_*=value` lines, readable by its owner
only (0600), in the syntax both systemd's `EnvironmentFile=` and a POSIX shell (`set -a; . FILE`)
read the same way. The commands read it back (`read_env_file`): a variable already in the
environment wins over the file.

Other lines of an existing file are kept (one file holds every platform's credentials); a variable
the file already sets is replaced only when the caller says so (`--force`). The file is written
whole or not at all: a 0600 temporary file beside it, renamed over it. No message here holds a
value.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

# Values written bare; anything else is single-quoted (systemd and sh take it literally then).
_BARE = re.compile(r"[A-Za-z0-9._@:/+=,%-]*")
_ASSIGNMENT = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")
_UNQUOTABLE = re.compile(r"['\\\x00-\x1f\x7f]")
_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)")


class EnvFileError(Exception):
    """The file cannot be written as asked; `str()` says why and that nothing was written."""


def assignment(name: str, value: str) -> str:
    """`NAME=value`, quoted when needed. A value with a quote, a backslash or a control
    character is refused: neither reader would take it back unchanged."""
    if _UNQUOTABLE.search(value):
        raise EnvFileError(
            f"{name}: the value holds a quote, a backslash or a control character, which an "
            "environment file cannot carry unchanged (the value is not shown): nothing written"
        )
    return f"{name}={value}" if _BARE.fullmatch(value) else f"{name}='{value}'"


def assigned_names(text: str) -> set[str]:
    return {m.group(1) for line in text.splitlines() if (m := _ASSIGNMENT.match(line))}


def write_env_file(path: Path, values: Mapping[str, str], *, force: bool) -> None:
    """Set `values` in the file at `path` (created 0600 if missing), keeping its other lines."""
    lines = [assignment(name, value) for name, value in values.items()]
    try:
        existing = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"cannot read {path}: {exc}: nothing written") from None
    clash = sorted(assigned_names(existing) & set(values))
    if clash and not force:
        raise EnvFileError(
            f"{path} already sets {', '.join(clash)}: nothing written (--force replaces "
            f"{'it' if len(clash) == 1 else 'them'})"
        )
    kept = [
        line
        for line in existing.splitlines()
        if not ((m := _ASSIGNMENT.match(line)) and m.group(1) in values)
    ]
    _replace(path, "\n".join([*kept, *lines]) + "\n")


def _replace(path: Path, text: str) -> None:
    if not path.parent.is_dir():
        raise EnvFileError(f"{path}: the directory {path.parent} does not exist: nothing written")
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise EnvFileError(
            f"cannot write in {path.parent}: {exc.strerror}: nothing written"
        ) from None
    try:  # mkstemp makes the file 0600: the secrets are never readable by others, even briefly
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise EnvFileError(f"cannot write {path}: {exc.strerror}: nothing written") from None


def read_env_file(path: Path) -> dict[str, str]:
    """The variables the file sets ({} when there is no file), read as systemd's
    `EnvironmentFile=` does for the lines `write_env_file` writes and the usual hand-written ones:
    `NAME=value`, `NAME='value'`, `NAME="value"`, `export NAME=value`; blank lines and lines
    starting with # or ; are skipped. Any other line is an error located `file:line:col` (its
    text is not shown: it may hold a secret). OSError (e.g. a file this user may not read)
    passes through."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise EnvFileError(f"{path}:1:1: not a text file of NAME=value lines") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        match = _LINE.fullmatch(line.rstrip())
        value = _unquoted(match.group(2)) if match else None
        if match is None or value is None:
            column = len(line) - len(line.lstrip()) + 1
            raise EnvFileError(
                f"{path}:{number}:{column}: expected NAME=value (the line is not shown: it may "
                "hold a secret)"
            )
        values[match.group(1)] = value
    return values


def _unquoted(raw: str) -> str | None:
    """The value of `raw` (what follows `NAME=`), or None when its quotes do not close."""
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        if len(raw) < 2 or raw[-1] != raw[0]:
            return None
        inner = raw[1:-1]
        return inner if raw[0] == "'" else re.sub(r'\\(["\\$`])', r"\1", inner)
    return raw
