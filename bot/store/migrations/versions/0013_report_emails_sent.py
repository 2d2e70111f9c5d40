"""report_emails_sent: each campaign's weekly report email once sent (campaign, the week's due
day), so that a week's report goes out once even when the daemon restarts.

Revision ID: 0013
Revises: 0010
Created: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_emails_sent",
        sa.Column("campaign_id", sa.String(length=200), nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "week", name=op.f("pk_report_emails_sent")),
    )


def downgrade() -> None:
    op.drop_table("report_emails_sent")
