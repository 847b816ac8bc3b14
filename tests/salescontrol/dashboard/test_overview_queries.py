"""The overview's figures on rows laid down by hand: two points in zones 14 hours
apart, dialogues on both sides of a local midnight, analyses done, skipped,
missing and re-run — the totals, the series, the previous period and the filters
are what a person would count."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from salescontrol.dashboard.periods import Period
from salescontrol.dashboard.queries.overview import Figures, Overview, Scope, overview
from tests.salescontrol.dashboard.rows import SKIPPED, Shop, add_dialogue, add_shop, done
from tests.salescontrol.ingest.service import Ingest, serve, settings_for

# No daylight saving in either zone, so Python's and PostgreSQL's zone data agree.
TOKYO = "Asia/Tokyo"  # UTC+9
BOGOTA = "America/Bogota"  # UTC-5
WEEK = Period(date(2026, 3, 1), date(2026, 3, 7))


@dataclass
class Chain:
    tokyo: Shop
    bogota: Shop


@pytest.fixture
async def ingest(database_url: str, tmp_path: Path) -> AsyncIterator[Ingest]:
    async with serve(settings_for(database_url, tmp_path / "audio")) as running:
        yield running


async def lay_chain(ingest: Ingest) -> Chain:
    """Two points 14 hours apart and nine dialogues around the week of 1-7 March."""
    async with ingest.runtime.sessions() as db, db.begin():
        tokyo = await add_shop(db, "Токио", TOKYO, ("Касса 1", "Касса 2"))
        bogota = await add_shop(db, "Богота", BOGOTA)
        # The week of 1-7 March, in each point's own days.
        await add_dialogue(
            db, tokyo, "2026-03-07 23:30", analysis=done("yes", 3, "accepted", "dessert", "syrup")
        )
        await add_dialogue(db, tokyo, "2026-03-01 00:10", analysis=done("no", 0, "none"))
        await add_dialogue(db, tokyo, "2026-03-03 10:00", analysis=SKIPPED)
        await add_dialogue(db, tokyo, "2026-03-03 11:00")  # not analysed yet
        await add_dialogue(
            db,
            tokyo,
            "2026-03-03 12:00",
            register="Касса 2",
            analysis=done("yes", 2, "rejected", "dessert"),
            history=[done("no", 0, "none")],  # the re-run replaced it
        )
        await add_dialogue(db, bogota, "2026-03-07 23:30", analysis=done("uncertain", 1, "unclear"))
        # The next local day in Tokyo, though still 7 March in UTC.
        await add_dialogue(
            db, tokyo, "2026-03-08 00:30", analysis=done("yes", 1, "accepted", "pastry")
        )
        # The previous week (22-28 February).
        await add_dialogue(
            db, bogota, "2026-02-28 23:59", analysis=done("yes", 2, "accepted", "combo")
        )
        await add_dialogue(db, tokyo, "2026-02-25 10:00", analysis=done("no", 0, "none"))
    return Chain(tokyo, bogota)


@pytest.fixture
async def chain(ingest: Ingest) -> Chain:
    return await lay_chain(ingest)


async def look(ingest: Ingest, scope: Scope) -> Overview:
    async with ingest.runtime.sessions() as db:
        return await overview(db, scope)


async def test_the_totals_count_dialogues_and_rate_only_the_analysed(
    ingest: Ingest, chain: Chain
) -> None:
    seen = await look(ingest, Scope(WEEK))

    assert seen.total == Figures(
        dialogues=6, analysed=4, skipped=1, attempted=2, accepted=1, quality_sum=3 + 0 + 2 + 1
    )
    assert seen.total.pending == 1
    assert seen.total.attempt_rate == 0.5  # the skipped and the pending are not in the base
    assert seen.total.acceptance_rate == 0.5
    assert seen.total.quality == 1.5


async def test_a_dialogue_counts_on_the_local_day_and_hour_of_its_point(
    ingest: Ingest, chain: Chain
) -> None:
    seen = await look(ingest, Scope(WEEK))

    assert list(seen.by_day) == WEEK.dates()
    assert {day.day: f.dialogues for day, f in seen.by_day.items()} == {
        1: 1, 2: 0, 3: 3, 4: 0, 5: 0, 6: 0, 7: 2
    }  # fmt: skip
    # 23:30 in Tokyo and 23:30 in Bogota (14 h later) are both hour 23 of 7 March.
    assert seen.by_hour[23].dialogues == 2 and seen.by_hour[23].attempted == 1
    assert seen.by_hour[0].dialogues == 1  # 00:10 on 1 March, not the 00:30 on the 8th
    assert [h for h, f in seen.by_hour.items() if f.dialogues] == [0, 10, 11, 12, 23]

    # The 00:30 dialogue belongs to 8 March in Tokyo; Bogota's 23:30 on the 7th,
    # 04:30 UTC on the 8th, does not.
    eighth = await look(ingest, Scope(Period(date(2026, 3, 8), date(2026, 3, 8))))
    assert eighth.total.dialogues == 1 and eighth.by_hour[0].dialogues == 1
    assert eighth.by_point == {chain.tokyo.point.id: eighth.total}


async def test_points_registers_and_categories(ingest: Ingest, chain: Chain) -> None:
    seen = await look(ingest, Scope(WEEK))
    tokyo = chain.tokyo.registers

    assert {p: f.dialogues for p, f in seen.by_point.items()} == {
        chain.tokyo.point.id: 5,
        chain.bogota.point.id: 1,
    }
    assert seen.by_point[chain.bogota.point.id].attempt_rate == 0.0
    assert {r: f.dialogues for r, f in seen.by_register.items()} == {
        tokyo["Касса 1"].id: 4,
        tokyo["Касса 2"].id: 1,
        chain.bogota.registers["Касса 1"].id: 1,
    }
    # The re-run's judgement counts, not the run it replaced.
    assert seen.by_register[tokyo["Касса 2"].id].attempted == 1
    assert [(c.code, c.offers, c.accepted) for c in seen.categories] == [
        ("dessert", 2, 1),
        ("syrup", 1, 1),
    ]
    assert {c.business for c in seen.categories} == {"coffee_shop"}
    assert [p.name for p in seen.places.points] == ["Богота", "Токио"]


async def test_the_previous_period_is_as_long_and_just_before(ingest: Ingest, chain: Chain) -> None:
    seen = await look(ingest, Scope(WEEK))
    assert seen.previous == Figures(
        dialogues=2, analysed=2, skipped=0, attempted=1, accepted=1, quality_sum=2
    )

    two_days = await look(ingest, Scope(Period(date(2026, 3, 1), date(2026, 3, 2))))
    # 27-28 February: Bogota's 23:59 on the 28th only.
    assert two_days.previous.dialogues == 1 and two_days.previous.accepted == 1


async def test_a_point_or_a_register_narrows_everything(ingest: Ingest, chain: Chain) -> None:
    bogota = await look(ingest, Scope(WEEK, point_id=chain.bogota.point.id))
    assert bogota.total.dialogues == 1 and bogota.previous.dialogues == 1
    assert list(bogota.by_point) == [chain.bogota.point.id]
    assert bogota.categories == []

    second = chain.tokyo.registers["Касса 2"].id
    register = await look(ingest, Scope(WEEK, register_id=second))
    assert register.total.dialogues == 1 and register.total.quality == 2
    assert list(register.by_register) == [second]
    assert [c.code for c in register.categories] == ["dessert"]
    assert register.previous == Figures()


async def test_an_empty_period_has_zero_series(ingest: Ingest) -> None:
    seen = await look(ingest, Scope(WEEK))
    assert seen.total == Figures() and seen.total.attempt_rate is None
    assert len(seen.by_day) == 7 and len(seen.by_hour) == 24
    assert seen.by_point == {} and seen.categories == []
