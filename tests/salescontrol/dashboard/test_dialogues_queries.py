"""The dialogue list's query on real PostgreSQL: every filter narrows to exactly the
dialogues it should, the text search finds Russian word forms, pages are stable and
disjoint, the total is counted only up to a bound, a dialogue falls on its point's
local day; and one dialogue's detail carries its history and reviews."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.dashboard.periods import Period
from salescontrol.dashboard.queries import dialogues as queries
from salescontrol.dashboard.queries.dialogues import (
    DialogueFilters,
    dialogue_detail,
    filter_options,
    list_dialogues,
)
from salescontrol.db.models import Dialogue, Review, Transcript, User
from tests.salescontrol.dashboard.rows import Shop, add_dialogue, add_shop, done
from tests.salescontrol.ingest.service import ADMIN_LOGIN, Ingest, serve, settings_for

DAY = Period(date(2026, 3, 7), date(2026, 3, 7))


@pytest.fixture
async def ingest(database_url: str, tmp_path: Path) -> AsyncIterator[Ingest]:
    async with serve(settings_for(database_url, tmp_path / "audio")) as running:
        yield running


@pytest.fixture
async def db(ingest: Ingest) -> AsyncIterator[AsyncSession]:
    async with ingest.runtime.sessions() as session:
        yield session


async def say(db: AsyncSession, dialogue: Dialogue, *lines: str) -> None:
    """A transcript of `lines`, one segment of 3 s each."""
    segments = [
        {"start_s": 3.0 * i, "end_s": 3.0 * i + 2.5, "text": line, "words": []}
        for i, line in enumerate(lines)
    ]
    db.add(
        Transcript(
            dialogue_id=dialogue.id,
            text=" ".join(lines),
            segments=segments,
            language="ru",
            model="test",
        )
    )
    await db.flush()


async def review(db: AsyncSession, dialogue: Dialogue, status: str) -> Review:
    user = await db.scalar(select(User.id).where(User.login == ADMIN_LOGIN))
    assert user is not None
    flagged = Review(dialogue_id=dialogue.id, user_id=user, status=status, reason="проверить")
    db.add(flagged)
    await db.flush()
    return flagged


@dataclass
class Day:
    """Four dialogues of 2026-03-07 in two shops, each different in every filter."""

    almaty: Shop
    moscow: Shop
    offered: Dialogue
    """Almaty, Касса 1: dessert offered and accepted, quality 2, a review open."""
    plain: Dialogue
    """Almaty, Касса 2: nothing offered, a review resolved."""
    syrup: Dialogue
    """Moscow: syrup offered, reaction unclear, quality 1, never reviewed."""
    pending: Dialogue
    """Moscow: not analysed yet, no transcript."""


@pytest.fixture
async def day(db: AsyncSession) -> Day:
    almaty = await add_shop(db, "Алматы, Абая", "Asia/Almaty", ("Касса 1", "Касса 2"))
    moscow = await add_shop(db, "Москва, Тверская", "Europe/Moscow")
    offered = await add_dialogue(
        db, almaty, "2026-03-07 10:00", analysis=done("yes", 2, "accepted", "dessert")
    )
    await say(db, offered, "Капучино, пожалуйста.", "Хотите к нему десерт?", "Да, давайте.")
    plain = await add_dialogue(
        db, almaty, "2026-03-07 11:00", register="Касса 2", analysis=done("no", 0, "none")
    )
    await say(db, plain, "Один латте с собой.", "С вас девятьсот тенге.")
    syrup = await add_dialogue(
        db, moscow, "2026-03-07 12:00", analysis=done("uncertain", 1, "unclear", "syrup")
    )
    await say(db, syrup, "Два капучиной не бывает.", "Сироп добавить?", "Может быть.")
    pending = await add_dialogue(db, moscow, "2026-03-07 13:00")
    await review(db, offered, "open")
    await review(db, offered, "resolved")
    await review(db, plain, "resolved")
    await db.commit()
    return Day(almaty, moscow, offered, plain, syrup, pending)


async def ids(db: AsyncSession, filters: DialogueFilters, page_size: int = 50) -> list[uuid.UUID]:
    page = await list_dialogues(db, filters, 1, page_size)
    return [row.id for row in page.rows]


async def test_each_filter_narrows_to_its_dialogues(db: AsyncSession, day: Day) -> None:
    every = DialogueFilters(period=DAY)
    assert await ids(db, every) == [day.pending.id, day.syrup.id, day.plain.id, day.offered.id]

    cases: list[tuple[dict[str, object], list[Dialogue]]] = [
        ({"point_id": day.almaty.point.id}, [day.plain, day.offered]),
        ({"register_id": day.almaty.registers["Касса 2"].id}, [day.plain]),
        ({"attempted": "yes"}, [day.offered]),
        ({"attempted": "no"}, [day.plain]),
        ({"attempted": "uncertain"}, [day.syrup]),
        ({"category": "syrup"}, [day.syrup]),
        ({"category": "dessert"}, [day.offered]),
        ({"category": "pastry"}, []),
        ({"reaction": "accepted"}, [day.offered]),
        ({"reaction": "none"}, [day.plain]),
        ({"quality": 0}, [day.plain]),
        ({"quality": 1}, [day.syrup]),
        ({"review": "open"}, [day.offered]),
        ({"review": "resolved"}, [day.plain]),
        ({"review": "none"}, [day.pending, day.syrup]),
        ({"text": "латте"}, [day.plain]),
        ({"point_id": day.moscow.point.id, "attempted": "uncertain"}, [day.syrup]),
        ({"point_id": day.moscow.point.id, "attempted": "yes"}, []),
    ]
    for change, expected in cases:
        found = await ids(db, replace(every, **change))  # type: ignore[arg-type]
        assert found == [d.id for d in expected], change

    page = await list_dialogues(db, replace(every, review="open"), 1, 50)
    (row,) = page.rows
    assert (row.point, row.register, row.attempted, row.quality) == (
        "Алматы, Абая",
        "Касса 1",
        "yes",
        2,
    )
    assert row.categories == ["dessert"] and row.reaction == "accepted" and row.review == "open"
    assert row.duration_s == 40


async def test_text_search_finds_russian_word_forms(db: AsyncSession, day: Day) -> None:
    every = DialogueFilters(period=DAY)
    # "десерта" and "десерт" stem alike; "капучино"/"капучиной" are both found.
    assert await ids(db, replace(every, text="десерта")) == [day.offered.id]
    assert await ids(db, replace(every, text="капучино")) == [day.syrup.id, day.offered.id]
    assert await ids(db, replace(every, text="СИРОПОМ")) == [day.syrup.id]
    # Web search syntax: a phrase, and a word left out.
    assert await ids(db, replace(every, text='"с собой"')) == [day.plain.id]
    assert await ids(db, replace(every, text="капучино -сироп")) == [day.offered.id]
    # Stop words only, or punctuation only: nothing, and no error.
    assert await ids(db, replace(every, text="и")) == []
    assert await ids(db, replace(every, text="!!! & | (")) == []


async def test_a_dialogue_is_on_its_points_local_day(db: AsyncSession) -> None:
    new_york = await add_shop(db, "Нью-Йорк", "America/New_York")
    almaty = await add_shop(db, "Алматы", "Asia/Almaty")
    # 23:30 in New York is 04:30 UTC on the next day; 00:30 in Almaty is 19:30
    # UTC on the day before.
    late = await add_dialogue(db, new_york, "2026-03-07 23:30", analysis=done("no", 0, "none"))
    early = await add_dialogue(db, almaty, "2026-03-08 00:30", analysis=done("no", 0, "none"))
    await db.commit()

    assert await ids(db, DialogueFilters(period=DAY)) == [late.id]
    next_day = Period(date(2026, 3, 8), date(2026, 3, 8))
    assert await ids(db, DialogueFilters(period=next_day)) == [early.id]
    assert await ids(db, DialogueFilters(period=Period(date(2026, 3, 6), date(2026, 3, 6)))) == []


async def test_pages_are_stable_disjoint_and_counted_up_to_a_bound(
    db: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await add_shop(db, "Алматы", "Asia/Almaty")
    made = []
    for minute in range(7):
        made.append(await add_dialogue(db, shop, f"2026-03-07 10:{minute:02d}"))
    # Two dialogues at the same instant: the id breaks the tie, so no row is
    # shown twice or skipped across pages.
    made.append(await add_dialogue(db, shop, "2026-03-07 10:03"))
    await db.commit()
    filters = DialogueFilters(period=DAY)

    pages = [await list_dialogues(db, filters, n, 3) for n in (1, 2, 3)]
    seen = [row.id for page in pages for row in page.rows]
    assert len(seen) == len(set(seen)) == 8
    assert [len(p.rows) for p in pages] == [3, 3, 2]
    assert [(p.has_previous, p.has_next) for p in pages] == [
        (False, True),
        (True, True),
        (True, False),
    ]
    starts = [row.started_at for page in pages for row in page.rows]
    assert starts == sorted(starts, reverse=True)
    assert {(p.total, p.more) for p in pages} == {(8, False)}
    # The same page asked again is the same rows.
    again = await list_dialogues(db, filters, 2, 3)
    assert [r.id for r in again.rows] == [r.id for r in pages[1].rows]

    # Counted up to the bound only; a page past the end is empty, not an error.
    monkeypatch.setattr(queries, "COUNT_LIMIT", 5)
    capped = await list_dialogues(db, filters, 1, 3)
    assert (capped.total, capped.more) == (5, True)
    assert [r.id for r in capped.rows] == [r.id for r in pages[0].rows]
    beyond = await list_dialogues(db, filters, 3, 3)  # past the bound: by OFFSET
    assert [r.id for r in beyond.rows] == [r.id for r in pages[2].rows]
    assert (beyond.total, beyond.more, beyond.has_next) == (8, False, False)
    past = await list_dialogues(db, filters, 9, 3)
    assert (past.rows, past.total, past.more) == ([], 5, True)
    assert (await list_dialogues(db, filters, 10_000, 3)).page == queries.MAX_PAGE


async def test_a_text_search_counts_only_as_far_as_its_page(db: AsyncSession) -> None:
    shop = await add_shop(db, "Алматы", "Asia/Almaty")
    for minute in range(5):
        dialogue = await add_dialogue(db, shop, f"2026-03-07 10:{minute:02d}")
        await say(db, dialogue, f"Сироп номер {minute}.")
    await db.commit()
    filters = DialogueFilters(period=DAY, text="сироп")

    first, last = [await list_dialogues(db, filters, n, 3) for n in (1, 2)]
    assert (first.total, first.more, first.has_next) == (3, True, True)
    assert (last.total, last.more, last.has_next) == (5, False, False)
    assert len({r.id for r in [*first.rows, *last.rows]}) == 5


async def test_the_detail_has_the_current_analysis_history_and_reviews(db: AsyncSession) -> None:
    shop = await add_shop(db, "Алматы", "Asia/Almaty")
    dialogue = await add_dialogue(
        db,
        shop,
        "2026-03-07 10:00",
        analysis=done("yes", 3, "accepted", "dessert"),
        history=[done("no", 0, "none"), done("uncertain", 1, "unclear", "other")],
    )
    await say(db, dialogue, "Десерт к кофе?")
    first = await review(db, dialogue, "resolved")
    await db.commit()

    detail = await dialogue_detail(db, dialogue.id)
    assert detail is not None
    assert detail.analysis is not None and detail.analysis.run == 3
    assert detail.analysis.attempted == "yes"
    assert [a.run for a in detail.history] == [2, 1]
    assert [r.id for r in detail.reviews] == [first.id]
    assert detail.people[first.user_id] == "admin"
    assert detail.transcript is not None and detail.transcript.text == "Десерт к кофе?"
    assert (detail.point.name, detail.register.name) == ("Алматы", "Касса 1")
    assert await dialogue_detail(db, uuid.uuid4()) is None

    options = await filter_options(db)
    assert [p.name for p in options.points] == ["Алматы"]
    assert [(r.point, r.name) for r in options.registers] == [("Алматы", "Касса 1")]
