"""Indexes for the dashboard's pages, measured on 100,000 dialogues (bench.dashboard):

- `dialogues_time` (started_at, id): a period across all points, and the dialogue
  list newest first (its ORDER BY started_at DESC, id DESC read backwards, so a page
  stops after its rows);
- `analyses_one_current` becomes a covering index (INCLUDE the figures the
  overview and the list count): the current analysis of each dialogue of a period
  is read from the index alone, without a visit to the table per dialogue;
- `transcripts_text_search`: GIN on `to_tsvector('russian', text)`, the exact
  expression the dialogue list searches with.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_FIGURES = ["status", "attempted", "customer_reaction", "quality", "categories"]


def upgrade() -> None:
    op.create_index("dialogues_time", "dialogues", ["started_at", "id"], unique=False)
    op.drop_index(
        "analyses_one_current", table_name="analyses", postgresql_where=sa.text("current")
    )
    op.create_index(
        "analyses_one_current",
        "analyses",
        ["dialogue_id"],
        unique=True,
        postgresql_where=sa.text("current"),
        postgresql_include=CURRENT_FIGURES,
    )
    op.create_index(
        "transcripts_text_search",
        "transcripts",
        [sa.text("to_tsvector('russian', text)")],
        unique=False,
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_index("transcripts_text_search", table_name="transcripts")
    op.drop_index(
        "analyses_one_current", table_name="analyses", postgresql_where=sa.text("current")
    )
    op.create_index(
        "analyses_one_current",
        "analyses",
        ["dialogue_id"],
        unique=True,
        postgresql_where=sa.text("current"),
    )
    op.drop_index("dialogues_time", table_name="dialogues")
