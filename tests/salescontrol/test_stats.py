"""The overview's counts kept by the database (migration 0004's triggers) equal a
count of the dialogues themselves after any sequence of what writers do: dialogues
added around local midnights in zones far apart, analysed, re-run (another run
made current), corrected in place, moved, deleted, and a point's zone changed."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.db.engine import make_engine, session_factory
from salescontrol.db.models import Analysis, Dialogue, Point
from tests.salescontrol.dashboard.rows import SKIPPED, Shop, add_dialogue, add_shop, done

COUNTED = """
SELECT d.register_id, d.point_id, (d.started_at AT TIME ZONE p.timezone)::date AS day,
       extract(hour FROM d.started_at AT TIME ZONE p.timezone)::int AS hour,
       count(*) AS dialogues,
       count(*) FILTER (WHERE a.status = 'done') AS analysed,
       count(*) FILTER (WHERE a.status = 'skipped') AS skipped,
       count(*) FILTER (WHERE a.status = 'done' AND a.attempted = 'yes') AS attempted,
       count(*) FILTER (WHERE a.status = 'done' AND a.attempted = 'yes'
                        AND a.customer_reaction = 'accepted') AS accepted,
       coalesce(sum(a.quality) FILTER (WHERE a.status = 'done'), 0) AS quality_sum
FROM dialogues d JOIN points p ON p.id = d.point_id
LEFT JOIN analyses a ON a.dialogue_id = d.id AND a.current
GROUP BY 1, 2, 3, 4
"""
KEPT = """
SELECT register_id, point_id, day, hour, dialogues, analysed, skipped, attempted, accepted,
       quality_sum
FROM dialogue_stats
WHERE (dialogues, analysed, skipped, attempted, accepted, quality_sum) <> (0, 0, 0, 0, 0, 0)
"""
CATEGORIES_COUNTED = """
SELECT d.register_id, d.point_id, (d.started_at AT TIME ZONE p.timezone)::date AS day,
       code AS category, count(*) AS offers,
       count(*) FILTER (WHERE a.customer_reaction = 'accepted') AS accepted
FROM dialogues d JOIN points p ON p.id = d.point_id
JOIN analyses a ON a.dialogue_id = d.id AND a.current
     AND a.status = 'done' AND a.attempted = 'yes'
