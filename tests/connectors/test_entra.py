"""The Entra connector against the Graph + token simulator over HTTPS on loopback, and the simulator.

The simulator is tested first: one that accepted any secret or token, or ignored ``$top``, would
let a broken connector pass every other test here.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from accessward.connectors.entra import (
    USER_SELECT,
    DeltaResyncRequired,
    EntraSource,
    RemovedPerson,
)
from accessward.connectors.errors import (
    AuthError,
    MalformedResponseError,
    NotFoundError,
    RejectedError,
    StopError,
    TransientError,
)
from accessward.connectors.records import PersonKind, PersonRecord, PersonStatus, RevokeOutcome
from accessward.sandbox.graph import DEMO_CLIENT_ID, DEMO_SECRET, DEMO_TENANT, GRAPH_SCOPE, create_app, demo_state
from accessward.sandbox.graph_state import FaultKind, GraphState
from accessward.sandbox.tls import RunningTlsServer, TestCA, start_tls_app

TENANT = "0b5c7a2e-1111-4d2e-9a6b-3c4d5e6f7a8b"
CLIENT = "5f0e9d8c-2222-4b7a-8c6d-1e2f3a4b5c6d"
SECRET = "s3cr3t~ENTRA~client~value"
BIG = 2500


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> Iterator[TestCA]:
    with TestCA() as authority:
        yield authority


@pytest.fixture
def state() -> GraphState:
    st = GraphState(TENANT)
    st.add_app(CLIENT, SECRET)
    return st


@pytest.fixture
def server(state: GraphState, ca: TestCA) -> Iterator[RunningTlsServer]:
    with start_tls_app(create_app(state), ca) as srv:
        yield srv


@pytest.fixture
def demo() -> GraphState:
    return demo_state()


@pytest.fixture
def demo_server(demo: GraphState, ca: TestCA) -> Iterator[RunningTlsServer]:
    with start_tls_app(create_app(demo), ca) as srv:
        yield srv


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def http(ca: TestCA) -> Iterator[httpx.Client]:
    with httpx.Client(verify=ssl.create_default_context(cafile=ca.ca_file)) as client:
        yield client


def source(srv: RunningTlsServer, ca: TestCA, waits: list[float], *, tenant: str = TENANT, client: str = CLIENT,
           secret: str = SECRET, **kw: Any) -> EntraSource:
    kw.setdefault("sleep", waits.append)
    kw.setdefault("verify", ca.ca_file)
    return EntraSource("entra-test", tenant, client, secret, authority_host=srv.url, graph_url=f"{srv.url}/v1.0",
                       **kw)


def demo_source(srv: RunningTlsServer, ca: TestCA, waits: list[float], **kw: Any) -> EntraSource:
    return source(srv, ca, waits, tenant=DEMO_TENANT, client=DEMO_CLIENT_ID, secret=DEMO_SECRET, **kw)


def seed(state: GraphState, n: int) -> list[str]:
    return [state.add_user(f"User {i:04d}", f"user{i:04d}@contoso.example", employeeId=f"E{i:05d}").id
            for i in range(n)]


def token_for(http: httpx.Client, srv: RunningTlsServer, tenant: str = TENANT, **form: str) -> httpx.Response:
    data = {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET, "scope": GRAPH_SCOPE}
    data.update(form)
    return http.post(f"{srv.url}/{tenant}/oauth2/v2.0/token", data=data)


def bearer(http: httpx.Client, srv: RunningTlsServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(http, srv).json()['access_token']}"}


def by_upn(people: list[PersonRecord]) -> dict[str, PersonRecord]:
    return {p.upn or "": p for p in people}


# -- the simulator itself ------------------------------------------------------------------------


def test_simulator_token_endpoint_validates_client_secret_scope_and_tenant(
        server: RunningTlsServer, http: httpx.Client) -> None:
    ok = token_for(http, server)
    assert ok.status_code == 200
    assert ok.json()["token_type"] == "Bearer" and ok.json()["expires_in"] == 3599 and ok.json()["access_token"]

    bad_secret = token_for(http, server, client_secret="wrong")
    assert bad_secret.status_code == 401
    assert bad_secret.json()["error"] == "invalid_client"
    assert bad_secret.json()["error_description"].startswith("AADSTS7000215:")
    assert bad_secret.json()["error_codes"] == [7000215]

    unknown_app = token_for(http, server, client_id="00000000-0000-0000-0000-000000000000")
    assert (unknown_app.status_code, unknown_app.json()["error"]) == (400, "unauthorized_client")
    bad_scope = token_for(http, server, scope="User.Read.All")
    assert (bad_scope.status_code, bad_scope.json()["error"]) == (400, "invalid_scope")
    bad_grant = token_for(http, server, grant_type="password")
    assert (bad_grant.status_code, bad_grant.json()["error"]) == (400, "unsupported_grant_type")
    other_tenant = token_for(http, server, tenant="not-our-tenant")
    assert other_tenant.status_code == 400

    discovery = http.get(f"{server.url}/{TENANT}/v2.0/.well-known/openid-configuration").json()
    assert discovery["token_endpoint"] == f"{server.url}/{TENANT}/oauth2/v2.0/token"
    assert discovery["authorization_endpoint"] and discovery["issuer"]
    assert http.get(f"{server.url}/nope/v2.0/.well-known/openid-configuration").status_code == 400


def test_simulator_refuses_missing_unknown_and_expired_bearer_tokens(
        state: GraphState, server: RunningTlsServer, http: httpx.Client) -> None:
    seed(state, 3)
    users = f"{server.url}/v1.0/users"
    missing = http.get(users)
    unknown = http.get(users, headers={"Authorization": "Bearer not-a-token"})
    headers = bearer(http, server)
    ok = http.get(users, headers=headers)
    state.clock.advance(3600)
    expired = http.get(users, headers=headers)

    for answer in (missing, unknown, expired):
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"
        assert answer.json()["error"]["innerError"]["request-id"]
    assert ok.status_code == 200
    assert expired.json()["error"]["message"] == "Lifetime validation failed, the token is expired."
    assert expired.headers["WWW-Authenticate"].startswith("Bearer ")


def test_simulator_pages_users_with_select_top_and_skiptoken(
        state: GraphState, server: RunningTlsServer, http: httpx.Client) -> None:
    seed(state, 250)
    headers = bearer(http, server)
    sizes, ids = [], []
    body = http.get(f"{server.url}/v1.0/users", params={"$select": "id,displayName", "$top": "100"},
                    headers=headers).json()
    while True:
        sizes.append(len(body["value"]))
        ids += [u["id"] for u in body["value"]]
        assert all(set(u) == {"id", "displayName"} for u in body["value"])
        if "@odata.nextLink" not in body:
            break
        assert "$skiptoken=" in body["@odata.nextLink"]
        body = http.get(body["@odata.nextLink"], headers=headers).json()
    assert sizes == [100, 100, 50]
    assert len(set(ids)) == 250

    default = http.get(f"{server.url}/v1.0/users", headers=headers).json()
    assert len(default["value"]) == 100
    assert "accountEnabled" not in default["value"][0] and "displayName" in default["value"][0]
    too_many = http.get(f"{server.url}/v1.0/users", params={"$top": "1000"}, headers=headers)
    assert (too_many.status_code, too_many.json()["error"]["code"]) == (400, "Request_BadRequest")
    unknown = http.get(f"{server.url}/v1.0/users", params={"$select": "id,shoeSize"}, headers=headers)
    assert unknown.status_code == 400 and "shoeSize" in unknown.json()["error"]["message"]
    gone = http.get(f"{server.url}/v1.0/users/{'0' * 8}-0000-0000-0000-{'0' * 12}", headers=headers)
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "Request_ResourceNotFound")


def test_simulator_enforces_application_permissions(
        state: GraphState, server: RunningTlsServer, http: httpx.Client) -> None:
    user_id = seed(state, 1)[0]
    state.apps[CLIENT].roles = frozenset({"User.Read.All"})
    headers = bearer(http, server)
    assert http.get(f"{server.url}/v1.0/users", headers=headers).status_code == 200
    methods = http.get(f"{server.url}/v1.0/users/{user_id}/authentication/methods", headers=headers)
    assert (methods.status_code, methods.json()["error"]["code"]) == (403, "Authorization_RequestDenied")
    patch = http.patch(f"{server.url}/v1.0/users/{user_id}", json={"accountEnabled": False}, headers=headers)
    assert patch.status_code == 403
    assert state.user(user_id).props["accountEnabled"] is True
    assert [(w.action, w.status) for w in state.writes] == [("update", 403)]


def test_simulator_writes_answer_as_documented(demo: GraphState, demo_server: RunningTlsServer,
                                               http: httpx.Client) -> None:
    token = http.post(f"{demo_server.url}/{DEMO_TENANT}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_SECRET,
        "scope": GRAPH_SCOPE}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    ana = next(u for u in demo.users.values() if u.props["displayName"] == "Ana Admin")
    base = f"{demo_server.url}/v1.0/users/{ana.id}"
    revoke = http.post(f"{base}/revokeSignInSessions", headers=headers)
    again = http.post(f"{base}/revokeSignInSessions", headers=headers)
    assert revoke.status_code == again.status_code == 200 and revoke.json()["value"] is True
    patch = http.patch(base, json={"accountEnabled": False}, headers=headers)
    patch_again = http.patch(base, json={"accountEnabled": False}, headers=headers)
    assert patch.status_code == patch_again.status_code == 204
    method = next(m for m in ana.methods if m.segment == "microsoftAuthenticatorMethods")
    delete = http.delete(f"{base}/authentication/microsoftAuthenticatorMethods/{method.id}", headers=headers)
    delete_again = http.delete(f"{base}/authentication/microsoftAuthenticatorMethods/{method.id}", headers=headers)
    assert (delete.status_code, delete_again.status_code) == (204, 404)
    assert [(w.action, w.status) for w in demo.writes] == [
        ("revokeSignInSessions", 200), ("revokeSignInSessions", 200), ("update", 204), ("update", 204),
        ("deleteMethod", 204), ("deleteMethod", 404)]


# -- listing -------------------------------------------------------------------------------------


def test_lists_2500_users_over_pages_with_one_token(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    ids = seed(state, BIG)
    with source(server, ca, waits) as src:
        people = list(src.list_people())

    assert sorted(p.source_key for p in people) == sorted(ids)
    pages = state.calls_to("/v1.0/users")
    assert len(pages) == 3 and all(r.status == 200 for r in pages)
    assert pages[0].params == {"$select": USER_SELECT, "$top": "999"}
    assert state.token_requests == 1  # msal's cache served the token for pages 2 and 3
    assert waits == []


def test_maps_status_kind_leave_date_and_emails(demo: GraphState, demo_server: RunningTlsServer, ca: TestCA,
                                                waits: list[float]) -> None:
    with demo_source(demo_server, ca, waits) as src:
        people = by_upn(list(src.list_people()))

    ana, sam = people["ana.admin@contoso.example"], people["sam.social@contoso.example"]
    assert (ana.status, ana.kind, ana.employee_id, ana.department) == (
        PersonStatus.active, PersonKind.employee, "E1001", "Marketing")
    assert ana.source_key in demo.users and ana.display_name == "Ana Admin"
    assert sam.emails == ("sam.social@contoso.example", "sam@contoso.example")
    assert people["lee.leaver@contoso.example"].status is PersonStatus.suspended
    pat = people["pat.past@contoso.example"]
    assert pat.status is PersonStatus.terminated and pat.leave_date is not None
    assert pat.leave_date < datetime.now(UTC)
    fay = people["fay.future@contoso.example"]
    assert fay.status is PersonStatus.active and fay.leave_date is not None and fay.leave_date > datetime.now(UTC)
    guest = next(p for p in people.values() if "#EXT#" in (p.upn or ""))
    assert guest.kind is PersonKind.agency and guest.emails == ("gus@agency.example",)
    assert people["cory.contractor@contoso.example"].kind is PersonKind.contractor


def test_throttling_mid_listing_waits_retry_after_and_completes(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, BIG)
    state.throttle(at_call=2, retry_after=7)
    state.unavailable(at_call=4)  # 503 without Retry-After: exponential backoff
    with source(server, ca, waits) as src:
        people = list(src.list_people())

    assert len(people) == BIG
    assert [r.status for r in state.calls_to("/v1.0/users")] == [200, 429, 200, 503, 200]
    assert waits[0] == 7.0
    assert len(waits) == 2 and 0 < waits[1] < 7


def test_throttling_beyond_attempts_fails_the_listing(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, BIG)
    state.throttle(at_call=2, times=10, retry_after=1)
    with source(server, ca, waits, max_attempts=3) as src, pytest.raises(TransientError) as info:
        list(src.list_people())
    assert info.value.status == 429 and info.value.retry_after == 1.0
    assert waits == [1.0, 1.0]


def test_token_expiring_mid_listing_is_renewed_transparently(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, BIG)
    state.expire_token_at(2)
    with source(server, ca, waits) as src:
        people = list(src.list_people())

    assert len(people) == BIG
    assert [r.status for r in state.calls_to("/v1.0/users")] == [200, 401, 200, 200]
    assert state.token_requests == 2  # the 401 dropped msal's cached token and a new one was fetched
    assert waits == []


def test_short_token_lifetime_is_renewed_by_msal_before_expiry(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, BIG)
    state.token_lifetime = 240  # under msal's five-minute margin: every call gets a fresh token
    with source(server, ca, waits) as src:
        assert len(list(src.list_people())) == BIG
    assert [r.status for r in state.calls_to("/v1.0/users")] == [200, 200, 200]
    assert state.token_requests == 4  # the permission check at the start, then one per page


def test_revoked_client_secret_stops_the_source_with_auth_error(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, BIG)
    with source(server, ca, waits) as src:
        assert len(list(src.list_people())) == BIG
        state.rotate_secret(CLIENT)
        state.expire_tokens()
        with pytest.raises(AuthError) as info:
            list(src.list_people())

    assert info.value.code == "AADSTS7000215"
    assert "secret" in str(info.value)
    assert SECRET not in f"{info.value} {info.value.detail} {src!r}"
    assert state.calls_to("/v1.0/users")[-1].status == 401


def test_wrong_secret_from_the_start_makes_no_graph_call(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, 5)
    with source(server, ca, waits, secret="not-the-secret") as src, pytest.raises(AuthError):
        list(src.list_people())
    assert state.calls == 0


def test_a_token_graph_refuses_twice_is_an_auth_error(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, 5)
    state.token_lifetime = 0  # every token is already expired when Graph sees it
    with source(server, ca, waits) as src, pytest.raises(AuthError) as info:
        list(src.list_people())
    assert info.value.status == 401 and info.value.code == "InvalidAuthenticationToken"
    assert [r.status for r in state.calls_to("/v1.0/users")] == [401, 401]


def test_token_endpoint_outage_is_transient(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, 5)
    state.token_endpoint_failures = 1
    with source(server, ca, waits) as src, pytest.raises(TransientError):
        list(src.list_people())
    assert state.calls == 0


def test_unknown_tenant_and_untrusted_certificate_stop_the_source(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    with source(server, ca, waits, tenant="another-tenant") as src, pytest.raises(StopError):
        list(src.list_people())
    with source(server, ca, waits, verify=True) as src, pytest.raises(StopError) as info:
        list(src.list_people())
    assert "TLS" in str(info.value)


@pytest.mark.parametrize("fault", [FaultKind.malformed, FaultKind.html])
def test_a_malformed_page_fails_the_listing(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float], fault: FaultKind) -> None:
    seed(state, BIG)
    state.inject(fault, at_call=2)
    seen: list[PersonRecord] = []
    with source(server, ca, waits) as src, pytest.raises(MalformedResponseError):
        for person in src.list_people():
            seen.append(person)
    assert len(seen) == 999  # the first page came through; the listing then failed, never ended short


# -- delta ---------------------------------------------------------------------------------------


def test_delta_second_round_yields_only_changes_and_removals(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    ids = seed(state, 30)
    state.delta_page_size = 7  # several pages per round
    with source(server, ca, waits) as src:
        first = src.list_changes(None)
        assert first.full
        initial = list(first)
        link = first.delta_link

        state.update_user(ids[0], accountEnabled=False)
        state.update_user(ids[1], employeeLeaveDateTime=datetime.now(UTC) - timedelta(days=1))
        state.delete_user(ids[2])
        state.delete_user(ids[3], permanent=True)
        newcomer = state.add_user("New Person", "new.person@contoso.example").id

        second = src.list_changes(link)
        changes = list(second)
        third = src.list_changes(second.delta_link)
        nothing = list(third)

    assert sorted(p.source_key for p in initial if isinstance(p, PersonRecord)) == sorted(ids)
    assert not second.full
    people = {c.source_key: c for c in changes if isinstance(c, PersonRecord)}
    removed = {c.source_key: c for c in changes if isinstance(c, RemovedPerson)}
    assert set(people) == {ids[0], ids[1], newcomer}
    assert people[ids[0]].status is PersonStatus.suspended
    assert people[ids[1]].status is PersonStatus.terminated
    assert people[newcomer].upn == "new.person@contoso.example"
    assert removed == {ids[2]: RemovedPerson(ids[2], permanent=False), ids[3]: RemovedPerson(ids[3], permanent=True)}
    assert nothing == []
    assert len(state.calls_to("/users/delta")) > 5  # 30 users at 7 a page, then the later rounds


def test_delta_link_is_only_available_after_the_whole_round(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, 10)
    state.delta_page_size = 3
    with source(server, ca, waits) as src:
        run = src.list_changes(None)
        items = iter(run)
        next(items)
        with pytest.raises(RuntimeError):
            _ = run.delta_link
        list(items)
        assert "$deltatoken=" in run.delta_link


@pytest.mark.parametrize("status", [400, 410])
def test_stale_delta_link_signals_a_full_sync(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float], status: int) -> None:
    seed(state, 10)
    state.stale_delta_status = status
    with source(server, ca, waits) as src:
        first = src.list_changes(None)
        list(first)
        state.clock.advance(timedelta(days=8).total_seconds())
        with pytest.raises(DeltaResyncRequired) as info:
            list(src.list_changes(first.delta_link))
        assert info.value.kind == "resync" and info.value.code == "syncStateNotFound"
        assert info.value.status == status

        restart = src.list_changes(None)  # what the caller does next: a full round
        assert len([p for p in restart if isinstance(p, PersonRecord)]) == 10
        state.invalidate_delta_tokens()  # a reset, not an age
        with pytest.raises(DeltaResyncRequired):
            list(src.list_changes(restart.delta_link))


def test_delta_link_to_another_host_is_refused(server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    with source(server, ca, waits) as src, pytest.raises(StopError):
        src.list_changes("https://attacker.example/v1.0/users/delta?$deltatoken=abc")


def test_delta_round_without_delta_link_is_malformed(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, 3)
    state.inject(FaultKind.malformed, route="/users/delta")
    with source(server, ca, waits) as src, pytest.raises(MalformedResponseError):
        list(src.list_changes(None))


# -- IdP actions ---------------------------------------------------------------------------------


def _id(state: GraphState, name: str) -> str:
    return next(u.id for u in state.users.values() if u.props["displayName"] == name)


def test_mfa_methods_tell_second_factors_from_passwords(
        demo: GraphState, demo_server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    with demo_source(demo_server, ca, waits) as src:
        ana = src.mfa_methods(_id(demo, "Ana Admin"))
        assert sorted((m.type, m.is_mfa) for m in ana) == [
            ("microsoftAuthenticatorAuthenticationMethod", True), ("passwordAuthenticationMethod", False)]
        phone = next(m for m in ana if m.is_mfa)
        assert phone.display_name == "Ana's iPhone" and phone.segment == "microsoftAuthenticatorMethods"
        assert src.has_mfa(_id(demo, "Ana Admin")) is True
        assert src.has_mfa(_id(demo, "Sam Social")) is False
        assert src.has_mfa(_id(demo, "Gus Guest")) is False  # an email method is not a second factor
        assert src.has_mfa(_id(demo, "Cory Contractor")) is True
        with pytest.raises(NotFoundError):
            src.mfa_methods("00000000-0000-0000-0000-000000000000")


def test_remove_authenticator_then_repeat_is_already_gone(
        demo: GraphState, demo_server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    lee = _id(demo, "Lee Leaver")
    method = next(m for m in demo.user(lee).methods if m.segment == "microsoftAuthenticatorMethods")
    with demo_source(demo_server, ca, waits) as src:
        preview = src.preview_remove_mfa_method(lee, method.id)
        first = src.remove_authenticator(lee, method.id)
        again = src.remove_authenticator(lee, method.id)
        with pytest.raises(NotFoundError):
            src.remove_authenticator("00000000-0000-0000-0000-000000000000", method.id)

    assert preview.render() == (f"DELETE {demo_server.url}/v1.0/users/{lee}/authentication/"
                                f"microsoftAuthenticatorMethods/{method.id}")
    assert first.outcome is RevokeOutcome.done
    assert again.outcome is RevokeOutcome.already_gone
    assert [m.segment for m in demo.user(lee).methods] == ["passwordMethods"]
    assert [(w.action, w.user_id, w.status) for w in demo.writes] == [
        ("deleteMethod", lee, 204), ("deleteMethod", lee, 404),
        ("deleteMethod", "00000000-0000-0000-0000-000000000000", 404)]


def test_revoke_sessions_and_disable(demo: GraphState, demo_server: RunningTlsServer, ca: TestCA,
                                     waits: list[float]) -> None:
    pat, lee = _id(demo, "Pat Past"), _id(demo, "Lee Leaver")
    unknown = "00000000-0000-0000-0000-000000000000"
    with demo_source(demo_server, ca, waits) as src:
        assert src.revoke_sessions(pat).outcome is RevokeOutcome.done
        assert src.revoke_sessions(pat).outcome is RevokeOutcome.done  # Graph cannot tell: done again
        assert src.disable(pat).outcome is RevokeOutcome.done
        assert src.disable(pat).outcome is RevokeOutcome.already_gone
        assert src.disable(lee).outcome is RevokeOutcome.already_gone  # disabled before we came
        for action in (src.revoke_sessions, src.disable):
            with pytest.raises(NotFoundError):
                action(unknown)
        assert src.preview_disable(pat).render() == (f"PATCH {demo_server.url}/v1.0/users/{pat}\n"
                                                     'Content-Type: application/json\n\n{"accountEnabled": false}')

    assert demo.user(pat).props["accountEnabled"] is False
    assert demo.user(pat).sessions_revoked_at is not None
    assert [(w.action, w.user_id, w.body, w.status) for w in demo.writes] == [
        ("revokeSignInSessions", pat, {}, 200), ("revokeSignInSessions", pat, {}, 200),
        ("update", pat, {"accountEnabled": False}, 204), ("revokeSignInSessions", unknown, {}, 404)]


def test_missing_write_permission_is_an_auth_error(
        demo: GraphState, demo_server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    demo.apps[DEMO_CLIENT_ID].roles = frozenset({"User.Read.All", "UserAuthenticationMethod.Read.All"})
    ana = _id(demo, "Ana Admin")
    method = next(m for m in demo.user(ana).methods if m.segment == "microsoftAuthenticatorMethods")
    with demo_source(demo_server, ca, waits) as src:
        with pytest.raises(AuthError) as info:
            src.remove_authenticator(ana, method.id)
        assert info.value.status == 403 and info.value.code == "Authorization_RequestDenied"
        with pytest.raises(AuthError):
            src.disable(ana)
    assert method in demo.user(ana).methods


def test_a_removal_graph_refuses_with_404_while_listing_the_method_is_rejected(
        demo: GraphState, demo_server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    """A 404 on DELETE is only "already gone" if the method is really no longer listed."""
    ana = _id(demo, "Ana Admin")
    method = next(m for m in demo.user(ana).methods if m.segment == "microsoftAuthenticatorMethods")
    with demo_source(demo_server, ca, waits) as src, pytest.raises(RejectedError):
        # Addressed with the wrong kind: Graph answers 404, yet the method is still there.
        src.remove_mfa_method(ana, method.id, "fido2Methods")
    assert method in demo.user(ana).methods


def test_connector_does_not_leak_the_secret_or_token(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, 3)
    state.token_lifetime = 0
    with source(server, ca, waits) as src, pytest.raises(AuthError) as info:
        list(src.list_people())
    issued = list(state.tokens)
    text = json.dumps([str(info.value), info.value.detail, repr(src)])
    assert SECRET not in text
    assert not any(token in text for token in issued)


# -- guests and leave dates ---------------------------------------------------------------------------


def test_simulator_revoke_sessions_ends_no_guest_session(demo: GraphState, demo_server: RunningTlsServer,
                                                         ca: TestCA, waits: list[float]) -> None:
    gus = next(u.id for u in demo.users.values() if u.props.get("userType") == "Guest")
    with demo_source(demo_server, ca, waits) as src:
        assert src.revoke_sessions(gus).outcome is RevokeOutcome.done  # Graph answers value: true ...
        assert src.is_guest(gus)
    assert demo.user(gus).sessions_revoked_at is None  # ... and ends nothing


def test_a_guest_is_disabled_or_deleted_never_told_sessions_ended(demo: GraphState, demo_server: RunningTlsServer,
                                                                 ca: TestCA, waits: list[float]) -> None:
    from accessward.connectors.idp import EntraIdp

    gus = next(u.id for u in demo.users.values() if u.props.get("userType") == "Guest")
    ana = next(u.id for u in demo.users.values() if u.props.get("displayName") == "Ana Admin")
    with demo_source(demo_server, ca, waits) as src:
        [step] = EntraIdp(src).offboarding_steps(gus, disable=False)
        result = step.run()
        member = [s.kind for s in EntraIdp(src).offboarding_steps(ana, disable=True)]
        [removal] = EntraIdp(src, guests="delete").lost_device_steps(gus)
        removed = removal.run()
    assert step.kind == "disable_guest" and step.preview.method == "PATCH"
    assert result.outcome is RevokeOutcome.done and "sessions were not ended" in result.detail
    assert "sessions revoked" not in result.detail
    assert member == ["disable_account", "end_sessions"]  # disable first
    assert removal.kind == "remove_guest" and removed.outcome is RevokeOutcome.done
    assert gus not in demo.users
    assert not [w for w in demo.writes if w.action == "revokeSignInSessions"]


def test_leave_dates_need_the_lifecycle_permission_checked_from_the_token(
        state: GraphState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, 3)
    app = state.add_app(roles={"User.Read.All"})
    with EntraSource("entra-test", state.tenant_id, app.client_id, app.secret, authority_host=server.url,
                     graph_url=f"{server.url}/v1.0", verify=ca.ca_file, sleep=waits.append) as src:
        with pytest.raises(StopError) as err:
            list(src.list_people())
        with pytest.raises(StopError):
            src.list_changes(None)
        assert "User-LifeCycleInfo.Read.All" in str(err.value)
        assert state.calls_to("/v1.0/users") == []  # failed before reading anyone
    with EntraSource("entra-test", state.tenant_id, app.client_id, app.secret, authority_host=server.url,
                     graph_url=f"{server.url}/v1.0", verify=ca.ca_file, sleep=waits.append,
                     leave_dates=False) as src:
        assert len(list(src.list_people())) == 3
    assert "employeeLeaveDateTime" not in state.calls_to("/v1.0/users")[0].params["$select"]


def test_without_the_permission_the_simulator_hides_leave_dates(demo: GraphState, demo_server: RunningTlsServer,
                                                                ca: TestCA, http: httpx.Client) -> None:
    app = demo.add_app(roles={"User.Read.All"})
    form = {"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": app.secret,
            "scope": "https://graph.microsoft.com/.default"}
    token = http.post(f"{demo_server.url}/{demo.tenant_id}/oauth2/v2.0/token", data=form).json()["access_token"]
    users = http.get(f"{demo_server.url}/v1.0/users", params={"$select": "displayName,employeeLeaveDateTime"},
                     headers={"Authorization": f"Bearer {token}"}).json()["value"]
    assert {u["displayName"]: u["employeeLeaveDateTime"] for u in users}["Pat Past"] is None
