"""mfa_required, sso_required, dormant and role_ceiling."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session

from accessward.connectors.records import Level, PersonKind
from accessward.reconcile.policy import Ceiling, PolicySettings, RuleSettings
from accessward.reconcile.rules_posture import ceiling_for
from accessward.reconcile.run import reconcile
from accessward.sync.clock import utcnow
from accessward.sync.models import Finding
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, person


def findings(engine, rule):
    with Session(engine) as s:
        rows = s.execute(select(Finding).where(Finding.rule == rule, Finding.state == "open")).scalars()
        return sorted((f.evidence["account"], f.evidence["reason"]) for f in rows)


def test_mfa_and_sso_only_judge_what_the_network_reports(engine):
    sync_identity(engine, FakeIdentity(people=[person("a"), person("b"), person("c")]))
    sync_access(engine, FakeAccess(
        grants=[("a", "page", "MANAGE", Level.admin), ("b", "page", "ANALYZE", Level.read_only),
                ("c", "page", "ANALYZE", Level.read_only)],
        facts={"a": {"mfa": False, "sso": True}, "b": {"mfa": True, "sso": False}},  # c: unknown
    ))
    reconcile(engine, PolicySettings())
    assert findings(engine, "mfa_required") == [("a", "two_factor_off")]
    assert findings(engine, "sso_required") == [("b", "native_login")]


def test_dormant_after_the_rules_days(engine):
    now = utcnow()
    sync_identity(engine, FakeIdentity(people=[person("old"), person("new")]))
    sync_access(engine, FakeAccess(
        grants=[("old", "page", "MANAGE", Level.admin), ("new", "page", "MANAGE", Level.admin)],
        facts={"old": {"last_active": now - timedelta(days=120)}, "new": {"last_active": now - timedelta(days=10)}},
    ))
    reconcile(engine, PolicySettings(rules={"dormant": RuleSettings(days=90)}))
    assert findings(engine, "dormant") == [("old", "unused")]
    reconcile(engine, PolicySettings(rules={"dormant": RuleSettings(days=180)}))
    assert findings(engine, "dormant") == [], "a longer window resolves it"


def test_role_ceiling_for_interns_and_contractors(engine):
    interns = "cn=Interns,ou=groups,dc=example,dc=com"
    sync_identity(engine, FakeIdentity(people=[
        person("intern", groups=(interns,)), person("contractor", kind=PersonKind.contractor), person("boss")]))
    sync_access(engine, FakeAccess(grants=[
        ("intern", "page", "MANAGE", Level.admin), ("intern", "page2", "ANALYZE", Level.read_only),
        ("contractor", "page", "CREATE_CONTENT", Level.full_publishing), ("boss", "page", "MANAGE", Level.admin)]))
    policy = PolicySettings(role_ceilings=[Ceiling(match="group:Interns", max_level="needs_approval"),
                                           Ceiling(match="kind:contractor", max_level="full_publishing")])
    reconcile(engine, policy)
    assert findings(engine, "role_ceiling") == [("intern", "above_ceiling")]


def test_ceiling_takes_the_most_restrictive_match():
    ceilings = [Ceiling(match="department:Brand", max_level="admin"),
                Ceiling(match="group:cn=Interns,ou=g", max_level="read_only")]
    assert ceiling_for("employee", "brand", ["cn=Interns,ou=g"], ceilings) == (Level.read_only, "group:cn=Interns,ou=g")
    assert ceiling_for("employee", "Sales", [], ceilings) is None
