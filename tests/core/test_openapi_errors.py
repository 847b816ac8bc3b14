"""The OpenAPI document of an app with the shared error handlers lists the 400
they answer, never FastAPI's 422, also for a route that declares no errors."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

from core.http import install_error_handlers


class Item(BaseModel):
    name: str


def test_a_route_without_declared_errors_documents_the_400() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/items/{item_id}")
    async def add(item_id: int, item: Item) -> Item:
        return item

    document = app.openapi()
    responses = document["paths"]["/items/{item_id}"]["post"]["responses"]
    assert list(responses) == ["200", "400"]
    schema = responses["400"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
    schemas = document["components"]["schemas"]
    assert schemas["ErrorResponse"]["properties"]["error"] == {
        "$ref": "#/components/schemas/ErrorDetail"
    }
    assert set(schemas["ErrorDetail"]["required"]) == {"code", "message"}
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert app.openapi() is document, "changed once, then cached"
