"""SalesControl's PostgreSQL data model, engine and migrations."""
