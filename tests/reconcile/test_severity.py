"""Severity follows the risk: reason, level and account kind decide it; the policy can override."""

from __future__ import annotations

from accessward.connectors.records import Level, PersonStatus
from accessward.reconcile.policy import PolicySettings, RuleSettings
from accessward.reconcile.run import reconcile
from accessward.reconcile.severity import computed
from accessward.reports.findings import finding_rows
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, person


def test_computed_severities():
    assert computed("orphaned", "terminated", Level.admin) == "critical"
    assert computed("orphaned", "terminated", Level.full_publishing) == "high"
    assert computed("orphaned", "no_person", Level.read_only) == "low"
    assert computed("dormant", "unused", Level.admin) == "medium"
    assert computed("agency", "engagement_ended", Level.read_only, "agency") == "high"
    assert computed("mfa_required", "two_factor_off", Level.needs_approval) == "low"


def test_findings_get_the_severity_of_their_risk_unless_the_policy_sets_one(engine):
    sync_identity(engine, FakeIdentity(people=[person("dana", status=PersonStatus.terminated)]))
    sync_access(engine, FakeAccess(grants=[("dana", "page", "MANAGE", Level.admin),
                                           ("ghost", "page", "ANALYZE", Level.read_only)]))
    reconcile(engine, PolicySettings())
    assert {(r["account"], r["severity"]) for r in finding_rows(engine)} == {("dana", "critical"), ("ghost", "low")}
    reconcile(engine, PolicySettings(rules={"orphaned": RuleSettings(severity="medium")}))
    assert {r["severity"] for r in finding_rows(engine)} == {"medium"}
