"""Findings: what was found, when first and last seen, and what became of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, text

FINDING_COLUMNS = (
    "id", "rule", "severity", "state", "reason", "system", "resource", "account", "account_email", "role",
    "person", "person_status", "first_seen", "last_seen", "resolved_at",
)

FINDINGS_SQL = """
SELECT f.id, f.rule, f.severity, f.state, f.evidence, f.system, f.first_seen, f.last_seen, f.resolved_at,
       r.name AS resource, a.display_name AS account, a.email AS account_email, g.role,
       p.display_name AS person, p.status AS person_status
FROM finding f
LEFT JOIN access_grant g ON g.id = f.grant_id
LEFT JOIN resource r ON r.id = g.resource_id
LEFT JOIN account a ON a.id = f.account_id
LEFT JOIN person p ON p.id = f.person_id
{where}
ORDER BY f.state, f.rule, f.system, f.id
"""


def finding_rows(engine: Engine, state: str | None = None) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn:
        for row in conn.execute(
            text(FINDINGS_SQL.format(where="WHERE f.state = :state" if state else "")).columns(
                evidence=JSON, first_seen=DateTime, last_seen=DateTime, resolved_at=DateTime), {"state": state}
        ).mappings():
            out = dict(row)
            out["reason"] = (out.pop("evidence") or {}).get("reason", "")
            yield out
