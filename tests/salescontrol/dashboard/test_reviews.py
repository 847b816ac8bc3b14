"""Reviews as the server keeps them: a flag with its reason, corrections checked
against what the analysis allows and kept beside the machine's run (never over it),
resolution, a re-run of the analysis that keeps the history; nothing changed by a
viewer or without the session's CSRF token; the period's export as CSV (that Excel
and the csv module read back) and as JSON with the same content."""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from salescontrol.accounts import add_user
from salescontrol.dashboard.exports import BOM, DELIMITER, cell
from salescontrol.dashboard.queries.reviews import EXPORT_COLUMNS
from salescontrol.db.models import Analysis, Job, Review, Session, Transcript, User
from salescontrol.ingest.deps import SESSION_COOKIE
from salescontrol.pipeline.messages import ANALYSIS, AnalysisResult
from salescontrol.pipeline.outputs import apply_analysis
from tests.salescontrol.dashboard.rows import Shop, add_dialogue, add_shop, done
from tests.salescontrol.ingest.service import (
    ADMIN_LOGIN,
    ADMIN_PASSWORD,
    Ingest,
)

VIEWER = ("r-viewer", "viewer password 1")
DAY = "from=2026-03-07&to=2026-03-07"
LATE_TEXT = 'Латте; «большой», "пожалуйста"\nещё'
"""Quotes, the delimiter and a line break: a field CSV must quote."""
OFFER = {
    **done("yes", 2, "accepted", "dessert"),
    "closing_question": "Хотите к нему десерт?",
    "summary": "Предложил десерт, покупатель согласился.",
    "evidence": ["хотите к нему десерт"],
    "confidence": 0.9,
}


@dataclass
class Person:
    """A logged-in user of the dashboard: the session cookie and its CSRF token."""

    http: httpx.AsyncClient
    token: str
    csrf: str

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, htmx: bool = False, **kw: Any
    ) -> httpx.Response:
        headers = {"Cookie": f"{SESSION_COOKIE}={self.token}"}
        if htmx:
            headers |= {"HX-Request": "true", "X-CSRF-Token": self.csrf}
            form = data or {}
        else:
            form = {"csrf_token": self.csrf, **(data or {})}
        return await self.http.post(path, data=kw.pop("form", form), headers=headers, **kw)

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path, headers={"Cookie": f"{SESSION_COOKIE}={self.token}"})


async def log_in(ingest: Ingest, login: str, password: str) -> Person:
    response = await ingest.login(login, password)
    assert response.status_code == 200, response.text
    ingest.http.cookies.clear()  # each request says who it is
    token = response.json()["token"]
    async with ingest.runtime.sessions() as db:
        csrf = await db.scalar(
            select(Session.csrf_token)
            .join(User, User.id == Session.user_id)
            .where(User.login == login)
            .order_by(Session.created_at.desc())
            .limit(1)
        )
    assert csrf
    return Person(ingest.http, token, csrf)


@pytest.fixture
async def admin(ingest: Ingest) -> Person:
    return await log_in(ingest, ADMIN_LOGIN, ADMIN_PASSWORD)


@pytest.fixture
async def viewer(ingest: Ingest, settings: Settings) -> Person:
    assert settings.env.database_url
    await add_user(settings.env.database_url, *VIEWER, "viewer")
    return await log_in(ingest, *VIEWER)


async def offered(db: AsyncSession, shop: Shop, local: str, text: str) -> uuid.UUID:
    """A dialogue whose current analysis says a dessert was offered and accepted,
    with its transcript and its analysis job done."""
    dialogue = await add_dialogue(db, shop, local, analysis=OFFER)
    segments = [{"start_s": 0.0, "end_s": 3.0, "text": text}]
    db.add(
        Transcript(dialogue_id=dialogue.id, text=text, segments=segments, language="ru", model="t")
    )
    db.add(Job(kind=ANALYSIS, subject_id=dialogue.id, state="done", max_attempts=3))
    await db.flush()
    return dialogue.id


