"""Accountable decisions over the API: an HR offboarding is HR's decision (no second approver, audited against
the HR principal); a plan is approved by a person with a personal token, never by the one who started it."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from accessward import tokens
from accessward.reconcile.plan import PlanResult, persist_plan
from accessward.sync import principals
from accessward.sync.models import AuditEvent, Plan
from tests.service.test_offboarding_api import dana_holds


def personal(rt, key: str, role: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    who = principals.ensure(rt.engine, key, display_name=key, email=f"{key}@example.com")
    value = tokens.create(rt.engine, name=f"{key}-{role}", role=role, actor="test", principal_id=who.id)
    return {"Authorization": f"Bearer {value}"}


def test_an_hr_offboarding_is_hrs_decision_audited_against_the_hr_principal(world, rt, client):
    assert rt.settings.policy.four_eyes  # the default
    response = client.post("/v1/offboarding", json={"request_id": "hr-77", "person": "E1002"},
                           headers=personal(rt, "jane-hr", "hr"))
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["status"] == "done" and receipt["requested_by"] == "principal:jane-hr"
    assert not any(dana_holds(world).values())
    with Session(rt.engine) as s:
        (plan,) = s.execute(select(Plan)).scalars().all()
        kinds = {e.kind: e for e in s.execute(select(AuditEvent)).scalars()}
    assert plan.status == "applied" and plan.approved_by == "principal:jane-hr"  # no second approver
    assert kinds["offboarding.requested"].actor == "principal:jane-hr"
    assert "plan.approval_refused" not in kinds and "plan.approved" not in kinds


def test_plan_approval_over_the_api_needs_a_person_and_four_eyes(world, rt, client):
    alice = principals.ensure(rt.engine, "alice", email="alice@example.com")
    mine = persist_plan(rt.engine, PlanResult(None, "needs_approval", "over the threshold"), alice.actor,
                        principal_id=alice.id)
    alice_headers = personal(rt, "alice", "approver")
    assert client.post(f"/v1/plans/{mine}/approve", headers=world.token(rt.engine, "admin")).status_code == 403
    refused = client.post(f"/v1/plans/{mine}/approve", headers=alice_headers)
    assert refused.status_code == 403 and "four-eyes" in refused.text
    assert client.post(f"/v1/plans/{mine}/approve", headers=personal(rt, "hr-person", "hr")).status_code == 403
    ok = client.post(f"/v1/plans/{mine}/approve", json={"note": "CAB-9"}, headers=personal(rt, "bob", "approver"))
    assert ok.status_code == 200 and ok.json()["approved_by"] == "principal:bob"
    again = client.post(f"/v1/plans/{mine}/approve", headers=personal(rt, "carol", "approver"))
    assert again.status_code == 409
    system_plan = persist_plan(rt.engine, PlanResult(None, "needs_approval", "over"), "scheduler")
    by_alice = client.post(f"/v1/plans/{system_plan}/approve", headers=alice_headers)
    assert by_alice.status_code == 200 and by_alice.json()["started_by"] == "scheduler"
