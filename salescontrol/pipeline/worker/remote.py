"""A worker on another host (the ASR server): the same operations as the local
backend, over the ingest API's internal routes with the internal token. It never
talks to the database. Chunk audio is downloaded into a private temporary folder
and kept for a few jobs (consecutive dialogues often share a chunk)."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from salescontrol import jobs
from salescontrol.pipeline.inputs import NotReady
from salescontrol.pipeline.messages import ChunkAudio, DialogueSpeech, DialogueText, JobResult
from salescontrol.pipeline.service import ResultRefused

M = TypeVar("M", bound=BaseModel)
PREFIX = "/internal/v1"
KEEP_FILES = 16


class RemoteError(RuntimeError):
    """The core answered something a worker cannot go on with."""


def _message(response: httpx.Response, default: str) -> str:
    """The message of the core's error body (`{"error": {"code", "message"}}`)."""
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return default


class RemoteBackend:
    def __init__(
        self,
        base_url: str,
        token: str,
        timeout_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        """`transport`: how requests reach the core (tests: the app in-process)."""
        if not token:
            raise ValueError("SALESCONTROL_INTERNAL_TOKEN is not set")
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + PREFIX,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
            transport=transport,
        )
        self.files = Path(tempfile.mkdtemp(prefix="salescontrol-worker-"))
        self.kept: OrderedDict[uuid.UUID, Path] = OrderedDict()

    async def _post(
        self, path: str, body: dict[str, Any], *, refusable: bool = False
    ) -> httpx.Response:
        response = await self.http.post(path, json=body)
        if refusable and response.status_code == 400:
            raise ResultRefused(_message(response, path))
        if response.status_code >= 500 or response.status_code in (400, 401, 404):
            raise RemoteError(f"POST {path}: {response.status_code} {response.text[:300]}")
        return response

    async def _get(self, path: str, model: type[M]) -> M:
        response = await self.http.get(path)
        if response.status_code == 404:
            raise NotReady(_message(response, path))
        if response.status_code != 200:
            raise RemoteError(f"GET {path}: {response.status_code} {response.text[:300]}")
        return model.model_validate(response.json())

    async def claim(self, kind: str, worker: str, lease_s: float) -> jobs.Claimed | None:
        response = await self._post(
            "/jobs/claim", {"kind": kind, "worker": worker, "lease_s": lease_s}
        )
        if response.status_code == 204:
            return None
        body = response.json()
        return jobs.Claimed(
            id=body["id"],
            kind=body["kind"],
            subject_id=uuid.UUID(body["subject_id"]),
            attempts=body["attempts"],
            lease_expires_at=datetime.fromisoformat(body["lease_expires_at"]),
        )

    async def renew(self, job_id: int, worker: str, lease_s: float) -> bool:
        response = await self._post(f"/jobs/{job_id}/renew", {"worker": worker, "lease_s": lease_s})
        return response.status_code == 204

    async def finish(self, job_id: int, worker: str, result: JobResult) -> bool:
        # A 400 is the core refusing the result (it failed the job if it could).
        response = await self._post(
            f"/jobs/{job_id}/finish",
            {"worker": worker, "result": result.model_dump(mode="json")},
            refusable=True,
        )
        return response.status_code == 204

    async def fail(self, job_id: int, worker: str, error: str) -> str | None:
        response = await self._post(
            f"/jobs/{job_id}/fail", {"worker": worker, "error": error[:2000]}
        )
        return str(response.json()["state"]) if response.status_code == 200 else None

    async def chunk(self, chunk_id: uuid.UUID) -> ChunkAudio:
        return await self._get(f"/chunks/{chunk_id}", ChunkAudio)

    async def chunk_path(self, chunk_id: uuid.UUID) -> Path:
        if chunk_id in self.kept:
            self.kept.move_to_end(chunk_id)
            return self.kept[chunk_id]
        path = self.files / f"{chunk_id}.opus"
        async with self.http.stream("GET", f"/chunks/{chunk_id}/audio") as response:
            if response.status_code == 404:
                raise NotReady(f"chunk {chunk_id} is not stored")
            if response.status_code != 200:
                raise RemoteError(f"audio of chunk {chunk_id}: {response.status_code}")
            with path.open("wb") as out:
                async for piece in response.aiter_bytes():
                    out.write(piece)
        self.kept[chunk_id] = path
        while len(self.kept) > KEEP_FILES:
            _, old = self.kept.popitem(last=False)
            old.unlink(missing_ok=True)
        return path

    async def dialogue_speech(self, dialogue_id: uuid.UUID) -> DialogueSpeech:
        return await self._get(f"/dialogues/{dialogue_id}/speech", DialogueSpeech)

    async def dialogue_text(self, dialogue_id: uuid.UUID) -> DialogueText:
        return await self._get(f"/dialogues/{dialogue_id}/text", DialogueText)

    async def aclose(self) -> None:
        await self.http.aclose()
        shutil.rmtree(self.files, ignore_errors=True)
