"""The whole of SalesControl on this machine, for the end-to-end tests and the
pipeline benchmark: the embedded PostgreSQL, `salescontrol serve`, the recorder
agent uploading a synthesized shop day, the workers as real processes, and the
Ollama stub standing in for the judge.

Settings are production's, by default with short leases and backoffs, so that a
killed worker's job is taken over in seconds instead of minutes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml
from sqlalchemy import func, select

from salescontrol.accounts import add_user
from salescontrol.db.engine import make_engine, session_factory
from salescontrol.db.models import Job
from salescontrol.recorder.chunk import ChunkMeta
from salescontrol.recorder.spool import Spool
from tests.salescontrol.e2e.judge import upsell_reply
from tests.salescontrol.ingest.service import ADMIN_LOGIN, ADMIN_PASSWORD
from tests.salescontrol.server import IngestProcess, register_devices
from tests.support import ROOT
from tests.support.net import free_port, stop
from tests.support.ollama_stub import OllamaStub
from tests.support.shopday import ShopDay

INTERNAL_TOKEN = "lab-internal-token"
FAST = {
    "jobs": {"lease_s": 4, "max_attempts": 8, "retry_initial_s": 0.5, "retry_max_s": 2},
    "workers": {"poll_s": 0.2, "renew_every_s": 1},
}


def lab_settings(folder: Path, fast: bool) -> Path:
    data = yaml.safe_load((ROOT / "settings.yaml").read_text(encoding="utf-8"))
    for section, values in FAST.items() if fast else ():
        data["salescontrol"][section].update(values)
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


class Lab:
    def __init__(self, database_url: str, root: Path, fast: bool = True):
        self.database_url = database_url
        self.fast = fast
        self.root = root
        self.stub = OllamaStub(fallback=upsell_reply)
        self.server: IngestProcess | None = None
        self.token = ""
        self.workers: list[subprocess.Popen[bytes]] = []
        self.env: dict[str, str] = {}

    async def start(self) -> None:
        self.stub.start()
        await add_user(self.database_url, ADMIN_LOGIN, ADMIN_PASSWORD, "admin")
        self.env = {
            "SETTINGS_PATH": str(lab_settings(self.root, self.fast)),
            "OLLAMA_BASE_URL": self.stub.url,
            "SALESCONTROL_INTERNAL_TOKEN": INTERNAL_TOKEN,
            "LOG_LEVEL": "WARNING",
        }
        self.server = IngestProcess(
            self.database_url, self.root / "audio", self.root / "ingest.log", **self.env
        )
        await asyncio.to_thread(self.server.start)
        [self.token] = await asyncio.to_thread(register_devices, self.server.url, 1)

    async def stop(self) -> None:
        for proc in self.workers:
            stop(proc)
        if self.server is not None:
            self.server.stop()
        self.stub.stop()

    # -- the recorder -------------------------------------------------------------

    async def feed(self, day: ShopDay, timeout_s: float = 120) -> None:
        """Upload the day's chunks through the recorder agent: queued in its spool
        as if it had recorded them, sent by its uploader (recording is off: the
        configured hours are not now)."""
        assert self.server is not None
        spool = Spool(self.root / "spool")
        spool.prepare()
        for chunk in day.chunks:
            target = spool.audio("recording", chunk.index)
            target.write_bytes(chunk.path.read_bytes())
            data = target.read_bytes()
            spool.admit(
                target,
                ChunkMeta.new(chunk.index, chunk.start, chunk.duration_s, len(data),
                              hashlib.sha256(data).hexdigest()),
            )  # fmt: skip
        later = datetime.now(UTC) + timedelta(hours=3)
        config = self.root / "recorder.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "server": {"url": self.server.url, "token": self.token,
                               "retry_initial_s": 0.2, "retry_max_s": 2},
                    "recording": {
                        "source": "lavfi:anullsrc", "chunk_s": 60, "timezone": "UTC",
                        "hours": {"start": f"{later:%H:%M}",
                                  "end": f"{later + timedelta(minutes=1):%H:%M}"},
                    },
                    "spool": {"dir": str(spool.root), "max_bytes": "1GB", "min_free_bytes": 0},
                    "health": {"port": free_port()},
                }
            )
        )  # fmt: skip
        agent = subprocess.Popen(
            [sys.executable, "-m", "salescontrol", "recorder", "--config", str(config)],
            cwd=ROOT, stderr=(self.root / "agent.log").open("ab"),
        )  # fmt: skip
        try:
            deadline = time.monotonic() + timeout_s
            while len(spool.seqs("sent")) < len(day.chunks):
                assert agent.poll() is None, "the recorder agent exited"
                assert time.monotonic() < deadline, "the recorder did not upload the day"
                await asyncio.sleep(0.2)
            assert spool.seqs("failed") == []
        finally:
            stop(agent)

    # -- workers ------------------------------------------------------------------

    def worker_env(self) -> dict[str, str]:
        assert self.server is not None
        return {
            **os.environ,
            **self.env,
            "DATABASE_URL": self.database_url,
            "SALESCONTROL_AUDIO_DIR": str(self.root / "audio"),
        }

    def spawn(self, kind: str, *extra: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "salescontrol", "worker", kind, *extra],
            cwd=ROOT, env=self.worker_env(),
            stderr=(self.root / f"worker-{kind}.log").open("ab"),
        )  # fmt: skip
        self.workers.append(proc)
        return proc

    async def pending(self) -> int:
        """Jobs still to do (queued or running)."""
        engine = make_engine(self.database_url, pool_size=1)
        try:
            async with session_factory(engine)() as session:
                count = await session.scalar(
                    select(func.count()).where(Job.state.in_(("queued", "running")))
                )
        finally:
            await engine.dispose()
        return int(count or 0)

    async def run_until_idle(self, timeout_s: float = 600) -> None:
        """Each kind of worker in turn with --until-idle, until no job is left."""
        deadline = time.monotonic() + timeout_s
        while await self.pending():
            assert time.monotonic() < deadline, "the pipeline did not finish"
            for kind in ("vad", "asr", "analysis"):
                proc = self.spawn(kind, "--until-idle")
                code = await asyncio.to_thread(proc.wait, timeout_s)
                assert code == 0, f"{kind} worker exited {code}"

    async def lease_holders(self) -> set[int]:
        """Process ids of the workers holding a running job's lease (the worker's
        name in a lease is host:pid:kind)."""
        engine = make_engine(self.database_url, pool_size=1)
        try:
            async with session_factory(engine)() as session:
                owners = await session.scalars(
                    select(Job.lease_owner).where(Job.state == "running")
                )
                return {int(o.split(":")[-2]) for o in owners if o and o.count(":") >= 2}
        finally:
            await engine.dispose()

    async def taken_over(self) -> int:
        """Jobs claimed more than once (a lease that expired, or a retry)."""
        engine = make_engine(self.database_url, pool_size=1)
        try:
            async with session_factory(engine)() as session:
                count = await session.scalar(select(func.count()).where(Job.attempts > 1))
        finally:
            await engine.dispose()
        return int(count or 0)

    def upload_again(self, sent_meta: Path) -> httpx.Response:
        """A chunk the recorder already sent, sent again as it would after a lost
        answer: the same id, start, bytes and checksum."""
        assert self.server is not None
        meta = json.loads(sent_meta.read_text())
        body = sent_meta.with_suffix(".opus").read_bytes()
        return httpx.put(
            f"{self.server.url}/api/v1/devices/me/chunks/{meta['id']}",
            content=body,
            headers={"Authorization": f"Bearer {self.token}", "X-Chunk-Start": meta["start"],
                     "X-Chunk-Sha256": hashlib.sha256(body).hexdigest()},
            timeout=30,
        )  # fmt: skip

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
