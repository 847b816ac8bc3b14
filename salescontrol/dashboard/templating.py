"""Jinja templates of the dashboard and the filters they share: instants shown in a
zone, shares as percents, durations, and the Russian words for the analysis'
values. Autoescaping is on: a transcript is text, never markup."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from salescontrol.dashboard.auth import CSRF_FIELD, CSRF_HEADER, Viewer

TEMPLATES = Path(__file__).parent / "templates"
ERROR_AREA = "page-error"
"""The element of base.html where an error answered to htmx is shown (errors.py,
static/app.js)."""

ATTEMPTED = {"yes": "Да", "no": "Нет", "uncertain": "Неясно"}
REACTION = {
    "accepted": "Согласился",
    "rejected": "Отказался",
    "unclear": "Неясно",
    "none": "Нет реакции",
}
REVIEW_STATUS = {"open": "Открыта", "resolved": "Решена"}
CLOSED_REASON = {
    "silence": "пауза",
    "max_length": "предел длины",
    "gap": "устройство отключалось",
    "idle": "нет новых записей",
}


def local(value: datetime | None, zone: str, fmt: str = "%d.%m.%Y %H:%M") -> str:
    """An instant as the wall-clock time of a zone."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(zone)).strftime(fmt)


def percent(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.{digits}f} %"


def clock(seconds: float | None) -> str:
    """Seconds as m:ss (or h:mm:ss)."""
    if seconds is None:
        return "—"
    total = max(round(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def number(value: float | int | None, digits: int = 0) -> str:
    """A number with a thin space between thousands, as Russian text writes it."""
    if value is None:
        return "—"
    return f"{value:,.{digits}f}".replace(",", "\u202f")


templates = Jinja2Templates(directory=str(TEMPLATES))
templates.env.filters.update(local=local, percent=percent, clock=clock, number=number)
templates.env.globals.update(
    ATTEMPTED=ATTEMPTED,
    REACTION=REACTION,
    REVIEW_STATUS=REVIEW_STATUS,
    CLOSED_REASON=CLOSED_REASON,
    CSRF_FIELD=CSRF_FIELD,
    CSRF_HEADER=CSRF_HEADER,
    ERROR_AREA=ERROR_AREA,
)


def wants_fragment(request: Request) -> bool:
    """An htmx request that swaps part of a page (a history restore wants the
    whole page)."""
    headers = request.headers
    return headers.get("HX-Request") == "true" and headers.get("HX-History-Restore-Request") != (
        "true"
    )


def render(
    request: Request,
    name: str,
    viewer: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page (or, for htmx, a fragment) with who is looking and the settings the
    layout needs; `nav` names the menu item to highlight."""
    settings = request.app.state.runtime.settings.salescontrol
    return templates.TemplateResponse(
        request,
        name,
        {
            "viewer": viewer,
            "zone": settings.dashboard.timezone,
            "refresh_s": settings.dashboard.refresh_s,
            "htmx": request.headers.get("HX-Request") == "true",
            **context,
        },
        status_code=status_code,
    )
