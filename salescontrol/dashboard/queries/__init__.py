"""The dashboard's database queries, one module per page (SQLAlchemy, async)."""
