"""bulk.upsert_tuples stores exactly what the SQLAlchemy upsert stores (same text for JSON, datetimes, NULLs)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from accessward.sync.bulk import upsert, upsert_tuples
from accessward.sync.models import Person

ROW = {"source": "s", "source_key": "k", "display_name": "Zoë 二", "employee_id": None, "username": "zoe",
       "upn": None, "emails": ["zoe@example.com", "z@exämple.com"], "kind": "employee", "status": "active",
       "leave_date": datetime(2027, 1, 2, 3, 4, 5, 678), "manager_key": None, "department": "R&D",
       "groups": [], "first_seen": datetime(2026, 12, 1, 12, 0), "last_seen": datetime(2026, 12, 1, 12, 0),
       "last_run_id": 7, "missing_since": None, "sso": True, "mfa": None, "mfa_methods": None,
       "last_sign_in": None, "digest": "d", "source_digest": "ab" * 24, "stable_until": datetime(2027, 1, 2)}


def stored(engine: Engine, key: str) -> tuple[object, ...]:
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT display_name, emails, leave_date, groups, first_seen, sso, mfa, mfa_methods, stable_until, "
            "source_digest FROM person WHERE source_key = " + ("?" if conn.dialect.paramstyle == "qmark" else "%s"),
            (key,)).one()
    return tuple(str(value) for value in row)


def test_tuples_store_what_the_dict_upsert_stores_and_update_on_conflict(engine: Engine) -> None:
    table = Person.__table__  # type: ignore[attr-defined]
    update = [c for c in ROW if c not in ("source", "source_key", "first_seen")]
    with engine.begin() as conn:
        upsert(conn, table, [ROW], keys=("source", "source_key"), update=update)
        other = {**ROW, "source_key": "t"}
        upsert_tuples(conn, table, list(other), [tuple(other.values())], keys=("source", "source_key"),
                      update=update)
    assert stored(engine, "k") == stored(engine, "t")
    with engine.begin() as conn:
        again = {**ROW, "source_key": "t", "display_name": "Zoe", "emails": [], "first_seen": datetime(2030, 1, 1)}
        upsert_tuples(conn, table, list(again), [tuple(again.values())], keys=("source", "source_key"),
                      update=update)
    after = stored(engine, "t")
    assert after[0] == "Zoe" and after[1] == "[]"
    assert after[4] == stored(engine, "k")[4], "first_seen is kept on conflict"
