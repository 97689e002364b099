"""Who has (or had, at a past moment) which role on which resource, matched to whom."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Engine, text

from accessward.connectors.records import Level

ACCESS_COLUMNS = (
    "system", "resource_kind", "resource_id", "resource", "account_id", "account", "account_kind",
    "account_email", "role", "level", "sso", "mfa", "person", "employee_id", "person_status",
    "person_sso", "person_mfa", "person_mfa_methods",
    "person_source", "link", "verifiable", "seen_from", "seen_to", "findings",
)

ACCESS_SQL = """
SELECT g.system, r.kind AS resource_kind, r.external_id AS resource_id, r.name AS resource,
       a.external_id AS account_id, a.display_name AS account, a.kind AS account_kind, a.email AS account_email,
       g.role, g.level, a.sso, a.mfa, p.display_name AS person, p.employee_id, p.status AS person_status,
       p.sso AS person_sso, p.mfa AS person_mfa, p.mfa_methods AS person_mfa_methods,
       p.missing_since, p.source AS person_source, l.method AS link, g.verifiable, g.seen_from, g.seen_to,
       (SELECT COUNT(*) FROM finding f WHERE f.grant_id = g.id AND f.state = 'open') AS findings
FROM access_grant g
JOIN account a ON a.id = g.account_id
JOIN resource r ON r.id = g.resource_id
LEFT JOIN link l ON l.account_id = a.id
LEFT JOIN person p ON p.id = l.person_id
WHERE g.seen_from <= :at AND (g.seen_to IS NULL OR g.seen_to > :at)
ORDER BY g.system, r.name, a.display_name, g.role
"""


def _level_name(value: int) -> str:
    try:
        return Level(value).name
    except ValueError:
        return str(value)


def access_rows(engine: Engine, as_of: datetime) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(
            text(ACCESS_SQL).columns(seen_from=DateTime, seen_to=DateTime, missing_since=DateTime, sso=Boolean,
                                     mfa=Boolean, verifiable=Boolean, person_sso=Boolean, person_mfa=Boolean,
                                     person_mfa_methods=JSON), {"at": as_of})
        for row in result.mappings():
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
            yield out
