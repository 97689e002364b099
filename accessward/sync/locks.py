"""Named locks shared by every instance on one store.

On PostgreSQL a lock is a session-level ``pg_try_advisory_lock`` held on a connection of its own
for as long as the work runs; a process that dies drops the connection and with it the lock, so
nothing is ever left locked. SQLite is the single-instance embedded default: the lock is a
process-wide one per store and name.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

_LOCAL: dict[tuple[str, str], threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (what advisory locks take)."""
    return int.from_bytes(hashlib.sha256(f"accessward:{name}".encode()).digest()[:8], "big", signed=True)


def _local(engine: Engine, name: str) -> threading.Lock:
    with _LOCAL_GUARD:
        return _LOCAL.setdefault((str(engine.url), name), threading.Lock())


@contextmanager
def try_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Yield True while holding the lock ``name``, or False at once if someone else holds it."""
    if engine.dialect.name == "postgresql":
        with _advisory(engine, name) as got:
            yield got
        return
    local = _local(engine, name)
    if not local.acquire(blocking=False):
        yield False
        return
    try:
        yield True
    finally:
        local.release()


@contextmanager
def _advisory(engine: Engine, name: str) -> Iterator[bool]:
    key = lock_key(name)
    with engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()
        if not got:
            yield False
            return
        try:
            yield True
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


@contextmanager
def wait_lock(engine: Engine, name: str, timeout: float, *, poll: float = 2.0,
              stop: threading.Event | None = None) -> Iterator[bool]:
    """Like :func:`try_lock`, but keep trying for ``timeout`` seconds (or until ``stop`` is set)."""
    deadline = time.monotonic() + timeout
    while True:
        with try_lock(engine, name) as got:
            if got:
                yield True
                return
        if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
            yield False
            return
        if stop is not None:
            stop.wait(poll)
        else:
            time.sleep(poll)
