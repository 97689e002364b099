"""What was done: every revocation and manual step (actions), and every offboarding receipt.

An action's trigger says why it exists: a rule's finding, an HR offboarding, a lost device, or an
access review; the plan says who started it and who approved it; the request is the exact call
sent (as shown in the plan); the outcome and attempts say what happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import DateTime, Engine, text

from accessward.connectors.records import Level
from accessward.reports.filters import Filters, Where, person_ids
from accessward.reports.findings import PLANNED_BY

ACTION_COLUMNS = (
    "id", "plan_id", "trigger", "rule", "finding_id", "system", "resource_id", "resource", "account_id", "account",
    "person", "employee_id", "role", "level", "state", "attempts", "last_error", "request",
    "plan_status", "plan_reason", "planned_by", "approved_by", "approved_at", "created_at", "updated_at",
)

ACTIONS_SQL = """
SELECT ac.id, ac.plan_id, ac.rule, ac.finding_id, ac.system, r.external_id AS resource_id, r.name AS resource,
       a.external_id AS account_id, a.display_name AS account, p.display_name AS person, p.employee_id,
       g.role, g.level, ac.state, ac.attempts, ac.last_error, ac.request,
       pl.status AS plan_status, pl.reason AS plan_reason, COALESCE(apr.email, pl.approved_by) AS approved_by,
       pl.approved_at, pe.actor AS planned_by,
       ac.created_at, ac.updated_at
FROM action ac
JOIN plan pl ON pl.id = ac.plan_id
JOIN access_grant g ON g.id = ac.grant_id
JOIN account a ON a.id = g.account_id
JOIN resource r ON r.id = g.resource_id
LEFT JOIN link l ON l.account_id = a.id
LEFT JOIN person p ON p.id = l.person_id
LEFT JOIN principal apr ON apr.id = pl.approved_by_principal_id
{planned_by}
{where}
ORDER BY ac.id
"""

OFFBOARDING_COLUMNS = (
    "request_id", "status", "person_key", "person", "employee_id", "source", "requested_by", "reason",
    "requested_at", "effective_at", "started_at", "completed_at", "item", "system", "target", "target_name",
    "resource", "resource_name", "role", "level", "item_state", "pending", "detail", "attempts", "done_at",
    "request",
)

OFFBOARDINGS_SQL = """
SELECT o.request_id, o.status, o.person_key, o.person_name AS person, o.employee_id, o.source, o.requested_by,
       o.reason, o.created_at AS requested_at, o.effective_at, o.started_at, o.completed_at, o.person_ids,
       i.kind AS item, i.system, i.target, i.target_name, i.resource, i.resource_name, i.role, i.level,
       i.state AS item_state, i.detail, i.attempts, i.done_at, i.request
FROM offboarding o
LEFT JOIN offboarding_item i ON i.offboarding_id = o.id
{where}
ORDER BY o.created_at, o.id, i.id
"""
FINAL_ITEM_STATES = ("done", "already_gone")


def trigger(rule: str) -> str:
    """Why an action exists, from the rule it carries (``offboarding``, ``lost_device``, ``review``...)."""
    first = rule.split("+", 1)[0]
    return {"offboarding": "offboarding", "lost_device": "lost device", "review": "access review"}.get(
        first, f"rule {rule}")


def _level(value: Any) -> Any:
    try:
        return Level(value).name if value is not None else None
    except ValueError:
        return value


def action_rows(engine: Engine, filters: Filters | None = None) -> Iterator[dict[str, Any]]:
    filters = filters or Filters()
    with engine.connect() as conn:
        w = Where()
        if filters.system:
            w.add("ac.system = :system", system=filters.system)
        if filters.rule:
            w.add("(ac.rule = :rule OR ac.rule LIKE :rule_any)", rule=filters.rule, rule_any=f"%{filters.rule}%")
        if filters.state:
            w.add("ac.state = :state", state=filters.state)
        if filters.resource:
            w.add("(r.external_id = :resource OR r.name = :resource)", resource=filters.resource)
        if filters.department:
            w.add("p.department = :department", department=filters.department)
        if filters.person:
            w.ids("l.person_id IN :pids", "pids", person_ids(conn, filters.person))
        if filters.since:
            w.add("ac.updated_at >= :since", since=filters.since)
        if filters.until:
            w.add("ac.created_at < :until", until=filters.until)
        stmt = w.bind(text(ACTIONS_SQL.format(where=w.sql(), planned_by=PLANNED_BY))).columns(
            approved_at=DateTime, created_at=DateTime, updated_at=DateTime)
        for row in conn.execution_options(stream_results=True, yield_per=2000).execute(stmt, w.params).mappings():
            out = dict(row)
            out["trigger"] = trigger(out["rule"])
            out["level"] = _level(out["level"])
            yield out


def offboarding_rows(engine: Engine, filters: Filters | None = None) -> Iterator[dict[str, Any]]:
    """One row per receipt line (a grant to revoke, an IdP session to end); ``pending`` says what is left."""
    filters = filters or Filters()
    with engine.connect() as conn:
        w = Where()
        if filters.system:
            w.add("i.system = :system", system=filters.system)
        if filters.state:
            w.add("o.status = :state", state=filters.state)
        if filters.since:
            w.add("(o.completed_at IS NULL OR o.completed_at >= :since)", since=filters.since)
        if filters.until:
            w.add("o.created_at < :until", until=filters.until)
        wanted = set(person_ids(conn, filters.person)) if filters.person else None
        key = (filters.person or "").strip().lower()
        stmt = text(OFFBOARDINGS_SQL.format(where=w.sql())).columns(
            requested_at=DateTime, effective_at=DateTime, started_at=DateTime, completed_at=DateTime, done_at=DateTime)
        for row in conn.execute(stmt, w.params).mappings():
            out = dict(row)
            ids = set(out.pop("person_ids") or [])
            if wanted is not None and not (ids & wanted) and key not in (
                    str(out["person_key"]).lower(), str(out["employee_id"] or "").lower(), str(out["person"]).lower()):
                continue
            out["level"] = _level(out["level"])
            out["pending"] = "" if out["item"] is None else ("no" if out["item_state"] in FINAL_ITEM_STATES else "yes")
            yield out
