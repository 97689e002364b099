"""Tests that kill the mutants ``make mutate`` found surviving in plan.py, executor.py and takes.py (issue 12).

Each test names the mutant it kills (mutmut 3 names: ``module.x_function__mutmut_N``).
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from accessward.connectors.records import Level
from accessward.reconcile import links
from accessward.reconcile.plan import build_plan
from accessward.reconcile.policy import PolicySettings, RuleSettings
from accessward.reconcile.run import reconcile
from accessward.sync.clock import utcnow
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, RecordingRevoker, person

REVOKE = PolicySettings(rules={"orphaned": RuleSettings(action="revoke")})


def _disputed_estate(engine):  # type: ignore[no-untyped-def]
    """Account x's email belongs to two people (a dispute); boss keeps the page's admin."""
    assert sync_identity(engine, FakeIdentity(people=[person("a1", "shared@example.com"),
                                                      person("a2", "shared@example.com")])).ok
    src = FakeAccess(grants=[("x", "page", "CREATE_CONTENT", Level.full_publishing),
                             ("boss", "page", "MANAGE", Level.admin)],
                     emails={"x": "shared@example.com", "boss": "a1@example.com"})
    assert sync_access(engine, src).ok
    return src, RecordingRevoker(src)


# -- plan._hold_reason: the finding says "disputed" but the link was settled since --------------------


def test_a_finding_raised_on_a_disputed_link_is_held_even_after_the_link_is_settled(engine):
    """Kills plan.x__hold_reason__mutmut_1..7 (``or`` -> ``and``, the evidence key/value changed).

    Between a reconcile and the next plan someone links the account by hand (``accessward link``):
    the link is no longer disputed, but the open finding was raised on the dispute. Acting on it
    would revoke on facts nobody has re-judged; it must wait for the next reconcile.
    """
    _, revoker = _disputed_estate(engine)
    reconcile(engine, REVOKE)
    with engine.connect() as conn:
        reasons = [r for (r,) in conn.execute(text("SELECT evidence FROM finding WHERE state = 'open'"))]
    assert any("disputed" in str(r) for r in reasons)
    links.link(engine, "social", "x", "a2", actor="tester")
    plan = build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())
    assert plan.revocations == [] and revoker.calls == []
    held = [h for h in plan.held if h.account == "x"]
    assert held and "disputed link" in held[0].held_because


# -- plan.judge_threshold: the boundaries of invariant 3 ----------------------------------------------


def _open_grants(engine, n: int, closed: int = 0) -> None:  # type: ignore[no-untyped-def]
    """``n`` open grants in the store (and ``closed`` more that are gone: never part of the base)."""
    src = FakeAccess(grants=[(f"u{i}", "page", "ANALYZE", Level.read_only) for i in range(n + closed)])
    assert sync_access(engine, src).ok
    if closed:
        with engine.begin() as conn:
            conn.execute(text("UPDATE access_grant SET seen_to = :t, closed_by = 'sync' WHERE id IN "
                              "(SELECT id FROM access_grant ORDER BY id LIMIT :k)"), {"t": utcnow(), "k": closed})


def _judged(engine, policy: PolicySettings, revocations: int, grants_taken: int = 0):  # type: ignore[no-untyped-def]
    from accessward.reconcile.plan import PlanResult, judge_threshold

    result = PlanResult(None, "empty", "", revocations=[object()] * revocations)  # type: ignore[list-item]
    judge_threshold(engine, policy, result, grants_taken=grants_taken)
    return result


def test_the_count_limit_is_inclusive_and_one_more_needs_approval(engine):
    """Kills ``n > max_revocations`` -> ``>=`` / ``> max + 1``: exactly the limit is ready, one more waits."""
    _open_grants(engine, 1000)
    policy = PolicySettings(max_revocations=5, max_revocation_share=1.0)
    assert _judged(engine, policy, 5).status == "ready"
    over = _judged(engine, policy, 6)
    assert over.status == "needs_approval" and "exceed max_revocations = 5" in over.reason


def test_the_share_limit_starts_at_min_revocations_for_share_and_is_strict(engine):
    """Kills ``n >= min_revocations_for_share`` -> ``>`` and ``share > max`` -> ``>=`` (and the 1.0 default)."""
    _open_grants(engine, 20)
    policy = PolicySettings(max_revocations=100, max_revocation_share=0.10, min_revocations_for_share=3)
    at_min = _judged(engine, policy, 3)  # 15 % of 20, with exactly the minimum count: it waits
    assert at_min.status == "needs_approval" and "max_revocation_share" in at_min.reason
    assert _judged(engine, policy, 2).status == "ready"  # below the minimum count the share is not judged
    exactly = PolicySettings(max_revocations=100, max_revocation_share=0.10, min_revocations_for_share=1)
    assert _judged(engine, exactly, 2).status == "ready"  # 2 of 20 is exactly 10 %: not above it


def test_the_share_is_of_open_grants_only(engine):
    """Kills the base counted over every grant ever (``seen_to IS NULL`` dropped or negated)."""
    _open_grants(engine, 20, closed=20)
    policy = PolicySettings(max_revocations=100, max_revocation_share=0.10, min_revocations_for_share=1)
    result = _judged(engine, policy, 3)  # 3 of 20 open is 15 %; of all 40 it would be 7.5 %
    assert result.status == "needs_approval" and "of 20 open grants" in result.reason


def test_a_wide_revocation_counts_every_grant_it_takes(engine):
    """Kills ``max(revocations, grants_taken)`` -> ``min`` and a lost ``grants_taken``."""
    _open_grants(engine, 1000)
    policy = PolicySettings(max_revocations=5, max_revocation_share=1.0)
    wide = _judged(engine, policy, 1, grants_taken=6)
    assert wide.status == "needs_approval" and "1 revocations taking 6 grants exceed" in wide.reason
    assert _judged(engine, policy, 0).status == "empty"
    assert _judged(engine, policy, 1, grants_taken=1).reason == "1 revocation(s) within the thresholds"


# -- plan._hold_reason: a grant no API can revoke (the manual inventory) ------------------------------


def test_a_grant_without_an_api_is_held_with_the_step_to_take_by_hand(engine):
    """Kills plan.x__hold_reason__mutmut_57..59 (the step lost, or previewed for no grant)."""
    from tests.reconcile.test_plan_apply import estate

    _, _, revoker = estate(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE access_grant SET verifiable = :f WHERE account_id = "
                          "(SELECT id FROM account WHERE external_id = 'l0')"), {"f": False})
    reconcile(engine, REVOKE)
    plan = build_plan(engine, REVOKE, {revoker.name: revoker}, ["dir"], utcnow())
    assert plan.revocations == [] and revoker.calls == []
    assert plan.held[0].held_because == ("no API to revoke through (manual inventory): "
                                         "DELETE https://social.test/main/assigned_users?user=l0")


# -- takes.Guard.judge, as a unit: every grant a revocation takes, against what is already going --------


def _guard_store(engine):  # type: ignore[no-untyped-def]
    """page: admins a and b; solo: admin w only; w also publishes on page. Returns grant id by (account, resource)."""
    src = FakeAccess(grants=[("a", "page", "MANAGE", Level.admin), ("b", "page", "MANAGE", Level.admin),
                             ("w", "page", "CREATE_CONTENT", Level.full_publishing),
                             ("w", "solo", "MANAGE", Level.admin), ("bg", "page", "ANALYZE", Level.read_only)],
                     emails={"bg": "Glass@Example.com"})
    assert sync_access(engine, src).ok
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT a.external_id, r.external_id, g.id FROM access_grant g "
                                 "JOIN account a ON a.id = g.account_id JOIN resource r ON r.id = g.resource_id"))
        return {(str(a), str(r)): int(g) for a, r, g in rows}


def _taken(conn, gid: int, wide: bool = False):  # type: ignore[no-untyped-def]
    from accessward.connectors.records import RevocationScope, Takes
    from accessward.reconcile.takes import expand

    return expand(conn, gid, Takes(scope=RevocationScope.account_on_system) if wide else Takes())


@pytest.mark.parametrize("cache", [False, True])
def test_the_guard_holds_the_last_admin_counting_what_is_going(engine, cache: bool):
    """Kills Guard.judge mutants on the last-admin count (>= admin, the going set, ``and``/``or``, the cache)."""
    from accessward.reconcile.takes import Guard

    ids = _guard_store(engine)
    with engine.connect() as conn:
        a = _taken(conn, ids[("a", "page")])
        b = _taken(conn, ids[("b", "page")])
        assert Guard(cache_admins=cache).judge(conn, a, ids[("a", "page")]) is None  # b stays admin
        # b is about to go in another plan: a is the last admin that stays
        going = Guard(going={t.grant_id: t for t in b}, cache_admins=cache)
        assert going.judge(conn, a, ids[("a", "page")]) == "last admin of the resource: never removed automatically"
        # in one plan: the first accepted, the second then holds (the planner's accept)
        one_plan = Guard(cache_admins=cache)
        assert one_plan.judge(conn, a, ids[("a", "page")]) is None
        one_plan.accept(a)
        assert one_plan.judge(conn, b, ids[("b", "page")]) == (
            "last admin of the resource: never removed automatically")
        # a grant below admin is never the last admin
        w_page = _taken(conn, ids[("w", "page")])
        assert Guard(going={t.grant_id: t for t in a + b}, cache_admins=cache).judge(
            conn, w_page, ids[("w", "page")]) is None


@pytest.mark.parametrize("cache", [False, True])
def test_the_guard_names_the_grant_a_wide_revocation_would_leave_without_admin(engine, cache: bool):
    """Kills Guard.judge mutants on ``hit`` (``==`` rid, ``and``, ``>=``) and on the two messages."""
    from accessward.reconcile.takes import Guard

    ids = _guard_store(engine)
    with engine.connect() as conn:
        wide = _taken(conn, ids[("w", "page")], wide=True)  # takes w's page grant and w's solo admin grant
        assert {t.grant_id for t in wide} == {ids[("w", "page")], ids[("w", "solo")]}
        why = Guard(cache_admins=cache).judge(conn, wide, ids[("w", "page")])
        assert why == ("last admin of the resource: never removed automatically — this revocation also "
                       "removes solo 'Solo' (MANAGE), whose last admin it is")
        named = Guard(cache_admins=cache).judge(conn, _taken(conn, ids[("w", "solo")], wide=True), ids[("w", "solo")])
        assert named == "last admin of the resource: never removed automatically"


def test_the_guard_never_touches_break_glass_by_account_system_or_email(engine):
    """Kills Guard.judge mutants 7..14 (break-glass judged without the system, account or email)."""
    from accessward.reconcile.takes import Guard

    ids = _guard_store(engine)
    with engine.connect() as conn:
        bg = _taken(conn, ids[("bg", "page")])
        for names in (["bg"], ["social:bg"], ["glass@example.com"]):
            assert Guard(break_glass=names).judge(conn, bg, ids[("bg", "page")]) == (
                "break-glass account: never revoked"), names
        assert Guard(break_glass=["other:bg", "nobody"]).judge(conn, bg, ids[("bg", "page")]) is None


def test_the_guard_says_which_taken_grant_is_break_glass_or_disputed(engine):
    """Kills Guard.judge mutants 1..6 (``wide`` lost or inverted, the ``also`` text lost)."""
    from dataclasses import replace as dc_replace

    from accessward.reconcile.takes import Guard

    ids = _guard_store(engine)
    with engine.connect() as conn:
        w_page = _taken(conn, ids[("w", "page")])
        bg = _taken(conn, ids[("bg", "page")])
        why = Guard(break_glass=["bg"]).judge(conn, w_page + bg, ids[("w", "page")])
        assert why == "break-glass account: never revoked (this revocation also removes page 'Page' (ANALYZE))"
        disputed = [dc_replace(t, disputed=True) for t in bg]
        why = Guard().judge(conn, w_page + disputed, ids[("w", "page")])
        assert why == ("disputed link: two people match this account; link it by hand (accessward link) "
                       "(this revocation also removes page 'Page' (ANALYZE))")
        assert Guard().judge(conn, disputed, ids[("bg", "page")]) == (
            "disputed link: two people match this account; link it by hand (accessward link)")


def test_the_guard_names_the_resource_left_without_admin_not_the_first_admin_grant_taken(engine):
    """Kills Guard.judge mutant 46 (``hit`` picked by resource *or* level: the wrong grant named)."""
    from accessward.reconcile.takes import Guard

    src = FakeAccess(grants=[("a", "page", "MANAGE", Level.admin), ("v", "page", "MANAGE", Level.admin),
                             ("v", "solo2", "MANAGE", Level.admin)])
    assert sync_access(engine, src).ok
    with engine.connect() as conn:
        (named,) = conn.execute(text("SELECT g.id FROM access_grant g JOIN account a ON a.id = g.account_id "
                                     "JOIN resource r ON r.id = g.resource_id "
                                     "WHERE a.external_id = 'v' AND r.external_id = 'page'")).one()
        wide = _taken(conn, int(named), wide=True)
        assert wide[0].grant_id == named and len(wide) == 2
        assert Guard().judge(conn, wide, int(named)) == (
            "last admin of the resource: never removed automatically — this revocation also "
            "removes solo2 'Solo2' (MANAGE), whose last admin it is")


# -- takes.expand: exactly the grants a declaration names --------------------------------------------


def test_expand_takes_exactly_the_declared_grants(engine):
    """Kills takes.x_expand mutants 18..27 (the partnership branch: ``account_on_resources``) and the scope mix-ups.

    A partnership removal takes the partner's grants on the listed assets, and only those; a
    one-grant declaration takes the named grant even when it lists resources; a closed grant is
    never counted (it is not removed again, and it is no admin any more).
    """
    from accessward.connectors.records import RevocationScope, Takes
    from accessward.reconcile.takes import expand

    src = FakeAccess(grants=[("w", "page", "CREATE_CONTENT", Level.full_publishing),
                             ("w", "solo", "MANAGE", Level.admin), ("w", "other", "ANALYZE", Level.read_only),
                             ("w", "gone", "ANALYZE", Level.read_only), ("x", "solo", "MANAGE", Level.admin)])
    assert sync_access(engine, src).ok
    with engine.begin() as conn:
        ids = {(str(a), str(r)): int(g) for a, r, g in conn.execute(text(
            "SELECT a.external_id, r.external_id, g.id FROM access_grant g JOIN account a ON a.id = g.account_id "
            "JOIN resource r ON r.id = g.resource_id"))}
        conn.execute(text("UPDATE access_grant SET seen_to = :t WHERE id = :g"),
                     {"t": utcnow(), "g": ids[("w", "gone")]})
        named = ids[("w", "page")]

        def got(takes: Takes) -> set[tuple[str, str]]:
            return {(t.account, t.resource) for t in expand(conn, named, takes)}

        on_solo = Takes(scope=RevocationScope.account_on_resources, resource_ids=("solo",))
        assert got(on_solo) == {("w", "page"), ("w", "solo")}
        assert got(Takes(scope=RevocationScope.grant, resource_ids=("solo",))) == {("w", "page")}
        assert got(Takes(scope=RevocationScope.account_on_system)) == {("w", "page"), ("w", "solo"), ("w", "other")}
        assert got(Takes(scope=RevocationScope.account_on_resources)) == {("w", "page")}  # no resource listed
        (solo,) = [t for t in expand(conn, named, on_solo) if t.resource == "solo"]
        assert (solo.grant_id, solo.level, solo.role, solo.disputed) == (ids[("w", "solo")], int(Level.admin),
                                                                        "MANAGE", False)


# -- executor._judge_again: another plan's unfinished removal counts, for an admin-level grant -------------


def test_the_executor_holds_an_admin_another_approved_plan_is_about_to_leave_alone(engine):
    """Kills executor.x__judge_again mutants on ``admin`` (``>=`` -> ``>``, going read for nobody).

    Two plans made at different times each remove one of a page's two admins: whichever runs
    first must not leave the page without an admin once the other one runs.
    """
    from accessward.reconcile import executor
    from accessward.reconcile.plan import Item, PlanResult, persist_plan

    src = FakeAccess(grants=[("a", "page", "MANAGE", Level.admin), ("b", "page", "MANAGE", Level.admin)])
    assert sync_access(engine, src).ok
    revoker = RecordingRevoker(src)
    with engine.connect() as conn:
        ids = {str(a): int(g) for a, g in conn.execute(text(
            "SELECT a.external_id, g.id FROM access_grant g JOIN account a ON a.id = g.account_id"))}

    def item(acct: str) -> Item:
        return Item(finding_id=None, grant_id=ids[acct], rule="offboarding", system="social", account=acct,
                    account_name=acct, resource="page", resource_name="Page", role="MANAGE",
                    level=int(Level.admin), reason="test", request=f"DELETE page {acct}")

    other = persist_plan(engine, PlanResult(None, "approved", "other", revocations=[item("b")]), "hr",
                         supersede=False, approved_by="hr")
    mine = persist_plan(engine, PlanResult(None, "ready", "mine", revocations=[item("a")]), "t", supersede=False)
    report = executor.execute(engine, mine, {"social": revoker}, sleep=lambda s: None)
    assert revoker.calls == [] and report.outcomes == {"failed": 1}
    assert report.failures == ["social page a: last admin of the resource: never removed automatically, not removed"]
    with engine.connect() as conn:
        states = dict(conn.execute(text("SELECT plan_id, state FROM action")).all())
    assert states == {mine: "failed", other: "planned"}


def test_the_executor_judges_break_glass_again_whatever_the_case_of_the_name(engine):
    """Kills executor.x__judge_again mutants 38, 40..42 (break-glass lost or upper-cased at execution).

    The plan was written before the account was named break-glass: the executor must still hold it.
    """
    from accessward.reconcile import executor
    from accessward.reconcile.plan import Item, PlanResult, persist_plan

    src = FakeAccess(grants=[("bg", "page", "ANALYZE", Level.read_only)], emails={"bg": "glass@example.com"})
    assert sync_access(engine, src).ok
    revoker = RecordingRevoker(src)
    with engine.connect() as conn:
        (gid,) = conn.execute(text("SELECT id FROM access_grant")).one()
    plan = persist_plan(engine, PlanResult(None, "ready", "mine", revocations=[Item(
        finding_id=None, grant_id=int(gid), rule="offboarding", system="social", account="bg", account_name="bg",
        resource="page", resource_name="Page", role="ANALYZE", level=0, reason="test", request="DELETE")]), "t")
    report = executor.execute(engine, plan, {"social": revoker}, sleep=lambda s: None,
                              break_glass=["Glass@Example.COM"])
    assert revoker.calls == [] and report.outcomes == {"failed": 1}
    assert report.failures == ["social page bg: break-glass account: never revoked, not removed"]


# -- executor._attempt: a reduction through a system that cannot lower a role ---------------------------


def test_a_reduction_without_a_reducer_sends_nothing_and_is_recorded_failed(engine):
    """Kills executor.x__attempt mutants 11..14 (the outcome or the message of the no-Reducer case)."""
    from accessward.reconcile import executor
    from accessward.reconcile.plan import Item, PlanResult, persist_plan

    src = FakeAccess(grants=[("a", "page", "MANAGE", Level.admin), ("b", "page", "MANAGE", Level.admin)])
    assert sync_access(engine, src).ok
    revoker = RecordingRevoker(src)  # no ``reduce``: not a Reducer
    with engine.connect() as conn:
        (gid,) = conn.execute(text("SELECT g.id FROM access_grant g JOIN account a ON a.id = g.account_id "
                                   "WHERE a.external_id = 'a'")).one()
    plan = persist_plan(engine, PlanResult(None, "ready", "review", revocations=[Item(
        finding_id=None, grant_id=int(gid), rule="review", system="social", account="a", account_name="a",
        resource="page", resource_name="Page", role="MANAGE", level=int(Level.admin), reason="test",
        request="REDUCE", kind="reduce", target_role="ANALYZE", target_level=int(Level.read_only))]), "t")
    report = executor.execute(engine, plan, {"social": revoker}, sleep=lambda s: None)
    assert revoker.calls == [] and report.outcomes == {"failed": 1}
    assert report.failures == ["social page a: social has no call to set a lower role; nothing was sent"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT state FROM action")).scalar_one() == "failed"
        assert conn.execute(text("SELECT COUNT(*) FROM access_grant WHERE seen_to IS NULL")).scalar_one() == 2