async def one_dialogue(ingest: Ingest) -> uuid.UUID:
    async with ingest.runtime.sessions() as db:
        shop = await add_shop(db, "Кофейня на Абая", "Asia/Almaty")
        dialogue_id = await offered(db, shop, "2026-03-07 10:00", "Капучино. Хотите к нему десерт?")
        await db.commit()
    return dialogue_id


async def reviews_of(ingest: Ingest, dialogue_id: uuid.UUID) -> list[Review]:
    async with ingest.runtime.sessions() as db:
        return list(
            await db.scalars(
                select(Review).where(Review.dialogue_id == dialogue_id).order_by(Review.id)
            )
        )


async def analyses_of(ingest: Ingest, dialogue_id: uuid.UUID) -> list[Analysis]:
    async with ingest.runtime.sessions() as db:
        return list(
            await db.scalars(
                select(Analysis).where(Analysis.dialogue_id == dialogue_id).order_by(Analysis.run)
            )
        )


def correction_form(**changed: Any) -> dict[str, Any]:
    """The correction form as the panel sends it: every field, the machine's values
    unless `changed`, and the empty `categories` the form always carries."""
    form: dict[str, Any] = {
        "attempted": "yes",
        "quality": "2",
        "customer_reaction": "accepted",
        "categories": ["", "dessert"],
        "closing_question": OFFER["closing_question"],
        "summary": OFFER["summary"],
    }
    return form | changed


