"""The dialogue list (filters in the query string, so a filtered list is a link; htmx
swaps only the results), a dialogue's page and its audio.

Filter values that do not parse (a bad id, an unknown word, a bad date) are ignored
rather than refused: the list is shown as if they were not given. An unknown or
malformed dialogue id is a 404 page.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.datastructures import QueryParams

from core.settings import SalesControlSettings
from salescontrol.dashboard.audio import (
    END_PAD_S,
    MEDIA_TYPE,
    AudioUnavailable,
    Piece,
    dialogue_audio,
)
from salescontrol.dashboard.auth import Viewer, ViewerDep
from salescontrol.dashboard.errors import error_page
from salescontrol.dashboard.periods import parse_period
from salescontrol.dashboard.queries.dialogues import (
    ATTEMPTED_VALUES,
    MAX_PAGE,
    QUALITY_VALUES,
    REACTION_VALUES,
    REVIEW_FILTERS,
    DialogueFilters,
    dialogue_detail,
    dialogue_span,
    filter_options,
    list_dialogues,
)
from salescontrol.dashboard.templating import render, wants_fragment
from salescontrol.dashboard.transcript import transcript_lines
from salescontrol.ingest.deps import DbDep, RuntimeDep

router = APIRouter(include_in_schema=False)

MAX_TEXT = 200
REVIEW_FILTER_LABELS = {"none": "Не проверялся", "open": "Открыта", "resolved": "Решена"}


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


def _number(value: str | None, allowed: tuple[int, ...]) -> int | None:
    try:
        number = int(value) if value else None
    except ValueError:
        return None
    return number if number in allowed else None


def _page(value: str | None) -> int:
    try:
        return min(max(int(value or 1), 1), MAX_PAGE)
    except ValueError:
        return 1


def read_filters(
    params: QueryParams, sc: SalesControlSettings
) -> tuple[DialogueFilters, int, dict[str, str]]:
    """The filters, the page and the query string that repeats them (for links)."""
    period = parse_period(
        params.get("from"), params.get("to"), sc.dashboard.timezone, sc.dashboard.default_days
    )
    # NUL cannot be in a PostgreSQL text.
    text = (params.get("q") or "").replace("\x00", "").strip()[:MAX_TEXT] or None
    category = params.get("category")
    filters = DialogueFilters(
        period=period,
        point_id=_uuid(params.get("point")),
        register_id=_uuid(params.get("register")),
        attempted=_choice(params.get("attempted"), ATTEMPTED_VALUES),
        category=category if category in all_categories(sc) else None,
        reaction=_choice(params.get("reaction"), REACTION_VALUES),
        quality=_number(params.get("quality"), QUALITY_VALUES),
        review=_choice(params.get("review"), REVIEW_FILTERS),
        text=text,
    )
    page = _page(params.get("page"))
    query = {
        **period.query(),
        "point": str(filters.point_id or ""),
        "register": str(filters.register_id or ""),
        "attempted": filters.attempted or "",
        "category": filters.category or "",
        "reaction": filters.reaction or "",
        "quality": "" if filters.quality is None else str(filters.quality),
        "review": filters.review or "",
        "q": filters.text or "",
    }
    return filters, page, {key: value for key, value in query.items() if value}


def all_categories(sc: SalesControlSettings) -> dict[str, str]:
    """Category code → label over every kind of shop (the first kind names a shared
    code such as `other`)."""
    labels: dict[str, str] = {}
    for business in sc.businesses.values():
        for code, label in business.categories.items():
            labels.setdefault(code, label)
    return labels


def business_categories(sc: SalesControlSettings, business: str) -> dict[str, str]:
    """A kind of shop's category code → label (every kind's, for an unknown one)."""
    known = sc.businesses.get(business)
    return dict(known.categories) if known else all_categories(sc)


@router.get("/dialogues")
async def dialogue_list(
    request: Request, viewer: ViewerDep, runtime: RuntimeDep, db: DbDep
) -> Response:
    sc = runtime.settings.salescontrol
    filters, page_number, query = read_filters(request.query_params, sc)
    page = await list_dialogues(db, filters, page_number, sc.dashboard.page_size)

    def page_url(number: int) -> str:
        return "/dialogues?" + urlencode({**query, "page": str(number)})

    context: dict[str, Any] = {
        "filters": filters,
        "page": page,
        "query": query,
        "previous_url": page_url(page.page - 1) if page.has_previous else None,
        "next_url": page_url(page.page + 1) if page.has_next else None,
        "labels": {code: business.categories for code, business in sc.businesses.items()},
    }
    if wants_fragment(request):
        response = render(request, "_dialogues_table.html", viewer, **context)
    else:
        options = await filter_options(db)
        response = render(
            request,
            "dialogues.html",
            viewer,
            nav="dialogues",
            points=[(p.id, p.name) for p in options.points],
            registers=[(r.id, f"{r.point} — {r.name}") for r in options.registers],
            qualities=[(q, str(q)) for q in QUALITY_VALUES],
            categories=all_categories(sc),
            review_filters=REVIEW_FILTER_LABELS,
            **context,
        )
    # The same URL answers with a fragment or a page: caches must keep them apart.
    response.headers["Vary"] = "HX-Request"
    return response


def _not_found(request: Request, viewer: Viewer | None) -> Response:
    return error_page(
        request, 404, "Диалог не найден", "Такого диалога нет: возможно, ссылка неполная.", viewer
    )


@router.get("/dialogues/{dialogue_id}")
async def dialogue_page(
    request: Request, dialogue_id: str, viewer: ViewerDep, runtime: RuntimeDep, db: DbDep
) -> Response:
    parsed = _uuid(dialogue_id)
    detail = await dialogue_detail(db, parsed) if parsed else None
    if detail is None:
        return _not_found(request, viewer)
    analysis = detail.analysis
    lines = transcript_lines(
        detail.transcript.segments if detail.transcript else [],
        analysis.evidence if analysis and analysis.status == "done" else [],
    )
    return render(
        request,
        "dialogue.html",
        viewer,
        nav="dialogues",
        detail=detail,
        dialogue=detail.dialogue,
        analysis=analysis,
        reviews=detail.reviews,
        categories=business_categories(runtime.settings.salescontrol, detail.point.business),
        lines=lines,
        zone=detail.point.timezone,
    )


@router.get("/dialogues/{dialogue_id}/audio")
async def dialogue_audio_file(
    request: Request, dialogue_id: str, viewer: ViewerDep, runtime: RuntimeDep
) -> Response:
    parsed = _uuid(dialogue_id)
    # A session of its own, closed before ffmpeg runs: a cut takes a moment and
    # must not hold a pooled connection meanwhile.
    async with runtime.sessions() as db:
        found = await dialogue_span(db, parsed, timedelta(seconds=END_PAD_S)) if parsed else None
    if found is None:
        return _not_found(request, viewer)
    dialogue, chunks = found
    pieces = [Piece(c.id, runtime.store.absolute(c.path), c.started_at, c.sha256) for c in chunks]
    try:
        path = await dialogue_audio(
            runtime.store.root, dialogue.id, dialogue.started_at, dialogue.ended_at, pieces
        )
    except AudioUnavailable:
        return error_page(
            request,
            404,
            "Записи нет",
            "Запись этого диалога не сохранилась или уже удалена по сроку хранения.",
            viewer,
        )
    # FileResponse answers Range requests (206) itself: the player seeks by them.
    return FileResponse(path, media_type=MEDIA_TYPE, headers={"Cache-Control": "private, no-cache"})
