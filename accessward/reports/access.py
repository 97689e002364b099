"""Who has (or had, at a past moment) which role on which resource, matched to whom.

``access_rows`` is the state at one moment (grants are kept with the interval they were seen in);
``access_change_rows`` lists what changed between two moments (granted, removed), which the
evidence pack needs beside the state at the period's end. Both stream: a million grants never
sit in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Engine, text

from accessward.connectors.records import Level
from accessward.reports.filters import Filters, Where, person_ids

ACCESS_COLUMNS = (
    "system", "resource_kind", "resource_id", "resource", "account_id", "account", "account_kind",
    "account_email", "role", "level", "sso", "mfa", "person", "employee_id", "department", "person_status",
    "person_sso", "person_mfa", "person_mfa_methods",
    "person_source", "link", "verifiable", "seen_from", "seen_to", "findings",
)
CHANGE_COLUMNS = ("at", "change", "closed_by", *ACCESS_COLUMNS)

_SELECT = """
SELECT g.system, r.kind AS resource_kind, r.external_id AS resource_id, r.name AS resource,
       a.external_id AS account_id, a.display_name AS account, a.kind AS account_kind, a.email AS account_email,
       g.role, g.level, a.sso, a.mfa, p.display_name AS person, p.employee_id, p.department,
       p.status AS person_status,
       p.sso AS person_sso, p.mfa AS person_mfa, p.mfa_methods AS person_mfa_methods,
       p.missing_since, p.source AS person_source, l.method AS link, g.verifiable, g.seen_from, g.seen_to,
       g.closed_by, COALESCE(fc.n, 0) AS findings
FROM access_grant g
JOIN account a ON a.id = g.account_id
JOIN resource r ON r.id = g.resource_id
LEFT JOIN link l ON l.account_id = a.id
LEFT JOIN person p ON p.id = l.person_id
LEFT JOIN (SELECT grant_id, COUNT(*) AS n FROM finding WHERE state = 'open' GROUP BY grant_id) fc
       ON fc.grant_id = g.id
"""
# Open findings are counted once, grouped, and joined: a correlated COUNT per grant lets SQLite (no planner
# statistics) pick the index on finding.state and read every open finding for each of a million grants.
ACCESS_SQL = _SELECT + """WHERE g.seen_from <= :at AND (g.seen_to IS NULL OR g.seen_to > :at) {where}
ORDER BY g.system, r.name, a.display_name, g.role
"""
CHANGES_SQL = _SELECT + """WHERE ((g.seen_from >= :since AND g.seen_from < :until)
       OR (g.seen_to IS NOT NULL AND g.seen_to >= :since AND g.seen_to < :until)) {where}
ORDER BY g.system, r.name, a.display_name, g.role
"""
_TYPES: dict[str, Any] = dict(seen_from=DateTime, seen_to=DateTime, missing_since=DateTime, sso=Boolean, mfa=Boolean,
              verifiable=Boolean, person_sso=Boolean, person_mfa=Boolean, person_mfa_methods=JSON)


def _level_name(value: int) -> str:
    try:
        return Level(value).name
    except ValueError:
        return str(value)


def first_sync(engine: Engine) -> datetime | None:
    """When the store first knew anything: before it, an as-of report is empty, not "nobody had access"."""
    with engine.connect() as conn:
        found = conn.execute(text("SELECT MIN(started_at) AS first FROM sync_run WHERE status = 'succeeded'")
                             .columns(first=DateTime)).scalar()
    if isinstance(found, str):  # SQLite hands back text for an aggregate
        found = datetime.fromisoformat(found)
    return found


def as_of_warning(engine: Engine, as_of: datetime) -> str | None:
    first = first_sync(engine)
    if first is None:
        return "no sync has succeeded yet: the store knows of no access at all"
    if as_of < first:
        return (f"{as_of.isoformat(sep=' ', timespec='seconds')} is before the first sync "
                f"({first.isoformat(sep=' ', timespec='seconds')} UTC): the store cannot say who had access then")
    return None


def _where(conn: Any, filters: Filters) -> Where:
    w = Where()
    if filters.system:
        w.add("g.system = :system", system=filters.system)
    if filters.resource:
        w.add("(r.external_id = :resource OR r.name = :resource)", resource=filters.resource)
    if filters.department:
        w.add("p.department = :department", department=filters.department)
    if filters.person:
        w.ids("l.person_id IN :pids", "pids", person_ids(conn, filters.person))
    return w


def _shape(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["level"] = _level_name(out["level"])
    if out["missing_since"] is not None and out["person_status"] == "active":
        out["person_status"] = "missing from directory"
    if out["link"] in (None, "none"):
        out["person_status"] = out["person_status"] or "no matching person"
    out["verifiable"] = "yes" if out["verifiable"] else "unverifiable (manual inventory)"
    for flag in ("sso", "mfa", "person_sso", "person_mfa"):
        out[flag] = {True: "yes", False: "no"}.get(out[flag], "unknown")
    out["person_mfa_methods"] = " ".join(out["person_mfa_methods"] or [])
    return out


def access_rows(engine: Engine, as_of: datetime, filters: Filters | None = None) -> Iterator[dict[str, Any]]:
    filters = filters or Filters()
    with engine.connect() as conn:
        w = _where(conn, filters)
        stmt = w.bind(text(ACCESS_SQL.format(where=w.sql("AND")))).columns(**_TYPES)
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(stmt, {"at": as_of, **w.params})
        for row in result.mappings():
            yield _shape(row)


def access_change_rows(engine: Engine, since: datetime, until: datetime,
                       filters: Filters | None = None) -> Iterator[dict[str, Any]]:
    """Every grant that began or ended in [since, until): one row per change."""
    filters = filters or Filters()
    with engine.connect() as conn:
        w = _where(conn, filters)
        stmt = w.bind(text(CHANGES_SQL.format(where=w.sql("AND")))).columns(**_TYPES)
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(
            stmt, {"since": since, "until": until, **w.params})
        for row in result.mappings():
            shaped = _shape(row)
            if since <= row["seen_from"] < until:
                yield {"at": row["seen_from"], "change": "granted", "closed_by": None, **shaped}
            if row["seen_to"] is not None and since <= row["seen_to"] < until:
                yield {"at": row["seen_to"], "change": "removed", **shaped}
