"""The dialogue list and a dialogue's page as the server renders them: filters from
the query string (bad values ignored, never a 500), an htmx swap gets only the
results, a dialogue's transcript lines carry their times and the evidence marked
(everything else escaped), and an unknown or malformed id is a 404 page."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.dashboard.transcript import transcript_lines
from salescontrol.db.models import Transcript
from tests.salescontrol.dashboard.rows import add_dialogue, add_shop, done
from tests.salescontrol.ingest.service import (
    ADMIN_LOGIN,
    ADMIN_PASSWORD,
    Ingest,
    serve,
    settings_for,
)

PERIOD = "from=2026-03-07&to=2026-03-07"


@pytest.fixture
async def ingest(database_url: str, tmp_path: Path) -> AsyncIterator[Ingest]:
    async with serve(settings_for(database_url, tmp_path / "audio")) as running:
        login = await running.login(ADMIN_LOGIN, ADMIN_PASSWORD)  # the page cookie
        assert login.status_code == 200
        yield running


async def shop_day(db: AsyncSession) -> dict[str, uuid.UUID]:
    shop = await add_shop(db, "Алматы", "Asia/Almaty")
    offered = await add_dialogue(
        db,
        shop,
        "2026-03-07 10:00",
        analysis={
            **done("yes", 2, "accepted", "dessert"),
            "evidence": ["хотите к нему десерт", "Да давайте"],
            "summary": "Предложил десерт, покупатель согласился.",
            "closing_question": "Хотите к нему десерт?",
            "confidence": 0.9,
        },
        history=[done("no", 0, "none")],
    )
    db.add(
        Transcript(
            dialogue_id=offered.id,
            text="Капучино <b>пожалуйста</b>. Хотите к нему десерт? Да, давайте.",
            segments=[
                {"start_s": 0.0, "end_s": 2.0, "text": "Капучино <b>пожалуйста</b>."},
                {"start_s": 12.3, "end_s": 14.0, "text": "Хотите к нему"},
                {"start_s": 14.1, "end_s": 15.0, "text": "десерт?"},
                {"start_s": 16.0, "end_s": 17.0, "text": "Да, давайте."},
            ],
            language="ru",
            model="test",
        )
    )
    plain = await add_dialogue(db, shop, "2026-03-07 11:00", analysis=done("no", 0, "none"))
    await db.commit()
    return {"offered": offered.id, "plain": plain.id}


async def test_the_list_filters_and_htmx_gets_only_the_results(ingest: Ingest) -> None:
    async with ingest.runtime.sessions() as db:
        made = await shop_day(db)

    page = await ingest.http.get(f"/dialogues?{PERIOD}")
    assert page.status_code == 200
    assert "<form" in page.text and "Найдено диалогов: 2" in page.text
    assert (
        f"/dialogues/{made['offered']}" in page.text and f"/dialogues/{made['plain']}" in page.text
    )

    narrowed = await ingest.http.get(f"/dialogues?{PERIOD}&attempted=no")
    assert f"/dialogues/{made['plain']}" in narrowed.text
    assert f"/dialogues/{made['offered']}" not in narrowed.text
    # The chosen filter stays chosen in the form.
    assert re.search(r'<option value="no"\s+selected>Нет</option>', narrowed.text)

    fragment = await ingest.http.get(
        f"/dialogues?{PERIOD}&q=десерта", headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200 and "<form" not in fragment.text
    assert "<html" not in fragment.text and "Найдено диалогов: 1" in fragment.text
    assert f"/dialogues/{made['offered']}" in fragment.text
    assert fragment.headers["vary"] == "HX-Request"


@pytest.mark.parametrize(
    "query",
    [
        "point=not-a-uuid&register=42",
        "attempted=maybe&reaction=%3Cscript%3E&quality=seven&review=someday&category=cake",
        "from=2026-13-45&to=yesterday",
        "page=-3",
        "page=abc",
        "q=%00%00",
        "q=" + "слово " * 200,
        "quality=9",
    ],
)
async def test_bad_filter_values_are_ignored(ingest: Ingest, query: str) -> None:
    response = await ingest.http.get(f"/dialogues?{query}")
    assert response.status_code == 200, response.text[:500]
    assert "<script>" not in response.text


@pytest.mark.parametrize("path", ["not-a-uuid", str(uuid.uuid4()), "1%27%20OR%201=1"])
async def test_an_unknown_dialogue_is_a_404_page(ingest: Ingest, path: str) -> None:
    for suffix in ("", "/audio"):
        response = await ingest.http.get(f"/dialogues/{path}{suffix}")
        assert response.status_code == 404
        assert "text/html" in response.headers["content-type"]
        assert "Диалог не найден" in response.text


async def test_the_dialogue_page_shows_transcript_analysis_and_history(ingest: Ingest) -> None:
    async with ingest.runtime.sessions() as db:
        made = await shop_day(db)

    response = await ingest.http.get(f"/dialogues/{made['offered']}")
    assert response.status_code == 200
    html = response.text
    assert (
        f'<audio id="player" controls preload="metadata" src="/dialogues/{made["offered"]}/audio"'
        in html
    )
    # Lines seek to their own time; the transcript's markup is shown as text.
    assert '<p data-seek="12.30"' in html and '<span class="time">0:12</span>' in html
    assert "Капучино &lt;b&gt;пожалуйста&lt;/b&gt;." in html
    # A quote over two lines is marked on both; the case of a quote does not matter.
    assert '<mark class="evidence">Хотите к нему</mark>' in html
    assert '<mark class="evidence">десерт</mark>?' in html
    assert '<mark class="evidence">Да, давайте</mark>.' in html
    # The analysis in Russian words, and the earlier run in the history.
    assert "десерт" in html and "Согласился" in html and "2 из 3" in html and "90 %" in html
    assert 'id="history"' in html and "Нет реакции" in html

    plain = await ingest.http.get(f"/dialogues/{made['plain']}")
    assert plain.status_code == 200 and "Расшифровки ещё нет" in plain.text
    assert 'id="history"' not in plain.text


def test_transcript_lines_mark_whole_words_and_escape_the_rest() -> None:
    lines = transcript_lines(
        [
            {"start_s": 0, "text": "Ещё <сироп> & сливки"},
            {"start_s": "bad", "text": "  "},
            {"start_s": 2.5, "text": "Сироп ёжик, СЛИВКИ."},
        ],
        ["сироп", "ежик сливки", "слив", ""],
    )
    assert [line.start_s for line in lines] == [0.0, 2.5]
    assert str(lines[0].html) == 'Ещё &lt;<mark class="evidence">сироп</mark>&gt; &amp; сливки'
    # ё/е and case ignored; a part of a word ("слив") is not a quote.
    assert str(lines[1].html) == (
        '<mark class="evidence">Сироп</mark> <mark class="evidence">ёжик, СЛИВКИ</mark>.'
    )