async def test_flag_correct_and_resolve_are_kept_beside_the_machines_analysis(
    ingest: Ingest, admin: Person
) -> None:
    dialogue_id = await one_dialogue(ingest)
    base = f"/dialogues/{dialogue_id}/reviews"

    flagged = await admin.post(base, {"reason": "  Покупатель не соглашался  "})
    assert flagged.status_code == 303
    assert flagged.headers["location"] == f"/dialogues/{dialogue_id}#review-panel"
    [review] = await reviews_of(ingest, dialogue_id)
    assert (review.status, review.reason, review.corrections) == (
        "open",
        "Покупатель не соглашался",
        {},
    )

    # Flagging again while a review is open adds to it: one open review.
    await admin.post(base, {"reason": "И десерт был не один"})
    await admin.post(base, {"reason": "И десерт был не один"})  # the same form sent twice
    [review] = await reviews_of(ingest, dialogue_id)
    assert review.reason == "Покупатель не соглашался\n\nИ десерт был не один"

    corrected = await admin.post(
        f"{base}/{review.id}/corrections",
        correction_form(
            quality="1", customer_reaction="rejected", categories=["", "pastry", "dessert"]
        ),
    )
    assert corrected.status_code == 303
    [review] = await reviews_of(ingest, dialogue_id)
    # Only what differs from the machine, categories in the shop's order.
    assert review.corrections == {
        "quality": 1,
        "customer_reaction": "rejected",
        "categories": ["dessert", "pastry"],
    }
    [machine] = await analyses_of(ingest, dialogue_id)
    assert (machine.quality, machine.customer_reaction, machine.categories) == (
        2,
        "accepted",
        ["dessert"],
    )

    # A field set back to the machine's value is no longer a correction.
    await admin.post(f"{base}/{review.id}/corrections", correction_form(quality="1"))
    [review] = await reviews_of(ingest, dialogue_id)
    assert review.corrections == {"quality": 1}

    # htmx: the panel comes back in place of itself.
    resolved = await admin.post(f"{base}/{review.id}/resolve", htmx=True)
    assert resolved.status_code == 200
    assert resolved.text.lstrip().startswith('<section class="card review-panel" id="review-panel"')
    assert "Проверка решена." in resolved.text and "<html" not in resolved.text
    [review] = await reviews_of(ingest, dialogue_id)
    async with ingest.runtime.sessions() as db:
        admin_id = await db.scalar(select(User.id).where(User.login == ADMIN_LOGIN))
    assert review.status == "resolved" and review.resolved_by == admin_id
    assert review.resolved_at is not None

    # A resolved review is closed to changes…
    late = await admin.post(f"{base}/{review.id}/corrections", correction_form(quality="3"))
    assert late.status_code == 409 and "уже решена" in late.text
    # …and a new flag opens a new review that starts from the last corrections.
    await admin.post(base, {"reason": "Перезапустили анализ, проверить снова"})
    first, second = await reviews_of(ingest, dialogue_id)
    assert (first.status, second.status) == ("resolved", "open")
    assert second.corrections == {"quality": 1}

    page = await admin.get(f"/dialogues/{dialogue_id}")
    assert page.status_code == 200
    assert 'id="review-panel"' in page.text and "Перезапустили анализ" in page.text
    assert f'action="{base}/{second.id}/corrections"' in page.text


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"quality": "7"}, "Качество — целое число от 0 до 3, а не «7»."),
        ({"quality": "два"}, "Качество — целое число от 0 до 3"),
        ({"categories": ["", "bags"]}, "Категория «bags» не относится к этой точке."),
        ({"attempted": "maybe"}, "Попытка допродажи: недопустимое значение «maybe»."),
        ({"customer_reaction": "happy"}, "Реакция покупателя: недопустимое значение"),
        ({"attempted": "no"}, "Реакция «Нет реакции» бывает тогда и только тогда"),
        (
            {"attempted": "no", "customer_reaction": "none"},
            "Если попытки не было, качество — 0 и категорий нет.",
        ),
        ({"categories": [""]}, "Если попытка была, нужны хотя бы одна категория"),
        ({"summary": "я" * 1001}, "Кратко: длиннее 1000 символов."),
    ],
)
async def test_invalid_corrections_are_refused_with_the_reason(
    ingest: Ingest, admin: Person, changed: dict[str, Any], message: str
) -> None:
    dialogue_id = await one_dialogue(ingest)
    await admin.post(f"/dialogues/{dialogue_id}/reviews", {"reason": "проверить"})
    [review] = await reviews_of(ingest, dialogue_id)
    path = f"/dialogues/{dialogue_id}/reviews/{review.id}/corrections"

    plain = await admin.post(path, correction_form(**changed))
    assert plain.status_code == 400
    assert message in plain.text
    # htmx: the reason inside the panel, the person's input kept in the form.
    swapped = await admin.post(path, correction_form(**changed), htmx=True)
    assert swapped.status_code == 200
    assert 'role="alert"' in swapped.text and message in swapped.text
    if changed.get("quality") == "7":
        assert 'value="3"' in swapped.text and 'value="7"' not in swapped.text
    [review] = await reviews_of(ingest, dialogue_id)
    assert review.corrections == {}


@pytest.mark.parametrize(
    ("reason", "message"),
    [("   ", "Укажите причину."), ("ж" * 1001, "Причина длиннее 1000 символов.")],
)
async def test_a_flag_needs_a_reason(
    ingest: Ingest, admin: Person, reason: str, message: str
) -> None:
    dialogue_id = await one_dialogue(ingest)
    refused = await admin.post(f"/dialogues/{dialogue_id}/reviews", {"reason": reason})
    assert refused.status_code == 400 and message in refused.text
    assert await reviews_of(ingest, dialogue_id) == []


async def test_unknown_dialogues_and_reviews_are_404_pages(ingest: Ingest, admin: Person) -> None:
    dialogue_id = await one_dialogue(ingest)
    for path in (
        "/dialogues/not-a-uuid/reviews",
        f"/dialogues/{uuid.uuid4()}/reviews",
        f"/dialogues/{uuid.uuid4()}/reanalyse",
        f"/dialogues/{dialogue_id}/reviews/abc/resolve",
        f"/dialogues/{dialogue_id}/reviews/{uuid.uuid4()}/corrections",
        f"/dialogues/{dialogue_id}/reviews/99999/resolve",
    ):
        response = await admin.post(path, {"reason": "x", **correction_form()})
        assert response.status_code == 404, path
        assert "<h1>Не сохранено</h1>" in response.text
    assert await reviews_of(ingest, dialogue_id) == []


