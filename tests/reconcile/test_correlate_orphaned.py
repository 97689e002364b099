"""Correlation and the orphaned rule."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from accessward.connectors.records import Level, PersonRecord, PersonStatus
from accessward.reconcile.policy import PolicySettings
from accessward.reconcile.run import reconcile
from accessward.sync.models import Finding, Link
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, person


def links(engine):
    with Session(engine) as s:
        return {lk.account_id: lk for lk in s.execute(select(Link)).scalars()}


def open_findings(engine):
    with Session(engine) as s:
        return sorted((f.evidence["account"], f.evidence["reason"]) for f in
                      s.execute(select(Finding).where(Finding.state == "open")).scalars())


def test_correlation_tiers_and_disputes(engine):
    people = [
        PersonRecord(source_key="1", display_name="Ann", username="ann", employee_id="E1", emails=("ann@example.com",)),
        PersonRecord(source_key="2", display_name="Bob", username="bob", emails=("Bob.Smith@Example.com",)),
        PersonRecord(source_key="3", display_name="Twin A", username="twina", emails=("shared@example.com",)),
        PersonRecord(source_key="4", display_name="Twin B", username="twinb", emails=("shared@example.com",)),
    ]
    sync_identity(engine, FakeIdentity(people=people))
    src = FakeAccess(grants=[(a, "page", "MANAGE", Level.admin) for a in ("a-ann", "a-bob", "a-twin", "a-ghost")],
                     emails={"a-ann": "ANN@example.com", "a-bob": "bob.smith@EXAMPLE.com",
                             "a-twin": "shared@example.com", "a-ghost": "ghost@elsewhere.com"})
    sync_access(engine, src)
    result = reconcile(engine, PolicySettings())
    assert result.correlation.disputed == 1 and result.correlation.unmatched == 1
    assert dict(result.correlation.matched) == {"email": 2}
    assert open_findings(engine) == [("a-ghost", "no_person"), ("a-twin", "disputed")]


def test_orphaned_reasons_and_finding_life(engine):
    ident = FakeIdentity(people=[person("ann"), person("dana", status=PersonStatus.terminated),
                                 person("sus", status=PersonStatus.suspended)])
    sync_identity(engine, ident)
    src = FakeAccess(grants=[("ann", "page", "MANAGE", Level.admin), ("dana", "page", "MANAGE", Level.admin),
                             ("sus", "page", "ANALYZE", Level.read_only)])
    sync_access(engine, src)
    reconcile(engine, PolicySettings())
    assert open_findings(engine) == [("dana", "terminated"), ("sus", "disabled")]

    # dana's access disappears on the platform for some other reason: the finding resolves
    src.grants = [g for g in src.grants if g[0] != "dana"]
    sync_access(engine, src)
    reconcile(engine, PolicySettings())
    assert open_findings(engine) == [("sus", "disabled")]
    with Session(engine) as s:
        dana = s.execute(select(Finding).where(Finding.state == "resolved")).scalars().one()
    assert dana.resolved_at is not None


def test_an_active_matched_person_is_never_a_finding(engine):
    sync_identity(engine, FakeIdentity(people=[person(f"p{i}") for i in range(50)]))
    sync_access(engine, FakeAccess(grants=[(f"p{i}", f"page{i % 3}", "MANAGE", Level.admin) for i in range(50)]))
    reconcile(engine, PolicySettings())
    assert open_findings(engine) == []
    assert {lk.method for lk in links(engine).values()} == {"email"}


def test_unidentifiable_account_is_held_until_linked_by_hand(engine):
    from accessward.reconcile import links
    from accessward.reconcile.plan import build_plan
    from accessward.reconcile.policy import RuleSettings
    from accessward.sync.clock import utcnow
    from tests.fakes import RecordingRevoker

    sync_identity(engine, FakeIdentity(people=[person("ann"), person("dana", status=PersonStatus.terminated)]))
    src = FakeAccess(grants=[("urn:li:person:AbC", "org", "ADMINISTRATOR", Level.admin),
                             ("ann", "org", "ADMINISTRATOR", Level.admin)],
                     emails={"urn:li:person:AbC": ""})
    sync_access(engine, src)
    policy = PolicySettings(max_revocation_share=1.0, rules={"orphaned": RuleSettings(action="revoke")})
    reconcile(engine, policy)
    assert open_findings(engine) == [("urn:li:person:AbC", "unidentifiable")]
    revoker = RecordingRevoker(src)
    plan = build_plan(engine, policy, {"social": revoker}, ["dir"], utcnow())
    assert plan.revocations == [] and "link it by hand" in plan.held[0].held_because

    links.link(engine, "social", "urn:li:person:AbC", "dana@example.com", actor="test")
    reconcile(engine, policy)  # the manual link survives correlation
    assert open_findings(engine) == [("urn:li:person:AbC", "terminated")]
    plan = build_plan(engine, policy, {"social": revoker}, ["dir"], utcnow())
    assert [i.account for i in plan.revocations] == ["urn:li:person:AbC"]


def test_emails_are_normalised_and_plus_addressing_is_configurable(engine):
    sync_identity(engine, FakeIdentity(people=[
        # fullwidth "ANN" and a trailing dot on the domain
        PersonRecord(source_key="1", display_name="Ann", emails=("\uff21\uff2e\uff2e@Example.COM.",)),
        PersonRecord(source_key="2", display_name="Bob", emails=("bob@example.com",)),
        PersonRecord(source_key="3", display_name="Strasse", emails=("strasse@example.com",))]))
    src = FakeAccess(grants=[(a, "page", "MANAGE", Level.admin) for a in ("a-ann", "a-bob", "a-sz")],
                     emails={"a-ann": "ann@example.com", "a-bob": "bob+social@example.com",
                             "a-sz": "straße@example.com"})
    sync_access(engine, src)
    reconcile(engine, PolicySettings())
    assert open_findings(engine) == [("a-bob", "no_person"), ("a-sz", "no_person")], "ß is not ss"
    reconcile(engine, PolicySettings(plus_addressing=True))
    assert open_findings(engine) == [("a-sz", "no_person")]


def test_a_handle_that_is_another_person_s_uid_makes_a_dispute_not_a_match(engine):
    """Review finding: Alice's Pinterest handle 'asmith' is the uid of Adam, who left."""
    sync_identity(engine, FakeIdentity(people=[
        PersonRecord(source_key="1", display_name="Alice", username="alice", emails=("alice.smith@corp.example",)),
        PersonRecord(source_key="2", display_name="Adam", username="asmith", emails=("adam@corp.example",),
                     status=PersonStatus.terminated)]))
    src = FakeAccess(grants=[("p1", "board", "EMPLOYEE", Level.full_publishing)],
                     emails={"p1": "alice.smith@corp.example"}, facts={"p1": {"login": "asmith"}})
    sync_access(engine, src)
    reconcile(engine, PolicySettings())
    assert open_findings(engine) == [("p1", "disputed")]


def test_missing_and_unconfigured_records_do_not_decide_the_link(engine):
    sync_identity(engine, FakeIdentity(name="ldap", people=[person("dana")]))
    sync_identity(engine, FakeIdentity(name="entra", people=[person("dana")]))
    sync_identity(engine, FakeIdentity(name="entra", people=[person("other")]))  # dana left Entra's scope
    sync_identity(engine, FakeIdentity(name="old-ad", people=[person("dana", status=PersonStatus.suspended)]))
    sync_access(engine, FakeAccess(grants=[("dana", "page", "MANAGE", Level.admin)]))
    reconcile(engine, PolicySettings(), identity_sources=["ldap", "entra"])
    assert open_findings(engine) == [], "LDAP still has her; the Entra record is missing; old-ad is gone"
    reconcile(engine, PolicySettings(), identity_sources=["ldap", "entra", "old-ad"])
    assert open_findings(engine) == [("dana", "disabled")]
