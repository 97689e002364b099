"""A faithful simulator of the Meta Graph API business endpoints, as a Starlette app.

Endpoints: the business node and its ``business_users``, ``system_users``, ``pending_users``,
``owned_pages``, ``owned_instagram_assets``, ``owned_instagram_accounts`` and ``agencies``
(GET; ``DELETE agencies`` with ``business=``); each Page's and Instagram asset's
``assigned_users`` (GET with ``business=``; DELETE with ``user=``) and ``agencies`` (GET; DELETE
with ``business=``); ``DELETE /{business-user-id}`` (remove a person from the business) and
``DELETE /{system-user-id}``; GET of any node.

It reproduces what a connector must cope with (reference/social-apis.md, section 1): cursor
paging with an absolute ``paging.next`` only while more remains, ``limit``/``after``/
``summary=total_count``, default fields ``id,name`` unless ``fields=`` asks for more, the
``{"error": {...}}`` wrapper on HTTP 400 for everything (Meta never sends 429), token expiry,
throttling with usage headers, and the faults of a hostile network (5xx, an HTML login page, a
redirect, a body without ``data``). State and switches live in ``sandbox.meta_state``.

Choices where Meta's public docs are silent (each **unverified**):

- Removing the last page assignee with MANAGE is refused with **code 100** (no subcode): it is a
  validation refusal like Graph's other parameter errors. A 200-range code would claim the
  *caller* lacks permission, a different failure that connectors treat as an auth problem.
- A repeated removal (user not assigned) answers per ``MetaState.repeat_delete``; default code
  100 "not assigned", switchable to ``{"success": true}``.
- ``paging.next`` carries the caller's ``access_token``, as Graph's ready-to-use links do, even
  when the token came in a header, so clients must keep those URLs out of their logs.
- ``limit`` defaults to 25 and is capped at 100 on every edge.
- Removing the last ADMIN business user (``DELETE /{business-user-id}``) is refused with code
  100 like the Page rule; ADMIN system users do not count. Removing a person from the business
  also ends their Page and Instagram assignments.
- ``DELETE /{system-user-id}`` removes the system user like a business user.
- An asset's ``agencies`` edge reports each partner's tasks in ``permitted_tasks`` (the name of
  the POST parameter that grants them); the business's ``agencies`` edge has no tasks.
  ``DELETE /{business}/agencies`` also ends the partner's access to every shared asset.
- A repeat of any removal answers per ``MetaState.repeat_delete``; for a removed business user
  ``error`` is the unknown-node answer (100/33) every deleted id gets.
- ``assigned_users`` and ``DELETE agencies`` on the ``IGUser`` node exist only with
  ``MetaState.ig_user_edges`` (the SDK has them on ``InstagramBusinessAsset`` only).

Page edges (reference/social-apis.md, "Page edges need a Page token"): ``/{page-id}/assigned_users``,
``/agencies`` and ``/roles``, GET and DELETE, want a *Page* access token. Any other token gets Graph's
code 190 "(#190) This method must be called with a Page Access Token". ``GET /{page-id}?fields=
access_token`` answers the Page token to a system-user token that may manage the Page
(``TokenInfo.pages``) and leaves the field out otherwise (**unverified**: Graph may refuse instead).
``/{page-id}/roles`` (people with a task on the Page who belong to no business) is read-only: the
SDK has no DELETE on it, so the simulator answers one as an unsupported request. A Page's
``agencies`` rows carry ``access_status`` (CONFIRMED, or PENDING for a request not approved).
``DELETE /{business-role-request-id}`` cancels an invitation (``BusinessRoleRequest.api_delete``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from accessward.sandbox.clock import Clock
from accessward.sandbox.meta_state import (
    GRAPH_VERSION,
    THROTTLE_MESSAGES,
    Fault,
    FaultKind,
    GraphError,
    MetaState,
    Page,
    RecordedCall,
    Removal,
    RepeatDelete,
    Unassign,
    decode_cursor,
    encode_cursor,
)

__all__ = [
    "DEMO_TOKEN", "GRAPH_VERSION", "Clock", "FaultKind", "GraphError", "MetaState", "RecordedCall",
    "RepeatDelete", "create_app", "demo_state",
]

DEMO_TOKEN = "demo-meta-token"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
LAST_MANAGER_MESSAGE = (
    "(#100) Cannot remove this person: they are the only one with the MANAGE task on this Page. "
    "Give MANAGE to someone else first."
)
PAGE_TOKEN_REQUIRED = "(#190) This method must be called with a Page Access Token"
#: The Page edges that want a Page access token.
PAGE_EDGES = frozenset({"assigned_users", "agencies", "roles"})
LAST_ADMIN_MESSAGE = (
    "(#100) Cannot remove this person: they are the only admin of this business. "
    "Make someone else an admin first."
)

#: Per node type: the fields Graph knows, and those it returns when ``fields=`` is absent.
FIELDS: dict[str, frozenset[str]] = {
    "Business": frozenset({"id", "name"}),
    "BusinessUser": frozenset({
        "id", "name", "email", "first_name", "last_name", "title", "role", "tasks", "two_fac_status",
        "pending_email", "marked_for_removal", "finance_permission", "ip_permission", "invited_user_type",
        "business",
    }),
    "SystemUser": frozenset({
        "id", "name", "role", "created_by", "created_time", "finance_permission", "ip_permission",
        "system_user_id",
    }),
    "Page": frozenset({"id", "name", "category", "link", "access_token"}),
    "InstagramBusinessAsset": frozenset({"id", "ig_user_id", "ig_username"}),
    "IGUser": frozenset({"id", "username", "name", "owner_business"}),
    "AssignedUser": frozenset({"id", "name", "user_type", "business", "tasks", "permitted_tasks"}),
    "Agency": frozenset({"id", "name", "permitted_tasks", "access_status"}),
    "User": frozenset({"id", "name"}),
    "PageRole": frozenset({"id", "name", "tasks"}),
    "BusinessRoleRequest": frozenset({"id", "email", "role", "status", "tasks", "expiration_time", "created_time",
                                      "invite_link"}),
}
DEFAULT_FIELDS = ("id", "name")


@dataclass
class GraphRequest:
    """One parsed API call: the node, the edge (None for the node itself) and merged params."""

    method: str
    node: str
    edge: str | None
    params: dict[str, str]
    token: str
    url: URL


Handler = Callable[[MetaState, GraphRequest], dict[str, Any]]


# -- the app -------------------------------------------------------------------------------------


def create_app(state: MetaState | None = None, *, version: str = GRAPH_VERSION) -> Starlette:
    """The simulator bound to ``state`` (``demo_state()`` when omitted); ``app.state.meta`` holds it."""
    methods = ["GET", "POST", "DELETE"]
    app = Starlette(routes=[
        Route(f"/{version}/{{node}}", _endpoint, methods=methods),
        Route(f"/{version}/{{node}}/{{edge}}", _endpoint, methods=methods),
        Route("/{path:path}", _unknown_path, methods=methods),
    ])
    app.state.meta = state if state is not None else demo_state()
    return app


async def _endpoint(request: Request) -> Response:
    state: MetaState = request.app.state.meta
    params = await _read_params(request)
    token = params.pop("access_token", "") or _header_token(request)
    with state.lock:
        record = state.begin_call(request.method, request.url.path, params)
        response, code = _respond(state, request, params, token, record.call)
        record.status, record.error_code = response.status_code, code
    return response


async def _unknown_path(request: Request) -> Response:
    """A path outside ``/{version}/``: Graph's "unknown path components" (a bad base URL)."""
    state: MetaState = request.app.state.meta
    error = GraphError(2500, f"Unknown path components: /{request.path_params.get('path', '')}")
    return _error_response(state, error)


