"""Every endpoint admits only its roles, every call is audited, tokens are kept hashed; health, metrics, OpenAPI."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select
from sqlmodel import Session

from accessward import tokens
from accessward.sync.models import AuditEvent
from accessward.sync.service_models import ApiToken, Offboarding
from tests.service.world import signed

ROUTES = {  # (method, path, body) -> roles that may call it (admin always may)
    ("POST", "/v1/offboarding", '{"request_id": "r-1", "person": "E1002", "effective_at": "2099-01-01T00:00:00Z"}'):
        {"hr"},
    ("GET", "/v1/offboarding/nope", None): {"hr", "auditor"},
    ("POST", "/v1/devices/lost", '{"person": "nobody-at-all"}'): {"service_desk"},
    ("GET", "/v1/reports/access", None): {"auditor"},
    ("GET", "/v1/reports/findings", None): {"auditor"},
    ("GET", "/scim/v2/Users", None): {"hr"},
}


@pytest.mark.parametrize("role", ["hr", "service_desk", "auditor", "admin"])
def test_each_endpoint_admits_only_its_roles(world, rt, client, role):
    headers = world.token(rt.engine, role)
    for (method, path, body), allowed in ROUTES.items():
        response = client.request(method, path, content=body,
                                  headers={**headers, "Content-Type": "application/json"})
        if role in allowed or role == "admin":
            assert response.status_code not in (401, 403), (role, path, response.text)
        else:
            assert response.status_code == 403, (role, path, response.text)
    with Session(rt.engine) as s:
        calls = list(s.execute(select(AuditEvent).where(AuditEvent.kind == "api.call")).scalars())
    assert len(calls) == len(ROUTES)  # refused calls are audited too
    assert {c.actor for c in calls} == {f"token:{_name(rt, role)}"}
    refused = sum(1 for c in calls if c.data["status"] == 403)
    assert refused == sum(1 for allowed in ROUTES.values() if role not in allowed and role != "admin")


def _name(rt, role):  # type: ignore[no-untyped-def]
    with Session(rt.engine) as s:
        return s.execute(select(ApiToken.name).where(ApiToken.role == role)).scalar_one()


def test_an_auditor_cannot_offboard_and_nothing_happens(world, rt, client):
    response = client.post("/v1/offboarding", json={"request_id": "r-2", "person": "E1002"},
                           headers=world.token(rt.engine, "auditor"))
    assert response.status_code == 403
    with Session(rt.engine) as s:
        assert s.execute(select(Offboarding)).first() is None
    assert world.meta.revoke_calls == [] and world.tiktok.writes == []


def test_unknown_revoked_and_missing_tokens_are_refused(world, rt, client):
    value = tokens.create(rt.engine, name="hr-system", role="hr", actor="test")
    ok = client.get("/v1/offboarding/nope", headers={"Authorization": f"Bearer {value}"})
    assert ok.status_code == 404
    tokens.revoke(rt.engine, "hr-system", actor="test")
    for headers in ({"Authorization": f"Bearer {value}"}, {"Authorization": "Bearer aw_made-up"}, {}):
        response = client.get("/v1/offboarding/nope", headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    with Session(rt.engine) as s:
        stored = s.execute(select(ApiToken)).scalars().one()
    assert value not in stored.token_hash and stored.token_hash == tokens.hash_token(value)


def test_the_hr_webhook_signature_does_not_open_the_auditors_reports(world, rt, client):
    _raw, headers = signed({})
    response = client.get("/v1/reports/access", headers={k: v for k, v in headers.items() if k != "Content-Type"})
    assert response.status_code in (401, 403)


def test_reports_for_auditors_as_json_and_csv(world, rt, client):
    auditor = world.token(rt.engine, "auditor")
    rows = client.get("/v1/reports/access", headers=auditor).json()
    assert {(r["system"], r["account"]) for r in rows if r["person"] == "Dana Leaver"} >= {
        ("meta", "Dana Leaver"), ("tiktok", "Dana Leaver"), ("social-suite", "Dana Leaver")}
    text = client.get("/v1/reports/access", params={"format": "csv"}, headers=auditor)
    assert text.headers["content-type"].startswith("text/csv")
    assert len(list(csv.DictReader(io.StringIO(text.text)))) == len(rows)
    findings = client.get("/v1/reports/findings", params={"state": "bogus"}, headers=auditor)
    assert findings.status_code == 422


def test_health_metrics_and_openapi(world, rt, client):
    assert client.get("/healthz").json()["status"] == "ok"
    raw, headers = signed({"request_id": "m-1", "person": "E1002"})
    assert client.post("/v1/offboarding", content=raw, headers=headers).status_code == 201
    metrics = client.get("/metrics").text
    assert 'accessward_revocations{outcome="done"} 6.0' in metrics
    assert 'accessward_offboardings{status="done"} 1.0' in metrics
    assert 'accessward_sync_last_duration_seconds{source="meta",status="succeeded"}' in metrics
    assert 'accessward_sync_duration_seconds_count{source="tiktok",status="succeeded"} 1.0' in metrics
    assert 'accessward_http_requests_total{method="POST",route="/v1/offboarding",status="201"} 1.0' in metrics
    spec = client.get("/openapi.json").json()
    assert {"/v1/offboarding", "/v1/offboarding/{request_id}", "/v1/devices/lost", "/v1/reports/access",
            "/v1/reports/findings", "/scim/v2/Users", "/scim/v2/Users/{user_id}", "/healthz",
            "/metrics"} <= set(spec["paths"])
    with Session(rt.engine) as s:  # health checks and scrapes are not audited, the offboarding is
        calls = [e.subject for e in s.execute(select(AuditEvent).where(AuditEvent.kind == "api.call")).scalars()]
    assert calls == ["POST /v1/offboarding"]
