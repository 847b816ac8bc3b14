"""The recorder agent's cost, the accuracy of its chunk starts, and the Pi's install.

    .venv/bin/python -m bench.recorder [--seconds 60] [--timing-runs 2] [--skip-install]

1. `agent`: `python -m salescontrol.recorder` (a process of its own) records
   lavfi's sine in 10 s chunks for `--seconds` and uploads them to the test
   server (tests.support.recorder, loopback). Every second the bench reads
   /proc: the agent's and ffmpeg's CPU time and resident memory; ffprobe (one
   short process per chunk) is counted from the agent's reaped children. Also
   the delivery lag (server's confirmation minus the chunk's end, from the
   sidecars in sent/) and the largest seam between consecutive chunks.
2. `timing`: the accuracy of the computed chunk starts against the truth
   (tests.support.recorder.record_paced_pcm): a feeder thread writes PCM into
   ffmpeg's stdin in real time, in 20 ms or 64 ms blocks, so the wall-clock
   instant of every sample is known; ffmpeg runs with the agent's own output
   options (2 s chunks) and the agent's code dates the segments as they close.
   Also with the feed stalled for 0.8 s across a boundary, then caught up (ffmpeg
   falling behind). Error = computed start - true start of the first sample;
   seam = |start + duration - next start|.
3. `install`: a fresh venv in /tmp with deploy/salescontrol/recorder-requirements.txt
   (from PyPI), its size (du) and packages, and `--check` run from it: the agent
   imports with nothing else installed.

Prints the figures as the last line (one JSON object).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from salescontrol.recorder.spool import Spool
from tests.support import ROOT
from tests.support.net import free_port, stop
from tests.support.recorder import ChunkServer, record_paced_pcm

TICK = os.sysconf("SC_CLK_TCK")
SINE = "lavfi:sine=frequency=440:sample_rate=16000:samples_per_frame=320"


# -- /proc -----------------------------------------------------------------------


def cpu_s(pid: int) -> tuple[float, float]:
    """(own CPU, reaped children's CPU) of a process, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime) / TICK, (cutime + cstime) / TICK


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM): resident memory now and at its peak, MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def child_named(parent: int, name: str) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm, rest = stat.split("(", 1)[1].rsplit(")", 1)
        if comm == name and int(rest.split()[1]) == parent:
            return int(entry.name)
    return None


# -- 1. the agent ----------------------------------------------------------------


def run_agent(seconds: float, work: Path) -> dict[str, Any]:
    work.mkdir(parents=True)
    health_port = free_port()
    spool_dir = work / "spool"
    with ChunkServer() as server:
        config = work / "recorder.yaml"
        settings = {
            "server": {"url": server.url, "token": server.token},
            "recording": {"source": SINE, "chunk_s": 10},
            "spool": {"dir": str(spool_dir), "min_free_bytes": 0},
            "health": {"port": health_port},
            "log_level": "WARNING",
        }
        config.write_text(yaml.safe_dump(settings))
        proc = subprocess.Popen(
            [sys.executable, "-m", "salescontrol.recorder", "--config", str(config)], cwd=ROOT
        )
        agent_rss: list[float] = []
        ffmpeg_rss: list[float] = []
        ffmpeg_pid: int | None = None
        ffmpeg_cpu = ffmpeg_peak = 0.0
        started = time.monotonic()
        try:
            while time.monotonic() - started < seconds:
                time.sleep(1)
                agent_rss.append(memory_mb(proc.pid)[0])
                ffmpeg_pid = ffmpeg_pid or child_named(proc.pid, "ffmpeg")
                if ffmpeg_pid is not None:
                    with_ffmpeg = memory_mb(ffmpeg_pid)
                    ffmpeg_rss.append(with_ffmpeg[0])
                    ffmpeg_peak = with_ffmpeg[1]
                    ffmpeg_cpu = cpu_s(ffmpeg_pid)[0]
            elapsed = time.monotonic() - started
            agent_cpu, children_cpu = cpu_s(proc.pid)
            agent_peak = memory_mb(proc.pid)[1]
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
        finally:
            stop(proc)
        stored = len(server.stored)
    spool = Spool(spool_dir)
    sent = [spool.load("sent", seq) for seq in spool.seqs("sent")]
    lags = [
        (c.uploaded_at - c.start - timedelta(seconds=c.duration_s)).total_seconds()
        for c in sent
        if c.uploaded_at is not None
    ]
    seams = [
        abs((b.start - a.start - timedelta(seconds=a.duration_s)).total_seconds()) * 1000
        for a, b in pairwise(sent)
    ]
    whole = [c.size_bytes for c in sent if abs(c.duration_s - 10) < 0.1]

    def share(cpu: float) -> float:
        return round(100 * cpu / elapsed, 2)

    return {
        "seconds": round(elapsed, 1),
        "chunk_s": 10,
        "exit_status": code,
        "chunks_uploaded": stored,
        "agent": {
            "cpu_s": round(agent_cpu, 2),
            "cpu_pct_of_one_core": share(agent_cpu),
            "rss_mb_mean": round(statistics.mean(agent_rss), 1),
            "rss_mb_peak": round(agent_peak, 1),
        },
        "ffmpeg": {
            "cpu_s": round(ffmpeg_cpu, 2),
            "cpu_pct_of_one_core": share(ffmpeg_cpu),
            "rss_mb_mean": round(statistics.mean(ffmpeg_rss), 1) if ffmpeg_rss else None,
            "rss_mb_peak": round(ffmpeg_peak, 1),
        },
        "ffprobe_cpu_s": round(children_cpu, 2),
        "chunk_bytes_10s_mean": round(statistics.mean(whole)) if whole else None,
        "delivery_lag_s": {
            "median": round(statistics.median(lags), 3) if lags else None,
            "max": round(max(lags), 3) if lags else None,
        },
        "seam_ms_max": round(max(seams), 1) if seams else None,
    }


