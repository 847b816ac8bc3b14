"""Request and response bodies of the HTTP API (the contract of runbook §7.1)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from core.taxonomy import Intent, Outcome, Phase

# Ids come from WhatsApp/Instagram gateways: phone numbers, numeric sender ids,
# bot names. A closed alphabet keeps them safe in logs, SQL and file names.
SAFE_ID = r"^[A-Za-z0-9_.:@+\-]{1,128}$"
SafeId = Annotated[str, StringConstraints(pattern=SAFE_ID, min_length=1, max_length=128)]

# JSON may escape half of a surrogate pair ("\ud83d"), as a JavaScript gateway
# does when it cuts a message inside an emoji. Such a string cannot be encoded
# as UTF-8 (the LLM request, the checkpoint), so the half becomes U+FFFD.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Milliseconds at the end of year 9999: the checkpoint stores 64-bit integers.
MAX_TIMESTAMP_MS = 253_402_300_799_999


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str = Field(
        description="The customer's (buffered) last message", examples=["Сколько стоит?"]
    )
    timestamp_ms: int | None = Field(
        default=None, ge=0, le=MAX_TIMESTAMP_MS, examples=[1770801587839]
    )

    @field_validator("text")
    @classmethod
    def _no_lone_surrogates(cls, text: str) -> str:
        return _LONE_SURROGATE.sub("\ufffd", text)


class RequestContext(BaseModel):
    model_config = ConfigDict(extra="ignore")

    time_of_day: Literal["morning", "day", "evening", "night"] | None = None
    timezone: str | None = Field(default=None, max_length=64, examples=["Asia/Almaty"])
    meta: dict[str, Any] = Field(default_factory=dict)


class ProcessRequest(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "request_id": "6f9619ff-8b86-d011-b42d-00cf4fc964ff",
                    "channel": "whatsapp",
                    "session_id": "BOT_7000",
                    "user_id": "77022951810",
                    "message": {
                        "text": "Привет, расскажи о вашей CRM",
                        "timestamp_ms": 1770801587839,
                    },
                    "context": {"time_of_day": "day", "timezone": "Asia/Almaty"},
                }
            ]
        },
    )

    request_id: SafeId | None = Field(
        default=None, description="Makes n8n retries idempotent: a repeat returns the stored answer"
    )
    channel: Literal["whatsapp", "instagram"] | None = None
    session_id: SafeId = Field(description="Bot account id")
    user_id: SafeId = Field(description="Customer id within the bot account")
    message: Message
    context: RequestContext = Field(default_factory=RequestContext)

    @field_validator("context", mode="before")
    @classmethod
    def _null_context(cls, value: Any) -> Any:
        # Optional means it may also be sent as null, as JavaScript gateways do.
        return RequestContext() if value is None else value


class Meta(BaseModel):
    model: str
    processing_ms: int
    kb_used: bool
    phase: Phase
    intent: Intent
    handoff: bool
    outcome: Outcome | None
    turn: int


class ProcessResponse(BaseModel):
    answer: str = Field(examples=["Добрый день! Расскажите, пожалуйста, о вашей компании."])
    meta: Meta


class ProfileEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    session_id: str
    updated_at: str


class ProfileResponse(BaseModel):
    user_id: str
    profiles: list[ProfileEntry]


class Health(BaseModel):
    status: Literal["ok"]
    model: str


class KBReloaded(BaseModel):
    status: Literal["reloaded"]
    sections: int
    content_hash: str


class KBRetrieval(BaseModel):
    """How the KB ranks now. Informational: readiness never waits for it."""

    retrieval: Literal["lexical", "building", "hybrid"] = Field(
        description="lexical: the lexical index only; building: lexical while the dense"
        " index loads or builds in the background; hybrid: lexical and dense fused"
    )
    reason: str | None = Field(
        default=None, description="why not hybrid (flag off, model missing or failed)"
    )
    sections: int
    content_hash: str


class DatabaseStatus(BaseModel):
    """Where the state lives and how busy its connections are."""

    backend: Literal["sqlite", "postgresql"]
    pools: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="PostgreSQL only: per pool (data, locks) its size, available"
        " (idle) connections, max and waiting requests",
    )


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, bool]
    database: DatabaseStatus | None = None
    kb: KBRetrieval | None = None
