"""Tests that kill the mutants ``make mutate`` found surviving in ``executor.execute`` (issue 12).

Each test names the mutants it kills (mutmut 3 names: ``accessward.reconcile.executor.x_execute__mutmut_N``).
The executor walks a plan's outbox in order; every branch that ends one action (skipped, already
gone, cancelled, held, stopped) must leave the next action to run, and must record what really
happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from accessward.connectors.errors import RejectedError, StopError, TransientError
from accessward.connectors.records import GrantRef, Level, RevocationScope, RevokeOutcome, RevokeResult, Takes
from accessward.reconcile import executor
from accessward.reconcile.plan import Item, PlanResult, build_plan, persist_plan
from accessward.reconcile.policy import PolicySettings, RuleSettings
from accessward.reconcile.run import reconcile
from accessward.sync.clock import utcnow
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, RecordingRevoker, ReducingRevoker, person


def _estate(engine, accounts: list[str], *, revoker_kind: type[RecordingRevoker] = RecordingRevoker):  # type: ignore[no-untyped-def]
    """Each account holds ANALYZE on one page; ``boss`` keeps the page's admin (never in a plan)."""
    src = FakeAccess(grants=[(a, "page", "ANALYZE", Level.read_only) for a in accounts]
                     + [("boss", "page", "MANAGE", Level.admin)])
    assert sync_access(engine, src).ok
    with engine.connect() as conn:
        ids = {str(a): int(g) for a, g in conn.execute(text(
            "SELECT a.external_id, g.id FROM access_grant g JOIN account a ON a.id = g.account_id"))}
    return src, revoker_kind(src), ids


def _item(ids: dict[str, int], account: str, *, system: str = "social", finding: int | None = None,
          **extra: Any) -> Item:
    return Item(finding_id=finding, grant_id=ids[account], rule="offboarding", system=system, account=account,
                account_name=account, resource="page", resource_name="Page", role="ANALYZE",
                level=int(Level.read_only), reason="test", request=f"DELETE page {account}", **extra)


def _plan(engine, items: list[Item]) -> int:  # type: ignore[no-untyped-def]
    return persist_plan(engine, PlanResult(None, "ready", "test", revocations=items), "t", supersede=False)


