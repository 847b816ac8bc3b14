"""What the recorder agent's tests and benchmark share: a real HTTP server that
speaks the upload contract and can be told to fail, and chunks made by ffmpeg
faster than real time.

`ChunkServer` answers, as the core server does:

    PUT  /api/v1/devices/me/chunks/{chunk_id}  -> 201 stored, 200 already stored
         (same id and sha256), 409 same id with other bytes, 400 a bad X-Chunk-Start
         or a body that does not match X-Chunk-Sha256, 401 a wrong token,
         415 a Content-Type other than audio/ogg; errors as {"error": {"code", "message"}}
    POST /api/v1/devices/me/heartbeat          -> 204

and on demand: `down()` / `up()` (connection refused meanwhile, open connections
cut), `fail_next` (the next PUTs answer a given status and headers, e.g. 503 with
Retry-After), `reject` (a given 4xx for a given chunk id), `lose_answer` (store
the chunk, then drop the connection without answering), `slow_next` (the next
PUTs are stored, then answered after that many seconds), `delay_s` (all of them).

`record_paced_pcm` runs ffmpeg as the agent does on PCM fed at a known pace (and
optionally stalled), so that the agent's chunk starts can be checked against the
true instant of their first sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from salescontrol.recorder.chunk import ChunkMeta
from salescontrol.recorder.command import COMMON, list_name, output_args
from salescontrol.recorder.completion import Completer, Run
from salescontrol.recorder.config import parse_config
from salescontrol.recorder.segments import SegmentList
from salescontrol.recorder.spool import Spool
from tests.support.net import free_port

CHUNK_PATH = re.compile(r"^/api/v1/devices/me/chunks/([0-9a-fA-F-]{36})$")
HEARTBEAT_PATH = "/api/v1/devices/me/heartbeat"
RFC3339_UTC_US = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
PROBE = ["ffprobe", "-v", "error", "-show_entries", "format=duration,start_time", "-of", "json"]
NOISE = "anoisesrc=sample_rate=16000:amplitude=0.05:seed=7"


@dataclass
class Stored:
    chunk_id: str
    body: bytes
    start: str
    sha256: str


@dataclass
class Seen:
    """One request as the server saw it; `status` is "dropped" for a lost answer."""

    method: str
    chunk_id: str | None
    status: int | str
    at: float = field(default_factory=time.monotonic)
    headers: dict[str, str] = field(default_factory=dict)


def _probe_seconds(body: bytes) -> float | None:
    with tempfile.NamedTemporaryFile(suffix=".opus") as tmp:
        tmp.write(body)
        tmp.flush()
        out = subprocess.run(
            [*PROBE, tmp.name],
            capture_output=True,
            timeout=30,
        )
    try:
        fmt = json.loads(out.stdout)["format"]
        return float(fmt["duration"]) - float(fmt.get("start_time", 0))
    except (KeyError, ValueError):
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.connections: set[socket.socket] = set()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.connections.discard(request)
        super().shutdown_request(request)


class ChunkServer:
    def __init__(self, token: str = "device-token-for-tests", port: int | None = None) -> None:
        self.token = token
        self.port = port or free_port()
        self.lock = threading.Lock()
        self.stored: dict[str, Stored] = {}  # in the order first stored
        self.seen: list[Seen] = []
        self.heartbeats: list[dict[str, Any]] = []
        self.fail_next: list[tuple[int, dict[str, str]]] = []
        self.reject: dict[str, tuple[int, str, str]] = {}
        self.lose_answer: set[str] = set()
        self.slow_next: list[float] = []
        self.delay_s = 0.0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ChunkServer:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def up(self) -> None:
        self._server = _Server(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        for conn in list(server.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()

    def chunk_puts(self, chunk_id: str | None = None) -> list[Seen]:
        with self.lock:
            return [
                s
                for s in self.seen
                if s.method == "PUT" and (chunk_id is None or s.chunk_id == chunk_id)
            ]

    def wait_until(self, check: Callable[[], bool], timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError("the test server did not see what was awaited")
            time.sleep(0.05)

    # -- the handler ------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(
                self, status: int, body: Any = None, headers: dict[str, str] | None = None
            ) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, code: str, message: str, chunk_id: str | None) -> None:
                outer._note(self.command, chunk_id, status, self.headers)
                self._answer(status, {"error": {"code": code, "message": message}})

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def do_POST(self) -> None:
                body = self._body()
                if self.path != HEARTBEAT_PATH:
                    self._error(404, "not_found", "no such path", None)
                elif self.headers.get("Authorization") != f"Bearer {outer.token}":
                    self._error(401, "unauthorized", "bad device token", None)
                else:
                    with outer.lock:
                        outer.heartbeats.append(json.loads(body))
                    outer._note("POST", None, 204, self.headers)
                    self._answer(204)

            def do_PUT(self) -> None:
                body = self._body()
                match = CHUNK_PATH.match(self.path)
                chunk_id = match[1] if match else None
                start = self.headers.get("X-Chunk-Start", "")
                sha = hashlib.sha256(body).hexdigest()
                if chunk_id is None:
                    return self._error(404, "not_found", "no such path", None)
                if self.headers.get("Authorization") != f"Bearer {outer.token}":
                    return self._error(401, "unauthorized", "bad device token", chunk_id)
                if self.headers.get("Content-Type") != "audio/ogg":
                    return self._error(415, "unsupported_media_type", "audio/ogg only", chunk_id)
                if not RFC3339_UTC_US.match(start):
                    return self._error(400, "bad_start", f"X-Chunk-Start {start!r}", chunk_id)
                if self.headers.get("X-Chunk-Sha256") != sha:
                    return self._error(400, "sha256_mismatch", "body does not match", chunk_id)
                with outer.lock:
                    if outer.fail_next:
                        status, headers = outer.fail_next.pop(0)
                        outer.seen.append(Seen("PUT", chunk_id, status, headers=dict(self.headers)))
                        return self._answer(
                            status, {"error": {"code": "unavailable", "message": "try later"}},
                            headers,
                        )  # fmt: skip
                    if chunk_id in outer.reject:
                        status, code, message = outer.reject[chunk_id]
                        outer.seen.append(Seen("PUT", chunk_id, status, headers=dict(self.headers)))
                        return self._answer(status, {"error": {"code": code, "message": message}})
                    known = outer.stored.get(chunk_id)
                    if known is not None and known.sha256 != sha:
                        status = 409
                    elif known is not None:
                        status = 200
                    else:
                        outer.stored[chunk_id] = Stored(chunk_id, body, start, sha)
                        status = 201
                    delay = outer.slow_next.pop(0) if outer.slow_next else outer.delay_s
                    lose = status == 201 and chunk_id in outer.lose_answer
                    outer.lose_answer.discard(chunk_id)
                    outer.seen.append(
                        Seen(
                            "PUT",
                            chunk_id,
                            "dropped" if lose else status,
                            headers=dict(self.headers),
                        )
                    )
                if delay:
                    time.sleep(delay)
                if lose:
                    self.close_connection = True
                    return None
                if status == 409:
                    return self._answer(
                        409, {"error": {"code": "conflict", "message": "other bytes"}}
                    )
                duration = _probe_seconds(body)
                started = datetime.fromisoformat(start)
                ended = started + timedelta(seconds=duration or 0)
                self._answer(status, {
                    "chunk_id": chunk_id, "started_at": started.isoformat(timespec="microseconds"),
                    "ended_at": ended.isoformat(timespec="microseconds"), "duration_s": duration,
                    "size_bytes": len(body), "sha256": sha,
                })  # fmt: skip
                return None

        return Handler

    def _note(self, method: str, chunk_id: str | None, status: int, headers: Any) -> None:
        with self.lock:
            self.seen.append(Seen(method, chunk_id, status, headers=dict(headers)))


# -- chunks made faster than real time ---------------------------------------------


def encode_chunks(directory: Path, count: int, seconds: int, source: str = NOISE) -> list[Path]:
    """`count` Ogg Opus files of `seconds` each, cut by ffmpeg from one stream."""
    directory.mkdir(parents=True, exist_ok=True)
    args = [
        "ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", source,
        "-t", str(count * seconds), "-ac", "1", "-ar", "16000",
        "-c:a", "libopus", "-b:a", "24k",
        "-f", "segment", "-segment_format", "opus", "-segment_time", str(seconds),
        "-reset_timestamps", "1", str(directory / "%04d.opus"),
    ]  # fmt: skip
    subprocess.run(args, check=True, timeout=120)
    return sorted(directory.glob("*.opus"))[:count]


def queue_chunks(
    spool: Spool, count: int, seconds: int, first_start: datetime, work: Path, first_seq: int = 0
) -> list[ChunkMeta]:
    """Put `count` consecutive chunks in the outbox, as the agent would have."""
    spool.prepare()
    metas = []
    for i, path in enumerate(encode_chunks(work, count, seconds)):
        seq = first_seq + i
        target = spool.audio("recording", seq)
        path.replace(target)
        data = target.read_bytes()
        meta = ChunkMeta.new(
            seq,
            first_start + timedelta(seconds=seconds * i),
            float(seconds),
            len(data),
            hashlib.sha256(data).hexdigest(),
        )
        spool.admit(target, meta)
        metas.append(meta)
    return metas


# -- chunks dated against a known clock --------------------------------------------


@dataclass(frozen=True)
class Dated:
    seq: int
    start_us: int
    """The start the agent's code gave the chunk."""
    true_us: int
    """When the chunk's first sample was captured."""
    duration_s: float


