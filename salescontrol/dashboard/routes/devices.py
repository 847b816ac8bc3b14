"""The devices page: every register's recorder, online or offline, what it last
reported, and a warning for one silent during its point's hours; the body refreshes
itself by htmx polling. Admins add points and registers, rename them, register a
device (its token shown once, in the answer to that form, and never again) and
disable or enable one.

The forms work without JavaScript (a redirect back to the page, or the page with
the outcome); with htmx their outcome goes to the flash area above the polled body,
which the `devices-changed` event refreshes at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol import fleet
from salescontrol.dashboard.auth import Viewer, ViewerDep
from salescontrol.dashboard.forms import (
    Editing,
    EditingDep,
    FormError,
    Outcome,
    Refusal,
    TextField,
    attempt,
    flag,
    row_id,
)
from salescontrol.dashboard.forms import name as name_of
from salescontrol.dashboard.queries.devices import OFFLINE, SILENT, Limits, load_fleet
from salescontrol.dashboard.templating import render
from salescontrol.ingest.deps import DbDep, RuntimeDep, get_runtime
from salescontrol.ingest.runtime import Runtime

router = APIRouter(include_in_schema=False)

CHANGED_EVENT = "devices-changed"
WARNING = {OFFLINE: "Нет связи", SILENT: "Не пишет"}
STATE_REASON = {
    "outside hours": "вне часов записи",
    "disk full": "диск заполнен",
    "ffmpeg failing": "сбой записи (ffmpeg)",
    "starting": "запускается",
}


# --- wording -------------------------------------------------------------------------


def ago(now: datetime, then: datetime | None) -> str:
    """How long ago, in Russian: "только что", "12 мин назад", "3 ч 5 мин назад"."""
    if then is None:
        return "никогда"
    return f"{span(now - then)} назад" if now - then >= timedelta(minutes=1) else "только что"


def span(length: timedelta) -> str:
    minutes = max(int(length.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} дн {hours} ч"
    if hours:
        return f"{hours} ч {minutes} мин" if minutes else f"{hours} ч"
    return f"{minutes} мин"


def size(value: int | None) -> str:
    """Bytes as Russian text writes them (ГБ, МБ)."""
    if value is None:
        return "—"
    for unit, scale in (("ГБ", 1 << 30), ("МБ", 1 << 20), ("КБ", 1 << 10)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}".replace(".", ",")
    return f"{value} Б"


def hours_text(opens_at: time | None, closes_at: time | None) -> str:
    if opens_at is None or closes_at is None:
        return "круглосуточно"
    return f"{opens_at:%H:%M}–{closes_at:%H:%M}"


# --- reading forms -------------------------------------------------------------------


def _clock(value: str) -> time | None:
    if not value.strip():
        return None
    try:
        return time.fromisoformat(value.strip()).replace(second=0, microsecond=0)
    except ValueError:
        raise FormError("Время — в виде ЧЧ:ММ, например 08:00.") from None


def _hours(opens: str, closes: str) -> tuple[time | None, time | None]:
    opens_at, closes_at = _clock(opens), _clock(closes)
    if (opens_at is None) != (closes_at is None):
        raise FormError("Укажите и открытие, и закрытие (или ни то ни другое — круглосуточно).")
    if opens_at is not None and opens_at == closes_at:
        raise FormError("Открытие и закрытие должны различаться (пустые — круглосуточно).")
    return opens_at, closes_at


# --- answers -------------------------------------------------------------------------


def _limits(runtime: Runtime) -> Limits:
    settings = runtime.settings.salescontrol.dashboard
    return Limits.of(settings.offline_after_s, settings.silent_after_s)


async def _context(runtime: Runtime, db: AsyncSession) -> dict[str, Any]:
    settings = runtime.settings.salescontrol
    limits = _limits(runtime)
    return {
        "fleet": await load_fleet(db, datetime.now(UTC), limits),
        "limits": limits,
        "businesses": settings.businesses,
        "default_zone": settings.dashboard.timezone,
        "ago": ago,
        "span": span,
        "size": size,
        "hours_text": hours_text,
        "WARNING": WARNING,
        "STATE_REASON": STATE_REASON,
    }


async def _page(
    request: Request, viewer: Viewer, db: AsyncSession, status: int = 200, **flash: Any
) -> Response:
    context = await _context(get_runtime(request), db)
    response = render(
        request, "devices.html", viewer, status_code=status, nav="devices", **context, **flash
    )
    if flash.get("token"):
        response.headers["Cache-Control"] = "no-store"
    return response


async def _change(form: Editing, apply: Callable[[], Awaitable[Outcome]]) -> Response:
    """Apply a form; answer htmx with the flash fragment (and the event that
    refreshes the body), a plain browser with a redirect back, or with the page
    when there is something to show: a refusal, or a token."""
    request, viewer = form.request, form.viewer
    result = await attempt(apply)
    if isinstance(result, Refusal):
        if form.htmx:
            # htmx swaps only a 2xx answer: the refusal is shown as the flash.
            return render(request, "_devices_flash.html", viewer, error=result.message)
        return await _page(request, viewer, form.db, result.status, error=result.message)
    if form.htmx:
        response = render(
            request, "_devices_flash.html", viewer, notice=result.notice, token=result.secret
        )
        response.headers["HX-Trigger"] = CHANGED_EVENT
        response.headers["Cache-Control"] = "no-store"
        return response
    if result.secret:
        return await _page(request, viewer, form.db, notice=result.notice, token=result.secret)
    return RedirectResponse("/devices", status_code=303)


# --- pages ---------------------------------------------------------------------------


@router.get("/devices")
async def devices_page(request: Request, viewer: ViewerDep, db: DbDep) -> Response:
    return await _page(request, viewer, db)


@router.get("/devices/body")
async def devices_body(
    request: Request, viewer: ViewerDep, runtime: RuntimeDep, db: DbDep
) -> Response:
    """The part of the page that refreshes itself."""
    return render(request, "_devices_body.html", viewer, **(await _context(runtime, db)))


# --- changes (admins, with the CSRF token) -------------------------------------------


@router.post("/devices/points")
async def add_point(
    form: EditingDep,
    organisation: TextField = "",
    name: TextField = "",
    timezone: TextField = "",
    business: TextField = "",
    opens_at: TextField = "",
    closes_at: TextField = "",
) -> Response:
    async def apply() -> Outcome:
        if business not in form.runtime.settings.salescontrol.businesses:
            raise FormError("Выберите вид заведения из списка.")
        try:
            zone = fleet.known_zone(timezone.strip())
        except ValueError:
            raise FormError("Неизвестный часовой пояс: нужно имя вроде Asia/Almaty.") from None
        point, _ = await fleet.add_point(
            form.db,
            name_of(organisation, "организацию"),
            name_of(name, "название точки"),
            zone,
            business,
            *_hours(opens_at, closes_at),
        )
        return Outcome(f"Точка «{point.name}» добавлена.")

    return await _change(form, apply)


@router.post("/devices/points/{point_id}")
async def edit_point(
    point_id: str,
    form: EditingDep,
    name: TextField = "",
    opens_at: TextField = "",
    closes_at: TextField = "",
) -> Response:
    async def apply() -> Outcome:
        opens, closes = _hours(opens_at, closes_at)
        new_name = name_of(name, "название точки")
        point = await fleet.update_point(
            form.db, row_id(point_id, "point"), name=new_name, opens_at=opens, closes_at=closes
        )
        return Outcome(f"Точка «{point.name}» сохранена.")

    return await _change(form, apply)


@router.post("/devices/points/{point_id}/registers")
async def add_register(point_id: str, form: EditingDep, name: TextField = "") -> Response:
    async def apply() -> Outcome:
        new_name = name_of(name, "название кассы")
        register = await fleet.add_register(form.db, row_id(point_id, "point"), new_name)
        return Outcome(f"Касса «{register.name}» добавлена.")

    return await _change(form, apply)


@router.post("/devices/registers/{register_id}")
async def rename_register(register_id: str, form: EditingDep, name: TextField = "") -> Response:
    async def apply() -> Outcome:
        new_name = name_of(name, "название кассы")
        register = await fleet.rename_register(form.db, row_id(register_id, "register"), new_name)
        return Outcome(f"Касса переименована: «{register.name}».")

    return await _change(form, apply)


@router.post("/devices/registers/{register_id}/devices")
async def register_device(register_id: str, form: EditingDep, name: TextField = "") -> Response:
    async def apply() -> Outcome:
        new_name = name_of(name, "имя устройства")
        device, token = await fleet.register_device(
            form.db, row_id(register_id, "register"), new_name
        )
        return Outcome(f"Устройство «{device.name}» подключено.", token)

    return await _change(form, apply)


@router.post("/devices/{device_id}/enabled")
async def set_enabled(device_id: str, form: EditingDep, enabled: TextField = "") -> Response:
    async def apply() -> Outcome:
        on = flag(enabled)
        device = await fleet.update_device(form.db, row_id(device_id, "device"), enabled=on)
        state = "включено" if device.enabled else "отключено: его токен больше не принимается"
        return Outcome(f"Устройство «{device.name}» {state}.")

    return await _change(form, apply)
