"""Findings: what was found, how bad, what became of it, and who decided.

Each row carries the ids an auditor ties it to (finding, account, resource, system), the risk
acceptance that covers it (owner, reason, expiry), the plan that revoked it and who approved that
plan, when the access was removed and how long it took from first sight (time-to-revoke).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, text

from accessward.connectors.records import Level
from accessward.reports.filters import Filters, Where, person_ids

FINDING_COLUMNS = (
    "id", "rule", "severity", "state", "reason", "system", "resource_id", "resource", "account_id", "account",
    "account_email", "role", "level", "person", "employee_id", "department", "person_status",
    "first_seen", "last_seen", "resolved_at",
    "exception_id", "exception_owner", "exception_reason", "exception_expires",
    "plan_id", "plan_status", "planned_by", "approved_by", "approved_at", "action_id", "action_state",
    "revoked_at", "time_to_revoke_hours",
)

FINDINGS_SQL = """
SELECT f.id, f.rule, f.severity, f.state, f.evidence, f.system, f.first_seen, f.last_seen, f.resolved_at,
       r.external_id AS resource_id, r.name AS resource, a.external_id AS account_id, a.display_name AS account,
       a.email AS account_email, g.role, g.level, g.seen_to AS grant_closed, g.closed_by,
       p.display_name AS person, p.employee_id, p.department, p.status AS person_status,
       x.id AS exception_id, x.owner AS exception_owner, x.reason AS exception_reason,
       x.expires_at AS exception_expires,
       ac.id AS action_id, ac.state AS action_state, ac.updated_at AS action_at,
       pl.id AS plan_id, pl.status AS plan_status, COALESCE(apr.email, pl.approved_by) AS approved_by,
       pl.approved_at, pe.actor AS planned_by
FROM finding f
LEFT JOIN access_grant g ON g.id = f.grant_id
LEFT JOIN resource r ON r.id = g.resource_id
LEFT JOIN account a ON a.id = f.account_id
LEFT JOIN person p ON p.id = f.person_id
LEFT JOIN (SELECT finding_id, MAX(id) AS id FROM risk_exception WHERE finding_id IS NOT NULL
           GROUP BY finding_id) xf ON xf.finding_id = f.id
LEFT JOIN risk_exception x ON x.id = COALESCE(f.exception_id, xf.id)
LEFT JOIN (SELECT finding_id, MAX(id) AS id FROM action WHERE finding_id IS NOT NULL GROUP BY finding_id) af
       ON af.finding_id = f.id
LEFT JOIN (SELECT grant_id, MAX(id) AS id FROM action WHERE state IN ('done', 'already_gone') GROUP BY grant_id) ag
       ON ag.grant_id = f.grant_id
LEFT JOIN action ac ON ac.id = COALESCE(af.id, ag.id)
LEFT JOIN plan pl ON pl.id = ac.plan_id
LEFT JOIN principal apr ON apr.id = pl.approved_by_principal_id
{planned_by}
{where}
ORDER BY f.state, f.rule, f.system, f.id
"""
#: Who created each plan (the plan.created audit event's actor); grouped once, then joined.
PLANNED_BY = """LEFT JOIN (SELECT subject, MIN(id) AS id FROM audit_event WHERE kind = 'plan.created'
           GROUP BY subject) pc ON pc.subject = 'plan:' || CAST(pl.id AS VARCHAR(20))
LEFT JOIN audit_event pe ON pe.id = pc.id"""
# Everything per finding is grouped once and joined, never a correlated subquery per row: without planner
# statistics SQLite picks the index on a state column and reads every action or event for each finding.
_TYPES: dict[str, Any] = dict(evidence=JSON, first_seen=DateTime, last_seen=DateTime, resolved_at=DateTime,
                              grant_closed=DateTime, exception_expires=DateTime, action_at=DateTime,
                              approved_at=DateTime)


def where(conn: Any, filters: Filters) -> Where:
    w = Where()
    for name, column in (("system", "f.system"), ("rule", "f.rule"), ("severity", "f.severity"),
                         ("state", "f.state"), ("department", "p.department")):
        value = getattr(filters, name)
        if value:
            w.add(f"{column} = :{name}", **{name: value})
    if filters.resource:
        w.add("(r.external_id = :resource OR r.name = :resource)", resource=filters.resource)
    if filters.person:
        w.ids("f.person_id IN :pids", "pids", person_ids(conn, filters.person))
    if filters.until:  # alive at some point of the range: seen before its end, not resolved before its start
        w.add("f.first_seen < :until", until=filters.until)
    if filters.since:
        w.add("(f.resolved_at IS NULL OR f.resolved_at >= :since)", since=filters.since)
    return w


def _hours(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 3600, 2)


def finding_rows(engine: Engine, state: str | None = None, filters: Filters | None = None) -> Iterator[dict[str, Any]]:
    filters = filters or Filters(state=state)
    if state and not filters.state:
        filters = Filters(**{**vars(filters), "state": state})
    with engine.connect() as conn:
        w = where(conn, filters)
        stmt = w.bind(text(FINDINGS_SQL.format(where=w.sql(), planned_by=PLANNED_BY))).columns(**_TYPES)
        for row in conn.execution_options(stream_results=True, yield_per=2000).execute(stmt, w.params).mappings():
            out = dict(row)
            out["reason"] = (out.pop("evidence") or {}).get("reason", "")
            if out["level"] is not None:
                try:
                    out["level"] = Level(out["level"]).name
                except ValueError:
                    pass
            revoked = out.pop("action_at") if out["action_state"] in ("done", "already_gone") else None
            closed, closed_by = out.pop("grant_closed"), out.pop("closed_by")
            if revoked is None and closed_by == "revoked":
                revoked = closed
            out["revoked_at"] = revoked
            out["time_to_revoke_hours"] = _hours(out["first_seen"], revoked)
            out.pop("action_at", None)
            yield out
