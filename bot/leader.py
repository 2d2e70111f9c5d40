"""One scheduler per database: an exclusive lock held for the daemon's whole life.

SQLite: an OS file lock next to the database file (released by the kernel if the process dies,
even by kill -9). PostgreSQL: a session-level advisory lock on a dedicated connection.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy import text

from bot.store.engine import Store

ADVISORY_KEY = 0x4B494E444C494E47 & 0x7FFFFFFFFFFFFFFF  # "KINDLING"


class LeaderLockHeld(Exception):
    pass


class LeaderLock:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._file: int | None = None
        self._connection = None

    def acquire(self) -> None:
        path = self.store.sqlite_path
        if path is not None:
            lock_path = Path(f"{path}.lock")
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise LeaderLockHeld(
                    f"another `kindling run` (pid {holder}) is already running on {path}; "
                    "only one daemon may post from one database"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            self._file = fd
            return
        connection = self.store.engine.connect()
        got = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
        ).scalar()
        if not got:
            connection.close()
            raise LeaderLockHeld("another `kindling run` holds the scheduler lock on this database")
        self._connection = connection

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            os.close(self._file)
            self._file = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
