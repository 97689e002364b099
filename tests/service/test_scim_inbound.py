"""Inbound SCIM 2.0 as Entra ID and Okta provisioning use it; deprovisioning starts an offboarding."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from accessward.reconcile import offboarding, receipt, scim_unmatched
from accessward.reports.findings import finding_rows
from accessward.sync.models import AuditEvent
from accessward.sync.service_models import Offboarding, ScimUnmatched, ScimUser
from tests.service.test_offboarding_api import dana_holds
from tests.service.world import DANA

SCIM = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def hr(world, rt):  # type: ignore[no-untyped-def]
    return {**world.token(rt.engine, "hr"), "Content-Type": SCIM}


def entra_user(user_name: str, number: str, *, external_id: str = "") -> dict:  # type: ignore[type-arg]
    """What Entra's provisioning service POSTs (its default attribute mappings)."""
    given, family = user_name.split("@")[0].split(".")
    return {"schemas": [USER, ENTERPRISE], "externalId": external_id or given, "userName": user_name,
            "active": True, "displayName": f"{given.title()} {family.title()}",
            "name": {"givenName": given.title(), "familyName": family.title(), "formatted": f"{given} {family}"},
            "emails": [{"primary": True, "type": "work", "value": user_name}],
            ENTERPRISE: {"employeeNumber": number, "department": "Brand"}}


def wait_for(rt, request_id: str, status: str = "done", timeout: float = 30):  # type: ignore[no-untyped-def]
    deadline, found = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        found = offboarding.find(rt.engine, request_id)
        if found is not None and found.status == status:
            return found
        time.sleep(0.05)
    raise AssertionError(f"offboarding {request_id} did not reach {status}: {found and found.status}")


def offboardings(rt) -> list[Offboarding]:  # type: ignore[no-untyped-def]
    with Session(rt.engine) as s:
        return list(s.execute(select(Offboarding)).scalars())


def test_discovery_endpoints(client, hr):
    config = client.get("/scim/v2/ServiceProviderConfig", headers=hr)
    assert config.status_code == 200 and config.headers["content-type"].startswith(SCIM)
    assert config.json()["patch"]["supported"] is True and config.json()["bulk"]["supported"] is False
    types = client.get("/scim/v2/ResourceTypes", headers=hr).json()
    assert [t["endpoint"] for t in types["Resources"]] == ["/Users"]
    schemas = client.get("/scim/v2/Schemas", headers=hr).json()
    assert {s["id"] for s in schemas["Resources"]} == {USER, ENTERPRISE}
    assert client.get(f"/scim/v2/Schemas/{USER}", headers=hr).json()["name"] == "User"


def test_entra_creates_then_deactivates_with_patch_and_the_person_is_offboarded(world, rt, client, hr):
    found = client.get("/scim/v2/Users", params={"filter": 'userName eq "Dana.Leaver@example.com"'}, headers=hr)
    assert found.json()["totalResults"] == 0 and found.json()["Resources"] == []
    created = client.post("/scim/v2/Users", json=entra_user("dana.leaver@example.com", "E1002"), headers=hr)
    assert created.status_code == 201, created.text
    user = created.json()
    assert created.headers["location"] == user["meta"]["location"] and user["active"] is True
    found = client.get("/scim/v2/Users", params={"filter": 'userName eq "Dana.Leaver@example.com"'}, headers=hr)
    assert [u["id"] for u in found.json()["Resources"]] == [user["id"]]  # userName is not case-exact

    # Entra's deprovisioning: Replace with a path and its (non-compliant) string boolean
    body = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    patched = client.patch(f"/scim/v2/Users/{user['id']}", json=body, headers=hr)
    assert patched.status_code == 200 and patched.json()["active"] is False

    ob = wait_for(rt, f"scim:{user['id']}:1")
    assert ob.person_key == "E1002" and ob.source == "scim"
    assert not any(dana_holds(world).values())

    # Entra sends the same PATCH again on its next cycle: nothing new starts
    again = client.patch(f"/scim/v2/Users/{user['id']}", json=body, headers=hr)
    assert again.status_code == 200 and len(offboardings(rt)) == 1


