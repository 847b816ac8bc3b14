"""The dashboard's pages, one module per page (and its fragments)."""

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from salescontrol.dashboard.routes import devices, dialogues, login, overview, reviews, users

router = APIRouter(include_in_schema=False)
router.include_router(login.router)
router.include_router(overview.router)
router.include_router(dialogues.router)
router.include_router(reviews.router)
router.include_router(devices.router)
router.include_router(users.router)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/overview", status_code=303)


__all__ = ["router"]
