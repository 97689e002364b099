"""Bulk upsert that works the same on SQLite and PostgreSQL (both speak ON CONFLICT)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, String, Table, any_, bindparam, func, select
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
    most of the time of a 10,000-person batch's key lookup). On SQLite it is ``column IN (SELECT value
    FROM json_each(:json))``, one bound JSON text: SQLite still searches the index per value, and
    SQLAlchemy no longer renders (and the driver binds) 10,000 placeholders (measured: twice as fast
    in SQLite, and the expanding IN was ~7 % of a first 20,000-person sync). Elsewhere a plain IN.
    """
    listed = list(values)
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, listed, type_=postgresql.ARRAY(column.type)))
    if conn.dialect.name == "sqlite" and all(type(value) in (str, int) for value in listed):
        each = func.json_each(bindparam(None, json.dumps(listed), type_=String)).table_valued("value")
        return column.in_(select(each.c.value))
    return column.in_(listed)


def upsert_tuples(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str],
) -> None:
    """:func:`upsert` for rows given as plain tuples in ``columns`` order, through the driver's executemany.

    The same ``INSERT .. ON CONFLICT (keys) DO UPDATE`` on SQLite and PostgreSQL, but each value goes
    through its column type's bind processor once (JSON to text, datetimes to SQLite's text form:
    exactly what SQLAlchemy would store) and the rows go to ``cursor.executemany`` as tuples, without
    SQLAlchemy's per-row parameter dicts (measured: most of the cost of writing 100,000 people).
    """
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name not in ("sqlite", "postgresql"):
        upsert(conn, table, [dict(zip(columns, row, strict=True)) for row in rows], keys=keys, update=update)
        return
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    marks = []
    processors: list[tuple[int, Any]] = []
    for index, name in enumerate(columns):
        column_type = table.c[name].type
        processor = column_type._cached_bind_processor(dialect)
        if processor is not None:
            processors.append((index, _faster(column_type, processor)))
        cast = "::json" if dialect.name == "postgresql" and isinstance(column_type, JSON) else ""
        marks.append(mark + cast)
    names = ", ".join(quote(name) for name in columns)
    action = ("DO UPDATE SET " + ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)) if update \
        else "DO NOTHING"
    sql = (f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join(marks)}) "
           f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) {action}")
    if processors:
        converted = []
        for row in rows:
            values = list(row)
            for index, processor in processors:  # None too: a JSON column stores None as 'null', as SQLAlchemy does
                values[index] = processor(values[index])
            converted.append(tuple(values))
        rows = converted
    conn.exec_driver_sql(sql, list(rows))


_ENCODE_STR = json.encoder.encode_basestring_ascii  # what json.dumps uses for a str (ensure_ascii)


def _faster(column_type: Any, processor: Any) -> Any:
    """``processor`` with the common values short-cut, giving the same text.

    JSON: a list of str (addresses, groups) is written as ``json.dumps`` writes it, without its
    encoder machinery; None stays JSON ``null`` as SQLAlchemy writes it. DateTime: the same moment
    (a batch's ``now`` in every row) is converted once.
    """
    if isinstance(column_type, JSON):
        def json_value(value: Any) -> Any:
            if type(value) is list and all(type(item) is str for item in value):
                return "[" + ", ".join(map(_ENCODE_STR, value)) + "]"
            return processor(value)
        return json_value
    last: list[Any] = [object(), None]

    def remembered(value: Any) -> Any:
        if value is last[0]:
            return last[1]
        converted = processor(value)
        last[0], last[1] = value, converted
        return converted
    return remembered



def rows_where_in(conn: Connection, columns: Sequence[str], table: Table, column: str, values: Iterable[Any],
                  *, equal: tuple[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """``SELECT columns FROM table WHERE [equal[0] = equal[1] AND] column IN values`` as plain tuples.

    Through the DBAPI cursor (no result objects per row: a batch reads 10,000 rows this way), the IN
    as :func:`one_of` writes it: ``json_each`` on SQLite, ``= ANY(array)`` on PostgreSQL. For columns
    whose raw driver value is what the caller wants (ids, text); other dialects take SQLAlchemy.
    """
    listed = list(values)
    if not listed:
        return []
    dialect = conn.dialect.name
    quote = conn.dialect.identifier_preparer.quote
    where = f"{quote(equal[0])} = {{mark}} AND " if equal else ""
    params: list[Any] = [equal[1]] if equal else []
    if dialect == "sqlite" and all(type(value) in (str, int) for value in listed):
        sql = (f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table.name)} WHERE "
               + where.format(mark="?") + f"{quote(column)} IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(listed))
    elif dialect == "postgresql":
        sql = (f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table.name)} WHERE "
               + where.format(mark="%s") + f"{quote(column)} = ANY(%s)")
        params.append(listed)
    else:
        clause = one_of(conn, table.c[column], listed)
        stmt = select(*(table.c[c] for c in columns)).where(clause)
        if equal:
            stmt = stmt.where(table.c[equal[0]] == equal[1])
        return [tuple(row) for row in conn.execute(stmt)]
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, tuple(params))
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()
