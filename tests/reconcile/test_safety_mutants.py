"""Tests that kill the hand-made mutants today's suite let survive (issue 12).

Each test names the one-line bug it catches. They are fast SQLite/PostgreSQL unit tests over the
in-memory fakes, so ``make mutate`` can run them against every mutant.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlmodel import Session

from accessward.connectors.errors import NotFoundError, TransientError
from accessward.connectors.records import GrantRef, Level, RevokeResult
from accessward.reconcile import executor, offboarding
from accessward.reconcile.plan import build_plan
from accessward.reconcile.policy import PolicySettings, RuleSettings
from accessward.reconcile.run import reconcile
from accessward.sync.clock import utcnow
from accessward.sync.models import Action, Finding, Grant, Person
from accessward.sync.principals import PrincipalRef
from accessward.sync.runner import _start, sync_access, sync_identity
from accessward.sync.service_models import OffboardingItem
from accessward.sync.writer import count_present_people
from tests.fakes import FakeAccess, FakeIdentity, RecordingRevoker, person
from tests.reconcile.test_plan_apply import REVOKE, estate, plan_and_apply

# -- health.py: "== 'failed'" instead of "!= 'succeeded'" ----------------------------------------


def test_a_quarantined_newest_identity_run_revokes_nothing(engine):
    ident, _, revoker = estate(engine, leavers=1, staff=20)
    ident.people = ident.people[:10] + ident.people[-1:]  # half the staff vanish: quarantined
    assert sync_identity(engine, ident).status == "quarantined"
    plan, report = plan_and_apply(engine, REVOKE, revoker)
    assert revoker.calls == [] and report is None and plan.revocations == []
    assert plan.held and all("quarantined" in h.held_because for h in plan.held)


def test_an_identity_run_still_going_revokes_nothing(engine):
    _, _, revoker = estate(engine)
    _start(engine, "dir", "FakeIdentity", "identity")  # a run started and not finished
    plan, report = plan_and_apply(engine, REVOKE, revoker)
    assert revoker.calls == [] and report is None
    assert plan.held and all("running" in h.held_because for h in plan.held)


# -- plan.py: the revocation share over every grant ever, closed ones included --------------------


def test_the_revocation_share_counts_open_grants_only(engine):
    _, src, revoker = estate(engine, leavers=3, staff=20)  # 3 of 23 open grants: 13 %
    # 40 grants that existed once and are closed now: over all grants ever the share would be 5 %
    src.grants += [(f"old{i}", "archive", "ANALYZE", Level.read_only) for i in range(40)]
    assert sync_access(engine, src).ok
    with engine.begin() as conn:
        conn.execute(text("UPDATE access_grant SET seen_to = :t, closed_by = 'unseen' WHERE role = 'ANALYZE'"),
                     {"t": utcnow()})
    src.grants = [g for g in src.grants if g[2] != "ANALYZE"]
    policy = PolicySettings(max_revocation_share=0.10, min_revocations_for_share=1, rules=REVOKE.rules)
    plan, report = plan_and_apply(engine, policy, revoker)
    assert plan.status == "needs_approval" and "of 23 open grants" in plan.reason
    assert revoker.calls == [] and report is None


# -- executor.py: NotFoundError from a revoke recorded as failed ----------------------------------


def test_not_found_on_revoke_is_already_gone_not_failed(engine):
    _, _, revoker = estate(engine)
    revoker.fail_with["l0"] = [NotFoundError("HTTP 404: not found")]
    _, report = plan_and_apply(engine, REVOKE, revoker)
    assert report.outcomes == {"already_gone": 1} and report.failures == []
    with Session(engine) as s:
        action = s.execute(select(Action)).scalars().one()
        grant = s.get(Grant, action.grant_id)
        finding = s.get(Finding, action.finding_id)
    assert action.state == "already_gone" and action.last_error is None
    assert grant.seen_to is not None and grant.closed_by == "revoked" and finding.state == "revoked"


# -- runner.py: a quarantined full identity run marking the unseen people missing ----------------


def test_a_quarantined_identity_run_marks_nobody_missing_and_the_next_one_is_quarantined_too(engine):
    staff = [person(f"s{i}") for i in range(30)]
    ident = FakeIdentity(people=staff)
    assert sync_identity(engine, ident).ok
    ident.people = staff[:10]  # a filter mistake: 20 active people are not listed
    first = sync_identity(engine, ident)
    assert first.status == "quarantined" and "missing" not in first.counts
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(Person).where(Person.missing_since.is_not(None))
                         ).scalar() == 0
    assert count_present_people(engine, "dir") == 30
    second = sync_identity(engine, ident)  # the baseline has not dropped: still quarantined
    assert second.status == "quarantined" and count_present_people(engine, "dir") == 30
    # and nobody becomes revocable: their grants are held, not planned
    src = FakeAccess(grants=[(f"s{i}", "main", "CREATE_CONTENT", Level.full_publishing) for i in range(30)])
    assert sync_access(engine, src).ok
    revoker = RecordingRevoker(src)
    policy = PolicySettings(max_revocations=1000, max_revocation_share=1.0,
                            rules={"orphaned": RuleSettings(action="revoke")})
    plan, report = plan_and_apply(engine, policy, revoker)
    assert revoker.calls == [] and plan.revocations == [] and report is None


def test_a_small_source_losing_a_large_share_is_quarantined(engine):
    ident = FakeIdentity(people=[person(f"p{i}") for i in range(5)])
    assert sync_identity(engine, ident).ok
    ident.people = ident.people[:3]
    assert sync_identity(engine, ident).status == "quarantined"
    assert count_present_people(engine, "dir") == 5
    src = FakeAccess(grants=[(f"a{i}", "page", "ANALYZE", Level.read_only) for i in range(5)])
    assert sync_access(engine, src).ok
    src.grants = src.grants[:3]
    assert sync_access(engine, src).status == "quarantined"
    one = FakeIdentity(name="tiny", people=[person(f"t{i}") for i in range(3)])
    assert sync_identity(engine, one).ok
    one.people = one.people[:2]  # a three-person roster may lose its one leaver
    assert sync_identity(engine, one).ok


# -- plan.py: the grace period counted in hours instead of days ----------------------------------


def _age_findings(engine, days: float) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE finding SET first_seen = :t"), {"t": utcnow() - timedelta(days=days)})


def test_the_grace_period_is_counted_in_days_and_ends(engine):
    _, _, revoker = estate(engine)
    policy = PolicySettings(rules={"orphaned": RuleSettings(action="revoke", grace_days=7)})
    reconcile(engine, policy)
    _age_findings(engine, 3)  # three days in: still within seven days (not within seven hours)
    plan, _ = plan_and_apply(engine, policy, revoker)
    assert revoker.calls == [] and "in grace period until" in plan.held[0].held_because
    _age_findings(engine, 8)
    plan, report = plan_and_apply(engine, policy, revoker)
    assert [c.account_id for c in revoker.calls] == ["l0"] and report.outcomes == {"done": 1}


# -- offboarding.py: acting on a disputed link ---------------------------------------------------


def test_an_offboarding_never_acts_on_a_disputed_link(engine):
    a1 = person("a1", "a1@example.com", employee_id="E1")
    a1 = replace(a1, emails=("a1@example.com", "shared@example.com"))
    people = [a1, person("a2", "shared@example.com", employee_id="E2")]
    assert sync_identity(engine, FakeIdentity(people=people)).ok
    src = FakeAccess(grants=[("x", "page", "CREATE_CONTENT", Level.full_publishing),
                             ("own", "page", "ANALYZE", Level.read_only), ("boss", "page", "MANAGE", Level.admin)],
                     emails={"x": "shared@example.com", "own": "a1@example.com"})
    assert sync_access(engine, src).ok
    revoker = RecordingRevoker(src)
    ob, _ = offboarding.request(engine, request_id="hr-1", person_key="E1", effective_at=utcnow(),
                                requested_by="hr:alice", source="test")
    status = offboarding.run(engine, ob.id, offboarding.Tools(revokers={"social": revoker}, idps={},
                                                              policy=REVOKE, sleep=lambda s: None))
    assert [c.account_id for c in revoker.calls] == ["own"], "only the account linked to E1 alone"
    with Session(engine) as s:
        items = {i.target: i for i in s.execute(select(OffboardingItem)).scalars()}
    assert items["x"].state == "held" and "disputed" in items["x"].detail
    assert items["own"].state == "done" and status == "partially_done"


# -- executor.py: transient retries exhausted; "executing" written before the call ----------------


def test_transient_errors_beyond_the_attempts_fail_the_action_and_keep_the_grant(engine):
    _, src, revoker = estate(engine)
    revoker.fail_with["l0"] = [TransientError("HTTP 503") for _ in range(3)]
    reconcile(engine, REVOKE)
    plan = build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())
    waits: list[float] = []
    report = executor.execute(engine, plan.plan_id, {revoker.name: revoker}, max_attempts=3, backoff=1,
                              sleep=waits.append)
    assert report.outcomes == {"failed": 1} and len(revoker.calls) == 3 and waits == [1, 2]
    assert "gave up after 3 attempts" in report.failures[0]
    with Session(engine) as s:
        action = s.execute(select(Action)).scalars().one()
        grant = s.get(Grant, action.grant_id)
    assert action.state == "failed" and action.attempts == 3 and grant.seen_to is None
    assert any(g[0] == "l0" for g in src.grants)


def test_executing_and_the_attempt_are_committed_before_the_platform_is_called(engine):
    _, _, revoker = estate(engine, leavers=2)
    seen: list[tuple[str, int]] = []
    original = revoker.revoke

    def revoke(grant: GrantRef) -> RevokeResult:
        with engine.connect() as conn:  # another connection: only committed state is visible
            row = conn.execute(text("SELECT x.state, x.attempts FROM action x JOIN access_grant g ON g.id = x.grant_id "
                                    "JOIN account a ON a.id = g.account_id WHERE a.external_id = :a"),
                               {"a": grant.account_id}).one()
        seen.append((row[0], row[1]))
        return original(grant)

    revoker.revoke = revoke  # type: ignore[method-assign]
    _, report = plan_and_apply(engine, REVOKE, revoker)
    assert report.outcomes == {"done": 2} and seen == [("executing", 1), ("executing", 1)]



# -- survivors of `make mutate` on safety paths ---------------------------------------------------


def test_a_new_plan_supersedes_the_open_ones_and_an_offboarding_plan_leaves_them(engine):
    """An older plan waiting for approval must lapse: approving it later would act on old facts."""
    from accessward.reconcile.plan import PlanResult, persist_plan
    from accessward.sync.models import Plan

    _, _, revoker = estate(engine, leavers=6)
    policy = PolicySettings(max_revocations=5, rules=REVOKE.rules)
    first, _ = plan_and_apply(engine, policy, revoker)
    assert first.status == "needs_approval"
    hr = persist_plan(engine, PlanResult(None, "approved", "offboarding hr-9", revocations=[]), "hr",
                      supersede=False, approved_by="hr")
    with Session(engine) as s:
        assert s.get(Plan, first.plan_id).status == "needs_approval", "an offboarding's plan supersedes nothing"
    # a plan that differs (here: its reason); an unchanged one is shown again (plan.unchanged_open_plan)
    second, _ = plan_and_apply(engine, PolicySettings(max_revocations=4, rules=REVOKE.rules), revoker)
    with Session(engine) as s:
        assert s.get(Plan, first.plan_id).status == "superseded"
        assert s.get(Plan, hr).status == "approved"
        states = {a.state for a in s.execute(select(Action).where(Action.plan_id == first.plan_id)).scalars()}
        assert states == {"cancelled"}
    assert second.status == "needs_approval"
    try:
        executor.approve(engine, first.plan_id, who=PrincipalRef(99, "ciso", "person", "CISO", None, None))
    except ValueError as exc:
        assert "superseded" in str(exc)
    else:
        raise AssertionError("a superseded plan was approved")


def test_the_revoker_is_told_the_resource_and_account_kind(engine):
    """Revokers choose the request by kind (a Page's assigned_users, an Instagram asset, a partner)."""
    _, _, revoker = estate(engine)
    plan_and_apply(engine, REVOKE, revoker)
    [call] = revoker.calls
    assert (call.resource_kind, str(call.account_kind), call.role) == ("facebook_page", "human", "CREATE_CONTENT")


def test_the_grace_period_counts_from_the_leave_date_and_says_when_it_ends(engine):
    """Grace starts when the person left (the evidence's ``since``), not when the finding was first seen."""
    from accessward.connectors.records import PersonStatus

    now = utcnow()
    people = [person(f"s{i}") for i in range(20)]
    people += [person("long", status=PersonStatus.terminated, leave_date=now - timedelta(days=10)),
               person("recent", status=PersonStatus.terminated, leave_date=now - timedelta(days=3))]
    assert sync_identity(engine, FakeIdentity(people=people)).ok
    grants = [(f"s{i}", "main", "MANAGE", Level.admin) for i in range(20)]
    grants += [("long", "main", "CREATE_CONTENT", Level.full_publishing),
               ("recent", "main", "CREATE_CONTENT", Level.full_publishing)]
    src = FakeAccess(grants=grants)
    assert sync_access(engine, src).ok
    revoker = RecordingRevoker(src)
    policy = PolicySettings(rules={"orphaned": RuleSettings(action="revoke", grace_days=7)})
    plan, _ = plan_and_apply(engine, policy, revoker)
    assert [c.account_id for c in revoker.calls] == ["long"]  # left ten days ago: grace is over
    [held] = [h for h in plan.held if h.account == "recent"]
    ends = now - timedelta(days=3) + timedelta(days=7)
    assert held.held_because.startswith("in grace period until ")
    assert abs((datetime.strptime(held.held_because[22:38], "%Y-%m-%d %H:%M") - ends).total_seconds()) <= 60


def test_a_first_empty_listing_is_fine_and_a_one_record_source_answering_nothing_has_failed(engine):
    """No baseline: nothing to judge against. A baseline of one: an empty answer is still a failure."""
    assert sync_access(engine, FakeAccess(name="new", grants=[])).ok
    one = FakeAccess(name="one", grants=[("ann", "page", "MANAGE", Level.admin)])
    assert sync_access(engine, one).ok
    one.grants = []
    outcome = sync_access(engine, one)
    assert outcome.status == "failed" and "returned 0 records where the store holds 1" in (outcome.error or "")
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(Grant).where(Grant.seen_to.is_(None))).scalar() == 1


