"""What went wrong, as the dashboard says it: a page in Russian with the status of the
answer — 400 for what cannot be read, 404, 403, 503, 500 without the error's
details — or, asked by htmx, a fragment shown in the page's error area.

The service's exception handlers (core.http.errors, salescontrol.ingest.unavailable)
answer in the API's JSON shape, and so does its last-resort middleware (core.http's
CatchAll) for an unhandled error. `PageErrors` sits next to the routes and, for a
request of the dashboard only, replaces such an answer — or an error no handler
took, before any answer began — with the page; the API's requests pass untouched.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.http import log_unexpected
from salescontrol.dashboard.auth import Viewer
from salescontrol.dashboard.templating import ERROR_AREA, render, wants_fragment
from salescontrol.ingest.routes import API_PREFIX
from salescontrol.ingest.routes.internal import INTERNAL_PREFIX

WORDING = {
    400: (
        "Неверный запрос",
        "Запрос содержит значения, которые не удалось прочитать: возможно, поле "
        "заполнено слишком длинным текстом или ссылка искажена.",
    ),
    403: ("Нет доступа", "Это действие вам недоступно."),
    404: ("Страница не найдена", "Такой страницы нет: возможно, ссылка неполная или устарела."),
    405: ("Недопустимый запрос", "Эта страница так не открывается."),
    500: (
        "Ошибка на сервере",
        "Что-то пошло не так. Повторите позже; если ошибка не пройдёт, сообщите администратору.",
    ),
    503: (
        "Сервис временно недоступен",
        "База данных или хранилище записей сейчас недоступны. Повторите через минуту.",
    ),
}
OTHER_REFUSAL = ("Запрос не выполнен", "Сервер не смог выполнить этот запрос.")
KEPT_HEADERS = ("allow", "retry-after")
"""Of the JSON answer being replaced, the headers that still say something true."""

_PACKAGE = __name__.rpartition(".")[0] + "."
_API_PATHS = (API_PREFIX + "/", INTERNAL_PREFIX + "/")


def error_page(
    request: Request,
    status: int,
    title: str | None = None,
    message: str | None = None,
    viewer: Viewer | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The error page, or for htmx its fragment with the headers that send it to
    the page's error area (whatever the element that asked swaps normally)."""
    default_title, default_message = WORDING.get(
        status, WORDING[500] if status >= 500 else OTHER_REFUSAL
    )
    title, message = title or default_title, message or default_message
    fragment = wants_fragment(request)
    response = render(
        request,
        "_error.html" if fragment else "error.html",
        viewer,
        status_code=status,
        title=title,
        message=message,
    )
    if fragment:
        response.headers["HX-Retarget"] = f"#{ERROR_AREA}"
        response.headers["HX-Reswap"] = "innerHTML show:top"
        response.headers["HX-Reselect"] = f"#{ERROR_AREA}-message"
    response.headers.update(headers or {})
    response.headers["Vary"] = "HX-Request"
    response.headers["Cache-Control"] = "no-store"
    return response


def is_dashboard_request(scope: Scope) -> bool:
    """A route of the dashboard's; or, when no route matched (an unknown address),
    a browser or htmx asking outside the APIs' prefixes."""
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        return str(getattr(endpoint, "__module__", "")).startswith(_PACKAGE)
    if str(scope.get("path", "")).startswith(_API_PATHS):
        return False
    headers = Headers(scope=scope)
    return headers.get("HX-Request") == "true" or "text/html" in headers.get("accept", "")


def _json_error(message: Message) -> bool:
    if message["status"] < 400:
        return False
    content_type = Headers(raw=message.get("headers") or []).get("content-type", "")
    return content_type.startswith("application/json")


class PageErrors:
    """Pure ASGI (a response is looked at before any of it is sent): the JSON error
    answered to a dashboard request is swallowed, body and all, and the error page
    of its status sent instead."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        replaced: tuple[int, dict[str, str]] | None = None

        async def sending(message: Message) -> None:
            nonlocal started, replaced
            if message["type"] == "http.response.start":
                if _json_error(message) and is_dashboard_request(scope):
                    kept = Headers(raw=message.get("headers") or [])
                    replaced = (message["status"], {k: kept[k] for k in KEPT_HEADERS if k in kept})
                    return
                started = True
            elif replaced is not None:
                return
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started or not is_dashboard_request(scope):
                raise
            # The type and line only, as CatchAll logs it: the message may quote
            # customer text.
            log_unexpected(exc)
            replaced = (500, {})
        if replaced is not None:
            status, headers = replaced
            response = error_page(Request(scope, receive), status, headers=headers)
            await response(scope, receive, send)
