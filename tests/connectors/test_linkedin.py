"""The LinkedIn connector against the organizationAcls simulator on a loopback port, and the simulator itself.

One server serves the whole module; each test installs a fresh ``LinkedInState`` in it. The
simulator is tested first: one that accepted any token or header would let a broken connector pass.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from accessward.connectors.errors import (
    AuthError,
    MalformedResponseError,
    NotFoundError,
    RejectedError,
    StopError,
    TransientError,
)
from accessward.connectors.linkedin import (
    LinkedInOrganizationConnector,
    LinkedInRejectedError,
    RevokeMethod,
    UnsupportedMethodError,
    classify_linkedin_error,
    role_level,
)
from accessward.connectors.records import (
    AccessRecord,
    AccountKind,
    AccountRecord,
    GrantRecord,
    GrantRef,
    Level,
    ResourceRecord,
    RevokeOutcome,
)
from accessward.sandbox.linkedin import DEMO_MEMBERS, DEMO_ORG_ID, DEMO_TOKEN, acl_key_path, create_app, demo_state
from accessward.sandbox.linkedin_state import (
    FaultKind,
    LinkedInState,
    Organization,
    RepeatRevoke,
    UnsupportedAnswer,
    month_version,
)
from accessward.sandbox.linkedin_state import RevokeMethod as SimMethod
from accessward.sandbox.server import RunningServer, start_app

TOKEN = "AQVtest-S3cr3t-linkedin-token"
ORG_ID = 2_000_001
ORG = f"urn:li:organization:{ORG_ID}"
ADMIN_URN = "urn:li:person:pageAdmin"
DEMO_ORG = f"urn:li:organization:{DEMO_ORG_ID}"
ALEX, DANA = DEMO_MEMBERS["alex"], DEMO_MEMBERS["dana"]
SAM, PRIYA = DEMO_MEMBERS["sam"], DEMO_MEMBERS["priya"]
JORDAN, TAYLOR = DEMO_MEMBERS["jordan"], DEMO_MEMBERS["taylor"]
NEW_HIRE, FORMER_INTERN = DEMO_MEMBERS["new_hire"], DEMO_MEMBERS["former_intern"]
BIG = 230
# A listing of the big org: the organization lookup (1), then ACL pages of 100 (2, 3, 4).
CALL_SECOND_ACL_PAGE = 3


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app() -> Starlette:
    return create_app(LinkedInState())


@pytest.fixture(scope="module")
def server(app: Starlette) -> Iterator[RunningServer]:
    with start_app(app) as srv:
        yield srv


@pytest.fixture
def state(app: Starlette) -> LinkedInState:
    st = LinkedInState()
    org = st.add_organization("Test Org", org_id=ORG_ID)
    st.add_token(TOKEN, ADMIN_URN)
    st.add_acl(org, ADMIN_URN, "ADMINISTRATOR")
    app.state.linkedin = st
    return st


@pytest.fixture
def demo(app: Starlette) -> LinkedInState:
    st = demo_state()
    app.state.linkedin = st
    return st


@pytest.fixture
def waits() -> list[float]:
    return []


def connector(srv: RunningServer, st: LinkedInState, waits: list[float], token: str = TOKEN,
              org: int = ORG_ID, **kw: Any) -> LinkedInOrganizationConnector:
    kw.setdefault("sleep", waits.append)
    kw.setdefault("linkedin_version", st.latest_version)
    return LinkedInOrganizationConnector("linkedin-test", f"{srv.url}/rest", org, token, **kw)


def demo_connector(srv: RunningServer, st: LinkedInState, waits: list[float],
                   **kw: Any) -> LinkedInOrganizationConnector:
    return connector(srv, st, waits, DEMO_TOKEN, DEMO_ORG_ID, **kw)


def seed_big_org(st: LinkedInState, n: int = BIG) -> Organization:
    """``n`` APPROVED ACLs (the admin and n-1 analysts), with REQUESTED and REVOKED rows in between."""
    org = st.organizations[ORG_ID]
    for i in range(n - 1):
        st.add_acl(org, f"urn:li:person:analyst{i:03d}", "ANALYST")
        if i % 50 == 0:
            st.add_acl(org, f"urn:li:person:asker{i:03d}", "ADMINISTRATOR", state="REQUESTED")
            st.add_acl(org, f"urn:li:person:former{i:03d}", "CURATOR", state="REVOKED")
    return org


def grants(records: list[AccessRecord]) -> list[GrantRecord]:
    return [r for r in records if isinstance(r, GrantRecord)]


def headers(st: LinkedInState, token: str | None = TOKEN, **extra: str) -> dict[str, str]:
    out = {"LinkedIn-Version": st.latest_version, "X-Restli-Protocol-Version": "2.0.0", **extra}
    if token is not None:
        out["Authorization"] = f"Bearer {token}"
    return out


def acls(srv: RunningServer, st: LinkedInState, token: str = TOKEN, **params: Any) -> httpx.Response:
    return httpx.get(f"{srv.url}/rest/organizationAcls", params={"q": "organization", "organization": ORG, **params},
                     headers=headers(st, token))


def ref(account: str, role: str, org: str = DEMO_ORG) -> GrantRef:
    return GrantRef(account_id=account, resource_id=org, role=role, resource_kind="linkedin_organization")


# -- the simulator itself ------------------------------------------------------------------------


def test_simulator_refuses_missing_invalid_expired_and_revoked_tokens(state: LinkedInState,
                                                                     server: RunningServer) -> None:
    state.add_token("expired", ADMIN_URN, ttl_seconds=60)
    state.add_token("revoked", ADMIN_URN)
    state.revoke_token("revoked")
    state.clock.advance(61)
    missing = httpx.get(f"{server.url}/rest/organizationAcls", params={"q": "organization", "organization": ORG},
                        headers=headers(state, None))
    answers = {name: acls(server, state, name).json() for name in ("not-a-token", "expired", "revoked")}
    ok = acls(server, state)

    assert missing.status_code == 401
    assert missing.json() == {"status": 401, "serviceErrorCode": 401, "message": "Empty oauth2_access_token"}
    assert {k: (v["status"], v["serviceErrorCode"]) for k, v in answers.items()} == {
        "not-a-token": (401, 65600), "expired": (401, 65601), "revoked": (401, 65602)}
    assert "expired" in answers["expired"]["message"]
    assert ok.status_code == 200


def test_simulator_requires_an_active_version_and_the_protocol_header(state: LinkedInState,
                                                                      server: RunningServer) -> None:
    url = f"{server.url}/rest/organizationAcls"
    params = {"q": "organization", "organization": ORG}
    base = headers(state)
    no_version = httpx.get(url, params=params, headers={k: v for k, v in base.items() if k != "LinkedIn-Version"})
    sunset = httpx.get(url, params=params, headers={**base, "LinkedIn-Version": month_version(state.clock.now(), 13)})
    future = httpx.get(url, params=params, headers={**base, "LinkedIn-Version": month_version(state.clock.now(), -1)})
    oldest = httpx.get(url, params=params, headers={**base, "LinkedIn-Version": month_version(state.clock.now(), 12)})
    patch = httpx.get(url, params=params, headers={**base, "LinkedIn-Version": state.latest_version + ".01"})
    no_protocol = httpx.get(url, params=params,
                            headers={k: v for k, v in base.items() if k != "X-Restli-Protocol-Version"})

    assert (no_version.status_code, no_version.json()["code"]) == (400, "VERSION_MISSING")
    assert (sunset.status_code, sunset.json()["code"]) == (426, "NONEXISTENT_VERSION")
    assert "is not active" in sunset.json()["message"]
    assert future.status_code == 426
    assert oldest.status_code == patch.status_code == 200
    assert no_protocol.status_code == 400 and "X-Restli-Protocol-Version" in no_protocol.json()["message"]


def test_simulator_finders_filter_page_and_count_total(state: LinkedInState, server: RunningServer) -> None:
    seed_big_org(state)
    first = acls(server, state, start=0, count=100).json()
    last = acls(server, state, start=200, count=100).json()
    approved = acls(server, state, state="APPROVED", count=1000).json()
    requested = acls(server, state, role="ADMINISTRATOR", state="REQUESTED").json()
    default = acls(server, state).json()
    mine = httpx.get(f"{server.url}/rest/organizationAcls", params={"q": "roleAssignee"},
                     headers=headers(state)).json()
    bad_role = acls(server, state, role="CONTENT_ADMIN")
    state.include_total = False
    no_total = acls(server, state).json()

    assert len(first["elements"]) == 100 and first["paging"]["total"] == BIG + 10
    assert [link["rel"] for link in first["paging"]["links"]] == ["next"]
    assert len(last["elements"]) == 40 and [link["rel"] for link in last["paging"]["links"]] == ["prev"]
    assert len(approved["elements"]) == 100 and approved["paging"] == {**approved["paging"], "count": 100,
                                                                      "total": BIG}
    assert {e["state"] for e in requested["elements"]} == {"REQUESTED"} and requested["paging"]["total"] == 5
    assert len(default["elements"]) == 10 and default["paging"]["count"] == 10
    element = first["elements"][0]
    assert set(element) == {"organization", "roleAssignee", "role", "state", "created", "lastModified"}
    assert [e["roleAssignee"] for e in mine["elements"]] == [ADMIN_URN]
    assert bad_role.status_code == 400
    assert "total" not in no_total["paging"]


def test_simulator_write_sets_revoked_and_refuses_other_methods(state: LinkedInState, server: RunningServer) -> None:
    state.add_acl(state.organizations[ORG_ID], SAM, "CONTENT_ADMINISTRATOR")
    path = f"{server.url}{acl_key_path(ORG, 'CONTENT_ADMINISTRATOR', SAM)}"
    entity = {"organization": ORG, "role": "CONTENT_ADMINISTRATOR", "roleAssignee": SAM, "state": "REVOKED"}
    patch = {"patch": {"$set": {"state": "REVOKED"}}}
    partial = headers(state, **{"X-RestLi-Method": "PARTIAL_UPDATE"})

    as_post = httpx.post(path, json=patch, headers=partial)
    as_delete = httpx.delete(path, headers=headers(state))
    unencoded = httpx.put(f"{server.url}/rest/organizationAcls/(organization:{ORG},role:CONTENT_ADMINISTRATOR,"
                          f"roleAssignee:{SAM})", json=entity, headers=headers(state))
    mismatched = httpx.put(path, json={**entity, "roleAssignee": PRIYA}, headers=headers(state))
    put = httpx.put(path, json=entity, headers=headers(state))
    revoked = acls(server, state, state="REVOKED").json()["elements"]
    state.unsupported_answer = UnsupportedAnswer.bad_request
    as_post_400 = httpx.post(path, json=patch, headers=partial)

    assert (as_post.status_code, as_delete.status_code) == (405, 405)
    assert unencoded.status_code == 400 and "URL-encoded" in unencoded.json()["message"]
    assert mismatched.status_code == 400
    assert put.status_code == 204 and put.content == b""
    assert state.acl_state(ORG, "CONTENT_ADMINISTRATOR", SAM) == "REVOKED"
    assert [(e["roleAssignee"], e["state"]) for e in revoked] == [(SAM, "REVOKED")]  # the row still shows
    assert as_post_400.status_code == 400 and "not supported" in as_post_400.json()["message"]
    assert [w.method for w in state.writes] == ["POST", "DELETE", "PUT", "PUT", "PUT", "POST"]
    assert state.writes[4].body == entity and state.writes[0].headers["X-RestLi-Method"] == "PARTIAL_UPDATE"


def test_simulator_partial_update_permissions_and_last_admin(state: LinkedInState, server: RunningServer) -> None:
    state.accepted_method = SimMethod.partial_update
    org = state.organizations[ORG_ID]
    state.add_acl(org, PRIYA, "ANALYST")
    state.add_token("analyst-token", PRIYA)
    state.add_token("read-only-admin", ADMIN_URN, scopes=frozenset({"r_organization_admin"}))
    patch = {"patch": {"$set": {"state": "REVOKED"}}}
    partial = {"X-RestLi-Method": "PARTIAL_UPDATE"}

    def write(role: str, member: str, token: str = TOKEN) -> httpx.Response:
        return httpx.post(f"{server.url}{acl_key_path(ORG, role, member)}", json=patch,
                          headers=headers(state, token, **partial))

    as_put = httpx.put(f"{server.url}{acl_key_path(ORG, 'ANALYST', PRIYA)}", headers=headers(state),
                       json={"organization": ORG, "role": "ANALYST", "roleAssignee": PRIYA, "state": "REVOKED"})
    by_analyst = write("ANALYST", PRIYA, "analyst-token")
    by_read_only = write("ANALYST", PRIYA, "read-only-admin")
    listing_by_analyst = acls(server, state, "analyst-token")
    unknown_key = write("ANALYST", "urn:li:person:nobody")
    last_admin = write("ADMINISTRATOR", ADMIN_URN)
    ok = write("ANALYST", PRIYA)
    again = write("ANALYST", PRIYA)
    state.repeat_revoke = RepeatRevoke.not_found
    again_404 = write("ANALYST", PRIYA)

    assert as_put.status_code == 405
    assert by_analyst.status_code == by_read_only.status_code == listing_by_analyst.status_code == 403
    assert by_analyst.json()["serviceErrorCode"] == 100
    assert by_analyst.json()["message"].startswith("Not enough permissions to access")
    assert unknown_key.status_code == 404
    assert last_admin.status_code == 400 and "last APPROVED ADMINISTRATOR" in last_admin.json()["message"]
    assert state.acl_state(ORG, "ADMINISTRATOR", ADMIN_URN) == "APPROVED"
    assert (ok.status_code, again.status_code, again_404.status_code) == (204, 204, 404)


def test_simulator_throttles_with_429_and_optional_retry_after(state: LinkedInState, server: RunningServer) -> None:
    state.throttle(retry_after=7)
    state.throttle(at_call=2)
    with_hint, without_hint, after = acls(server, state), acls(server, state), acls(server, state)

    assert with_hint.status_code == without_hint.status_code == 429
    assert with_hint.headers["retry-after"] == "7" and "retry-after" not in without_hint.headers
    assert "throttle" in with_hint.json()["message"]
    assert after.status_code == 200


# -- listing -------------------------------------------------------------------------------------


def test_lists_the_demo_organization_with_only_approved_roles(demo: LinkedInState, server: RunningServer,
                                                              waits: list[float]) -> None:
    records = list(demo_connector(server, demo, waits).list_access())

    assert records[0] == ResourceRecord(DEMO_ORG, "linkedin_organization", "Northwind Coffee Roasters")
    seen: set[str] = set()
    for record in records:
        if isinstance(record, GrantRecord):
            assert record.account_id in seen and record.resource_id in seen
        else:
            seen.add(record.external_id)
    accounts = [r for r in records if isinstance(r, AccountRecord)]
    assert all(a.kind is AccountKind.human and a.email is None and a.login is None for a in accounts)
    by_member = {g.account_id: (g.role, g.level) for g in grants(records)}
    assert by_member == {
        ALEX: ("ADMINISTRATOR", Level.admin),
        DANA: ("ADMINISTRATOR", Level.admin),
        SAM: ("CONTENT_ADMINISTRATOR", Level.full_publishing),
        PRIYA: ("ANALYST", Level.read_only),
        JORDAN: ("RECRUITING_POSTER", Level.can_reply),
        TAYLOR: ("DIRECT_SPONSORED_CONTENT_POSTER", Level.full_publishing),
    }  # the REQUESTED admin (newHire07) and the REVOKED intern are not access
    assert waits == []
    [listing] = demo.calls_to("/rest/organizationAcls")
    assert listing.params["state"] == "APPROVED" and listing.headers["X-Restli-Protocol-Version"] == "2.0.0"


def test_role_levels() -> None:
    assert [role_level(r) for r in ("ADMINISTRATOR", "CONTENT_ADMINISTRATOR", "DIRECT_SPONSORED_CONTENT_POSTER",
                                    "RECRUITING_POSTER", "CURATOR", "ANALYST", "LEAD_GEN_FORMS_MANAGER",
                                    "LEAD_CAPTURE_ADMINISTRATOR", "SOMETHING_NEW")] == [
        Level.admin, Level.full_publishing, Level.full_publishing, Level.can_reply, Level.needs_approval,
        Level.read_only, Level.read_only, Level.read_only, Level.read_only]


@pytest.mark.parametrize("include_total", [True, False])
def test_lists_230_acls_across_pages(state: LinkedInState, server: RunningServer, waits: list[float],
                                     include_total: bool) -> None:
    state.include_total = include_total
    seed_big_org(state)

    records = list(connector(server, state, waits).list_access())

    assert len({g.account_id for g in grants(records)}) == len(grants(records)) == BIG
    pages = state.calls_to("/rest/organizationAcls")
    assert [p.params["start"] for p in pages] == ["0", "100", "200"]
    assert all(p.params["count"] == "100" for p in pages)


@pytest.mark.parametrize("include_total", [True, False])
def test_a_server_capping_count_never_truncates_the_listing(state: LinkedInState, server: RunningServer,
                                                            waits: list[float], include_total: bool) -> None:
    state.include_total, state.max_count = include_total, 40
    seed_big_org(state)

    records = list(connector(server, state, waits).list_access())

    assert len(grants(records)) == BIG
    assert [p.params["start"] for p in state.calls_to("/rest/organizationAcls")] == [
        str(s) for s in range(0, BIG, 40)]


@pytest.mark.parametrize(("retry_after", "expected"), [(7, [7.0]), (None, None)])
def test_throttling_mid_listing_is_retried_and_the_listing_completes(
    state: LinkedInState, server: RunningServer, waits: list[float], retry_after: int | None,
    expected: list[float] | None,
) -> None:
    seed_big_org(state)
    state.throttle(at_call=CALL_SECOND_ACL_PAGE, retry_after=retry_after)

    records = list(connector(server, state, waits).list_access())

    assert len(grants(records)) == BIG
    if expected is not None:
        assert waits == expected
    else:  # no hint: the client's backoff (0.5 s, jittered)
        assert len(waits) == 1 and 0.5 <= waits[0] <= 0.625
    throttled, retried = state.requests[CALL_SECOND_ACL_PAGE - 1], state.requests[CALL_SECOND_ACL_PAGE]
    assert throttled.status == 429 and retried.status == 200
    assert retried.params["start"] == throttled.params["start"] == "100"


def test_rate_limit_window_is_waited_out_on_the_simulator_clock(state: LinkedInState, server: RunningServer) -> None:
    seed_big_org(state)
    state.set_rate_limit(2, window_seconds=60)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        state.clock.advance(seconds)

    records = list(connector(server, state, [], sleep=sleep).list_access())

    assert len(grants(records)) == BIG
    assert slept and all(0 < s <= 60 for s in slept)


def test_persistent_throttling_fails_the_source(state: LinkedInState, server: RunningServer,
                                                waits: list[float]) -> None:
    state.throttle(at_call=2, times=50, retry_after=1)
    with pytest.raises(TransientError) as err:
        list(connector(server, state, waits, max_attempts=3).list_access())
    assert err.value.status == 429 and waits == [1.0, 1.0]


def test_expired_token_mid_listing_raises_auth_error(state: LinkedInState, server: RunningServer,
                                                     waits: list[float]) -> None:
    seed_big_org(state)
    state.expire_token_at(CALL_SECOND_ACL_PAGE)
    got: list[AccessRecord] = []

    with pytest.raises(AuthError) as err:
        got.extend(connector(server, state, waits).list_access())

    assert "not an empty listing" in str(err.value) and "has expired" in err.value.detail
    assert err.value.code == 65601 and err.value.status == 401
    assert state.calls == CALL_SECOND_ACL_PAGE and waits == []  # never retried
    assert len(grants(got)) == 100  # a partial listing, ended by the error


def test_token_dying_on_the_clock_between_pages_stops_the_listing(state: LinkedInState, server: RunningServer,
                                                                  waits: list[float]) -> None:
    state.tokens.clear()
    state.add_token(TOKEN, ADMIN_URN, ttl_seconds=60 * 24 * 3600)  # LinkedIn tokens live 60 days
    seed_big_org(state)
    listing = connector(server, state, waits).list_access()
    first = [next(listing) for _ in range(150)]
    state.clock.advance(60 * 24 * 3600)

    with pytest.raises(AuthError):
        list(listing)
    assert len(grants(first)) < BIG


def test_revoked_token_is_an_auth_error_not_an_empty_organization(state: LinkedInState, server: RunningServer,
                                                                  waits: list[float]) -> None:
    state.revoke_token(TOKEN)
    with pytest.raises(AuthError) as err:
        list(connector(server, state, waits).list_access())
    assert err.value.code == 65602


@pytest.mark.parametrize(("kind", "at_call"), [
    (FaultKind.html, 1), (FaultKind.html, CALL_SECOND_ACL_PAGE), (FaultKind.redirect, CALL_SECOND_ACL_PAGE),
    (FaultKind.no_elements, CALL_SECOND_ACL_PAGE), (FaultKind.broken_element, CALL_SECOND_ACL_PAGE),
])
def test_non_json_redirect_or_malformed_answers_fail_the_source(state: LinkedInState, server: RunningServer,
                                                                waits: list[float], kind: FaultKind,
                                                                at_call: int) -> None:
    seed_big_org(state)
    state.inject(kind, at_call=at_call)
    got: list[AccessRecord] = []

    with pytest.raises(MalformedResponseError):
        got.extend(connector(server, state, waits).list_access())

    assert len(grants(got)) < BIG and waits == []
    assert state.calls == at_call


def test_server_error_is_retried_then_fails_the_source(state: LinkedInState, server: RunningServer,
                                                       waits: list[float]) -> None:
    seed_big_org(state, 3)
    state.fail_server(at_call=2)
    assert len(grants(list(connector(server, state, waits).list_access()))) == 3
    assert len(waits) == 1

    state.fail_server(times=50)
    with pytest.raises(TransientError):
        list(connector(server, state, waits, max_attempts=2, backoff=0).list_access())


def test_sunset_version_or_unknown_organization_is_a_stop_error(state: LinkedInState, server: RunningServer,
                                                                waits: list[float]) -> None:
    sunset = month_version(state.clock.now(), 24)
    with pytest.raises(StopError) as version:
        list(connector(server, state, waits, linkedin_version=sunset).list_access())
    with pytest.raises(StopError) as org:
        list(connector(server, state, waits, org=9_999_999).list_access())

    assert "LinkedIn-Version" in str(version.value) and version.value.status == 426
    assert "9999999" in str(org.value)


def test_a_member_who_is_not_an_admin_cannot_list(state: LinkedInState, server: RunningServer,
                                                  waits: list[float]) -> None:
    state.add_acl(state.organizations[ORG_ID], PRIYA, "ANALYST")
    state.add_token("analyst-token", PRIYA)
    with pytest.raises(AuthError) as err:
        list(connector(server, state, waits, "analyst-token").list_access())
    assert err.value.status == 403 and "Not enough permissions" in err.value.detail


def test_token_never_reaches_logs_errors_or_previews(state: LinkedInState, server: RunningServer,
                                                    waits: list[float], caplog: pytest.LogCaptureFixture) -> None:
    seed_big_org(state, 7)
    caplog.set_level(logging.DEBUG)
    state.throttle(at_call=2)
    state.expire_token_at(4)
    li = connector(server, state, waits, page_size=2)

    with pytest.raises(AuthError) as err:
        list(li.list_access())

    assert len(waits) == 1 and "HTTP Request" in caplog.text
    assert TOKEN not in caplog.text and TOKEN not in str(err.value) and TOKEN not in err.value.detail
    assert TOKEN not in repr(li) and TOKEN not in li.preview_revoke(ref(ADMIN_URN, "ADMINISTRATOR", ORG)).render()


def _response(status: int, body: Any = None, text: str = "", **hdrs: str) -> httpx.Response:
    request = httpx.Request("GET", "https://api.linkedin.com/rest/organizationAcls")
    if body is not None:
        return httpx.Response(status, json=body, headers=hdrs, request=request)
    return httpx.Response(status, text=text, headers={"content-type": "text/html", **hdrs}, request=request)


def test_classification_of_linkedin_answers() -> None:
    assert classify_linkedin_error(_response(200, {"elements": []})) is None
    assert isinstance(classify_linkedin_error(_response(401, text="<html>gateway</html>")), AuthError)
    assert isinstance(classify_linkedin_error(_response(403, {"status": 403, "serviceErrorCode": 100,
                                                              "message": "Not enough permissions"})), AuthError)
    throttled = classify_linkedin_error(_response(429, {"status": 429, "message": "throttle"}, **{"Retry-After": "3"}))
    assert isinstance(throttled, TransientError) and throttled.retry_after == 3.0
    assert isinstance(classify_linkedin_error(_response(503, text="<html>down</html>")), TransientError)
    assert isinstance(classify_linkedin_error(_response(404, {"status": 404, "message": "x"})), NotFoundError)
    assert isinstance(classify_linkedin_error(_response(405, {"status": 405, "message": "x"})), UnsupportedMethodError)
    unsupported = _response(400, {"status": 400, "message": "PARTIAL_UPDATE operation is not supported for resource"})
    assert isinstance(classify_linkedin_error(unsupported), UnsupportedMethodError)
    refused = classify_linkedin_error(_response(400, {"status": 400, "serviceErrorCode": 7, "message": "last admin"}))
    assert isinstance(refused, LinkedInRejectedError) and refused.code == 7 and refused.detail == "last admin"
    missing = _response(400, {"status": 400, "code": "VERSION_MISSING", "message": "A version must be present"})
    assert isinstance(classify_linkedin_error(missing), StopError)
    assert isinstance(classify_linkedin_error(_response(426, {"status": 426, "message": "not active"})), StopError)


# -- revoking ------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", list(UnsupportedAnswer))
@pytest.mark.parametrize("accepted", list(SimMethod))
def test_revoke_writes_revoked_with_whichever_method_linkedin_accepts(
    demo: LinkedInState, server: RunningServer, waits: list[float], accepted: SimMethod, answer: UnsupportedAnswer,
) -> None:
    demo.accepted_method, demo.unsupported_answer = accepted, answer
    li = demo_connector(server, demo, waits)

    result = li.revoke(ref(DANA, "ADMINISTRATOR"))
    after = li.preview_revoke(ref(SAM, "CONTENT_ADMINISTRATOR"))
    second = li.revoke(ref(SAM, "CONTENT_ADMINISTRATOR"))

    assert result.outcome is second.outcome is RevokeOutcome.done
    assert demo.acl_state(DEMO_ORG, "ADMINISTRATOR", DANA) == demo.acl_state(DEMO_ORG, "CONTENT_ADMINISTRATOR",
                                                                             SAM) == "REVOKED"
    assert demo.acl_state(DEMO_ORG, "ADMINISTRATOR", ALEX) == "APPROVED"
    writes = [(w.method, w.status) for w in demo.writes]
    if accepted is SimMethod.put:
        assert writes == [("PUT", 204), ("PUT", 204)]
        assert after.method == "PUT" and li.revoke_method is RevokeMethod.put
    else:  # PUT is answered as unsupported once, then the connector sticks to the partial update
        assert writes == [("PUT", int(answer.value)), ("POST", 204), ("POST", 204)]
        assert demo.writes[1].headers["X-RestLi-Method"] == "PARTIAL_UPDATE"
        assert demo.writes[1].body == {"patch": {"$set": {"state": "REVOKED"}}}
        assert after.method == "POST" and "\nX-RestLi-Method: PARTIAL_UPDATE\n" in after.render()


def test_revoke_sends_exactly_the_previewed_request(demo: LinkedInState, server: RunningServer,
                                                   waits: list[float]) -> None:
    li = demo_connector(server, demo, waits)
    preview = li.preview_revoke(ref(DANA, "ADMINISTRATOR"))

    li.revoke(ref(DANA, "ADMINISTRATOR"))

    [write] = demo.writes
    assert preview.method == write.method == "PUT"
    assert preview.url == f"{server.url}{acl_key_path(DEMO_ORG, 'ADMINISTRATOR', DANA)}"
    assert preview.url.endswith("(organization:urn%3Ali%3Aorganization%3A10000001,role:ADMINISTRATOR,"
                                "roleAssignee:urn%3Ali%3Aperson%3ARm4Wc9LpQe)")
    assert preview.body is not None and json.loads(preview.body) == write.body
    assert preview.render().endswith(preview.body)
    assert write.body == {"organization": DEMO_ORG, "role": "ADMINISTRATOR", "roleAssignee": DANA, "state": "REVOKED"}
    assert write.headers["LinkedIn-Version"] == demo.latest_version
    assert DEMO_TOKEN not in preview.render()


@pytest.mark.parametrize("repeat", list(RepeatRevoke))
@pytest.mark.parametrize("accepted", list(SimMethod))
def test_revoking_again_is_already_gone(demo: LinkedInState, server: RunningServer, waits: list[float],
                                        accepted: SimMethod, repeat: RepeatRevoke) -> None:
    demo.accepted_method, demo.repeat_revoke = accepted, repeat
    li = demo_connector(server, demo, waits)
    assert li.revoke(ref(DANA, "ADMINISTRATOR")).outcome is RevokeOutcome.done
    sent = len(demo.writes)

    again = li.revoke(ref(DANA, "ADMINISTRATOR"))

    assert again.outcome is RevokeOutcome.already_gone
    assert len(demo.writes) == sent  # the row was read first; nothing was written twice


@pytest.mark.parametrize("repeat", list(RepeatRevoke))
@pytest.mark.parametrize("accepted", list(SimMethod))
def test_revoke_racing_another_admin_is_not_an_error(demo: LinkedInState, server: RunningServer,
                                                     waits: list[float], accepted: SimMethod,
                                                     repeat: RepeatRevoke) -> None:
    """Someone revokes Sam between our read and our write: LinkedIn's answer decides the outcome."""
    demo.accepted_method, demo.repeat_revoke = accepted, repeat
    key = (DEMO_ORG, "CONTENT_ADMINISTRATOR", SAM)

    def revoke_behind_our_back(response: httpx.Response) -> None:
        if response.request.method == "GET" and demo.acl_state(*key) == "APPROVED":
            demo.set_state(key, "REVOKED", ALEX)

    li = demo_connector(server, demo, waits, on_response=revoke_behind_our_back)
    result = li.revoke(ref(SAM, "CONTENT_ADMINISTRATOR"))

    expected = RevokeOutcome.done if repeat is RepeatRevoke.no_op else RevokeOutcome.already_gone
    assert result.outcome is expected
    assert demo.writes[-1].status == (204 if repeat is RepeatRevoke.no_op else 404)
    assert demo.acl_state(*key) == "REVOKED"


