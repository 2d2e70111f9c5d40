"""Is the database at the latest migration? A quick answer without importing Alembic.

Importing Alembic and reading its script directory costs about 0.1 s, more than some commands'
own work (`kindling report`). When the database is at the latest revision, which is the usual
case, one query of `alembic_version` and a look at the migration files' `revision` and
`down_revision` lines say so. Every other case (no file, no version table, an older, unknown or
branched history, a migration file this reader cannot follow) answers "not known to be current",
and the caller asks Alembic (bot/store/migrate.py), which says what is wrong and what to run.
tests/store/test_revision.py checks that the head found here is Alembic's.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from bot.store.errors import DatabaseNotReady
from bot.store.location import AnyDatabase, sqlite_file_missing

VERSIONS = Path(__file__).resolve().parent / "migrations" / "versions"
VERSION_TABLE = "alembic_version"
# DatabaseNotReady too: commands catch it from here without importing Alembic.
__all__ = ["VERSION_TABLE", "DatabaseNotReady", "head_from_files", "is_current"]
# Module-level assignments as Alembic's revision files write them: `revision = "0002"`,
# `down_revision: str | None = "0001"`.
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


@cache
def head_from_files(versions: Path = VERSIONS) -> str | None:
    """The one revision no other revision comes down to; None unless the history is one line
    this reader is sure of (then only Alembic should be asked)."""
    revisions: dict[str, object] = {}
    for path in sorted(versions.glob("*.py")):
        found: dict[str, object] = {}
        for name, value in _ASSIGNMENT.findall(path.read_text(encoding="utf-8")):
            if name in found:
                return None  # assigned twice: not a plain revision file
            try:
                found[name] = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return None
        if not found:
            continue  # __init__.py and other helpers
        revision, down = found.get("revision"), found.get("down_revision")
        if not isinstance(revision, str) or not (down is None or isinstance(down, str)):
            return None  # a merge (a tuple of parents) or something unexpected
        if revision in revisions:
            return None
        revisions[revision] = down
    parents = set(revisions.values())
    heads = [revision for revision in revisions if revision not in parents]
    roots = [revision for revision, down in revisions.items() if down is None]
    if len(heads) != 1 or len(roots) != 1 or not parents - {None} <= set(revisions):
        return None
    return heads[0]


def is_current(database: AnyDatabase, engine: Engine) -> bool:
    """True only when the database's one recorded revision is the latest migration file's."""
    latest = head_from_files()
    if latest is None or sqlite_file_missing(database):  # connecting would create the file
        return False
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    except SQLAlchemyError:  # no version table (a new or pre-migrations database)
        return False
    return [tuple(row) for row in rows] == [(latest,)]
