"""Plans and the executor: the safety invariants of the walking skeleton."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from accessward.connectors.errors import AuthError, RejectedError, TransientError
from accessward.connectors.records import GrantRef, Level, PersonStatus
from accessward.reconcile import executor
from accessward.reconcile.plan import build_plan
from accessward.reconcile.policy import PolicySettings, RuleSettings
from accessward.reconcile.run import reconcile
from accessward.sync import principals
from accessward.sync.clock import utcnow
from accessward.sync.models import Action, AuditEvent, Plan
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, RecordingRevoker, person

REVOKE = PolicySettings(rules={"orphaned": RuleSettings(action="revoke")})


def estate(engine, leavers: int = 1, staff: int = 20):
    """`staff` active people each admin on a page, `leavers` terminated people still holding MANAGE."""
    people = [person(f"s{i}") for i in range(staff)] + [
        person(f"l{i}", status=PersonStatus.terminated) for i in range(leavers)]
    ident = FakeIdentity(people=people)
    grants = [(f"s{i}", "main", "MANAGE", Level.admin) for i in range(staff)]
    grants += [(f"l{i}", "main", "CREATE_CONTENT", Level.full_publishing) for i in range(leavers)]
    src = FakeAccess(grants=grants)
    assert sync_identity(engine, ident).ok
    assert sync_access(engine, src).ok
    return ident, src, RecordingRevoker(src)


def plan_and_apply(engine, policy, revoker, identity=("dir",)):
    reconcile(engine, policy)
    plan = build_plan(engine, policy, {revoker.name: revoker}, list(identity), utcnow())
    report = None
    if plan.status == "ready":
        report = executor.execute(engine, plan.plan_id, {revoker.name: revoker}, sleep=lambda s: None)
    return plan, report


def test_flag_only_by_default_revokes_nothing(engine):
    _, _, revoker = estate(engine)
    plan, report = plan_and_apply(engine, PolicySettings(), revoker)
    assert plan.status == "empty" and plan.flagged == 1 and revoker.calls == [] and report is None


def test_revoke_removes_exactly_the_leavers_grant_and_audits_it(engine):
    _, src, revoker = estate(engine)
    plan, report = plan_and_apply(engine, REVOKE, revoker)
    assert plan.status == "ready"
    assert [(c.account_id, c.resource_id) for c in revoker.calls] == [("l0", "main")]
    assert report.outcomes == {"done": 1}
    assert "DELETE https://social.test/main/assigned_users?user=l0" in plan.revocations[0].request
    assert not any(g[0] == "l0" for g in src.grants) and len(src.grants) == 20
    with Session(engine) as s:
        action = s.execute(select(Action)).scalars().one()
        kinds = [e.kind for e in s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]
    assert action.state == "done" and action.attempts == 1
    assert "revocation.done" in kinds and kinds.index("plan.created") < kinds.index("revocation.done")
    # applying again revokes nothing more: the grant is closed and its finding revoked
    plan2, _ = plan_and_apply(engine, REVOKE, revoker)
    assert plan2.status == "empty" and len(revoker.calls) == 1


def test_failed_identity_sync_revokes_nothing(engine):
    ident, _, revoker = estate(engine)
    ident.fail_after = 3
    assert sync_identity(engine, ident).status == "failed"
    plan, report = plan_and_apply(engine, REVOKE, revoker)
    assert revoker.calls == [] and report is None
    assert plan.revocations == [] and "newest sync" in plan.held[0].held_because


def test_failed_access_sync_revokes_nothing_on_that_system(engine):
    _, src, revoker = estate(engine)
    src.fail_after = 2
    assert sync_access(engine, src).status == "failed"
    plan, _ = plan_and_apply(engine, REVOKE, revoker)
    assert revoker.calls == [] and "social: newest sync" in plan.held[0].held_because


def test_stale_data_revokes_nothing(engine):
    _, _, revoker = estate(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE sync_run SET finished_at = :t"), {"t": utcnow() - timedelta(days=3)})
    plan, _ = plan_and_apply(engine, REVOKE, revoker)
    assert revoker.calls == [] and "older than 36 h" in plan.held[0].held_because


def test_no_identity_source_means_nobody_is_known_to_have_left(engine):
    _, _, revoker = estate(engine)
    plan, _ = plan_and_apply(engine, REVOKE, revoker, identity=())
    assert revoker.calls == [] and "no identity source" in plan.held[0].held_because


def test_threshold_stops_before_the_first_revocation_until_approved(engine):
    _, _, revoker = estate(engine, leavers=6, staff=20)
    policy = PolicySettings(max_revocations=5, rules=REVOKE.rules)
    plan, report = plan_and_apply(engine, policy, revoker)
    assert plan.status == "needs_approval" and "max_revocations = 5" in plan.reason
    assert revoker.calls == [] and report is None
    with pytest.raises(executor.PlanNotApproved):
        executor.execute(engine, plan.plan_id, {revoker.name: revoker})
    assert revoker.calls == []
    with Session(engine) as s:
        assert {a.state for a in s.execute(select(Action)).scalars()} == {"planned"}
    executor.approve(engine, plan.plan_id, who=principals.ensure(engine, "ciso"))
    report = executor.execute(engine, plan.plan_id, {revoker.name: revoker})
    assert report.outcomes == {"done": 6} and len(revoker.calls) == 6
    with Session(engine) as s:
        assert s.get(Plan, plan.plan_id).approved_by == "principal:ciso"


def test_share_threshold(engine):
    _, _, revoker = estate(engine, leavers=6, staff=10)
    policy = PolicySettings(max_revocations=100, max_revocation_share=0.2, rules=REVOKE.rules)
    plan, _ = plan_and_apply(engine, policy, revoker)
    assert plan.status == "needs_approval" and "37.5%" in plan.reason and revoker.calls == []


def test_last_admin_is_never_removed(engine):
    sync_identity(engine, FakeIdentity(people=[person("dana", status=PersonStatus.terminated), person("ann")]))
    src = FakeAccess(grants=[("dana", "solo", "MANAGE", Level.admin), ("ann", "solo", "ANALYZE", Level.read_only),
                             ("dana", "shared", "MANAGE", Level.admin), ("ann", "shared", "MANAGE", Level.admin)])
    sync_access(engine, src)
    revoker = RecordingRevoker(src)
    plan, _ = plan_and_apply(engine, REVOKE, revoker)
    assert [(c.account_id, c.resource_id) for c in revoker.calls] == [("dana", "shared")]
    assert [(h.resource, h.held_because.split(":")[0]) for h in plan.held] == [("solo", "last admin of the resource")]


def test_break_glass_is_never_touched(engine):
    _, _, revoker = estate(engine)
    policy = PolicySettings(break_glass=["L0@example.com"], rules=REVOKE.rules)
    plan, _ = plan_and_apply(engine, policy, revoker)
    assert revoker.calls == [] and "break-glass" in plan.held[0].held_because


def test_grace_period_holds_until_it_ends(engine):
    _, _, revoker = estate(engine)
    policy = PolicySettings(rules={"orphaned": RuleSettings(action="revoke", grace_days=7)})
    plan, _ = plan_and_apply(engine, policy, revoker)
    assert revoker.calls == [] and "grace period" in plan.held[0].held_because


def test_rejected_revocation_is_recorded_with_the_platform_message(engine):
    _, _, revoker = estate(engine)
    revoker.fail_with["l0"] = [RejectedError("refused", detail="Cannot remove: pending review")]
    _, report = plan_and_apply(engine, REVOKE, revoker)
    assert report.outcomes == {"failed": 1}
    with Session(engine) as s:
        action = s.execute(select(Action)).scalars().one()
    assert action.state == "failed" and "Cannot remove: pending review" in action.last_error


def test_transient_errors_are_retried_with_backoff(engine):
    _, _, revoker = estate(engine)
    revoker.fail_with["l0"] = [TransientError("503"), TransientError("429", retry_after=7)]
    reconcile(engine, REVOKE)
    plan = build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())
    waits = []
    report = executor.execute(engine, plan.plan_id, {revoker.name: revoker}, backoff=2, sleep=waits.append)
    assert report.outcomes == {"done": 1} and waits == [2, 7] and len(revoker.calls) == 3


def test_auth_error_stops_the_system_and_keeps_actions_for_later(engine):
    _, _, revoker = estate(engine, leavers=2)
    revoker.fail_with["l0"] = [AuthError("token expired")]
    _, report = plan_and_apply(engine, REVOKE, revoker)
    assert report.outcomes == {"stopped": 1, "skipped": 1} and len(revoker.calls) == 1
    assert executor.unfinished_plans(engine) == [report.plan_id]
    report2 = executor.execute(engine, report.plan_id, {revoker.name: revoker})
    assert report2.outcomes == {"done": 2}


def test_an_action_left_executing_by_a_crash_is_finished_once(engine):
    _, src, revoker = estate(engine)
    reconcile(engine, REVOKE)
    plan = build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())
    # Simulate a crash after the platform removed the access but before the outcome was stored.
    revoker.revoke(GrantRef(account_id="l0", resource_id="main", role="CREATE_CONTENT"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE action SET state = 'executing', attempts = 1"))
        conn.execute(text("UPDATE plan SET status = 'applying'"))
    assert executor.unfinished_plans(engine) == [plan.plan_id]
    report = executor.execute(engine, plan.plan_id, {revoker.name: revoker})
    assert report.outcomes == {"already_gone": 1}
    with Session(engine) as s:
        action = s.execute(select(Action)).scalars().one()
    assert action.state == "already_gone" and action.attempts == 2
    assert not any(g[0] == "l0" for g in src.grants)


def test_a_grant_in_an_interrupted_plan_is_not_planned_again(engine):
    _, _, revoker = estate(engine, leavers=2)
    reconcile(engine, REVOKE)
    first = build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())
    with engine.begin() as conn:
        conn.execute(text("UPDATE plan SET status = 'applying'"))
    second = build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())
    assert second.revocations == [] and second.plan_id is None
    assert all(f"already in plan {first.plan_id}" in h.held_because for h in second.held) and len(second.held) == 2


def test_an_account_matching_nobody_is_only_flagged_unless_the_rule_says_so(engine):
    sync_identity(engine, FakeIdentity(people=[person("ann")]))
    src = FakeAccess(grants=[("ann", "page", "MANAGE", Level.admin), ("svc-bot", "page", "CREATE_CONTENT",
                                                                      Level.full_publishing)])
    sync_access(engine, src)
    revoker = RecordingRevoker(src)
    plan, _ = plan_and_apply(engine, REVOKE, revoker)
    assert revoker.calls == [] and "matches no person" in plan.held[0].held_because
    policy = PolicySettings(rules={"orphaned": RuleSettings(action="revoke", revoke_unmatched=True)})
    plan, report = plan_and_apply(engine, policy, revoker)
    assert [c.account_id for c in revoker.calls] == ["svc-bot"] and report.outcomes == {"done": 1}


def test_two_plans_can_never_remove_the_last_admin_together(engine):
    """Review finding: plan 1 approved but not applied, plan 2 made later, both remove an admin."""
    sync_identity(engine, FakeIdentity(people=[person("alice", status=PersonStatus.terminated), person("bob")]))
    src = FakeAccess(grants=[("alice", "page", "MANAGE", Level.admin), ("bob", "page", "MANAGE", Level.admin)])
    sync_access(engine, src)
    revoker = RecordingRevoker(src)
    policy = PolicySettings(max_revocations=0, rules=REVOKE.rules)
    reconcile(engine, policy)
    plan1 = build_plan(engine, policy, {revoker.name: revoker}, ["dir"], utcnow())
    executor.approve(engine, plan1.plan_id, who=principals.ensure(engine, "ciso"))
    sync_identity(engine, FakeIdentity(people=[person("alice", status=PersonStatus.terminated),
                                               person("bob", status=PersonStatus.terminated)]))
    reconcile(engine, policy)
    plan2 = build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())
    assert plan2.revocations == [] and "last admin" in plan2.held[-1].held_because
    report = executor.execute(engine, plan1.plan_id, {revoker.name: revoker})
    assert report.outcomes == {"done": 1} and [g[0] for g in src.grants] == ["bob"]


def test_the_executor_checks_the_last_admin_again(engine):
    sync_identity(engine, FakeIdentity(people=[person("alice", status=PersonStatus.terminated), person("bob")]))
    src = FakeAccess(grants=[("alice", "page", "MANAGE", Level.admin), ("bob", "page", "MANAGE", Level.admin)])
    sync_access(engine, src)
    revoker = RecordingRevoker(src)
    reconcile(engine, REVOKE)
    plan = build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())
    src.grants = [g for g in src.grants if g[0] != "bob"]  # bob's admin goes away for other reasons
    assert sync_access(engine, src).ok
    report = executor.execute(engine, plan.plan_id, {revoker.name: revoker})
    assert report.outcomes == {"failed": 1} and revoker.calls == [] and "last admin" in report.failures[0]


def test_blocked_systems_wait_and_a_crashed_attempt_confirmed_by_sync_is_kept_in_the_trail(engine):
    _, src, revoker = estate(engine)
    reconcile(engine, REVOKE)
    plan = build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())
    report = executor.execute(engine, plan.plan_id, {revoker.name: revoker}, blocked={"social": "dir failed"})
    assert report.outcomes == {"skipped": 1} and revoker.calls == []
    # crash after the platform acted; then a sync sees the grant gone
    revoker.revoke(GrantRef(account_id="l0", resource_id="main", role="CREATE_CONTENT"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE action SET state = 'executing', attempts = 1"))
    assert sync_access(engine, src).ok
    report = executor.execute(engine, plan.plan_id, {revoker.name: revoker})
    assert report.outcomes == {"already_gone": 1}
    with Session(engine) as s:
        kinds = [e.kind for e in s.execute(select(AuditEvent)).scalars()]
    assert "revocation.already_gone" in kinds


def test_grace_restarts_when_a_finding_reopens(engine):
    _, _, revoker = estate(engine)
    policy = PolicySettings(rules={"orphaned": RuleSettings(action="revoke", grace_days=7)})
    reconcile(engine, policy)
    with engine.begin() as conn:  # first seen 60 days ago, then resolved (reinstated)
        conn.execute(text("UPDATE finding SET first_seen = :t, state = 'resolved'"),
                     {"t": utcnow() - timedelta(days=60)})
    plan, _ = plan_and_apply(engine, policy, revoker)
    assert revoker.calls == [] and "grace period" in plan.held[0].held_because


def test_a_disputed_link_holds_every_rule_not_only_orphaned(engine):
    sync_identity(engine, FakeIdentity(people=[person("a1", "shared@example.com"), person("a2", "shared@example.com")]))
    src = FakeAccess(grants=[("x", "page", "MANAGE", Level.admin), ("boss", "page", "MANAGE", Level.admin)],
                     emails={"x": "shared@example.com"}, facts={"x": {"mfa": False}})
    sync_access(engine, src)
    revoker = RecordingRevoker(src)
    policy = PolicySettings(rules={"mfa_required": RuleSettings(action="revoke")})
    plan, _ = plan_and_apply(engine, policy, revoker)
    assert revoker.calls == [] and any("disputed" in h.held_because for h in plan.held if h.account == "x")
