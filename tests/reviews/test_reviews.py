"""Access reviews one behaviour at a time: scope, reviewers, decisions, reduce, closing under the safety checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlmodel import Session, col

from accessward.connectors.records import (
    GrantRef,
    Level,
    PersonStatus,
    RevocationScope,
    RevokeOutcome,
    RevokeResult,
    Takes,
)
from accessward.reconcile import executor, review_close, reviews
from accessward.reconcile.correlate import correlate
from accessward.reconcile.plan import build_plan
from accessward.reconcile.policy import PolicySettings
from accessward.reports.reviews import campaign_rows, campaign_summary
from accessward.review_settings import ReviewCampaignSettings
from accessward.settings import SettingsError, load_settings
from accessward.sync import principals
from accessward.sync.clock import utcnow
from accessward.sync.models import AuditEvent, Grant, Plan
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, RecordingRevoker, ReducingRevoker, person

BOSS, DAN = "boss@example.com", "dan@example.com"
J = "reviewed with the team lead"


def estate(engine: Engine, *, revoker_cls: type[RecordingRevoker] = ReducingRevoker,
           extra: list[tuple[str, str, str, Level]] | None = None) -> tuple[FakeIdentity, FakeAccess, RecordingRevoker]:
    """ann and ben admin the main page, cat (a leaver) publishes there, boss reads; ann alone admins the shop."""
    ident = FakeIdentity(people=[
        person("boss"), person("dan"), person("ann", manager_key="boss"), person("ben", manager_key="boss"),
        person("cat", status=PersonStatus.terminated, manager_key="boss")])
    src = FakeAccess(grants=[("ann", "main", "MANAGE", Level.admin), ("ben", "main", "MANAGE", Level.admin),
                             ("cat", "main", "CREATE_CONTENT", Level.full_publishing),
                             ("boss", "main", "ANALYZE", Level.read_only), ("ann", "shop", "MANAGE", Level.admin),
                             *(extra or [])])
    assert sync_identity(engine, ident).ok and sync_access(engine, src).ok
    correlate(engine)
    return ident, src, revoker_cls(src)


def campaign_cfg(**kw: object) -> ReviewCampaignSettings:
    return ReviewCampaignSettings.model_validate({"name": "q", "reviewers": ["manager"], "fallback": DAN, **kw})


def started(engine: Engine, policy: PolicySettings | None = None,
            **kw: object) -> tuple[int, dict[tuple[str, str], int]]:
    campaign, created = reviews.start(engine, campaign_cfg(**kw), policy or PolicySettings(), actor="test")
    assert created and campaign.id is not None
    return campaign.id, {(i.account, i.resource): i.id or 0 for i in reviews.items(engine, campaign.id)}


def closer(revoker: RecordingRevoker, policy: PolicySettings | None = None) -> review_close.Closer:
    return review_close.Closer({revoker.name: revoker}, policy or PolicySettings(), ["dir"], attempts=2, backoff=0,
                               sleep=lambda s: None)


def as_boss(engine: Engine, cid: int, ids: list[int], decision: str, **kw: object) -> None:
    reviews.decide(engine, cid, ids, decision, by="token:boss@example.com", keys=frozenset({BOSS}),
                   justification=str(kw.pop("justification", J)), **kw)  # type: ignore[arg-type]


def approver(engine: Engine) -> principals.PrincipalRef:
    return principals.ensure(engine, "ciso", display_name="CISO", email="ciso@example.com")


def item(engine: Engine, cid: int, item_id: int) -> reviews.ReviewItem:
    return next(i for i in reviews.items(engine, cid) if i.id == item_id)


def test_items_carry_facts_a_recommendation_and_a_reviewer_who_is_never_the_person(engine):
    estate(engine)
    cid, _ids = started(engine)
    rows = {(i.account, i.resource): i for i in reviews.items(engine, cid)}
    assert set(rows) == {("ann", "main"), ("ben", "main"), ("cat", "main"), ("boss", "main"), ("ann", "shop")}
    assert rows[("ann", "main")].reviewer == BOSS and rows[("ann", "main")].reviewer_source == "manager"
    assert (rows[("boss", "main")].reviewer, rows[("boss", "main")].reviewer_source) == (DAN, "fallback")
    cat = rows[("cat", "main")]
    assert cat.recommendation == "revoke" and cat.recommendation_reason == "leaver: dir says terminated"
    assert cat.facts["sources"][0]["status"] == "terminated" and cat.facts["level"] == "full_publishing"
    assert rows[("ann", "main")].recommendation == "keep"
    # started once per key; the assignment is announced per reviewer
    again, created = reviews.start(engine, campaign_cfg(), PolicySettings(), actor="test",
                                   key=reviews.find(engine, cid).key)  # type: ignore[union-attr]
    assert not created and again.id == cid
    with Session(engine) as s:
        assigned = [e.data for e in s.execute(select(AuditEvent).where(col(AuditEvent.kind) == "review.assigned"))
                    .scalars()]
    assert sorted((a["reviewer"], a["items"]) for a in assigned) == [(BOSS, 4), (DAN, 1)]


def test_the_fallback_is_skipped_when_it_is_the_person_and_escalation_takes_it(sqlite_engine):
    estate(sqlite_engine)
    _, ids = started(sqlite_engine, fallback=BOSS, escalate_to=DAN)
    boss_item = item(sqlite_engine, 1, ids[("boss", "main")])
    assert (boss_item.reviewer, boss_item.reviewer_source) == (DAN, "escalation")


def test_scope_filters_risky_and_min_level(sqlite_engine):
    estate(sqlite_engine)
    _, ids = started(sqlite_engine, min_level="admin")
    assert set(ids) == {("ann", "main"), ("ben", "main"), ("ann", "shop")}
    campaign, _ = reviews.start(sqlite_engine, campaign_cfg(name="r", scope="risky", resources=["social:main"]),
                                PolicySettings(), actor="test")
    assert {i.account for i in reviews.items(sqlite_engine, campaign.id or 0)} == {"ann", "ben"}


def test_decisions_are_refused_when_not_yours_on_your_own_access_or_without_justification(sqlite_engine):
    estate(sqlite_engine)
    cid, ids = started(sqlite_engine)
    with pytest.raises(reviews.ReviewError, match="justification"):
        as_boss(sqlite_engine, cid, [ids[("ann", "main")]], "keep", justification="  ")
    with pytest.raises(reviews.Refused, match="assigned to dan"):
        as_boss(sqlite_engine, cid, [ids[("boss", "main")]], "keep")
    with pytest.raises(reviews.Refused, match="own access"):  # delegated to oneself: refused
        reviews.delegate(sqlite_engine, cid, [ids[("boss", "main")]], BOSS, by="token:dan", keys=frozenset({DAN}))
    with pytest.raises(reviews.Refused, match="own access"):  # even an assigned reviewer never decides their own
        reviews.decide(sqlite_engine, cid, [ids[("ann", "main")]], "keep", by="token:ann",
                       keys=frozenset({BOSS, "ann@example.com"}), justification=J)
    with pytest.raises(reviews.ReviewError, match="lower"):
        as_boss(sqlite_engine, cid, [ids[("cat", "main")]], "reduce", reduce_to="admin")
    # a bulk decision is all or nothing
    with pytest.raises(reviews.Refused):
        as_boss(sqlite_engine, cid, [ids[("ann", "main")], ids[("boss", "main")]], "keep")
    assert item(sqlite_engine, cid, ids[("ann", "main")]).decision is None
    # delegation hands it over; the new reviewer decides
    reviews.delegate(sqlite_engine, cid, [ids[("boss", "main")]], "eve@example.com", by="token:dan",
                     keys=frozenset({DAN}), justification="eve owns analytics")
    reviews.decide(sqlite_engine, cid, [ids[("boss", "main")]], "keep", by="token:eve",
                   keys=frozenset({"eve@example.com"}), justification=J)
    assert item(sqlite_engine, cid, ids[("boss", "main")]).decided_by == "token:eve"


def test_reduce_sets_the_lower_role_through_the_reducer_and_reopens_the_grant_at_it(engine):
    _, src, reducer = estate(engine)
    cid, ids = started(engine)
    as_boss(engine, cid, [ids[("ann", "main")]], "reduce", reduce_to="full_publishing")
    result = review_close.close(engine, cid, closer(reducer), actor="ciso")
    assert result.status == "closed" and result.plan_status == "ready"
    assert isinstance(reducer, ReducingRevoker)
    reduced = [(g.account_id, g.resource_id, role) for g, role in reducer.reductions]
    assert reduced == [("ann", "main", "CREATE_CONTENT")]
    assert reducer.calls == []  # nothing was revoked
    assert ("ann", "main", "CREATE_CONTENT", Level.full_publishing) in src.grants
    with Session(engine) as s:
        grants = s.execute(select(Grant).where(col(Grant.resource_id) == 1)).scalars().all()
        kinds = [e.kind for e in s.execute(select(AuditEvent)).scalars()]
    old = [g for g in grants if g.role == "MANAGE" and g.closed_by == "reduced"]
    new = [g for g in grants if g.role == "CREATE_CONTENT" and g.seen_to is None and g.level == 3]
    assert len(old) == 1 and len(new) == 2  # ann's new grant beside cat's
    assert "reduction.done" in kinds
    done = item(engine, cid, ids[("ann", "main")])
    assert done.outcome == "done" and "reduced to CREATE_CONTENT" in done.outcome_detail
    # the next sync sees the lower role and keeps the interval open
    assert sync_access(engine, src).ok
    with Session(engine) as s:
        assert s.execute(text("SELECT COUNT(*) FROM access_grant WHERE role = 'CREATE_CONTENT' AND seen_to IS NULL"
                              )).scalar() == 2


def test_reduce_without_a_reducer_is_a_revocation_plus_a_manual_step_and_says_so(sqlite_engine):
    _, _src, revoker = estate(sqlite_engine, revoker_cls=RecordingRevoker)
    cid, ids = started(sqlite_engine)
    as_boss(sqlite_engine, cid, [ids[("ann", "main")]], "reduce", reduce_to="can_reply")
    review_close.close(sqlite_engine, cid, closer(revoker), actor="ciso")
    assert [(c.account_id, c.resource_id) for c in revoker.calls] == [("ann", "main")]
    done = item(sqlite_engine, cid, ids[("ann", "main")])
    assert done.outcome == "done" and "manual step" in done.outcome_detail and "can_reply" in done.outcome_detail


def test_a_downgrade_of_the_last_admin_is_held(sqlite_engine):
    _, _src, reducer = estate(sqlite_engine)
    cid, ids = started(sqlite_engine)
    as_boss(sqlite_engine, cid, [ids[("ann", "shop")]], "reduce", reduce_to="read_only")
    as_boss(sqlite_engine, cid, [ids[("ann", "main")], ids[("ben", "main")]], "revoke")  # both main admins
    review_close.close(sqlite_engine, cid, closer(reducer), actor="ciso")
    assert isinstance(reducer, ReducingRevoker) and reducer.reductions == []
    shop = item(sqlite_engine, cid, ids[("ann", "shop")])
    assert shop.outcome == "held" and "last admin" in shop.outcome_detail
    outcomes = sorted(item(sqlite_engine, cid, ids[(a, "main")]).outcome for a in ("ann", "ben"))
    assert outcomes == ["done", "held"] and len(reducer.calls) == 1  # one main admin stays


def test_executor_refuses_a_reduce_that_would_leave_no_admin(sqlite_engine):
    """Checked again at execution: another plan removed the other admin after the review's plan was made."""
    _, _src, reducer = estate(sqlite_engine)
    cid, ids = started(sqlite_engine)
    as_boss(sqlite_engine, cid, [ids[("ann", "main")]], "reduce", reduce_to="read_only")
    policy = PolicySettings(max_revocations=0)  # the plan waits for approval
    result = review_close.close(sqlite_engine, cid, closer(reducer, policy), actor="ciso")
    assert result.plan_status == "needs_approval"
    with sqlite_engine.begin() as conn:  # ben's grant goes meanwhile
        conn.execute(text("UPDATE access_grant SET seen_to = :now WHERE account_id = "
                          "(SELECT id FROM account WHERE external_id = 'ben')"), {"now": utcnow()})
    executor.approve(sqlite_engine, result.plan_id or 0, who=approver(sqlite_engine))
    review_close.close(sqlite_engine, cid, closer(reducer, policy), actor="ciso")
    assert isinstance(reducer, ReducingRevoker) and reducer.reductions == []
    failed = item(sqlite_engine, cid, ids[("ann", "main")])
    assert failed.outcome == "failed" and "last admin" in failed.outcome_detail