@pytest.mark.parametrize(("member", "role"), [(PRIYA, "ADMINISTRATOR"), (NEW_HIRE, "ADMINISTRATOR"),
                                              (FORMER_INTERN, "CONTENT_ADMINISTRATOR")])
def test_a_role_never_held_requested_or_revoked_is_already_gone_without_a_write(
    demo: LinkedInState, server: RunningServer, waits: list[float], member: str, role: str,
) -> None:
    before = demo.acl_state(DEMO_ORG, role, member)
    result = demo_connector(server, demo, waits).revoke(ref(member, role))

    assert result.outcome is RevokeOutcome.already_gone and demo.writes == []
    assert demo.acl_state(DEMO_ORG, role, member) == before  # a pending request is left alone


def test_revoking_the_last_admin_is_rejected_with_linkedins_message(demo: LinkedInState, server: RunningServer,
                                                                    waits: list[float]) -> None:
    li = demo_connector(server, demo, waits)
    assert li.revoke(ref(DANA, "ADMINISTRATOR")).outcome is RevokeOutcome.done

    with pytest.raises(RejectedError) as err:
        li.revoke(ref(ALEX, "ADMINISTRATOR"))

    assert "last APPROVED ADMINISTRATOR" in str(err.value) and "last APPROVED ADMINISTRATOR" in err.value.detail
    assert err.value.status == 400
    assert demo.acl_state(DEMO_ORG, "ADMINISTRATOR", ALEX) == "APPROVED"
    assert demo.writes[-1].status == 400


