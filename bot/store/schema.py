"""Refuse a database whose schema is not the latest, migrating only a new, empty SQLite file.

The quick answer (bot/store/revision.py) needs no Alembic; only a database that is not known to
be current loads Alembic (bot/store/migrate.py), which says what is wrong and what to run. So an
idle daemon on a current database never holds Alembic in memory.
"""

from __future__ import annotations

from sqlalchemy import Engine

from bot.store.location import DatabaseTarget
from bot.store.revision import is_current


def require_migrated(
    database: DatabaseTarget, engine: Engine, *, create_new_sqlite: bool = True
) -> None:
    """Raise DatabaseNotReady (saying what to run) unless the schema is at the latest
    migration. A SQLite database with no tables at all is migrated here when allowed."""
    if is_current(database, engine):  # the usual case, answered without Alembic
        return
    from bot.store.migrate import ensure_ready

    ensure_ready(database, create_new_sqlite=create_new_sqlite, engine=engine)


def migrate_to_latest(database: DatabaseTarget, engine: Engine) -> None:
    """Upgrade to the latest revision whatever the database's state (Store.create_tables)."""
    from bot.store.migrate import upgrade

    upgrade(database, engine=engine)
