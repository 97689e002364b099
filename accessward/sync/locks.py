"""Named locks shared by every instance on one store.

On PostgreSQL a lock is a session-level ``pg_try_advisory_lock`` held on a connection of its own
for as long as the work runs; a process that dies drops the connection and with it the lock, so
nothing is ever left locked.

On SQLite the lock holds across processes too (a CLI ``apply`` overlapping ``serve``'s nightly
run is the common case): an exclusive ``flock`` on a lock file beside the database, one file per
lock name (``store.db.locks/apply.lock``). The kernel drops a ``flock`` when its holder closes the
file or dies, SIGKILL included, so a crash never leaves the store locked; the files themselves are
never deleted (removing a lock file while another process waits on it would split the lock). A
process-wide thread lock is taken first, so threads of one process queue without touching the
file. An in-memory SQLite store (tests) has only the thread lock: no other process can open it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
        path = lock_file(engine, name)
        if path is None:
            yield True
            return
        with _flock(path) as got:
            yield got
    finally:
        local.release()


def lock_file(engine: Engine, name: str) -> Path | None:
    """The file whose ``flock`` is the lock ``name`` of a SQLite store (None: an in-memory store)."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    slug = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60]
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return Path(f"{Path(database).resolve()}.locks") / f"{slug}-{digest}.lock"


@contextmanager
def _flock(path: Path) -> Iterator[bool]:
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a person looking
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


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