def test_a_write_answered_ok_but_not_applied_is_never_done(demo: LinkedInState, server: RunningServer,
                                                          waits: list[float]) -> None:
    demo.inject(FaultKind.lost_write, at_call=2)  # call 1 reads the row, call 2 is the write
    with pytest.raises(RejectedError) as err:
        demo_connector(server, demo, waits).revoke(ref(DANA, "ADMINISTRATOR"))
    assert "still holds" in str(err.value)
    assert demo.acl_state(DEMO_ORG, "ADMINISTRATOR", DANA) == "APPROVED" and demo.writes[0].status == 204


def test_revoke_with_a_dead_token_is_an_auth_error_not_already_gone(demo: LinkedInState, server: RunningServer,
                                                                    waits: list[float]) -> None:
    demo.expire_token()
    with pytest.raises(AuthError):
        demo_connector(server, demo, waits).revoke(ref(DANA, "ADMINISTRATOR"))
    assert demo.writes == [] and demo.acl_state(DEMO_ORG, "ADMINISTRATOR", DANA) == "APPROVED"


def test_revoke_with_a_read_only_scope_is_an_auth_error(demo: LinkedInState, server: RunningServer,
                                                        waits: list[float]) -> None:
    demo.add_token("read-scope", ALEX, scopes=frozenset({"r_organization_admin"}))
    with pytest.raises(AuthError) as err:
        connector(server, demo, waits, "read-scope", DEMO_ORG_ID).revoke(ref(DANA, "ADMINISTRATOR"))
    assert err.value.status == 403 and demo.writes[0].status == 403
    assert demo.acl_state(DEMO_ORG, "ADMINISTRATOR", DANA) == "APPROVED"


