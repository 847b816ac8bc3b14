"""The operational tables: a turn's record is written whole or not at all, and the
records of concurrent requests do not interleave on the shared connection."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from api.app import purge_expired_answers, purge_interval
from api.store import open_store
from graph.state import make_reply
from graph.turn import TurnResult


def result(turn: int = 1, **profile: Any) -> TurnResult:
    state = {"phase": "discovery", "turn": turn}
    return TurnResult(reply=make_reply(state, {}, "Ответ."), llm_calls=2, profile=profile)


async def test_a_failed_record_leaves_nothing_and_no_lock_behind(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    async with open_store(db) as store:
        unbindable: dict[Any, Any] = {("not", "a", "key"): "fingerprint"}
        with pytest.raises(sqlite3.Error):
            await store.record_turn("S", "U", result(city="Алматы"), unbindable, {})
        # Another connection can write at once: no transaction was left open.
        other = sqlite3.connect(db, timeout=0.1, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()
        assert await store.recorded_turns("S", "U") == 0
        assert await store.profiles_of("U") == []


async def test_concurrent_records_land_whole_beside_a_failing_one(tmp_path: Path) -> None:
    async with open_store(tmp_path / "store.db") as store:

        async def record(n: int) -> None:
            requests: dict[Any, Any] = {f"req-{n}": "fp"}
            if n == 7:
                requests = {object(): "fp"}  # this one fails half-way
            await store.record_turn(
                "S", f"U{n}", result(turn=n + 1, city=f"город {n}"), requests, {"n": n}
            )

        outcomes = await asyncio.gather(*(record(n) for n in range(20)), return_exceptions=True)
        failed = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, Exception)]
        assert failed == [7]
        for n in range(20):
            stored = await store.stored_response("S", f"U{n}", f"req-{n}", 3600)
            turns = await store.recorded_turns("S", f"U{n}")
            if n == 7:
                assert (stored, turns) == (None, 0)
            else:
                assert stored is not None and stored.response == {"n": n}
                assert turns == n + 1


async def test_expired_answers_are_purged_while_the_service_runs(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    async with open_store(db) as store:
        await store.record_turn("S", "old", result(), {"req-old": "fp"}, {"answer": "старый"})
        await store.record_turn("S", "new", result(), {"req-new": "fp"}, {"answer": "новый"})
        with sqlite3.connect(db) as conn:
            conn.execute(
                "UPDATE processed_requests SET created_ts = created_ts - 7200 WHERE user_id='old'"
            )
        purger = asyncio.create_task(purge_expired_answers(store, ttl_s=3600, interval_s=0.05))
        try:
            for _ in range(100):
                if await store.stored_response("S", "old", "req-old", 10**9) is None:
                    break
                await asyncio.sleep(0.02)
            assert await store.stored_response("S", "old", "req-old", 10**9) is None
            assert await store.stored_response("S", "new", "req-new", 3600) is not None
            assert not purger.done(), "the task keeps running"
        finally:
            purger.cancel()
            with pytest.raises(asyncio.CancelledError):
                await purger


async def test_a_failed_purge_is_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    class Flaky:
        calls = 0

        async def purge_expired(self, ttl_s: float) -> int:
            self.calls += 1
            if self.calls == 1:
                raise sqlite3.OperationalError("database is locked")
            return 0

    store = Flaky()
    purger = asyncio.create_task(purge_expired_answers(store, ttl_s=1, interval_s=0.01))  # type: ignore[arg-type]
    for _ in range(100):
        if store.calls >= 2:
            break
        await asyncio.sleep(0.01)
    purger.cancel()
    assert store.calls >= 2
    [failed] = [r for r in caplog.records if r.getMessage() == "purge failed"]
    assert failed.__dict__["error_type"] == "OperationalError"


def test_purges_run_hourly_or_four_times_per_ttl() -> None:
    assert purge_interval(86400) == 3600
    assert purge_interval(600) == 150
