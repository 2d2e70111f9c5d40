"""The store: sessions for reading, and the one writer every database write goes through.

Writes from the daemon's threads are serialised by one lock (a blocked SQLite writer would
otherwise wait inside a call). The engine, its SQLite settings and its error translation are in
bot/store/connect.py; the schema is made by the Alembic migrations (bot/store/migrate.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.store.connect import make_engine
from bot.store.location import AnyDatabase, as_target, sqlite_file
from bot.store.schema import migrate_to_latest, require_migrated


class Store:
    """Sessions for reading; `write()` for every change (one writer at a time per process).

    Made from a URL or a DatabaseTarget (bot.config.Config.database); raises StoreError at once
    for a SQLite path Kindling cannot use, before anything is written."""

    def __init__(self, database: AnyDatabase) -> None:
        self.database = as_target(database)
        self.url = self.database.url
        self.engine = make_engine(self.database)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = threading.Lock()

    def create_tables(self) -> None:
        """Migrate to the latest revision, whatever the database's state: for tests, benchmarks
        and throw-away stores. The daemon and commands call `require_migrated` instead, which
        never upgrades an existing database behind the operator's back."""
        migrate_to_latest(self.database, self.engine)

    def require_migrated(self, *, create_new_sqlite: bool = True) -> None:
        """Refuse (DatabaseNotReady, saying what to run) unless the schema is at the latest
        migration. A SQLite database with no tables at all is migrated here when allowed."""
        require_migrated(self.database, self.engine, create_new_sqlite=create_new_sqlite)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction committed when the block ends (rolled back on error)."""
        with self._write_lock, self._sessions() as session, session.begin():
            yield session

    @property
    def sqlite_path(self) -> Path | None:
        return sqlite_file(self.database)

    def dispose(self) -> None:
        self.engine.dispose()
