"""What the request handlers share, built once in the app's lifespan."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from api.database import CustomerLocks, Database
from api.delivery import InSync
from api.store import Store
from core.concurrency import SlidingWindowLimiter
from core.settings import Settings
from graph.builder import SalesGraph
from graph.context import Services
from graph.threads import thread_id_for
from kb import KBHolder


@dataclass
class Runtime:
    """Everything a request handler needs."""

    settings: Settings
    services: Services
    database: Database
    kb: KBHolder
    api_key: str
    key_limiter: SlidingWindowLimiter
    customer_limiter: SlidingWindowLimiter
    auth_failures: SlidingWindowLimiter
    """Wrong keys per client address."""
    auth_refusals_logged: SlidingWindowLimiter = field(
        default_factory=lambda: SlidingWindowLimiter(1)
    )
    """The 429s of wrong keys logged per client address: one a minute."""
    in_sync: InSync = field(default_factory=InSync)
    """Customers whose tables agree with their thread (api.delivery); on a
    database shared with other instances, nobody (another instance may have
    moved the thread on since)."""

    def __post_init__(self) -> None:
        if self.database.shared:
            self.in_sync = InSync(limit=0)

    @property
    def graphs(self) -> list[SalesGraph]:
        """The graph compiled once per memory connection (api.memory_connections
        on SQLite; one graph on PostgreSQL's pool)."""
        return self.database.graphs

    @property
    def store(self) -> Store:
        return self.database.store

    @property
    def locks(self) -> CustomerLocks:
        """One turn at a time per customer (by thread id), across instances when
        the database is shared."""
        return self.database.locks

    def graph_for(self, session_id: str, user_id: str) -> SalesGraph:
        """The graph whose SQLite connection serves this customer's thread.

        The checkpointer runs every operation of its connection under one lock;
        spreading customers over several connections (same file, WAL) keeps
        hundreds of concurrent turns from queueing behind each other. A customer
        always maps to the same connection, and their turns are serialized anyway.
        """
        index = uuid.UUID(thread_id_for(session_id, user_id)).int % len(self.graphs)
        return self.graphs[index]
