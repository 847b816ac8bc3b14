"""What goes wrong on the dashboard is said as a page in Russian, never as the API's
JSON: filters that cannot be read — malformed or over-long — are ignored and the
page renders; a form field too long is a 400 page; an unknown dialogue or address a
404 page; an unhandled error a 500 page that shows nothing of the error; the
database away a 503 page. Asked by htmx, the same errors come as a fragment sent to
the page's error area. The JSON API keeps its JSON errors for the same kinds of
error, even asked by a browser."""

from __future__ import annotations

import re
import uuid
from typing import Any, NoReturn
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tests.salescontrol.dashboard.signed_in import SignedIn, as_admin
from tests.salescontrol.dashboard.test_access import dashboard_routes
from tests.salescontrol.ingest.service import Ingest

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
HTMX = {"HX-Request": "true"}
SECRET = "слова покупателя 4f2a"
LONG = "7" * 41  # one past the length the overview's filters once refused
HUGE = "x" * 3000
UNREADABLE = {
    "from": LONG,
    "to": "2026-13-45",
    "point": HUGE,
    "register": "not-a-uuid",
    "attempted": HUGE,
    "category": LONG,
    "reaction": "maybe",
    "quality": "-1",
    "review": HUGE,
    "status": LONG,
    "q": "кофе" * 1000,
    "page": "x" * 41,
}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def pages(ingest: Ingest) -> list[str]:
    """Every dashboard address a filter can be put on: the GET routes without an
    id in their path (taken from the app, as test_access does)."""
    found = [path for method, path in dashboard_routes(ingest.app) if method == "GET"]
    return [path for path in found if not UUID.search(path)]


