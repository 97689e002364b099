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

import base64
import itertools
import json
import secrets
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from accessward.sandbox import oauth
from accessward.sandbox.clock import Clock

__all__ = [
    "ALL_ROLES", "DEMO_CLIENT_ID", "DEMO_REALM", "DEMO_SECRET", "Clock", "FaultKind", "KcCredential", "KcUser",
    "KeycloakState", "RecordedCall", "WriteRecord", "create_app", "demo_state",
]

DEMO_REALM = "brand"
DEMO_CLIENT_ID = "accessward"
DEMO_SECRET = "demo-keycloak-client-secret"
DEFAULT_MAX = 100
ALL_ROLES = frozenset({"view-users", "query-users", "manage-users"})
BUILTIN_ATTRIBUTES = ("username", "email", "firstName", "lastName")
SHOWS_UNMANAGED = frozenset({"ENABLED", "ADMIN_VIEW", "ADMIN_EDIT"})
OFFLINE_TOKEN = "Offline Token"
PROFILE_REFUSAL = {"field": "email", "errorMessage": "error-invalid-email", "params": ["email"]}
LDAP_READ_ONLY_REFUSAL = {"errorMessage": "error-user-attribute-read-only"}


class FaultKind(StrEnum):
    throttle = "throttle"  # 429 with Retry-After
    unavailable = "unavailable"  # 503, Retry-After when given
    html = "html"  # 200 text/html login page
    malformed = "malformed"  # 200 JSON object where the route answers a list
    empty = "empty"  # 200 [] on a list route, whatever the realm holds (a broken proxy or filter)
    expire_token = "expire_token"  # the presented token dies just before this call is checked


class Fault(oauth.Fault[FaultKind]):
    """Active for admin-API calls from ``first_call`` on (``sandbox.oauth.Fault``)."""


@dataclass
class KcCredential:
    id: str
    type: str  # password | otp | webauthn | webauthn-passwordless
    user_label: str = ""
    created: int = 0  # epoch ms
    priority: int = 10

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type, "createdDate": self.created,
                               "credentialData": "{}", "priority": self.priority}
        if self.user_label:
            out["userLabel"] = self.user_label
        return out


@dataclass
class KcSession:
    id: str
    ip_address: str
    start: int
    last_access: int
    clients: dict[str, str] = field(default_factory=dict)


@dataclass
class KcUser:
    id: str
    username: str
    email: str | None = None
    first_name: str = ""
    last_name: str = ""
    enabled: bool = True
    email_verified: bool = True
    created: int = 0
    federation_link: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)
    required_actions: list[str] = field(default_factory=list)
    credentials: list[KcCredential] = field(default_factory=list)
    identities: list[dict[str, str]] = field(default_factory=list)  # {identityProvider, userId, userName}
    sessions: list[KcSession] = field(default_factory=list)
    not_before: int = 0
    consents: list[dict[str, Any]] = field(default_factory=list)  # UserConsentRepresentation
    refuse_update: dict[str, Any] | None = None  # the 400 body a PUT gets (validation, read-only LDAP)

    def as_json(self, *, brief: bool = False, visible: Callable[[str], bool] = lambda _: True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "username": self.username, "firstName": self.first_name, "lastName": self.last_name,
            "emailVerified": self.email_verified, "createdTimestamp": self.created, "enabled": self.enabled,
            "totp": any(c.type == "otp" for c in self.credentials),
            "disableableCredentialTypes": [], "requiredActions": list(self.required_actions),
            "notBefore": self.not_before,
            "access": {"manageGroupMembership": True, "view": True, "mapRoles": True, "impersonate": False,
                       "manage": True},
        }
        if self.email is not None:
            out["email"] = self.email
        if self.federation_link is not None:
            out["federationLink"] = self.federation_link
        shown = {k: list(v) for k, v in self.attributes.items() if visible(k)}
        if shown and not brief:
            out["attributes"] = shown
        return out


@dataclass
class KcClient:
    realm: str
    client_id: str
    secret: str
    roles: frozenset[str] = ALL_ROLES
    service_accounts: bool = True


@dataclass
class KcToken:
    realm: str
    client_id: str
    roles: frozenset[str]
    expires_at: datetime