def _feed(
    stdin: Any, block: int, rate: int, seconds: float, stall_s: float, t0: list[float]
) -> None:
    silence = b"\0\1" * block
    start = time.time()
    t0.append(start)
    stall = (0.0, 0.0)
    if stall_s:
        # Across the first 2 s boundary at least 3 s in.
        boundary = (int(start + 3) // 2 + 1) * 2
        stall = (boundary - stall_s / 2, boundary + stall_s / 2)
    n = 0
    while (n + 1) * block / rate <= seconds:
        # Block n holds the samples captured until start + (n + 1) * block / rate.
        due = start + (n + 1) * block / rate
        if stall[0] <= due < stall[1]:
            due = stall[1]  # the backlog goes in at once, as ALSA hands it over
        time.sleep(max(0.0, due - time.time()))
        stdin.write(silence)
        stdin.flush()
        n += 1
    stdin.close()


async def record_paced_pcm(
    work: Path, *, block: int, seconds: float, stall_s: float = 0.0, chunk_s: int = 2
) -> list[Dated]:
    """ffmpeg with the agent's output options, fed PCM in real time by a thread, so
    the true instant of every sample is known; `stall_s` stops the feed around a
    boundary and then hands the backlog over at once (ffmpeg starved while the
    audio kept coming). The agent's own code (`Run`) dates the segments."""
    config = parse_config({
        "server": {"url": "http://127.0.0.1:9", "token": "unused"},
        "recording": {"source": "lavfi:anullsrc", "chunk_s": chunk_s},
        "spool": {"dir": str(work), "max_bytes": "1GB", "min_free_bytes": 0},
    })  # fmt: skip
    rec = config.recording
    spool = Spool(work)
    spool.prepare()
    pcm = ["-f", "s16le", "-ar", str(rec.sample_rate), "-ac", "1", "-i", "pipe:0"]
    started_at_us = time.time_ns() // 1000
    proc = subprocess.Popen(
        ["ffmpeg", *COMMON, "-loglevel", "error", *pcm, *output_args(rec, 0)],
        cwd=spool.recording,
        env={**os.environ, "TZ": "UTC"},
        stdin=subprocess.PIPE,
    )
    t0: list[float] = []
    feeder = threading.Thread(
        target=_feed, args=(proc.stdin, block, rec.sample_rate, seconds, stall_s, t0)
    )
    feeder.start()
    # Dated as the agent dates them: each as soon as its line is there.
    run = Run(Completer(spool, chunk_s), 0, started_at_us=started_at_us)
    truth = SegmentList(spool.recording / list_name(0))
    listed: dict[int, int] = {}
    while feeder.is_alive():
        await asyncio.sleep(0.25)
        listed |= {entry.seq: entry.start_us for entry in truth.read_new()}
        await run.collect(exited=False)
    await asyncio.to_thread(proc.wait, 30)
    listed |= {entry.seq: entry.start_us for entry in truth.read_new()}
    await run.finish()
    dated = []
    for seq in spool.seqs("outbox"):
        meta = spool.load("outbox", seq)
        true_us = round(t0[0] * 1_000_000) + listed[seq]
        start_us = round(meta.start.timestamp() * 1_000_000)
        dated.append(Dated(seq, start_us, true_us, meta.duration_s))
    return dated
