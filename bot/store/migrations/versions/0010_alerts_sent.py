"""alerts_sent: when an alert was last sent for each cause, so that an alert goes out once per
cause and quiet period even when the daemon restarts (a crash loop must not mail on each start).

Revision ID: 0010
Revises: 0008 (written against 0006; re-chained at merge)
Created: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts_sent",
        sa.Column("cause", sa.String(length=200), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cause", name=op.f("pk_alerts_sent")),
    )


def downgrade() -> None:
    op.drop_table("alerts_sent")
