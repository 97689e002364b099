"""A faithful simulator of Microsoft Graph v1.0 (users) and the Entra token endpoint, as a Starlette app.

Serve it over HTTPS (``sandbox.tls.start_tls_app``): msal accepts only an ``https://`` authority.
It reproduces what a connector must cope with (reference/identity-apis.md, section 1):

- **Entra**: ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and
  ``POST /{tenant}/oauth2/v2.0/token`` (client credentials, secret in the body or Basic; AADSTS
  errors: 401 ``invalid_client`` for a wrong/expired secret, 400 ``unauthorized_client`` for an
  unknown app, ``invalid_scope`` unless the scope is Graph's ``/.default``); ``expires_in`` is
  ``GraphState.token_lifetime`` (msal treats < 5 minutes left as expired).
- **App tokens are JWT-shaped**, with the app's granted application permissions in the ``roles``
  claim (as Entra's are), so a connector can check a permission before relying on it.
- **Bearer check on every Graph route**: missing/unknown/expired -> 401
  ``InvalidAuthenticationToken`` (expired: "Lifetime validation failed, the token is expired." and
  ``WWW-Authenticate``); a missing application permission -> 403 ``Authorization_RequestDenied``.
- ``GET /v1.0/users``: ``$select`` (unknown property -> 400), ``$top`` (default 100, 1..999, else
  400), ``$expand=manager``, an opaque ``$skiptoken`` in ``@odata.nextLink``. Without ``$select``
  only Graph's default property set is returned; with it only what was selected (``id`` too
  must be asked for).
- ``GET /v1.0/users/delta``: pages with ``@odata.nextLink``, last page with ``@odata.deltaLink``;
  later rounds return only users changed since, and ``{"id", "@removed": {"reason"}}`` for
  deleted ones (``changed`` = soft-deleted, ``deleted`` = permanent); ``$deltatoken=latest``; a
  token older than ``delta_token_lifetime`` (7 days) or from before ``invalidate_delta_tokens()``
  -> ``syncStateNotFound`` (HTTP ``stale_delta_status``, 400 by default; 410 switchable).
  Changed users carry the selected properties that have, or once had, a value.
- **Actions**: ``GET /users/{id}/authentication/methods``; ``GET``/``DELETE
  /users/{id}/authentication/{kind}Methods/{methodId}`` (204; a gone method -> 404); ``POST
  /users/{id}/revokeSignInSessions`` -> 200 ``{"value": true}`` (also on repeat; for a **guest** the same
  answer, but no session ends: microsoft-graph-docs ``user-revokesigninsessions.md``); ``PATCH
  /users/{id}`` -> 204 (also when nothing changes); ``DELETE /users/{id}`` -> 204, soft-deleted
  (``User.ReadWrite.All``); unknown user -> 404
  ``Request_ResourceNotFound`` everywhere. Every write is recorded in ``GraphState.writes``.
- **Faults** (``GraphState.inject``): 429 ``TooManyRequests`` / 503 / 504 with or without
  ``Retry-After``, an HTML sign-in page, a JSON page without ``value``, a token expiring mid-run.

Choices where the docs are silent (each **unverified**): a gone authentication method answers
404 ``itemNotFound`` (distinct from an unknown user's ``Request_ResourceNotFound``); deleting the
password method answers 400 ``badRequest``; a malformed ``$skiptoken``/``$deltatoken`` answers
400 ``Request_BadRequest``; a 429 body's code is ``TooManyRequests``; delta pages hold 200 users.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from accessward.sandbox import oauth
from accessward.sandbox.graph_state import (
    DEFAULT_USER_PROPERTIES,
    GRAPH_SCOPE,
    METHOD_SEGMENTS,
    USER_PROPERTIES,
    AuthMethod,
    FaultKind,
    GraphApiError,
    GraphState,
    GraphUser,
    IssuedToken,
    TokenError,
    decode_state_token,
    encode_state_token,
)

__all__ = [
    "DEMO_CLIENT_ID", "DEMO_SECRET", "DEMO_TENANT", "GRAPH_SCOPE", "GraphState", "create_app", "demo_state",
]

DEMO_TENANT = "8f2a6c1e-4b7d-4e21-9c3a-5d6e7f809a1b"
DEMO_CLIENT_ID = "3c9b2f71-0d4e-4a8b-b6f5-2e1d0c9a8b7f"
DEMO_SECRET = "demo-entra-client-secret"

DEFAULT_TOP = 100
MAX_TOP = 999
_USER_PROPS_CI = {name.lower(): name for name in USER_PROPERTIES}
_WRITABLE = USER_PROPERTIES - {"id", "createdDateTime", "onPremisesSamAccountName", "onPremisesSyncEnabled"}

READ_USERS = (frozenset({"User.Read.All"}), frozenset({"User.ReadWrite.All"}))
READ_METHODS = (frozenset({"UserAuthenticationMethod.Read.All"}), frozenset({"UserAuthenticationMethod.ReadWrite.All"}))
WRITE_METHODS = (frozenset({"UserAuthenticationMethod.ReadWrite.All"}),)
REVOKE_SESSIONS = (frozenset({"User.RevokeSessions.All"}), frozenset({"User.ReadWrite.All"}))
ENABLE_DISABLE = (frozenset({"User.EnableDisableAccount.All", "User.Read.All"}), frozenset({"User.ReadWrite.All"}))
WRITE_USERS = (frozenset({"User.ReadWrite.All"}),)

Handler = Callable[[GraphState, "Call"], Response]


class Call:
    """One authenticated Graph request, parsed."""

    def __init__(self, request: Request, token: IssuedToken, body: bytes) -> None:
        self.request = request
        self.token = token
        self.body = body
        self.params = dict(request.query_params)
        self.path_params: dict[str, str] = dict(request.path_params)

    def require(self, *alternatives: frozenset[str]) -> None:
        """403 unless the token holds every role of at least one alternative."""
        if not any(option <= self.token.roles for option in alternatives):
            raise GraphApiError(403, "Authorization_RequestDenied",
                                "Insufficient privileges to complete the operation.")

    def link(self, **params: str) -> str:
        """An absolute link to this path with the given query (``$skiptoken`` etc.), as Graph builds them."""
        base = f"{self.request.url.scheme}://{self.request.url.netloc}{self.request.url.path}"
        query = urlencode(params, safe="$,()")
        return f"{base}?{query}" if query else base


# -- the app -------------------------------------------------------------------------------------


def create_app(state: GraphState | None = None) -> Starlette:
    """The simulator bound to ``state`` (``demo_state()`` when omitted); ``app.state.graph`` holds it."""
    app = Starlette(routes=[
        Route("/v1.0/users", _graph(_list_users), methods=["GET"]),
        Route("/v1.0/users/delta", _graph(_delta), methods=["GET"]),
        Route("/v1.0/users/{uid}", _graph(_user), methods=["GET", "PATCH", "DELETE"]),
        Route("/v1.0/users/{uid}/revokeSignInSessions", _graph(_revoke_sessions), methods=["POST"]),
        Route("/v1.0/users/{uid}/authentication/methods", _graph(_list_methods), methods=["GET"]),
        Route("/v1.0/users/{uid}/authentication/{segment}/{mid}", _graph(_method), methods=["GET", "DELETE"]),
        Route("/v1.0/{path:path}", _graph(_unknown_segment), methods=["GET", "POST", "PATCH", "DELETE"]),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", _discovery, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", _token, methods=["POST"]),
    ])
    app.state.graph = state if state is not None else demo_state()
    return app


def _graph(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state: GraphState = request.app.state.graph
        body = await request.body()
        with state.lock:
            record = state.begin_call(request.method, request.url.path, dict(request.query_params))
            try:
                response = _respond(state, request, body, record.call, handler)
            except GraphApiError as error:
                response = _error(request, error)
                record.error_code = error.code
            record.status = response.status_code
        return response
    return endpoint


def _respond(state: GraphState, request: Request, body: bytes, call: int, handler: Handler) -> Response:
    """Front-door faults first, then the token, throttling, the handler, and a page fault last."""
    path = request.url.path
    front = state.take_fault(call, path, {FaultKind.html, FaultKind.unavailable, FaultKind.gateway_timeout})
    if front is not None:
        if front.kind is FaultKind.html:
            return HTMLResponse(_SIGN_IN_PAGE)
        status, code = (503, "serviceNotAvailable") if front.kind is FaultKind.unavailable else (504, "UnknownError")
        raise GraphApiError(status, code, "The service is temporarily unavailable. Please retry later.",
                            headers=_retry_after(front.retry_after))
    if state.take_fault(call, path, {FaultKind.expire_token}) is not None:
        oauth.expire_presented(state.tokens, request.headers.get("authorization", ""), state.clock.now())
    token = state.check_token(request.headers.get("authorization", ""))
    throttled = state.take_fault(call, path, {FaultKind.throttle})
    if throttled is not None:
        raise GraphApiError(429, "TooManyRequests", "Too many requests are being made. Please try again later.",
                            headers=_retry_after(throttled.retry_after))
    response = handler(state, Call(request, token, body))
    if request.method == "GET" and response.status_code == 200 and \
            state.take_fault(call, path, {FaultKind.malformed}) is not None:
        return JSONResponse({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users"})
    return response


def _retry_after(seconds: float | None) -> dict[str, str]:
    return {} if seconds is None else {"Retry-After": str(int(seconds)) if seconds == int(seconds) else str(seconds)}


def _error(request: Request, error: GraphApiError) -> Response:
    inner = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": str(uuid.uuid4()),
        "client-request-id": request.headers.get("client-request-id") or str(uuid.uuid4()),
    }
    body = {"error": {"code": error.code, "message": error.message, "innerError": inner}}
    return JSONResponse(body, status_code=error.status, headers=error.headers)


_SIGN_IN_PAGE = """<!DOCTYPE html>
<html><head><title>Sign in to your account</title></head>
<body><form method="post" action="/common/login"><input type="email" name="loginfmt">
<input type="submit" value="Next"></form></body></html>
"""


# -- Entra: discovery and token ------------------------------------------------------------------


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


async def _discovery(request: Request) -> Response:
    state: GraphState = request.app.state.graph
    tenant = request.path_params["tenant"]
    if tenant != state.tenant_id:
        return JSONResponse({"error": "invalid_tenant", "error_description": f"AADSTS90002: Tenant '{tenant}' not "
                             "found.", "error_codes": [90002]}, status_code=400)
    base = f"{_origin(request)}/{tenant}"
    return JSONResponse({
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{_origin(request)}/{tenant}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/v2.0",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "tenant_region_scope": "EU",
    })


async def _token(request: Request) -> Response:
    state: GraphState = request.app.state.graph
    body = (await request.body()).decode("utf-8", "replace")
    form = dict(parse_qsl(body, keep_blank_values=True))
    try:
        answer = state.issue_token(request.path_params["tenant"], form, oauth.client_basic(request))
    except TokenError as error:
        now = datetime.now(UTC)
        return JSONResponse({
            "error": error.error,
            "error_description": f"{error.description}\r\nTrace ID: {uuid.uuid4()}\r\nCorrelation ID: "
                                 f"{uuid.uuid4()}\r\nTimestamp: {now:%Y-%m-%d %H:%M:%SZ}",
            "error_codes": [error.aadsts], "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}",
            "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4()),
            "error_uri": f"{_origin(request)}/error?code={error.aadsts}",
        }, status_code=error.status)
    return JSONResponse(answer, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})


# -- query options -------------------------------------------------------------------------------


def _select(call: Call, raw: str | None = None) -> list[str]:
    raw = call.params.get("$select") if raw is None else raw
    if raw is None or raw.strip() == "":
        return list(DEFAULT_USER_PROPERTIES)
    names = []
    for part in raw.split(","):
        name = _USER_PROPS_CI.get(part.strip().lower())
        if name is None:
            raise GraphApiError(400, "Request_BadRequest",
                                f"Could not find a property named '{part.strip()}' on type 'microsoft.graph.user'.")
        if name not in names:
            names.append(name)
    return names


def _top(call: Call) -> int:
    raw = call.params.get("$top")
    if raw is None:
        return DEFAULT_TOP
    try:
        value = int(raw)
    except ValueError as exc:
        raise GraphApiError(400, "BadRequest", f"Invalid $top value '{raw}'.") from exc
    if not 1 <= value <= MAX_TOP:
        raise GraphApiError(400, "Request_BadRequest",
                            f"Invalid page size specified: '{value}'. Must be between 1 and {MAX_TOP} inclusive.")
    return value


def _expand_manager(call: Call) -> list[str] | None:
    """The manager's selected properties if ``$expand=manager[($select=...)]``, else None."""
    raw = call.params.get("$expand")
    if raw is None:
        return None
    raw = raw.strip()
    if raw == "manager":
        return ["id", "displayName", "userPrincipalName"]
    if raw.startswith("manager(") and raw.endswith(")"):
        inner = dict(p.split("=", 1) for p in raw[len("manager("):-1].split(";") if "=" in p)
        return _select(call, inner.get("$select", ""))
    raise GraphApiError(400, "Request_BadRequest", f"Could not find a navigation property named '{raw}'.")


