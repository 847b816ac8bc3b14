"""The overview's figures kept up to date by the database: `dialogue_stats` counts
dialogues and their current analyses per register, local day and local hour (in the
point's own zone), `category_stats` the offers per register, local day and category.

The overview of a 90-day period then sums a few thousand rows instead of reading
100,000 dialogues with their analyses (bench.dashboard). Triggers keep the counts,
so that every writer — the pipeline, a re-run, the demo, a restore — is counted
the same way and none can forget to:

- a dialogue inserted counts at its key; moved (its start, register or point
  changed) it moves with its current analysis; deleted, it leaves (BEFORE DELETE,
  while its current analysis can still be read; the analyses deleted by the
  cascade then find no dialogue and change nothing);
- an analysis counts while it is `current`: a re-run that makes another run
  current takes the old one's figures out and puts the new one's in;
- a point whose time zone changes has its counts rebuilt from its dialogues.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATEMENTS = [
    """
CREATE FUNCTION sc_stats_add(d dialogues, a analyses, sign integer, with_dialogue boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    zone text;
    local timestamp;
    done boolean := a.id IS NOT NULL AND a.status = 'done';
    tried boolean := done AND a.attempted = 'yes';
    took boolean := tried AND a.customer_reaction = 'accepted';
BEGIN
    SELECT timezone INTO zone FROM points WHERE id = d.point_id;
    local := d.started_at AT TIME ZONE zone;
    INSERT INTO dialogue_stats AS s (register_id, point_id, day, hour, dialogues, analysed,
                                     skipped, attempted, accepted, quality_sum)
    VALUES (d.register_id, d.point_id, local::date, extract(hour FROM local)::smallint,
            sign * with_dialogue::integer,
            sign * done::integer,
            sign * (a.id IS NOT NULL AND a.status = 'skipped')::integer,
            sign * tried::integer,
            sign * took::integer,
            sign * CASE WHEN done THEN a.quality ELSE 0 END)
    ON CONFLICT (register_id, day, hour) DO UPDATE SET
        dialogues = s.dialogues + excluded.dialogues,
        analysed = s.analysed + excluded.analysed,
        skipped = s.skipped + excluded.skipped,
        attempted = s.attempted + excluded.attempted,
        accepted = s.accepted + excluded.accepted,
        quality_sum = s.quality_sum + excluded.quality_sum;
    IF tried THEN
        INSERT INTO category_stats AS c (register_id, point_id, day, category, offers, accepted)
        SELECT d.register_id, d.point_id, local::date, code, sign, sign * took::integer
        FROM (SELECT DISTINCT unnest(a.categories) AS code) AS codes
        ON CONFLICT (register_id, day, category) DO UPDATE SET
            offers = c.offers + excluded.offers,
            accepted = c.accepted + excluded.accepted;
    END IF;
END $$;
""",
    """
CREATE FUNCTION sc_current_analysis(dialogue uuid) RETURNS analyses
LANGUAGE sql STABLE AS $$
    SELECT * FROM analyses WHERE dialogue_id = dialogue AND current
$$;
""",
    """
CREATE FUNCTION sc_stats_dialogue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM sc_stats_add(OLD, sc_current_analysis(OLD.id), -1, true);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM sc_stats_add(NEW, sc_current_analysis(NEW.id), 1, true);
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
""",
    """
CREATE FUNCTION sc_stats_analysis() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d dialogues;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.current THEN
        SELECT * INTO d FROM dialogues WHERE id = OLD.dialogue_id;
        IF FOUND THEN
            PERFORM sc_stats_add(d, OLD, -1, false);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.current THEN
        SELECT * INTO d FROM dialogues WHERE id = NEW.dialogue_id;
        IF FOUND THEN
            PERFORM sc_stats_add(d, NEW, 1, false);
        END IF;
    END IF;
    RETURN NULL;
END $$;
""",
    """
CREATE FUNCTION sc_stats_rebuild(point uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    d dialogues;
BEGIN
    DELETE FROM dialogue_stats WHERE point_id = point OR point IS NULL;
    DELETE FROM category_stats WHERE point_id = point OR point IS NULL;
    FOR d IN SELECT * FROM dialogues WHERE point_id = point OR point IS NULL LOOP
        PERFORM sc_stats_add(d, sc_current_analysis(d.id), 1, true);
    END LOOP;
END $$;
""",
    """
CREATE FUNCTION sc_stats_point() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM sc_stats_rebuild(NEW.id);
    RETURN NULL;
END $$;
""",
    """
CREATE TRIGGER dialogues_stats_change
    AFTER INSERT OR UPDATE OF started_at, register_id, point_id ON dialogues
    FOR EACH ROW EXECUTE FUNCTION sc_stats_dialogue();
""",
    """
CREATE TRIGGER dialogues_stats_delete
    BEFORE DELETE ON dialogues
    FOR EACH ROW EXECUTE FUNCTION sc_stats_dialogue();
""",
    """
CREATE TRIGGER analyses_stats
    AFTER INSERT OR DELETE OR UPDATE OF current, status, attempted, customer_reaction,
        quality, categories, dialogue_id ON analyses
    FOR EACH ROW EXECUTE FUNCTION sc_stats_analysis();
""",
    """
CREATE TRIGGER points_stats
    AFTER UPDATE OF timezone ON points
    FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
    EXECUTE FUNCTION sc_stats_point();
""",
]


def _counts() -> list[sa.Column[int]]:
    return [
        sa.Column(name, sa.Integer(), server_default="0", nullable=False)
        for name in ("dialogues", "analysed", "skipped", "attempted", "accepted", "quality_sum")
    ]


def _keys() -> list[sa.Column[object]]:
    return [
        sa.Column("register_id", sa.UUID(), nullable=False),
        sa.Column("point_id", sa.UUID(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "dialogue_stats",
        *_keys(),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        *_counts(),
        sa.ForeignKeyConstraint(["register_id"], ["registers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["point_id"], ["points.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("register_id", "day", "hour"),
    )
    op.create_index("dialogue_stats_day", "dialogue_stats", ["day"])
    op.create_table(
        "category_stats",
        *_keys(),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("offers", sa.Integer(), server_default="0", nullable=False),
        sa.Column("accepted", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["register_id"], ["registers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["point_id"], ["points.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("register_id", "day", "category"),
    )
    op.create_index("category_stats_day", "category_stats", ["day"])
    for statement in STATEMENTS:
        op.execute(statement)
    op.execute("SELECT sc_stats_rebuild(NULL)")


def downgrade() -> None:
    for trigger, table in (
        ("points_stats", "points"),
        ("analyses_stats", "analyses"),
        ("dialogues_stats_delete", "dialogues"),
        ("dialogues_stats_change", "dialogues"),
    ):
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    for function in (
        "sc_stats_point()",
        "sc_stats_rebuild(uuid)",
        "sc_stats_analysis()",
        "sc_stats_dialogue()",
        "sc_current_analysis(uuid)",
        "sc_stats_add(dialogues, analyses, integer, boolean)",
    ):
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("category_stats")
    op.drop_table("dialogue_stats")
