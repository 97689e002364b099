"""Inbound SCIM 2.0 as Entra ID and Okta provisioning use it; deprovisioning starts an offboarding."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlmodel import Session

from accessward.reconcile import offboarding, receipt
from accessward.sync.service_models import Offboarding
from tests.service.test_offboarding_api import dana_holds

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
    bad_filter = client.get("/scim/v2/Users", params={"filter": 'title co "x"'}, headers=hr)
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
