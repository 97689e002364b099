"""Offboarding revokes on every system side by side (executor ``across_systems``) and stays as safe as one by one.

Each system is a lane: its calls one at a time and in plan order, every call judged by the guard
just before it is sent, each revocation sent exactly once, an auth failure stopping only that
system. These tests fail if the lanes send a revocation twice, skip a guard, mix up a system's
order or run systems one after another again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session

from accessward.connectors.errors import AuthError
from accessward.connectors.records import GrantRef, Level, RevokeResult
from accessward.reconcile import offboarding
from accessward.reconcile.policy import PolicySettings
from accessward.sync.clock import utcnow
from accessward.sync.runner import sync_access, sync_identity
from accessward.sync.service_models import OffboardingItem
from tests.fakes import FakeAccess, FakeIdentity, RecordingRevoker, person

SYSTEMS = ("meta", "tiktok", "pinterest", "linkedin")
DELAY = 0.05


@dataclass
class SlowRevoker(RecordingRevoker):
    """A RecordingRevoker whose every call takes ``DELAY`` and is timed, with the lane it ran in."""

    spans: list[tuple[float, float, str]] = field(default_factory=list)
    active: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    meet: threading.Barrier | None = None  # every system's first call waits here for the others
    met: bool | None = None

    def revoke(self, grant: GrantRef) -> RevokeResult:
        if self.meet is not None and self.met is None:
            try:  # only systems revoked side by side all get here; one after another, it times out
                self.meet.wait(timeout=10)
                self.met = True
            except threading.BrokenBarrierError:
                self.met = False
        with self.lock:
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
        start = time.perf_counter()
        time.sleep(DELAY)
        try:
            return super().revoke(grant)
        finally:
            with self.lock:
                self.active -= 1
            self.spans.append((start, time.perf_counter(), threading.current_thread().name))


def _estate(engine):  # type: ignore[no-untyped-def]
    """Dana (E1) holds 3 grants on each of four systems; on pinterest she is the only admin of "solo"."""
    assert sync_identity(engine, FakeIdentity(people=[person("dana", employee_id="E1"),
                                                      person("alex", employee_id="E2")])).ok
    revokers: dict[str, SlowRevoker] = {}
    meet = threading.Barrier(len(SYSTEMS))
    for system in SYSTEMS:
        grants = [("dana", f"{system}-page-{n}", "CREATE_CONTENT", Level.full_publishing) for n in range(3)]
        grants += [("alex", f"{system}-page-{n}", "MANAGE", Level.admin) for n in range(3)]
        if system == "pinterest":
            grants.append(("dana", "solo", "MANAGE", Level.admin))  # the last admin: never removed
        source = FakeAccess(name=system, grants=grants)
        assert sync_access(engine, source).ok
        revokers[system] = SlowRevoker(source, meet=meet)
    return revokers


def _offboard(engine, revokers):  # type: ignore[no-untyped-def]
    ob, _ = offboarding.request(engine, request_id="hr-lanes", person_key="E1", effective_at=utcnow(),
                                requested_by="hr:alice", source="test")
    assert ob.id is not None
    start = time.perf_counter()
    status = offboarding.run(engine, ob.id, offboarding.Tools(revokers=dict(revokers), idps={},
                                                              policy=PolicySettings(), sleep=lambda s: None))
    with Session(engine) as s:
        items = {(i.system, i.resource): i for i in s.execute(select(OffboardingItem)).scalars()}
    return status, items, time.perf_counter() - start


def test_systems_revoke_side_by_side_each_grant_once_in_order_and_the_last_admin_is_kept(engine):
    revokers = _estate(engine)
    status, items, _ = _offboard(engine, revokers)
    for system, revoker in revokers.items():
        sent = [(c.account_id, c.resource_id) for c in revoker.calls]
        assert sent == [("dana", f"{system}-page-{n}") for n in range(3)], "each once, in the plan's order"
        assert revoker.most_at_once == 1, "one call at a time on a system"
        assert len({lane for _, _, lane in revoker.spans}) == 1, "a system's calls all in its own lane"
    # the guard judged: Dana is the last admin of "solo", so nothing was sent for it
    assert ("dana", "solo") not in [(c.account_id, c.resource_id) for c in revokers["pinterest"].calls]
    solo = items[("pinterest", "solo")]
    assert solo.state in ("held", "failed") and "last admin" in solo.detail
    assert all(i.state == "done" for k, i in items.items() if k != ("pinterest", "solo"))
    assert status == "partially_done"
    # side by side: every system's first call met the others' (one system after another never could)
    assert all(r.met for r in revokers.values())
    assert len({lane for r in revokers.values() for _, _, lane in r.spans}) == len(SYSTEMS)


def test_an_auth_failure_stops_only_its_own_system_and_a_rerun_sends_nothing_twice(engine):
    revokers = _estate(engine)
    revokers["tiktok"].fail_with["dana"] = [AuthError("token revoked")]
    status, items, _ = _offboard(engine, revokers)
    assert [c.resource_id for c in revokers["tiktok"].calls] == ["tiktok-page-0"], "stopped after the auth error"
    for system in ("meta", "pinterest", "linkedin"):
        assert [c.resource_id for c in revokers[system].calls] == [f"{system}-page-{n}" for n in range(3)]
    assert status == "partially_done"
    assert {k[1] for k, i in items.items() if k[0] == "tiktok" and i.state != "done"} == {
        f"tiktok-page-{n}" for n in range(3)}
    # the retry (the scheduler's next run) finishes tiktok and sends nothing else again
    for revoker in revokers.values():
        revoker.calls.clear()
    ob = offboarding.find(engine, "hr-lanes")
    assert ob is not None and ob.id is not None
    offboarding.run(engine, ob.id, offboarding.Tools(revokers=dict(revokers), idps={}, policy=PolicySettings(),
                                                     sleep=lambda s: None))
    assert [c.resource_id for c in revokers["tiktok"].calls] == [f"tiktok-page-{n}" for n in range(3)]
    assert all(not revokers[s].calls for s in ("meta", "pinterest", "linkedin")), "nothing sent twice"
