"""Responses found by listening to the targets' own feeds: what they answer, and dismissal.

`responses.answered_id` / `answered_url`: the supporter's post a target's reply answers (a
pre-filled message carrying the campaign's hashtags or links), where known. `dismissed`: an
organiser marked the response not relevant (`kindling responses dismiss ID`); it stays stored
(so it is never recorded again) but leaves the report's counts.

Revision ID: 0008
Revises: 0007 (written against 0006; re-chained after 0007 at merge)
Created: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("answered_id", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("answered_url", sa.String(length=400), nullable=True))
        batch.add_column(
            sa.Column("dismissed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("dismissed")
        batch.drop_column("answered_url")
        batch.drop_column("answered_id")
