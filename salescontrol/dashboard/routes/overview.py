"""The overview page: a period's dialogues, upsell attempt rate, average quality and
acceptance rate, compared with the previous period, and as charts by day, hour,
point, register and category.

`GET /overview?from=&to=&point=&register=` renders the page; the same URL asked
by htmx (the filter form, the quick periods, the live refresh) renders only the
`_overview_body.html` fragment. Filters that cannot be read (a bad date, an
unknown or malformed id, a value too long to be either) are ignored rather than
refused: the page then shows what its filters say it shows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from core.settings.speech import Business
from salescontrol.dashboard.auth import ViewerDep
from salescontrol.dashboard.charts import Bar, bar_chart, column_chart
from salescontrol.dashboard.periods import Period, parse_period, today
from salescontrol.dashboard.queries.overview import (
    CategoryCount,
    Figures,
    Overview,
    Places,
    Scope,
    overview,
    places,
)
from salescontrol.dashboard.templating import number, percent, render, wants_fragment
from salescontrol.ingest.deps import DbDep, RuntimeDep

router = APIRouter(include_in_schema=False)

PRESETS = (("Сегодня", 1), ("7 дней", 7), ("30 дней", 30))
MINUS = "\u2212"


@dataclass(frozen=True, slots=True)
class Kpi:
    title: str
    value: str
    previous: str
    delta: str
    """Signed change against the previous period; "" when there is nothing to compare."""
    direction: str
    """"up", "down" or "" (no change, or nothing to compare)."""


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    svg: Any
    head: tuple[str, ...]
    rows: list[tuple[str, ...]]


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _signed(value: float, text: str) -> str:
    return f"+{text}" if value > 0 else f"{MINUS}{text.lstrip('-')}" if value < 0 else text


def _kpi(title: str, now: float | None, before: float | None, kind: str) -> Kpi:
    """A figure with the previous period's and the change: `kind` says how to
    write them — "count" (change in percent), "share" (change in percentage
    points) or "score" (0-3, change in points)."""
    shown = {
        "count": lambda v: number(v),
        "share": lambda v: percent(v),
        "score": lambda v: number(v, 1),
    }[kind]
    if now is None or before is None or (kind == "count" and not before):
        return Kpi(title, shown(now), shown(before), "", "")
    change: float
    if kind == "count":
        change = round((now - before) / before * 100)
        text = f"{abs(change)} %"
    elif kind == "share":
        change = round((now - before) * 100)
        text = f"{abs(change)} п.п."
    else:
        change = round(now - before, 1)
        text = f"{abs(change):.1f}"
    direction = "up" if change > 0 else "down" if change < 0 else ""
    return Kpi(title, shown(now), shown(before), _signed(change, text), direction)


def kpis(now: Figures, before: Figures) -> list[Kpi]:
    return [
        _kpi("Диалоги", now.dialogues, before.dialogues, "count"),
        _kpi("Попытки допродажи", now.attempt_rate, before.attempt_rate, "share"),
        _kpi("Средняя оценка (0–3)", now.quality, before.quality, "score"),
        _kpi("Согласились", now.acceptance_rate, before.acceptance_rate, "share"),
    ]


HEAD = ("", "Диалоги", "Проанализировано", "Попытки", "Оценка", "Согласились")


def _row(label: str, f: Figures) -> tuple[str, ...]:
    return (
        label,
        number(f.dialogues),
        number(f.analysed),
        percent(f.attempt_rate),
        number(f.quality, 1),
        percent(f.acceptance_rate),
    )


def _detail(f: Figures) -> str:
    return (
        f"диалогов {f.dialogues}, попыток {f.attempted} из {f.analysed}, согласились {f.accepted}"
    )


def _time_chart(title: str, series: dict[str, Figures], first: str) -> Chart:
    columns = [
        Bar(label, f.dialogues, f"{f.dialogues} диал.", _detail(f)) for label, f in series.items()
    ]
    svg = column_chart(
        title,
        columns,
        rate=[f.attempt_rate for f in series.values()],
        rate_label="Попытки допродажи",
    )
    return Chart(title, svg, (first, *HEAD[1:]), [_row(k, f) for k, f in series.items()])


def _share_chart(title: str, first: str, series: list[tuple[str, Figures]]) -> Chart:
    """Where sellers offer and where they do not: the attempt rate of each place."""
    bars = [
        Bar(label, f.attempt_rate or 0, f"{percent(f.attempt_rate)} из {f.analysed}", _detail(f))
        for label, f in series
    ]
    svg = bar_chart(f"{title}: доля попыток допродажи", bars, maximum=1.0 if bars else None)
    return Chart(title, svg, (first, *HEAD[1:]), [_row(label, f) for label, f in series])


def _category_label(counted: CategoryCount, businesses: dict[str, Business], several: bool) -> str:
    kind = businesses.get(counted.business)
    label = kind.categories.get(counted.code, counted.code) if kind else counted.code
    if several:
        return f"{kind.title if kind else counted.business}: {label}"
    return label


def _category_chart(seen: Overview, businesses: dict[str, Business]) -> Chart:
    several = len({c.business for c in seen.categories}) > 1
    rows = [
        (_category_label(c, businesses, several), c.offers, c.accepted) for c in seen.categories
    ]
    bars = [
        Bar(label, offers, f"{offers} · согласились {accepted}") for label, offers, accepted in rows
    ]
    return Chart(
        "По категориям",
        bar_chart("Предложения по категориям", bars, empty="Предложений за период нет"),
        ("Категория", "Предложений", "Согласились"),
        [(label, number(offers), number(accepted)) for label, offers, accepted in rows],
    )


def charts(seen: Overview, businesses: dict[str, Business]) -> list[Chart]:
    known = seen.places
    points = [(p.name, seen.by_point[p.id]) for p in known.points if p.id in seen.by_point]
    names = {p.id: p.name for p in known.points}
    registers = [
        (f"{names[r.point_id]} · {r.name}", seen.by_register[r.id])
        for r in known.registers
        if r.id in seen.by_register
    ]
    by_day = {day.strftime("%d.%m"): f for day, f in seen.by_day.items()}
    by_hour = {f"{hour:02d}": f for hour, f in seen.by_hour.items()}
    return [
        _time_chart("По дням", by_day, "День"),
        _time_chart("По часам", by_hour, "Час"),
        _share_chart("По точкам", "Точка", points),
        _share_chart("По кассам", "Касса", registers),
        _category_chart(seen, businesses),
    ]


def _scope(known: Places, period: Period, point: str | None, register: str | None) -> Scope:
    """The filters that name a known point and a register of it (or of any point)."""
    chosen_point = known.point(_uuid(point))
    chosen_register = known.register(_uuid(register))
    if chosen_register and chosen_point and chosen_register.point_id != chosen_point.id:
        chosen_register = None
    return Scope(
        period,
        chosen_point.id if chosen_point else None,
        chosen_register.id if chosen_register else None,
    )


def _query(scope: Scope, period: dict[str, str]) -> str:
    params = {
        **period,
        "point": str(scope.point_id or ""),
        "register": str(scope.register_id or ""),
    }
    return urlencode({k: v for k, v in params.items() if v})


@router.get("/overview")
async def overview_page(
    request: Request,
    viewer: ViewerDep,
    runtime: RuntimeDep,
    db: DbDep,
    # No length limits: a value too long to be a date or an id simply does not
    # parse, and is ignored like any other unreadable filter.
    first: Annotated[str | None, Query(alias="from")] = None,
    last: Annotated[str | None, Query(alias="to")] = None,
    point: str | None = None,
    register: str | None = None,
) -> HTMLResponse:
    settings = runtime.settings.salescontrol
    zone = settings.dashboard.timezone
    period = parse_period(first, last, zone, settings.dashboard.default_days)
    known = await places(db)
    scope = _scope(known, period, point, register)
    seen = await overview(db, scope, known)
    day = today(zone)
    presets = [
        (label, _query(scope, Period(day - timedelta(days=days - 1), day).query()),
         period == Period(day - timedelta(days=days - 1), day))
        for label, days in PRESETS
    ]  # fmt: skip
    # The live refresh asks again with the filters as given: with no dates it
    # keeps following "the last days" past midnight.
    given = period.query() if first or last else {}
    response = render(
        request,
        "_overview_body.html" if wants_fragment(request) else "overview.html",
        viewer,
        nav="overview",
        seen=seen,
        kpis=kpis(seen.total, seen.previous),
        charts=charts(seen, settings.businesses),
        registers=[r for r in known.registers if scope.point_id in (None, r.point_id)],
        point_names={p.id: p.name for p in known.points},
        presets=presets,
        poll_url=f"/overview?{_query(scope, given)}",
        refreshed=datetime.now().astimezone(),
    )
    # The page and its fragment share a URL: a cache must not give one for the other.
    response.headers["Vary"] = "HX-Request"
    response.headers["Cache-Control"] = "no-store"
    return response
