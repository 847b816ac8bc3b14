"""Start-up to /ready and resident memory with the full company KB.

    .venv/bin/python -m bench.startup [--runs 3]

Measures from process start (`salesbot serve`) to the first 200 from /ready,
with a cold KB index cache (first start after a KB change) and a warm one (every
other start), and the service's resident memory (VmRSS) once ready and after
100 turns. Targets: ≤ 3 s to ready and ≤ 350 MB without the dense model.

`--dense-cache DIR` measures the default service, hybrid, instead: with the dense
index already in DIR (`KB_CACHE_DIR=DIR salesbot kb index`), the time to /ready
(which never waits for the dense index), the time until /ready reports
`kb.retrieval: hybrid`, and the memory then.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import httpx

from bench.harness import (
    HEADERS,
    REAL_KB,
    cleanup,
    ollama_stub,
    print_result,
    process_body,
    rss_mb,
    service,
    settings_file,
    summary,
    tmpdir,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dense-cache", type=Path, help="hybrid, from this index cache")
    args = parser.parse_args()
    if args.dense_cache:
        hybrid(args.dense_cache, args.runs)
        return

    kb = REAL_KB if REAL_KB.is_dir() else None
    cold: list[float] = []
    warm: list[float] = []
    rss_ready: list[float] = []
    rss_after: list[float] = []
    with ollama_stub() as ollama_url:
        for _ in range(args.runs):
            tmp = tmpdir("bench-startup-")
            settings = settings_file(
                tmp, per_key_per_minute=100_000, per_customer_per_minute=10_000
            )
            # The lexical service, as the targets say (bench.harness's default).
            env = {"KB_CACHE_DIR": str(tmp / "kb-cache")}
            try:
                with service(
                    ollama_url, kb=kb, db=tmp / "a.db", settings=settings, extra_env=env
                ) as svc:
                    cold.append(svc.ready_after_s)
                with service(
                    ollama_url, kb=kb, db=tmp / "b.db", settings=settings, extra_env=env
                ) as svc:
                    warm.append(svc.ready_after_s)
                    rss_ready.append(rss_mb(svc.proc.pid))
                    with httpx.Client(base_url=svc.url, headers=HEADERS, timeout=30) as http:
                        for i in range(100):
                            body = process_body("BOT", f"u{i % 20}", "Сколько стоит Wipon Pro?")
                            http.post("/api/v1/process", json=body).raise_for_status()
                    rss_after.append(rss_mb(svc.proc.pid))
            finally:
                cleanup(tmp)
    print_result(
        "start-up and memory",
        {
            "kb": "wipon_kb (1818 sections)" if kb else "bundled",
            "ready_s_cold_cache": summary(cold),
            "ready_s_warm_cache": summary(warm),
            "rss_mb_ready": summary(rss_ready),
            "rss_mb_after_100_turns": summary(rss_after),
        },
    )


def hybrid(cache: Path, runs: int) -> None:
    ready: list[float] = []
    switched: list[float] = []
    rss: list[float] = []
    kb = REAL_KB if REAL_KB.is_dir() else None
    env = {"KB_CACHE_DIR": str(cache), "FF_dense_retrieval": "true"}
    with ollama_stub() as ollama_url:
        for _ in range(runs):
            tmp = tmpdir("bench-startup-")
            try:
                started = time.perf_counter()
                with service(ollama_url, kb=kb, db=tmp / "a.db", extra_env=env) as svc:
                    ready.append(svc.ready_after_s)
                    with httpx.Client(base_url=svc.url, timeout=30) as http:
                        while http.get("/ready").json()["kb"]["retrieval"] != "hybrid":
                            if time.perf_counter() - started > 600:
                                raise SystemExit("not hybrid after 10 minutes")
                            time.sleep(0.05)
                    switched.append(time.perf_counter() - started)
                    rss.append(rss_mb(svc.proc.pid))
            finally:
                cleanup(tmp)
    print_result(
        "start-up, hybrid from a warm dense index",
        {
            "kb": "wipon_kb (1818 sections)" if kb else "bundled",
            "ready_s": summary(ready),
            "hybrid_s": summary(switched),
            "rss_mb_hybrid": summary(rss),
        },
    )


if __name__ == "__main__":
    main()
