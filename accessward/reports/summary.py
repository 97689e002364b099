"""The figures on top of a report page: tiles and the data of its charts, counted by SQL.

Counted in the store (GROUP BY), never from the report's rows, so a page about a million grants
costs a few aggregate queries, not a million Python objects.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Engine, text

from accessward.connectors.records import Level
from accessward.reports.audit_trail import chain_status
from accessward.reports.severity_order import SEVERITY_ORDER

TTR_BUCKETS = (("< 1 h", 1.0), ("1-24 h", 24.0), ("1-7 days", 168.0), ("7-30 days", 720.0), ("> 30 days", None))


@dataclass
class Summary:
    as_of: datetime
    tiles: list[tuple[str, str]] = field(default_factory=list)
    findings_by_rule: dict[str, dict[str, int]] = field(default_factory=dict)  # rule -> severity -> open count
    findings_by_severity: dict[str, int] = field(default_factory=dict)
    time_to_revoke: dict[str, int] = field(default_factory=dict)
    access_by_level: dict[str, dict[str, int]] = field(default_factory=dict)  # system -> level -> grants
    chain_ok: bool = True


def _bucket(hours: float) -> str:
    for name, upper in TTR_BUCKETS:
        if upper is None or hours < upper:
            return name
    return TTR_BUCKETS[-1][0]


def summarise(engine: Engine, as_of: datetime, since: datetime | None = None) -> Summary:
    out = Summary(as_of)
    with engine.connect() as conn:
        levels: dict[str, dict[str, int]] = defaultdict(dict)
        for system, level, n in conn.execute(text(
                "SELECT system, level, COUNT(*) FROM access_grant WHERE seen_from <= :at "
                "AND (seen_to IS NULL OR seen_to > :at) GROUP BY system, level ORDER BY system, level"),
                {"at": as_of}):
            try:
                name = Level(level).name
            except ValueError:
                name = str(level)
            levels[str(system)][name] = int(n)
        out.access_by_level = dict(levels)
        by_rule: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SEVERITY_ORDER, 0))
        for rule, sev, n in conn.execute(text(
                "SELECT rule, severity, COUNT(*) FROM finding WHERE state = 'open' GROUP BY rule, severity")):
            by_rule[str(rule)][str(sev)] = by_rule[str(rule)].get(str(sev), 0) + int(n)
        out.findings_by_rule = dict(sorted(by_rule.items()))
        out.findings_by_severity = {s: sum(r.get(s, 0) for r in by_rule.values()) for s in SEVERITY_ORDER}
        ttr = dict.fromkeys((b for b, _ in TTR_BUCKETS), 0)
        params: dict[str, Any] = {"since": since or datetime(1970, 1, 1), "at": as_of}
        for first, done in conn.execute(text(
                "SELECT f.first_seen, ac.updated_at FROM finding f JOIN action ac ON ac.finding_id = f.id "
                "WHERE ac.state IN ('done', 'already_gone') AND ac.updated_at >= :since AND ac.updated_at <= :at")
                .columns(first_seen=DateTime, updated_at=DateTime), params):
            ttr[_bucket(max(0.0, (done - first).total_seconds() / 3600))] += 1
        out.time_to_revoke = ttr
        grants = sum(sum(v.values()) for v in out.access_by_level.values())
        accounts = conn.execute(text("SELECT COUNT(DISTINCT account_id) FROM access_grant WHERE seen_to IS NULL"))\
            .scalar_one()
        people = conn.execute(text("SELECT COUNT(*) FROM person")).scalar_one()
        revoked = conn.execute(text("SELECT COUNT(*) FROM action WHERE state IN ('done', 'already_gone')"))\
            .scalar_one()
    chain = chain_status(engine)
    out.chain_ok = chain.ok
    open_total = sum(out.findings_by_severity.values())
    serious = out.findings_by_severity.get("critical", 0) + out.findings_by_severity.get("high", 0)
    out.tiles = [
        ("Grants", f"{grants:,}"), ("Accounts with access", f"{int(accounts):,}"),
        ("People (records)", f"{int(people):,}"), ("Open findings", f"{open_total:,}"),
        ("Critical + high", f"{serious:,}"), ("Revocations done", f"{int(revoked):,}"),
        ("Audit chain", "verified" if chain.ok else f"BROKEN at {len(chain.problems)} event(s)"),
    ]
    return out
