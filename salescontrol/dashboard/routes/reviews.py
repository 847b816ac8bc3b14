"""Reviews: the list of a period's reviewed dialogues with its exports, and the
changes made from the review panel of a dialogue's page — flag, correct, resolve,
re-run the analysis.

Every change needs an admin and the session's CSRF token (`EditorDep`). A change
made by htmx answers with the panel itself, swapped in place (a refusal shows its
reason in the panel); a plain form post answers with a redirect back to the
dialogue's page, or a page that says why nothing was changed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.datastructures import FormData

from salescontrol.dashboard.auth import EditorDep, Viewer, ViewerDep
from salescontrol.dashboard.exports import attachment, csv_stream, json_stream
from salescontrol.dashboard.periods import Period, parse_period
from salescontrol.dashboard.queries.dialogues import dialogue_detail
from salescontrol.dashboard.queries.reviews import (
    EXPORT_COLUMNS,
    FIELD_LABELS,
    FIELDS,
    STATUSES,
    ReviewError,
    correct,
    dialogue_business,
    export_rows,
    flag,
    form_values,
    machine_values,
    parse_corrections,
    resolve,
    reviewed_page,
)
from salescontrol.dashboard.routes.dialogues import business_categories
from salescontrol.dashboard.templating import render, templates
from salescontrol.ingest.deps import DbDep, RuntimeDep
from salescontrol.ingest.runtime import Runtime
from salescontrol.pipeline.reanalysis import request_reanalysis

router = APIRouter(include_in_schema=False)

MAX_PAGE = 10_000

# What the panel needs wherever it is rendered (alone here, or inside the
# dialogue's page, which includes it).
templates.env.globals.update(
    REVIEW_FIELDS=FIELDS,
    REVIEW_FIELD_LABELS=FIELD_LABELS,
    review_form_values=form_values,
    review_machine_values=machine_values,
)

REANALYSIS = {
    "queued": (
        202,
        "Анализ запущен заново: новый результат появится через несколько минут, "
        "прежние останутся в истории.",
    ),
    "running": (409, "Анализ этого диалога идёт прямо сейчас: повторите, когда он закончится."),
    "not_analysed": (409, "Этот диалог ещё не анализировался: повторять нечего."),
    "no_dialogue": (404, "Такого диалога нет."),
}


# --- the list and its exports ------------------------------------------------------


def _filters(request: Request, runtime: Runtime) -> tuple[Period, str | None]:
    """The period (by the points' local days) and the status; a status other than
    `open` or `resolved` means any."""
    dashboard = runtime.settings.salescontrol.dashboard
    params = request.query_params
    period = parse_period(
        params.get("from"), params.get("to"), dashboard.timezone, dashboard.default_days
    )
    status = params.get("status")
    return period, status if status in STATUSES else None


def _query(period: Period, status: str | None) -> dict[str, str]:
    return {**period.query(), **({"status": status} if status else {})}


def _page(value: str | None) -> int:
    try:
        return min(max(int(value or 1), 1), MAX_PAGE)
    except ValueError:
        return 1


@router.get("/reviews")
async def reviews_page(
    request: Request, viewer: ViewerDep, runtime: RuntimeDep, db: DbDep
) -> Response:
    period, status = _filters(request, runtime)
    page = _page(request.query_params.get("page"))
    size = runtime.settings.salescontrol.dashboard.page_size
    found = await reviewed_page(db, period, status, page, size)
    query = _query(period, status)

    def page_url(number: int) -> str | None:
        if number < 1 or (number - 1) * size >= found.total:
            return None
        return "/reviews?" + urlencode({**query, "page": str(number)})

    return render(
        request,
        "reviews.html",
        viewer,
        nav="reviews",
        period=period,
        status=status,
        rows=found.rows,
        total=found.total,
        page=page,
        pages=max((found.total + size - 1) // size, 1),
        previous_url=page_url(page - 1),
        next_url=page_url(page + 1),
        export_query=urlencode(query),
    )


def _export_name(period: Period, status: str | None, extension: str) -> str:
    suffix = f"_{status}" if status else ""
    return f"reviews_{period.first.isoformat()}_{period.last.isoformat()}{suffix}.{extension}"


def _rows(runtime: Runtime, period: Period, status: str | None) -> AsyncIterator[dict[str, Any]]:
    async def rows() -> AsyncIterator[dict[str, Any]]:
        # A session of the stream's own: the request's is closed before the body
        # is sent, and a big period streams for a while.
        async with runtime.sessions() as db:
            async for row in export_rows(db, period, status):
                yield row

    return rows()


@router.get("/reviews/export.csv")
async def export_csv(request: Request, viewer: ViewerDep, runtime: RuntimeDep) -> Response:
    period, status = _filters(request, runtime)
    return StreamingResponse(
        csv_stream(EXPORT_COLUMNS, _rows(runtime, period, status)),
        media_type="text/csv; charset=utf-8",
        headers=attachment(_export_name(period, status, "csv")),
    )


@router.get("/reviews/export.json")
async def export_json(request: Request, viewer: ViewerDep, runtime: RuntimeDep) -> Response:
    period, status = _filters(request, runtime)
    return StreamingResponse(
        json_stream(_rows(runtime, period, status)),
        media_type="application/json",
        headers=attachment(_export_name(period, status, "json")),
    )


# --- changes from the panel --------------------------------------------------------

Change = Callable[[uuid.UUID, FormData], Awaitable[str]]
"""Makes the change for a dialogue from the posted form; says what was done."""


def _dialogue_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ReviewError(404, "Такого диалога нет.") from None


def _review_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ReviewError(404, "Такой проверки нет.")
    return int(raw)


def _draft(form: FormData) -> dict[str, Any]:
    """The correction form's values as the person sent them, to show them again
    beside the reason they were refused."""
    draft: dict[str, Any] = {}
    for name in FIELDS:
        if name in form:
            values = [str(v) for v in form.getlist(name)]
            draft[name] = [v for v in values if v] if name == "categories" else values[-1]
    if "quality" in draft and draft["quality"].isdigit():
        draft["quality"] = int(draft["quality"])
    return draft


async def _panel(
    request: Request,
    viewer: Viewer,
    runtime: Runtime,
    db: DbDep,
    dialogue_id: uuid.UUID,
    status_code: int = 200,
    **context: Any,
) -> Response:
    detail = await dialogue_detail(db, dialogue_id)
    if detail is None:
        return _refused(request, viewer, None, ReviewError(404, "Такого диалога нет."))
    return render(
        request,
        "reviews/_panel.html",
        viewer,
        status_code=status_code,
        detail=detail,
        dialogue=detail.dialogue,
        analysis=detail.analysis,
        reviews=detail.reviews,
        categories=business_categories(runtime.settings.salescontrol, detail.point.business),
        zone=detail.point.timezone,
        **context,
    )


def _refused(
    request: Request, viewer: Viewer, dialogue_id: uuid.UUID | None, error: ReviewError
) -> Response:
    return render(
        request,
        "reviews/refused.html",
        viewer,
        status_code=error.status,
        message=error.message,
        dialogue_id=dialogue_id,
    )


async def _change(
    request: Request,
    viewer: Viewer,
    runtime: Runtime,
    db: DbDep,
    raw_id: str,
    change: Change,
) -> Response:
    htmx = request.headers.get("HX-Request") == "true"
    form = await request.form()
    dialogue_id: uuid.UUID | None = None
    try:
        dialogue_id = _dialogue_id(raw_id)
        notice = await change(dialogue_id, form)
    except ReviewError as error:
        await db.rollback()
        if not htmx or error.status == 404 or dialogue_id is None:
            return _refused(request, viewer, dialogue_id, error)
        # htmx swaps only a 2xx answer: the refusal is said inside the panel.
        return await _panel(
            request, viewer, runtime, db, dialogue_id, error=error.message, draft=_draft(form)
        )
    if htmx:
        return await _panel(request, viewer, runtime, db, dialogue_id, notice=notice)
    return RedirectResponse(f"/dialogues/{dialogue_id}#review-panel", status_code=303)


@router.post("/dialogues/{dialogue_id}/reviews")
async def flag_dialogue(
    request: Request, dialogue_id: str, viewer: EditorDep, runtime: RuntimeDep, db: DbDep
) -> Response:
    async def change(target: uuid.UUID, form: FormData) -> str:
        await flag(db, target, viewer.user.id, str(form.get("reason") or ""))
        return "Диалог отмечен для проверки."

    return await _change(request, viewer, runtime, db, dialogue_id, change)


async def _categories_of(db: DbDep, runtime: Runtime, dialogue_id: uuid.UUID) -> list[str]:
    business = await dialogue_business(db, dialogue_id)
    if business is None:
        raise ReviewError(404, "Такого диалога нет.")
    return list(business_categories(runtime.settings.salescontrol, business))


@router.post("/dialogues/{dialogue_id}/reviews/{review_id}/corrections")
async def correct_review(
    request: Request,
    dialogue_id: str,
    review_id: str,
    viewer: EditorDep,
    runtime: RuntimeDep,
    db: DbDep,
) -> Response:
    async def change(target: uuid.UUID, form: FormData) -> str:
        number = _review_id(review_id)
        codes = await _categories_of(db, runtime, target)
        submitted = parse_corrections(
            {name: [str(v) for v in form.getlist(name)] for name in FIELDS if name in form},
            codes,
        )
        await correct(db, target, number, submitted, codes)
        return "Исправления сохранены."

    return await _change(request, viewer, runtime, db, dialogue_id, change)


@router.post("/dialogues/{dialogue_id}/reviews/{review_id}/resolve")
async def resolve_review(
    request: Request,
    dialogue_id: str,
    review_id: str,
    viewer: EditorDep,
    runtime: RuntimeDep,
    db: DbDep,
) -> Response:
    async def change(target: uuid.UUID, form: FormData) -> str:
        await resolve(db, target, _review_id(review_id), viewer.user.id)
        return "Проверка решена."

    return await _change(request, viewer, runtime, db, dialogue_id, change)


@router.post("/dialogues/{dialogue_id}/reanalyse")
async def reanalyse_dialogue(
    request: Request, dialogue_id: str, viewer: EditorDep, runtime: RuntimeDep, db: DbDep
) -> Response:
    async def change(target: uuid.UUID, form: FormData) -> str:
        outcome = await request_reanalysis(db, target)
        status, message = REANALYSIS[outcome]
        if outcome != "queued":
            raise ReviewError(status, message)
        await db.commit()
        return message

    return await _change(request, viewer, runtime, db, dialogue_id, change)
