"""The dashboard's pages, one module per page (and its fragments)."""

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from salescontrol.dashboard.routes import dialogues, login, overview, reviews

router = APIRouter(include_in_schema=False)
router.include_router(login.router)
router.include_router(overview.router)
router.include_router(dialogues.router)
router.include_router(reviews.router)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/overview", status_code=303)


__all__ = ["router"]
