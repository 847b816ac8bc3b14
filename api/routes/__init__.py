"""The HTTP routes, one module per resource. The sales bot's API is versioned
under one prefix; the operational endpoints (health, readiness, metrics) sit at
the root, where load balancers and Prometheus look for them."""

from fastapi import APIRouter

from api.routes import admin, ops, profiles, turns

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
api_router.include_router(turns.router)
api_router.include_router(profiles.router)
api_router.include_router(admin.router)

ops_router = ops.router

__all__ = ["API_PREFIX", "api_router", "ops_router"]