LIFECYCLE = frozenset({"User-LifeCycleInfo.Read.All", "User-LifeCycleInfo.ReadWrite.All"})


def _hidden(call: Call) -> frozenset[str]:
    """Properties the token may not read: without User-LifeCycleInfo.Read.All the leave date comes back
    null (the silent case; whether Graph answers null or 403 is **unverified**)."""
    return frozenset() if call.token.roles & LIFECYCLE else frozenset({"employeeLeaveDateTime"})


def _project(state: GraphState, user: GraphUser, names: list[str], manager: list[str] | None,
             hidden: frozenset[str] = frozenset()) -> dict[str, Any]:
    out = {name: None if name in hidden else user.value(name) for name in names}
    if manager is not None and user.manager_id in state.users:
        out["manager"] = {"@odata.type": "#microsoft.graph.user",
                          **_project(state, state.users[user.manager_id], manager, None)}
    return out


def _context(names: list[str]) -> str:
    return f"https://graph.microsoft.com/v1.0/$metadata#users({','.join(names)})"


def _page_state(call: Call, kind: str) -> dict[str, Any]:
    token = call.params.get("$skiptoken")
    state = decode_state_token(token) if token else None
    if state is None or state.get("k") != kind:
        raise GraphApiError(400, "Request_BadRequest", "Invalid paging token.")
    return state


