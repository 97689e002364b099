"""The endpoints the console needs (plans list/start/reject, findings accept, links, people, devices) and the
console's own guards without a browser: no session, a forged CSRF token, the demo login off loopback,
cookie flags and the Content-Security-Policy."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlmodel import Session

from accessward.api.app import create_app
from accessward.settings import ConsoleSettings, Settings
from accessward.sync import principals
from accessward.sync.clock import utcnow
from accessward.sync.models import Action, AuditEvent, Plan, RiskException
from tests.service.test_accountable_api import personal


def _open_finding(rt) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with rt.engine.connect() as conn:
        row = conn.execute(text("SELECT id, account_id FROM finding WHERE state = 'open' ORDER BY id")).first()
    assert row is not None
    return int(row[0]), int(row[1])


def test_plans_are_listed_started_and_rejected_by_a_person(world, rt, client):
    alice = personal(rt, "alice", "approver")
    assert client.post("/v1/plans", headers=world.token(rt.engine, "admin")).status_code == 403  # not a person
    started = client.post("/v1/plans", headers=alice)
    assert started.status_code in (200, 201), started.text
    body = started.json()
    assert body["status"] in ("ready", "needs_approval", "empty")
    listed = client.get("/v1/plans", headers=personal(rt, "audrey", "auditor"))
    assert listed.status_code == 200
    if body["plan"] is not None:
        assert listed.json()[0]["id"] == body["plan"] and listed.json()[0]["started_by"] == "principal:alice"
    from accessward.reconcile.plan import PlanResult, persist_plan

    waiting = persist_plan(rt.engine, PlanResult(None, "needs_approval", "over the threshold"), "scheduler")
    assert client.post(f"/v1/plans/{waiting}/reject", json={"reason": "no"},
                       headers=world.token(rt.engine, "approver")).status_code == 403
    assert client.post(f"/v1/plans/{waiting}/reject", json={"reason": ""}, headers=alice).status_code == 422
    rejected = client.post(f"/v1/plans/{waiting}/reject", json={"reason": "not during the campaign launch"},
                           headers=alice)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    again = client.post(f"/v1/plans/{waiting}/reject", json={"reason": "twice"}, headers=alice)
    assert again.status_code == 409
    approve = client.post(f"/v1/plans/{waiting}/approve", headers=personal(rt, "bob", "approver"))
    assert approve.status_code == 409, "a rejected plan is never approved"
    with Session(rt.engine) as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.kind == "plan.rejected")).scalars().one()
        actions = s.execute(select(Action).where(Action.plan_id == waiting)).scalars().all()
    assert event.actor == "principal:alice" and event.data["reason"] == "not during the campaign launch"
    assert all(a.state == "cancelled" for a in actions)


def test_a_finding_is_accepted_and_an_account_linked_by_a_person(world, rt, client):
    client.post("/v1/plans", headers=personal(rt, "alice", "approver"))  # reconciles: findings exist
    finding, _account = _open_finding(rt)
    until = (utcnow() + timedelta(days=30)).isoformat()
    body = {"owner": "brand lead", "reason": "launch week", "expires_at": until}
    assert client.post(f"/v1/findings/{finding}/accept", json=body,
                       headers=world.token(rt.engine, "approver")).status_code == 403
    bob = personal(rt, "bob", "approver")
    assert client.post(f"/v1/findings/{finding}/accept", json={**body, "expires_at": "2001-01-01T00:00:00"},
                       headers=bob).status_code == 422
    ok = client.post(f"/v1/findings/{finding}/accept", json=body, headers=bob)
    assert ok.status_code == 201, ok.text
    with Session(rt.engine) as s:
        exc = s.get(RiskException, ok.json()["exception"])
    assert exc is not None and exc.created_by == "principal:bob" and exc.finding_id == finding
    hank = personal(rt, "hank", "hr")
    people = client.get("/v1/people", params={"q": "E1001"}, headers=hank)
    assert people.status_code == 200 and people.json(), people.text
    with rt.engine.connect() as conn:
        system, external = conn.execute(text("SELECT system, external_id FROM account ORDER BY id")).first()
    rita = personal(rt, "rita", "reviewer")
    linked = client.post("/v1/links", json={"system": system, "account": external, "person": "E1001"},
                         headers=rita)
    assert linked.status_code == 201 and linked.json()["by"] == "principal:rita", linked.text
    assert client.post("/v1/links", json={"system": system, "account": "nope", "person": "E1001"},
                       headers=rita).status_code == 422
    one = client.get("/v1/people/E1001", headers=hank)
    assert one.status_code == 200 and one.json()["records"] and "grants" in one.json()
    assert client.get("/v1/people/nobody-at-all", headers=hank).status_code == 404
    assert client.get("/v1/devices/999", headers=personal(rt, "desk", "service_desk")).status_code == 404


def _console(rt, settings: Settings | None = None, host: str = "127.0.0.1") -> TestClient:  # type: ignore[no-untyped-def]
    if settings is not None:
        rt.settings = settings
    principals.ensure(rt.engine, "ciso", display_name="CISO", email="ciso@example.com")
    principals.ensure(rt.engine, "itlead", display_name="IT lead", email="it.lead@example.com")
    return TestClient(create_app(rt), base_url="http://127.0.0.1", client=(host, 50123))


def _demo_login(c: TestClient, who: str) -> str:
    page = c.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None, page.text
    done = c.post("/login/demo", data={"csrf": token.group(1), "principal": who}, follow_redirects=False)
    assert done.status_code == 303, done.text
    home = c.get("/")
    found = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert found is not None
    return found.group(1)


def test_console_forms_need_a_session_and_the_sessions_csrf_token(world, rt):
    cfg = rt.settings.model_copy(update={"console": ConsoleSettings(
        demo_users={"ciso": ["approver", "auditor"], "itlead": ["approver"]})})
    from accessward.reconcile.plan import PlanResult, persist_plan

    with _console(rt, cfg) as c:
        it = principals.by_key(rt.engine, "itlead")
        assert it is not None
        plan = persist_plan(rt.engine, PlanResult(None, "needs_approval", "over"), it.actor, principal_id=it.id)
        assert c.get("/plans", follow_redirects=False).headers["location"].startswith("/login")
        assert c.post(f"/plans/{plan}/approve", data={"csrf": "x"}).status_code in (401, 403)
        csrf = _demo_login(c, "itlead")
        cookie = c.cookies.jar
        assert any(k.name == "accessward_session" for k in cookie)
        login = c.get("/login")
        assert "default-src 'none'" in login.headers["content-security-policy"]
        assert login.headers["x-content-type-options"] == "nosniff"
        refused = c.post(f"/plans/{plan}/approve", data={"csrf": csrf}, follow_redirects=True)
        assert "Refused" in refused.text and "four-eyes" in refused.text
        forged = c.post(f"/plans/{plan}/reject", data={"csrf": "forged", "reason": "x"})
        assert forged.status_code == 403
        other_site = c.post(f"/plans/{plan}/reject", data={"csrf": csrf, "reason": "x"},
                            headers={"Origin": "https://evil.example"})
        assert other_site.status_code == 403
        with Session(rt.engine) as s:
            assert s.get(Plan, plan).status == "needs_approval"  # type: ignore[union-attr]
        c.post("/logout", data={"csrf": csrf})
        csrf = _demo_login(c, "ciso")
        ok = c.post(f"/plans/{plan}/approve", data={"csrf": csrf, "note": "CAB-1"}, follow_redirects=True)
        assert "approved by CISO" in ok.text
        with Session(rt.engine) as s:
            assert s.get(Plan, plan).approved_by == "principal:ciso"  # type: ignore[union-attr]
        xlsx = c.get("/reports/findings.xlsx")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
        # a plan started in the console is the CLI's plan, started by the person (who then cannot approve it)
        started = c.post("/plans", data={"csrf": csrf}, follow_redirects=True)
        assert started.status_code == 200
        # the findings page's forms: accept a risk, link an account, as the logged-in person
        finding, _account = _open_finding(rt)
        until = (utcnow() + timedelta(days=10)).date().isoformat()
        accepted = c.post(f"/findings/{finding}/accept", data={"csrf": csrf, "owner": "brand lead",
                                                              "reason": "campaign week", "until": until},
                          follow_redirects=True)
        assert f"finding {finding} accepted" in accepted.text
        with Session(rt.engine) as s:
            exc = s.execute(select(RiskException).where(RiskException.finding_id == finding)).scalars().one()
        assert exc.created_by == "principal:ciso" and exc.owner == "brand lead"
        linked = c.post(f"/findings/{finding}/link", data={"csrf": csrf, "person": "E1001"}, follow_redirects=True)
        assert "is linked to E1001" in linked.text
        with Session(rt.engine) as s:
            event = s.execute(select(AuditEvent).where(AuditEvent.kind == "link.manual")).scalars().all()[-1]
            calls = s.execute(select(AuditEvent).where(AuditEvent.kind == "api.call")).scalars().all()
        assert event.actor == "principal:ciso"
        assert any(e.actor == "principal:ciso" and e.subject.startswith("POST /findings") for e in calls)
        assert not any(e.subject.startswith("GET /findings") for e in calls), "pages read are not audited"


def test_the_demo_login_is_refused_off_loopback_and_cookies_are_flagged(world, rt):
    cfg = rt.settings.model_copy(update={"console": ConsoleSettings(demo_users={"ciso": ["approver"]})})
    with _console(rt, cfg, host="203.0.113.9") as c:
        page = c.get("/login")
        assert "Demo login" not in page.text
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        csrf = token.group(1) if token else ""
        c.cookies.set("accessward_session", c.cookies.get("accessward_session") or "")
        refused = c.post("/login/demo", data={"csrf": csrf, "principal": "ciso"})
        assert refused.status_code == 403
    with _console(rt, cfg) as c:
        c.get("/login")
        raw = c.get("/login").headers.get("set-cookie", "") or ""
        page = c.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        done = c.post("/login/demo", data={"csrf": token.group(1), "principal": "ciso"}, follow_redirects=False)
        raw = done.headers["set-cookie"].lower()
        assert "httponly" in raw and "samesite=lax" in raw and "secure" not in raw  # plain HTTP on loopback
    secure_cfg = rt.settings.model_copy(update={"console": ConsoleSettings(
        demo_users={"ciso": ["approver"]}, base_url="https://accessward.example.com")})
    with _console(rt, secure_cfg) as c:
        page = c.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        raw = page.headers.get("set-cookie", "").lower()
        assert "secure" in raw and "httponly" in raw
