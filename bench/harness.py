"""What the service benchmarks share: an Ollama-protocol stub, the service as a
real `salesbot serve` process on loopback, percentiles, resident memory.

Benchmarks send traffic only to 127.0.0.1, in bounded loops.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from core.stats import percentile
from tests.support import ROOT, SHARED
from tests.support.net import free_port, stop

REAL_KB = SHARED / "wipon_kb"
SALESBOT = Path(sys.executable).with_name("salesbot")


API_KEY = "bench-key"
HEADERS = {"Authorization": f"Bearer {API_KEY}"}


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values), 2) if values else float("nan"),
        "mean": round(statistics.fmean(values), 2) if values else float("nan"),
    }


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def settings_file(tmp: Path, llm: dict[str, Any] | None = None, **api: Any) -> Path:
    """A copy of settings.yaml with `api` overrides (benchmarks lift rate limits)
    and `llm` ones."""
    data = yaml.safe_load((ROOT / "settings.yaml").read_text(encoding="utf-8"))
    data["llm"].update(llm or {})
    for key, value in api.items():
        if key.startswith("per_"):
            data["api"]["rate_limit"][key] = value
        else:
            data["api"][key] = value
    path = tmp / "settings.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class Service:
    url: str
    proc: subprocess.Popen[bytes]
    started_at: float
    ready_after_s: float


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120, path: str = "/ready"
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}{path}", timeout=2).status_code == 200:
                return
        time.sleep(0.02)
    raise TimeoutError("the service did not become ready")


class ServeProcess:
    """`salesbot serve` on a fixed port, to be started, killed and started again
    (several of them make the instances behind one front)."""

    def __init__(self, env: dict[str, str], url: str, log: Path):
        self.env, self.url, self.log = env, url, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, path: str = "/health") -> None:
        """Start and wait for `path` to answer 200 (/health by default: a chaos
        run's model may be "down" at the moment)."""
        out = self.log.open("ab")
        self.proc = subprocess.Popen([str(SALESBOT), "serve"], env=self.env, stdout=out, stderr=out)
        wait_ready(self.url, self.proc, path=path)

    def kill(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, timeout_s=20)


def service_env(
    ollama_url: str,
    port: int,
    *,
    kb: Path | None,
    db: Path,
    settings: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a `salesbot serve` process for a benchmark."""
    env = {
        # The service's own work, comparable from run to run: with the dense model
        # on (the default) a start with a cold cache would also embed the KB in the
        # background. The shell or `extra_env` can turn it on (bench.startup does).
        "FF_dense_retrieval": "false",
        **os.environ,
        "API_KEY": API_KEY,
        "OLLAMA_BASE_URL": ollama_url,
        "DB_PATH": str(db),
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    if kb is not None:
        env["KB_PATH"] = str(kb)
    else:
        env.pop("KB_PATH", None)
    if settings is not None:
        env["SETTINGS_PATH"] = str(settings)
    return env


@contextlib.contextmanager
def service(
    ollama_url: str,
    *,
    kb: Path | None,
    db: Path,
    settings: Path | None = None,
    extra_env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[Service]:
    port = free_port()
    env = service_env(ollama_url, port, kb=kb, db=db, settings=settings, extra_env=extra_env)
    out = log.open("wb") if log else subprocess.DEVNULL
    started = time.perf_counter()
    proc = subprocess.Popen([str(SALESBOT), "serve"], env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield Service(url, proc, started, time.perf_counter() - started)
    finally:
        stop(proc, timeout_s=20)


def process_body(
    session: str, user: str, text: str, request_id: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "session_id": session,
        "user_id": user,
        "channel": "whatsapp",
        "message": {"text": text, "timestamp_ms": int(time.time() * 1000)},
    }
    if request_id:
        body["request_id"] = request_id
    return body


class StubProcess:
    """The Ollama-protocol stub in a process of its own (so that it competes with
    neither the client nor the service for a GIL). A fixed `port` lets a scenario
    stop it ("Ollama is gone") and start it again on the same address."""

    def __init__(
        self,
        delay_s: float = 0.0,
        *,
        port: int | None = None,
        search: bool = True,
        parallel: int | None = None,
        demo: bool = False,
    ):
        self.delay_s = delay_s
        # Calls the stub serves at once, the rest queued (one GPU's capacity).
        self.parallel = parallel
        self.port = port or free_port()
        # Analyses that search the KB for the message, as real ones mostly do.
        self.search = search
        # Replies that read the message and build answers from the prompt's KB
        # facts (the stub's --demo): no two answers of a dialogue alike.
        self.demo = demo
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> StubProcess:
        args = ["--port", str(self.port), "--delay", str(self.delay_s)]
        if self.parallel:
            args += ["--parallel", str(self.parallel)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.ollama_stub", *args]
            + (["--demo"] if self.demo else ["--search"] if self.search else []),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/tags", timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)
        raise TimeoutError("the Ollama stub did not start")

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, timeout_s=10)
            self.proc = None

    def __enter__(self) -> StubProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def ollama_stub(delay_s: float = 0.0) -> Iterator[str]:
    """A stub process for the block; yields its URL."""
    with StubProcess(delay_s) as stub:
        yield stub.url


def histogram_means(text: str, metric: str, label: str) -> dict[str, float]:
    """Mean of a labelled Prometheus histogram, from its _sum and _count lines."""
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for line in text.splitlines():
        for suffix, store in (("_sum", sums), ("_count", counts)):
            if line.startswith(metric + suffix + "{"):
                name = line.split(f'{label}="', 1)[1].split('"', 1)[0]
                store[name] = float(line.rsplit(" ", 1)[1])
    return {k: round(sums[k] / counts[k], 4) for k in sums if counts.get(k)}


def counter_total(text: str, metric: str) -> float:
    """Sum of a Prometheus counter over all its labels."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(metric + "{") or line.startswith(metric + " ")
    )


def tmpdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def print_result(name: str, result: dict[str, Any]) -> None:
    """Human lines first, the machine-readable JSON object last."""
    print(f"# {name} — {machine()}")
    print(json.dumps(result, ensure_ascii=False))
