"""Tells the server every `heartbeat_s` that the device is alive and how it is.

    POST {server.url}/api/v1/devices/me/heartbeat   (Bearer token, JSON body)
    {"recording", "reason", "queue", "oldest_queued_at", "last_upload_at",
     "failed", "errors", "disk_free_bytes", "spool_bytes", "version"}

The server answers 204. A failure is logged and kept among the recent errors
(so the next heartbeat that gets through reports it); it is never fatal.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from salescontrol.recorder.config import ServerConfig
from salescontrol.recorder.status import Status

log = logging.getLogger(__name__)


def heartbeat_url(base: str) -> str:
    return f"{base}/api/v1/devices/me/heartbeat"


class Heartbeat:
    def __init__(self, server: ServerConfig, status: Status, interval_s: float) -> None:
        self.server = server
        self.status = status
        self.interval_s = interval_s

    async def run(self, client: httpx.AsyncClient) -> None:
        while True:
            await self.send(client)
            await asyncio.sleep(self.interval_s)

    async def send(self, client: httpx.AsyncClient) -> bool:
        headers = {"Authorization": f"Bearer {self.server.token.get_secret_value()}"}
        try:
            response = await client.post(
                heartbeat_url(self.server.url), json=self.status.heartbeat(), headers=headers
            )
        except httpx.HTTPError as exc:
            problem = type(exc).__name__
        else:
            if response.status_code == 204:
                return True
            problem = f"HTTP {response.status_code}"
        self.status.error(f"heartbeat: {problem}")
        log.warning("heartbeat failed", extra={"outcome": problem})
        return False