async def snapshot(ingest: Ingest, dialogue_id: uuid.UUID) -> tuple[Any, ...]:
    reviews = [
        (r.status, r.reason, r.corrections, r.resolved_at)
        for r in await reviews_of(ingest, dialogue_id)
    ]
    analyses = [(a.run, a.current, a.quality) for a in await analyses_of(ingest, dialogue_id)]
    async with ingest.runtime.sessions() as db:
        job = await db.scalar(select(Job.state).where(Job.subject_id == dialogue_id))
    return reviews, analyses, job


async def test_a_viewer_sees_the_reviews_and_changes_nothing(
    ingest: Ingest, admin: Person, viewer: Person
) -> None:
    dialogue_id = await one_dialogue(ingest)
    await admin.post(f"/dialogues/{dialogue_id}/reviews", {"reason": "Проверить реакцию"})
    [review] = await reviews_of(ingest, dialogue_id)
    before = await snapshot(ingest, dialogue_id)

    base = f"/dialogues/{dialogue_id}"
    for htmx in (False, True):
        for path, data in (
            (f"{base}/reviews", {"reason": "от зрителя"}),
            (f"{base}/reviews/{review.id}/corrections", correction_form(quality="0")),
            (f"{base}/reviews/{review.id}/resolve", {}),
            (f"{base}/reanalyse", {}),
        ):
            refused = await viewer.post(path, data, htmx=htmx)
            assert refused.status_code == 403, path
            assert "только администратор" in refused.text
    assert await snapshot(ingest, dialogue_id) == before

    # The viewer reads everything: the reviews, the list and the export, no forms.
    page = await viewer.get(base)
    assert "Проверить реакцию" in page.text
    assert "<textarea" not in page.text and f'action="{base}/' not in page.text
    listed = await viewer.get(f"/reviews?{DAY}")
    assert listed.status_code == 200 and f"/dialogues/{dialogue_id}" in listed.text
    exported = await viewer.get(f"/reviews/export.csv?{DAY}")
    assert exported.status_code == 200 and str(dialogue_id) in exported.text


@pytest.mark.parametrize("token", [None, "", "wrong-token"], ids=["none", "empty", "wrong"])
async def test_a_change_without_the_sessions_csrf_token_is_refused(
    ingest: Ingest, admin: Person, token: str | None
) -> None:
    dialogue_id = await one_dialogue(ingest)
    await admin.post(f"/dialogues/{dialogue_id}/reviews", {"reason": "Проверить"})
    [review] = await reviews_of(ingest, dialogue_id)
    before = await snapshot(ingest, dialogue_id)

    forged = {"reason": "чужой сайт", **correction_form(quality="0")}
    if token is not None:
        forged["csrf_token"] = token
    cookie = {"Cookie": f"{SESSION_COOKIE}={admin.token}"}
    base = f"/dialogues/{dialogue_id}"
    for path in (
        f"{base}/reviews",
        f"{base}/reviews/{review.id}/corrections",
        f"{base}/reviews/{review.id}/resolve",
        f"{base}/reanalyse",
    ):
        headers = cookie if token is None else cookie | {"X-CSRF-Token": token}
        refused = await ingest.http.post(path, data=forged, headers=headers)
        assert refused.status_code == 403, path
        assert "Форма устарела" in refused.text
    assert await snapshot(ingest, dialogue_id) == before