def _states(engine) -> dict[str, tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return {str(a): (str(s), e) for a, s, e in conn.execute(text(
            "SELECT ac.external_id, x.state, x.last_error FROM action x JOIN access_grant g ON g.id = x.grant_id "
            "JOIN account ac ON ac.id = g.account_id"))}


def _audit(engine) -> list[tuple[str, str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    import json

    with engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, actor, data FROM audit_event ORDER BY id")).all()
    return [(str(k), str(a), d if isinstance(d, dict) else json.loads(d)) for k, a, d in rows]


def _close(engine, grant_id: int) -> None:  # type: ignore[no-untyped-def]
    """A later sync no longer saw the grant."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE access_grant SET seen_to = CURRENT_TIMESTAMP, closed_by = 'sync' WHERE id = :g"),
                     {"g": grant_id})


# -- every branch that ends one action leaves the next one to run ------------------------------------


def test_a_stopped_system_skips_its_actions_and_the_next_system_still_runs(engine):
    """Kills x_execute__mutmut_45 (``continue`` -> ``break`` after a skipped action)."""
    _src, revoker, ids = _estate(engine, ["a", "b"])
    plan = _plan(engine, [_item(ids, "a", system="other"), _item(ids, "b")])
    report = executor.execute(engine, plan, {"social": revoker}, sleep=lambda s: None,
                              blocked={"other": "source failed"})
    assert report.outcomes == {"skipped": 1, "done": 1}
    assert [c.account_id for c in revoker.calls] == ["b"]
    assert _states(engine)["a"][0] == "planned" and _states(engine)["b"][0] == "done"


def test_a_grant_gone_after_our_attempt_is_already_gone_and_the_rest_still_runs(engine):
    """Kills x_execute__mutmut_52 (``attempts > 0`` -> ``>= 0``), 57, 66, 67 (its message) and 71 (``break``).

    Asked before a crash, then a sync no longer saw it: recorded as removed, with the reason in the
    audit trail. Never asked (attempts 0) and gone: cancelled, not claimed as our removal.
    """
    _src, revoker, ids = _estate(engine, ["asked", "never", "c"])
    plan = _plan(engine, [_item(ids, "asked"), _item(ids, "never"), _item(ids, "c")])
    with engine.begin() as conn:
        conn.execute(text("UPDATE action SET attempts = 1, state = 'executing' WHERE grant_id = :g"),
                     {"g": ids["asked"]})
    _close(engine, ids["asked"])
    _close(engine, ids["never"])
    report = executor.execute(engine, plan, {"social": revoker}, sleep=lambda s: None, actor="alice")
    assert report.outcomes == {"already_gone": 1, "cancelled": 1, "done": 1}
    assert [c.account_id for c in revoker.calls] == ["c"]
    states = _states(engine)
    assert states["asked"] == ("already_gone", None)
    assert states["never"] == ("cancelled", "no longer needed: the access is gone or the finding changed")
    events = {(e[2].get("account"), e[0]): e for e in _audit(engine) if e[0].startswith("revocation.")}
    gone = events[("asked", "revocation.already_gone")]
    assert gone[1] == "alice"
    assert gone[2]["message"] == "gone on the platform (seen by a later sync after our attempt)"
    cancelled = events[("never", "revocation.cancelled")]
    assert cancelled[1] == "alice"  # kills x_execute__mutmut_90 (the actor left out)


def test_an_open_grant_whose_finding_was_resolved_is_cancelled_not_revoked(engine):
    """Kills x_execute__mutmut_72 (``or`` -> ``and``), 81 (no engine) and 98 (``break``).

    Between the plan and its apply the finding was settled (an exception accepted it, a reviewer
    kept the access): the grant is still there, and the revocation must not be sent.
    """
    _src, revoker, ids = _estate(engine, ["kept", "d"])
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO finding (key, rule, severity, system, grant_id, evidence, first_seen, "
                          "last_seen, state) VALUES ('orphaned:grant:x', 'orphaned', 'high', 'social', :g, '{}', "
                          "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'accepted')"), {"g": ids["kept"]})
        (finding,) = conn.execute(text("SELECT id FROM finding")).one()
    plan = _plan(engine, [_item(ids, "kept", finding=int(finding)), _item(ids, "d")])
    report = executor.execute(engine, plan, {"social": revoker}, sleep=lambda s: None)
    assert [c.account_id for c in revoker.calls] == ["d"]
    assert report.outcomes == {"cancelled": 1, "done": 1}
    assert _states(engine)["kept"][0] == "cancelled"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT seen_to FROM access_grant WHERE id = :g"),
                            {"g": ids["kept"]}).scalar() is None


def test_a_held_last_admin_failure_is_reported_in_short(engine):
    """Kills x_execute__mutmut_125/126/128/131/132: the report line for a last admin drops the long tail.

    A non-last-admin hold (break-glass) keeps its whole reason.
    """
    src = FakeAccess(grants=[("boss", "page", "MANAGE", Level.admin), ("bg", "page", "ANALYZE", Level.read_only)],
                     emails={"bg": "glass@example.com"})
    assert sync_access(engine, src).ok
    revoker = RecordingRevoker(src)
    with engine.connect() as conn:
        ids = {str(a): int(g) for a, g in conn.execute(text(
            "SELECT a.external_id, g.id FROM access_grant g JOIN account a ON a.id = g.account_id"))}
    boss = Item(finding_id=None, grant_id=ids["boss"], rule="offboarding", system="social", account="boss",
                account_name="boss", resource="page", resource_name="Page", role="MANAGE", level=int(Level.admin),
                reason="test", request="DELETE")
    plan = _plan(engine, [boss, _item(ids, "bg")])
    report = executor.execute(engine, plan, {"social": revoker}, sleep=lambda s: None,
                              break_glass=["glass@example.com"])
    assert revoker.calls == [] and report.outcomes == {"failed": 2}
    assert report.failures == [
        "social page boss: last admin of the resource: never removed automatically, not removed",
        "social page bg: break-glass account: never revoked, not removed",
    ]
    # the stored reason keeps the whole text (what the last admin's page is, and why)
    assert _states(engine)["boss"][1].startswith("last admin of the resource")  # type: ignore[union-attr]


# -- the plan's own state, and the errors a caller sees ----------------------------------------------


def test_the_plan_is_applying_while_its_calls_are_sent(engine):
    """Kills x_execute__mutmut_22/23: a crash mid-apply must leave the plan resumable (``applying``)."""
    _src, revoker, ids = _estate(engine, ["a"])
    plan = _plan(engine, [_item(ids, "a")])
    seen: list[str] = []
    original = revoker.revoke

    def revoke(grant):  # type: ignore[no-untyped-def]
        with engine.connect() as conn:
            seen.append(str(conn.execute(text("SELECT status FROM plan WHERE id = :p"), {"p": plan}).scalar()))
        return original(grant)

    revoker.revoke = revoke  # type: ignore[method-assign]
    executor.execute(engine, plan, {"social": revoker}, sleep=lambda s: None)
    assert seen == ["applying"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM plan WHERE id = :p"), {"p": plan}).scalar() == "applied"


def test_executing_a_missing_or_unapproved_plan_says_which_and_why(engine):
    """Kills x_execute__mutmut_12 and 20 (the error messages dropped)."""
    with pytest.raises(ValueError, match="no plan 999"):
        executor.execute(engine, 999, {})
    _src, revoker, ids = _estate(engine, ["a"])
    plan = persist_plan(engine, PlanResult(None, "needs_approval", "over the threshold",
                                           revocations=[_item(ids, "a")]), "t", supersede=False)
    with pytest.raises(executor.PlanNotApproved, match=f"plan {plan} is needs_approval: over the threshold"):
        executor.execute(engine, plan, {"social": revoker})
    assert revoker.calls == []


def test_the_default_actor_is_the_system(engine):
    """Kills x_execute__mutmut_3/4: an apply nobody named is recorded as ``system``."""
    _src, revoker, ids = _estate(engine, ["a"])
    executor.execute(engine, _plan(engine, [_item(ids, "a")]), {"social": revoker}, sleep=lambda s: None)
    actors = {a for k, a, _ in _audit(engine) if k in ("revocation.done", "plan.applied")}
    assert actors == {"system"}


# -- a stop, and a reduction whose grant is gone -----------------------------------------------------


def test_a_stop_keeps_the_action_planned_with_its_reason_and_skips_the_rest_of_that_system(engine):
    """Kills x_execute__mutmut_172/178/179/186 (the stop's reason or actor lost)."""
    _src, revoker, ids = _estate(engine, ["a", "b"])
    revoker.fail_with["a"] = [StopError("social: the token was revoked; reconnect the app", system="social")]
    plan = _plan(engine, [_item(ids, "a"), _item(ids, "b")])
    report = executor.execute(engine, plan, {"social": revoker}, sleep=lambda s: None, actor="alice")
    assert report.outcomes == {"stopped": 1, "skipped": 1}
    assert [c.account_id for c in revoker.calls] == ["a"]
    state, error = _states(engine)["a"]
    assert state == "planned" and error is not None and "the token was revoked" in error
    applied = [d for k, a, d in _audit(engine) if k == "plan.applied"]
    assert applied and "the token was revoked" in str(applied[-1]["stopped"]["social"])
    assert report.failures and "the token was revoked" in report.failures[0]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM plan WHERE id = :p"), {"p": plan}).scalar() == "applying"
    assert all(a == "alice" for k, a, _ in _audit(engine) if k == "plan.applied")


def test_a_reduction_whose_grant_is_gone_is_failed_not_done(engine):
    """Kills x_execute__mutmut_160/161/163/168: nothing was lowered, so the outcome must not say so."""
    src, revoker, ids = _estate(engine, ["a"], revoker_kind=ReducingRevoker)
    src.grants = [g for g in src.grants if g[0] != "a"]  # gone on the platform since the plan
    item = _item(ids, "a", kind="reduce", target_role="ANALYZE", target_level=int(Level.read_only))
    plan = _plan(engine, [item])
    report = executor.execute(engine, plan, {"social": revoker}, sleep=lambda s: None)
    assert report.outcomes == {"failed": 1}
    state, error = _states(engine)["a"]
    assert state == "failed" and error is not None
    assert error.startswith("the grant to reduce is gone on the platform: ")
    assert report.failures == [f"social page a: {error}"]


def test_a_rejected_revocation_is_failed_with_the_platforms_reason(engine):
    """The failed branch's report line (the other half of the outcome bookkeeping)."""
    _src, revoker, ids = _estate(engine, ["a", "b"])
    revoker.fail_with["a"] = [RejectedError("social: (#200) permission denied", system="social")]
    report = executor.execute(engine, _plan(engine, [_item(ids, "a"), _item(ids, "b")]), {"social": revoker},
                              sleep=lambda s: None)
    assert report.outcomes == {"failed": 1, "done": 1}
    # kills x__attempt__mutmut_108: no " ()" when the platform gave no detail
    assert report.failures == ["social page a: rejected: social: (#200) permission denied"]


def test_a_revocation_the_platform_no_longer_knows_is_already_gone_with_its_answer(engine):
    """Kills x__attempt__mutmut_75: the trail keeps what the platform said (not "None")."""
    from accessward.connectors.errors import NotFoundError

    _src, revoker, ids = _estate(engine, ["a"])
    revoker.fail_with["a"] = [NotFoundError("social: (#100) no such assignment", system="social")]
    report = executor.execute(engine, _plan(engine, [_item(ids, "a")]), {"social": revoker}, sleep=lambda s: None)
    assert report.outcomes == {"already_gone": 1}
    (event,) = [d for k, _, d in _audit(engine) if k == "revocation.already_gone"]
    assert "no such assignment" in event["message"]


def test_an_ordinary_apply_sends_one_call_at_a_time_on_its_own_thread(engine):
    """Kills x_execute__mutmut_5 (lanes by default): only an offboarding runs systems side by side; a
    plan apply keeps one call at a time across all systems (platform budgets, the order people read)."""
    import threading

    _src, revoker, ids = _estate(engine, ["a", "b"])
    threads: list[str] = []
    original = revoker.revoke

    def revoke(grant):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return original(grant)

    revoker.revoke = revoke  # type: ignore[method-assign]
    other = RecordingRevoker(_src)
    other_revoke = other.revoke

    def revoke_other(grant):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return other_revoke(grant)

    other.revoke = revoke_other  # type: ignore[method-assign]
    executor.execute(engine, _plan(engine, [_item(ids, "a"), _item(ids, "b", system="other")]),
                     {"social": revoker, "other": other}, sleep=lambda s: None)
    assert threads == [threading.current_thread().name] * 2


def test_a_stop_writes_no_outcome_to_the_trail_and_the_applied_event_counts_every_outcome(engine):
    """Kills x_execute__mutmut_189/190 (a stop recorded as a terminal outcome; its report line lost) and
    238..250 (the ``plan.applied`` event's kind, outcomes or stopped systems lost)."""
    _src, revoker, ids = _estate(engine, ["a", "b"])
    revoker.fail_with["b"] = [StopError("social: the app was removed", system="social")]
    plan = _plan(engine, [_item(ids, "a"), _item(ids, "b")])
    report = executor.execute(engine, plan, {"social": revoker}, sleep=lambda s: None)
    assert report.failures == ["social: stop: social: the app was removed"]
    trail = _audit(engine)
    assert [e[2]["account"] for e in trail if e[0].startswith("revocation.")] == ["a"]  # b's stop is not an outcome
    (applied,) = [d for k, _, d in trail if k == "plan.applied"]
    assert applied == {"outcomes": {"done": 1, "stopped": 1},
                       "stopped": {"social": "stop: social: the app was removed"}}


@dataclass
class _MembershipRevoker(RecordingRevoker):
    """Revoking any grant removes the account's whole membership (as a Meta business membership does)."""

    def revocation_takes(self, grant: GrantRef) -> Takes:
        return Takes(scope=RevocationScope.account_on_system, note="removing the membership removes every asset")

    def revoke(self, grant: GrantRef) -> RevokeResult:
        self.calls.append(grant)
        self.source.grants = [g for g in self.source.grants if g[0] != grant.account_id]
        return RevokeResult(RevokeOutcome.done)


def test_a_wide_revocation_closes_every_grant_it_took(engine):
    """Kills x_execute__mutmut_208 (``also_close`` left out): the membership's other grants are gone too.

    Left open, the next sync would see them vanish at once (a sudden drop) and the report would
    show access that no longer exists.
    """
    src = FakeAccess(grants=[("w", "main", "ANALYZE", Level.read_only), ("w", "shop", "ANALYZE", Level.read_only),
                             ("boss", "main", "MANAGE", Level.admin), ("boss", "shop", "MANAGE", Level.admin)])
    assert sync_access(engine, src).ok
    revoker = _MembershipRevoker(src)
    with engine.connect() as conn:
        ids = {(str(a), str(r)): int(g) for a, r, g in conn.execute(text(
            "SELECT a.external_id, r.external_id, g.id FROM access_grant g JOIN account a ON a.id = g.account_id "
            "JOIN resource r ON r.id = g.resource_id"))}
    item = Item(finding_id=None, grant_id=ids[("w", "main")], rule="offboarding", system="social", account="w",
                account_name="w", resource="main", resource_name="Main", role="ANALYZE",
                level=int(Level.read_only), reason="test", request="DELETE membership")
    report = executor.execute(engine, _plan(engine, [item]), {"social": revoker}, sleep=lambda s: None)
    assert report.outcomes == {"done": 1}
    with engine.connect() as conn:
        open_ = {(str(a), str(r)) for a, r in conn.execute(text(
            "SELECT a.external_id, r.external_id FROM access_grant g JOIN account a ON a.id = g.account_id "
            "JOIN resource r ON r.id = g.resource_id WHERE g.seen_to IS NULL"))}
    assert open_ == {("boss", "main"), ("boss", "shop")}


# -- plan._plan_rows: what a planned revocation carries, and every candidate after a merge -----------------


def _leavers(engine, policy: PolicySettings):  # type: ignore[no-untyped-def]
    """a and b have left; a's account also has two-factor off (orphaned and mfa_required both find a's grant)."""
    from accessward.connectors.records import PersonStatus

    assert sync_identity(engine, FakeIdentity(people=[
        person("a", "a@example.com", status=PersonStatus.terminated),
        person("b", "b@example.com", status=PersonStatus.terminated),
        person("boss", "boss@example.com")])).ok
    src = FakeAccess(grants=[("a", "page", "ANALYZE", Level.read_only), ("b", "page", "CREATE_CONTENT",
                                                                          Level.full_publishing),
                             ("boss", "page", "MANAGE", Level.admin)],
                     facts={"a": {"mfa": False}, "b": {"mfa": False}, "boss": {"mfa": True}})
    assert sync_access(engine, src).ok
    reconcile(engine, policy)
    return RecordingRevoker(src)


def test_a_grant_two_rules_found_is_planned_once_and_the_next_candidate_still_is(engine):
    """Kills plan.x__plan_rows__mutmut_117 (``continue`` -> ``break`` after merging the second rule)."""
    policy = PolicySettings(max_revocation_share=1.0, rules={"orphaned": RuleSettings(action="revoke"),
                                                             "mfa_required": RuleSettings(action="revoke")})
    revoker = _leavers(engine, policy)
    plan = build_plan(engine, policy, {revoker.name: revoker}, ["dir"], utcnow())
    rules_by_account = {i.account: set(i.rule.split("+")) for i in plan.revocations}
    assert rules_by_account == {"a": {"orphaned", "mfa_required"}, "b": {"orphaned", "mfa_required"}}
    assert len(plan.revocations) == 2


def test_flagged_findings_are_counted_and_a_revocation_carries_what_the_plan_shows(engine):
    """Kills plan.x__plan_rows__mutmut_9 (``flagged += 1`` -> ``= 1``) and 23..28, 60..67 (an item's names,
    role, level or reason lost): the approver reads these fields; a plan that shows ``None`` for the
    page or the role cannot be judged."""
    policy = PolicySettings(max_revocation_share=1.0, rules={"orphaned": RuleSettings(action="revoke")})
    revoker = _leavers(engine, policy)  # mfa_required flags a and b: two flagged
    plan = build_plan(engine, policy, {revoker.name: revoker}, ["dir"], utcnow())
    assert plan.flagged == 2
    with engine.connect() as conn:
        reasons = {str(a): json_reason(e) for a, e in conn.execute(text(
            "SELECT ac.external_id, f.evidence FROM finding f JOIN account ac ON ac.id = f.account_id "
            "WHERE f.rule = 'orphaned'"))}
    items = {i.account: i for i in plan.revocations}
    b = items["b"]
    assert (b.account_name, b.resource, b.resource_name, b.role, b.level) == (
        "b", "page", "Page", "CREATE_CONTENT", int(Level.full_publishing))
    assert b.reason == reasons["b"] and b.reason  # the finding's own reason (a leaver), not empty or "None"


def json_reason(evidence: Any) -> str:
    import json

    data = evidence if isinstance(evidence, dict) else json.loads(evidence)
    return str(data["reason"])


def test_an_account_matching_nobody_is_held_with_the_setting_that_would_revoke_it(engine):
    """Kills plan.x__plan_rows__mutmut_96 (the hold reason's text): it names the switch to turn."""
    policy = PolicySettings(max_revocation_share=1.0, rules={"orphaned": RuleSettings(action="revoke")})
    assert sync_identity(engine, FakeIdentity(people=[person("boss", "boss@example.com")])).ok
    src = FakeAccess(grants=[("ghost", "page", "ANALYZE", Level.read_only), ("boss", "page", "MANAGE", Level.admin)])
    assert sync_access(engine, src).ok
    reconcile(engine, policy)
    revoker = RecordingRevoker(src)
    plan = build_plan(engine, policy, {revoker.name: revoker}, ["dir"], utcnow())
    assert plan.revocations == []
    (held,) = [h for h in plan.held if h.account == "ghost"]
    assert held.held_because == ("matches no person: flagged only (link it, or set revoke_unmatched = true "
                                 "on the rule)")


@dataclass
class _UnsureRevoker(RecordingRevoker):
    """Cannot say what a revocation removes (the platform's answer to that question failed)."""

    def revocation_takes(self, grant: GrantRef) -> Takes:
        raise TransientError("social: HTTP 503 while reading the membership", system="social")


def test_a_revocation_whose_reach_is_unknown_is_held_and_takes_nothing(engine):
    """Kills plan.x__plan_rows__mutmut_120 (``taken_ids = None``): the held item says it takes nothing known."""
    policy = PolicySettings(max_revocation_share=1.0, rules={"orphaned": RuleSettings(action="revoke")})
    revoker = _leavers(engine, policy)
    unsure = _UnsureRevoker(revoker.source)
    plan = build_plan(engine, policy, {unsure.name: unsure}, ["dir"], utcnow())
    assert plan.revocations == [] and unsure.calls == []
    held = {h.account: h for h in plan.held}
    assert set(held) == {"a", "b"}
    assert all(h.takes == () for h in held.values())
    assert "cannot tell what this revocation removes" in held["a"].held_because


def _two_admins_leave(engine, policy: PolicySettings, *, wide_manual: str = ""):  # type: ignore[no-untyped-def]
    """a and b, the page's only admins, have left; a also holds ANALYZE on the shop (whose admin is boss)."""
    from accessward.connectors.records import PersonStatus

    assert sync_identity(engine, FakeIdentity(people=[
        person("a", "a@example.com", status=PersonStatus.terminated),
        person("b", "b@example.com", status=PersonStatus.terminated),
        person("boss", "boss@example.com")])).ok
    src = FakeAccess(grants=[("a", "page", "MANAGE", Level.admin), ("b", "page", "MANAGE", Level.admin),
                             ("a", "shop", "ANALYZE", Level.read_only), ("boss", "shop", "MANAGE", Level.admin)])
    assert sync_access(engine, src).ok
    reconcile(engine, policy)
    with engine.connect() as conn:
        ids = {(str(a), str(r)): int(g) for a, r, g in conn.execute(text(
            "SELECT a.external_id, r.external_id, g.id FROM access_grant g JOIN account a ON a.id = g.account_id "
            "JOIN resource r ON r.id = g.resource_id"))}
    return src, ids


def test_of_two_leaving_admins_one_is_planned_and_the_last_is_held(engine):
    """Kills plan.x__plan_rows__mutmut_163 (the accepted removal not counted: both admins planned) and 156
    (the named grant lost: the hold would blame another grant), 137 and 146 (a one-grant revocation
    described as wide)."""
    policy = PolicySettings(max_revocation_share=1.0, rules={"orphaned": RuleSettings(action="revoke")})
    src, _ids = _two_admins_leave(engine, policy)
    revoker = RecordingRevoker(src)
    plan = build_plan(engine, policy, {revoker.name: revoker}, ["dir"], utcnow())
    page = sorted((i for i in plan.revocations if i.resource == "page"), key=lambda i: i.account)
    held = [h for h in plan.held if h.resource == "page"]
    assert [i.account for i in page] == ["a"] and [h.account for h in held] == ["b"]
    assert held[0].held_because == "last admin of the resource: never removed automatically"
    for item in plan.revocations:  # each takes exactly the grant it names: the request is the call, nothing more
        assert item.takes == () and "#" not in item.request
        expected = revoker.preview_revoke(GrantRef(account_id=item.account, resource_id=item.resource,
                                                   role=item.role)).render()
        assert item.request == expected  # kills 192/193 (a trailing line appended)


@dataclass
class _ManualOnly(RecordingRevoker):
    """No call removes this grant (a Pinterest system user): a manual step, for this one grant only."""

    def revocation_takes(self, grant: GrantRef) -> Takes:
        return Takes(manual_step="remove the system user in Business Manager")


def test_a_one_grant_manual_step_is_held_with_exactly_the_step(engine):
    """Kills plan.x__plan_rows__mutmut_151/152 (a blank or made-up line after the step)."""
    policy = PolicySettings(max_revocation_share=1.0, rules={"orphaned": RuleSettings(action="revoke")})
    revoker = _leavers(engine, policy)
    manual = _ManualOnly(revoker.source)
    plan = build_plan(engine, policy, {manual.name: manual}, ["dir"], utcnow())
    assert plan.revocations == []
    assert {h.account: h.held_because for h in plan.held} == {
        "a": "manual step, by hand: remove the system user in Business Manager",
        "b": "manual step, by hand: remove the system user in Business Manager"}


@dataclass
class _ManualMembership(RecordingRevoker):
    """The account's whole membership goes, and only by hand (a Meta Page role of someone outside the business)."""

    def revocation_takes(self, grant: GrantRef) -> Takes:
        return Takes(scope=RevocationScope.account_on_system, note="the membership holds every asset",
                     manual_step="remove them in Business Settings > People")


def test_a_wide_manual_step_is_held_naming_the_step_and_everything_it_would_take(engine):
    """Kills plan.x__plan_rows__mutmut_148..152 (a manual step planned as a call, or its text lost) and
    170/173 (the held item forgetting what it would take)."""
    policy = PolicySettings(max_revocation_share=1.0, rules={"orphaned": RuleSettings(action="revoke")})
    src, ids = _two_admins_leave(engine, policy)
    revoker = _ManualMembership(src)
    plan = build_plan(engine, policy, {revoker.name: revoker}, ["dir"], utcnow())
    assert plan.revocations == [] and revoker.calls == []
    held = {(h.account, h.resource): h for h in plan.held}
    shop = held[("a", "shop")]
    first, *rest = shop.held_because.split("\n")
    assert first == "manual step, by hand: remove them in Business Settings > People"
    assert rest[0] == "# takes away 2 grant(s): the membership holds every asset"
    assert len(rest) == 2 and rest[1].startswith("#   also ")
    assert set(shop.takes) == {ids[("a", "shop")], ids[("a", "page")]}


def test_by_default_a_transient_failure_is_tried_five_times_with_doubling_waits(engine, caplog):
    """Kills x_execute__mutmut_1/2 (the default attempts or backoff changed)."""
    _src, revoker, ids = _estate(engine, ["a"])
    revoker.fail_with["a"] = [TransientError("social: HTTP 503", system="social") for _ in range(5)]
    waits: list[float] = []
    with caplog.at_level("WARNING", logger="accessward.apply"):
        report = executor.execute(engine, _plan(engine, [_item(ids, "a")]), {"social": revoker},
                                  sleep=waits.append)
    assert report.outcomes == {"failed": 1} and len(revoker.calls) == 5
    assert waits == [1.0, 2.0, 4.0, 8.0]
    # kills x__attempt__mutmut_88..98: each retry is logged, with the action and the wait
    retries = [r for r in caplog.records if r.getMessage() == "revoke transient failure"]
    assert [getattr(r, "wait_s", None) for r in retries] == [1.0, 2.0, 4.0, 8.0]
    assert all(isinstance(getattr(r, "action", None), int) for r in retries)


def test_a_wide_revocation_held_at_execution_is_reported_in_short_and_stored_in_full(engine):
    """Kills x_execute__mutmut_125/126/128/131/132: the report line drops what follows " — " for a last
    admin only; the action keeps the whole reason (which grant, on which resource)."""
    src = FakeAccess(grants=[("w", "main", "ANALYZE", Level.read_only), ("w", "shop", "MANAGE", Level.admin),
                             ("boss", "main", "MANAGE", Level.admin)])
    assert sync_access(engine, src).ok
    revoker = _MembershipRevoker(src)
    with engine.connect() as conn:
        (gid,) = conn.execute(text(
            "SELECT g.id FROM access_grant g JOIN account a ON a.id = g.account_id JOIN resource r "
            "ON r.id = g.resource_id WHERE a.external_id = 'w' AND r.external_id = 'main'")).one()
    item = Item(finding_id=None, grant_id=int(gid), rule="offboarding", system="social", account="w",
                account_name="w", resource="main", resource_name="Main", role="ANALYZE",
                level=int(Level.read_only), reason="test", request="DELETE membership")
    report = executor.execute(engine, _plan(engine, [item]), {"social": revoker}, sleep=lambda s: None)
    assert revoker.calls == [] and report.outcomes == {"failed": 1}
    assert report.failures == ["social main w: last admin of the resource: never removed automatically, not removed"]
    stored = _states(engine)["w"][1]
    assert stored is not None and " — this revocation also removes " in stored and "shop" in stored


# -- sync.writer._trusted_since: only a later complete run of the same source stands in for this one -----


def test_confirming_a_quarantined_run_marks_the_unseen_even_after_another_sources_run(engine):
    """Kills sync.writer.x__trusted_since__mutmut_10 (any source's later run taken as this source's):
    another directory's nightly run between the quarantine and its confirmation must not make the
    confirmation skip the leavers it found."""
    from accessward.sync.runner import confirm_run

    people = [person(f"p{i:03d}") for i in range(100)]
    src = FakeIdentity(people=list(people))
    assert sync_identity(engine, src).ok
    src.people = people[60:]  # 60 % gone at once: quarantined
    outcome = sync_identity(engine, src)
    assert outcome.status == "quarantined"
    assert sync_identity(engine, FakeIdentity(name="roster", people=[person("r1")])).ok
    confirmed = confirm_run(engine, outcome.run_id, actor="test")
    assert confirmed.ok and confirmed.counts["missing"] == 60


# -- sync.writer: missing people, and the people writer's digest path ----------------------------------


def _missing(engine) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return {str(k): m for k, m in conn.execute(text(
            "SELECT source_key, missing_since FROM person WHERE missing_since IS NOT NULL"))}


def test_a_person_who_comes_back_unchanged_is_no_longer_missing(engine):
    """Kills sync.writer.xǁPeopleWriterǁflush__mutmut_56 (a missing person with an unchanged digest taken
    as unchanged): they would stay missing, and the orphaned rule would revoke someone who is back."""
    people = [person(f"p{i}") for i in range(10)]
    src = FakeIdentity(people=list(people))
    assert sync_identity(engine, src).ok
    src.people = people[:9]
    assert sync_identity(engine, src).ok
    assert list(_missing(engine)) == ["p9"]
    src.people = list(people)  # back, exactly as before
    assert sync_identity(engine, src).ok
    assert _missing(engine) == {}


def test_a_full_run_keeps_when_someone_went_missing_and_counts_exactly(engine):
    """Kills sync.writer.x_mark_missing_people__mutmut_46 (missing_since overwritten by every later run:
    a grace period would never end), 53/58/59 (the count of people marked missing is off)."""
    people = [person(f"p{i}") for i in range(20)]
    src = FakeIdentity(people=list(people))
    assert sync_identity(engine, src).ok
    src.people = people[:18]
    second = sync_identity(engine, src)
    assert second.ok and second.counts["missing"] == 2
    first_marked = _missing(engine)
    third = sync_identity(engine, src)
    assert third.ok and third.counts["missing"] == 0
    assert _missing(engine) == first_marked


def test_people_written_by_another_run_since_this_one_started_are_not_missing(engine):
    """Kills sync.writer.x_mark_missing_people__mutmut_47 (``last_seen < started`` dropped on the digest
    path): a concurrent run of the same source that wrote someone this run did not see must not make
    them missing."""
    from accessward.sync.writer import mark_missing_people

    people = [person(f"p{i}") for i in range(3)]
    outcome = sync_identity(engine, FakeIdentity(people=people))
    assert outcome.ok
    with engine.begin() as conn:
        ids = {str(k): int(i) for k, i in conn.execute(text("SELECT source_key, id FROM person"))}
        conn.execute(text("UPDATE sync_run SET started_at = :t WHERE id = :r"),
                     {"t": utcnow() - timedelta(minutes=5), "r": outcome.run_id})
        conn.execute(text("UPDATE person SET last_seen = :t WHERE source_key = 'p0'"),
                     {"t": utcnow() - timedelta(minutes=10)})  # p0: not seen since the run started
    # p1 is not in seen_ids either, but another run wrote it after this one started
    assert mark_missing_people(engine, "dir", outcome.run_id, seen_ids={ids["p2"]}) == 1
    assert list(_missing(engine)) == ["p0"]


def test_the_people_writer_counts_and_keeps_every_batch(engine):
    """Kills sync.writer.xǁPeopleWriterǁflush__mutmut_73 (``seen`` counts the last batch only: the drop
    guard would quarantine a healthy run) and 75 (the buffer lost between batches)."""
    from accessward.sync.writer import PeopleWriter

    outcome = sync_identity(engine, FakeIdentity(people=[person("seed")]))
    writer = PeopleWriter(engine, "dir", outcome.run_id, batch_size=2)
    writer.write(person(f"w{i}") for i in range(5))
    assert writer.seen == 5 and writer.written == 5
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM person WHERE source_key LIKE 'w%'")).scalar_one() == 5


@pytest.mark.parametrize("missing", ["account", "resource", "both"])
def test_a_grant_before_its_account_or_resource_fails_the_source_and_closes_nothing(engine, missing):
    """Kills sync.writer.xǁAccessWriterǁ_flush_grants__mutmut_6..22 (the malformed-answer check loosened):
    a platform answer that names an account or resource it never listed fails that source; the grants
    the store holds stay open (nothing is revoked on a malformed answer)."""
    from accessward.connectors.records import AccountRecord, GrantRecord, ResourceRecord

    src = FakeAccess(grants=[("a", "page", "ANALYZE", Level.read_only), ("boss", "page", "MANAGE", Level.admin)])
    assert sync_access(engine, src).ok

    class Broken:
        name = "social"

        def list_access(self):  # type: ignore[no-untyped-def]
            if missing != "account":
                yield AccountRecord(external_id="a", display_name="a", email="a@example.com")
            if missing != "resource":
                yield ResourceRecord(external_id="page", kind="facebook_page", name="Page")
            yield GrantRecord(account_id="a" if missing == "resource" else "ghost",
                              resource_id="page" if missing == "account" else "nowhere",
                              role="ANALYZE", level=Level.read_only)

    outcome = sync_access(engine, Broken())
    assert outcome.status == "failed" and "arrived before its account or resource" in (outcome.error or "")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM access_grant WHERE seen_to IS NULL")).scalar_one() == 2
