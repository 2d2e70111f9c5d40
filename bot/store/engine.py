"""Engine and session set-up, and the one writer every database write goes through.

SQLite runs in WAL mode with `synchronous=NORMAL` and a busy timeout; writes from the daemon's
threads are serialised by one lock (a blocked SQLite writer would otherwise wait inside a call).
PostgreSQL URLs without a driver (`postgresql://...`) use psycopg 3.
The schema is made by the Alembic migrations in bot/store/migrations (bot/store/migrate.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker


def engine_url(url: str) -> URL:
    """The URL SQLAlchemy is given: `postgresql://` and `postgres://` mean psycopg 3."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str) -> Engine:
    parsed = engine_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(parsed, pool_pre_ping=True)


class Store:
    """Sessions for reading; `write()` for every change (one writer at a time per process)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = threading.Lock()

    def create_tables(self) -> None:
        """Migrate to the latest revision, whatever the database's state: for tests, benchmarks
        and throw-away stores. The daemon and commands call `require_migrated` instead, which
        never upgrades an existing database behind the operator's back."""
        from bot.store.migrate import upgrade

        upgrade(self.url, engine=self.engine)

    def require_migrated(self, *, create_new_sqlite: bool = True) -> None:
        """Refuse (DatabaseNotReady, saying what to run) unless the schema is at the latest
        migration. A SQLite database with no tables at all is migrated here when allowed."""
        from bot.store.revision import is_current

        if is_current(self.url, self.engine):  # the usual case, answered without Alembic
            return
        from bot.store.migrate import ensure_ready

        ensure_ready(self.url, create_new_sqlite=create_new_sqlite, engine=self.engine)

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
        parsed = engine_url(self.url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            return Path(parsed.database)
        return None

    def dispose(self) -> None:
        self.engine.dispose()
