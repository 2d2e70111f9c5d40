"""Replace the clicks' two indexes by one that grows at its end: `ix_clicks_time` (campaign_id,
at, target_id, ask_id, wording, platform, language).

`ix_clicks_report` (campaign_id, target_id, ask_id, wording, platform, language, at) put each
new click beside the earlier clicks of its link, so a group commit of 17–32 clicks dirtied a page
of it per distinct link, each page written whole to the WAL; with `ix_clicks_campaign_at` beside
it, SQLite spent 27.8 µs of CPU on a click (16 links; 39.3 µs over 800 targets), most of the
`/go/` budget of 33 µs. New clicks of a campaign go to the end of `ix_clicks_time`: 13.2 µs
(19.5 µs over 800 targets), measured in-process with the writer's statement, click_counts'
trigger included (benchmarks/README.md, "/go/{token}").

What the report loses: without a window it reads click_counts (0005) and is unchanged; the
clicks per day are a range of this index as before; a window's clicks per link are now a range
of this index grouped in a temporary B-tree instead of a scan of `ix_clicks_report` in group
order (bot/report/collect.py `_click_cube` takes the smaller side of the window).

Revision ID: 0006
Revises: 0005
Created: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TIME = ["campaign_id", "at", "target_id", "ask_id", "wording", "platform", "language"]
REPORT = ["campaign_id", "target_id", "ask_id", "wording", "platform", "language", "at"]


def upgrade() -> None:
    op.create_index("ix_clicks_time", "clicks", TIME, unique=False)
    op.drop_index("ix_clicks_report", table_name="clicks")
    op.drop_index("ix_clicks_campaign_at", table_name="clicks")


def downgrade() -> None:
    op.create_index("ix_clicks_campaign_at", "clicks", ["campaign_id", "at"], unique=False)
    op.create_index("ix_clicks_report", "clicks", REPORT, unique=False)
    op.drop_index("ix_clicks_time", table_name="clicks")