CROSS JOIN LATERAL (SELECT DISTINCT unnest(a.categories) AS code) AS codes
GROUP BY 1, 2, 3, 4
"""
CATEGORIES_KEPT = """
SELECT register_id, point_id, day, category, offers, accepted FROM category_stats
WHERE (offers, accepted) <> (0, 0)
"""
CODES = ("dessert", "syrup", "pastry", "combo", "coffee_size")


async def _rows(db: AsyncSession, sql: str) -> set[tuple[Any, ...]]:
    return {tuple(row) for row in (await db.execute(text(sql))).all()}


async def assert_kept(db: AsyncSession) -> None:
    assert await _rows(db, KEPT) == await _rows(db, COUNTED)
    assert await _rows(db, CATEGORIES_KEPT) == await _rows(db, CATEGORIES_COUNTED)


def _analysis(rng: random.Random) -> dict[str, object]:
    if rng.random() < 0.15:
        return dict(SKIPPED)
    attempted = rng.choice(("yes", "no", "uncertain"))
    reaction = rng.choice(("accepted", "rejected", "unclear")) if attempted == "yes" else "none"
    codes = rng.sample(CODES, rng.randint(0, 2)) if attempted == "yes" else []
    return done(attempted, rng.randint(0, 3), reaction, *codes)


async def _rerun(db: AsyncSession, rng: random.Random, dialogue: Dialogue) -> None:
    runs = list(await db.scalars(select(Analysis.run).where(Analysis.dialogue_id == dialogue.id)))
    await db.execute(
        update(Analysis).where(Analysis.dialogue_id == dialogue.id).values(current=False)
    )
    fields = {"status": "done", **_analysis(rng)}
    db.add(
        Analysis(
            dialogue_id=dialogue.id,
            run=max(runs, default=0) + 1,
            model="stub",
            prompt_version="test",
            current=True,
            **fields,
        )
    )


async def test_the_kept_counts_equal_the_dialogues_after_any_writes(database_url: str) -> None:
    rng = random.Random(20261204)
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as db, db.begin():
            shops: list[Shop] = [
                await add_shop(db, "Токио", "Asia/Tokyo", ("Касса 1", "Касса 2")),
                await add_shop(db, "Богота", "America/Bogota"),
            ]
        dialogues: list[Dialogue] = []
        for step in range(160):
            async with sessions() as db, db.begin():
                action = rng.random()
                if action < 0.4 or not dialogues:
                    shop = rng.choice(shops)
                    # Around a local midnight, where UTC and local days differ.
                    hour = rng.choice(("23", "00", "12"))
                    local = f"2026-03-0{rng.randint(1, 3)} {hour}:{rng.randint(0, 59):02d}"
                    dialogue = await add_dialogue(
                        db,
                        shop,
                        local,
                        register=rng.choice(list(shop.registers)),
                        analysis=_analysis(rng) if rng.random() < 0.7 else None,
                    )
                    dialogues.append(dialogue)
                elif action < 0.65:
                    await _rerun(db, rng, rng.choice(dialogues))
                elif action < 0.75:
                    dialogue = rng.choice(dialogues)
                    await db.execute(
                        update(Analysis)
                        .where(Analysis.dialogue_id == dialogue.id, Analysis.current)
                        .values(quality=rng.randint(0, 3))
                        .execution_options(synchronize_session=False)
                    )
                elif action < 0.85:
                    dialogue = rng.choice(dialogues)
                    await db.execute(
                        update(Dialogue)
                        .where(Dialogue.id == dialogue.id)
                        .values(
                            started_at=Dialogue.started_at + timedelta(hours=rng.randint(-3, 3))
                        )
                    )
                elif action < 0.95:
                    dialogue = dialogues.pop(rng.randrange(len(dialogues)))
                    await db.execute(delete(Dialogue).where(Dialogue.id == dialogue.id))
                else:
                    shop = rng.choice(shops)
                    zone = rng.choice(("Asia/Almaty", "Europe/Berlin", "Asia/Tokyo"))
                    await db.execute(
                        update(Point).where(Point.id == shop.point.id).values(timezone=zone)
                    )
            if step % 40 == 39:
                async with sessions() as db:
                    await assert_kept(db)
        async with sessions() as db:
            await assert_kept(db)
            assert await db.scalar(text("SELECT sum(dialogues) FROM dialogue_stats")) == len(
                dialogues
            )
    finally:
        await engine.dispose()


async def test_the_migration_counts_what_was_there_before_it(database_url: str) -> None:
    """Counts rebuilt from scratch (what the migration does for an existing
    database) equal the ones the triggers kept."""
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as db, db.begin():
            shop = await add_shop(db, "Алматы", "Asia/Almaty")
            for hour in range(0, 24, 5):
                await add_dialogue(
                    db,
                    shop,
                    f"2026-03-01 {hour:02d}:15",
                    analysis=done("yes", 2, "accepted", "dessert"),
                )
        async with sessions() as db:
            kept = await _rows(db, KEPT), await _rows(db, CATEGORIES_KEPT)
        async with sessions() as db, db.begin():
            await db.execute(text("UPDATE dialogue_stats SET dialogues = 99"))
            await db.execute(text("UPDATE category_stats SET offers = 99"))
            await db.execute(text("SELECT sc_stats_rebuild(NULL)"))
        async with sessions() as db:
            assert (await _rows(db, KEPT), await _rows(db, CATEGORIES_KEPT)) == kept
            assert len(kept[0]) == 5
    finally:
        await engine.dispose()
