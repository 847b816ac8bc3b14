"""What the ingest API's handlers share, built once in its lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.concurrency import KeyedLocks, SlidingWindowLimiter
from core.settings import Settings
from salescontrol.ingest.chunks import Chunks
from salescontrol.ingest.storage import AudioStore


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    store: AudioStore
    chunks: Chunks
    logins_by_address: SlidingWindowLimiter
    logins_by_name: SlidingWindowLimiter
    uploads: KeyedLocks = field(default_factory=KeyedLocks)
    """One upload of a chunk id and one of a chunk start per device at a time (a
    retry racing its original, or another chunk at the same start, waits for it)."""
