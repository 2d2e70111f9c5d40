"""The store's failures, each said in one line: what is wrong, with which database, what to do.

Every command and the daemon turn a `StoreError` into that line on stderr and exit status 1,
never a traceback (bot/cli/). The store raises nothing else for a database it cannot use: a
bad path, a file that is not a database or is damaged, a read-only file or directory, a lock
another process holds, a server that cannot be reached (bot/store/connect.py translates the
driver's errors).
"""

from __future__ import annotations


class StoreError(Exception):
    """A database Kindling cannot use as it is. `str()` is the whole message for the operator."""


class DatabaseNotReady(StoreError):
    """The database's schema is not the one this Kindling needs; the message says what to run."""


class DatabaseLocked(StoreError):
    """Another process held the database's write lock for longer than the busy timeout."""
