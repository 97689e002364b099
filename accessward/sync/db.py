"""Engine creation and schema migration for the store.

SQLite is the embedded default (one file, WAL so readers don't block the nightly writer);
PostgreSQL is chosen with ``ACCESSWARD_DATABASE_URL``. The schema is owned by Alembic: tables
are never created with ``create_all`` outside tests of the migrations themselves.

Every instance upgrades the schema on start, so with several replicas they would race (two
``CREATE TABLE``s, two rows in ``alembic_version``). The upgrade therefore runs under one lock per
store: a session-level ``pg_advisory_lock`` on PostgreSQL (dropped with the connection if the
process dies), an ``flock`` on a file beside the database on SQLite. Whoever gets it second finds
the schema at head and does nothing; only the instance that migrated logs ``store.migrated``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text

from accessward.sync.locks import lock_key

ENV_URL = "ACCESSWARD_DATABASE_URL"
ENV_URL_FILE = "ACCESSWARD_DATABASE_URL_FILE"
MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = "schema-migration"
log = logging.getLogger("accessward.store")


class StoreUrlFileError(RuntimeError):
    """``ACCESSWARD_DATABASE_URL_FILE`` names a file that cannot be read (or holds no URL): a settings problem.

    The message names the file and why, never what it holds (the URL carries the database password).
    """


def resolve_url(configured: str | None) -> str:
    """The environment wins over the settings file, so one file serves dev and production.

    ``ACCESSWARD_DATABASE_URL_FILE`` names a file holding the URL (a Kubernetes Secret or a Docker
    secret mounted as a file), since the URL carries the database password. A file that is missing,
    unreadable, not text or empty raises :class:`StoreUrlFileError`.
    """
    if os.environ.get(ENV_URL):
        return os.environ[ENV_URL]
    if os.environ.get(ENV_URL_FILE):
        path = os.environ[ENV_URL_FILE]
        try:
            url = Path(path).read_text().strip()
        except OSError as exc:
            raise StoreUrlFileError(f"{ENV_URL_FILE}: cannot read {path}: {exc.strerror or type(exc).__name__}") \
                from None
        except UnicodeDecodeError:
            raise StoreUrlFileError(f"{ENV_URL_FILE}: {path} is not a text file holding a database URL") from None
        if not url:
            raise StoreUrlFileError(f"{ENV_URL_FILE}: {path} is empty; it must hold the database URL")
        return url
    return configured or "sqlite:///accessward.db"


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


@contextlib.contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold the store-wide migration lock (blocking) for the duration of the block."""
    if engine.dialect.name == "postgresql":
        key = lock_key(MIGRATION_LOCK)
        with engine.connect() as conn:
            if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                log.info("store: another instance is migrating the schema; waiting")
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield  # one process owns an in-memory store
        return
    import fcntl  # POSIX; the embedded store's lock

    with open(f"{database}.migrate-lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _current(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def upgrade(engine: Engine) -> bool:
    """Bring the schema to the newest revision under the migration lock; True if this call migrated."""
    cfg = alembic_config(engine)
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    with migration_lock(engine):
        before = _current(engine)
        if before == heads:
            return False
        command.upgrade(cfg, "heads")
        log.info("store.migrated from %s to %s", ",".join(sorted(before)) or "empty", ",".join(sorted(heads)))
        return True


def open_store(url: str | None = None) -> Engine:
    engine = make_engine(resolve_url(url))
    upgrade(engine)
    return engine
