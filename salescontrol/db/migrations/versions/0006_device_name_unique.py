"""A device's name is unique at its register, as registering one always required:
renaming one to a name taken there is now refused as well (a clash, 409).

Earlier versions let a rename take a taken name (and two registrations racing
could both pass their check), so a database may already hold such pairs. The
oldest device of each name keeps it; each later one gets its id appended,
`pi-1 (<device id>)`, which no other device can have, so the constraint holds
without losing a row. Its token and its recorder are unaffected: a recorder is
known by its token, not by its name. Downgrading drops the constraint and keeps
the names.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "devices_register_id_name_key"
"""PostgreSQL's own name for the model's UniqueConstraint (fleet.CLASHES knows it)."""

RENAME_LATER_NAMESAKES = sa.text(
    """
    UPDATE devices AS d SET name = d.name || ' (' || d.id::text || ')'
    FROM (
        SELECT id, row_number() OVER (
            PARTITION BY register_id, name ORDER BY created_at, id
        ) AS n
        FROM devices
    ) AS ranked
    WHERE ranked.id = d.id AND ranked.n > 1
    """
)


def upgrade() -> None:
    op.execute(RENAME_LATER_NAMESAKES)
    op.create_unique_constraint(CONSTRAINT, "devices", ["register_id", "name"])


def downgrade() -> None:
    op.drop_constraint(CONSTRAINT, "devices", type_="unique")