def assert_page(response: httpx.Response, status: int, title: str) -> None:
    """A whole HTML page of `status` that says `title` and nothing of the JSON shape."""
    assert response.status_code == status, (response.request.url, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text and f"<h1>{title}</h1>" in response.text
    assert '"error"' not in response.text and "BAD_REQUEST" not in response.text


def assert_fragment(response: httpx.Response, status: int, title: str) -> None:
    """The htmx form of the error: no page around it, sent to the error area."""
    assert response.status_code == status, (response.request.url, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" not in response.text and f'<h2 class="error">{title}</h2>' in response.text
    assert response.headers["HX-Retarget"] == "#page-error"
    assert response.headers["HX-Reselect"] == "#page-error-message"
    assert 'id="page-error-message"' in response.text


def assert_json(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, (response.request.url, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == code


def failing(exc: Exception) -> Any:
    async def fail(*args: Any, **kwargs: Any) -> NoReturn:
        raise exc

    return fail


async def test_unreadable_and_over_long_filters_are_ignored_on_every_page(
    ingest: Ingest,
) -> None:
    admin = await as_admin(ingest)
    addresses = pages(ingest)
    assert {"/overview", "/dialogues", "/reviews", "/devices", "/users"} <= set(addresses)
    query = urlencode(UNREADABLE)
    for path in addresses:
        for htmx in (False, True):
            response = await admin.get(f"{path}?{query}", htmx=htmx)
            assert response.status_code == 200, (path, htmx, response.text[:300])
            if path.endswith((".csv", ".json")):  # the exports: a file, filtered by default
                assert response.headers["content-disposition"].startswith("attachment")
            else:
                assert response.headers["content-type"].startswith("text/html"), path
    # The overview shows the default period as if no filter had been given.
    default = await admin.get("/overview")
    ignored = await admin.get(f"/overview?from={LONG}&to={HUGE}&point={LONG}&register={HUGE}")
    dates = re.compile(r'name="(?:from|to)"[^>]*value="([^"]*)"')
    assert dates.findall(ignored.text) == dates.findall(default.text)
    assert len(dates.findall(default.text)) == 2


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
async def test_a_form_field_too_long_is_a_400_page(ingest: Ingest, htmx: bool) -> None:
    admin = await as_admin(ingest)
    response = await admin.post("/devices/points", {"name": "Т" * 1001}, htmx=htmx)
    if htmx:
        assert_fragment(response, 400, "Неверный запрос")
    else:
        assert_page(response, 400, "Неверный запрос")
    assert "Т" * 100 not in response.text  # the value is not echoed back
    login = await ingest.http.post("/login", data={"login": "x" * 201}, headers=BROWSER)
    assert_page(login, 400, "Неверный запрос")


async def test_an_unknown_dialogue_or_address_is_a_404_page(ingest: Ingest) -> None:
    admin = await as_admin(ingest)
    for dialogue in (uuid.uuid4(), "not-a-uuid", HUGE):
        assert_page(await admin.get(f"/dialogues/{dialogue}"), 404, "Диалог не найден")
        assert_page(await admin.get(f"/dialogues/{dialogue}/audio"), 404, "Диалог не найден")
    # Addresses no route has, as a browser and as htmx ask for them.
    headers = {**admin.cookie, **BROWSER}
    for path in (f"/dialogues/{uuid.uuid4()}/nothing", "/no-such-page"):
        missing = await ingest.http.get(path, headers=headers)
        assert_page(missing, 404, "Страница не найдена")
        assert_fragment(
            await ingest.http.get(path, headers={**admin.cookie, **HTMX}),
            404,
            "Страница не найдена",
        )
    wrong_method = await ingest.http.delete("/overview", headers=headers)
    assert_page(wrong_method, 405, "Недопустимый запрос")
    assert wrong_method.headers["allow"] == "GET"


@pytest.mark.parametrize(
    ("error", "status", "title"),
    [
        (RuntimeError(SECRET), 500, "Ошибка на сервере"),
        (PoolTimeout(SECRET), 503, "Сервис временно недоступен"),
    ],
    ids=["unhandled", "database-away"],
)
async def test_a_failure_is_a_page_that_shows_nothing_of_it(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int, title: str
) -> None:
    admin = await as_admin(ingest)
    monkeypatch.setattr("salescontrol.dashboard.routes.overview.overview", failing(error))
    page = await admin.get("/overview")
    assert_page(page, status, title)
    fragment = await admin.get("/overview", htmx=True)
    assert_fragment(fragment, status, title)
    for response in (page, fragment):
        assert SECRET not in response.text and type(error).__name__ not in response.text
        assert "Traceback" not in response.text and "overview.py" not in response.text
    if status == 503:  # the database away: the service says when to ask again
        assert int(page.headers["retry-after"]) >= 1


async def test_a_refusal_asked_by_htmx_is_a_fragment(ingest: Ingest) -> None:
    admin = await as_admin(ingest)
    forged = SignedIn(admin.ingest, admin.token, "not-the-token")
    response = await forged.post("/devices/points", {"name": "Точка"}, htmx=True)
    assert_fragment(response, 403, "Нет доступа")
    assert "Форма устарела" in response.text


async def test_the_api_keeps_its_json_errors_even_asked_by_a_browser(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = ingest.http
    headers = {**ingest.admin, **BROWSER}
    bad = await api.post("/api/v1/dialogues/not-a-uuid/reanalyse", headers=headers)
    assert_json(bad, 400, "BAD_REQUEST")
    unknown = await api.post(f"/api/v1/dialogues/{uuid.uuid4()}/reanalyse", headers=headers)
    assert_json(unknown, 404, "NOT_FOUND")
    assert_json(await api.get("/api/v1/no-such-thing", headers=BROWSER), 404, "NOT_FOUND")
    assert_json(await api.get("/internal/v1/no-such-thing", headers=BROWSER), 404, "NOT_FOUND")
    assert_json(await api.delete("/api/v1/auth/login", headers=BROWSER), 405, "METHOD_NOT_ALLOWED")

    where = "salescontrol.ingest.routes.dialogues.request_reanalysis"
    monkeypatch.setattr(where, failing(RuntimeError(SECRET)))
    crashed = await api.post(f"/api/v1/dialogues/{uuid.uuid4()}/reanalyse", headers=headers)
    assert_json(crashed, 500, "INTERNAL")
    assert SECRET not in crashed.text
    monkeypatch.setattr(where, failing(PoolTimeout(SECRET)))
    away = await api.post(f"/api/v1/dialogues/{uuid.uuid4()}/reanalyse", headers=headers)
    assert_json(away, 503, "SERVICE_UNAVAILABLE")