# -- users ---------------------------------------------------------------------------------------


def _list_users(state: GraphState, call: Call) -> Response:
    call.require(*READ_USERS)
    names, top, manager = _select(call), _top(call), _expand_manager(call)
    after = str(_page_state(call, "users")["after"]) if "$skiptoken" in call.params else ""
    users = [u for u in state.live_users_sorted() if u.id > after]
    page = users[:top]
    body: dict[str, Any] = {"@odata.context": _context(names),
                            "value": [_project(state, u, names, manager, _hidden(call)) for u in page]}
    if len(users) > top:
        query = {k: v for k, v in call.params.items() if k != "$skiptoken"}
        query["$skiptoken"] = encode_state_token({"k": "users", "after": page[-1].id})
        body["@odata.nextLink"] = call.link(**query)
    return JSONResponse(body)


def _find_user(state: GraphState, call: Call) -> GraphUser:
    user = state.users.get(call.path_params["uid"])
    if user is None:
        raise GraphApiError(404, "Request_ResourceNotFound", f"Resource '{call.path_params['uid']}' does not exist "
                            "or one of its queried reference-property objects are not present.")
    return user


def _user(state: GraphState, call: Call) -> Response:
    if call.request.method == "GET":
        call.require(*READ_USERS)
        user = _find_user(state, call)
        names = _select(call)
        body = _project(state, user, names, _expand_manager(call), _hidden(call))
        return JSONResponse({"@odata.context": _context(names), **body})
    if call.request.method == "DELETE":
        return _delete_user(state, call)
    return _patch_user(state, call)


