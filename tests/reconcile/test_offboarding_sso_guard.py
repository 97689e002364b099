"""An offboarding's IdP disable and its grant revocations judged together (invariant 5), and one send per action.

Found by an independent review of the revocation lanes: the disable's last-admin check counted a grant
twice when this offboarding's own plan also removed it (so a retry held a disable for no reason), and
a native admin grant beside a disabled SSO one was revoked as if the SSO one still worked.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from accessward.connectors.records import Level
from accessward.reconcile import executor, offboarding
from accessward.reconcile.plan import Item, PlanResult, persist_plan
from accessward.reconcile.policy import OffboardingPolicy, PolicySettings
from accessward.sync.clock import utcnow
from accessward.sync.runner import sync_access, sync_identity
from accessward.sync.service_models import OffboardingItem
from tests.fakes import FakeAccess, FakeIdentity, RecordingRevoker, person
from tests.service.test_idp_adapters import _RecordingIdp


class _SlowIdp(_RecordingIdp):
    """Each step takes a while: the grant lanes plan and send meanwhile (the race the review found)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def _step(self, kind: str):  # type: ignore[no-untyped-def]
        import time

        step = super()._step(kind)
        run = step.run

        def slow():  # type: ignore[no-untyped-def]
            time.sleep(self.delay)
            return run()
        return type(step)(step.kind, step.preview, slow)

    def offboarding_steps(self, user_id: str, *, disable: bool):  # type: ignore[no-untyped-def]
        import time

        time.sleep(self.delay)  # a real IdP reads the account first: nothing is recorded meanwhile
        return super().offboarding_steps(user_id, disable=disable)


def _offboard(engine, access: FakeAccess, people: list[str], delay: float = 0.0):  # type: ignore[no-untyped-def]
    assert sync_identity(engine, FakeIdentity(people=[person(p) for p in people])).ok
    assert sync_access(engine, access).ok
    idp, revoker = _SlowIdp(delay), RecordingRevoker(access)
    tools = offboarding.Tools(revokers={"social": revoker}, idps={"dir": idp},  # type: ignore[dict-item]
                              policy=PolicySettings(offboarding=OffboardingPolicy(disable_account=True)),
                              sleep=lambda s: None)
    ob, _ = offboarding.request(engine, request_id="hr-1", person_key=people[0], requested_by="hr",
                                effective_at=utcnow() - timedelta(minutes=1), source="test")
    assert ob.id is not None
    return ob.id, tools, idp, revoker


def _items(engine) -> dict[str, OffboardingItem]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return {i.item_key: i for i in session.execute(select(OffboardingItem)).scalars()}


@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_a_native_admin_grant_beside_a_disabled_sso_one_is_held_as_the_last_working_admin(engine, delay):
    """Pisa holds the page's only two admin grants: one native, one through SSO. Disabling the IdP
    account takes the SSO one; revoking the native one as well would leave the page with no admin
    who can sign in. The disable goes ahead (a native admin remains), the native grant is held."""
    access = FakeAccess(grants=[("pisa", "page", "MANAGE", Level.admin), ("pisa-sso", "page", "MANAGE", Level.admin)],
                        emails={"pisa-sso": "pisa@example.com"}, facts={"pisa-sso": {"sso": True}})
    ob, tools, idp, revoker = _offboard(engine, access, ["pisa"], delay)
    offboarding.run(engine, ob, tools)
    assert "disable_account" in idp.sent
    assert [c.account_id for c in revoker.calls] == ["pisa-sso"]  # the SSO grant goes; the native admin stays
    held = [i for i in _items(engine).values() if i.state == "held"]
    assert len(held) == 1 and "last admin" in (held[0].detail or "")


