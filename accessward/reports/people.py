"""People: every identity and its status per source; and one person's every grant everywhere.

``people_rows`` answers "who is there, in which source, in what state" (active, suspended,
terminated, missing from the last complete sync, leave date, groups as the source resolved them —
nested ones included where the source expands them — and SSO/MFA posture). ``person_report``
answers "what can Sam do everywhere?": every grant of every record of that person, now or as of a
date, with the findings and the actions about them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Engine, text

from accessward.reports.access import ACCESS_COLUMNS, access_rows
from accessward.reports.activity import ACTION_COLUMNS, action_rows
from accessward.reports.filters import Filters, Where, person_ids
from accessward.reports.findings import FINDING_COLUMNS, finding_rows

PEOPLE_COLUMNS = (
    "person_id", "source", "source_key", "display_name", "employee_id", "username", "upn", "emails", "kind",
    "status", "leave_date", "missing_since", "department", "manager_key", "groups", "sso", "mfa", "mfa_methods",
    "last_sign_in", "accounts", "open_grants", "first_seen", "last_seen",
)

PEOPLE_SQL = """
SELECT p.id AS person_id, p.source, p.source_key, p.display_name, p.employee_id, p.username, p.upn, p.emails,
       p.kind, p.status, p.leave_date, p.missing_since, p.department, p.manager_key, p.groups, p.sso, p.mfa,
       p.mfa_methods, p.last_sign_in, p.first_seen, p.last_seen,
       (SELECT COUNT(*) FROM link l WHERE l.person_id = p.id) AS accounts,
       (SELECT COUNT(*) FROM link l JOIN access_grant g ON g.account_id = l.account_id
        WHERE l.person_id = p.id AND g.seen_to IS NULL) AS open_grants
FROM person p
{where}
ORDER BY p.display_name, p.source, p.id
"""


def _flag(value: bool | None) -> str:
    return {True: "yes", False: "no"}.get(value, "unknown") if value is not None else "unknown"


def people_rows(engine: Engine, filters: Filters | None = None) -> Iterator[dict[str, Any]]:
    filters = filters or Filters()
    with engine.connect() as conn:
        w = Where()
        if filters.system:  # for people, the "system" is the identity source
            w.add("p.source = :system", system=filters.system)
        if filters.department:
            w.add("p.department = :department", department=filters.department)
        if filters.state == "missing":
            w.add("p.missing_since IS NOT NULL")
        elif filters.state:
            w.add("p.status = :state AND p.missing_since IS NULL", state=filters.state)
        if filters.person:
            w.ids("p.id IN :pids", "pids", person_ids(conn, filters.person))
        stmt = w.bind(text(PEOPLE_SQL.format(where=w.sql()))).columns(
            emails=JSON, groups=JSON, mfa_methods=JSON, sso=Boolean, mfa=Boolean, leave_date=DateTime,
            missing_since=DateTime, last_sign_in=DateTime, first_seen=DateTime, last_seen=DateTime)
        for row in conn.execution_options(stream_results=True, yield_per=5000).execute(stmt, w.params).mappings():
            out = dict(row)
            if out["missing_since"] is not None:
                out["status"] = "missing"
            out["emails"] = " ".join(out["emails"] or [])
            out["groups"] = "; ".join(out["groups"] or [])
            out["mfa_methods"] = " ".join(out["mfa_methods"] or [])
            out["sso"], out["mfa"] = _flag(out["sso"]), _flag(out["mfa"])
            yield out


@dataclass
class PersonReport:
    key: str
    as_of: datetime
    records: list[dict[str, Any]] = field(default_factory=list)
    grants: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)

    def sections(self) -> list[tuple[str, tuple[str, ...], list[dict[str, Any]]]]:
        return [("records", PEOPLE_COLUMNS, self.records), ("grants", ACCESS_COLUMNS, self.grants),
                ("findings", FINDING_COLUMNS, self.findings), ("actions", ACTION_COLUMNS, self.actions)]


def person_report(engine: Engine, key: str, as_of: datetime) -> PersonReport:
    """Everything about the person ``key`` names; ``records`` is empty when nobody matches."""
    by = Filters(person=key)
    report = PersonReport(key, as_of, records=list(people_rows(engine, by)))
    if report.records:
        report.grants = list(access_rows(engine, as_of, by))
        report.findings = list(finding_rows(engine, filters=by))
        report.actions = list(action_rows(engine, by))
    return report
