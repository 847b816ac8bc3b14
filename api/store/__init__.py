"""Operational tables beside the graph's checkpoints, in the same database:

- `user_profiles`: what the bot learned about each customer, one row per
  (session_id, user_id), upserted after every turn;
- `conversations`: one row per thread for operations (ids, turns, last activity);
- `processed_requests`: answers by request_id (with the fingerprint of the
  message), so n8n retries are idempotent.

One interface (`Store`), one implementation of its queries (api.store.base) over
two backends: SQLite, the embedded default (api.store.sqlite), and PostgreSQL
for several instances (api.store.postgres, imported only when DATABASE_URL asks
for it: psycopg is an optional extra).
"""

from api.store.base import SQLStore, Store, StoredResponse
from api.store.sqlite import SQLiteStore, open_store

__all__ = ["SQLStore", "SQLiteStore", "Store", "StoredResponse", "open_store"]