def test_an_offboarding_holds_break_glass_manual_and_unrevokable_grants_with_the_reason(engine):
    """The offboarding's own hold reasons, on the fast path (the service tests cover them end to end)."""
    people = [person(f"s{i}") for i in range(5)] + [person("a1", "a1@example.com", employee_id="E1")]
    assert sync_identity(engine, FakeIdentity(people=people)).ok
    mail = {a: "a1@example.com" for a in ("own", "bg", "man", "oth")}
    social = FakeAccess(grants=[("own", "page", "ANALYZE", Level.read_only), ("bg", "page", "ANALYZE", Level.read_only),
                                ("man", "page", "ANALYZE", Level.read_only), ("s0", "page", "MANAGE", Level.admin)],
                        emails=mail)
    other = FakeAccess(name="other", grants=[("oth", "wall", "ANALYZE", Level.read_only)], emails=mail)
    assert sync_access(engine, social).ok and sync_access(engine, other).ok
    with engine.begin() as conn:
        conn.execute(text("UPDATE access_grant SET verifiable = :no WHERE account_id = "
                          "(SELECT id FROM account WHERE external_id = 'man')"), {"no": False})
    revoker = RecordingRevoker(social)
    policy = PolicySettings(break_glass=["bg"], rules=REVOKE.rules)
    ob, _ = offboarding.request(engine, request_id="hr-2", person_key="E1", effective_at=utcnow(),
                                requested_by="hr:alice", source="test")
    status = offboarding.run(engine, ob.id, offboarding.Tools(revokers={"social": revoker}, idps={},
                                                              policy=policy, sleep=lambda s: None))
    assert [c.account_id for c in revoker.calls] == ["own"] and status == "partially_done"
    with Session(engine) as s:
        items = {i.target: i for i in s.execute(select(OffboardingItem)).scalars()}
    assert {k: items[k].state for k in ("own", "bg", "man", "oth")} == {
        "own": "done", "bg": "held", "man": "held", "oth": "held"}
    assert items["bg"].detail == "break-glass account: never revoked"
    assert items["man"].detail.startswith("no API to revoke through (manual inventory): DELETE https://social.test/page")
    assert items["oth"].detail == "no revoker configured for other"


