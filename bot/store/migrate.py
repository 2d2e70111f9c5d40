"""The schema's versions: Alembic migrations in bot/store/migrations, run from code (no alembic.ini).

`kindling db upgrade` brings a database to the latest revision; `kindling run` refuses a database
that is not there (`check_current` says why and what to run). The one exception, so that a fresh
clone's `kindling run --dry-run` needs no set-up: a SQLite database with no tables at all (the
file the daemon is about to create) is migrated on start. An existing database at an older
revision is never upgraded behind the operator's back, and PostgreSQL never automatically.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, inspect

from bot.store.connect import make_engine
from bot.store.errors import DatabaseNotReady
from bot.store.location import (
    AnyDatabase,
    as_target,
    is_sqlite,
    shown,
    sqlite_file_missing,
)
from bot.store.revision import VERSION_TABLE
from bot.store.tables import Base

log = logging.getLogger("kindling.store")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
INITIAL_REVISION = "0001"
UPGRADE_HINT = "run `kindling db upgrade`"
# Importable from here too, as the commands do.
__all__ = ["DatabaseNotReady", "shown"]


def alembic_config(url: str | None = None, connection: Connection | None = None) -> AlembicConfig:
    """An Alembic configuration for our migrations; env.py reads `url`/`connection` from it."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["url"] = url
    config.attributes["connection"] = connection
    return config


def script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The latest revision this code knows."""
    latest = script().get_current_head()
    assert latest is not None, "bot/store/migrations has no revision"
    return latest


@contextmanager
def _connect(database: AnyDatabase, engine: Engine | None = None) -> Iterator[Connection]:
    own = engine is None
    engine = engine or make_engine(database)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        if own:
            engine.dispose()


def _revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _table_names(connection: Connection) -> list[str]:
    return [name for name in inspect(connection).get_table_names() if name != VERSION_TABLE]


def current(database: AnyDatabase, engine: Engine | None = None) -> str | None:
    """The database's revision, None when it has none (new, empty or made before migrations)."""
    if sqlite_file_missing(database):
        return None
    with _connect(database, engine) as connection:
        return _revision_of(connection)


def check_current(database: AnyDatabase, engine: Engine | None = None) -> str | None:
    """Why this database cannot be used as it is (and what to run), or None when it can."""
    where = shown(database)
    latest = head()
    if sqlite_file_missing(database):
        return f"the database {where} does not exist yet: {UPGRADE_HINT} to create it"
    with _connect(database, engine) as connection:
        revision = _revision_of(connection)
        tables = _table_names(connection) if revision is None else []
    if revision == latest:
        return None
    if revision is None and not tables:
        return f"the database {where} is empty (no tables): {UPGRADE_HINT} to create them"
    if revision is None:
        return (
            f"the database {where} has tables but no migration history (made before "
            f"migrations existed): {UPGRADE_HINT} to adopt it"
        )
    try:
        known = script().get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        return (
            f"the database {where} is at revision {revision}, which this Kindling does not know "
            f"(a newer Kindling migrated it; the latest known here is {latest}): upgrade Kindling"
        )
    return f"the database {where} is at revision {revision}, this Kindling needs {latest}: {UPGRADE_HINT}"


def ensure_ready(
    database: AnyDatabase, *, create_new_sqlite: bool = True, engine: Engine | None = None
) -> None:
    """Return when the schema is current; migrate a SQLite database with no tables (when
    `create_new_sqlite`); otherwise raise DatabaseNotReady with check_current's message."""
    problem = check_current(database, engine)
    if problem is None:
        return
    fresh_sqlite = is_sqlite(database) and (
        sqlite_file_missing(database) or _is_empty(database, engine)
    )
    if create_new_sqlite and fresh_sqlite:
        revision = upgrade(database, engine=engine)
        log.info("new database %s: tables created (migration %s)", shown(database), revision)
        return
    raise DatabaseNotReady(problem)


def _is_empty(database: AnyDatabase, engine: Engine | None) -> bool:
    with _connect(database, engine) as connection:
        return _revision_of(connection) is None and not _table_names(connection)


def upgrade(
    database: AnyDatabase, revision: str = "head", *, engine: Engine | None = None
) -> str | None:
    """Migrate to `revision` (default: the latest); return the database's revision afterwards."""
    with _connect(database, engine) as connection:
        if _revision_of(connection) is None and _table_names(connection):
            _adopt(connection, database)
        command.upgrade(alembic_config(as_target(database).url, connection), revision)
        connection.commit()
        return _revision_of(connection)


def downgrade(database: AnyDatabase, revision: str, *, engine: Engine | None = None) -> str | None:
    """Migrate down to `revision` ("base": no tables). Destroys the data of what it drops."""
    with _connect(database, engine) as connection:
        command.downgrade(alembic_config(as_target(database).url, connection), revision)
        connection.commit()
        return _revision_of(connection)


def differences(database: AnyDatabase, engine: Engine | None = None) -> list[Any]:
    """What the models (bot/store/tables.py) have that the database's schema lacks, or vice
    versa: Alembic's autogenerate comparison; [] when they agree."""
    with _connect(database, engine) as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": False}
        )
        return [d for d in compare_metadata(context, Base.metadata) if not _ignored(d)]


def _ignored(difference: Any) -> bool:
    """The version table is Alembic's, not a model."""
    return (
        isinstance(difference, tuple)
        and difference[0] == "remove_table"
        and difference[1].name == VERSION_TABLE
    )


def _adopt(connection: Connection, database: AnyDatabase) -> None:
    """A database made by `create_all` before migrations existed: stamp it as the initial
    revision when its tables are the initial revision's (missing tables are created first)."""
    if head() != INITIAL_REVISION:
        raise DatabaseNotReady(
            f"the database {shown(database)} was made before migrations existed and this Kindling "
            f"can no longer adopt it: export its data and start from an empty database"
        )
    Base.metadata.create_all(connection)
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    found = [d for d in compare_metadata(context, Base.metadata) if not _ignored(d)]
    if found:
        raise DatabaseNotReady(
            f"the database {shown(database)} has tables but no migration history, and they differ "
            f"from Kindling's: {found[:5]}"
        )
    command.stamp(alembic_config(as_target(database).url, connection), INITIAL_REVISION)
    log.info(
        "adopted %s (made before migrations) as revision %s", shown(database), INITIAL_REVISION
    )


def new_revision(message: str, database: AnyDatabase) -> str:
    """Autogenerate a migration from the difference between the models and `database` (at head):
    for developers after changing bot/store/tables.py. Returns the new file's path."""
    with _connect(database) as connection:
        made = command.revision(
            alembic_config(as_target(database).url, connection),
            message=message,
            autogenerate=True,
            rev_id=f"{int(head()) + 1:04d}",
        )
    scripts = made if isinstance(made, list) else [made]
    return ", ".join(str(s.path) for s in scripts if s is not None)
