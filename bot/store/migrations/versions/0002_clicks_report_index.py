"""A covering index for `kindling report`'s grouping of clicks.

Revision ID: 0002
Revises: 0001
Created: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = ["campaign_id", "target_id", "ask_id", "wording", "platform", "language", "at"]


def upgrade() -> None:
    op.create_index("ix_clicks_report", "clicks", COLUMNS, unique=False)


def downgrade() -> None:
    op.drop_index("ix_clicks_report", table_name="clicks")
