"""Alembic's entry point for Kindling's migrations (run through bot.store.migrate, no alembic.ini).

The database comes from the caller, bot/store/migrate.py: `config.attributes["connection"]`, else
`["url"]` (the store reads no settings: the commands pass config.toml's database to migrate.py).
SQLite gets batch mode (ALTER TABLE by copy); the metadata carries the constraint naming
convention (bot/store/tables.py), so every constraint has a stable name on every backend.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection, text

from bot.store.connect import make_engine
from bot.store.tables import Base, UtcDateTime

# Concurrent `kindling db upgrade` runs on one PostgreSQL database take turns.
MIGRATION_LOCK_KEY = 0x4B4E444C_4D494752  # "KNDLMIGR"


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Migrations spell out plain SQLAlchemy types, never the application's own classes."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


def main() -> None:
    attributes = context.config.attributes
    connection = attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = attributes.get("url")
    if not url:
        raise RuntimeError("run the migrations through bot.store.migrate, which names the database")
    if context.is_offline_mode():
        context.configure(
            url=url,
            target_metadata=Base.metadata,
            literal_binds=True,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


main()