def test_no_accepted_method_is_a_stop_error(demo: LinkedInState, server: RunningServer, waits: list[float]) -> None:
    demo.accepted_method = SimMethod.partial_update
    li = demo_connector(server, demo, waits, revoke_methods=(RevokeMethod.put,))
    with pytest.raises(StopError) as err:
        li.revoke(ref(DANA, "ADMINISTRATOR"))
    assert "PUT" in str(err.value) and demo.acl_state(DEMO_ORG, "ADMINISTRATOR", DANA) == "APPROVED"
    assert li.revoke_method is RevokeMethod.put


def test_revoke_refuses_grants_it_does_not_handle(demo: LinkedInState, server: RunningServer,
                                                  waits: list[float]) -> None:
    li = demo_connector(server, demo, waits)
    with pytest.raises(StopError):
        li.revoke(ref(DANA, "ADMINISTRATOR", org="urn:li:organization:42"))
    with pytest.raises(StopError):
        li.revoke(GrantRef(DANA, DEMO_ORG, "ADMINISTRATOR", resource_kind="facebook_page"))
    with pytest.raises(RejectedError):
        li.preview_revoke(ref("urn:li:person:x,role:ANALYST", "ADMINISTRATOR"))
    with pytest.raises(RejectedError):
        li.preview_revoke(ref(DANA, "ADMINISTRATOR)"))
    assert demo.requests == []
