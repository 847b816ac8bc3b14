"""`POST /admin/kb/reload`: re-read the knowledge base without a restart."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AuthDep, RuntimeDep
from api.kb_reload import reload_kb
from api.schemas import KBReloaded
from core.http import APIError, openapi_error_responses
from kb import KBError

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post(
    "/kb/reload",
    response_model=KBReloaded,
    responses=openapi_error_responses(400, 401),
    summary="Re-read the knowledge base without a restart (also: SIGHUP)",
)
async def reload_knowledge_base(runtime: RuntimeDep, _: AuthDep) -> KBReloaded:
    try:
        kb = await reload_kb(runtime.kb)
    except KBError as exc:
        current = runtime.kb.current.content_hash[:12]
        first = "; ".join(exc.errors[:3])
        raise APIError(
            400, f"KB is invalid ({len(exc.errors)} errors, still serving {current}): {first}"
        ) from None
    return KBReloaded(status="reloaded", sections=len(kb.sections), content_hash=kb.content_hash)
