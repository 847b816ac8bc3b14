"""The store's interface and the one implementation of its queries.

`Store` is what the request handlers use. `SQLStore` implements it once, over
four primitives a backend supplies (`_one`, `_all`, `_transaction` and the
schema's `setup`); api.store.sqlite and api.store.postgres supply them.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from api.store import sql
from api.store.rows import now_iso, profile_entry, profile_values
from graph.threads import thread_id_for
from graph.turn import TurnResult


@dataclass(frozen=True, slots=True)
class StoredResponse:
    response: dict[str, Any]
    fingerprint: str | None
    """What identifies the request's message (None in rows older than the column)."""


class Store(Protocol):
    """The operational tables as the service uses them."""

    @property
    def backend(self) -> str: ...

    async def setup(self) -> None: ...

    async def ping(self) -> bool: ...

    async def stored_response(
        self, session_id: str, user_id: str, request_id: str, ttl_s: float
    ) -> StoredResponse | None: ...

    async def recorded_turns(self, session_id: str, user_id: str) -> int: ...

    async def claim(
        self, session_id: str, user_id: str, request_id: str, owner: str, until: float
    ) -> bool: ...

    async def release(self, session_id: str, user_id: str, request_id: str, owner: str) -> None: ...

    async def purge_expired(self, ttl_s: float) -> int: ...

    async def record_turn(
        self,
        session_id: str,
        user_id: str,
        result: TurnResult,
        requests: Mapping[str, str],
        response: dict[str, Any],
    ) -> None: ...

    async def profiles_of(self, user_id: str) -> list[dict[str, Any]]: ...

    async def active_conversations(self, window_s: float = 86400) -> int: ...


class Writer(Protocol):
    """What a transaction offers: statements in the dialect's SQL."""

    async def execute(self, statement: str, parameters: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        ...

    async def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None: ...


class SQLStore(ABC):
    """The queries of the operational tables, for any backend."""

    dialect: sql.Dialect

    @property
    def backend(self) -> str:
        return self.dialect.name

    @abstractmethod
    async def setup(self) -> None: ...

    @abstractmethod
    async def _one(self, statement: str, parameters: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a query, as a tuple."""

    @abstractmethod
    async def _all(self, statement: str, parameters: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Every row of a query, by column name."""

    @abstractmethod
    def _transaction(self) -> AbstractAsyncContextManager[Writer]:
        """Statements committed together or not at all."""

    async def ping(self) -> bool:
        try:
            return bool(await self._one("SELECT 1") == (1,))
        except Exception:
            return False

    # --- idempotency ---

    async def stored_response(
        self, session_id: str, user_id: str, request_id: str, ttl_s: float
    ) -> StoredResponse | None:
        """The answer given to `request_id` within the last `ttl_s` seconds."""
        row = await self._one(
            sql.STORED_RESPONSE, (session_id, user_id, request_id, time.time() - ttl_s)
        )
        return StoredResponse(json.loads(row[0]), row[1]) if row else None

    async def recorded_turns(self, session_id: str, user_id: str) -> int:
        """How many of the customer's turns the operational tables know of."""
        row = await self._one(sql.RECORDED_TURNS, (session_id, user_id))
        return int(row[0]) if row else 0

    async def claim(
        self, session_id: str, user_id: str, request_id: str, owner: str, until: float
    ) -> bool:
        """Take `request_id` for a turn about to run, until `until` (Unix time);
        False while another live claim holds it (another instance runs its turn).

        Behind the per-customer lock this is the second line: it keeps a request
        answered once even when the lock is lost mid-turn (the lock's connection
        dropped while its holder goes on)."""
        now = time.time()
        row = await self._one(sql.CLAIM, (session_id, user_id, request_id, owner, until, now))
        return row is not None

    async def release(self, session_id: str, user_id: str, request_id: str, owner: str) -> None:
        """Give a claim up: the turn is recorded, or failed and may be retried."""
        async with self._transaction() as tx:
            await tx.execute(sql.RELEASE_CLAIM, (session_id, user_id, request_id, owner))

    async def purge_expired(self, ttl_s: float) -> int:
        async with self._transaction() as tx:
            return await tx.execute(sql.PURGE_EXPIRED, (time.time() - ttl_s,))

    # --- the per-turn write ---

    async def record_turn(
        self,
        session_id: str,
        user_id: str,
        result: TurnResult,
        requests: Mapping[str, str],
        response: dict[str, Any],
    ) -> None:
        """One transaction: the profile, the conversation's row, and `response` as
        the answer of every request (request_id → fingerprint) the turn answered."""
        now, ts = now_iso(), time.time()
        values = profile_values(result, now)
        async with self._transaction() as tx:
            await tx.execute(sql.UPSERT_PROFILE, (session_id, user_id, *values))
            thread_id = thread_id_for(session_id, user_id)
            await tx.execute(
                sql.UPSERT_CONVERSATION, (session_id, user_id, thread_id, result.turn, now, now, ts)
            )
            stored = json.dumps(response, ensure_ascii=False)
            await tx.executemany(
                sql.UPSERT_RESPONSE,
                [
                    (session_id, user_id, key, stored, ts, fingerprint)
                    for key, fingerprint in requests.items()
                ],
            )

    # --- reads for operations ---

    async def profiles_of(self, user_id: str) -> list[dict[str, Any]]:
        return [profile_entry(row) for row in await self._all(sql.PROFILES_OF, (user_id,))]

    async def active_conversations(self, window_s: float = 86400) -> int:
        row = await self._one(sql.ACTIVE_CONVERSATIONS, (time.time() - window_s,))
        return int(row[0]) if row else 0


__all__ = ["SQLStore", "Store", "StoredResponse", "Writer"]