def test_a_retry_does_not_hold_the_disable_for_a_grant_its_own_plan_also_removes(engine):
    """Dana (SSO) and Alex are the page's admins. A first run whose platform stopped left Dana's grant
    planned; on the retry the disable must see Alex remain (Dana's grant counted once, not twice)."""
    from accessward.connectors.errors import StopError

    access = FakeAccess(grants=[("dana", "suite", "Account Owner", Level.admin),
                                ("alex", "suite", "Account Owner", Level.admin)],
                        facts={"dana": {"sso": True}})
    ob, tools, idp, revoker = _offboard(engine, access, ["dana", "alex"])
    tools.policy.offboarding.disable_account = False  # the first run: no disable, the platform stops
    revoker.fail_with["dana"] = [StopError("social: token revoked", system="social")]
    offboarding.run(engine, ob, tools)
    assert revoker.calls and idp.sent == ["end_sessions"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM action WHERE state = 'planned'")).scalar_one() == 1
    from accessward.reconcile.idp_calls import disable_hold

    with Session(engine) as session:
        ids = [p.id for p in session.execute(select(offboarding.Person)).scalars() if p.source_key == "dana"]
    assert disable_hold(engine, ids, [], "dir") is None


@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_a_slow_idp_disable_of_a_non_last_admin_goes_ahead_beside_the_grants(engine, delay):
    """Dana (SSO) and Alex admin the suite: Dana's disable and her grant's removal both go, whatever
    finishes first (the disable's check sees Alex remain even once Dana's grant is planned)."""
    access = FakeAccess(grants=[("dana", "suite", "Account Owner", Level.admin),
                                ("alex", "suite", "Account Owner", Level.admin)],
                        facts={"dana": {"sso": True}})
    ob, tools, idp, revoker = _offboard(engine, access, ["dana", "alex"], delay)
    offboarding.run(engine, ob, tools)
    assert idp.sent == ["disable_account", "end_sessions"]
    assert [c.account_id for c in revoker.calls] == ["dana"]
    assert {i.kind: i.state for i in _items(engine).values()}["disable_account"] == "done"


@pytest.mark.parametrize(("state", "attempts"), [("executing", 1), ("cancelled", 0), ("failed", 0)])
def test_an_action_another_apply_claimed_since_it_was_read_is_not_sent_again(engine, state, attempts):
    """The claim is a compare-and-set on (state, attempts): an apply that read the action before another
    apply took it leaves it alone, and does not overwrite the other's outcome."""
    access = FakeAccess(grants=[("a", "page", "ANALYZE", Level.read_only), ("b", "page", "ANALYZE", Level.read_only),
                                ("boss", "page", "MANAGE", Level.admin)])
    assert sync_access(engine, access).ok
    revoker = RecordingRevoker(access)
    with engine.connect() as conn:
        ids = {str(a): int(g) for a, g in conn.execute(text(
            "SELECT a.external_id, g.id FROM access_grant g JOIN account a ON a.id = g.account_id"))}

    def item(acct: str) -> Item:
        return Item(finding_id=None, grant_id=ids[acct], rule="offboarding", system="social", account=acct,
                    account_name=acct, resource="page", resource_name="Page", role="ANALYZE",
                    level=int(Level.read_only), reason="test", request=f"DELETE {acct}")

    plan = persist_plan(engine, PlanResult(None, "ready", "t", revocations=[item("a"), item("b")]), "t",
                        supersede=False)
    original = revoker.revoke

    def revoke(grant):  # type: ignore[no-untyped-def]
        if grant.account_id == "a":  # meanwhile another apply takes b and is sending it
            with engine.begin() as conn:
                conn.execute(text("UPDATE action SET state = :s, attempts = :n WHERE grant_id = :g"),
                             {"g": ids["b"], "s": state, "n": attempts})
        return original(grant)

    revoker.revoke = revoke  # type: ignore[method-assign]
    report = executor.execute(engine, plan, {"social": revoker}, sleep=lambda s: None)
    assert [c.account_id for c in revoker.calls] == ["a"]
    assert report.outcomes == {"done": 1, "skipped": 1}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT state, attempts FROM action WHERE grant_id = :g"),
                            {"g": ids["b"]}).one() == (state, attempts)


def test_an_offboardings_plan_is_resumed_by_the_offboarding_not_by_another_apply(engine):
    """While an offboarding's lanes run its plan is ``applying`` and its actions ``executing``; the nightly
    run and ``accessward apply`` resume crashed plans, and must not take these for one."""
    access = FakeAccess(grants=[("a", "page", "ANALYZE", Level.read_only)])
    assert sync_access(engine, access).ok
    with engine.connect() as conn:
        (gid,) = conn.execute(text("SELECT id FROM access_grant")).one()
    it = Item(finding_id=None, grant_id=int(gid), rule="offboarding", system="social", account="a",
              account_name="a", resource="page", resource_name="Page", role="ANALYZE", level=0, reason="t")
    hr = persist_plan(engine, PlanResult(None, "approved", "offboarding hr-1 of a", revocations=[it]), "hr",
                      supersede=False, approved_by="hr", origin="offboarding")
    mine = persist_plan(engine, PlanResult(None, "ready", "t", revocations=[it]), "t", supersede=False)
    with engine.begin() as conn:
        conn.execute(text("UPDATE plan SET status = 'applying'"))
    assert executor.unfinished_plans(engine) == [mine] and hr != mine


@pytest.mark.parametrize(("kind", "state", "counted"), [
    ("disable_account", "done", True), ("disable_account", "already_gone", True),
    ("disable_account", "pending", True),  # sent before a crash: it may have taken effect
    ("disable_account", "held", False), ("disable_account", "failed", False),
    ("end_sessions", "done", False),  # ending sessions leaves the account able to sign in again
])
def test_the_sso_grants_an_earlier_run_disabled_count_as_removed(engine, kind, state, counted):
    """Kills offboarding.x__disabled_sso_grants mutants (which steps and states count, the union)."""
    access = FakeAccess(grants=[("pisa", "page", "MANAGE", Level.admin), ("pisa-sso", "page", "MANAGE", Level.admin)],
                        emails={"pisa-sso": "pisa@example.com"}, facts={"pisa-sso": {"sso": True}})
    ob_id, _tools, _idp, _rev = _offboard(engine, access, ["pisa"])
    from accessward.reconcile.correlate import correlate

    correlate(engine)
    with Session(engine) as session:
        ob = session.get(offboarding.Offboarding, ob_id)
        assert ob is not None
        ob_ids = list(ob.person_ids)
        session.add(OffboardingItem(offboarding_id=ob_id, item_key=f"idp:dir:pisa:{kind}", kind=kind, system="dir",
                                    target="pisa", state=state, detail="earlier run"))
        session.commit()
        session.refresh(ob)
        rows = offboarding.open_grants(engine, ob_ids)
        got = offboarding._disabled_sso_grants(engine, ob, rows)
    sso = {r["grant_id"] for r in rows if r["sso"] is True}
    assert len(sso) == 1
    assert set(got) == (sso if counted else set())
    assert set(offboarding._disabled_sso_grants(engine, ob, rows, frozenset({"dir"}))) == sso  # decided now


def test_an_offboarding_without_an_idp_for_the_person_still_plans_the_grants(engine):
    """Kills offboarding.x__disables_going_ahead__mutmut_5 (``and`` -> ``or``: no IdP crashed the run)."""
    access = FakeAccess(grants=[("a", "page", "ANALYZE", Level.read_only), ("boss", "page", "MANAGE", Level.admin)])
    ob, tools, idp, revoker = _offboard(engine, access, ["a", "boss"])
    tools.idps.clear()
    offboarding.run(engine, ob, tools)
    assert [c.account_id for c in revoker.calls] == ["a"] and idp.sent == []
