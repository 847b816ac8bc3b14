"""Migrations with Alembic, run from code (`salescontrol db upgrade`, the dev server,
the tests): the scripts are in salescontrol/db/migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from salescontrol.db.engine import async_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # '%' is Alembic's interpolation character; a password may contain it.
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision`. Synchronous: Alembic runs its own
    event loop, so call it from a thread when one is running."""
    command.upgrade(alembic_config(url), revision)
