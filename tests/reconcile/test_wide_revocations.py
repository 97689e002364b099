"""Invariant 5 for revocations wider than one grant, end to end on SQLite and PostgreSQL.

The issue's case: with ``business_membership = "all"``, a leaver who is a Page's only admin. The
plan held the Page grant (right) and removed the business membership (wrong): Meta removes every
asset assignment with the membership, so the Page was left with no admin. Here the real Meta
connector runs against the Graph simulator, the store is real, and the guard must hold both.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from accessward.connectors.meta import MetaBusinessConnector
from accessward.connectors.records import PersonStatus
from accessward.reconcile import executor
from accessward.reconcile.plan import build_plan
from accessward.reconcile.policy import PolicySettings, RuleSettings
from accessward.reconcile.run import reconcile
from accessward.sandbox.meta import MetaState, create_app
from accessward.sandbox.server import RunningServer, start_app
from accessward.sync import principals
from accessward.sync.clock import utcnow
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeIdentity, person

TOKEN = "EAAwide-test-token"
BUSINESS = "100000000000001"
REVOKE = PolicySettings(rules={"orphaned": RuleSettings(action="revoke")})


@pytest.fixture
def meta() -> MetaState:
    """Alex: business ADMIN, manages Main. Dana (leaver): employee, the ONLY admin of Solo, ANALYZE on Main."""
    st = MetaState(BUSINESS, "Wide Test")
    st.add_token(TOKEN)
    main, solo = st.add_page("Main", page_id="200000000000001"), st.add_page("Solo", page_id="200000000000002")
    alex = st.add_business_user("Alex Admin", "alex@example.com", role="ADMIN", user_id="300000000000001")
    dana = st.add_business_user("Dana Leaver", "dana@example.com", user_id="300000000000002")
    st.add_business_user("Sam Staff", "sam@example.com", user_id="300000000000003")
    st.assign(main.id, alex.id, ["MANAGE"])
    st.assign(solo.id, dana.id, ["MANAGE", "CREATE_CONTENT"])
    st.assign(main.id, dana.id, ["ANALYZE"])
    return st


@pytest.fixture
def server(meta: MetaState) -> Iterator[RunningServer]:
    with start_app(create_app(meta)) as srv:
        yield srv


def connector(srv: RunningServer) -> MetaBusinessConnector:
    return MetaBusinessConnector("meta", f"{srv.url}/v21.0", BUSINESS, TOKEN, business_membership="all",
                                 sleep=lambda s: None)


def directory() -> FakeIdentity:
    return FakeIdentity(people=[person("alex", email="alex@example.com"), person("sam", email="sam@example.com"),
                                person("dana", email="dana@example.com", status=PersonStatus.terminated)])


def sync_all(engine: Engine, meta_connector: MetaBusinessConnector) -> None:
    assert sync_identity(engine, directory()).ok
    outcome = sync_access(engine, meta_connector)
    assert outcome.ok, outcome.error


def open_grants_of(engine: Engine, account: str) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT r.external_id FROM access_grant g JOIN account a ON a.id = g.account_id "
            "JOIN resource r ON r.id = g.resource_id WHERE a.external_id = :a AND g.seen_to IS NULL"), {"a": account})
        return {str(r) for (r,) in rows}


def plan(engine: Engine, revoker: MetaBusinessConnector):  # type: ignore[no-untyped-def]
    reconcile(engine, REVOKE)
    return build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())


def test_a_membership_removal_that_would_take_a_pages_last_admin_is_held_with_it(
        engine: Engine, meta: MetaState, server: RunningServer) -> None:
    """The issue's exact case: the Page grant is held AND the membership removal is held too."""
    revoker = connector(server)
    sync_all(engine, revoker)

    result = plan(engine, revoker)

    held = {h.resource: h.held_because for h in result.held}
    assert held["200000000000002"].startswith("last admin of the resource")
    assert held[BUSINESS].startswith("last admin of the resource")
    assert "also removes 200000000000002 'Solo'" in held[BUSINESS]
    assert [(i.account, i.resource) for i in result.revocations] == [("300000000000002", "200000000000001")]

    report = executor.execute(engine, result.plan_id, {revoker.name: revoker}, sleep=lambda s: None)

    assert report.outcomes == {"done": 1}
    assert meta.is_member("300000000000002") and meta.is_assigned("200000000000002", "300000000000002")
    assert not meta.is_assigned("200000000000001", "300000000000002")
    assert [c.path for c in meta.revoke_calls] == ["/v21.0/200000000000001/assigned_users"]


def test_a_membership_removal_lists_what_it_takes_and_closes_all_of_it(
        engine: Engine, meta: MetaState, server: RunningServer) -> None:
    meta.assign("200000000000002", "300000000000003", ["MANAGE"])  # Sam co-manages Solo: Dana may go
    revoker = connector(server)
    sync_all(engine, revoker)

    result = plan(engine, revoker)

    membership = next(i for i in result.revocations if i.resource == BUSINESS)
    assert "takes away 3 grant(s): removing the business membership removes every asset assignment" in (
        membership.request)
    assert "also 200000000000002 'Solo' (CREATE_CONTENT,MANAGE)" in membership.request
    assert "also 200000000000001 'Main' (ANALYZE)" in membership.request
    assert len(membership.takes) == 3 and result.held == []

    report = executor.execute(engine, result.plan_id, {revoker.name: revoker}, sleep=lambda s: None)

    assert report.failures == [] and report.outcomes.get("done") == 1
    assert not meta.is_member("300000000000002")
    assert open_grants_of(engine, "300000000000002") == set()  # every declared grant closed by the executor
    # the next sync sees no sudden drop: nothing to quarantine, nothing reopened
    outcome = sync_access(engine, revoker)
    assert outcome.status == "succeeded" and outcome.counts.get("closed", 0) == 0
    assert open_grants_of(engine, "300000000000002") == set()


