"""`GET /users/{user_id}/profile`: what the bot has learned about a customer."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AuthDep, RuntimeDep
from api.schemas import ProfileResponse, SafeId
from core.http import APIError, openapi_error_responses
from core.logs import bind, hash_id

router = APIRouter(prefix="/users", tags=["profiles"])


@router.get(
    "/{user_id}/profile",
    response_model=ProfileResponse,
    responses=openapi_error_responses(400, 401, 404),
    summary="What the bot has learned about a customer, per bot account",
)
async def profile(user_id: SafeId, runtime: RuntimeDep, _: AuthDep) -> ProfileResponse:
    # As a turn's log lines name the customer: by HMAC, never the id (a phone).
    bind(user=hash_id(user_id, runtime.api_key))
    profiles = await runtime.store.profiles_of(user_id)
    if not profiles:
        raise APIError(404, "Profile not found")
    return ProfileResponse.model_validate({"user_id": user_id, "profiles": profiles})
