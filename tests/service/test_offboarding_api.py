"""POST /v1/offboarding end to end: signed by HR, against Keycloak, Meta, TikTok, Pinterest and a SCIM suite."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlmodel import Session

from accessward import jobs
from accessward.reconcile import offboarding
from accessward.sandbox import pinterest as pinterest_sim
from accessward.sandbox import tiktok as tiktok_sim
from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.models import Action, AuditEvent
from accessward.sync.service_models import Offboarding
from tests.service.world import DANA, SECRET, signed

MAIN, CAREERS, INSTAGRAM = "200000000000001", "200000000000002", "500000000000001"
ALEX = {"meta": "300000000000001", "tiktok": "7300000000000000001", "pinterest": "1409000000000001"}
BC = "7100000000000000001"


def dana_holds(world) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    """What Dana still holds, as the simulators themselves say."""
    suite_user = world.suite.user(world.suite_ids["dana.leaver@example.com"])
    return {
        "meta": any(world.meta.is_assigned(a, DANA["meta"]) for a in (MAIN, CAREERS, INSTAGRAM)),
        "tiktok": world.tiktok.is_member(BC, DANA["tiktok"]),
        "pinterest": world.pinterest.is_member(DANA["pinterest"]),
        "social-suite": bool(suite_user and suite_user["active"]),
        "keycloak-sessions": bool(world.kc.user(world.kc_ids["dana.leaver"]).sessions),
    }


def writes(world) -> int:  # type: ignore[no-untyped-def]
    return (len(world.meta.revoke_calls) + len(world.tiktok.writes) + len(world.pinterest.writes)
            + len(world.suite.faults.writes) + len(world.kc.writes))


def offboardings(engine) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return int(s.execute(select(func.count()).select_from(Offboarding)).scalar() or 0)


def post(client, body, **kw):  # type: ignore[no-untyped-def]
    raw, headers = signed(body, **kw)
    return client.post("/v1/offboarding", content=raw, headers=headers), raw, headers


def test_signed_offboarding_removes_everything_on_four_systems_and_the_idp(world, rt, client):
    world.disable = True
    rt = world.runtime()  # the same store, with disable_account on
    with world.client(rt) as client:
        assert all(dana_holds(world).values())
        response, _, _ = post(client, {"request_id": "hr-2026-0042", "person": "dana.leaver@example.com",
                                       "reason": "resigned", "requested_by": "jane@hr"})
        assert response.status_code == 201, response.text
        assert response.headers["location"] == "/v1/offboarding/hr-2026-0042"
        receipt = response.json()

        assert receipt["status"] == "done" and receipt["pending"] == []
        assert receipt["person"]["employee_id"] == "E1002"
        assert receipt["requested_by"] == "webhook:hr (jane@hr)"
        systems = {s["system"]: s for s in receipt["systems"]}
        assert set(systems) == {"keycloak", "meta", "tiktok", "pinterest", "social-suite"}
        assert all(s["status"] == "done" for s in systems.values())
        assert [i["action"] for i in systems["keycloak"]["items"]] == [  # disable first, then log out
            "disable_account", "end_sessions", "remove_offline_tokens"]
        assert len(systems["meta"]["items"]) == 3  # main page, careers page, Instagram account
        grants = [i for s in systems.values() for i in s["items"] if i["action"] == "revoke"]
        assert len(grants) == 6 and all(i["state"] == "done" and i["at"] and i["request"] for i in grants)

        # the platforms agree, and nobody else lost anything
        assert not any(dana_holds(world).values())
        assert world.kc.user(world.kc_ids["dana.leaver"]).enabled is False
        assert world.kc.user(world.kc_ids["alex.morgan"]).enabled is True
        assert world.meta.is_assigned(MAIN, ALEX["meta"]) and world.tiktok.is_member(BC, ALEX["tiktok"])
        assert world.pinterest.is_member(ALEX["pinterest"])

        # the receipt can be read back by an auditor, and is the same
        again = client.get("/v1/offboarding/hr-2026-0042", headers=world.token(rt.engine, "auditor"))
        assert again.status_code == 200 and again.json() == receipt

        # the same request id again (a new signature): the same receipt, nothing sent again
        before = writes(world)
        repeat, _, _ = post(client, {"request_id": "hr-2026-0042", "person": "dana.leaver@example.com"})
        assert repeat.status_code == 200 and repeat.json()["systems"] == receipt["systems"]
        assert writes(world) == before and offboardings(rt.engine) == 1
    assert audit.verify(rt.engine) == []
    with Session(rt.engine) as s:
        kinds = [e.kind for e in s.execute(select(AuditEvent)).scalars()]
    assert kinds.count("revocation.done") == 6 and "offboarding.end_sessions" in kinds
    assert kinds.count("api.call") == 3


def test_replayed_signed_request_is_refused_and_changes_nothing(world, rt, client):
    first, raw, headers = post(client, {"request_id": "hr-7", "person": "E1002"})
    assert first.status_code == 201
    before = (writes(world), offboardings(rt.engine))

    replay = client.post("/v1/offboarding", content=raw, headers=headers)
    assert replay.status_code == 409 and "replay" in replay.json()["detail"]
    # a replay of a request naming someone else is no better: the signature was used
    assert (writes(world), offboardings(rt.engine)) == before
    assert world.tiktok.is_member(BC, ALEX["tiktok"])


@pytest.mark.parametrize("tamper", ["wrong_secret", "other_body", "old_timestamp", "future_timestamp",
                                    "no_timestamp", "no_signature"])
def test_badly_signed_request_is_refused_and_changes_nothing(world, rt, client, tamper):
    body = {"request_id": "hr-8", "person": "E1002"}
    at = time.time() + {"old_timestamp": -400, "future_timestamp": 400}.get(tamper, 0)
    raw, headers = signed(body, secret="not-the-secret" if tamper == "wrong_secret" else SECRET, at=at)
    if tamper == "other_body":
        raw = raw.replace(b"E1002", b"E1003")
    if tamper == "no_timestamp":
        del headers["X-Accessward-Timestamp"]
    if tamper == "no_signature":
        del headers["X-Accessward-Signature"]

    response = client.post("/v1/offboarding", content=raw, headers=headers)

    assert response.status_code == 401, response.text
    assert writes(world) == 0 and offboardings(rt.engine) == 0
    assert all(dana_holds(world).values())
    with Session(rt.engine) as s:
        calls = [e for e in s.execute(select(AuditEvent).where(AuditEvent.kind == "api.call")).scalars()]
    assert [(c.actor, c.data["status"]) for c in calls] == [("anonymous", 401)]


@pytest.mark.parametrize("failure", ["throttled", "token_expired"])
def test_one_system_failing_leaves_it_pending_and_a_later_run_completes(world, rt, client, failure):
    fail_then_retry(world, rt, client, failure)


@pytest.mark.postgres
def test_one_system_failing_then_retried_on_postgresql(world, pg_database):
    world.store_url = pg_database
    rt = world.runtime()
    world.sync(rt)
    with world.client(rt) as client:
        fail_then_retry(world, rt, client, "token_expired")


def fail_then_retry(world, rt, client, failure: str) -> None:  # type: ignore[no-untyped-def]
    if failure == "throttled":  # 429 on every call: transient, retried, then given up
        world.pinterest.throttle(times=10_000, retry_after=0)
    else:  # the platform refuses our token: the source stops
        world.pinterest.expire_token(pinterest_sim.DEMO_TOKEN)

    response, _, _ = post(client, {"request_id": "hr-9", "person": "E1002"})

    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["status"] == "partially_done"
    systems = {s["system"]: s["status"] for s in receipt["systems"]}
    assert systems == {"keycloak": "done", "meta": "done", "tiktok": "done", "social-suite": "done",
                       "pinterest": "pending"}
    assert [(p["system"], p["state"]) for p in receipt["pending"]] == [
        ("pinterest", "failed" if failure == "throttled" else "pending")]
    assert receipt["next_attempt_at"] is not None
    assert dana_holds(world) == {"meta": False, "tiktok": False, "pinterest": True, "social-suite": False,
                                 "keycloak-sessions": False}
    assert offboarding.due(rt.engine) == []  # not before its retry time

    world.pinterest.clear_faults()
    world.pinterest.add_token(pinterest_sim.DEMO_TOKEN)
    others = len(world.meta.revoke_calls) + len(world.tiktok.writes) + len(world.suite.faults.writes)
    with Session(rt.engine) as s:  # time passes: the retry is due
        s.execute(update(Offboarding).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    assert jobs.due_offboardings(rt, threading.Event()).endswith(":done")

    done = client.get("/v1/offboarding/hr-9", headers=world.token(rt.engine, "hr")).json()
    assert done["status"] == "done" and done["pending"] == [] and done["attempts"] == 2
    assert not any(dana_holds(world).values())
    # nothing that was already removed was sent again, and no grant has two successful actions
    assert len(world.meta.revoke_calls) + len(world.tiktok.writes) + len(world.suite.faults.writes) == others
    with Session(rt.engine) as s:
        done_actions = [a.grant_id for a in s.execute(select(Action).where(Action.state == "done")).scalars()]
    assert len(done_actions) == len(set(done_actions)) == 6


def test_last_admin_and_break_glass_stay_pending_with_the_reason_and_the_threshold_does_not_stop_it(world):
    world.meta.unassign(MAIN, ALEX["meta"])  # Dana becomes the page's only manager
    world.break_glass = ["pinterest:1409000000000002"]
    world.max_revocations = 1
    rt = world.runtime()
    world.sync(rt)
    with world.client(rt) as client:
        response, _, _ = post(client, {"request_id": "hr-10", "person": "E1002"})
    receipt = response.json()
    assert receipt["status"] == "partially_done"
    pending = {(p["system"], p["resource"]): p for p in receipt["pending"]}
    assert set(pending) == {("meta", MAIN), ("pinterest", "549755885175")}
    assert all(p["state"] == "held" for p in pending.values())
    assert "last admin" in pending[("meta", MAIN)]["detail"]
    assert "break-glass" in pending[("pinterest", "549755885175")]["detail"]
    assert world.meta.is_assigned(MAIN, DANA["meta"]) and world.pinterest.is_member(DANA["pinterest"])
    assert not world.tiktok.is_member(BC, DANA["tiktok"])  # the rest went: four revocations > max_revocations 1
    assert not world.meta.is_assigned(CAREERS, DANA["meta"])
    with Session(rt.engine) as s:
        ob = s.execute(select(Offboarding)).scalars().one()
    assert ob.next_attempt_at is not None and ob.next_attempt_at > utcnow() + timedelta(hours=23)


def test_a_future_effective_time_is_kept_and_carried_out_by_the_scheduler_when_due(world, rt, client):
    when = datetime.now(UTC) + timedelta(seconds=2)
    response, _, _ = post(client, {"request_id": "hr-11", "person": "E1002", "effective_at": when.isoformat()})
    assert response.status_code == 202 and response.json()["status"] == "scheduled"
    assert jobs.due_offboardings(rt, threading.Event()) == "none due"
    assert all(dana_holds(world).values())

    time.sleep(max(0.0, (when - datetime.now(UTC)).total_seconds()) + 0.2)
    assert jobs.due_offboardings(rt, threading.Event()).endswith(":done")
    assert not any(dana_holds(world).values())
    assert world.kc.user(world.kc_ids["dana.leaver"]).enabled is True  # disabling is off by default


def test_unknown_person_and_a_reused_request_id_are_refused(world, rt, client):
    unknown, _, _ = post(client, {"request_id": "hr-12", "person": "nobody@example.com"})
    assert unknown.status_code == 422 and "no person matches" in unknown.json()["detail"]
    assert offboardings(rt.engine) == 0
    scheduled = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    first, _, _ = post(client, {"request_id": "hr-13", "person": "E1003", "effective_at": scheduled})
    assert first.status_code == 202
    other, _, _ = post(client, {"request_id": "hr-13", "person": "E1002"})
    assert other.status_code == 409 and offboardings(rt.engine) == 1
    assert writes(world) == 0


def test_a_system_whose_newest_sync_failed_is_done_but_the_receipt_warns(world, rt, client):
    world.tiktok.inject(tiktok_sim.FaultKind.html, times=3)  # the next sync of TikTok fails
    outcomes = {o.source: o.status for o in jobs.sync_sources(rt, threading.Event())}
    assert outcomes["tiktok"] == "failed" and outcomes["meta"] == "succeeded"
    world.tiktok.clear_faults()

    receipt = post(client, {"request_id": "hr-14", "person": "E1002"})[0].json()
    systems = {s["system"]: s for s in receipt["systems"]}
    assert receipt["status"] == "done" and not world.tiktok.is_member(BC, DANA["tiktok"])
    assert "failed" in systems["tiktok"]["warning"] and "may not be listed" in systems["tiktok"]["warning"]
    assert "warning" not in systems["meta"]


def test_a_run_that_dies_after_writing_the_outbox_is_finished_by_the_next_without_duplicates(world, rt, client,
                                                                                              monkeypatch):
    from accessward.reconcile import executor

    real = executor.execute

    def dies(*args, **kwargs):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(executor, "execute", real)
        raise RuntimeError("killed")  # the process died with the plan in the outbox, nothing sent

    monkeypatch.setattr(executor, "execute", dies)
    response, _, _ = post(client, {"request_id": "hr-15", "person": "E1002"})
    assert response.status_code == 202
    receipt = response.json()
    assert receipt["status"] == "in_progress" and "killed" in receipt["problem"]
    assert dana_holds(world)["meta"] and not dana_holds(world)["keycloak-sessions"]
    assert offboarding.due(rt.engine) == []  # its lease runs first

    with Session(rt.engine) as s:  # the lease runs out
        s.execute(update(Offboarding).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    assert jobs.due_offboardings(rt, threading.Event()).endswith(":done")
    assert not any(dana_holds(world).values())
    assert len(world.meta.revoke_calls) == 3 and len(world.tiktok.writes) == 1
    with Session(rt.engine) as s:
        done_actions = [a.grant_id for a in s.execute(select(Action).where(Action.state == "done")).scalars()]
    assert len(done_actions) == len(set(done_actions)) == 6
