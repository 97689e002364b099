"""Engine creation and schema migration for the store.

SQLite is the embedded default (one file, WAL so readers don't block the nightly writer);
PostgreSQL is chosen with ``ACCESSWARD_DATABASE_URL``. The schema is owned by Alembic: tables
are never created with ``create_all`` outside tests of the migrations themselves.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event

ENV_URL = "ACCESSWARD_DATABASE_URL"
MIGRATIONS = Path(__file__).parent / "migrations"


def resolve_url(configured: str | None) -> str:
    """The environment wins over the settings file, so one file serves dev and production."""
    return os.environ.get(ENV_URL) or configured or "sqlite:///accessward.db"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    command.upgrade(alembic_config(engine), "head")


def open_store(url: str | None = None) -> Engine:
    engine = make_engine(resolve_url(url))
    upgrade(engine)
    return engine