def test_okta_style_patch_without_a_path_and_a_delete_each_start_one_offboarding(world, rt, client, hr):
    sam = client.post("/scim/v2/Users", json=entra_user("sam.rivera@example.com", "E1003"), headers=hr).json()
    priya = client.post("/scim/v2/Users", json=entra_user("priya.shah@example.com", "E1004"), headers=hr).json()
    okta = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert client.patch(f"/scim/v2/Users/{sam['id']}", json=okta, headers=hr).json()["active"] is False
    assert client.delete(f"/scim/v2/Users/{priya['id']}", headers=hr).status_code == 204
    gone = client.get(f"/scim/v2/Users/{priya['id']}", headers=hr)
    assert gone.status_code == 404 and gone.json() == {"schemas": [ERROR], "status": "404",
                                                       "detail": f"no User {priya['id']}"}
    # Sam is the only manager of the shop page: that grant stays, held, and the rest goes
    assert wait_for(rt, f"scim:{sam['id']}:1", "partially_done").person_key == "E1003"
    [held] = receipt.build(rt.engine, f"scim:{sam['id']}:1")["pending"]
    assert (held["resource_name"], held["state"]) == ("Northwind Coffee Shop DE", "held")
    assert wait_for(rt, f"scim:{priya['id']}:1").person_key == "E1004"
    assert not world.tiktok.is_member("7100000000000000001", "7300000000000000003")  # Sam
    assert not world.pinterest.is_member("1409000000000004")  # Priya
    assert world.tiktok.is_member("7100000000000000001", "7300000000000000001")  # Alex stays


def test_patch_forms_entra_sends_for_attributes(client, hr):
    user = client.post("/scim/v2/Users", json=entra_user("jordan.lee@example.com", "E1005"), headers=hr).json()
    body = {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "jordan@example.com"},
        {"op": "Add", "path": "title", "value": "Recruiter"},
        {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "People"},
        {"op": "replace", "value": {"name.givenName": "Jo", "displayName": "Jo Lee"}},
        {"op": "Remove", "path": "externalId"},
    ]}
    out = client.patch(f"/scim/v2/Users/{user['id']}", json=body, headers=hr).json()
    assert out["emails"] == [{"primary": True, "type": "work", "value": "jordan@example.com"}]
    assert out["title"] == "Recruiter" and out[ENTERPRISE]["department"] == "People"
    assert out["name"]["givenName"] == "Jo" and out["displayName"] == "Jo Lee" and "externalId" not in out
    assert out["active"] is True


def test_paging_filters_and_errors(client, hr, rt):
    ids = [client.post("/scim/v2/Users", json={"schemas": [USER], "userName": f"user{i}@example.com"},
                       headers=hr).json()["id"] for i in range(5)]
    page = client.get("/scim/v2/Users", params={"startIndex": 2, "count": 2}, headers=hr).json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (5, 2, 2)
    assert [u["id"] for u in page["Resources"]] == ids[1:3]
    tail = client.get("/scim/v2/Users", params={"startIndex": 5, "count": 10}, headers=hr).json()
    assert [u["id"] for u in tail["Resources"]] == ids[4:]
    assert client.get("/scim/v2/Users", params={"count": 0}, headers=hr).json()["Resources"] == []

    dup = client.post("/scim/v2/Users", json={"schemas": [USER], "userName": "USER0@example.com"}, headers=hr)
    assert dup.status_code == 409 and dup.json()["scimType"] == "uniqueness" and dup.json()["status"] == "409"
    bad_filter = client.get("/scim/v2/Users", params={"filter": 'title xx "x"'}, headers=hr)
    assert bad_filter.status_code == 400 and bad_filter.json()["scimType"] == "invalidFilter"
    bad_op = client.patch(f"/scim/v2/Users/{ids[0]}", headers=hr,
                          json={"schemas": [PATCH], "Operations": [{"op": "move", "path": "active"}]})
    assert bad_op.status_code == 400 and bad_op.json()["schemas"] == [ERROR]
    no_name = client.post("/scim/v2/Users", json={"schemas": [USER]}, headers=hr)
    assert no_name.status_code == 400 and no_name.json()["scimType"] == "invalidValue"
    unauthenticated = client.get("/scim/v2/Users")
    assert unauthenticated.status_code == 401 and unauthenticated.json()["status"] == "401"
    # none of these touched anyone, and plain users that match nobody start no offboarding on creation
    assert offboardings(rt) == []