# -- 2. start accuracy against a known clock -------------------------------------------


def timing(block: int, stall_s: float, seconds: float, work: Path) -> dict[str, Any]:
    dated = asyncio.run(record_paced_pcm(work, block=block, seconds=seconds, stall_s=stall_s))
    errors = [(c.start_us - c.true_us) / 1000 for c in dated]
    seams = [
        abs(b.start_us - a.start_us - round(a.duration_s * 1_000_000)) / 1000
        for a, b in pairwise(dated)
    ]
    return {
        "block_ms": round(1000 * block / 16000),
        "stall_s": stall_s,
        "chunks": len(dated),
        "error_ms_min": round(min(errors), 1),
        "error_ms_max": round(max(errors), 1),
        "seam_ms_max": round(max(seams), 1) if seams else None,
    }


# -- 3. the Pi's install ------------------------------------------------------------------


def install(work: Path) -> dict[str, Any]:
    work.mkdir(parents=True)
    venv = work / "venv"
    python = shutil.which("python3") or sys.executable
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    requirements = ROOT / "deploy" / "salescontrol" / "recorder-requirements.txt"
    started = time.monotonic()
    subprocess.run(
        [*pip, "install", "--quiet", "--disable-pip-version-check", "-r", str(requirements)],
        check=True,
    )
    took = time.monotonic() - started
    packages = subprocess.run(
        [*pip, "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    du = subprocess.run(["du", "-sh", str(venv)], capture_output=True, text=True).stdout.split()[0]
    size = int(
        subprocess.run(["du", "-sb", str(venv)], capture_output=True, text=True).stdout.split()[0]
    )
    site = next((venv / "lib").glob("python3*/site-packages"))
    # What the agent brings, without the pip and setuptools every venv has.
    tooling = ("pip", "setuptools", "_distutils_hack", "pkg_resources", "distutils")
    ours = [str(p) for p in site.iterdir() if p.name.split("-")[0] not in tooling]
    du_ours = subprocess.run(["du", "-scb", *ours], capture_output=True, text=True).stdout
    libs = int(du_ours.splitlines()[-1].split()[0])
    config = work / "check.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"url": "https://core.example.kz", "token": "t"},
        "recording": {"source": "alsa:default"},
    }))  # fmt: skip
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "salescontrol.recorder", "--config", str(config),
         "--check"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    return {
        "python": subprocess.run(
            [str(venv / "bin" / "python"), "--version"], capture_output=True, text=True
        ).stdout.strip(),
        "venv_du_h": du,
        "venv_bytes": size,
        "requirements_bytes": libs,
        "packages": packages,
        "install_s": round(took, 1),
        "check": (check.stdout or check.stderr).strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--timing-runs", type=int, default=2)
    parser.add_argument("--skip-install", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-recorder-") as tmp:
        work = Path(tmp)
        print(f"== the agent: lavfi, 10 s chunks, {args.seconds:.0f} s")
        result["agent"] = run_agent(args.seconds, work / "agent")
        print(json.dumps(result["agent"], indent=1))
        print("== chunk start accuracy (PCM at a known pace, 2 s chunks; a 0.8 s stall)")
        result["timing"] = [
            timing(block, stall, 11, work / f"timing-{run}-{block}-{stall}")
            for run in range(args.timing_runs)
            for block, stall in ((320, 0.0), (1024, 0.0), (320, 0.8))
        ]
        print(json.dumps(result["timing"], indent=1))
        if not args.skip_install:
            print("== the Pi's venv: recorder-requirements.txt in a fresh venv")
            result["install"] = install(work / "install")
            print(json.dumps(result["install"], indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