def test_a_plan_above_the_threshold_waits_for_approval_and_is_not_superseded_by_the_reconciler(engine):
    _, _src, revoker = estate(engine)
    cid, ids = started(engine)
    policy = PolicySettings(max_revocations=1)
    as_boss(engine, cid, [ids[("cat", "main")], ids[("ben", "main")]], "revoke")
    result = review_close.close(engine, cid, closer(revoker, policy), actor="ciso")
    assert (result.status, result.plan_status) == ("closing", "needs_approval") and revoker.calls == []
    assert item(engine, cid, ids[("cat", "main")]).outcome == "needs_approval"
    build_plan(engine, policy, {revoker.name: revoker}, ["dir"], utcnow())  # the nightly run plans anew
    with Session(engine) as s:
        assert s.get(Plan, result.plan_id).status == "needs_approval"  # type: ignore[union-attr]
    executor.approve(engine, result.plan_id or 0, who=approver(engine))
    again = review_close.close(engine, cid, closer(revoker, policy), actor="ciso")
    assert again.status == "closed" and sorted(c.account_id for c in revoker.calls) == ["ben", "cat"]
    assert campaign_summary(engine, cid)["outcomes"] == {"done": 2, "kept": 3}  # the rest kept by non-response


def test_failed_sync_and_break_glass_hold_decided_revocations(sqlite_engine):
    _, src, revoker = estate(sqlite_engine)
    cid, ids = started(sqlite_engine)
    as_boss(sqlite_engine, cid, [ids[("cat", "main")], ids[("ann", "main")]], "revoke")
    src.fail_after = 1
    assert sync_access(sqlite_engine, src).status == "failed"
    review_close.close(sqlite_engine, cid, closer(revoker), actor="ciso")
    assert revoker.calls == []
    assert "newest sync" in item(sqlite_engine, cid, ids[("cat", "main")]).outcome_detail
    src.fail_after = None
    assert sync_access(sqlite_engine, src).ok
    review_close.close(sqlite_engine, cid, closer(revoker, PolicySettings(break_glass=["ann@example.com"])),
                       actor="ciso")
    assert [c.account_id for c in revoker.calls] == ["cat"]
    assert "break-glass" in item(sqlite_engine, cid, ids[("ann", "main")]).outcome_detail