def test_deprovisioning_someone_we_do_not_know_is_recorded_for_the_auditors(client, hr, rt):
    user = client.post("/scim/v2/Users", json=entra_user("casey.temp@example.com", "E0999"), headers=hr).json()
    assert client.delete(f"/scim/v2/Users/{user['id']}", headers=hr).status_code == 204
    [ob] = offboardings(rt)
    assert ob.status == "not_found" and ob.request_id == f"scim:{user['id']}:1" and "no person" in ob.last_error


# -- issue 12: to the letter of the RFC -------------------------------------------------------------

PASSWORD = "Corr3ct-Horse-Battery-9931"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def scim_user_row(rt, user_id: str) -> ScimUser:  # type: ignore[no-untyped-def]
    with Session(rt.engine) as s:
        row = s.get(ScimUser, user_id)
        assert row is not None
        return row


def audit_events(rt, kind: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with Session(rt.engine) as s:
        return list(s.execute(select(AuditEvent).where(AuditEvent.kind == kind)).scalars())


def test_a_password_and_unannounced_attributes_are_never_stored_or_echoed(world, rt, client, hr):
    body = {**entra_user("jordan.lee@example.com", "E1005"), "password": PASSWORD, "nickName": "JJ",
            "urn:example:custom:2.0:User": {"badge": "7"}, "userType": "Employee"}
    body["name"]["honorificPrefix"] = "Dr"
    created = client.post("/scim/v2/Users", json=body, headers=hr)
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    put = client.put(f"/scim/v2/Users/{uid}", json={**body, "password": PASSWORD + "-put"}, headers=hr)
    patched = client.patch(f"/scim/v2/Users/{uid}", headers=hr, json={"schemas": [PATCH], "Operations": [
        {"op": "replace", "value": {"password": PASSWORD + "-patch", "title": "Recruiter"}}]})
    by_path = client.patch(f"/scim/v2/Users/{uid}", headers=hr, json={"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "password", "value": PASSWORD + "-path"}]})
    assert by_path.status_code == 400 and by_path.json()["scimType"] == "invalidPath"
    answers = [created, put, patched, by_path, client.get(f"/scim/v2/Users/{uid}", headers=hr),
               client.get("/scim/v2/Users", headers=hr),
               client.post("/scim/v2/Users/.search", json={"schemas": [SEARCH]}, headers=hr)]
    assert patched.json()["title"] == "Recruiter"
    for answer in answers:
        assert PASSWORD not in answer.text and "nickName" not in answer.text and "badge" not in answer.text
        assert "honorificPrefix" not in answer.text and "userType" not in answer.text
    assert "password" not in scim_user_row(rt, uid).resource
    rt.engine.dispose()
    files = [p for p in world.dir.glob("store.db*") if p.is_file()]  # (store.db.locks/ holds lock files)
    assert files, "the store's files"
    for path in files:  # nowhere in the store: tables, audit trail, WAL
        assert PASSWORD.encode() not in path.read_bytes()


def test_attributes_and_excluded_attributes_on_reads_lists_and_searches(client, hr):
    uid = client.post("/scim/v2/Users", json=entra_user("sam.rivera@example.com", "E1003"), headers=hr).json()["id"]
    one = client.get(f"/scim/v2/Users/{uid}", params={"attributes": "userName,emails.value"}, headers=hr).json()
    assert one == {"schemas": [USER], "id": uid, "userName": "sam.rivera@example.com",
                   "emails": [{"value": "sam.rivera@example.com"}]}
    less = client.get(f"/scim/v2/Users/{uid}", headers=hr,
                      params={"excludedAttributes": f"name,emails,{ENTERPRISE}:employeeNumber"}).json()
    assert "name" not in less and "emails" not in less and less["displayName"] == "Sam Rivera"
    assert less[ENTERPRISE] == {"department": "Brand"} and less["id"] == uid
    listed = client.get("/scim/v2/Users", params={"attributes": f"{ENTERPRISE}:employeeNumber"}, headers=hr).json()
    assert listed["Resources"] == [{"schemas": [USER, ENTERPRISE], "id": uid, ENTERPRISE: {"employeeNumber": "E1003"}}]
    for path in ("/scim/v2/.search", "/scim/v2/Users/.search"):
        query = {"schemas": [SEARCH], "filter": 'userName eq "SAM.rivera@example.com"', "attributes": ["displayName"],
                 "count": 5}
        found = client.post(path, headers=hr, json=query)
        assert found.status_code == 200, found.text
        assert found.json()["Resources"] == [{"schemas": [USER], "id": uid, "displayName": "Sam Rivera"}]
    both = client.get("/scim/v2/Users", params={"attributes": "userName", "excludedAttributes": "name"}, headers=hr)
    assert both.status_code == 400 and both.json()["scimType"] == "invalidValue"


def test_filters_follow_the_whole_rfc_grammar(client, hr):
    ids = {}
    for name, number, dept in (("alex.morgan", "E1001", "Brand"), ("sam.rivera", "E1003", "Sales"),
                               ("jordan.lee", "E1005", "Brand")):
        body = entra_user(f"{name}@example.com", number)
        body[ENTERPRISE]["department"] = dept
        ids[name] = client.post("/scim/v2/Users", json=body, headers=hr).json()["id"]

    def found(text: str) -> set[str]:
        answer = client.get("/scim/v2/Users", params={"filter": text}, headers=hr)
        assert answer.status_code == 200, answer.text
        return {next(k for k, v in ids.items() if v == u["id"]) for u in answer.json()["Resources"]}

    assert found('userName sw "ALEX"') == {"alex.morgan"}
    assert found(f'{ENTERPRISE}:department eq "Brand" and not (displayName co "lee")') == {"alex.morgan"}
    assert found('emails[type eq "work" and value ew "@example.com"]') == set(ids)
    assert found('emails[type eq "work"].value eq "sam.rivera@example.com" or title pr') == {"sam.rivera"}
    assert found('externalId eq "Sam"') == set() and found('externalId eq "sam"') == {"sam.rivera"}  # caseExact
    assert found('meta.created ge "2000-01-01T00:00:00Z" and nickName eq null') == set(ids)


def test_every_error_is_a_scim_error_body_and_echoes_nothing(client, hr):
    def error(response, status: int, scim_type: str | None = None) -> dict:  # type: ignore[no-untyped-def,type-arg]
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith(SCIM)
        body = response.json()
        assert body["schemas"] == [ERROR] and body["status"] == str(status)
        assert scim_type is None or body["scimType"] == scim_type
        return body  # type: ignore[no-any-return]

    error(client.get("/scim/v2/Groups", headers=hr), 404)
    error(client.get("/scim/v2/no/such/thing", headers=hr), 404)
    wrong = client.delete("/scim/v2/Users", headers=hr)
    error(wrong, 405)
    assert "GET" in wrong.headers["allow"]
    error(client.put("/scim/v2/ServiceProviderConfig", headers=hr), 405)
    marker = "zz-echo-me-zz"
    for params in ({"startIndex": marker}, {"count": marker}, {"attributes": f"{marker} !"}):
        answer = client.get("/scim/v2/Users", params=params, headers=hr)
        assert marker not in error(answer, 400, "invalidValue")["detail"]
    search = client.post("/scim/v2/.search", headers=hr, json={"schemas": [SEARCH], "count": marker})
    assert marker not in error(search, 400, "invalidValue")["detail"]
    bad_type = client.post("/scim/v2/Users", headers=hr, json={"schemas": [USER], "userName": "x@example.com",
                                                                  "emails": marker})
    assert marker not in error(bad_type, 400, "invalidValue")["detail"]
    bad_path = client.patch("/scim/v2/Users/x", headers=hr, json={"schemas": [PATCH], "Operations": [
        {"op": "add", "path": marker, "value": 1}]})
    error(bad_path, 404)  # no such user: looked up before the body
    error(client.post("/scim/v2/Users", headers=hr, content=b"{not json"), 400, "invalidSyntax")


def test_removing_active_or_a_put_without_it_never_reactivates_and_an_explicit_true_is_recorded(world, rt,
                                                                                                client, hr):
    dana = entra_user("dana.leaver@example.com", "E1002")
    uid = client.post("/scim/v2/Users", json=dana, headers=hr).json()["id"]
    off = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    assert client.patch(f"/scim/v2/Users/{uid}", json=off, headers=hr).json()["active"] is False
    wait_for(rt, f"scim:{uid}:1")

    removed = client.patch(f"/scim/v2/Users/{uid}", headers=hr,
                           json={"schemas": [PATCH], "Operations": [{"op": "remove", "path": "active"}]})
    assert removed.status_code == 200 and "active" not in removed.json()
    assert scim_user_row(rt, uid).active is False
    without = {k: v for k, v in dana.items() if k != "active"}
    put = client.put(f"/scim/v2/Users/{uid}", json=without, headers=hr)
    assert put.status_code == 200 and "active" not in put.json() and scim_user_row(rt, uid).active is False
    # Entra's next cycle sends the deactivation again: still one offboarding, nothing new
    assert client.patch(f"/scim/v2/Users/{uid}", json=off, headers=hr).status_code == 200
    assert len(offboardings(rt)) == 1 and audit_events(rt, "scim.reactivated") == []

    on = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": True}]}
    assert client.patch(f"/scim/v2/Users/{uid}", json=on, headers=hr).json()["active"] is True
    [event] = audit_events(rt, "scim.reactivated")
    assert event.data["offboardings"] == [f"scim:{uid}:1"] and event.subject == f"scim_user:{uid}"
    row = scim_user_row(rt, uid)
    assert row.reactivations == 1 and row.reactivated_at is not None
    shown = receipt.build(rt.engine, f"scim:{uid}:1")
    assert shown is not None and any("active again" in n and "nothing was re-granted" in n for n in shown["notes"])
    time.sleep(0.5)
    assert len(offboardings(rt)) == 1 and not any(dana_holds(world).values())  # nothing came back


def test_a_user_created_inactive_for_a_known_person_starts_an_offboarding(world, rt, client, hr):
    created = client.post("/scim/v2/Users", json={**entra_user("dana.leaver@example.com", "E1002"), "active": False},
                          headers=hr)
    assert created.status_code == 201 and created.json()["active"] is False
    ob = wait_for(rt, f"scim:{created.json()['id']}:1")
    assert ob.person_key == "E1002" and not any(dana_holds(world).values())
    # an inactive account nobody knows is simply kept: identity providers create disabled accounts routinely
    stranger = client.post("/scim/v2/Users", json={**entra_user("casey.temp@example.com", "E0999"), "active": False},
                           headers=hr)
    assert stranger.status_code == 201 and len(offboardings(rt)) == 1


def test_an_unmatched_deprovisioning_waits_is_visible_and_is_carried_out_when_the_person_appears(world, hr_free):
    dana_kc = world.kc.users.pop(world.kc_ids["dana.leaver"])  # the directory does not have Dana yet
    rt = world.runtime()
    world.sync(rt)
    with world.client(rt) as client:
        hr = {**world.token(rt.engine, "hr"), "Content-Type": SCIM}
        dana = entra_user("dana.leaver@example.com", "E1002")
        uid = client.post("/scim/v2/Users", json=dana, headers=hr).json()["id"]
        gone = client.patch(f"/scim/v2/Users/{uid}", headers=hr, json={"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "active", "value": False}]})
        assert gone.status_code == 200  # answered 2xx: the IdP must not retry forever
        [ob] = offboardings(rt)
        assert ob.status == "not_found"
        [waiting] = scim_unmatched_rows(rt)
        assert waiting.state == "waiting" and waiting.keys[0] == "E1002"
        assert (waiting.retry_until - waiting.received_at).days == 30  # service.scim_unmatched_retry_days
        [event] = audit_events(rt, "scim.unmatched")  # the hook notifications subscribe to
        assert event.subject == f"offboarding:scim:{uid}:1"
        shown = receipt.build(rt.engine, f"scim:{uid}:1")
        assert shown is not None and any("retried after each identity sync" in n for n in shown["notes"])
        [finding] = finding_rows(rt.engine)
        assert (finding["rule"], finding["state"], finding["severity"]) == ("scim_unmatched", "open", "high")
        assert "dana.leaver@example.com" in finding["reason"] and finding["resource"] is None
        metrics = client.get("/metrics").text
        assert 'accessward_scim_unmatched{state="waiting"} 1.0' in metrics
        assert 'accessward_findings{rule="scim_unmatched",state="open"} 1.0' in metrics
        assert 'accessward_offboardings{status="not_found"} 1.0' in metrics
        assert world.tiktok.is_member("7100000000000000001", DANA["tiktok"])  # nothing was done to anyone yet
        assert world.pinterest.is_member(DANA["pinterest"])

        world.sync(rt)  # a sync where Dana is still missing: still waiting
        assert scim_unmatched_rows(rt)[0].state == "waiting" and scim_unmatched_rows(rt)[0].attempts == 1

        world.kc.users[dana_kc.id] = dana_kc  # the directory catches up
        world.sync(rt)  # jobs.sync_sources: after the identity sync, the wait is retried
        done = wait_for(rt, f"scim:{uid}:1")
        assert done.person_key == "E1002" and done.employee_id == "E1002"
        assert not any(dana_holds(world).values())
        [matched] = scim_unmatched_rows(rt)
        assert matched.state == "matched" and matched.matched_key == "E1002"
        assert len(audit_events(rt, "scim.unmatched_matched")) == 1
        assert [(f["rule"], f["state"]) for f in finding_rows(rt.engine) if f["rule"] == "scim_unmatched"] == [
            ("scim_unmatched", "resolved")]
        assert 'accessward_scim_unmatched{state="matched"} 1.0' in client.get("/metrics").text


def test_an_unmatched_deprovisioning_stops_waiting_after_the_window(rt, client, hr):
    uid = client.post("/scim/v2/Users", json=entra_user("casey.temp@example.com", "E0999"), headers=hr).json()["id"]
    assert client.delete(f"/scim/v2/Users/{uid}", headers=hr).status_code == 204
    [row] = scim_unmatched_rows(rt)
    assert scim_unmatched.retry(rt.engine, now=row.retry_until - timedelta(minutes=1)) == []
    assert scim_unmatched.retry(rt.engine, now=row.retry_until + timedelta(minutes=1)) == []
    [row] = scim_unmatched_rows(rt)
    assert row.state == "expired" and len(audit_events(rt, "scim.unmatched_expired")) == 1
    shown = receipt.build(rt.engine, f"scim:{uid}:1")
    assert shown is not None and shown["status"] == "not_found"
    assert any("no longer retried" in n for n in shown["notes"])
    [finding] = finding_rows(rt.engine)  # still open: someone has to look
    assert finding["state"] == "open" and "offboard by hand" in finding["reason"]


def scim_unmatched_rows(rt) -> list[ScimUnmatched]:  # type: ignore[no-untyped-def]
    with Session(rt.engine) as s:
        return list(s.execute(select(ScimUnmatched).order_by(ScimUnmatched.id)).scalars())


@pytest.fixture
def hr_free():  # type: ignore[no-untyped-def]
    """Nothing: marks a test that builds its own runtime (the directory must change before the first sync)."""
    return None


def test_patch_value_paths_take_any_filter_and_an_unmatched_complex_one_is_no_target(client, hr):
    user = entra_user("jordan.lee@example.com", "E1005")
    user["emails"].append({"type": "home", "value": "jordan@home.example"})
    uid = client.post("/scim/v2/Users", json=user, headers=hr).json()["id"]

    def patch(*ops):  # type: ignore[no-untyped-def]
        return client.patch(f"/scim/v2/Users/{uid}", headers=hr, json={"schemas": [PATCH], "Operations": list(ops)})

    work = 'emails[type eq "work" and primary eq true].value'
    out = patch({"op": "replace", "path": work, "value": "jo@example.com"},
                {"op": "remove", "path": 'emails[value ew "home.example"]'})
    assert out.json()["emails"] == [{"primary": True, "type": "work", "value": "jo@example.com"}]
    none = patch({"op": "replace", "path": 'emails[type eq "home" and primary eq true].value', "value": "x"})
    assert none.status_code == 400 and none.json()["scimType"] == "noTarget"
    bad = patch({"op": "replace", "path": 'emails[type xx "home"].value', "value": "x"})
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"
    # Entra's "Add emails[type eq "home"].value" on a user without one creates it, as it expects
    added = patch({"op": "Add", "path": 'emails[type eq "home"].value', "value": "jordan@home.example"})
    assert {"type": "home", "value": "jordan@home.example"} in added.json()["emails"]
