"""Drop `ix_clicks_target` (campaign_id, target_id): since 0002 it is a prefix of
`ix_clicks_report`, which serves every query it could, and every recorded click paid for a third
index B-tree: in a `/go/` group commit of 32 clicks that index dirtied one page per distinct
target, each written to the WAL. Measured on the benchmark's 16 tokens, recording a click went
from 31.2 to 29.7 µs of CPU (benchmarks/README.md, "/go/{token}"); traffic over more targets
saves more.

Revision ID: 0004
Revises: 0003
Created: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_clicks_target", table_name="clicks")


def downgrade() -> None:
    op.create_index("ix_clicks_target", "clicks", ["campaign_id", "target_id"], unique=False)