async def _read_params(request: Request) -> dict[str, str]:
    """Query string plus a form or JSON body: Graph accepts parameters in either."""
    params = dict(request.query_params)
    body = await request.body()
    ctype = request.headers.get("content-type", "")
    if body and "application/x-www-form-urlencoded" in ctype:
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif body and "json" in ctype:
        try:
            decoded = json.loads(body)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            params.update({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in decoded.items()})
    return params


def _header_token(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() in ("bearer", "oauth") else ""


def _respond(
    state: MetaState, request: Request, params: dict[str, str], token: str, call: int,
) -> tuple[Response, int | None]:
    """Faults first (a proxy answers before Graph does), then auth, throttling and the edge."""
    infra = state.active_fault(call, {FaultKind.html, FaultKind.redirect, FaultKind.server_error,
                                      FaultKind.no_data})
    if infra is not None:
        return _fault_response(state, infra, request)
    try:
        if state.active_fault(call, {FaultKind.expire_token}) is not None and token in state.tokens:
            state.expire_token(token)
        state.check_token(token)
        throttled = _throttled(state, call)
        if throttled is not None:
            return _throttle_response(state, *throttled), throttled[0]
        refusal = state.active_fault(call, {FaultKind.refuse})
        if refusal is not None:
            raise GraphError(refusal.code, refusal.message)
        node, edge = request.path_params["node"], request.path_params.get("edge")
        body = _dispatch(state, GraphRequest(request.method, node, edge, params, token, request.url))
    except GraphError as error:
        return _error_response(state, error), error.code
    return JSONResponse(body, headers=_usage_headers(state, 0)), None


# -- errors, faults and rate limiting -----------------------------------------------------------


def _error_response(state: MetaState, error: GraphError, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"message": error.message, "type": error.error_type, "code": error.code}
    if error.subcode is not None:
        body["error_subcode"] = error.subcode
    if error.user_title:
        body["error_user_title"] = error.user_title
    if error.user_msg:
        body["error_user_msg"] = error.user_msg
    if error.code in (1, 2):
        body["is_transient"] = True
    body["fbtrace_id"] = "A" + secrets.token_urlsafe(15)
    return JSONResponse({"error": body}, status_code=error.status, headers=headers)


def _throttled(state: MetaState, call: int) -> tuple[int, int] | None:
    fault = state.active_fault(call, {FaultKind.throttle})
    if fault is not None:
        return fault.code, fault.eta_minutes
    return state.rate_limited()


def _throttle_response(state: MetaState, code: int, eta_minutes: int) -> Response:
    error = GraphError(code, THROTTLE_MESSAGES[code])
    return _error_response(state, error, _usage_headers(state, eta_minutes, throttled=True, code=code))


def _usage_headers(state: MetaState, eta_minutes: int, *, throttled: bool = False,
                   code: int = 80001) -> dict[str, str]:
    """X-App-Usage and X-Business-Use-Case-Usage, JSON-valued as Meta sends them."""
    pct = 100 if throttled else state.usage_percent()
    buc_type = {80002: "instagram", 80004: "ads_management"}.get(code, "pages")
    app_usage = {"call_count": pct, "total_cputime": pct // 2, "total_time": pct // 2}
    buc = {state.business_id: [{
        "type": buc_type, "call_count": pct, "total_cputime": pct // 2, "total_time": pct // 2,
        "estimated_time_to_regain_access": eta_minutes,
    }]}
    return {"X-App-Usage": json.dumps(app_usage), "X-Business-Use-Case-Usage": json.dumps(buc)}


_LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Log in to Facebook</title></head>
<body><form id="login_form" action="/login/device-based/regular/login/" method="post">
<input type="email" name="email"><input type="password" name="pass"><button>Log in</button>
</form></body></html>
"""


def _fault_response(state: MetaState, fault: Fault, request: Request) -> tuple[Response, int | None]:
    if fault.kind is FaultKind.html:
        return HTMLResponse(_LOGIN_PAGE), None
    if fault.kind is FaultKind.redirect:
        target = "https://www.facebook.com/login.php?next=" + quote(str(request.url.path), safe="")
        return RedirectResponse(target, status_code=302), None
    if fault.kind is FaultKind.no_data:
        return JSONResponse({"status": "ok"}), None
    error = GraphError(2, "An unexpected error has occurred. Please retry your request later.", status=500)
    return _error_response(state, error), error.code


# -- routing -------------------------------------------------------------------------------------


def _dispatch(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    node_type = state.node_type(req.node)
    if req.node == "me" and req.edge == "permissions" and req.method == "GET":
        return me_permissions(state, req)
    if node_type is None:
        if req.edge is None and req.method == "DELETE" and req.node in state.removed_users:
            return _remove_from_business(state, req)  # a repeat: the switch decides
        raise _unsupported(req)
    if node_type == "Business" and req.node != state.business_id and req.edge is not None:
        raise _unsupported(req)  # a partner's own edges are not visible to our token
    if req.edge is None:
        if req.method == "DELETE" and node_type in ("BusinessUser", "SystemUser"):
            return _remove_from_business(state, req)
        if req.method == "DELETE" and node_type == "BusinessRoleRequest":
            return _cancel_invitation(state, req)
        if req.method != "GET":
            raise _unsupported(req)
        return _node(state, node_type, req)
    if node_type == "Page" and req.edge in PAGE_EDGES and state.tokens[req.token].page_id != req.node:
        raise GraphError(190, PAGE_TOKEN_REQUIRED)
    handler = ROUTES.get((node_type, req.edge, req.method))
    if handler is not None:
        return handler(state, req)
    if any((node_type, req.edge, m) in ROUTES for m in ("GET", "POST", "DELETE")):
        raise _unsupported(req)
    raise GraphError(100, f"(#100) Tried accessing nonexisting field ({req.edge}) on node type ({node_type})")


def _unsupported(req: GraphRequest) -> GraphError:
    return GraphError(
        100,
        f"Unsupported {req.method.lower()} request. Object with ID '{req.node}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read the Graph "
        "API documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33, error_type="GraphMethodException",
    )


def _require_scope(state: MetaState, req: GraphRequest, scope: str = "business_management") -> None:
    if scope not in state.tokens[req.token].scopes:
        raise GraphError(200, f"(#200) Requires {scope} permission to manage the object")


def _require_manager(state: MetaState, req: GraphRequest, what: str) -> None:
    if not state.tokens[req.token].can_manage:
        raise GraphError(200, f"(#200) You must be an admin of the business or have the MANAGE task on this "
                              f"asset to {what}")


def _require_param(req: GraphRequest, name: str) -> str:
    value = req.params.get(name, "")
    if not value:
        raise GraphError(100, f"(#100) The parameter {name} is required")
    return value


def _require_ig_user_edge(state: MetaState, req: GraphRequest) -> None:
    """``IGUser`` has no ``assigned_users`` / ``DELETE agencies`` unless switched on (unverified)."""
    if state.node_type(req.node) == "IGUser" and not state.ig_user_edges:
        raise GraphError(100, f"(#100) Tried accessing nonexisting field ({req.edge}) on node type (IGUser)")


def _asset_label(state: MetaState, node: str) -> str:
    return "Page" if node in state.pages else "Instagram account"


def _require_business(state: MetaState, req: GraphRequest, *, required: bool) -> None:
    business = req.params.get("business")
    if business is None:
        if required:
            raise GraphError(100, "(#100) The parameter business is required")
        return
    if business != state.business_id:
        raise GraphError(100, "(#100) Param business must be a valid business ID owning this Page")


# -- fields and paging --------------------------------------------------------------------------


def _requested_fields(req: GraphRequest, node_type: str) -> list[str]:
    """The top-level names in ``fields=`` (``business{id,name}`` counts as ``business``)."""
    raw = req.params.get("fields")
    if raw is None:
        return list(DEFAULT_FIELDS)
    names, depth, current = [], 0, ""
    for ch in raw + ",":
        depth += (ch == "{") - (ch == "}")
        if ch == "," and depth == 0:
            name = current.split("{")[0].split(".")[0].strip()
            if name:
                names.append(name)
            current = ""
        else:
            current += ch
    for name in names:
        if name not in FIELDS[node_type]:
            raise GraphError(100, f"(#100) Tried accessing nonexisting field ({name}) on node type ({node_type})")
    return names


def _project(item: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The requested fields that have a value; Graph always returns ``id``."""
    out = {"id": item["id"]}
    out.update({n: item[n] for n in names if n in item and item[n] is not None})
    return out


def _limit(req: GraphRequest) -> int:
    raw = req.params.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError as exc:
        raise GraphError(100, "(#100) Param limit must be a non-negative integer") from exc
    if value < 0:
        raise GraphError(100, "(#100) Param limit must be a non-negative integer")
    return min(max(value, 1), MAX_LIMIT)


def _start(req: GraphRequest, ids: list[str], limit: int) -> int:
    """Index of the first item of the page asked for by ``after`` or ``before``."""
    if req.params.get("after"):
        item_id, pos = decode_cursor(req.params["after"])
        return ids.index(item_id) + 1 if item_id in ids else pos  # removed meanwhile: its slot
    if req.params.get("before"):
        item_id, pos = decode_cursor(req.params["before"])
        end = ids.index(item_id) if item_id in ids else pos
        return max(0, end - limit)
    return 0


def _list(req: GraphRequest, items: list[dict[str, Any]], node_type: str) -> dict[str, Any]:
    """A Graph edge answer: ``data`` + ``paging`` (cursors, ``next`` only while more remains)."""
    names = _requested_fields(req, node_type)
    limit = _limit(req)
    ids = [str(item["id"]) for item in items]
    start = min(_start(req, ids, limit), len(items))
    page = items[start:start + limit]
    body: dict[str, Any] = {"data": [_project(item, names) for item in page]}
    if page:
        first, last = encode_cursor(ids[start], start), encode_cursor(ids[start + len(page) - 1],
                                                                        start + len(page) - 1)
        paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
        if start + len(page) < len(items):
            paging["next"] = str(req.url.remove_query_params("before")
                                 .include_query_params(after=last, access_token=req.token))
        if start > 0:
            paging["previous"] = str(req.url.remove_query_params("after")
                                     .include_query_params(before=first, access_token=req.token))
        body["paging"] = paging
    if "total_count" in req.params.get("summary", "") or req.params.get("summary") == "true":
        body["summary"] = {"total_count": len(items)}
    return body


# -- edges ---------------------------------------------------------------------------------------


def _node(state: MetaState, node_type: str, req: GraphRequest) -> dict[str, Any]:
    fields: dict[str, Any]
    if node_type == "Business":
        partner = state.partners.get(req.node)
        fields = dict(state.business_ref) if partner is None else {"id": partner.id, "name": partner.name}
    elif node_type == "BusinessUser":
        fields = state.business_users[req.node].fields(state.business_ref)
    elif node_type == "SystemUser":
        fields = state.system_users[req.node].fields(state.business_ref)
    elif node_type == "Page":
        fields = state.pages[req.node].fields()
        if "access_token" in _requested_fields(req, node_type):
            fields["access_token"] = state.page_token(req.token, req.node)  # None: left out
    elif node_type == "InstagramBusinessAsset":
        fields = state.instagram_accounts[req.node].asset_fields()
    elif node_type == "IGUser":
        account = state.instagram_by_user(req.node)
        assert account is not None
        fields = account.user_fields(state.business_ref)
    elif node_type == "BusinessRoleRequest":
        fields = state.pending_users[req.node].fields()
    else:
        fields = {"id": req.node, "name": state.user_name(req.node)}
    return _project(fields, _requested_fields(req, node_type))


def _business_users(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    _require_scope(state, req)
    items = [u.fields(state.business_ref) for u in state.business_users.values()]
    return _list(req, items, "BusinessUser")


def _system_users(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    _require_scope(state, req)
    items = [u.fields(state.business_ref) for u in state.system_users.values()]
    return _list(req, items, "SystemUser")


def _pending_users(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    _require_scope(state, req)
    items: list[dict[str, Any]] = [i.fields() for i in state.pending_users.values()]
    return _list(req, items, "BusinessRoleRequest")


def _cancel_invitation(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    """``DELETE /{business-role-request-id}``: the invitation is withdrawn."""
    _require_scope(state, req)
    _require_manager(state, req, "cancel invitations")
    state.remove_pending_user(req.node)
    return {"success": True}


def _page_roles(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    """``GET /{page-id}/roles``: people with a task on the Page who belong to no business."""
    _require_scope(state, req, "pages_manage_metadata")
    page = state.pages[req.node]
    items: list[dict[str, Any]] = [{"id": uid, "name": state.user_name(uid), "tasks": list(tasks)}
                                   for uid, tasks in page.roles.items()]
    return _list(req, items, "PageRole")


def _owned_pages(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    _require_scope(state, req)
    return _list(req, [p.fields() for p in state.pages.values()], "Page")


def _owned_instagram_assets(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    _require_scope(state, req)
    return _list(req, [a.asset_fields() for a in state.instagram_accounts.values()], "InstagramBusinessAsset")


def _owned_instagram_accounts(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    _require_scope(state, req)
    items = [a.user_fields(state.business_ref) for a in state.instagram_accounts.values()]
    return _list(req, items, "IGUser")


def _business_agencies(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    _require_scope(state, req)
    items: list[dict[str, Any]] = [{"id": p.id, "name": p.name} for p in state.partners.values() if p.linked]
    return _list(req, items, "Business")


def _remove_business_agency(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    """``DELETE /{business}/agencies?business=…``: unlink the partner (and end its asset access)."""
    _require_scope(state, req)
    partner = _require_param(req, "business")
    _require_manager(state, req, "remove partners")
    if partner not in state.partners:
        raise GraphError(100, f"(#100) Param business must be a valid business ID; {partner} is not one")
    outcome = state.remove_partner(partner)
    if outcome is Unassign.not_assigned and state.repeat_delete is RepeatDelete.error:
        raise GraphError(100, f"(#100) Business {partner} is not an agency of this business")
    return {"success": True}


def _remove_from_business(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    """``DELETE /{business-user-id}``: success, last-ADMIN refusal, or the repeat rule."""
    _require_scope(state, req)
    _require_manager(state, req, "remove people from the business")
    outcome = state.remove_from_business(req.node)
    if outcome is Removal.last_admin:
        raise GraphError(100, LAST_ADMIN_MESSAGE, user_title="Can't remove the last admin",
                         user_msg="Give admin access to this business to someone else before removing this person.")
    if outcome is Removal.unknown or (outcome is Removal.already_removed
                                      and state.repeat_delete is RepeatDelete.error):
        raise _unsupported(req)
    return {"success": True}


def _assigned_users(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    _require_scope(state, req)
    _require_ig_user_edge(state, req)
    _require_business(state, req, required=True)
    items: list[dict[str, Any]] = [
        {"id": uid, "name": state.user_name(uid), "user_type": state.user_type(uid),
         "business": state.business_ref, "tasks": list(tasks), "permitted_tasks": list(tasks)}
        for uid, tasks in state.asset(req.node).assignments.items()
    ]
    return _list(req, items, "AssignedUser")


def _remove_assigned_user(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    """``DELETE /{asset}/assigned_users?user=…``: success, last-MANAGE refusal, or the repeat rule."""
    _require_scope(state, req)
    _require_ig_user_edge(state, req)
    _require_business(state, req, required=False)
    user = _require_param(req, "user")
    _require_manager(state, req, "remove people from it")
    outcome = state.unassign(req.node, user)
    label = _asset_label(state, req.node)
    if outcome is Unassign.last_manager:
        message = LAST_MANAGER_MESSAGE.replace("this Page", f"this {label}")
        raise GraphError(100, message, user_title=f"Can't remove the last {label} admin",
                         user_msg=f"Give full control of this {label} to someone else before removing this person.")
    if outcome is Unassign.not_assigned and state.repeat_delete is RepeatDelete.error:
        raise GraphError(100, f"(#100) The user {user} is not assigned to this {label}")
    return {"success": True}


def _asset_agencies(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    """``GET /{asset}/agencies``: partner businesses with access, each with its ``permitted_tasks``."""
    _require_scope(state, req)
    asset = state.asset(req.node)
    status = asset.agency_status if isinstance(asset, Page) else {}
    items: list[dict[str, Any]] = [
        {"id": pid, "name": state.partners[pid].name, "permitted_tasks": list(tasks),
         "access_status": status.get(pid, "CONFIRMED")}
        for pid, tasks in asset.agencies.items()
    ]
    return _list(req, items, "Agency")


def _remove_asset_agency(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    """``DELETE /{asset}/agencies?business=…``: take the partner off this asset, or the repeat rule."""
    _require_scope(state, req)
    _require_ig_user_edge(state, req)
    partner = _require_param(req, "business")
    _require_manager(state, req, "remove partners from it")
    if partner not in state.partners:
        raise GraphError(100, f"(#100) Param business must be a valid business ID; {partner} is not one")
    outcome = state.remove_agency(req.node, partner)
    if outcome is Unassign.not_assigned and state.repeat_delete is RepeatDelete.error:
        raise GraphError(100, f"(#100) Business {partner} does not have access to this "
                              f"{_asset_label(state, req.node)}")
    return {"success": True}


ROUTES: dict[tuple[str, str, str], Handler] = {
    ("Business", "business_users", "GET"): _business_users,
    ("Business", "system_users", "GET"): _system_users,
    ("Business", "pending_users", "GET"): _pending_users,
    ("Business", "owned_pages", "GET"): _owned_pages,
    ("Business", "owned_instagram_assets", "GET"): _owned_instagram_assets,
    ("Business", "owned_instagram_accounts", "GET"): _owned_instagram_accounts,
    ("Business", "agencies", "GET"): _business_agencies,
    ("Business", "agencies", "DELETE"): _remove_business_agency,
    ("Page", "roles", "GET"): _page_roles,
    **{(kind, "assigned_users", "GET"): _assigned_users for kind in ("Page", "InstagramBusinessAsset", "IGUser")},
    **{(kind, "assigned_users", "DELETE"): _remove_assigned_user
       for kind in ("Page", "InstagramBusinessAsset", "IGUser")},
    **{(kind, "agencies", "GET"): _asset_agencies for kind in ("Page", "InstagramBusinessAsset", "IGUser")},
    **{(kind, "agencies", "DELETE"): _remove_asset_agency for kind in ("Page", "InstagramBusinessAsset", "IGUser")},
}


# -- demo data -----------------------------------------------------------------------------------


def demo_state(token: str = DEMO_TOKEN) -> MetaState:
    """A small brand business: three pages, an Instagram account, five staff, one system user, an
    agency person, a freelancer with direct Page access, an invite, and two partner agencies.

    Dana Leaver has left the company but still holds MANAGE on the main page and content tasks
    on the Instagram account (the findings the demo is about); her 2FA is off. Sam Rivera is the
    only manager of the shop page, so removing Sam there is refused as "last admin"; Alex Morgan
    is the only business ADMIN, so removing Alex from the business is refused too. Brightside
    Agency advertises on the main page; Old Pixel Studio's engagement has ended but it still has
    the careers page and the Instagram account.
    """
    state = MetaState("100000000000001", "Northwind Coffee Roasters")
    state.add_token(token)
    main = state.add_page("Northwind Coffee", page_id="200000000000001")
    careers = state.add_page("Northwind Careers", category="Company", page_id="200000000000002")
    shop = state.add_page("Northwind Coffee Shop DE", category="Shopping", page_id="200000000000003")

    alex = state.add_business_user("Alex Morgan", "alex.morgan@example.com", role="ADMIN",
                                   title="Head of Social", user_id="300000000000001")
    dana = state.add_business_user("Dana Leaver", "dana.leaver@example.com", two_fac_status="not_enabled",
                                   title="Social Media Manager", user_id="300000000000002")
    sam = state.add_business_user("Sam Rivera", "sam.rivera@example.com", title="Community Manager",
                                  user_id="300000000000003")
    priya = state.add_business_user("Priya Shah", "priya.shah@example.com", title="Insights Analyst",
                                    user_id="300000000000004")
    jordan = state.add_business_user("Jordan Lee", "jordan.lee@example.com", title="Recruiter",
                                     user_id="300000000000005")
    scheduler = state.add_system_user("Publishing Scheduler", user_id="400000000000001")
    agency = state.add_outside_user("Taylor Brooks (Brightside Agency)")
    state.add_pending_user("new.hire@example.com")

    everything = ["MANAGE", "CREATE_CONTENT", "MODERATE", "MESSAGING", "ADVERTISE", "ANALYZE"]
    state.assign(main.id, alex.id, everything)
    state.assign(main.id, dana.id, ["MANAGE", "CREATE_CONTENT", "MODERATE", "ANALYZE"])
    state.assign(main.id, sam.id, ["CREATE_CONTENT", "MODERATE", "MESSAGING", "ANALYZE"])
    state.assign(main.id, priya.id, ["ANALYZE"])
    state.assign(main.id, scheduler.id, ["CREATE_CONTENT"])
    state.assign(main.id, agency.id, ["ADVERTISE", "ANALYZE"])
    state.assign(careers.id, alex.id, everything)
    state.assign(careers.id, jordan.id, ["CREATE_CONTENT", "MODERATE", "ANALYZE"])
    state.assign(careers.id, dana.id, ["ANALYZE"])
    state.assign(shop.id, sam.id, ["MANAGE", "CREATE_CONTENT", "MODERATE", "MESSAGING"])
    state.assign(shop.id, priya.id, ["ANALYZE"])
    # New Pages experience: Priya was given full control of the careers page (an admin, whatever
    # the task's name); Riley Quinn, a freelancer who belongs to no business, was added straight to
    # the main page: only /{page-id}/roles shows her, and only by hand can she be removed.
    state.assign(careers.id, priya.id, ["PROFILE_PLUS_FULL_CONTROL"])
    state.add_page_role(main.id, "Riley Quinn (freelancer)", ["PROFILE_PLUS_CREATE_CONTENT", "PROFILE_PLUS_ANALYZE"])

    instagram = state.add_instagram_account("northwindcoffee", name="Northwind Coffee",
                                            asset_id="500000000000001", ig_user_id="17841400000000001")
    state.assign(instagram.id, alex.id, ["CONTENT", "COMMUNITY_ACTIVITY", "MESSAGES", "ADVERTISE", "ANALYZE"])
    state.assign(instagram.id, dana.id, ["CONTENT", "COMMUNITY_ACTIVITY", "ANALYZE"])
    state.assign(instagram.id, sam.id, ["COMMUNITY_ACTIVITY", "MESSAGES"])
    state.assign(instagram.id, scheduler.id, ["CONTENT"])

    brightside = state.add_partner("Brightside Agency", partner_id="700000000000001")
    old_pixel = state.add_partner("Old Pixel Studio", partner_id="700000000000002")
    state.share(main.id, brightside.id, ["ADVERTISE", "ANALYZE"])
    state.share(careers.id, old_pixel.id, ["CREATE_CONTENT", "ANALYZE"])
    state.share(instagram.id, old_pixel.id, ["CONTENT", "ANALYZE"])
    return state


def me_permissions(state: MetaState, req: GraphRequest) -> dict[str, Any]:
    """``GET /me/permissions``: the token's granted permissions (graph-api/reference/user/permissions)."""
    return {"data": [{"permission": p, "status": "granted"} for p in sorted(state.tokens[req.token].scopes)]}
