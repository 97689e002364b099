"""A faithful simulator of the Keycloak admin REST API paths python-keycloak 7.x calls, as a Starlette app.

Keycloak >= 17 paths (no ``/auth`` prefix), reference/identity-apis.md section 2:

- ``POST /realms/{realm}/protocol/openid-connect/token``: ``client_credentials`` for a confidential
  client with service accounts on (secret in the form or HTTP Basic); ``expires_in`` is
  ``KeycloakState.token_lifespan`` (realm default 300 s); no refresh token. A wrong secret or an
  unknown client -> 401 ``unauthorized_client`` "Invalid client or Invalid client credentials"
  (pairing **unverified**).
- ``/admin/realms/{realm}/users`` with ``first``/``max`` (default max 100, **unverified**),
  ``search``, ``username``, ``email``, ``enabled``, ``exact``, ``q``, ``briefRepresentation``;
  users come ordered by username. ``/users/count`` answers a bare integer.
- ``/users/{id}`` (GET; PUT partial JSON -> 204, also when nothing changes), ``/federated-identity``,
  ``/credentials``, ``DELETE /credentials/{credId}`` (204; again -> 404 ``{"error":"Credential not
  found"}``), ``/sessions``, ``POST /logout`` (204, also with no session).
- **User profile (24+)**: ``GET /users/profile`` answers the realm's UPConfig (``attributes`` with
  ``name``, ``unmanagedAttributePolicy`` when set). With the policy unset (a new 24+ realm) user reads
  leave out every attribute the profile does not declare; ``ENABLED``/``ADMIN_VIEW``/``ADMIN_EDIT``
  (``ENABLED`` is what a realm migrated from 23 gets, the default here) show them all.
- **Offline tokens**: ``GET /users/{id}/consents`` lists a client holding an offline token with
  ``additionalGrants`` ``[{"client", "key": "Offline Token"}]``; ``DELETE /users/{id}/consents/{clientId}``
  (the clientId, not the UUID) removes consent and offline tokens: 204, else 404 ``{"error": "Consent nor
  offline token not found"}``. ``POST /logout`` ends online sessions and sets ``notBefore``; offline
  records stay listed.
- **Disable refused**: a user marked ``refuse_update`` answers a PUT with 400 and Keycloak's
  ``errorMessage`` (profile validation, or an LDAP user in a read-only/no-import federation; the exact
  texts are **unverified**).
- Missing/unknown/expired bearer token -> 401 ``{"error":"HTTP 401 Unauthorized"}`` (text
  **unverified**) with ``WWW-Authenticate``; a token without the realm-management role a route
  needs (``view-users``, ``query-users``, ``manage-users``) -> 403; an unknown user on any
  ``/users/{id}/...`` -> 404 ``{"error":"User not found"}``; an unknown realm -> 404
  ``{"error":"Realm not found."}``.
- Faults (``KeycloakState.inject``): 429/503 with or without ``Retry-After`` (a reverse proxy:
  Keycloak itself does not throttle), an HTML login page, a JSON object where a list belongs, an
  empty list, a token that dies mid-listing. Every request and every write is recorded; tokens never are.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from accessward.sandbox import oauth
from accessward.sandbox.clock import Clock
from accessward.sandbox.keycloak_state import (
    ALL_ROLES,
    BUILTIN_ATTRIBUTES,
    DEFAULT_MAX,
    DEMO_CLIENT_ID,
    DEMO_REALM,
    DEMO_SECRET,
    LDAP_READ_ONLY_REFUSAL,
    OFFLINE_TOKEN,
    PROFILE_REFUSAL,
    SHOWS_UNMANAGED,
    Fault,
    FaultKind,
    KcClient,
    KcCredential,
    KcError,
    KcSession,
    KcToken,
    KcUser,
    KeycloakState,
    RecordedCall,
    WriteRecord,
    _user_not_found,
)

__all__ = [
    "ALL_ROLES",
    "BUILTIN_ATTRIBUTES",
    "DEFAULT_MAX",
    "DEMO_CLIENT_ID",
    "DEMO_REALM",
    "DEMO_SECRET",
    "LDAP_READ_ONLY_REFUSAL",
    "OFFLINE_TOKEN",
    "PROFILE_REFUSAL",
    "SHOWS_UNMANAGED",
    "Clock",
    "Fault",
    "FaultKind",
    "KcClient",
    "KcCredential",
    "KcError",
    "KcSession",
    "KcToken",
    "KcUser",
    "KeycloakState",
    "RecordedCall",
    "WriteRecord",
    "create_app",
    "demo_state",
]

# -- the app -------------------------------------------------------------------------------------


class Call:
    def __init__(self, request: Request, token: KcToken, body: bytes) -> None:
        self.request = request
        self.token = token
        self.body = body
        self.params = dict(request.query_params)
        self.uid = request.path_params.get("uid", "")

    def require(self, role: str) -> None:
        if role not in self.token.roles:
            raise KcError(403, {"error": "HTTP 403 Forbidden"})


Handler = Callable[[KeycloakState, Call], Response]
ADMIN = "/admin/realms/{realm}"


def create_app(state: KeycloakState | None = None) -> Starlette:
    """The simulator bound to ``state`` (``demo_state()`` when omitted); ``app.state.keycloak`` holds it."""
    app = Starlette(routes=[
        Route("/realms/{realm}/protocol/openid-connect/token", _token, methods=["POST"]),
        Route(f"{ADMIN}/users", _admin(_list_users, lists=True), methods=["GET"]),
        Route(f"{ADMIN}/users/count", _admin(_count_users), methods=["GET"]),
        Route(f"{ADMIN}/users/profile", _admin(_profile), methods=["GET"]),
        Route(f"{ADMIN}/users/{{uid}}/consents", _admin(_consents, lists=True), methods=["GET"]),
        Route(f"{ADMIN}/users/{{uid}}/consents/{{client}}", _admin(_revoke_consent), methods=["DELETE"]),
        Route(f"{ADMIN}/users/{{uid}}", _admin(_user), methods=["GET", "PUT"]),
        Route(f"{ADMIN}/users/{{uid}}/federated-identity", _admin(_identities, lists=True), methods=["GET"]),
        Route(f"{ADMIN}/users/{{uid}}/credentials", _admin(_credentials, lists=True), methods=["GET"]),
        Route(f"{ADMIN}/users/{{uid}}/credentials/{{cid}}", _admin(_delete_credential), methods=["DELETE"]),
        Route(f"{ADMIN}/users/{{uid}}/sessions", _admin(_sessions, lists=True), methods=["GET"]),
        Route(f"{ADMIN}/users/{{uid}}/logout", _admin(_logout), methods=["POST"]),
    ])
    app.state.keycloak = state if state is not None else demo_state()
    return app


def _json_error(error: KcError) -> Response:
    return JSONResponse(error.body, status_code=error.status, headers=error.headers)


async def _token(request: Request) -> Response:
    state: KeycloakState = request.app.state.keycloak
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    realm = request.path_params["realm"]
    if realm != state.realm and not any(r == realm for r, _ in state.clients):
        return JSONResponse({"error": "Realm does not exist"}, status_code=404)
    try:
        return JSONResponse(state.issue_token(realm, form, oauth.client_basic(request)),
                            headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
    except KcError as error:
        return _json_error(error)


def _admin(handler: Handler, *, lists: bool = False) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state: KeycloakState = request.app.state.keycloak
        body = await request.body()
        with state.lock:
            record = state.begin_call(request.method, request.url.path, dict(request.query_params))
            try:
                response = _respond(state, request, body, record.call, handler, lists)
            except KcError as error:
                response = _json_error(error)
            record.status = response.status_code
        return response
    return endpoint


def _respond(state: KeycloakState, request: Request, body: bytes, call: int, handler: Handler,
             lists: bool) -> Response:
    path = request.url.path
    front = state.take_fault(call, path, {FaultKind.html, FaultKind.unavailable, FaultKind.throttle})
    if front is not None:
        if front.kind is FaultKind.html:
            return HTMLResponse("<!DOCTYPE html><html><head><title>Sign in to Keycloak</title></head>"
                                "<body><form id='kc-form-login'></form></body></html>")
        headers = {} if front.retry_after is None else {"Retry-After": str(int(front.retry_after))}
        if front.kind is FaultKind.throttle:
            return JSONResponse({"error": "Too Many Requests"}, status_code=429, headers=headers)
        return HTMLResponse("<html><body><h1>503 Service Unavailable</h1></body></html>", status_code=503,
                            headers=headers)
    realm = request.path_params["realm"]
    if state.take_fault(call, path, {FaultKind.expire_token}) is not None:
        oauth.expire_presented(state.tokens, request.headers.get("authorization", ""), state.clock.now())
    token = state.check_token(request.headers.get("authorization", ""), realm)
    if realm != state.realm:
        raise KcError(404, {"error": "Realm not found."})
    response = handler(state, Call(request, token, body))
    if lists and response.status_code == 200:
        fault = state.take_fault(call, path, {FaultKind.malformed, FaultKind.empty})
        if fault is not None:
            return JSONResponse({"error": "unknown_error"} if fault.kind is FaultKind.malformed else [])
    return response


def _find(state: KeycloakState, call: Call) -> KcUser:
    user = state.users.get(call.uid)
    if user is None:
        raise _user_not_found()
    return user


def _int(call: Call, name: str, default: int) -> int:
    raw = call.params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise KcError(400, {"error": f"HTTP 400 Bad Request: invalid {name}"}) from exc


def _matches(value: str | None, wanted: str, exact: bool) -> bool:
    if value is None:
        return False
    return value.lower() == wanted.lower() if exact else wanted.lower() in value.lower()


def _filtered(state: KeycloakState, call: Call) -> list[KcUser]:
    params = call.params
    exact = params.get("exact", "false").lower() == "true"
    users = sorted(state.users.values(), key=lambda u: u.username)
    if "search" in params:
        term = params["search"].strip()
        quoted = len(term) > 1 and term.startswith('"') and term.endswith('"')
        term = term.strip('"').replace("*", "")
        users = [u for u in users if any(_matches(v, term, quoted) for v in (u.username, u.email, u.first_name,
                                                                              u.last_name))]
    for name, attr in (("username", "username"), ("email", "email"), ("firstName", "first_name"),
                       ("lastName", "last_name")):
        if name in params:
            users = [u for u in users if _matches(getattr(u, attr), params[name], exact)]
    if "enabled" in params:
        wanted = params["enabled"].lower() == "true"
        users = [u for u in users if u.enabled is wanted]
    if params.get("q"):
        for pair in params["q"].split():
            key, _, value = pair.partition(":")
            users = [u for u in users if value in u.attributes.get(key, [])]
    return users


def _list_users(state: KeycloakState, call: Call) -> Response:
    call.require("query-users")
    first, max_ = _int(call, "first", 0), _int(call, "max", DEFAULT_MAX)
    if first < 0 or max_ < 0:
        raise KcError(400, {"error": "HTTP 400 Bad Request"})
    brief = call.params.get("briefRepresentation", "false").lower() == "true"
    page = _filtered(state, call)[first:first + max_]
    return JSONResponse([u.as_json(brief=brief, visible=state.visible) for u in page])


def _count_users(state: KeycloakState, call: Call) -> Response:
    call.require("query-users")
    return JSONResponse(len(_filtered(state, call)))


_UPDATABLE = {"enabled": "enabled", "firstName": "first_name", "lastName": "last_name", "email": "email",
              "emailVerified": "email_verified", "attributes": "attributes", "requiredActions": "required_actions"}


def _user(state: KeycloakState, call: Call) -> Response:
    if call.request.method == "GET":
        call.require("view-users")
        return JSONResponse(_find(state, call).as_json(visible=state.visible))
    status, changes = 500, {}
    try:
        call.require("manage-users")
        user = _find(state, call)
        try:
            decoded = json.loads(call.body or b"null")
        except ValueError as exc:
            raise KcError(400, {"error": "unknown_error"}) from exc
        if not isinstance(decoded, dict):
            raise KcError(400, {"error": "unknown_error"})
        changes = decoded
        if user.refuse_update is not None:
            raise KcError(400, dict(user.refuse_update))
        for key, attr in _UPDATABLE.items():
            if key in changes:
                setattr(user, attr, changes[key])
        status = 204
        return Response(status_code=204)
    except KcError as error:
        status = error.status
        raise
    finally:
        state.writes.append(WriteRecord("PUT", call.request.url.path, call.uid, "update", changes, status))


def _profile(state: KeycloakState, call: Call) -> Response:
    call.require("view-users")
    return JSONResponse(state.profile())


def _consents(state: KeycloakState, call: Call) -> Response:
    call.require("view-users")
    return JSONResponse([dict(c) for c in _find(state, call).consents])


def _revoke_consent(state: KeycloakState, call: Call) -> Response:
    status = 500
    try:
        call.require("manage-users")
        user = _find(state, call)
        client = call.request.path_params["client"]
        kept = [c for c in user.consents if c.get("clientId") != client]
        if len(kept) == len(user.consents):
            raise KcError(404, {"error": "Consent nor offline token not found"})
        user.consents = kept
        status = 204
        return Response(status_code=204)
    except KcError as error:
        status = error.status
        raise
    finally:
        state.writes.append(WriteRecord("DELETE", call.request.url.path, call.uid, "revokeConsent", {}, status))


def _identities(state: KeycloakState, call: Call) -> Response:
    call.require("view-users")
    return JSONResponse([dict(i) for i in _find(state, call).identities])


def _credentials(state: KeycloakState, call: Call) -> Response:
    call.require("view-users")
    return JSONResponse([c.as_json() for c in _find(state, call).credentials])


def _delete_credential(state: KeycloakState, call: Call) -> Response:
    status = 500
    try:
        call.require("manage-users")
        user = _find(state, call)
        cid = call.request.path_params["cid"]
        cred = next((c for c in user.credentials if c.id == cid), None)
        if cred is None:
            raise KcError(404, {"error": "Credential not found"})
        user.credentials.remove(cred)
        status = 204
        return Response(status_code=204)
    except KcError as error:
        status = error.status
        raise
    finally:
        state.writes.append(WriteRecord("DELETE", call.request.url.path, call.uid, "deleteCredential", {}, status))


def _sessions(state: KeycloakState, call: Call) -> Response:
    call.require("view-users")
    user = _find(state, call)
    return JSONResponse([{"id": s.id, "username": user.username, "userId": user.id, "ipAddress": s.ip_address,
                          "start": s.start, "lastAccess": s.last_access, "rememberMe": False,
                          "clients": dict(s.clients)} for s in user.sessions])


def _logout(state: KeycloakState, call: Call) -> Response:
    status = 500
    try:
        call.require("manage-users")
        user = _find(state, call)
        user.sessions.clear()
        user.not_before = int(state.clock.now().timestamp())
        status = 204
        return Response(status_code=204)
    except KcError as error:
        status = error.status
        raise
    finally:
        state.writes.append(WriteRecord("POST", call.request.url.path, call.uid, "logout", {}, status))


# -- demo ----------------------------------------------------------------------------------------


def demo_state() -> KeycloakState:
    """A realm for ``accessward demo`` and tests.

    - ana: LDAP-federated (``federationLink``) with OTP and a session;
    - sam: local user, password only (no SSO, no MFA);
    - lee: disabled, signs in through the corporate IdP (a federated identity) with WebAuthn;
    - gus: an agency user whose only sign-in is the agency's Google identity (no password): MFA unknown.

    The realm is a new 24+ realm whose user profile declares ``employeeNumber``, ``department`` and
    ``kind``; ana's ``LDAP_ID`` is not declared, so no user read shows it.
    """
    # A new 24+ realm: the user profile declares the attributes Accessward reads, nothing else shows.
    state = KeycloakState(DEMO_REALM, declared=("employeeNumber", "department", "kind"), unmanaged_policy=None)
    state.add_client(DEMO_CLIENT_ID, DEMO_SECRET)
    ldap = "4e0a1f7c-0c7e-4d57-9f0e-1a2b3c4d5e6f"
    ana = state.add_user("ana", email="ana.admin@contoso.example", first_name="Ana", last_name="Admin",
                         federation_link=ldap, attributes={"employeeNumber": ["E1001"], "department": ["Marketing"],
                                                           "LDAP_ID": ["a1"]})
    sam = state.add_user("sam", email="sam.social@contoso.example", first_name="Sam", last_name="Social",
                         attributes={"employeeNumber": ["E1002"]})
    lee = state.add_user("lee", email="lee.leaver@contoso.example", first_name="Lee", last_name="Leaver",
                         enabled=False, attributes={"employeeNumber": ["E1003"]})
    gus = state.add_user("gus", email="gus@agency.example", first_name="Gus", last_name="Guest",
                         attributes={"kind": ["agency"]})
    for user in (ana, sam, lee):  # gus has no password: Google is his only way in
        state.add_credential(user.id, "password")
    state.add_credential(ana.id, "otp", "Ana's phone")
    state.add_session(ana.id)
    state.add_credential(lee.id, "webauthn", "Lee's YubiKey")
    state.link_identity(lee.id, "corp-oidc", "lee-oid-1", "lee.leaver@contoso.example")
    state.link_identity(gus.id, "google", "1094421", "gus@agency.example")
    return state