def test_non_response_follows_the_recommendation_and_waits_for_a_healthy_directory(sqlite_engine):
    ident, _src, revoker = estate(sqlite_engine)
    cid, ids = started(sqlite_engine, on_no_response="recommendation")
    ident.fail_after = 2
    assert sync_identity(sqlite_engine, ident).status == "failed"
    review_close.close(sqlite_engine, cid, closer(revoker), actor="scheduler")
    cat = item(sqlite_engine, cid, ids[("cat", "main")])
    assert (cat.decision, cat.decided_via, cat.decided_by) == ("revoke", "non_response", reviews.NON_RESPONSE)
    assert cat.outcome == "held" and "non-response" in cat.outcome_detail and revoker.calls == []
    ident.fail_after = None
    assert sync_identity(sqlite_engine, ident).ok
    review_close.close(sqlite_engine, cid, closer(revoker), actor="scheduler")
    assert [c.account_id for c in revoker.calls] == ["cat"]
    rows = {r["item"]: r for r in campaign_rows(sqlite_engine, cid)}
    assert rows[ids[("cat", "main")]]["outcome"] == "done"
    assert rows[ids[("ann", "main")]]["decision"] == "keep" and rows[ids[("ann", "main")]]["outcome"] == "kept"
    assert "no response when the campaign closed" in rows[ids[("ann", "main")]]["justification"]
    assert campaign_summary(sqlite_engine, cid)["completion"] == 0.0


