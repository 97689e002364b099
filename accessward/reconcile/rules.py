"""Policy rules. Each rule reads the store and yields finding drafts; none touches HTTP.

``orphaned``: a human account with open grants whose person is terminated, suspended, past
their leave date, missing from the identity source, or not found at all. A disputed link (two
people match) is reported with the reason ``disputed``, and an account with no email, login or
employee id (LinkedIn members are bare URNs) with ``unidentifiable``: neither is ever eligible for
revocation until someone links the account by hand.

An account that matches nobody but whose email is on an agency's ``email_domains`` is that
agency's staff, not an orphan: the ``agency`` rule judges it against the engagement instead.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Collection, Iterator
from datetime import datetime

from sqlalchemy import Engine

from accessward.reconcile.findings import FindingDraft
from accessward.reconcile.policy import RuleSettings
from accessward.reconcile.severity import severity
from accessward.sync import driver_bulk

# Accounts first, grants last: the conditions on link and person pick the (few) orphaned accounts
# before any grant is read, and only their open grants are then fetched by account_id. With
# access_grant first, SQLite (which does not move a table past the LEFT JOINs that follow it)
# reads every open grant and looks up its account, link and person: 1,000,000 lookups for 10,000
# findings. Same rows, same columns either way.
ORPHANED_SQL = """
SELECT g.id AS grant_id, g.system, g.account_id, g.level, g.role, a.external_id, a.display_name,
       a.email, a.login, a.employee_id AS account_employee_id, l.person_id, l.method, l.disputed,
       p.status, p.leave_date, p.missing_since, p.display_name AS person_name, p.employee_id
FROM account a
LEFT JOIN link l ON l.account_id = a.id
LEFT JOIN person p ON p.id = l.person_id
JOIN access_grant g ON g.account_id = a.id
WHERE g.seen_to IS NULL AND a.kind = 'human'
  AND (l.person_id IS NULL
       OR p.status IN ('terminated', 'suspended')
       OR (p.leave_date IS NOT NULL AND p.leave_date <= :now)
       OR p.missing_since IS NOT NULL)
"""


def _reason(row: object, now: datetime) -> tuple[str, datetime | None]:
    r = row
    if getattr(r, "disputed", False):
        return "disputed", None
    if getattr(r, "person_id", None) is None:
        if not (r.email or r.login or r.account_employee_id):  # type: ignore[attr-defined]
            return "unidentifiable", None  # nothing to match on: only a manual link can tell
        return "no_person", None
    if r.status == "terminated":  # type: ignore[attr-defined]
        return "terminated", r.leave_date  # type: ignore[attr-defined]
    if r.status == "suspended":  # type: ignore[attr-defined]
        return "disabled", r.leave_date  # type: ignore[attr-defined]
    if r.missing_since is not None:  # type: ignore[attr-defined]
        return "missing_from_directory", r.missing_since  # type: ignore[attr-defined]
    return "past_leave_date", r.leave_date  # type: ignore[attr-defined]


def _domain(address: str | None) -> str:
    return (address or "").rpartition("@")[2].lower() if "@" in (address or "") else ""


#: The columns of ORPHANED_SQL, in order: rows are read as plain tuples (see :mod:`accessward.sync.driver_bulk`).
_Row = namedtuple("_Row", "grant_id system account_id level role external_id display_name email login "
                          "account_employee_id person_id method disputed status leave_date missing_since "
                          "person_name employee_id")


def orphaned(engine: Engine, rule: RuleSettings, now: datetime,
             agency_domains: Collection[str] = ()) -> Iterator[FindingDraft]:
    domains = {d.lower() for d in agency_domains}
    severities: dict[tuple[str, int], str] = {}  # severity() is a pure function of (reason, level) for the rule
    with engine.connect() as conn:
        read_datetime = driver_bulk.datetime_reader(conn)
        for raw in driver_bulk.stream(conn, ORPHANED_SQL.replace(":now", driver_bulk.mark(conn)),
                                      [driver_bulk.stamp(conn, now)]):
            row = _Row._make(raw)
            if row.leave_date is not None or row.missing_since is not None:
                row = row._replace(leave_date=read_datetime(row.leave_date),
                                   missing_since=read_datetime(row.missing_since))
            reason, since = _reason(row, now)
            if reason == "no_person" and domains and (_domain(row.email) or _domain(row.login)) in domains:
                continue  # agency staff: the agency rule judges them against their engagement
            level = row.level
            found = severities.get((reason, level))
            if found is None:
                found = severities[(reason, level)] = severity(rule, "orphaned", reason, level)
            yield FindingDraft(
                key=f"orphaned:grant:{row.grant_id}", rule="orphaned",
                severity=found,
                system=row.system, account_id=row.account_id, grant_id=row.grant_id,
                person_id=row.person_id,
                evidence={
                    "reason": reason,
                    "since": since.isoformat() if since else None,
                    "account": row.external_id, "account_name": row.display_name, "email": row.email,
                    "role": row.role, "level": level,
                    "person": row.person_name, "employee_id": row.employee_id,
                    "person_status": row.status, "link": row.method,
                },
            )
