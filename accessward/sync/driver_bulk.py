"""The driver's own fast path for the few hot statements of a nightly run (grants, links, findings).

SQLAlchemy's Core ``insert()``/``select()`` costs a few microseconds per row in parameter and
result processing (measured: most of a million-grant nightly run that writes almost nothing). The
statements here go to the DBAPI cursor as plain SQL with plain tuples: ``executemany`` on SQLite
(one transaction), ``executemany`` on psycopg (pipelined), and values that need a conversion
(naive UTC datetimes on SQLite, which SQLAlchemy stores as text in its own format) are converted
once per batch with SQLAlchemy's own bind processor, so what is written here compares equal to
what SQLAlchemy writes and reads elsewhere.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime


def mark(conn: Connection) -> str:
    """The driver's placeholder: ``?`` (sqlite3) or ``%s`` (psycopg)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def marks(conn: Connection, count: int) -> str:
    return ", ".join([mark(conn)] * count)


def stamp(conn: Connection, value: datetime | None) -> Any:
    """A naive UTC datetime as the driver must receive it to match SQLAlchemy's own writes."""
    if value is None:
        return None
    processor = DateTime().dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return processor(value) if processor else value


def any_of(conn: Connection, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column IN (...)`` as SQL text and its parameters: one bound array on PostgreSQL
    (``= ANY(%s)``, see :func:`accessward.sync.bulk.one_of`), a plain IN list elsewhere."""
    if conn.dialect.name == "postgresql":
        return f"{column} = ANY({mark(conn)})", [list(values)]
    return f"{column} IN ({marks(conn, len(values))})", list(values)


def rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """All rows of one statement as plain tuples (no SQLAlchemy row or type processing)."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def execute(conn: Connection, sql: str, params: Sequence[Any] = ()) -> int:
    """One statement; the number of rows it changed."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, tuple(params))
        return int(cursor.rowcount or 0)
    finally:
        cursor.close()


def executemany(conn: Connection, sql: str, values: Iterable[Sequence[Any]]) -> None:
    """One statement over many parameter tuples, through the driver's ``executemany``."""
    batch = [tuple(v) for v in values]
    if not batch:
        return
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, batch)
    finally:
        cursor.close()


def chunks(values: Sequence[Any], size: int = 1000) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


_gc_lock = threading.Lock()
_gc_depth = 0
_gc_saved: tuple[int, int, int] = (700, 10, 10)

#: Young-generation threshold while a bulk write runs (CPython's default is 700 allocations).
BULK_GC_THRESHOLD = 50_000


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while a bulk write streams records.

    A million records and their row tuples are container objects that each count towards the
    collector's young-generation threshold; with the default (700) it runs thousands of times and,
    each older generation in turn, walks the batch held in memory: measured 30 % of the CPU of a
    nightly ``sync_access`` of 200,000 grants. Reference counting still frees every record as soon as
    it is dropped; only cycles wait a little longer. Nested and concurrent uses keep the threshold
    raised until the last one ends, then the previous thresholds come back.
    """
    global _gc_depth, _gc_saved
    with _gc_lock:
        if _gc_depth == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(_gc_saved[0], BULK_GC_THRESHOLD), *_gc_saved[1:])
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0:
                gc.set_threshold(*_gc_saved)


def stream(conn: Connection, sql: str, params: Sequence[Any] = (), size: int = 2000) -> Iterator[tuple[Any, ...]]:
    """The rows of one query as plain tuples, ``size`` at a time: a server-side cursor on PostgreSQL
    (psycopg would otherwise hold the whole answer in memory), SQLite's own stepping elsewhere."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    postgres = conn.dialect.name == "postgresql"
    cursor = dbapi.cursor(name=f"accessward_stream_{threading.get_ident()}_{id(conn)}") if postgres \
        else dbapi.cursor()  # type: ignore[call-arg]
    try:
        cursor.execute(sql, tuple(params))
        while True:
            chunk = cursor.fetchmany(size)
            if not chunk:
                return
            yield from chunk
    finally:
        cursor.close()


def datetime_reader(conn: Connection) -> Callable[[Any], datetime | None]:
    """Turns a stored naive UTC datetime as the driver returns it (text on SQLite) into a datetime."""
    processor = DateTime().dialect_impl(conn.dialect).result_processor(conn.dialect, None)
    if processor is None:
        return lambda value: value  # type: ignore[no-any-return]
    return lambda value: None if value is None else processor(value)  # type: ignore[no-any-return]
