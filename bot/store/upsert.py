"""INSERT ... ON CONFLICT for the session's database (SQLite or PostgreSQL).

Each dialect's module is imported when first used: importing SQLAlchemy's PostgreSQL dialect
costs a SQLite daemon about 3 MB of memory for nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert


def upsert(session: Session, table: Any) -> SqliteInsert | PostgresInsert:
    """An insert into `table` that supports `on_conflict_do_update/nothing` on this database."""
    if session.get_bind().dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert

    return postgresql_insert(table)
