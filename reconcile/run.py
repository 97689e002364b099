"""One reconciliation: correlate, evaluate every rule, keep the findings' life up to date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from reconcile import rules
from reconcile.correlate import CorrelationStats, correlate
from reconcile.findings import FindingCounts, store_findings
from reconcile.policy import PolicySettings
from sync import audit
from sync.clock import utcnow

RULES = {"orphaned": rules.orphaned}


@dataclass
class ReconcileResult:
    at: datetime
    correlation: CorrelationStats
    findings: dict[str, FindingCounts] = field(default_factory=dict)


def reconcile(engine: Engine, policy: PolicySettings, *, now: datetime | None = None,
              actor: str = "system") -> ReconcileResult:
    now = now or utcnow()
    result = ReconcileResult(now, correlate(engine))
    for name, rule in RULES.items():
        result.findings[name] = store_findings(engine, name, rule(engine, policy.rule(name), now), now)
    audit.record(engine, "reconcile.finished", "", {
        "accounts": result.correlation.accounts, "disputed": result.correlation.disputed,
        "unmatched": result.correlation.unmatched,
        "findings": {k: vars(v) for k, v in result.findings.items()},
    }, actor=actor)
    return result
