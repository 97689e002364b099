"""Invariant 8: whoever starts a plan cannot approve it; nobody decides on their own access; the system's
plans may be approved by any approver; principals are one per person (token and login alike)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from accessward.reconcile import executor
from accessward.reconcile.correlate import correlate
from accessward.reconcile.four_eyes import (
    FourEyesRefused,
    check_finding_not_own,
    check_not_own_access,
    own_account_ids,
    owns_grant,
)
from accessward.reconcile.plan import build_plan
from accessward.reconcile.policy import PolicySettings, RuleSettings
from accessward.reconcile.run import reconcile
from accessward.sync import principals
from accessward.sync.clock import utcnow
from accessward.sync.models import Account, AuditEvent, Finding, Grant, Plan
from tests.reconcile.test_plan_apply import estate

POLICY = PolicySettings(max_revocations=1, rules={"orphaned": RuleSettings(action="revoke")})


def _needs_approval(engine, revoker, *, actor="cli:alice", principal_id=None) -> int:  # type: ignore[no-untyped-def]
    reconcile(engine, POLICY)
    plan = build_plan(engine, POLICY, {revoker.name: revoker}, ["dir"], utcnow(), actor=actor,
                      principal_id=principal_id)
    assert plan.status == "needs_approval" and plan.plan_id is not None
    return plan.plan_id


def test_whoever_started_a_plan_cannot_approve_it_and_another_person_can(engine):
    _, _, revoker = estate(engine, leavers=3)
    alice = principals.ensure(engine, "alice", display_name="Alice", email="alice@corp.test")
    bob = principals.ensure(engine, "bob", display_name="Bob", email="bob@corp.test")
    plan_id = _needs_approval(engine, revoker, actor=alice.actor, principal_id=alice.id)
    with pytest.raises(FourEyesRefused, match="four-eyes"):
        executor.approve(engine, plan_id, who=alice)
    with Session(engine) as s:
        plan = s.get(Plan, plan_id)
        assert plan.status == "needs_approval" and plan.started_by_principal_id == alice.id
        refused = s.execute(select(AuditEvent).where(AuditEvent.kind == "plan.approval_refused")).scalars().one()
    assert refused.actor == "principal:alice"
    with pytest.raises(executor.PlanNotApproved):
        executor.execute(engine, plan_id, {revoker.name: revoker})
    assert revoker.calls == []

    executor.approve(engine, plan_id, who=bob, note="CAB-1234")
    with Session(engine) as s:
        plan = s.get(Plan, plan_id)
        approved = s.execute(select(AuditEvent).where(AuditEvent.kind == "plan.approved")).scalars().one()
    assert (plan.status, plan.approved_by, plan.approved_by_principal_id) == ("approved", "principal:bob", bob.id)
    assert approved.actor == "principal:bob" and approved.data["note"] == "CAB-1234"
    assert approved.data["started_by"] == "principal:alice"


def test_four_eyes_off_lets_the_starter_approve(engine):
    _, _, revoker = estate(engine, leavers=3)
    alice = principals.ensure(engine, "alice")
    plan_id = _needs_approval(engine, revoker, actor=alice.actor, principal_id=alice.id)
    executor.approve(engine, plan_id, who=alice, four_eyes=False)
    with Session(engine) as s:
        assert s.get(Plan, plan_id).status == "approved"


def test_a_scheduler_plan_belongs_to_the_system_and_any_approver_may_approve_it(engine):
    _, _, revoker = estate(engine, leavers=3)
    alice = principals.ensure(engine, "alice")
    plan_id = _needs_approval(engine, revoker, actor="scheduler")
    executor.approve(engine, plan_id, who=alice)
    with Session(engine) as s:
        plan = s.get(Plan, plan_id)
    assert plan.status == "approved" and plan.started_by == "scheduler" and plan.started_by_principal_id is None


def test_only_a_person_approves(engine):
    _, _, revoker = estate(engine, leavers=3)
    plan_id = _needs_approval(engine, revoker, actor="scheduler")
    with pytest.raises(FourEyesRefused, match="not a person"):
        executor.approve(engine, plan_id, who=principals.system(engine))


def test_nobody_decides_on_their_own_access(engine):
    estate(engine, leavers=1, staff=3)
    correlate(engine)
    reconcile(engine, POLICY)
    leaver = principals.ensure(engine, "l0", person_key="l0")  # the leaver's directory key
    by_email = principals.ensure(engine, "s1", email="S1@example.com")  # found by email alone
    other = principals.ensure(engine, "s2-boss", email="boss@corp.test")
    with Session(engine) as s:
        grants = {s.get(Account, g.account_id).external_id: g.id for g in s.execute(select(Grant)).scalars()}
        finding = s.execute(select(Finding)).scalars().one()
    assert owns_grant(engine, leaver, grants["l0"]) and not owns_grant(engine, leaver, grants["s0"])
    assert owns_grant(engine, by_email, grants["s1"])
    with pytest.raises(FourEyesRefused, match="own access"):
        check_not_own_access(engine, leaver, grant_id=grants["l0"])
    with pytest.raises(FourEyesRefused):
        check_finding_not_own(engine, leaver, finding.id)  # a risk acceptance of one's own finding
    check_not_own_access(engine, other, grant_id=grants["l0"])  # someone else may decide
    check_finding_not_own(engine, other, finding.id)
    assert own_account_ids(engine, principals.system(engine)) == set()


def test_a_login_binds_to_the_settings_principal_of_the_same_verified_email(engine):
    alice = principals.ensure(engine, "alice", display_name="Alice", email="alice@corp.test")
    unverified = principals.resolve_or_create(engine, issuer="https://idp.test", sub="u-1",
                                              email="alice@corp.test", name="Alice")
    assert unverified.id != alice.id and unverified.key.startswith("oidc:")  # an email is only a hint
    login = principals.resolve_or_create(engine, issuer="https://idp.test", sub="u-2", email="Alice@corp.test",
                                         name="Alice", email_verified=True)
    assert login.id == alice.id  # her token and her login are one principal
    again = principals.resolve_or_create(engine, issuer="https://idp.test", sub="u-2", email="new@corp.test",
                                         name="Alice", email_verified=True)
    assert again.id == alice.id
    other_idp = principals.resolve_or_create(engine, issuer="https://other.test", sub="u-2", email=None, name="X")
    assert other_idp.id not in (alice.id, unverified.id)