def test_reminders_and_the_overdue_notice_are_sent_once_each(sqlite_engine):
    estate(sqlite_engine)
    cid, _ = started(sqlite_engine, duration_days=10, remind_days_before=[7, 1])
    campaign = reviews.find(sqlite_engine, cid)
    assert campaign is not None
    deadline = campaign.deadline
    assert reviews.send_notices(sqlite_engine, cid, deadline - timedelta(days=8)) == []
    assert sorted(reviews.send_notices(sqlite_engine, cid, deadline - timedelta(days=6))) == [
        f"due_soon:7:{BOSS}", f"due_soon:7:{DAN}"]
    assert reviews.send_notices(sqlite_engine, cid, deadline - timedelta(days=5)) == []
    assert len(reviews.send_notices(sqlite_engine, cid, deadline - timedelta(hours=2))) == 2  # the 1-day ones
    assert sorted(reviews.send_notices(sqlite_engine, cid, deadline)) == [f"overdue:{BOSS}", f"overdue:{DAN}"]
    assert reviews.send_notices(sqlite_engine, cid, deadline + timedelta(hours=1)) == []
    with Session(sqlite_engine) as s:
        overdue = [e.data for e in s.execute(select(AuditEvent).where(col(AuditEvent.kind) == "review.overdue"))
                   .scalars()]
    assert {o["escalate_to"] for o in overdue} == {DAN} and all(o["link"].startswith("/v1/reviews/") for o in overdue)


