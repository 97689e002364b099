"""The access writer's statements on the driver's fast path (see :mod:`accessward.sync.driver_bulk`).

A million grants go through these: the stored open grants of a batch's accounts read as plain
tuples, new or changed grants upserted by one ``executemany`` of plain tuples on the open-grant
partial unique index, and accounts and resources upserted the same way. Every statement is plain
SQL both SQLite and PostgreSQL accept (``ON CONFLICT ... DO UPDATE``, with the index predicate
``WHERE seen_to IS NULL`` for grants); the columns written are the ones the SQLAlchemy upserts wrote.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from accessward.sync import driver_bulk

ACCOUNT_COLUMNS = ("system", "external_id", "kind", "display_name", "login", "email", "employee_id", "sso", "mfa",
                   "last_active", "first_seen", "last_seen", "last_run_id")
RESOURCE_COLUMNS = ("system", "external_id", "kind", "name", "first_seen", "last_seen")
GRANT_COLUMNS = ("system", "account_id", "resource_id", "role", "level", "seen_from", "last_seen", "last_run_id",
                 "verifiable")


def _upsert_sql(conn: Connection, table: str, columns: Sequence[str], keys: Sequence[str], update: Sequence[str],
                where: str = "") -> str:
    target = f"({', '.join(keys)})" + (f" WHERE {where}" if where else "")
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({driver_bulk.marks(conn, len(columns))}) "
            f"ON CONFLICT {target} DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in update))


def upsert_accounts(conn: Connection, rows: Iterable[Sequence[Any]]) -> None:
    """Rows in :data:`ACCOUNT_COLUMNS` order; every column but the key and ``first_seen`` is updated."""
    update = [c for c in ACCOUNT_COLUMNS if c not in ("system", "external_id", "first_seen")]
    driver_bulk.executemany(conn, _upsert_sql(conn, "account", ACCOUNT_COLUMNS, ("system", "external_id"), update),
                            rows)


def upsert_resources(conn: Connection, rows: Iterable[Sequence[Any]]) -> None:
    driver_bulk.executemany(conn, _upsert_sql(conn, "resource", RESOURCE_COLUMNS, ("system", "external_id"),
                                              ("kind", "name", "last_seen")), rows)


def upsert_grants(conn: Connection, rows: Iterable[Sequence[Any]]) -> None:
    """Rows in :data:`GRANT_COLUMNS` order, on the open-grant index: a grant still open with the same
    (account, resource, role) gets the new level, verifiability and ``last_seen``; else a new interval opens."""
    driver_bulk.executemany(conn, _upsert_sql(conn, "access_grant", GRANT_COLUMNS,
                                              ("account_id", "resource_id", "role"),
                                              ("level", "last_seen", "last_run_id", "verifiable"), "seen_to IS NULL"),
                            rows)


def row_ids(conn: Connection, table: str, system: str, external_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """(external_id, id) of a system's accounts or resources."""
    out: list[tuple[Any, ...]] = []
    for chunk in driver_bulk.chunks(external_ids):
        where, params = driver_bulk.any_of(conn, "external_id", chunk)
        out += driver_bulk.rows(conn, f"SELECT external_id, id FROM {table} WHERE system = {driver_bulk.mark(conn)} "
                                      f"AND {where}", [system, *params])
    return out


def open_grants_of(conn: Connection, account_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """(account_id, resource_id, role, level, verifiable, id, system) of the open grants of these accounts.

    By account id and ``seen_to IS NULL`` only, so the planner takes the open-grant index of the
    accounts: with "system = ?" in the WHERE, SQLite (no statistics) picks ix_grant_system_open and
    scans every open grant of the system for each batch (measured: quadratic at 1M grants). The
    caller drops rows of another system.
    """
    out: list[tuple[Any, ...]] = []
    for chunk in driver_bulk.chunks(account_ids):
        where, params = driver_bulk.any_of(conn, "account_id", chunk)
        out += driver_bulk.rows(conn, "SELECT account_id, resource_id, role, level, verifiable, id, system "
                                      f"FROM access_grant WHERE {where} AND seen_to IS NULL", params)
    return out
