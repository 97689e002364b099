"""The agency rule: engagement, scope, role ceiling, roster — and one revocation per grant."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, text
from sqlmodel import Session

from accessward.connectors.records import AccountKind, Level, PersonKind, PersonRecord, PersonStatus
from accessward.reconcile.plan import build_plan
from accessward.reconcile.policy import Engagement, PolicySettings, RuleSettings
from accessward.reconcile.run import reconcile
from accessward.sync.clock import utcnow
from accessward.sync.models import Action, Finding
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, RecordingRevoker, person

TODAY = date.today()


def agency_findings(engine):
    with Session(engine) as s:
        rows = s.execute(select(Finding).where(Finding.rule == "agency", Finding.state == "open")).scalars()
        return sorted((f.evidence["account"], f.evidence["resource"], tuple(f.evidence["reasons"])) for f in rows)


def setup(engine):
    sync_identity(engine, FakeIdentity(people=[person("boss")]))
    roster = [PersonRecord(source_key="taylor@bright.agency", emails=("taylor@bright.agency",), kind=PersonKind.agency)]
    sync_identity(engine, FakeIdentity(name="bright-roster", people=roster))
    src = FakeAccess(
        grants=[("boss", "main", "MANAGE", Level.admin),
                ("bright-biz", "main", "ADVERTISE", Level.full_publishing),       # partner business, in scope
                ("bright-biz", "careers", "ADVERTISE", Level.full_publishing),    # out of scope
                ("taylor", "main", "CREATE_CONTENT", Level.full_publishing),      # on roster
                ("kim", "main", "MANAGE", Level.admin),                           # left the agency
                ("old-biz", "main", "ANALYZE", Level.read_only)],                 # ended engagement
        kinds={"bright-biz": AccountKind.agency, "old-biz": AccountKind.agency},
        emails={"taylor": "taylor@bright.agency", "kim": "kim@bright.agency", "bright-biz": "",
                "old-biz": ""},
    )
    sync_access(engine, src)
    return src


AGENCIES = [
    Engagement(name="Brightside", partner_accounts=["social:bright-biz"], email_domains=["bright.agency"],
               assets=["social:main"], max_level="full_publishing", roster_source="bright-roster",
               start=TODAY - timedelta(days=100), end=TODAY + timedelta(days=100)),
    Engagement(name="Oldco", partner_accounts=["social:old-biz"], end=TODAY - timedelta(days=1)),
]


def test_agency_reasons(engine):
    setup(engine)
    reconcile(engine, PolicySettings(agencies=AGENCIES))
    assert agency_findings(engine) == [
        ("bright-biz", "careers", ("out_of_scope",)),
        ("kim", "main", ("above_allowed_role", "not_on_roster")),
        ("old-biz", "main", ("engagement_ended",)),
    ]


def test_agency_access_without_any_engagement(engine):
    setup(engine)
    reconcile(engine, PolicySettings())
    # partner businesses, and roster staff (a person of kind agency); kim's domain is no agency's yet
    assert [a for a, _, r in agency_findings(engine) if r == ("no_engagement",)] == [
        "bright-biz", "bright-biz", "old-biz", "taylor"]


def test_a_grant_found_by_two_rules_is_revoked_once(engine):
    src = setup(engine)
    revoker = RecordingRevoker(src)
    policy = PolicySettings(agencies=AGENCIES, max_revocation_share=1.0,
                            rules={"agency": RuleSettings(action="revoke"),
                                   "orphaned": RuleSettings(action="revoke", revoke_unmatched=True)})
    # Lee has left the agency: the roster still lists them, terminated. Orphaned and agency both find the grant.
    roster = [PersonRecord(source_key="taylor@bright.agency", emails=("taylor@bright.agency",), kind=PersonKind.agency),
              PersonRecord(source_key="lee@bright.agency", emails=("lee@bright.agency",), kind=PersonKind.agency,
                           status=PersonStatus.terminated)]
    sync_identity(engine, FakeIdentity(name="bright-roster", people=roster))
    src.grants.append(("lee", "main", "MANAGE", Level.admin))
    src.emails["lee"] = "lee@bright.agency"
    sync_access(engine, src)
    reconcile(engine, policy)
    plan = build_plan(engine, policy, {revoker.name: revoker}, ["dir", "bright-roster"], utcnow())
    lee = [i for i in plan.revocations if i.account == "lee"]
    assert len(lee) == 1 and set(lee[0].rule.split("+")) == {"orphaned", "agency"}
    with Session(engine) as s:
        assert len([a for a in s.execute(select(Action)).scalars() if a.grant_id == lee[0].grant_id]) == 1
    # Kim matches nobody but is on Brightside's domain: agency staff (not on the roster), never "no_person".
    kim = [i for i in plan.revocations if i.account == "kim"]
    assert len(kim) == 1 and kim[0].rule == "agency"


def test_agency_domain_staff_are_not_orphaned_and_severity_follows_the_risk(engine):
    setup(engine)
    reconcile(engine, PolicySettings(agencies=AGENCIES))
    with Session(engine) as s:
        found = {(f.rule, f.evidence["account"]): f.severity for f in s.execute(select(Finding)).scalars()}
    assert ("orphaned", "kim") not in found and ("orphaned", "taylor") not in found
    assert found[("agency", "kim")] == "critical", "not on the roster, holding admin"
    assert found[("agency", "old-biz")] == "high", "a partner business, read-only, engagement ended"


def test_staff_on_the_roster_but_linked_to_their_idp_record_is_on_the_roster(engine):
    """Review finding: Taylor is on the roster and also a guest in Entra; the link chose Entra."""
    setup(engine)
    guest = PersonRecord(source_key="g-taylor", emails=("taylor@bright.agency",), kind=PersonKind.agency)
    sync_identity(engine, FakeIdentity(name="entra", people=[guest]))
    with engine.begin() as conn:  # make the Entra record the one the link prefers (it has posture)
        conn.execute(text("UPDATE person SET mfa = :t WHERE source_key = 'g-taylor'"), {"t": True})
    reconcile(engine, PolicySettings(agencies=AGENCIES))
    assert "taylor" not in [a for a, _, _ in agency_findings(engine)]