def test_settings_errors_name_the_file_the_line_and_the_field(tmp_path: Path):
    path = tmp_path / "accessward.toml"
    path.write_text('[store]\nurl = "sqlite:///x.db"\n\n[[reviews]]\nname = "q"\nscope = "everything"\n'
                    'fallback = "ciso@example.com"\n\n[[reviews]]\nname = "r"\nschedule = "weekly"\n')
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    problems = "\n".join(err.value.problems)
    assert f"{path}:6: reviews[0].scope" in problems
    assert f"{path}:11: reviews[1].schedule" in problems
    assert f"{path}:9: reviews[1].fallback: Field required" in problems


def test_a_reviewers_decision_wins_the_last_admin_over_the_non_response_rule(sqlite_engine):
    _, _src, revoker = estate(sqlite_engine, revoker_cls=RecordingRevoker)
    cid, ids = started(sqlite_engine, on_no_response="revoke")
    as_boss(sqlite_engine, cid, [ids[("ben", "main")]], "revoke")  # ann's main admin is left to the rule
    review_close.close(sqlite_engine, cid, closer(revoker), actor="ciso")
    assert item(sqlite_engine, cid, ids[("ben", "main")]).outcome == "done"
    ann = item(sqlite_engine, cid, ids[("ann", "main")])
    assert ann.decided_via == "non_response" and ann.outcome == "held" and "last admin" in ann.outcome_detail
    assert "ann" not in [c.account_id for c in revoker.calls]


def test_agency_access_inside_its_engagement_is_kept_and_past_its_contract_is_recommended_for_revocation(
        sqlite_engine):
    from datetime import date

    from accessward.connectors.records import AccountKind
    from accessward.reconcile.policy import Engagement

    ident = FakeIdentity(people=[person("boss")])
    src = FakeAccess(grants=[("partner:1", "main", "ADVERTISE", Level.full_publishing),
                             ("partner:2", "main", "ADVERTISE", Level.full_publishing)],
                     kinds={"partner:1": AccountKind.agency, "partner:2": AccountKind.agency})
    assert sync_identity(sqlite_engine, ident).ok and sync_access(sqlite_engine, src).ok
    policy = PolicySettings(agencies=[
        Engagement(name="Bright", partner_accounts=["social:partner:1"], end=date(2099, 1, 1)),
        Engagement(name="Old", partner_accounts=["social:partner:2"], end=date(2020, 1, 1))])
    campaign, _ = reviews.start(sqlite_engine, campaign_cfg(scope="agency"), policy, actor="test")
    rows = {i.account: i for i in reviews.items(sqlite_engine, campaign.id or 0)}
    assert rows["partner:1"].recommendation == "keep" and "Bright engagement" in rows["partner:1"].recommendation_reason
    assert rows["partner:2"].recommendation == "revoke"
    assert rows["partner:2"].recommendation_reason.startswith("agency past contract: Old engagement ended 2020-01-01")