def test_a_drop_of_exactly_max_drop_passes_and_one_more_is_quarantined(engine):
    ident = FakeIdentity(people=[person(f"p{i}") for i in range(20)])
    assert sync_identity(engine, ident).ok
    ident.people = ident.people[:14]  # 6 of 20 gone: exactly 30 %
    assert sync_identity(engine, ident).ok
    other = FakeIdentity(name="other", people=[person(f"q{i}") for i in range(20)])
    assert sync_identity(engine, other).ok
    other.people = other.people[:13]  # 7 of 20: more than 30 %
    assert sync_identity(engine, other).status == "quarantined"


def test_at_execution_another_plan_s_pending_admin_removal_counts_as_done(engine):
    """Two approved plans (an offboarding's runs outside the apply lock) each remove one of two admins:
    the first to run sees the other's pending removal and keeps its admin."""
    from accessward.reconcile.plan import Item, PlanResult, persist_plan

    src = FakeAccess(grants=[("x", "main", "MANAGE", Level.admin), ("y", "main", "MANAGE", Level.admin),
                             ("z", "other", "ANALYZE", Level.read_only)])
    assert sync_access(engine, src).ok
    revoker = RecordingRevoker(src)
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT a.external_id, g.id FROM access_grant g JOIN account a "
                                     "ON a.id = g.account_id")).all())

    def plan_for(account: str) -> int:
        item = Item(finding_id=None, grant_id=ids[account], rule="offboarding", system="social", account=account,
                    account_name=account, resource="main", resource_name="Main", role="MANAGE",
                    level=int(Level.admin), reason="test", request="DELETE main")
        return persist_plan(engine, PlanResult(None, "approved", f"offboarding {account}", revocations=[item]),
                            "hr", supersede=False, approved_by="hr")

    first, second = plan_for("x"), plan_for("y")
    report = executor.execute(engine, first, {"social": revoker}, sleep=lambda s: None)
    assert report.outcomes == {"failed": 1} and "last admin" in report.failures[0] and revoker.calls == []
    report = executor.execute(engine, second, {"social": revoker}, sleep=lambda s: None)
    assert report.outcomes == {"done": 1} and [c.account_id for c in revoker.calls] == ["y"]
