"""The service under test: its app behind an in-process HTTP client, request
bodies as n8n sends them, and the error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from api.app import create_app
from core.settings import Settings, load_settings
from core.settings.service import RateLimitSettings
from tests.support.errors import assert_error

__all__ = ["AUTH", "KEY", "assert_error", "body", "serve", "serve_app", "with_api"]

KEY = "test-key-7f3a"
AUTH = {"Authorization": f"Bearer {KEY}"}


def body(
    text: str = "Здравствуйте, нужна касса", user: str = "77022951810", **extra: Any
) -> dict[str, Any]:
    return {
        "session_id": "BOT_7000",
        "user_id": user,
        "channel": "whatsapp",
        "message": {"text": text, "timestamp_ms": 1770801587839},
        "context": {"time_of_day": "day", "timezone": "Asia/Almaty"},
        **extra,
    }


@asynccontextmanager
async def serve_app(
    settings: Settings | None = None,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan, behind an in-process HTTP client."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bot") as http,
    ):
        yield app, http


@asynccontextmanager
async def serve(settings: Settings | None = None) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_app(settings) as (_, http):
        yield http


def with_api(**changes: Any) -> Settings:
    """Settings whose `api` section has `changes` (rate limits, budgets)."""
    settings = load_settings()
    limits = {k: v for k, v in changes.items() if k in RateLimitSettings.model_fields}
    api = settings.api.model_copy(
        update={
            **{k: v for k, v in changes.items() if k not in limits},
            "rate_limit": settings.api.rate_limit.model_copy(update=limits),
        }
    )
    business = settings.business.model_copy(update={"api": api})
    return settings.model_copy(update={"business": business})
