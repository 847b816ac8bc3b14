"""SalesControl's ingest API under its real load: devices uploading 60 s opus chunks.

    .venv/bin/python -m bench.ingest [--devices 50] [--rate 10] [--duration 60]
                                     [--capacity-s 30] [--bitrate 24k]

A real `salescontrol serve` process (one uvicorn worker) on an embedded PostgreSQL,
both on loopback, each upload probed by ffprobe, fsynced and committed as in
production. Two phases with the same `--devices` devices:

- offered load: the devices together send `--rate` uploads per second, evenly
  spread (each device every devices/rate seconds), for `--duration` seconds —
  500 recorders each sending a 60 s chunk per minute offer 8.3 uploads/s;
- capacity: every device uploads back to back for `--capacity-s` seconds, which
  shows the most the server takes on this machine.

The load generator runs on the same cores as the server and the database, so the
figures are a lower bound. Target: ≥ 10 uploads/s with p95 ≤ 200 ms at the
offered load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.harness import cleanup, print_result, rss_mb, summary, tmpdir
from salescontrol.accounts import add_user
from tests.salescontrol.ingest.service import ADMIN_LOGIN, ADMIN_PASSWORD
from tests.salescontrol.pg import Cluster
from tests.salescontrol.server import IngestProcess, register_devices

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_chunk(path: Path, bitrate: str) -> bytes:
    """60 s of mono 16 kHz opus with speech-like variation (a sweep and noise)."""
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "sine=frequency=220:duration=60:sample_rate=16000",
            "-f", "lavfi", "-i", "anoisesrc=duration=60:amplitude=0.05:sample_rate=16000",
            "-filter_complex", "amix=inputs=2", "-ac", "1",
            "-c:a", "libopus", "-b:a", bitrate, str(path),
        ],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


class Device:
    def __init__(self, url: str, token: str, body: bytes):
        self.http = httpx.AsyncClient(
            base_url=url,
            timeout=60,
            headers={
                "Authorization": f"Bearer {token}",
                "X-Chunk-Sha256": hashlib.sha256(body).hexdigest(),
            },
        )
        self.body = body
        self.sent = 0

    async def upload(self, latencies: list[float], errors: list[int]) -> None:
        start = T0 + timedelta(minutes=self.sent)
        self.sent += 1
        began = time.perf_counter()
        response = await self.http.put(
            f"/api/v1/devices/me/chunks/{uuid.uuid4()}",
            content=self.body,
            headers={"X-Chunk-Start": start.isoformat()},
        )
        latencies.append((time.perf_counter() - began) * 1000)
        if response.status_code != 201:
            errors.append(response.status_code)


async def offered(devices: list[Device], rate: float, duration_s: float) -> dict[str, object]:
    """Each device every len(devices)/rate seconds, the devices evenly staggered."""
    period = len(devices) / rate
    latencies: list[float] = []
    errors: list[int] = []
    began = time.perf_counter()

    async def run(i: int, device: Device) -> None:
        n = 0
        while True:
            due = i * period / len(devices) + n * period
            if due >= duration_s:
                return
            await asyncio.sleep(max(0.0, due - (time.perf_counter() - began)))
            await device.upload(latencies, errors)
            n += 1

    await asyncio.gather(*(run(i, d) for i, d in enumerate(devices)))
    elapsed = time.perf_counter() - began
    return {
        "offered_per_s": rate,
        "uploads": len(latencies),
        "uploads_per_s": round(len(latencies) / elapsed, 2),
        "errors": len(errors),
        "latency_ms": summary(latencies),
    }


async def capacity(devices: list[Device], duration_s: float) -> dict[str, object]:
    latencies: list[float] = []
    errors: list[int] = []
    began = time.perf_counter()

    async def run(device: Device) -> None:
        while time.perf_counter() - began < duration_s:
            await device.upload(latencies, errors)

    await asyncio.gather(*(run(d) for d in devices))
    elapsed = time.perf_counter() - began
    return {
        "uploads": len(latencies),
        "uploads_per_s": round(len(latencies) / elapsed, 2),
        "errors": len(errors),
        "latency_ms": summary(latencies),
    }


async def measure(server: IngestProcess, pid: int, phase: str, work: object) -> dict[str, object]:
    cpu_before = cpu_seconds(pid)
    began = time.perf_counter()
    assert asyncio.iscoroutine(work)
    result: dict[str, object] = await work
    elapsed = time.perf_counter() - began
    result["server_cpu_percent_of_one_core"] = round(
        100 * (cpu_seconds(pid) - cpu_before) / elapsed, 1
    )
    result["server_rss_mb"] = round(rss_mb(pid), 1)
    return result


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    root = tmpdir("bench-ingest-")
    cluster = await asyncio.to_thread(Cluster, root / "pg")
    server = None
    try:
        url = await cluster.fresh_database()
        await add_user(url, ADMIN_LOGIN, ADMIN_PASSWORD, "admin")
        server = IngestProcess(url, root / "audio", root / "ingest.log", LOG_LEVEL="WARNING")
        await asyncio.to_thread(server.start)
        assert server.proc is not None
        pid = server.proc.pid
        tokens = await asyncio.to_thread(register_devices, server.url, args.devices)
        body = make_chunk(root / "chunk.opus", args.bitrate)
        devices = [Device(server.url, token, body) for token in tokens]
        try:
            load = await measure(server, pid, "offered", offered(devices, args.rate, args.duration))
            most = await measure(server, pid, "capacity", capacity(devices, args.capacity_s))
        finally:
            for device in devices:
                await device.http.aclose()
        return {
            "devices": args.devices,
            "chunk": {"seconds": 60, "bytes": len(body), "bitrate": args.bitrate},
            "offered_load": load,
            "capacity": most,
        }
    finally:
        if server is not None:
            server.stop()
        cluster.stop()
        with contextlib.suppress(OSError):
            cleanup(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="offered uploads per second")
    parser.add_argument("--duration", type=float, default=60.0, help="offered-load phase, s")
    parser.add_argument("--capacity-s", type=float, default=30.0, help="capacity phase, s")
    parser.add_argument("--bitrate", default="24k", help="the chunks' opus bitrate")
    args = parser.parse_args()
    print_result("SalesControl ingest", asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
