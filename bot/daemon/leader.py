"""One scheduler per database: an exclusive lock held for the daemon's whole life.

SQLite: an OS file lock next to the database file (released by the kernel if the process dies,
even by kill -9); a second daemon refuses to start. PostgreSQL: a session-level advisory lock on
a dedicated connection; a second daemon may stand by, polling for the lock every few seconds, and
takes over when the leader's session ends (PostgreSQL ends it when the leader dies, even by
kill -9, as soon as its connection closes).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from bot.store.engine import Store
from bot.store.errors import StoreError

ADVISORY_KEY = 0x4B494E444C494E47 & 0x7FFFFFFFFFFFFFFF  # "KINDLING"
STANDBY_POLL_SECONDS = 3.0

log = logging.getLogger("kindling.leader")


class LeaderLockHeld(Exception):
    pass


class LeaderLock:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._file: int | None = None
        self._connection: Connection | None = None

    def acquire(
        self,
        standby: threading.Event | None = None,
        poll_seconds: float = STANDBY_POLL_SECONDS,
        on_wait: Callable[[], None] | None = None,
    ) -> bool:
        """Take the lock, or raise LeaderLockHeld. On PostgreSQL, given `standby` (a stop event),
        wait for the lock instead, polling every `poll_seconds` and calling `on_wait` before each
        wait (the standby's heartbeat); False if stopped while waiting."""
        path = self.store.sqlite_path
        if path is not None:
            lock_path = Path(f"{path}.lock")
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise StoreError(
                    f"cannot open the daemon's lock file {lock_path} ({exc.strerror}): it must be "
                    "writable by the user running kindling, beside the database"
                ) from None
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
            return True
        connection = self.store.engine.connect()
        waiting = False
        while not self._try_advisory(connection):
            if standby is None:
                connection.close()
                raise LeaderLockHeld(
                    "another `kindling run` holds the scheduler lock on this database"
                )
            if not waiting:
                log.info(
                    "standing by: another `kindling run` leads on this database; "
                    "checking every %.0f s and taking over when it stops",
                    poll_seconds,
                )
                waiting = True
            if on_wait is not None:
                on_wait()
            if standby.wait(poll_seconds):
                connection.close()
                return False
        if waiting:
            log.info("taking over: this `kindling run` now leads (pid %d)", os.getpid())
        self._connection = connection
        return True

    @staticmethod
    def _try_advisory(connection: Connection) -> bool:
        got = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
        ).scalar()
        connection.commit()  # no transaction left open while standing by
        return bool(got)

    def still_held(self) -> bool:
        """False when the PostgreSQL connection holding the lock is gone (server restart, network,
        an administrator's pg_terminate_backend): the lock went with it, and a standby may lead."""
        if self._connection is None:
            return True  # SQLite: the OS file lock lives as long as this process
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except SQLAlchemyError:  # any failure of the lock's connection means: lost
            return False
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            os.close(self._file)
            self._file = None
        if self._connection is not None:
            with contextlib.suppress(SQLAlchemyError):  # already broken if the lock was lost
                self._connection.close()
            self._connection = None
