"""The overview's figures: brand exposure per platform and account, counted in the store.

Aggregates only (GROUP BY), so the page costs a few queries at any size. Unverifiable (manual
inventory) grants take their last confirmation date from the inventory itself, the one place
that records it (``verified_on``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, text

from accessward.connectors.records import Level
from accessward.reports.severity_order import SEVERITY_ORDER
from accessward.runtime import Runtime
from accessward.settings import ManualSource
from accessward.sync.clock import utcnow

EXPOSURE_SQL = """
SELECT r.id AS resource_pk, g.system, r.external_id AS resource_id, r.name AS resource, r.kind AS resource_kind,
       COUNT(*) AS grants,
       SUM(CASE WHEN g.level >= :admin THEN 1 ELSE 0 END) AS admins,
       SUM(CASE WHEN g.level >= :full THEN 1 ELSE 0 END) AS full_publishing,
       SUM(CASE WHEN g.level >= :admin AND (COALESCE(a.mfa, p.mfa) = 0 OR COALESCE(a.mfa, p.mfa) IS NULL)
           THEN 1 ELSE 0 END) AS admins_without_mfa,
       SUM(CASE WHEN g.verifiable = 0 THEN 1 ELSE 0 END) AS unverifiable
FROM access_grant g JOIN resource r ON r.id = g.resource_id JOIN account a ON a.id = g.account_id
LEFT JOIN link l ON l.account_id = a.id LEFT JOIN person p ON p.id = l.person_id
WHERE g.seen_to IS NULL
GROUP BY r.id, g.system, r.external_id, r.name, r.kind ORDER BY g.system, r.name
"""

AT_RISK_SQL = """
SELECT f.id, f.rule, f.severity, f.system, a.display_name AS account, r.name AS resource, g.role,
       p.display_name AS person, p.status AS person_status, f.first_seen, f.evidence
FROM finding f LEFT JOIN access_grant g ON g.id = f.grant_id LEFT JOIN account a ON a.id = f.account_id
LEFT JOIN resource r ON r.id = g.resource_id LEFT JOIN person p ON p.id = f.person_id
WHERE f.state = 'open' AND (g.id IS NULL OR g.seen_to IS NULL)
  AND (f.rule = 'agency' OR (f.rule = 'orphaned' AND p.id IS NOT NULL
       AND (p.status <> 'active' OR p.missing_since IS NOT NULL)))
ORDER BY f.rule, f.system, a.display_name
"""

SOURCES_SQL = """
SELECT s.source, s.role,
       (SELECT MAX(finished_at) FROM sync_run x WHERE x.source = s.source AND x.status = 'succeeded') AS last_ok,
       (SELECT status FROM sync_run y WHERE y.source = s.source ORDER BY y.id DESC LIMIT 1) AS last_status,
       (SELECT error FROM sync_run z WHERE z.source = s.source ORDER BY z.id DESC LIMIT 1) AS last_error
