"""The Keycloak connector (python-keycloak 7.x) against the admin API simulator over HTTPS on loopback.

The simulator is tested first: one that accepted any secret or token, or ignored ``first``/``max``,
would let a broken connector pass every other test here.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from accessward.connectors.errors import (
    AuthError,
    MalformedResponseError,
    NotFoundError,
    RejectedError,
    StopError,
    TransientError,
)
from accessward.connectors.keycloak import IdpPosture, KeycloakSource
from accessward.connectors.records import PersonKind, PersonStatus, RevokeOutcome
from accessward.sandbox.keycloak import (
    DEMO_CLIENT_ID,
    DEMO_REALM,
    DEMO_SECRET,
    LDAP_READ_ONLY_REFUSAL,
    PROFILE_REFUSAL,
    FaultKind,
    KeycloakState,
    create_app,
    demo_state,
)
from accessward.sandbox.tls import RunningTlsServer, TestCA, start_tls_app

REALM = "brand"
CLIENT = "accessward-sync"
SECRET = "kc~s3cr3t~client~value"
BIG = 2500
UNKNOWN = "00000000-0000-0000-0000-000000000000"


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> Iterator[TestCA]:
    with TestCA() as authority:
        yield authority


@pytest.fixture
def state() -> KeycloakState:
    st = KeycloakState(REALM)
    st.add_client(CLIENT, SECRET)
    return st


@pytest.fixture
def server(state: KeycloakState, ca: TestCA) -> Iterator[RunningTlsServer]:
    with start_tls_app(create_app(state), ca) as srv:
        yield srv


@pytest.fixture
def demo() -> KeycloakState:
    return demo_state()


@pytest.fixture
def demo_server(demo: KeycloakState, ca: TestCA) -> Iterator[RunningTlsServer]:
    with start_tls_app(create_app(demo), ca) as srv:
        yield srv


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def http(ca: TestCA) -> Iterator[httpx.Client]:
    with httpx.Client(verify=ssl.create_default_context(cafile=ca.ca_file)) as client:
        yield client


def source(srv: RunningTlsServer, ca: TestCA, waits: list[float], *, client: str = CLIENT, secret: str = SECRET,
           realm: str = REALM, **kw: Any) -> KeycloakSource:
    kw.setdefault("sleep", waits.append)
    kw.setdefault("verify", ca.ca_file)
    return KeycloakSource("keycloak-test", srv.url, realm, client, secret, **kw)


def demo_source(srv: RunningTlsServer, ca: TestCA, waits: list[float], **kw: Any) -> KeycloakSource:
    return source(srv, ca, waits, client=DEMO_CLIENT_ID, secret=DEMO_SECRET, realm=DEMO_REALM, **kw)


def seed(state: KeycloakState, n: int) -> list[str]:
    return [state.add_user(f"user{i:04d}", email=f"user{i:04d}@contoso.example",
                           attributes={"employeeNumber": [f"E{i:05d}"]}).id for i in range(n)]


def token(http: httpx.Client, srv: RunningTlsServer, **form: str) -> httpx.Response:
    data = {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET}
    data.update(form)
    return http.post(f"{srv.url}/realms/{REALM}/protocol/openid-connect/token", data=data)


def bearer(http: httpx.Client, srv: RunningTlsServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(http, srv).json()['access_token']}"}


def uid(state: KeycloakState, username: str) -> str:
    return next(u.id for u in state.users.values() if u.username == username)


# -- the simulator itself ------------------------------------------------------------------------


def test_simulator_token_endpoint_checks_client_and_secret(server: RunningTlsServer, http: httpx.Client) -> None:
    ok = token(http, server)
    assert ok.status_code == 200
    assert ok.json()["expires_in"] == 300 and ok.json()["token_type"] == "Bearer"
    assert "refresh_token" not in ok.json()
    for bad in (token(http, server, client_secret="wrong"), token(http, server, client_id="nobody")):
        assert bad.status_code == 401
        assert bad.json() == {"error": "unauthorized_client",
                              "error_description": "Invalid client or Invalid client credentials"}
    grant = token(http, server, grant_type="password")
    assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")


def test_simulator_refuses_missing_unknown_expired_tokens_and_missing_roles(
        state: KeycloakState, server: RunningTlsServer, http: httpx.Client) -> None:
    seed(state, 2)
    users = f"{server.url}/admin/realms/{REALM}/users"
    headers = bearer(http, server)
    assert http.get(users, headers=headers).status_code == 200
    state.clock.advance(301)
    for answer in (http.get(users), http.get(users, headers={"Authorization": "Bearer nope"}),
                   http.get(users, headers=headers)):
        assert answer.status_code == 401 and "invalid_token" in answer.headers["WWW-Authenticate"]
    state.clients[(REALM, CLIENT)].roles = frozenset({"view-users"})
    assert http.get(users, headers=bearer(http, server)).status_code == 403


def test_simulator_pages_counts_and_answers_keycloak_errors(
        state: KeycloakState, server: RunningTlsServer, http: httpx.Client) -> None:
    ids = seed(state, 250)
    headers = bearer(http, server)
    base = f"{server.url}/admin/realms/{REALM}"
    default = http.get(f"{base}/users", headers=headers).json()
    pages = [http.get(f"{base}/users", params={"first": f, "max": 100}, headers=headers).json()
             for f in (0, 100, 200)]
    assert len(default) == 100 and [len(p) for p in pages] == [100, 100, 50]
    assert sorted(u["id"] for p in pages for u in p) == sorted(ids)
    assert [u["username"] for u in pages[0]] == sorted(u["username"] for u in pages[0])
    count = http.get(f"{base}/users/count", headers=headers)
    assert count.text == "250"
    missing = http.get(f"{base}/users/{UNKNOWN}", headers=headers)
    assert (missing.status_code, missing.json()) == (404, {"error": "User not found"})
    cred = state.add_credential(ids[0], "otp")
    first = http.delete(f"{base}/users/{ids[0]}/credentials/{cred.id}", headers=headers)
    again = http.delete(f"{base}/users/{ids[0]}/credentials/{cred.id}", headers=headers)
    assert first.status_code == 204
    assert (again.status_code, again.json()) == (404, {"error": "Credential not found"})
    assert [(w.action, w.status) for w in state.writes] == [("deleteCredential", 204), ("deleteCredential", 404)]


# -- listing -------------------------------------------------------------------------------------


def test_lists_2500_users_over_pages_with_one_token(
        state: KeycloakState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    ids = seed(state, BIG)
    with source(server, ca, waits) as src:
        people = list(src.list_people())

    assert sorted(p.source_key for p in people) == sorted(ids)
    pages = state.calls_to("/users")
    assert len(pages) == 26  # 25 full pages of 100, then an empty one
    assert pages[1].params == {"first": "100", "max": "100"}
    assert len(state.calls_to("/users/count")) == 1
    assert state.token_requests == 1
    assert waits == []


def test_maps_users_to_people(demo: KeycloakState, demo_server: RunningTlsServer, ca: TestCA,
                              waits: list[float]) -> None:
    with demo_source(demo_server, ca, waits, kind_attribute="kind",
                     kind_values={"agency": PersonKind.agency}) as src:
        people = {p.username: p for p in src.list_people()}

    ana = people["ana"]
    assert (ana.source_key, ana.display_name, ana.employee_id, ana.department, ana.emails) == (
        uid(demo, "ana"), "Ana Admin", "E1001", "Marketing", ("ana.admin@contoso.example",))
    assert ana.status is PersonStatus.active and ana.kind is PersonKind.employee
    assert people["lee"].status is PersonStatus.suspended
    assert people["gus"].kind is PersonKind.agency and people["gus"].employee_id is None


def test_throttling_mid_listing_waits_retry_after_and_completes(
        state: KeycloakState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, BIG)
    state.throttle(at_call=5, retry_after=3)
    state.inject(FaultKind.unavailable, at_call=9)  # 503 without Retry-After: backoff
    with source(server, ca, waits) as src:
        assert len(list(src.list_people())) == BIG
    statuses = [r.status for r in state.requests]
    assert statuses.count(429) == 1 and statuses.count(503) == 1
    assert waits[0] == 3.0 and len(waits) == 2 and 0 < waits[1] < 3


def test_throttling_beyond_attempts_is_transient(
        state: KeycloakState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, 300)
    state.throttle(at_call=3, times=10, retry_after=1)
    with source(server, ca, waits, max_attempts=3) as src, pytest.raises(TransientError) as info:
        list(src.list_people())
    assert info.value.status == 429 and info.value.retry_after == 1.0
    assert waits == [1.0, 1.0]


def test_token_expiring_mid_listing_is_renewed_transparently(
        state: KeycloakState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, BIG)
    state.expire_token_at(7)
    with source(server, ca, waits) as src:
        assert len(list(src.list_people())) == BIG
    assert [r.status for r in state.requests].count(401) == 1
    assert state.token_requests == 2  # python-keycloak fetched a new token and repeated the page
    assert waits == []


def test_short_token_lifespan_is_renewed_before_expiry(
        state: KeycloakState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, 500)
    state.token_lifespan = 1  # python-keycloak renews after 90 % of it: before every request
    with source(server, ca, waits) as src:
        assert len(list(src.list_people())) == 500
    assert all(r.status == 200 for r in state.requests)
    assert state.token_requests == state.calls == 8  # profile, count + 6 pages, each with a fresh token


def test_revoked_client_secret_stops_the_source_with_auth_error(
        state: KeycloakState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, 150)
    with source(server, ca, waits) as src:
        assert len(list(src.list_people())) == 150
        state.rotate_secret(CLIENT)
        state.expire_tokens()
        with pytest.raises(AuthError) as info:
            list(src.list_people())
    assert info.value.status == 401 and "unauthorized_client" in info.value.detail
    assert SECRET not in f"{info.value} {info.value.detail} {src!r}"


def test_wrong_secret_or_a_token_refused_twice_is_an_auth_error(
        state: KeycloakState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, 5)
    with source(server, ca, waits, secret="wrong") as src, pytest.raises(AuthError):
        list(src.list_people())
    assert state.calls == 0
    state.token_lifespan = 0  # every token is dead on arrival
    with source(server, ca, waits) as src, pytest.raises(AuthError) as info:
        list(src.list_people())
    assert info.value.status == 401
    assert [r.status for r in state.requests] == [401, 401]


@pytest.mark.parametrize("fault", [FaultKind.malformed, FaultKind.html])
def test_a_malformed_page_fails_the_listing(
        state: KeycloakState, server: RunningTlsServer, ca: TestCA, waits: list[float], fault: FaultKind) -> None:
    seed(state, 300)
    state.inject(fault, at_call=4)  # profile, count, page 1, then page 2 is broken
    seen = []
    with source(server, ca, waits) as src, pytest.raises(MalformedResponseError):
        for person in src.list_people():
            seen.append(person)
    assert len(seen) == 100


def test_an_empty_listing_where_the_count_says_otherwise_fails(
        state: KeycloakState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    seed(state, 40)
    state.inject(FaultKind.empty, at_call=3)  # profile, count, then the first page is empty
    with source(server, ca, waits) as src, pytest.raises(MalformedResponseError, match="count says 40"):
        list(src.list_people())


def test_unreachable_server_is_transient_and_untrusted_certificate_stops(
        server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    with source(server, ca, waits, verify=True) as src, pytest.raises(StopError, match="TLS"):
        list(src.list_people())
    url = server.url
    server.stop()
    with KeycloakSource("keycloak-test", url, REALM, CLIENT, SECRET, verify=ca.ca_file, sleep=waits.append,
                        max_attempts=2) as src, pytest.raises(TransientError):
        list(src.list_people())


# -- posture -------------------------------------------------------------------------------------


def test_posture_tells_sso_and_mfa(demo: KeycloakState, demo_server: RunningTlsServer, ca: TestCA,
                                   waits: list[float]) -> None:
    with demo_source(demo_server, ca, waits) as src:
        ana = src.posture(uid(demo, "ana"))
        everyone = {p.source_key: p for p in src.list_postures()}
        with pytest.raises(NotFoundError):
            src.posture(UNKNOWN)

    assert ana == IdpPosture(uid(demo, "ana"), sso=True, mfa=True, identity_providers=(),
                             federation_link="4e0a1f7c-0c7e-4d57-9f0e-1a2b3c4d5e6f", mfa_methods=("otp",),
                             sign_in="ldap_federation")  # LDAP federation is labelled apart from IdP sign-in
    assert everyone[uid(demo, "ana")] == ana
    sam, lee, gus = (everyone[uid(demo, n)] for n in ("sam", "lee", "gus"))
    assert (sam.sso, sam.mfa, sam.sign_in) == (False, False, "local")
    # WebAuthn alone is not MFA under the default browser flow (its 2FA step asks for OTP only)
    assert (lee.sso, lee.mfa, lee.identity_providers, lee.mfa_methods) == (True, False, ("corp-oidc",), ("webauthn",))
    assert lee.sign_in == "identity_provider"
    # the identity provider is gus's only way in: MFA is unknown, never "no MFA"
    assert (gus.sso, gus.mfa, gus.identity_providers) == (True, None, ("google",))


def test_recovery_codes_count_and_webauthn_counts_when_the_flow_asks_for_it(
        demo: KeycloakState, demo_server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    lee, sam = uid(demo, "lee"), uid(demo, "sam")
    demo.add_credential(sam, "recovery-authn-codes")
    with demo_source(demo_server, ca, waits) as src:
        assert src.posture(sam).mfa is True
        assert src.posture(lee).mfa is False
    with demo_source(demo_server, ca, waits, mfa_credential_types={"otp", "webauthn"}) as src:
        assert src.posture(lee).mfa is True


def test_an_idp_only_user_has_mfa_unknown_and_raises_no_mfa_finding(
        sqlite_engine: Any, demo: KeycloakState, demo_server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    from sqlmodel import Session, select

    from accessward.sync.models import Person
    from accessward.sync.runner import sync_identity

    with demo_source(demo_server, ca, waits, posture=True) as src:
        assert sync_identity(sqlite_engine, src).ok
    with Session(sqlite_engine) as session:
        people = {p.username: p for p in session.execute(select(Person)).scalars()}
    assert people["gus"].mfa is None and people["sam"].mfa is False and people["ana"].mfa is True

    from accessward.connectors.records import Level
    from accessward.reconcile.policy import PolicySettings
    from accessward.reconcile.run import reconcile
    from accessward.sync.models import Finding
    from accessward.sync.runner import sync_access
    from tests.fakes import FakeAccess

    emails = {"gus": "gus@agency.example", "sam": "sam.social@contoso.example"}
    access = FakeAccess(grants=[(n, "main", "CREATE_CONTENT", Level.full_publishing) for n in emails], emails=emails)
    assert sync_access(sqlite_engine, access).ok
    reconcile(sqlite_engine, PolicySettings())
    with Session(sqlite_engine) as session:
        flagged = {f.evidence.get("reason") and f.person_id for f in session.execute(
            select(Finding).where(Finding.rule == "mfa_required")).scalars()}
    assert flagged == {people["sam"].id}  # sam has no MFA; gus's MFA is upstream and unknown: no finding


# -- user profile (Keycloak 24+) ---------------------------------------------------------------


def test_simulator_hides_undeclared_attributes_on_a_new_realm(
        state: KeycloakState, server: RunningTlsServer, http: httpx.Client) -> None:
    state.unmanaged_policy = None
    state.declared = ("username", "email", "firstName", "lastName", "department")
    user = state.add_user("ann", attributes={"employeeNumber": ["E1"], "department": ["Sales"]})
    headers = bearer(http, server)
    base = f"{server.url}/admin/realms/{REALM}/users"
    one = http.get(f"{base}/{user.id}", headers=headers).json()
    listed = http.get(base, headers=headers).json()[0]
    profile = http.get(f"{base}/profile", headers=headers).json()
    assert one["attributes"] == listed["attributes"] == {"department": ["Sales"]}
    assert "unmanagedAttributePolicy" not in profile
    assert [a["name"] for a in profile["attributes"]][-1] == "department"
    state.unmanaged_policy = "ADMIN_VIEW"
    assert http.get(f"{base}/{user.id}", headers=headers).json()["attributes"]["employeeNumber"] == ["E1"]


def test_an_undeclared_configured_attribute_fails_the_run_naming_it(
        state: KeycloakState, server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    state.unmanaged_policy = None  # a new 24+ realm
    state.declared = ("username", "email", "firstName", "lastName", "department")
    seed(state, 3)
    with source(server, ca, waits) as src, pytest.raises(StopError) as err:
        list(src.list_people())
    assert "'employeeNumber' (employee_id_attribute)" in str(err.value) and "User profile" in str(err.value)
    assert not state.calls_to("/users")  # failed before listing anyone
    with source(server, ca, waits, employee_id_attribute=None) as src:
        assert len(list(src.list_people())) == 3
    state.unmanaged_policy = "ADMIN_VIEW"
    with source(server, ca, waits) as src:
        assert {p.employee_id for p in src.list_people()} == {"E00000", "E00001", "E00002"}


def test_the_demo_realm_declares_what_it_reads(demo: KeycloakState, demo_server: RunningTlsServer, ca: TestCA,
                                               waits: list[float]) -> None:
    with demo_source(demo_server, ca, waits, kind_attribute="kind") as src:
        people = {p.username: p for p in src.list_people()}
    assert people["ana"].employee_id == "E1001" and people["ana"].department == "Marketing"
    assert "LDAP_ID" not in (demo.user(uid(demo, "ana")).as_json(visible=demo.visible).get("attributes") or {})


# -- offboarding and lost-device actions --------------------------------------------------------


def test_offline_tokens_are_removed_through_the_consents(demo: KeycloakState, demo_server: RunningTlsServer,
                                                         ca: TestCA, waits: list[float]) -> None:
    ana = uid(demo, "ana")
    demo.add_offline_token(ana, "brand-mobile")
    demo.add_offline_token(ana, "scheduler")
    with demo_source(demo_server, ca, waits) as src:
        assert src.logout(ana).outcome is RevokeOutcome.done
        assert len(demo.user(ana).consents) == 2  # logout leaves offline records listed
        done = src.remove_offline_tokens(ana)
        again = src.remove_offline_tokens(ana)
    assert done.outcome is RevokeOutcome.done and "brand-mobile" in done.detail
    assert again.outcome is RevokeOutcome.already_gone and demo.user(ana).consents == []
    assert [w.path.rsplit("/", 1)[-1] for w in demo.writes if w.action == "revokeConsent"] == [
        "brand-mobile", "scheduler"]


def test_deleting_the_only_otp_requires_totp_set_up_keeping_other_actions(
        demo: KeycloakState, demo_server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    from accessward.connectors.idp import KeycloakIdp

    ana = uid(demo, "ana")
    demo.user(ana).required_actions = ["VERIFY_EMAIL"]
    [otp] = [c for c in demo.user(ana).credentials if c.type == "otp"]
    with demo_source(demo_server, ca, waits) as src:
        idp = KeycloakIdp(src)
        [method] = [m for m in idp.mfa_methods(ana) if m.kind == "otp"]
        result = idp.remove_mfa_method(ana, method)
    assert result.outcome is RevokeOutcome.done and "CONFIGURE_TOTP" in result.detail
    assert demo.user(ana).required_actions == ["VERIFY_EMAIL", "CONFIGURE_TOTP"]
    assert otp not in demo.user(ana).credentials


@pytest.mark.parametrize("refusal", [PROFILE_REFUSAL, LDAP_READ_ONLY_REFUSAL])
def test_a_disable_keycloak_refuses_is_a_rejected_error_with_its_message(
        demo: KeycloakState, demo_server: RunningTlsServer, ca: TestCA, waits: list[float],
        refusal: dict[str, Any]) -> None:
    sam = uid(demo, "sam")
    demo.user(sam).refuse_update = refusal
    with demo_source(demo_server, ca, waits) as src, pytest.raises(RejectedError) as err:
        src.disable(sam)
    assert err.value.status == 400 and refusal["errorMessage"] in err.value.detail
    assert demo.user(sam).enabled is True


# -- actions -------------------------------------------------------------------------------------


def test_logout_disable_and_delete_credential_are_idempotent(
        demo: KeycloakState, demo_server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    ana, sam, lee = uid(demo, "ana"), uid(demo, "sam"), uid(demo, "lee")
    otp = next(c for c in demo.user(ana).credentials if c.type == "otp")
    with demo_source(demo_server, ca, waits) as src:
        assert [s.ip_address for s in src.sessions(ana)] == ["203.0.113.7"]
        assert src.logout(ana).outcome is RevokeOutcome.done
        assert src.sessions(ana) == []
        assert src.logout(ana).outcome is RevokeOutcome.done
        assert src.disable(sam).outcome is RevokeOutcome.done
        assert src.disable(sam).outcome is RevokeOutcome.already_gone
        assert src.disable(lee).outcome is RevokeOutcome.already_gone
        assert src.delete_credential(ana, otp.id).outcome is RevokeOutcome.done
        assert src.delete_credential(ana, otp.id).outcome is RevokeOutcome.already_gone
        for action in (src.logout, src.disable, lambda u: src.delete_credential(u, otp.id)):
            with pytest.raises(NotFoundError):
                action(UNKNOWN)
        previews = [src.preview_logout(ana).render(), src.preview_disable(sam).render(),
                    src.preview_delete_credential(ana, otp.id).render()]

    base = f"{demo_server.url}/admin/realms/{DEMO_REALM}/users"
    assert previews == [f"POST {base}/{ana}/logout", f'PUT {base}/{sam}\nContent-Type: application/json\n\n'
                        '{"enabled": false}',
                        f"DELETE {base}/{ana}/credentials/{otp.id}"]
    assert demo.user(sam).enabled is False and demo.user(ana).sessions == []
    assert all(c.type != "otp" for c in demo.user(ana).credentials)
    assert [(w.action, w.user_id, w.body, w.status) for w in demo.writes] == [
        ("logout", ana, {}, 204), ("logout", ana, {}, 204), ("update", sam, {"enabled": False}, 204),
        ("deleteCredential", ana, {}, 204), ("deleteCredential", ana, {}, 404),
        ("logout", UNKNOWN, {}, 404), ("deleteCredential", UNKNOWN, {}, 404)]


def test_missing_manage_role_is_an_auth_error(
        demo: KeycloakState, demo_server: RunningTlsServer, ca: TestCA, waits: list[float]) -> None:
    demo.clients[(DEMO_REALM, DEMO_CLIENT_ID)].roles = frozenset({"view-users", "query-users"})
    ana = uid(demo, "ana")
    with demo_source(demo_server, ca, waits) as src:
        with pytest.raises(AuthError) as info:
            src.logout(ana)
        assert info.value.status == 403
        assert len(list(src.list_people())) == 4  # reading still works
    assert demo.user(ana).sessions
