"""What an access review covers, what its reviewer is shown, what is recommended, and who reviews it.

Read from the store only. An item's facts are a snapshot: the person in every identity source (status,
kind, leave date, MFA/SSO, last sign-in), the account on the system (MFA, SSO, last activity), the role
and its level, the agency engagement, and the open findings. The recommendation is ``revoke`` for a
leaver, dormant access or an agency past its contract, ``keep`` otherwise, always with the reason.
The reviewer is never the person whose access it is (invariant 8): every key the person is known by
(emails, username, UPN, employee id, the account's login) is compared with the candidate's key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Engine, Table, bindparam, select, text

from accessward.connectors.records import Level
from accessward.reconcile.policy import PolicySettings
from accessward.reconcile.rules_agency import engagement_for
from accessward.review_settings import ReviewCampaignSettings
from accessward.sync.models import Person, PersonEmail

SCOPE_SQL = """
SELECT g.id AS grant_id, g.system, g.role, g.level, g.verifiable, g.resource_id,
       a.id AS account_row, a.external_id AS account, a.display_name AS account_name, a.email, a.login,
       a.kind AS account_kind, a.sso, a.mfa, a.last_active,
       r.external_id AS resource, r.name AS resource_name, r.kind AS resource_kind,
       l.person_id, l.method AS link_method, COALESCE(l.disputed, :no) AS disputed
