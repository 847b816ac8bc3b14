"""Partial indexes for the core server's own rounds over audio chunks, which a
90-day retention makes millions of rows (30 recorders: 2.2 million):

- `audio_chunks_receiving`: the start-up settles the chunks a crash left
  `receiving` — a handful at most, found without reading the table;
- `audio_chunks_to_purge`: the hourly retention round looks for chunks the pipeline
  is done with and whose file is still on disk, oldest first.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECEIVING = sa.text("state = 'receiving'")
TO_PURGE = sa.text("purged_at IS NULL AND state IN ('processed', 'failed')")


def upgrade() -> None:
    op.create_index("audio_chunks_receiving", "audio_chunks", ["id"], postgresql_where=RECEIVING)
    op.create_index(
        "audio_chunks_to_purge", "audio_chunks", ["ended_at"], postgresql_where=TO_PURGE
    )


def downgrade() -> None:
    op.drop_index("audio_chunks_to_purge", table_name="audio_chunks", postgresql_where=TO_PURGE)
    op.drop_index("audio_chunks_receiving", table_name="audio_chunks", postgresql_where=RECEIVING)