def _delete_user(state: GraphState, call: Call) -> Response:
    """``DELETE /users/{id}``: 204, the user soft-deleted (restorable for 30 days); needs User.ReadWrite.All."""
    uid, status = call.path_params["uid"], 500
    try:
        call.require(*WRITE_USERS)
        _find_user(state, call)
        state.delete_user(uid)
        status = 204
        return Response(status_code=204)
    except GraphApiError as error:
        status = error.status
        raise
    finally:
        state.record_write("DELETE", call.request.url.path, uid, "delete", {}, status)


def _patch_user(state: GraphState, call: Call) -> Response:
    status = 500
    uid = call.path_params["uid"]
    changes: dict[str, Any] = {}
    try:
        try:
            decoded = json.loads(call.body or b"null")
        except ValueError as exc:
            raise GraphApiError(400, "BadRequest", "Unable to read JSON request payload.") from exc
        if not isinstance(decoded, dict) or not decoded:
            raise GraphApiError(400, "BadRequest", "Empty Payload. JSON content expected.")
        changes = decoded
        call.require(*(ENABLE_DISABLE if set(changes) == {"accountEnabled"} else WRITE_USERS))
        user = _find_user(state, call)
        for name in changes:
            if name not in _WRITABLE:
                raise GraphApiError(400, "Request_BadRequest", f"Invalid property '{name}'.")
        if "accountEnabled" in changes and not isinstance(changes["accountEnabled"], bool):
            raise GraphApiError(400, "Request_BadRequest",
                                "Cannot convert the literal to the expected type 'Edm.Boolean'.")
        if any(user.props.get(k) != v for k, v in changes.items()):
            state.update_user(user.id, **changes)
        status = 204
        return Response(status_code=204)
    except GraphApiError as error:
        status = error.status
        raise
    finally:
        state.record_write("PATCH", call.request.url.path, uid, "update", changes, status)


