"""One reconciliation: correlate, evaluate every rule, keep the findings' life up to date."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from accessward.reconcile import rules, rules_agency, rules_posture
from accessward.reconcile.correlate import CorrelationStats, correlate
from accessward.reconcile.exceptions import ExceptionCounts, apply_exceptions
from accessward.reconcile.findings import FindingCounts, FindingDraft, store_findings
from accessward.reconcile.policy import PolicySettings
from accessward.sync import audit
from accessward.sync.clock import utcnow

Rule = Callable[[Engine, PolicySettings, datetime], Iterator[FindingDraft]]

RULES: dict[str, Rule] = {
    "orphaned": lambda engine, policy, now: rules.orphaned(
        engine, policy.rule("orphaned"), now, [d for a in policy.agencies for d in a.email_domains]),
    "agency": rules_agency.agency,
    "mfa_required": rules_posture.mfa_required,
    "sso_required": rules_posture.sso_required,
    "role_ceiling": rules_posture.role_ceiling,
    "dormant": rules_posture.dormant,
}


@dataclass
class ReconcileResult:
    at: datetime
    correlation: CorrelationStats
    findings: dict[str, FindingCounts] = field(default_factory=dict)
    exceptions: ExceptionCounts = field(default_factory=ExceptionCounts)


def reconcile(engine: Engine, policy: PolicySettings, *, now: datetime | None = None,
              actor: str = "system", identity_sources: Sequence[str] | None = None) -> ReconcileResult:
    now = now or utcnow()
    result = ReconcileResult(now, correlate(engine, plus_addressing=policy.plus_addressing,
                                                 identity_sources=identity_sources))
    for name, rule in RULES.items():
        result.findings[name] = store_findings(engine, name, rule(engine, policy, now), now)
    result.exceptions = apply_exceptions(engine, now, actor=actor)
    audit.record(engine, "reconcile.finished", "", {
        "accounts": result.correlation.accounts, "disputed": result.correlation.disputed,
        "unmatched": result.correlation.unmatched,
        "findings": {k: vars(v) for k, v in result.findings.items()}, "exceptions": vars(result.exceptions),
    }, actor=actor)
    return result
