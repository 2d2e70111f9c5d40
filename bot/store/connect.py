"""Engines, and the driver's errors for a database Kindling cannot use said as one StoreError line.

SQLite runs in WAL mode with `synchronous=NORMAL`; a writer waits for another process's write
lock for the target's busy timeout (SQLite retries within it), then the store reports the lock
(DatabaseLocked) instead of waiting on. PostgreSQL URLs without a driver (`postgresql://...`)
use psycopg 3.

Every engine made here translates, on every path (connecting, sessions, `inspect`, Alembic), the
errors that mean "this database cannot be used as it is" into a StoreError: SQLite's codes for a
file that cannot be opened, is not a database, is damaged, is read-only or stays locked, and a
PostgreSQL server that cannot be reached. Other errors (a constraint, a missing table) are the
caller's to handle and pass through as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import NoSuchModuleError, OperationalError

from bot.store.errors import DatabaseLocked, StoreError
from bot.store.location import (
    URL_SETTING,
    AnyDatabase,
    DatabaseTarget,
    as_target,
    check_location,
    damaged,
    engine_url,
    shown,
    sqlite_file,
)

# SQLite's primary result codes (https://sqlite.org/rescode.html) that mean the database itself
# cannot be used; the extended code's low byte is the primary one.
SQLITE_PERM, SQLITE_BUSY, SQLITE_READONLY, SQLITE_IOERR = 3, 5, 8, 10
SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 11, 13, 14, 26


def make_engine(database: AnyDatabase) -> Engine:
    """An engine for `database`, after check_location (which may create the default data
    directory); raises StoreError for a SQLite path Kindling cannot use."""
    target = as_target(database)
    parsed = engine_url(target.url)
    if parsed.get_backend_name() == "sqlite":
        check_location(target, create_directory=True)
        engine = create_engine(
            parsed,
            connect_args={"timeout": target.busy_timeout_seconds, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        try:
            engine = create_engine(parsed, pool_pre_ping=True)
        except (NoSuchModuleError, ImportError):
            raise StoreError(
                f"Kindling cannot use the database {shown(target)} ({parsed.drivername}): "
                f"use SQLite or PostgreSQL (postgresql://user@host/database) in {URL_SETTING}"
            ) from None
    event.listen(engine, "handle_error", _StoreErrors(target))
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class _StoreErrors:
    """The engine's `handle_error` listener: returns the StoreError to raise instead, if any."""

    def __init__(self, target: DatabaseTarget) -> None:
        self.target = target

    def __call__(self, context: ExceptionContext) -> StoreError | None:
        original = context.original_exception
        code = getattr(original, "sqlite_errorcode", None)
        if isinstance(code, int):
            return sqlite_error(self.target, code & 0xFF, str(original))
        if context.connection is None and isinstance(
            context.sqlalchemy_exception, OperationalError
        ):
            detail = str(original).strip().splitlines()[0][:200] if str(original).strip() else ""
            return StoreError(
                f"cannot connect to the database {shown(self.target)} ({detail}): check that "
                f"the server is running and {URL_SETTING}"
            )
        return None


def sqlite_error(target: DatabaseTarget, code: int, detail: str) -> StoreError | None:
    """The one line for a SQLite result code that means the database cannot be used."""
    path = sqlite_file(target) or Path(":memory:")
    if code == SQLITE_BUSY:
        return DatabaseLocked(
            f"the database {path} is locked by another process (waited "
            f"{target.busy_timeout_seconds:g} s): try again once it has finished (another "
            "`kindling` command, or a sqlite3 shell left in a transaction?); [database] "
            "busy_timeout_seconds in config.toml sets the wait"
        )
    if code in (SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_PERM):
        try:  # the file system usually says exactly what is wrong
            check_location(target)
        except StoreError as exc:
            return exc
        return StoreError(
            f"the database {path} cannot be opened for writing ({detail}): check that it and "
            "its directory are readable and writable by the user running Kindling"
        )
    if code == SQLITE_NOTADB:
        return StoreError(
            f"{path} is not a SQLite database ({detail}): check the path in {URL_SETTING}; "
            "if the file is Kindling's database, restore it from a backup"
        )
    if code == SQLITE_CORRUPT:
        return damaged(path, detail)
    if code in (SQLITE_IOERR, SQLITE_FULL):
        return StoreError(
            f"the database {path} cannot be written ({detail}): check the disk it is on "
            "(free space, errors)"
        )
    return None
