"""The ingest API's routes, one module per resource, under /api/v1; the operational
ones at the root; the workers' under /internal/v1."""

from fastapi import APIRouter

from salescontrol.ingest.routes import admin, auth, devices, dialogues, internal, ops

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
api_router.include_router(devices.router)
api_router.include_router(auth.router)
api_router.include_router(admin.router)
api_router.include_router(dialogues.router)

ops_router = ops.router
internal_router = internal.router

__all__ = ["API_PREFIX", "api_router", "internal_router", "ops_router"]
