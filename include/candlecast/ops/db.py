"""PostgreSQL access (psycopg 3) and schema migrations (alembic, applied idempotently)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from candlecast.settings import Settings

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "candlecast_schema_version"
MIGRATION_LOCK_KEY = 0x63616E646C65  # pg advisory lock id: "candle"


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    from candlecast.ops.embedded import start_postgres

    return start_postgres(settings.home)


def sqlalchemy_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got scheme {scheme!r}")


@contextmanager
def connect(settings: Settings) -> Iterator[psycopg.Connection]:
    """A connection with dict rows; the block is one transaction, committed on success."""
    url = database_url(settings)
    ensure_schema(url)
    with psycopg.connect(url, row_factory=dict_row, connect_timeout=10) as conn:
        yield conn


@cache
def ensure_schema(url: str) -> None:
    """Apply pending migrations once per process; safe when several processes race."""
    migrate(url)


def migrate(url: str, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    with psycopg.connect(url, autocommit=True) as lock_conn:
        lock_conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            command.upgrade(config, revision)
        finally:
            lock_conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