def test_the_executor_judges_what_a_membership_removal_takes_again(
        engine: Engine, meta: MetaState, server: RunningServer) -> None:
    """Planned while Sam co-managed Solo; Sam's MANAGE is gone by apply time: nothing leaves Solo adminless."""
    meta.assign("200000000000002", "300000000000003", ["MANAGE"])
    revoker = connector(server)
    sync_all(engine, revoker)
    result = plan(engine, revoker)
    assert any(i.resource == BUSINESS for i in result.revocations)

    meta.assign("200000000000002", "300000000000003", ["ANALYZE"])  # Sam is no longer an admin of Solo
    assert sync_access(engine, revoker).ok
    report = executor.execute(engine, result.plan_id, {revoker.name: revoker}, sleep=lambda s: None)

    assert any(f.startswith(f"meta {BUSINESS} 300000000000002: last admin") for f in report.failures)
    assert meta.is_member("300000000000002") and meta.is_assigned("200000000000002", "300000000000002")
    assert "/v21.0/300000000000002" not in [c.path for c in meta.revoke_calls]


def test_a_break_glass_account_is_never_removed_through_a_wider_revocation(
        engine: Engine, meta: MetaState, server: RunningServer) -> None:
    meta.assign("200000000000002", "300000000000003", ["MANAGE"])
    revoker = connector(server)
    sync_all(engine, revoker)
    policy = PolicySettings(break_glass=["dana@example.com"], rules=REVOKE.rules)
    reconcile(engine, policy)

    result = build_plan(engine, policy, {revoker.name: revoker}, ["dir"], utcnow())

    assert result.revocations == [] and all("break-glass" in h.held_because for h in result.held)


def test_another_plans_membership_removal_counts_as_removing_every_grant_it_takes(
        engine: Engine, meta: MetaState, server: RunningServer) -> None:
    """Plan 1 (approved, not applied) removes Dana's membership and so her Solo MANAGE; plan 2, made
    later when Sam (Solo's other admin) has left too, must not remove Sam's: Solo would have nobody."""
    meta.assign("200000000000002", "300000000000003", ["MANAGE"])
    revoker = connector(server)
    sync_all(engine, revoker)
    policy = PolicySettings(max_revocations=0, rules=REVOKE.rules)
    reconcile(engine, policy)
    plan1 = build_plan(engine, policy, {revoker.name: revoker}, ["dir"], utcnow())
    assert plan1.status == "needs_approval" and any(i.resource == BUSINESS for i in plan1.revocations)
    executor.approve(engine, plan1.plan_id, who=principals.ensure(engine, "ciso"))

    leavers = directory()
    leavers.people = [p if p.source_key != "sam" else person("sam", email="sam@example.com",
                                                                status=PersonStatus.terminated)
                      for p in leavers.people]
    assert sync_identity(engine, leavers).ok
    plan2 = plan(engine, revoker)

    sam_solo = next(h for h in plan2.held if (h.account, h.resource) == ("300000000000003", "200000000000002"))
    assert sam_solo.held_because.startswith("last admin of the resource")
    assert ("300000000000003", "200000000000002") not in [(i.account, i.resource) for i in plan2.revocations]


def test_the_executor_judges_break_glass_again_for_every_grant_taken(
        engine: Engine, meta: MetaState, server: RunningServer) -> None:
    meta.assign("200000000000002", "300000000000003", ["MANAGE"])
    revoker = connector(server)
    sync_all(engine, revoker)
    result = plan(engine, revoker)
    assert any(i.resource == BUSINESS for i in result.revocations)

    # Dana's address was declared break-glass after the plan was made
    report = executor.execute(engine, result.plan_id, {revoker.name: revoker}, sleep=lambda s: None,
                              break_glass=["dana@example.com"])

    assert report.outcomes == {"failed": len(result.revocations)} and meta.revoke_calls == []
    assert all("break-glass" in f for f in report.failures)


def test_an_offboarding_never_takes_a_pages_last_admin_through_the_membership(
        engine: Engine, meta: MetaState, server: RunningServer) -> None:
    """HR offboards Dana: her membership removal would take Solo's only admin: held with the Solo grant."""
    from datetime import timedelta

    from accessward.reconcile import offboarding

    revoker = connector(server)
    sync_all(engine, revoker)
    ob, _ = offboarding.request(engine, request_id="hr-1", person_key="dana@example.com",
                                effective_at=utcnow() - timedelta(minutes=1), requested_by="hr@example.com",
                                source="test")
    assert ob.id is not None
    offboarding.run(engine, ob.id, offboarding.Tools({revoker.name: revoker}, {}, REVOKE, sleep=lambda s: None))

    assert meta.is_assigned("200000000000002", "300000000000002")  # Solo keeps its admin
    assert meta.is_member("300000000000002")
    assert "/v21.0/300000000000002" not in [c.path for c in meta.revoke_calls]
    with engine.connect() as conn:
        items = {r: (st, d) for r, st, d in conn.execute(text(
            "SELECT resource, state, detail FROM offboarding_item WHERE kind = 'revoke_grant'"))}
    assert items[BUSINESS][0] == "held" and "also removes 200000000000002 'Solo'" in items[BUSINESS][1]
    assert items["200000000000002"][0] == "held" and items["200000000000001"][0] == "done"
