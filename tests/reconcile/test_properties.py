"""Property-based: for random directories and grants, no active, correctly matched person loses a grant,
system accounts are never touched, and applying twice changes nothing more."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accessward.connectors.records import AccountKind, Level, PersonRecord, PersonStatus
from accessward.reconcile import executor
from accessward.reconcile.plan import build_plan
from accessward.reconcile.policy import PolicySettings, RuleSettings
from accessward.reconcile.run import reconcile
from accessward.sync.clock import utcnow
from accessward.sync.db import open_store
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, RecordingRevoker

POLICY = PolicySettings(max_revocations=10_000, max_revocation_share=1.0,
                        rules={"orphaned": RuleSettings(action="revoke")})

names = st.sampled_from([f"n{i}" for i in range(12)])
people_st = st.lists(
    st.tuples(names, st.sampled_from(list(PersonStatus)), st.booleans()), min_size=1, max_size=12,
    unique_by=lambda t: (t[0], t[1]),
)
grants_st = st.lists(
    st.tuples(st.integers(0, 15), st.sampled_from(["p1", "p2", "p3"]), st.sampled_from(list(Level))),
    min_size=1, max_size=40,
)
accounts_st = st.lists(st.tuples(names, st.booleans(), st.sampled_from(["human", "human", "system"])),
                       min_size=16, max_size=16)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people=people_st, accounts=accounts_st, grants=grants_st)
def test_no_active_matched_person_is_ever_revoked_and_apply_is_idempotent(people, accounts, grants):
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_store(f"sqlite:///{Path(tmp) / 's.db'}")
        records = [PersonRecord(source_key=f"{name}-{i}", display_name=name, status=status,
                                emails=(f"{name}@Example.com" if upper else f"{name}@example.com",))
                   for i, (name, status, upper) in enumerate(people)]
        sync_identity(engine, FakeIdentity(people=records))
        emails = {f"a{i}": (f"{n.upper()}@EXAMPLE.com" if shout else f"{n}@example.com")
                  for i, (n, shout, _) in enumerate(accounts)}
        kinds = {f"a{i}": AccountKind(kind) for i, (_, _, kind) in enumerate(accounts)}
        source = FakeAccess(grants=[(f"a{a}", res, lvl.name, lvl) for a, res, lvl in grants],
                            emails=emails, kinds=kinds)
        assert sync_access(engine, source).ok
        revoker = RecordingRevoker(source)

        def run_once() -> None:
            reconcile(engine, POLICY)
            plan = build_plan(engine, POLICY, {revoker.name: revoker}, ["dir"], utcnow())
            if plan.plan_id is not None and plan.status == "ready":
                executor.execute(engine, plan.plan_id, {revoker.name: revoker}, sleep=lambda s: None)
            assert sync_access(engine, source).status in ("succeeded", "failed", "quarantined")

        run_once()
        active = {r.emails[0].lower() for r in records if r.status == PersonStatus.active}
        for call in revoker.calls:
            assert emails[call.account_id].lower() not in active, f"revoked an active person's grant: {call}"
            assert kinds[call.account_id] == AccountKind.human, "system accounts are never revoked"

        calls = len(revoker.calls)
        run_once()
        assert len(revoker.calls) == calls, "a second apply revokes nothing more"
        engine.dispose()