def _revoke_sessions(state: GraphState, call: Call) -> Response:
    uid, status = call.path_params["uid"], 500
    try:
        call.require(*REVOKE_SESSIONS)
        user = _find_user(state, call)
        if user.props.get("userType") != "Guest":
            # Graph answers a guest the same, but ends none of its sessions (they live in its home tenant).
            user.sessions_revoked_at = state.clock.now()
        status = 200
        return JSONResponse({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean",
                             "value": True})
    except GraphApiError as error:
        status = error.status
        raise
    finally:
        state.record_write("POST", call.request.url.path, uid, "revokeSignInSessions", {}, status)


# -- authentication methods ----------------------------------------------------------------------


def _list_methods(state: GraphState, call: Call) -> Response:
    call.require(*READ_METHODS)
    user = _find_user(state, call)
    return JSONResponse({
        "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#users('{user.id}')/authentication/methods",
        "value": [m.as_json() for m in user.methods],
    })


def _method(state: GraphState, call: Call) -> Response:
    segment, mid = call.path_params["segment"], call.path_params["mid"]
    if segment not in METHOD_SEGMENTS:
        raise GraphApiError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
    if call.request.method == "GET":
        call.require(*READ_METHODS)
        user = _find_user(state, call)
        return JSONResponse(_find_method(user, segment, mid).as_json())
    status = 500
    try:
        call.require(*WRITE_METHODS)
        user = _find_user(state, call)
        method = _find_method(user, segment, mid)
        if segment == "passwordMethods":
            raise GraphApiError(400, "badRequest", "Deleting the password method is not supported.")
        user.methods.remove(method)
        status = 204
        return Response(status_code=204)
    except GraphApiError as error:
        status = error.status
        raise
    finally:
        state.record_write("DELETE", call.request.url.path, call.path_params["uid"], "deleteMethod", {}, status)


def _find_method(user: GraphUser, segment: str, mid: str) -> AuthMethod:
    for method in user.methods:
        if method.id == mid and method.segment == segment:
            return method
    raise GraphApiError(404, "itemNotFound", "The requested authentication method was not found.")


def _unknown_segment(state: GraphState, call: Call) -> Response:
    first = call.path_params.get("path", "").split("/")[0]
    raise GraphApiError(400, "BadRequest", f"Resource not found for the segment '{first}'.")


# -- delta ---------------------------------------------------------------------------------------


def _stale(state: GraphState, token: dict[str, Any]) -> bool:
    if token.get("epoch") != state.delta_epoch:
        return True
    try:
        issued = datetime.fromisoformat(str(token["issued"]))
    except (KeyError, ValueError):
        return True
    return state.clock.now() - issued > state.delta_token_lifetime


def _sync_state_not_found(state: GraphState) -> GraphApiError:
    return GraphApiError(state.stale_delta_status, "syncStateNotFound",
                         "The sync state generation is not found or has expired. Start a new full sync "
                         "without a state token.")


