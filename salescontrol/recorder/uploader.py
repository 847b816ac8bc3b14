"""Delivers the outbox to the server: oldest chunk first, one at a time, in order.

    PUT {server.url}/api/v1/devices/me/chunks/{chunk_id}
    Authorization: Bearer <token>
    Content-Type: audio/ogg
    X-Chunk-Start: 2026-12-04T18:00:00.123456+00:00
    X-Chunk-Sha256: <hex of the body>
    <the Ogg Opus file>

- 201 (stored) or 200 (already stored: a retry whose first answer was lost),
  with the chunk's JSON: the chunk moves to sent/;
- any other 4xx but 408 and 429 (the server's contract names 400, 401, 403, 404,
  409, 413, 415): final, the chunk moves to failed/ with the status and the
  error body's error.code / error.message, and the next chunk goes;
- 408, 429, 5xx, any other answer, and network errors or timeouts: the same
  chunk is tried again after a backoff (`retry`), honouring Retry-After. No later
  chunk overtakes it: the server receives the day in order.

The chunk id in the URL is the idempotency key (made on the device), so a retry
never stores a chunk twice. The token goes only into the Authorization header and
is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from dataclasses import dataclass
from typing import Any

import httpx

from salescontrol.recorder.chunk import ChunkMeta
from salescontrol.recorder.config import ServerConfig
from salescontrol.recorder.retry import backoff_s, retry_after_s
from salescontrol.recorder.spool import Spool
from salescontrol.recorder.status import Status
from salescontrol.recorder.times import rfc3339, utc_now

log = logging.getLogger(__name__)

STORED = (200, 201)
RETRIED_4XX = (408, 429)


def chunk_url(base: str, chunk_id: str) -> str:
    return f"{base}/api/v1/devices/me/chunks/{chunk_id}"


@dataclass(frozen=True)
class Answer:
    kind: str  # "stored" | "final" | "retry"
    outcome: int | str  # the HTTP status, or the name of the network error
    retry_after_s: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    body: dict[str, Any] | None = None


def _error_of(response: httpx.Response) -> tuple[str | None, str]:
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        error = response.json()["error"]
        return error.get("code"), str(error.get("message", ""))[:500]
    return None, response.text[:500]


def classify(response: httpx.Response, retry_max_s: float) -> Answer:
    status = response.status_code
    if status in STORED:
        body = None
        with contextlib.suppress(ValueError):
            parsed = response.json()
            body = parsed if isinstance(parsed, dict) else None
        return Answer("stored", status, body=body)
    if 400 <= status < 500 and status not in RETRIED_4XX:
        code, message = _error_of(response)
        return Answer("final", status, error_code=code, error_message=message)
    wait = retry_after_s(response.headers.get("retry-after"), retry_max_s)
    return Answer("retry", status, retry_after_s=wait)


class Uploader:
    def __init__(
        self,
        server: ServerConfig,
        spool: Spool,
        status: Status,
        *,
        rng: random.Random | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self.server = server
        self.spool = spool
        self.status = status
        self.rng = rng or random.Random()
        self.poll_s = poll_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A new chunk is in the outbox."""
        self._wake.set()

    async def run(self, client: httpx.AsyncClient) -> None:
        while True:
            queued = await asyncio.to_thread(self.spool.seqs, "outbox")
            ready = [seq for seq in queued if self.spool.audio("outbox", seq).exists()]
            if not ready:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)
                continue
            try:
                await self.deliver(client, ready[0])
            except OSError as exc:
                # The spool's disk failing: the chunk stays queued and is tried again.
                self.status.error(f"upload of chunk {ready[0]}: {exc}")
                log.error("upload failed locally", extra={"seq": ready[0], "error": str(exc)})
                await asyncio.sleep(self.server.retry_initial_s)

    async def deliver(self, client: httpx.AsyncClient, seq: int) -> str:
        """Until the server has answered for good: "sent" or "failed"."""
        meta = await asyncio.to_thread(self.spool.load, "outbox", seq)
        attempt = 0
        while True:
            try:
                body = await asyncio.to_thread(self.spool.audio("outbox", seq).read_bytes)
            except FileNotFoundError:
                return await self._fail(seq, meta, None, "audio_missing", "audio file missing")
            if hashlib.sha256(body).hexdigest() != meta.sha256:
                # Changed on disk since it was recorded: the server would store damage.
                return await self._fail(
                    seq, meta, None, "local_sha256_mismatch", "file changed since recording"
                )
            answer = await self._put(client, meta, body)
            self.status.upload_attempted(answer.outcome)
            if answer.kind == "stored":
                return await self._sent(seq, meta, answer, attempt)
            if answer.kind == "final":
                return await self._fail(
                    seq, meta, answer.outcome, answer.error_code, answer.error_message
                )
            delay = answer.retry_after_s
            if delay is None:
                delay = backoff_s(
                    attempt, self.server.retry_initial_s, self.server.retry_max_s, self.rng
                )
            self.status.error(f"upload of chunk {seq}: {answer.outcome}")
            log.warning(
                "upload will be retried",
                extra={"seq": seq, "outcome": answer.outcome, "attempt": attempt + 1,
                       "retry_in_s": round(delay, 3)},
            )  # fmt: skip
            attempt += 1
            await asyncio.sleep(delay)

    async def _put(self, client: httpx.AsyncClient, meta: ChunkMeta, body: bytes) -> Answer:
        headers = {
            "Authorization": f"Bearer {self.server.token.get_secret_value()}",
            "Content-Type": "audio/ogg",
            "X-Chunk-Start": rfc3339(meta.start),
            "X-Chunk-Sha256": meta.sha256,
        }
        try:
            response = await client.put(
                chunk_url(self.server.url, meta.id), content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            # The class name says enough (ConnectError, ReadTimeout, RemoteProtocolError).
            return Answer("retry", type(exc).__name__)
        return classify(response, self.server.retry_max_s)

    async def _sent(self, seq: int, meta: ChunkMeta, answer: Answer, attempts: int) -> str:
        server_sha = (answer.body or {}).get("sha256")
        if server_sha is not None and server_sha != meta.sha256:
            return await self._fail(
                seq, meta, answer.outcome, "server_sha256_mismatch",
                f"the server holds other bytes under this id (sha256 {server_sha})",
            )  # fmt: skip
        done = meta.with_outcome(
            uploaded_at=utc_now(), http_status=int(answer.outcome), server=answer.body
        )
        await asyncio.to_thread(self.spool.move, seq, "outbox", "sent", done)
        self.status.uploaded()
        log.info(
            "chunk uploaded",
            extra={"seq": seq, "chunk_id": meta.id, "status": answer.outcome,
                   "retries": attempts},
        )  # fmt: skip
        return "sent"

    async def _fail(
        self, seq: int, meta: ChunkMeta, status: int | str | None, code: str | None,
        message: str | None,
    ) -> str:  # fmt: skip
        failed = meta.with_outcome(
            failed_at=utc_now(),
            http_status=status if isinstance(status, int) else None,
            error_code=code,
            error_message=message,
        )
        if self.spool.audio("outbox", seq).exists():
            await asyncio.to_thread(self.spool.move, seq, "outbox", "failed", failed)
        else:
            await asyncio.to_thread(self.spool.retire_orphan, seq, failed)
        self.status.error(f"chunk {seq} rejected: {status} {code or ''} {message or ''}".strip())
        log.error(
            "chunk rejected",
            extra={"seq": seq, "chunk_id": meta.id, "status": status, "code": code,
                   "reason": message},
        )  # fmt: skip
        return "failed"
