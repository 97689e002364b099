"""Posture rules: how access is held, not whether the person still works here.

``mfa_required``: a human account with open grants and two-factor off on the network, or whose
person has no second factor registered in the IdP.
``sso_required``: a human account with open grants that signs in natively, not through SSO.
``role_ceiling``: a person holding a level above what their group, kind or department may hold
(an intern with admin). ``dormant``: access unused for more than the rule's ``days``.

A rule only judges what a source reported: an unknown MFA, SSO or last-activity state (NULL)
is not a finding, because "the network does not say" is not "off".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Engine, text

from accessward.connectors.records import Level
from accessward.reconcile.findings import FindingDraft
from accessward.reconcile.policy import Ceiling, PolicySettings, RuleSettings
from accessward.reconcile.severity import severity

_BASE = """
SELECT g.id AS grant_id, g.system, g.account_id, g.level, g.role, a.external_id, a.display_name, a.email,
       a.mfa, a.sso, a.last_active, l.person_id, p.display_name AS person_name, p.kind AS person_kind,
       p.department, p.groups, p.mfa AS person_mfa, p.source AS person_source
FROM access_grant g
JOIN account a ON a.id = g.account_id
LEFT JOIN link l ON l.account_id = a.id AND l.disputed = :no
LEFT JOIN person p ON p.id = l.person_id
WHERE g.seen_to IS NULL AND {grant_condition} AND g.account_id IN (
    SELECT a.id FROM account a
    LEFT JOIN link l ON l.account_id = a.id AND l.disputed = :no
    LEFT JOIN person p ON p.id = l.person_id
    WHERE a.kind = 'human' AND {condition})
"""
# The accounts are chosen first (thousands) and only their grants are read: without planner
# statistics SQLite would otherwise walk every open grant (a million) for a handful of findings.


def _rows(engine: Engine, condition: str, grant_condition: str = "1 = 1",
          **params: Any) -> Iterator[Any]:
    stmt = text(_BASE.format(condition=condition, grant_condition=grant_condition)).columns(
        last_active=DateTime, groups=JSON, mfa=Boolean, sso=Boolean, person_mfa=Boolean)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(stmt, {"no": False, **params})
        yield from result


def _draft(rule: str, settings: RuleSettings, row: Any, reason: str, **evidence: Any) -> FindingDraft:
    return FindingDraft(
        key=f"{rule}:grant:{row.grant_id}", rule=rule, severity=severity(settings, rule, reason, row.level),
        system=row.system,
        account_id=row.account_id, grant_id=row.grant_id, person_id=row.person_id,
        evidence={"reason": reason, "account": row.external_id, "account_name": row.display_name,
                  "email": row.email, "role": row.role, "level": row.level, "person": row.person_name,
                  **evidence},
    )


def mfa_required(engine: Engine, policy: PolicySettings, now: datetime) -> Iterator[FindingDraft]:
    rule = policy.rule("mfa_required")
    for row in _rows(engine, "(a.mfa = :off OR p.mfa = :off)", off=False):
        if row.mfa is False:
            yield _draft("mfa_required", rule, row, "two_factor_off", network=row.system)
        else:
            yield _draft("mfa_required", rule, row, "no_mfa_in_idp", idp=row.person_source)


def sso_required(engine: Engine, policy: PolicySettings, now: datetime) -> Iterator[FindingDraft]:
    rule = policy.rule("sso_required")
    for row in _rows(engine, "a.sso = :off", off=False):
        yield _draft("sso_required", rule, row, "native_login", network=row.system)


def dormant(engine: Engine, policy: PolicySettings, now: datetime) -> Iterator[FindingDraft]:
    rule = policy.rule("dormant")
    cutoff = now - timedelta(days=rule.days)
    for row in _rows(engine, "a.last_active IS NOT NULL AND a.last_active < :cutoff", cutoff=cutoff):
        idle = (now - row.last_active).days
        yield _draft("dormant", rule, row, "unused", last_active=row.last_active.isoformat(),
                     idle_days=idle)


def ceiling_for(kind: str | None, department: str | None, groups: Sequence[str],
                ceilings: Sequence[Ceiling]) -> tuple[Level, str] | None:
    """The most restrictive ceiling among those that match the person, with the match that set it."""
    facts = {f"kind:{kind}".lower(), f"department:{department}".lower()}
    for group in groups:
        facts.add(f"group:{group}".lower())
        first_rdn = group.split(",", 1)[0]
        if "=" in first_rdn:  # a DN: "cn=Interns,ou=groups,..." also matches "group:Interns"
            facts.add(f"group:{first_rdn.split('=', 1)[1]}".lower())
    found = [(Level[c.max_level], c.match) for c in ceilings if c.match.lower() in facts]
    return min(found) if found else None


def role_ceiling(engine: Engine, policy: PolicySettings, now: datetime) -> Iterator[FindingDraft]:
    if not policy.role_ceilings:
        return
    rule = policy.rule("role_ceiling")
    lowest = min(Level[c.max_level] for c in policy.role_ceilings)
    for row in _rows(engine, "l.person_id IS NOT NULL", "g.level > :lowest", lowest=int(lowest)):
        found = ceiling_for(row.person_kind, row.department, row.groups or [], policy.role_ceilings)
        if found is None or row.level <= found[0]:
            continue
        yield _draft("role_ceiling", rule, row, "above_ceiling", ceiling=found[0].name,
                     ceiling_from=found[1], held=Level(row.level).name)

