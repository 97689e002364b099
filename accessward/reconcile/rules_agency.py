"""The ``agency`` rule: agency access must sit inside an active engagement.

Agency access is a grant held by a partner account (kind ``agency``), by a person the directory
or a roster calls agency staff, or by an account whose email is on an agency's domain. Each is
judged against its engagement: none at all, ended or not yet started, an asset outside the
engagement's scope, a role above the engagement's ceiling, or staff no longer on the agency's
roster. Every reason found is kept in the evidence; the first one names the finding.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, text

from accessward.connectors.records import Level
from accessward.reconcile.findings import FindingDraft
from accessward.reconcile.policy import Engagement, PolicySettings
from accessward.reconcile.severity import worst

SQL = """
SELECT g.id AS grant_id, g.system, g.account_id, g.level, g.role, a.external_id, a.display_name, a.email,
       a.kind AS account_kind, r.external_id AS resource, r.name AS resource_name, l.person_id,
       p.kind AS person_kind, p.source AS person_source, p.status AS person_status
FROM access_grant g
JOIN account a ON a.id = g.account_id
JOIN resource r ON r.id = g.resource_id
LEFT JOIN link l ON l.account_id = a.id AND l.disputed = :no
LEFT JOIN person p ON p.id = l.person_id
WHERE g.seen_to IS NULL AND g.account_id IN (
    SELECT a.id FROM account a
    LEFT JOIN link l ON l.account_id = a.id AND l.disputed = :no
    LEFT JOIN person p ON p.id = l.person_id
    WHERE a.kind <> 'system' AND ({condition}))
"""


def _domain(email: str | None) -> str:
    return (email or "").rpartition("@")[2].lower()


def engagement_for(row: Any, agencies: list[Engagement]) -> Engagement | None:
    key = f"{row.system}:{row.external_id}".lower()
    for agency in agencies:
        if key in {p.lower() for p in agency.partner_accounts}:
            return agency
        if _domain(row.email) and _domain(row.email) in {d.lower() for d in agency.email_domains}:
            return agency
        if agency.roster_source and row.person_source == agency.roster_source:
            return agency
    return None


def roster_members(engine: Engine, sources: set[str]) -> set[tuple[str, str]]:
    """(roster source, email) of every active person on a roster: agency staff lists are small."""
    if not sources:
        return set()
    sql = ("SELECT p.source, e.email FROM person p JOIN person_email e ON e.person_id = p.id "
           "WHERE p.status = 'active' AND p.missing_since IS NULL AND p.source IN :sources")
    with engine.connect() as conn:
        stmt = text(sql).bindparams(bindparam("sources", expanding=True))
        return {(str(s), str(e)) for s, e in conn.execute(stmt, {"sources": sorted(sources)})}


def reasons(row: Any, agency: Engagement | None, now: datetime,
            rosters: set[tuple[str, str]] | None = None) -> list[str]:
    if agency is None:
        return ["no_engagement"]
    found = []
    today = now.date()
    if agency.end is not None and agency.end < today:
        found.append("engagement_ended")
    if agency.start is not None and agency.start > today:
        found.append("engagement_not_started")
    if agency.assets and f"{row.system}:{row.resource}".lower() not in {a.lower() for a in agency.assets}:
        found.append("out_of_scope")
    if row.level > Level[agency.max_level]:
        found.append("above_allowed_role")
    # On the roster if the linked record is the roster's, or the account's email is on it (the link
    # may point at the same person's directory or IdP record instead).
    on_roster = (row.person_source == agency.roster_source and row.person_status == "active") or (
        bool(row.email) and (agency.roster_source or "", str(row.email).lower()) in (rosters or set()))
    if agency.roster_source and row.account_kind == "human" and not on_roster:
        found.append("not_on_roster")
    return found


def agency(engine: Engine, policy: PolicySettings, now: datetime) -> Iterator[FindingDraft]:
    rule = policy.rule("agency")
    rosters = roster_members(engine, {a.roster_source for a in policy.agencies if a.roster_source})
    domains = sorted({d.lower() for a in policy.agencies for d in a.email_domains})
    conditions = ["a.kind = 'agency'", "p.kind = 'agency'"]
    conditions += [f"LOWER(a.email) LIKE :d{i}" for i in range(len(domains))]
    params: dict[str, Any] = {"no": False, **{f"d{i}": f"%@{d}" for i, d in enumerate(domains)}}
    with engine.connect() as conn:
        rows = conn.execution_options(stream_results=True, yield_per=2000).execute(
            text(SQL.format(condition=" OR ".join(conditions))), params)
        for row in rows:
            engagement = engagement_for(row, policy.agencies)
            found = reasons(row, engagement, now, rosters)
            if not found:
                continue
            yield FindingDraft(
                key=f"agency:grant:{row.grant_id}", rule="agency",
                severity=worst(rule, "agency", found, row.level, row.account_kind),
                system=row.system,
                account_id=row.account_id, grant_id=row.grant_id, person_id=row.person_id,
                evidence={"reason": found[0], "reasons": found, "agency": engagement.name if engagement else None,
                          "sponsor": engagement.sponsor if engagement else None,
                          "account": row.external_id, "account_name": row.display_name, "email": row.email,
                          "resource": row.resource, "resource_name": row.resource_name, "role": row.role,
                          "level": row.level},
            )
