"""What the admin forms of the devices and users pages share: reading a form's
fields, and turning the services' refusals (salescontrol.fleet, salescontrol.accounts)
into a Russian message with its status, so that a bad form is a 4xx answer with a
reason, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Request
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol import fleet
from salescontrol.accounts import MIN_PASSWORD, AccountError
from salescontrol.dashboard.auth import EditorDep, Viewer
from salescontrol.ingest.deps import DbDep, get_runtime
from salescontrol.ingest.runtime import Runtime

MAX_NAME = 200
TextField = Annotated[str, Form(max_length=1000)]
"""A form field; a missing one is empty (the route says what it needs)."""

NOT_FOUND = {
    "point": "Точка не найдена.",
    "register": "Касса не найдена.",
    "device": "Устройство не найдено.",
    "user": "Пользователь не найден.",
}
CONFLICT = {
    "point_name": "Точка с таким названием уже есть.",
    "register_name": "Касса с таким названием уже есть в этой точке.",
    "device_name": "Устройство с таким именем уже есть на этой кассе.",
    "token": "Не удалось создать токен, повторите.",
    "login": "Такой логин уже занят.",
}
ACCOUNT = {
    "taken": "Такой логин уже занят.",
    "short_password": "Пароль слишком короткий: нужно не меньше {min} знаков.",
    "long_password": "Пароль слишком длинный.",
    "role": "Роль — администратор или наблюдатель.",
    "self": "Нельзя отключить себя или снять с себя роль администратора.",
    "last_admin": "Это последний включённый администратор: сначала назначьте другого.",
}


@dataclass(frozen=True, slots=True)
class Editing:
    """An admin's form as a route gets it: checked for the role and the CSRF token."""

    request: Request
    viewer: Viewer
    db: AsyncSession

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("HX-Request") == "true"

    @property
    def runtime(self) -> Runtime:
        return get_runtime(self.request)


async def _editing(request: Request, viewer: EditorDep, db: DbDep) -> Editing:
    return Editing(request, viewer, db)


EditingDep = Annotated[Editing, Depends(_editing)]


class FormError(Exception):
    """A form that cannot be applied as sent: answered with its message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a change applied shows: a notice, and a secret shown this once (a
    device's token, a generated password)."""

    notice: str
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    message: str
    status: int


async def attempt(apply: Callable[[], Awaitable[Outcome]]) -> Outcome | Refusal:
    """Apply a form; the reasons it cannot be applied as a Refusal."""
    try:
        return await apply()
    except FormError as exc:
        return Refusal(exc.message, exc.status)
    except fleet.NotFound as exc:
        return Refusal(NOT_FOUND.get(exc.what, "Запись не найдена."), 404)
    except fleet.Conflict as exc:
        return Refusal(CONFLICT.get(exc.reason, "Конфликт с существующей записью."), 409)
    except AccountError as exc:
        message = ACCOUNT.get(exc.reason, "Изменение невозможно.").format(min=MIN_PASSWORD)
        return Refusal(message, 409 if exc.reason in ("taken", "self", "last_admin") else 400)


def name(value: str, what: str) -> str:
    """A name typed into a form: trimmed, not empty, not too long."""
    text = value.strip()
    if not text:
        raise FormError(f"Укажите {what}.")
    if len(text) > MAX_NAME:
        raise FormError(f"Слишком длинное значение: не больше {MAX_NAME} знаков.")
    return text


def row_id(value: str, what: str) -> uuid.UUID:
    """A row's id from the URL; a malformed one is a row that does not exist."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise FormError(NOT_FOUND[what], 404) from None


def flag(value: str) -> bool:
    """A switch sent as "1" or "0"."""
    if value not in ("0", "1"):
        raise FormError("Неверное значение переключателя.")
    return value == "1"
