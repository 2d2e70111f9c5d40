"""`click_counts`: clicks counted per (campaign, target, ask, wording, platform, language), kept
exact by triggers on `clicks`, so that `kindling report` reads thousands of counts instead of
grouping every click (1,000,000 clicks: 0.2 s of the command's second, benchmarks/README.md).

The triggers run inside the transaction that writes the clicks, whoever writes them (the web
server's group commits, `kindling` commands, tests, a benchmark filling the table with sqlite3),
so the counts cannot drift from the table they count. Inserts add one, deletes take one away
(a key left with no clicks loses its row, as it would drop out of a GROUP BY), an update of a
counted column does both. SQLite: one row trigger per event, each an UPSERT or an UPDATE and a
DELETE. PostgreSQL: statement triggers over the transition tables, so a multi-row INSERT adds
each key once. The upgrade counts the clicks already there; the downgrade drops it all.

Alembic does not compare triggers with the models; tests/store/test_click_counts.py checks them.
A later migration that rebuilds `clicks` on SQLite (batch mode's copy-and-move) drops these
triggers with the old table and must create them again.

Revision ID: 0005
Revises: 0004
Created: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

KEY = ("campaign_id", "target_id", "ask_id", "wording", "platform", "language")
_COLS = ", ".join(KEY)


def _match(table: str, other: str) -> str:
    return " AND ".join(f"{table}.{c} = {other}.{c}" for c in KEY)


def _sqlite_add(row: str) -> str:
    values = ", ".join(f"{row}.{c}" for c in KEY)
    return (
        f"INSERT INTO click_counts ({_COLS}, clicks) VALUES ({values}, 1) "
        f"ON CONFLICT ({_COLS}) DO UPDATE SET clicks = clicks + 1;"
    )


def _sqlite_remove(row: str) -> str:
    where = _match("click_counts", row)
    return (
        f"UPDATE click_counts SET clicks = clicks - 1 WHERE {where}; "
        f"DELETE FROM click_counts WHERE {where} AND clicks <= 0;"
    )


SQLITE = (
    f"CREATE TRIGGER click_counts_insert AFTER INSERT ON clicks BEGIN {_sqlite_add('NEW')} END",
    f"CREATE TRIGGER click_counts_delete AFTER DELETE ON clicks BEGIN {_sqlite_remove('OLD')} END",
    f"CREATE TRIGGER click_counts_update AFTER UPDATE OF {_COLS} ON clicks "
    f"BEGIN {_sqlite_remove('OLD')} {_sqlite_add('NEW')} END",
)
SQLITE_DROP = tuple(
    f"DROP TRIGGER IF EXISTS click_counts_{event}" for event in ("insert", "delete", "update")
)


def _pg_grouped(rows: str) -> str:
    return f"SELECT {_COLS}, count(*) AS n FROM {rows} GROUP BY {_COLS}"


_PG_ADD = (
    f"INSERT INTO click_counts ({_COLS}, clicks) {_pg_grouped('new_rows')} "
    f"ON CONFLICT ({_COLS}) DO UPDATE SET clicks = click_counts.clicks + EXCLUDED.clicks;"
)
_PG_REMOVE = (
    f"UPDATE click_counts SET clicks = click_counts.clicks - gone.n "
    f"FROM ({_pg_grouped('old_rows')}) AS gone WHERE {_match('click_counts', 'gone')}; "
    f"DELETE FROM click_counts USING (SELECT DISTINCT {_COLS} FROM old_rows) AS gone "
    f"WHERE {_match('click_counts', 'gone')} AND click_counts.clicks <= 0;"
)
POSTGRESQL = (
    "CREATE FUNCTION click_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN {_PG_ADD} RETURN NULL; END $$",
    "CREATE FUNCTION click_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN {_PG_REMOVE} RETURN NULL; END $$",
    "CREATE FUNCTION click_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN {_PG_REMOVE} {_PG_ADD} RETURN NULL; END $$",
    "CREATE TRIGGER click_counts_insert AFTER INSERT ON clicks REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION click_counts_insert()",
    "CREATE TRIGGER click_counts_delete AFTER DELETE ON clicks REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION click_counts_delete()",
    # Transition tables allow no column list (UPDATE OF ...): every UPDATE of clicks recounts
    # its rows, which is correct either way; nothing in Kindling updates clicks.
    "CREATE TRIGGER click_counts_update AFTER UPDATE ON clicks "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION click_counts_update()",
)
POSTGRESQL_DROP = tuple(
    f"DROP TRIGGER IF EXISTS click_counts_{event} ON clicks"
    for event in ("insert", "delete", "update")
) + tuple(
    f"DROP FUNCTION IF EXISTS click_counts_{event}()" for event in ("insert", "delete", "update")
)


def upgrade() -> None:
    op.create_table(
        "click_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("ask_id", sa.String(length=64), nullable=False),
        sa.Column("wording", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_click_counts")),
        sa.UniqueConstraint(*KEY, name=op.f("uq_click_counts_campaign_id")),
    )
    # The count and the triggers are made in one transaction (on SQLite the INSERT opens it and
    # holds the write lock; PostgreSQL's DDL is transactional), so no click written meanwhile is
    # counted twice or missed.
    op.execute(
        f"INSERT INTO click_counts ({_COLS}, clicks) "
        f"SELECT {_COLS}, count(*) FROM clicks GROUP BY {_COLS}"
    )
    statements = SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRESQL
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    drops = SQLITE_DROP if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_DROP
    for statement in drops:
        op.execute(statement)
    op.drop_table("click_counts")
