"""Amplification: the candidates table; outbox rows gain an action and the post they act on.

Revision ID: 0003
Revises: 0002
Created: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "amplify_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("remote_id", sa.String(length=400), nullable=False),
        sa.Column("cid", sa.String(length=200), nullable=True),
        sa.Column("url", sa.String(length=400), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("author_id", sa.String(length=400), nullable=False),
        sa.Column("author_handle", sa.String(length=400), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("languages", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("found_by", sa.String(length=400), nullable=False),
        sa.Column("matched", sa.String(length=400), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amplify_candidates")),
        sa.UniqueConstraint(
            "platform", "remote_id", "mode", name=op.f("uq_amplify_candidates_platform")
        ),
    )
    with op.batch_alter_table("amplify_candidates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_amplify_candidates_campaign_state", ["campaign_id", "state"], unique=False
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("action", sa.String(length=16), server_default="post", nullable=False)
        )
        batch_op.add_column(sa.Column("subject_id", sa.String(length=400), nullable=True))
        batch_op.add_column(sa.Column("subject_cid", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("subject_url", sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("subject_url")
        batch_op.drop_column("subject_cid")
        batch_op.drop_column("subject_id")
        batch_op.drop_column("action")

    with op.batch_alter_table("amplify_candidates", schema=None) as batch_op:
        batch_op.drop_index("ix_amplify_candidates_campaign_state")

    op.drop_table("amplify_candidates")