async def test_a_rerun_queues_the_analysis_and_keeps_the_history(
    ingest: Ingest, admin: Person
) -> None:
    dialogue_id = await one_dialogue(ingest)
    await admin.post(f"/dialogues/{dialogue_id}/reviews", {"reason": "Не то"})
    [review] = await reviews_of(ingest, dialogue_id)
    await admin.post(
        f"/dialogues/{dialogue_id}/reviews/{review.id}/corrections", correction_form(quality="1")
    )

    rerun = await admin.post(f"/dialogues/{dialogue_id}/reanalyse", htmx=True)
    assert rerun.status_code == 200 and "Анализ запущен заново" in rerun.text
    _, _, job = await snapshot(ingest, dialogue_id)
    assert job == "queued"

    # The worker's new run becomes current; the first stays as history, the
    # person's corrections stay on the review.
    async with ingest.runtime.sessions() as db:
        result = AnalysisResult(
            status="done", attempted="yes", quality=1, categories=["dessert"],
            customer_reaction="rejected", summary="Предложил десерт, отказ.",
            model="stub", prompt_version="v2",
        )  # fmt: skip
        await apply_analysis(db, dialogue_id, result, ingest.runtime.settings.salescontrol)
        await db.execute(update(Job).where(Job.subject_id == dialogue_id).values(state="running"))
        await db.commit()
    runs = [(a.run, a.current, a.quality) for a in await analyses_of(ingest, dialogue_id)]
    assert runs == [(1, False, 2), (2, True, 1)]
    [review] = await reviews_of(ingest, dialogue_id)
    assert review.corrections == {"quality": 1}

    # Never two runs at once; nothing to re-run before a first analysis.
    running = await admin.post(f"/dialogues/{dialogue_id}/reanalyse")
    assert running.status_code == 409 and "идёт прямо сейчас" in running.text
    async with ingest.runtime.sessions() as db:
        bare = await add_dialogue(
            db, await add_shop(db, "Вторая", "Asia/Almaty"), "2026-03-07 12:00"
        )
        await db.commit()
    never = await admin.post(f"/dialogues/{bare.id}/reanalyse")
    assert never.status_code == 409 and "ещё не анализировался" in never.text


async def export_day(ingest: Ingest, admin: Person) -> dict[str, uuid.UUID]:
    """Reviewed dialogues around the local midnights of two zones, and one that
    nobody reviewed."""
    async with ingest.runtime.sessions() as db:
        almaty = await add_shop(db, "Алматы, Абая", "Asia/Almaty", ("Касса 1", "Касса 2"))
        berlin = await add_shop(db, "Берлин", "Europe/Berlin")
        made = {
            "late": await offered(db, almaty, "2026-03-07 23:30", LATE_TEXT),
            "next_day": await offered(db, almaty, "2026-03-08 00:10", "Американо"),
            "early": await offered(db, berlin, "2026-03-07 00:05", "Эспрессо, и круассан"),
            "unreviewed": await offered(db, almaty, "2026-03-07 12:00", "Чай"),
        }  # fmt: skip
        await db.commit()
    for name in ("late", "next_day", "early"):
        await admin.post(f"/dialogues/{made[name]}/reviews", {"reason": f"Причина: {name}; «да»"})
    [late] = await reviews_of(ingest, made["late"])
    await admin.post(
        f"/dialogues/{made['late']}/reviews/{late.id}/corrections",
        correction_form(
            quality="1", categories=["", "dessert", "coffee_size"], closing_question=""
        ),
    )
    [early] = await reviews_of(ingest, made["early"])
    await admin.post(f"/dialogues/{made['early']}/reviews/{early.id}/resolve")
    return made


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    text = response.content.decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.DictReader(io.StringIO(text.removeprefix(BOM)), delimiter=DELIMITER))