FROM access_grant g
JOIN account a ON a.id = g.account_id
JOIN resource r ON r.id = g.resource_id
LEFT JOIN link l ON l.account_id = a.id
WHERE g.seen_to IS NULL {narrow}
ORDER BY g.system, r.external_id, a.external_id, g.id
"""
LEAVING = ("terminated", "suspended")
AGENCY_ENDED = ("engagement_ended", "no_engagement", "engagement_not_started", "not_on_roster")


@dataclass(frozen=True)
class Candidate:
    """One grant in scope, with everything a reviewer is shown."""

    row: Mapping[Any, Any]
    people: tuple[Any, ...]  # Person rows (read-only views), one per source
    facts: dict[str, Any]
    recommendation: str
    reason: str
    subject_keys: frozenset[str]
    manager: str | None = None  # the person's manager's email, from the directory


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _flag(value: bool | None) -> str:
    return {True: "yes", False: "no"}.get(value, "unknown")  # type: ignore[arg-type]


_PERSONS: Table = Person.__table__  # type: ignore[attr-defined]
_EMAILS: Table = PersonEmail.__table__  # type: ignore[attr-defined]
_CHUNK = 500


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = sorted(values)
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


class _People:
    """Every linked person's records in every source, loaded in bulk (a campaign links at most the accounts).

    The other sources' records are found as ``reconcile.subject`` finds them: by employee id, then by
    email, one per source at most (two matches in one source are two people, and neither is taken).
    """

    def __init__(self, engine: Engine, person_ids: set[int]) -> None:
        self.rows: dict[int, Any] = {}
        self.cache: dict[int, tuple[Any, ...]] = {}
        self.by_employee: dict[str, set[int]] = defaultdict(set)
        self.by_email: dict[str, set[int]] = defaultdict(set)
        self.managers: dict[tuple[str, str], str | None] = {}
        with engine.connect() as conn:
            linked = [self._keep(r) for ids in _chunks(person_ids)
                      for r in conn.execute(select(_PERSONS).where(_PERSONS.c.id.in_(ids))).mappings()]
            employees = {p.employee_id for p in linked if p.employee_id}
            for ids in _chunks(employees):
                for r in conn.execute(select(_PERSONS).where(_PERSONS.c.employee_id.in_(ids))).mappings():
                    self.by_employee[r["employee_id"]].add(self._keep(r).id)
            emails = {str(e).lower() for p in linked for e in p.emails}
            for chunk in _chunks(emails):
                pairs = list(conn.execute(select(_EMAILS.c.person_id, _EMAILS.c.email)
                                          .where(_EMAILS.c.email.in_(chunk))))
                missing = {int(pid) for pid, _ in pairs} - set(self.rows)
                for ids in _chunks(missing):
                    for r in conn.execute(select(_PERSONS).where(_PERSONS.c.id.in_(ids))).mappings():
                        self._keep(r)
                for pid, email in pairs:
                    self.by_email[str(email)].add(int(pid))
            wanted = {(p.source, p.manager_key) for p in self.rows.values() if p.manager_key}
            for chunk in _chunks({k for _, k in wanted}):
                for r in conn.execute(select(_PERSONS.c.source, _PERSONS.c.source_key, _PERSONS.c.emails)
                                      .where(_PERSONS.c.source_key.in_(chunk))).mappings():
                    if (r["source"], r["source_key"]) in wanted:
                        self.managers[(r["source"], r["source_key"])] = (
                            str(r["emails"][0]).strip().lower() if r["emails"] else None)

    def _keep(self, row: Mapping[Any, Any]) -> Any:
        found = self.rows.get(int(row["id"]))
        if found is None:
            found = self.rows[int(row["id"])] = SimpleNamespace(**row)
        return found

    def of(self, person_id: int | None) -> tuple[Any, ...]:
        if person_id is None or person_id not in self.rows:
            return ()
        if person_id not in self.cache:
            first = self.rows[person_id]
            found = {first.source: first}
            tiers = [self.by_employee.get(first.employee_id, set()) if first.employee_id else set(),
                     set().union(*(self.by_email.get(str(e).lower(), set()) for e in first.emails))]
            for ids in tiers:
                per_source: dict[str, set[int]] = defaultdict(set)
                for i in ids:
                    if self.rows[i].source not in found:
                        per_source[self.rows[i].source].add(i)
                for source, matches in per_source.items():
                    if len(matches) == 1:
                        found[source] = self.rows[next(iter(matches))]
            self.cache[person_id] = tuple(sorted(found.values(), key=lambda p: int(p.id)))
        return self.cache[person_id]

    def manager_email(self, people: tuple[Any, ...]) -> str | None:
        for p in people:
            if p.manager_key and self.managers.get((p.source, p.manager_key)):
                return self.managers[(p.source, p.manager_key)]
        return None


def _in_scope(row: Mapping[Any, Any], cfg: ReviewCampaignSettings, risky: bool, agency: bool) -> bool:
    if cfg.systems and row["system"] not in cfg.systems:
        return False
    if cfg.resources and f"{row['system']}:{row['resource']}".lower() not in {r.lower() for r in cfg.resources}:
        return False
    if cfg.min_level is not None and int(row["level"]) < int(Level[cfg.min_level]):
        return False
    if row["account_kind"] == "system" and not cfg.include_system_accounts:
        return False
    if cfg.scope == "risky":
        return risky
    if cfg.scope == "agency":
        return agency
    return True


def subject_keys(row: Mapping[Any, Any], people: tuple[Any, ...]) -> frozenset[str]:
    keys = {str(v).strip().lower() for v in (row.get("email"), row.get("login")) if v}
    for p in people:
        keys |= {e.strip().lower() for e in p.emails}
        keys |= {str(v).strip().lower() for v in (p.username, p.upn, p.employee_id, p.source_key) if v}
    return frozenset(keys)


def _findings(engine: Engine) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT grant_id, rule, severity, evidence FROM finding WHERE state = 'open' "
                                 "AND grant_id IS NOT NULL ORDER BY id").columns(evidence=JSON))
        for grant_id, rule, severity, evidence in rows:
            out[int(grant_id)].append({"rule": rule, "severity": severity,
                                       "reason": str((evidence or {}).get("reason", ""))})
    return out


def _narrow(cfg: ReviewCampaignSettings) -> tuple[str, dict[str, Any]]:
    sql, params = "", dict[str, Any]()
    if cfg.systems:
        sql += " AND g.system IN :systems"
        params["systems"] = list(cfg.systems)
    if cfg.min_level is not None:
        sql += " AND g.level >= :min_level"
        params["min_level"] = int(Level[cfg.min_level])
    if not cfg.include_system_accounts:
        sql += " AND a.kind <> 'system'"
    return sql, params


def candidates(engine: Engine, cfg: ReviewCampaignSettings, policy: PolicySettings,
               now: datetime) -> Iterator[Candidate]:
    """Every open grant the campaign covers, with its facts and recommendation."""
    dormant_days = policy.rule("dormant").days
    findings = _findings(engine)
    with engine.connect() as conn:
        narrow, params = _narrow(cfg)  # what SQL can filter is not loaded at all
        stmt = text(SCOPE_SQL.format(narrow=narrow)).columns(verifiable=Boolean, sso=Boolean, mfa=Boolean,
                                                             last_active=DateTime, disputed=Boolean)
        if "systems" in params:
            stmt = stmt.bindparams(bindparam("systems", expanding=True))
        rows = conn.execute(stmt, {"no": False, **params}).mappings().all()
    people = _People(engine, {int(r["person_id"]) for r in rows if r["person_id"] is not None and not r["disputed"]})
    for row in rows:
        records = () if row["disputed"] else people.of(row["person_id"])
        facts = _facts(row, records, findings.get(int(row["grant_id"]), []), policy, now)
        dormant = facts["last_activity"] is not None and (
            now - datetime.fromisoformat(facts["last_activity"]) > timedelta(days=dormant_days))
        dormant = dormant or any(f["rule"] == "dormant" for f in facts["findings"])
        no_mfa = row["mfa"] is False or any(p.mfa is False for p in records)
        risky = int(row["level"]) >= int(Level.admin) or no_mfa or dormant or not row["verifiable"]
        agency = (row["account_kind"] == "agency" or any(p.kind == "agency" for p in records)
                  or facts["engagement"] is not None or not records)
        if not _in_scope(row, cfg, risky, agency):
            continue
        recommendation, reason = _recommend(row, records, facts, dormant, dormant_days, now)
        manager = people.manager_email(records) if "manager" in cfg.reviewers else None
        yield Candidate(row, records, facts, recommendation, reason, subject_keys(row, records), manager)


def _facts(row: Mapping[Any, Any], records: tuple[Any, ...], findings: list[dict[str, Any]],
           policy: PolicySettings, now: datetime) -> dict[str, Any]:
    activity = [d for d in [row["last_active"], *(p.last_sign_in for p in records)] if d is not None]
    view = SimpleNamespace(system=row["system"], external_id=row["account"], email=row["email"],
                           person_source=records[0].source if records else None)
    engagement = engagement_for(view, policy.agencies)
    person_mfa = [p.mfa for p in records if p.mfa is not None]
    person_sso = [p.sso for p in records if p.sso is not None]
    return {
        "person": {"name": records[0].display_name, "kind": records[0].kind} if records else None,
        "link": "disputed" if row["disputed"] else (row["link_method"] or "none"),
        "sources": [{"source": p.source, "status": p.status, "kind": p.kind, "leave_date": _iso(p.leave_date),
                     "missing_since": _iso(p.missing_since), "mfa": _flag(p.mfa), "sso": _flag(p.sso),
                     "last_sign_in": _iso(p.last_sign_in), "department": p.department} for p in records],
        "account": {"kind": row["account_kind"], "email": row["email"], "login": row["login"],
                    "mfa": _flag(row["mfa"]), "sso": _flag(row["sso"]), "last_active": _iso(row["last_active"])},
        "role": row["role"], "level": Level(int(row["level"])).name, "verifiable": bool(row["verifiable"]),
        "last_activity": _iso(max(activity)) if activity else None,
        "mfa": _flag(row["mfa"] if row["mfa"] is not None else (all(person_mfa) if person_mfa else None)),
        "sso": _flag(row["sso"] if row["sso"] is not None else (all(person_sso) if person_sso else None)),
        "engagement": None if engagement is None else {
            "name": engagement.name, "sponsor": engagement.sponsor, "start": _iso(engagement.start),
            "end": _iso(engagement.end), "max_level": engagement.max_level,
            "active": (engagement.start is None or engagement.start <= now.date())
            and (engagement.end is None or engagement.end >= now.date())},
        "findings": findings,
    }


def _recommend(row: Mapping[Any, Any], records: tuple[Any, ...], facts: dict[str, Any], dormant: bool,
               dormant_days: int, now: datetime) -> tuple[str, str]:
    for p in records:
        if p.status in LEAVING:
            return "revoke", f"leaver: {p.source} says {p.status}"
        if p.leave_date is not None and p.leave_date <= now:
            return "revoke", f"leaver: {p.source} gives a leave date of {p.leave_date:%Y-%m-%d}"
        if p.missing_since is not None:
            return "revoke", f"leaver: no longer in {p.source} since {p.missing_since:%Y-%m-%d}"
    engagement = facts["engagement"]
    if engagement is not None and not engagement["active"]:
        return "revoke", f"agency past contract: {engagement['name']} engagement ended {engagement['end']}"
    for f in facts["findings"]:
        if f["rule"] == "agency" and f["reason"] in AGENCY_ENDED:
            return "revoke", f"agency past contract: open agency finding ({f['reason']})"
    if dormant:
        last = facts["last_activity"]
        return "revoke", (f"dormant: no activity since {last[:10]} (over {dormant_days} days)" if last
                          else "dormant: open dormant finding")
    if engagement is not None:
        return "keep", (f"agency access within the {engagement['name']} engagement"
                        + (f" (until {engagement['end']})" if engagement["end"] else ""))
    if not records and row["account_kind"] == "agency":
        return "keep", "agency partner with no engagement in the settings: check its contract before keeping it"
    if not records:
        return "keep", "matches no person in any identity source: find out whose it is before keeping it"
    sources = ", ".join(f"{p.source} {p.status}" for p in records)
    return "keep", f"active {records[0].kind} ({sources}); no leaver, dormancy or ended engagement found"


def choose_reviewer(cfg: ReviewCampaignSettings, c: Candidate) -> tuple[str, str]:
    """(reviewer, how chosen) — never someone the person is known as; ("", "none") if nobody is left."""
    row, keys, manager = c.row, c.subject_keys, c.manager
    for strategy in cfg.reviewers:
        if strategy == "owner":
            found = cfg.owners.get(f"{row['system']}:{row['resource']}".lower()) or cfg.owners.get(
                str(row["system"]).lower())
            if found and found not in keys:
                return found, "owner"
        elif strategy == "manager":
            if manager and manager not in keys:
                return manager, "manager"
        else:
            for name in cfg.named:
                if name not in keys:
                    return name, "named"
    for fallback, how in ((cfg.fallback, "fallback"), (cfg.escalate_to, "escalation")):
        if fallback and fallback not in keys:
            return fallback, how
    return "", "none"

