"""Mounting the dashboard on the service's FastAPI app: its pages at the root (the
API lives under /api/v1), its static files under /static, the answers to a
missing login (a redirect to the form) and to a forbidden change (a 403 page), and
its errors as pages rather than the API's JSON (errors.py)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from salescontrol.dashboard.auth import LoginRequired, PageForbidden, login_url
from salescontrol.dashboard.errors import PageErrors, error_page
from salescontrol.dashboard.routes import router

STATIC = Path(__file__).parent / "static"


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    target = login_url(exc.next_url)
    if request.headers.get("HX-Request") == "true":
        # A fragment must not swap the login form into the page: htmx reloads.
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageForbidden)
    return error_page(request, 403, message=exc.reason)


def install_dashboard(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PageForbidden, _forbidden)
    # Added before core.http's middleware (create_app installs that last), so it is
    # the innermost: it meets an unhandled error before CatchAll answers it as JSON.
    app.add_middleware(PageErrors)