async def test_the_export_is_the_periods_reviewed_dialogues_in_csv_and_json(
    ingest: Ingest, admin: Person
) -> None:
    made = await export_day(ingest, admin)

    response = await admin.get(f"/reviews/export.csv?{DAY}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="reviews_2026-03-07_2026-03-07.csv"'
    )
    rows = read_csv(response)
    # By the local day of each point: 23:30 in Almaty and 00:05 in Berlin are on
    # the 7th, 00:10 in Almaty is not; a dialogue nobody flagged is not exported.
    assert [row["dialogue_id"] for row in rows] == [str(made["early"]), str(made["late"])]
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    late = rows[1]
    assert late["point"] == "Алматы, Абая" and late["register"] == "Касса 1"
    assert late["started_local"] == "2026-03-07 23:30:00" and late["timezone"] == "Asia/Almaty"
    assert late["transcript"] == LATE_TEXT
    assert late["review_reason"] == "Причина: late; «да»" and late["review_status"] == "open"
    assert (late["quality"], late["categories"], late["customer_reaction"]) == (
        "2",
        "dessert",
        "accepted",
    )
    assert late["corrected_fields"] == "quality, categories, closing_question"
    assert late["corrected_quality"] == "1"
    assert late["corrected_categories"] == "coffee_size, dessert"
    assert late["corrected_closing_question"] == "" and late["corrected_attempted"] == ""
    assert late["flagged_by"] == ADMIN_LOGIN and late["resolved_by"] == ""
    early = rows[0]
    assert early["started_local"] == "2026-03-07 00:05:00" and early["review_status"] == "resolved"
    assert early["resolved_by"] == ADMIN_LOGIN and early["resolved_at_local"]

    as_json = await admin.get(f"/reviews/export.json?{DAY}")
    assert as_json.status_code == 200
    assert as_json.headers["content-disposition"].endswith('reviews_2026-03-07_2026-03-07.json"')
    items = json.loads(as_json.content)
    assert [{key: cell(value) for key, value in item.items()} for item in items] == rows
    assert items[1]["corrected_categories"] == ["coffee_size", "dessert"]
    assert items[1]["corrected_quality"] == 1 and items[1]["corrected_closing_question"] is None

    resolved = read_csv(await admin.get(f"/reviews/export.csv?{DAY}&status=resolved"))
    assert [row["dialogue_id"] for row in resolved] == [str(made["early"])]
    empty = await admin.get("/reviews/export.json?from=2020-01-01&to=2020-01-02")
    assert json.loads(empty.content) == []


async def test_the_reviews_page_lists_the_period_with_its_filters(
    ingest: Ingest, admin: Person
) -> None:
    made = await export_day(ingest, admin)

    page = await admin.get(f"/reviews?{DAY}")
    assert page.status_code == 200
    assert "Отмеченных диалогов за период: 2" in page.text
    assert f"/dialogues/{made['late']}" in page.text and f"/dialogues/{made['early']}" in page.text
    assert f"/dialogues/{made['next_day']}" not in page.text
    assert 'href="/reviews/export.csv?from=2026-03-07&amp;to=2026-03-07"' in page.text
    opened = await admin.get(f"/reviews?{DAY}&status=open")
    assert f"/dialogues/{made['late']}" in opened.text
    assert f"/dialogues/{made['early']}" not in opened.text
    assert 'href="/reviews/export.json?from=2026-03-07&amp;to=2026-03-07&amp;status=open"' in (
        opened.text
    )
    # Unreadable filters are ignored, never a 500.
    for query in (
        "from=yesterday&to=2026-13-45",
        "status=bogus&page=abc",
        "page=-3",
        "page=9" * 30,
    ):
        assert (await admin.get(f"/reviews?{query}")).status_code == 200, query
        assert (await admin.get(f"/reviews/export.csv?{query}")).status_code == 200, query


def test_an_exported_text_that_a_spreadsheet_would_run_stays_text() -> None:
    assert cell('=HYPERLINK("http://x","да")') == '\'=HYPERLINK("http://x","да")'
    assert [cell(t) for t in ("+7 701", "-скидка", "@SUM(A1)", "\tx")] == [
        "'+7 701", "'-скидка", "'@SUM(A1)", "'\tx",
    ]  # fmt: skip
    assert cell(["=1+1", "десерт"]) == "'=1+1, десерт"
    # Numbers, plain text and empty values are written as they are.
    assert (cell(-1), cell(0.5), cell("Капучино"), cell(None)) == ("-1", "0.5", "Капучино", "")