def test_dormant_access_is_recommended_for_revocation_and_is_risky(sqlite_engine):
    ident = FakeIdentity(people=[person("boss"), person("old")])
    src = FakeAccess(grants=[("old", "main", "CREATE_CONTENT", Level.full_publishing),
                             ("boss", "main", "CREATE_CONTENT", Level.full_publishing)],
                     facts={"old": {"last_active": utcnow() - timedelta(days=200), "mfa": True},
                            "boss": {"last_active": utcnow() - timedelta(days=3), "mfa": True}})
    assert sync_identity(sqlite_engine, ident).ok and sync_access(sqlite_engine, src).ok
    correlate(sqlite_engine)
    campaign, _ = reviews.start(sqlite_engine, campaign_cfg(scope="risky"), PolicySettings(), actor="test")
    [dormant] = reviews.items(sqlite_engine, campaign.id or 0)  # boss is active, with MFA: not risky
    assert dormant.account == "old" and dormant.recommendation == "revoke"
    assert dormant.recommendation_reason.startswith("dormant: no activity since")


def test_no_decision_is_taken_once_closing_has_begun(sqlite_engine):
    _, _src, revoker = estate(sqlite_engine, revoker_cls=RecordingRevoker)
    cid, ids = started(sqlite_engine)
    review_close.close(sqlite_engine, cid, closer(revoker), actor="ciso")
    with pytest.raises(reviews.Conflict, match="closed"):
        as_boss(sqlite_engine, cid, [ids[("cat", "main")]], "revoke")
    assert item(sqlite_engine, cid, ids[("cat", "main")]).decision == "keep"  # the rule's, on_no_response = keep
    assert revoker.calls == []


def test_review_events_become_notifications_to_the_reviewer(sqlite_engine):
    import json

    from accessward.notify.events import from_audit

    estate(sqlite_engine)
    cid, _ = started(sqlite_engine, duration_days=5, remind_days_before=[7])
    deadline = reviews.find(sqlite_engine, cid).deadline  # type: ignore[union-attr]
    reviews.send_notices(sqlite_engine, cid, deadline - timedelta(days=1))
    reviews.send_notices(sqlite_engine, cid, deadline)
    with sqlite_engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, subject, actor, data FROM audit_event WHERE kind LIKE 'review.%' "
                                 "ORDER BY id")).mappings().all()
        messages = {(r["kind"], m.recipients): m for r in rows
                    if (m := from_audit(conn, {**r, "data": json.loads(r["data"])}, 0)) is not None}
    kinds = {k for k, _ in messages}
    assert kinds == {"review.assigned", "review.due_soon", "review.overdue", "review.escalated"}
    assigned = messages[("review.assigned", (BOSS,))]
    assert assigned.path == f"/reviews/{cid}" and "4 item(s)" in assigned.body and "access review q" in assigned.body
    assert ("review.escalated", (DAN,)) in messages  # the overdue reviews escalate to the fallback


@dataclass
class MembershipRevoker(RecordingRevoker):
    """Revoking any grant removes the account's whole membership (as a Meta business membership does)."""

    def revocation_takes(self, grant: GrantRef) -> Takes:
        return Takes(scope=RevocationScope.account_on_system, note="removing the membership removes every asset")

    def revoke(self, grant: GrantRef) -> RevokeResult:
        self.calls.append(grant)
        self.source.grants = [g for g in self.source.grants if g[0] != grant.account_id]
        return RevokeResult(RevokeOutcome.done)


def test_a_review_revocation_that_takes_a_membership_is_judged_on_everything_it_removes(engine):
    """Ann's main-page grant may go (ben admins main), but removing it takes her shop grant, whose only admin she is."""
    _, _src, revoker = estate(engine, revoker_cls=MembershipRevoker)
    cid, ids = started(engine)
    as_boss(engine, cid, [ids[("ann", "main")]], "revoke")
    as_boss(engine, cid, [ids[("cat", "main")]], "revoke")
    review_close.close(engine, cid, closer(revoker), actor="ciso")
    assert [c.account_id for c in revoker.calls] == ["cat"]
    ann = item(engine, cid, ids[("ann", "main")])
    assert ann.outcome == "held" and "last admin" in ann.outcome_detail and "shop" in ann.outcome_detail
    with Session(engine) as s:
        open_shop = s.execute(text("SELECT COUNT(*) FROM access_grant g JOIN resource r ON r.id = g.resource_id "
                                   "WHERE r.external_id = 'shop' AND g.seen_to IS NULL")).scalar()
    assert open_shop == 1
