"""Bulk upsert that works the same on SQLite and PostgreSQL (both speak ON CONFLICT)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
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
