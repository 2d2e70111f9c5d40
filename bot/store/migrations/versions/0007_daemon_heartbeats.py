"""`daemon_heartbeats`: each `kindling run` process (host, pid, version, live or dry run, leader
or standby) and when its scheduler last ticked, so that `kindling status` can say whether a
daemon is running and name the leader and the standbys. Rows are written by the daemons only;
a clean stop sets `stopped_at`, a crash leaves the last tick to go stale.

Revision ID: 0007
Revises: 0006
Created: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daemon_heartbeats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("activity", sa.Text(), nullable=False),
        sa.Column("every_seconds", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_tick_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daemon_heartbeats")),
    )
    op.create_index(
        "ix_daemon_heartbeats_last_tick_at", "daemon_heartbeats", ["last_tick_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_daemon_heartbeats_last_tick_at", table_name="daemon_heartbeats")
    op.drop_table("daemon_heartbeats")
