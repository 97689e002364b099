"""Bulk upsert that works the same on SQLite and PostgreSQL (both speak ON CONFLICT)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str],
    where: Any = None,
) -> None:
    """INSERT rows; on a conflict on ``keys`` update the ``update`` columns from the new row.

    ``where`` is the predicate of a partial unique index (the open-grant index).
    """
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        pg_stmt = pg.on_conflict_do_update(
            index_elements=list(keys), index_where=where,
            set_={c: pg.excluded[c] for c in update},
        ) if update else pg.on_conflict_do_nothing(index_elements=list(keys), index_where=where)
        conn.execute(pg_stmt, list(rows))
        return
    if dialect == "sqlite":
        lite = sqlite.insert(table)
        lite_stmt = lite.on_conflict_do_update(
            index_elements=list(keys), index_where=where,
            set_={c: lite.excluded[c] for c in update},
        ) if update else lite.on_conflict_do_nothing(index_elements=list(keys), index_where=where)
        conn.execute(lite_stmt, list(rows))
        return
    raise NotImplementedError(f"bulk upsert is not implemented for {dialect}")


def one_of(conn: Connection, column: Any, values: Iterable[Any]) -> Any:
    """``column IN (values)`` for a batch of thousands of keys.

    On PostgreSQL it is ``column = ANY(:array)``, one bound array: an IN list is one parameter per
    value, and psycopg and the server then parse a statement with 10,000 placeholders (measured:
    most of the time of a 10,000-person batch's key lookup). Elsewhere it is a plain IN.
    """
    listed = list(values)
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, listed, type_=postgresql.ARRAY(column.type)))
    return column.in_(listed)