@dataclass
class RecordedCall:
    call: int
    method: str
    path: str
    params: dict[str, str]
    status: int = 0


@dataclass
class WriteRecord:
    method: str
    path: str
    user_id: str
    action: str  # update | logout | deleteCredential
    body: dict[str, Any]
    status: int


class KcError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


def _user_not_found() -> KcError:
    return KcError(404, {"error": "User not found"})


class KeycloakState:
    """Realms with users, confidential clients and tokens; thread-safe."""

    def __init__(self, realm: str = DEMO_REALM, *, clock: Clock | None = None, token_lifespan: int = 300,
                 declared: tuple[str, ...] = (), unmanaged_policy: str | None = "ENABLED") -> None:
        self.realm = realm
        #: The user profile: attributes declared besides the built-in four, and the unmanaged-attribute
        #: policy (None: a new 24+ realm, undeclared attributes are hidden from every user read).
        self.declared = tuple(dict.fromkeys(BUILTIN_ATTRIBUTES + tuple(declared)))
        self.unmanaged_policy = unmanaged_policy
        self.clock = clock or Clock()
        self.token_lifespan = token_lifespan
        self.lock = threading.RLock()
        self.users: dict[str, KcUser] = {}
        self.clients: dict[tuple[str, str], KcClient] = {}
        self.tokens: dict[str, KcToken] = {}
        self.faults: list[Fault] = []
        self.requests: list[RecordedCall] = []
        self.writes: list[WriteRecord] = []
        self.calls = 0  # admin API calls
        self.token_requests = 0
        self._ids = itertools.count(1)

    # -- clients and tokens -------------------------------------------------------------------

    def add_client(self, client_id: str, secret: str | None = None, *, realm: str | None = None,
                   roles: frozenset[str] | set[str] = ALL_ROLES) -> KcClient:
        with self.lock:
            client = KcClient(realm or self.realm, client_id, secret or secrets.token_urlsafe(24), frozenset(roles))
            self.clients[(client.realm, client_id)] = client
            return client

    def rotate_secret(self, client_id: str, realm: str | None = None) -> str:
        with self.lock:
            client = self.clients[(realm or self.realm, client_id)]
            client.secret = secrets.token_urlsafe(24)
            return client.secret

    def issue_token(self, realm: str, form: dict[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
        with self.lock:
            self.token_requests += 1
            grant = form.get("grant_type", "")
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
            if basic is not None:
                client_id, secret = client_id or basic[0], secret or basic[1]
            client = self.clients.get((realm, client_id))
            if client is None or not secret or not secrets.compare_digest(secret, client.secret):
                raise KcError(401, {"error": "unauthorized_client",
                                    "error_description": "Invalid client or Invalid client credentials"})
            if grant != "client_credentials":
                raise KcError(400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"})
            if not client.service_accounts:
                raise KcError(401, {"error": "unauthorized_client",
                                    "error_description": "Client not enabled to retrieve service account"})
            # Shaped as Keycloak's: a JWT whose resource_access claim carries the service account's
            # realm-management roles (the default "roles" client scope); the signature is not real.
            claims = {"azp": client_id, "typ": "Bearer", "jti": secrets.token_urlsafe(8),
                      "resource_access": {"realm-management": {"roles": sorted(client.roles)}}}
            payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            value = f"eyJhbGciOiJSUzI1NiJ9.{payload}.{secrets.token_urlsafe(40)}"
            self.tokens[value] = KcToken(realm, client_id, client.roles,
                                         self.clock.now() + timedelta(seconds=self.token_lifespan))
            return {"access_token": value, "expires_in": self.token_lifespan, "refresh_expires_in": 0,
                    "token_type": "Bearer", "not-before-policy": 0, "scope": "profile email"}

    def expire_tokens(self) -> None:
        with self.lock:
            oauth.expire_all(self.tokens.values(), self.clock.now())

    def check_token(self, authorization: str, realm: str) -> KcToken:
        scheme, _, value = authorization.partition(" ")
        with self.lock:
            token = self.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
            if token is None or self.clock.now() >= token.expires_at or token.realm not in (realm, "master"):
                raise KcError(401, {"error": "HTTP 401 Unauthorized"}, {
                    "WWW-Authenticate": f'Bearer realm="{realm}", error="invalid_token", '
                                        'error_description="Token verification failed"'})
            return token

    # -- users --------------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    def add_user(self, username: str, *, email: str | None = None, first_name: str = "", last_name: str = "",
                 enabled: bool = True, federation_link: str | None = None,
                 attributes: dict[str, list[str]] | None = None) -> KcUser:
        with self.lock:
            n = next(self._ids)
            user = KcUser(str(uuid.uuid5(uuid.NAMESPACE_URL, f"keycloak/{self.realm}/{n}")), username.lower(),
                          email.lower() if email else None, first_name, last_name, enabled, created=self._now_ms(),
                          federation_link=federation_link, attributes=dict(attributes or {}))
            self.users[user.id] = user
            return user

    def user(self, user_id: str) -> KcUser:
        with self.lock:
            return self.users[user_id]

    def add_credential(self, user_id: str, type_: str, label: str = "") -> KcCredential:
        with self.lock:
            cred = KcCredential(str(uuid.uuid4()), type_, label, self._now_ms())
            self.users[user_id].credentials.append(cred)
            return cred

    def link_identity(self, user_id: str, provider: str, provider_user_id: str, provider_username: str) -> None:
        with self.lock:
            self.users[user_id].identities.append(
                {"identityProvider": provider, "userId": provider_user_id, "userName": provider_username})

    def add_session(self, user_id: str, ip: str = "203.0.113.7") -> KcSession:
        with self.lock:
            now = self._now_ms()
            session = KcSession(str(uuid.uuid4()), ip, now, now, {str(uuid.uuid4()): "brand-portal"})
            self.users[user_id].sessions.append(session)
            return session

    def add_offline_token(self, user_id: str, client_id: str) -> None:
        """The user granted ``client_id`` an offline token (listed among the user's consents)."""
        with self.lock:
            now = self._now_ms()
            self.users[user_id].consents.append({
                "clientId": client_id, "grantedClientScopes": ["offline_access"], "createdDate": now,
                "lastUpdatedDate": now, "grantedRealmRoles": [],
                "additionalGrants": [{"client": client_id, "key": OFFLINE_TOKEN}]})

    def visible(self, name: str) -> bool:
        """Whether user reads show attribute ``name`` (the user profile, Keycloak 24+)."""
        return self.unmanaged_policy in SHOWS_UNMANAGED or name in self.declared

    def profile(self) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": [
            {"name": n, "displayName": "${" + n + "}", "multivalued": False,
             "permissions": {"view": ["admin", "user"], "edit": ["admin"]}} for n in self.declared],
            "groups": [{"name": "user-metadata", "displayHeader": "User metadata"}]}
        if self.unmanaged_policy is not None:
            out["unmanagedAttributePolicy"] = self.unmanaged_policy
        return out

    # -- faults and logs ----------------------------------------------------------------------

    def inject(self, kind: FaultKind, *, at_call: int | None = None, times: int = 1,
               retry_after: float | None = None, route: str | None = None) -> Fault:
        with self.lock:
            fault = Fault(kind, at_call if at_call is not None else self.calls + 1, times, retry_after, route)
            self.faults.append(fault)
            return fault

    def throttle(self, *, at_call: int | None = None, times: int = 1, retry_after: float | None = 2) -> Fault:
        return self.inject(FaultKind.throttle, at_call=at_call, times=times, retry_after=retry_after)

    def expire_token_at(self, call: int) -> Fault:
        return self.inject(FaultKind.expire_token, at_call=call)

    def take_fault(self, call: int, path: str, kinds: set[FaultKind]) -> Fault | None:
        with self.lock:
            return oauth.take_fault(self.faults, call, path, kinds)

    def begin_call(self, method: str, path: str, params: dict[str, str]) -> RecordedCall:
        with self.lock:
            self.calls += 1
            record = RecordedCall(self.calls, method, path, dict(params))
            self.requests.append(record)
            return record

    def calls_to(self, path_suffix: str, method: str = "GET") -> list[RecordedCall]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]


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