FROM (SELECT DISTINCT source, role FROM sync_run) s ORDER BY s.role, s.source
"""


@dataclass
class Overview:
    exposure: list[dict[str, Any]] = field(default_factory=list)
    platforms: list[dict[str, Any]] = field(default_factory=list)
    at_risk: list[dict[str, Any]] = field(default_factory=list)
    unverifiable: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    findings: dict[str, dict[str, int]] = field(default_factory=dict)
    severities: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)


def _confirmations(rt: Runtime) -> dict[tuple[str, str], date]:
    from accessward.connectors.manual import ManualInventory

    out: dict[tuple[str, str], date] = {}
    for cfg in rt.settings.access_sources:
        if isinstance(cfg, ManualSource):
            path = Path(cfg.path) if Path(cfg.path).is_absolute() else rt.base / cfg.path
            try:
                for row in ManualInventory(cfg.name, path).read():
                    out[(row.resource_key, row.account_key)] = row.verified_on
            except Exception:  # noqa: S112  (a bad file shows as unknown dates here; the sync reports it)
                continue
    return out


def build(rt: Runtime) -> Overview:
    out = Overview()
    now = utcnow()
    with rt.engine.connect() as conn:
        out.exposure = [dict(r) for r in conn.execute(text(EXPOSURE_SQL), {
            "admin": int(Level.admin), "full": int(Level.full_publishing)}).mappings()]
        for found in conn.execute(text(AT_RISK_SQL).columns(first_seen=DateTime, evidence=JSON)).mappings():
            item = dict(found)
            why = str((item.pop("evidence") or {}).get("reason") or "").replace("_", " ")
            agency = (found["evidence"] or {}).get("agency")
            item["who"] = item["person"] or (f"{agency}: {item['account']}" if agency else item["account"])
            item["why"] = f"agency, {why}" if item["rule"] == "agency" else f"leaver, {why}"
            out.at_risk.append(item)
        out.sources = [dict(r) for r in conn.execute(text(SOURCES_SQL).columns(last_ok=DateTime)).mappings()]
        unverifiable = conn.execute(text(
            "SELECT g.system, r.external_id AS resource_id, r.name AS resource, a.external_id AS account_id, "
            "a.display_name AS account, g.role, g.seen_from FROM access_grant g "
            "JOIN resource r ON r.id = g.resource_id "
            "JOIN account a ON a.id = g.account_id WHERE g.seen_to IS NULL AND g.verifiable = 0 "
            "ORDER BY r.name, a.display_name").columns(seen_from=DateTime)).mappings()
        confirmed = _confirmations(rt)
        for found in unverifiable:
            item = dict(found)
            when = confirmed.get((item["resource_id"], item["account_id"]))
            item["confirmed_on"] = when
            item["age_days"] = (now.date() - when).days if when else None
            out.unverifiable.append(item)
        for rule, sev, n in conn.execute(text(
                "SELECT rule, severity, COUNT(*) FROM finding WHERE state = 'open' GROUP BY rule, severity")):
            out.findings.setdefault(str(rule), dict.fromkeys(SEVERITY_ORDER, 0))[str(sev)] = int(n)
    out.findings = dict(sorted(out.findings.items()))
    out.severities = {s: sum(r.get(s, 0) for r in out.findings.values()) for s in SEVERITY_ORDER}
    platforms: dict[str, dict[str, Any]] = {}
    for row in out.exposure:
        p = platforms.setdefault(row["system"], {"system": row["system"], "accounts": 0, "grants": 0, "admins": 0,
                                                 "full_publishing": 0, "admins_without_mfa": 0, "unverifiable": 0})
        p["accounts"] += 1
        for key in ("grants", "admins", "full_publishing", "admins_without_mfa", "unverifiable"):
            p[key] += int(row[key] or 0)
    out.platforms = list(platforms.values())
    out.totals = {key: sum(p[key] for p in out.platforms)
                  for key in ("grants", "admins", "full_publishing", "admins_without_mfa", "unverifiable")}
    out.totals["at_risk"] = len(out.at_risk)
    out.totals["open_findings"] = sum(out.severities.values())
    out.totals["failing_sources"] = sum(1 for s in out.sources if s["last_status"] not in ("succeeded", "running"))
    return out


def trend(rt: Runtime, days: int = 30, points: int = 15) -> list[tuple[datetime, dict[str, int]]]:
    """Open findings per severity at ``points`` moments over the last ``days`` (from first_seen / resolved_at)."""
    now = utcnow()
    step = timedelta(days=days) / (points - 1)
    out: list[tuple[datetime, dict[str, int]]] = []
    with rt.engine.connect() as conn:
        for i in range(points):
            at = now - step * (points - 1 - i)
            counts = dict.fromkeys(SEVERITY_ORDER, 0)
            for sev, n in conn.execute(text(
                    "SELECT severity, COUNT(*) FROM finding WHERE first_seen <= :at "
                    "AND (resolved_at IS NULL OR resolved_at > :at) AND state <> 'accepted' "
                    "GROUP BY severity"), {"at": at}):
                counts[str(sev)] = int(n)
            out.append((at, counts))
    return out


def trend_svg(rt: Runtime) -> bytes:
    """The trend as a pygal line chart (SVG, server-side; no script, no remote asset)."""
    import pygal  # type: ignore[import-untyped]
    from pygal.style import Style  # type: ignore[import-untyped]

    data = trend(rt)
    style = Style(background="white", plot_background="white", foreground="#1f2933", foreground_strong="#1f2933",
                  foreground_subtle="#9aa5b1", colors=("#7b1f1f", "#c2410c", "#b7791f", "#486581"),
                  font_family="system-ui, sans-serif")
    chart = pygal.Line(width=760, height=300, style=style, js=[], show_dots=False, fill=False,
                       x_label_rotation=0, show_minor_x_labels=False, legend_at_bottom=True,
                       title="Open findings, last 30 days", disable_xml_declaration=False)
    chart.x_labels = [at.strftime("%d %b") for at, _ in data]
    chart.x_labels_major = chart.x_labels[::7]
    for severity in reversed(SEVERITY_ORDER):
        chart.add(severity, [counts[severity] for _, counts in data])
    rendered: bytes = chart.render()
    return rendered