def _delta(state: GraphState, call: Call) -> Response:
    call.require(*READ_USERS)
    now = state.clock.now().isoformat()
    if "$skiptoken" in call.params:
        round_ = _page_state(call, "delta-page")
        if _stale(state, round_):
            raise _sync_state_not_found(state)
    elif "$deltatoken" in call.params:
        raw = call.params["$deltatoken"]
        if raw == "latest":
            selected = _select(call)
            token = {"k": "delta", "since": state.version, "select": selected, "epoch": state.delta_epoch,
                     "issued": now}
            return JSONResponse({"@odata.context": _context(selected), "value": [],
                                 "@odata.deltaLink": call.link(**{"$deltatoken": encode_state_token(token)})})
        decoded = decode_state_token(raw)
        if decoded is None or decoded.get("k") != "delta":
            raise GraphApiError(400, "Request_BadRequest", "Invalid delta token.")
        if _stale(state, decoded):
            raise _sync_state_not_found(state)
        round_ = {"k": "delta-page", "since": decoded["since"], "upto": state.version, "after": "",
                  "select": decoded["select"], "epoch": state.delta_epoch, "issued": decoded["issued"]}
    else:
        round_ = {"k": "delta-page", "since": None, "upto": state.version, "after": "", "select": _select(call),
                  "epoch": state.delta_epoch, "issued": now}
    names: list[str] = list(round_["select"])
    since, upto, after = round_["since"], int(round_["upto"]), str(round_["after"])
    items: list[tuple[str, dict[str, Any]]] = []
    for user in state.users.values():
        if user.id > after and user.version <= upto and (since is None or user.version > since):
            item = {"@odata.type": "#microsoft.graph.user"}
            item.update({n: user.value(n) for n in names if user.props.get(n) is not None or n in user.ever_set})
            if "id" not in names:
                item["id"] = user.id  # delta items always carry the id
            items.append((user.id, item))
    if since is not None:
        for tomb in state.tombstones.values():
            if tomb.id > after and since < tomb.version <= upto:
                items.append((tomb.id, {"@odata.type": "#microsoft.graph.user", "id": tomb.id,
                                        "@removed": {"reason": tomb.reason}}))
    items.sort(key=lambda pair: pair[0])
    page = items[:state.delta_page_size]
    body: dict[str, Any] = {"@odata.context": _context(names), "value": [item for _, item in page]}
    if len(items) > len(page):
        round_["after"] = page[-1][0]
        body["@odata.nextLink"] = call.link(**{"$skiptoken": encode_state_token(round_)})
    else:
        token = {"k": "delta", "since": upto, "select": names, "epoch": state.delta_epoch, "issued": now}
        body["@odata.deltaLink"] = call.link(**{"$deltatoken": encode_state_token(token)})
    return JSONResponse(body)


# -- demo ----------------------------------------------------------------------------------------


def demo_state() -> GraphState:
    """A small tenant for ``accessward demo`` and tests: one app, and people of every kind.

    - Ana Admin, Sam Social: active employees; Ana has Microsoft Authenticator, Sam only a password;
    - Lee Leaver: disabled (``accountEnabled`` false), still has an authenticator;
    - Pat Past: ``employeeLeaveDateTime`` ten days ago, still enabled (a leaver HR has recorded);
    - Fay Future: leaving in thirty days;
    - Gus Guest: a B2B guest from the agency (``userType`` Guest), no MFA;
    - Cory Contractor: ``employeeType`` Contractor, with a FIDO2 key.
    """
    state = GraphState(DEMO_TENANT)
    state.add_app(DEMO_CLIENT_ID, DEMO_SECRET)
    now = state.clock.now()
    ana = state.add_user("Ana Admin", "ana.admin@contoso.example", employeeId="E1001", department="Marketing",
                         jobTitle="Head of Social")
    sam = state.add_user("Sam Social", "sam.social@contoso.example", employeeId="E1002", department="Marketing",
                         proxyAddresses=["SMTP:sam.social@contoso.example", "smtp:sam@contoso.example"])
    lee = state.add_user("Lee Leaver", "lee.leaver@contoso.example", employeeId="E1003", department="Marketing",
                         accountEnabled=False)
    pat = state.add_user("Pat Past", "pat.past@contoso.example", employeeId="E1004", department="Sales",
                         employeeLeaveDateTime=now - timedelta(days=10))
    fay = state.add_user("Fay Future", "fay.future@contoso.example", employeeId="E1005", department="Sales",
                         employeeLeaveDateTime=now + timedelta(days=30))
    gus = state.add_guest("Gus Guest", "gus@agency.example", department="Agency")
    cory = state.add_user("Cory Contractor", "cory.contractor@contoso.example", employeeId="C2001",
                          employeeType="Contractor", department="Marketing")
    for user in (ana, sam, lee, pat, fay, cory):
        state.add_password(user.id)
        state.set_manager(user.id, ana.id if user is not ana else None)
    state.add_authenticator(ana.id, "Ana's iPhone")
    state.add_authenticator(lee.id, "Lee's Pixel")
    state.add_authenticator(pat.id, "Pat's Galaxy")
    state.add_authenticator(fay.id, "Fay's iPhone")
    state.add_method(cory.id, "fido2Methods", displayName="YubiKey 5C", model="YubiKey 5C NFC",
                     aaGuid="cb69481e-8ff7-4039-93ec-0a2729a154a8")
    state.add_method(gus.id, "emailMethods", emailAddress="gus@agency.example")
    return state
