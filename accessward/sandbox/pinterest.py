"""A faithful simulator of Pinterest API v5 business access (members, partners), as a Starlette app.

It reproduces what a connector must cope with (reference/social-apis.md, section 4): the numeric
``business_id`` in the path, ``items`` + ``bookmark`` paging (``page_size`` 1-250, default 25,
``bookmark`` null at the end), ``start_index``, ``member_ids`` / ``partner_ids`` /
``business_roles`` filters, ``fetch_system_users`` and ``assets_summary``; DELETE with a JSON body
(``members`` 1-50, ``partner_ids`` 1-50 of one ``partner_type``), 404 for an unknown partner,
``{"code", "message"}`` errors with 400/401/403/404/429, scopes ``biz_access:read`` /
``biz_access:write``, token expiry on a controllable clock, and injectable faults (429 with or
without ``Retry-After``, 5xx, an HTML page, a redirect, a body without ``items``).

Choices where Pinterest's public spec is silent (each **unverified**, each switchable on
``PinterestState`` so a connector is tested against every plausible answer):

- ``repeat_member_delete``: a member who is not (or no longer) in the business is left out of
  ``deleted_members`` (default), echoed in it as if deleted, or refused with 404.
- ``last_admin``: removing the last BIZ_ADMIN is refused with 400 (default), or silently not
  done (the admin is left out of ``deleted_members``).
- ``bookmark_end``: the last page carries ``"bookmark": null`` (default), no ``bookmark`` key,
  or an empty string.
- A ``business_role`` in a DELETE that the member does not hold removes nothing (left out of
  ``deleted_members``).
- The numeric ``code`` values in error bodies are sample values; only the HTTP status is
  relied on by the connector.
- ``/businesses/{id}/system_users/{system_user_id}`` has PATCH only (update a name) in every version of
  the v5 spec: no call deletes a system user. A DELETE there is answered as an undeclared method is
  (405 ``{"code", "message"}`` with ``Allow: PATCH``; the exact answer is **unverified**, 404 is the other
  plausible one), and nothing changes. The members DELETE does not touch system users either.
- ``PATCH /businesses/{id}/members`` takes a JSON *array* of ``{"member_id", "business_role"}`` (1-50,
  the limit **unverified**) and answers ``{"items": [{"member_id", "business_role"}]}`` with the members it
  changed; a member not in the business is left out; demoting the last BIZ_ADMIN is refused as removing
  them is (``last_admin``).
- An unknown ``business_id`` answers 404; a caller that is not a BIZ_ADMIN gets 403 on writes.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from accessward.sandbox.clock import Clock
from accessward.sandbox.pinterest_state import (
    ALL_SCOPES,
    API_VERSION,
    CODE_AUTH,
    CODE_FORBIDDEN,
    CODE_INVALID,
    CODE_METHOD,
    CODE_NOT_FOUND,
    CODE_RATE,
    CODE_SERVER,
    DEFAULT_PAGE_SIZE,
    DEMO_BUSINESS_ID,
    DEMO_TOKEN,
    LAST_ADMIN_MESSAGE,
    MAX_BATCH,
    MAX_PAGE_SIZE,
    MEMBER_ROLES,
    PARTNER_TYPES,
    READ_SCOPE,
    WRITE_SCOPE,
    BookmarkEnd,
    FaultKind,
    LastAdmin,
    Member,
    Partner,
    PinterestCall,
    PinterestError,
    PinterestFault,
    PinterestState,
    RepeatMemberDelete,
    TokenInfo,
)

__all__ = [
    "ALL_SCOPES",
    "API_VERSION",
    "CODE_AUTH",
    "CODE_FORBIDDEN",
    "CODE_INVALID",
    "CODE_METHOD",
    "CODE_NOT_FOUND",
    "CODE_RATE",
    "CODE_SERVER",
    "DEFAULT_PAGE_SIZE",
    "DEMO_BUSINESS_ID",
    "DEMO_TOKEN",
    "LAST_ADMIN_MESSAGE",
    "MAX_BATCH",
    "MAX_PAGE_SIZE",
    "MEMBER_ROLES",
    "PARTNER_TYPES",
    "READ_SCOPE",
    "WRITE_SCOPE",
    "BookmarkEnd",
    "Clock",
    "FaultKind",
    "LastAdmin",
    "Member",
    "Partner",
    "PinterestCall",
    "PinterestError",
    "PinterestFault",
    "PinterestState",
    "RepeatMemberDelete",
    "TokenInfo",
    "create_app",
    "demo_state",
]

# -- the app -------------------------------------------------------------------------------------


def create_app(state: PinterestState | None = None) -> Starlette:
    """The simulator bound to ``state`` (``demo_state()`` when omitted); ``app.state.pinterest`` holds it."""
    prefix = f"/{API_VERSION}/businesses/{{business_id}}"
    app = Starlette(routes=[
        Route(f"{prefix}/members", _endpoint, methods=["GET", "DELETE", "PATCH"]),
        Route(f"{prefix}/partners", _endpoint, methods=["GET", "DELETE"]),
        Route(f"{prefix}/system_users/{{system_user_id}}", _endpoint, methods=["PATCH", "DELETE", "GET", "POST"]),
        Route("/{path:path}", _unknown_path, methods=["GET", "POST", "PATCH", "DELETE"]),
    ])
    app.state.pinterest = state if state is not None else demo_state()
    return app


def _error(error: PinterestError, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"code": error.code, "message": error.message}, status_code=error.status, headers=headers)


async def _unknown_path(request: Request) -> Response:
    return _error(PinterestError(404, CODE_NOT_FOUND, f"Resource not found: {request.url.path}"))


async def _endpoint(request: Request) -> Response:
    state: PinterestState = request.app.state.pinterest
    raw = await request.body()
    body: Any = None
    body_error: str | None = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body_error = "Request body is not valid JSON."
    params = {k: ",".join(request.query_params.getlist(k)) for k in request.query_params}
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    with state.lock:
        record = state.begin_call(request.method, request.url.path, params, body)
        response = _respond(state, request, params, body, body_error, token, record.call)
        record.status = response.status_code
    return response


_LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Log in | Pinterest</title></head>
<body><form action="/login/" method="post"><input type="email" name="id"><input type="password" name="password">
<button>Log in</button></form></body></html>
"""


def _respond(state: PinterestState, request: Request, params: dict[str, str], body: Any,
             body_error: str | None, token: str, call: int) -> Response:
    infra = state.active_fault(call, {FaultKind.html, FaultKind.redirect, FaultKind.server_error})
    if infra is not None:
        if infra.kind is FaultKind.html:
            return HTMLResponse(_LOGIN_PAGE)
        if infra.kind is FaultKind.redirect:
            return RedirectResponse("https://www.pinterest.com/login/?next=%2F", status_code=302)
        return _error(PinterestError(503, CODE_SERVER, "Service unavailable. Please try again later."))
    try:
        if state.active_fault(call, {FaultKind.expire_token}) is not None and token in state.tokens:
            state.expire_token(token)
        info = state.check_token(token)
        throttle = state.active_fault(call, {FaultKind.throttle})
        if throttle is not None:
            headers: dict[str, str] = {}
            if throttle.retry_after is not None:
                headers["Retry-After"] = f"{throttle.retry_after:g}"
            if throttle.reset_seconds is not None:
                headers["X-RateLimit-Reset"] = str(throttle.reset_seconds)
            return _error(PinterestError(429, CODE_RATE, "Too many requests. Please try again later."), headers)
        if "system_user_id" in request.path_params and request.method != "PATCH":
            return _error(PinterestError(405, CODE_METHOD, f"Method {request.method} not allowed."),
                          {"Allow": "PATCH"})
        if request.path_params["business_id"] != state.business_id:
            raise PinterestError(404, CODE_NOT_FOUND, "Business not found.")
        if body_error is not None:
            raise PinterestError(400, CODE_INVALID, body_error)
        path = request.url.path
        if request.method == "GET":
            _require(info, READ_SCOPE)
            if path.endswith("/members"):
                answer = _list_members(state, params)
            else:
                answer = _list_partners(state, params)
            if state.active_fault(call, {FaultKind.no_items}) is not None:
                answer = {"bookmark": None, "status": "success"}
            return JSONResponse(answer)
        _require(info, WRITE_SCOPE)
        if not info.is_admin:
            raise PinterestError(403, CODE_FORBIDDEN, "Only a business admin can change business access.")
        if request.method == "DELETE" and path.endswith("/members"):
            return JSONResponse({"deleted_members": state.delete_members(_member_entries(body))})
        if request.method == "DELETE" and path.endswith("/partners"):
            ids, ptype = _partner_entries(body)
            return JSONResponse({"deleted_partners": state.delete_partners(ids, ptype)})
        if request.method == "PATCH" and path.endswith("/members"):
            return JSONResponse({"items": state.update_members(_member_updates(body))})
        if "system_user_id" in request.path_params and request.method == "PATCH":
            state.rename_system_user(request.path_params["system_user_id"], body)
            return Response(status_code=204)
        raise PinterestError(405, CODE_INVALID, f"{request.method} is not supported here.")
    except PinterestError as error:
        return _error(error)


def _require(info: TokenInfo, scope: str) -> None:
    if scope not in info.scopes:
        raise PinterestError(403, CODE_FORBIDDEN, f"Your application consumer type is not supported or the "
                                                  f"token lacks the scope {scope}.")


# -- listing -------------------------------------------------------------------------------------


def _flag(params: dict[str, str], name: str) -> bool:
    value = params.get(name, "false").strip().lower()
    if value not in ("true", "false"):
        raise PinterestError(400, CODE_INVALID, f"Invalid value for {name}: {value!r}; expected true or false.")
    return value == "true"


def _csv(params: dict[str, str], name: str) -> list[str] | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


def _page_size(params: dict[str, str]) -> int:
    raw = params.get("page_size")
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    try:
        value = int(raw)
    except ValueError as exc:
        raise PinterestError(400, CODE_INVALID, "page_size must be an integer.") from exc
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise PinterestError(400, CODE_INVALID, f"page_size must be between 1 and {MAX_PAGE_SIZE}.")
    return value


def _encode_bookmark(position: int, query: str) -> str:
    return base64.urlsafe_b64encode(f"{position}|{query}".encode()).decode()


def _decode_bookmark(bookmark: str, query: str) -> int:
    try:
        position, _, issued_for = base64.urlsafe_b64decode(bookmark.encode()).decode().partition("|")
        value = int(position)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PinterestError(400, CODE_INVALID, "Invalid bookmark.") from exc
    if issued_for != query:
        raise PinterestError(400, CODE_INVALID, "Invalid bookmark: it was issued for another query.")
    return value


def _paginate(state: PinterestState, params: dict[str, str], items: list[dict[str, Any]]) -> dict[str, Any]:
    size = _page_size(params)
    query = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("bookmark", "page_size"))
    if params.get("bookmark"):
        start = _decode_bookmark(params["bookmark"], query)
    else:
        try:
            start = int(params.get("start_index") or 0)
        except ValueError as exc:
            raise PinterestError(400, CODE_INVALID, "start_index must be an integer.") from exc
    start = max(0, start)
    page = items[start:start + size]
    answer: dict[str, Any] = {"items": page}
    if start + size < len(items):
        answer["bookmark"] = _encode_bookmark(start + size, query)
    elif state.bookmark_end is BookmarkEnd.null:
        answer["bookmark"] = None
    elif state.bookmark_end is BookmarkEnd.empty:
        answer["bookmark"] = ""
    return answer


def _summary(state: PinterestState, assets: dict[str, list[str]]) -> dict[str, Any]:
    summary: dict[str, list[dict[str, Any]]] = {"ad_accounts": [], "profiles": []}
    for asset_id, permissions in assets.items():
        summary[state.asset_types.get(asset_id, "profiles")].append({"id": asset_id, "permissions": list(permissions)})
    return summary


def _binding(state: PinterestState, oid: str, username: str, email: str, roles: list[str], created: int,
             assets: dict[str, list[str]], with_assets: bool, shared: bool | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": oid, "business_roles": list(roles),
        "user": {"id": oid, "username": username, "email": email},
        "created_time": created,
        "created_by_business": {"id": state.business_id, "username": state.business_name, "email": None},
    }
    if shared is not None:
        item["is_shared_partner"] = shared
    if with_assets:
        item["assets_summary"] = _summary(state, assets)
    return item


def _list_members(state: PinterestState, params: dict[str, str]) -> dict[str, Any]:
    system = _flag(params, "fetch_system_users")
    with_assets = _flag(params, "assets_summary")
    roles = _csv(params, "business_roles")
    if roles and any(r not in MEMBER_ROLES for r in roles):
        raise PinterestError(400, CODE_INVALID, f"Invalid business_roles: {','.join(roles)}.")
    ids = _csv(params, "member_ids")
    items = [
        _binding(state, m.id, m.username, m.email, m.business_roles, m.created_time, m.assets, with_assets)
        for m in state.members.values()
        if m.system == system and (not roles or set(roles) & set(m.business_roles)) and (ids is None or m.id in ids)
    ]
    return _paginate(state, params, items)


def _list_partners(state: PinterestState, params: dict[str, str]) -> dict[str, Any]:
    with_assets = _flag(params, "assets_summary")
    ptype = params.get("partner_type") or None
    if ptype is not None and ptype not in PARTNER_TYPES:
        raise PinterestError(400, CODE_INVALID, f"Invalid partner_type: {ptype}.")
    ids = _csv(params, "partner_ids")
    items = [
        _binding(state, p.id, p.username, p.email, ["PARTNER"], p.created_time, p.assets, with_assets,
                 shared=p.partner_type == "EXTERNAL")
        for p in state.partners.values()
        if (ptype is None or p.partner_type == ptype) and (ids is None or p.id in ids)
    ]
    return _paginate(state, params, items)


# -- write bodies --------------------------------------------------------------------------------


def _member_entries(body: Any) -> list[tuple[str, str]]:
    members = body.get("members") if isinstance(body, dict) else None
    if not isinstance(members, list) or not 1 <= len(members) <= MAX_BATCH:
        raise PinterestError(400, CODE_INVALID, f"members must be a list of 1 to {MAX_BATCH} items.")
    entries: list[tuple[str, str]] = []
    for entry in members:
        if not isinstance(entry, dict) or not isinstance(entry.get("member_id"), str) or not entry["member_id"]:
            raise PinterestError(400, CODE_INVALID, "Each member needs a member_id.")
        if entry.get("business_role") not in MEMBER_ROLES:
            raise PinterestError(400, CODE_INVALID, f"business_role must be one of {', '.join(MEMBER_ROLES)}.")
        entries.append((entry["member_id"], entry["business_role"]))
    return entries


def _member_updates(body: Any) -> list[tuple[str, str]]:
    """The body of PATCH members: a JSON array (UpdateMemberBusinessRoleBody[]), not an object."""
    if not isinstance(body, list) or not 1 <= len(body) <= MAX_BATCH:
        raise PinterestError(400, CODE_INVALID, f"The body must be a list of 1 to {MAX_BATCH} members.")
    return _member_entries({"members": body})


def _partner_entries(body: Any) -> tuple[list[str], str]:
    ids = body.get("partner_ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_BATCH or not all(isinstance(i, str) and i for i in ids):
        raise PinterestError(400, CODE_INVALID, f"partner_ids must be a list of 1 to {MAX_BATCH} ids.")
    ptype = body.get("partner_type")
    if not isinstance(ptype, str) or ptype not in PARTNER_TYPES:
        # One partner_type per call; which type applies when it is left out is undocumented.
        raise PinterestError(400, CODE_INVALID, "partner_type must be INTERNAL or EXTERNAL (one type per call).")
    return ids, ptype


# -- demo data -----------------------------------------------------------------------------------


def demo_state(token: str = DEMO_TOKEN) -> PinterestState:
    """Northwind Coffee Roasters' Pinterest business: admins, staff, a system user, partners.

    Dana Leaver has left the company but still publishes to the brand profile; Brightside Agency
    (INTERNAL) publishes to it too, and Old Pixel Studio (INTERNAL) still has analyst access
    after its engagement ended. Beanery Supply (EXTERNAL) shares *its* assets with us: it is not
    access to our brand. Alex Morgan is the only BIZ_ADMIN, so removing Alex is refused.
    """
    state = PinterestState(DEMO_BUSINESS_ID, "Northwind Coffee Roasters")
    state.add_token(token)
    profile = state.add_asset("profiles", "664210000000001")
    ads = state.add_asset("ad_accounts", "549755900001")
    state.add_member("alexmorgan", "alex.morgan@example.com", role="BIZ_ADMIN", member_id="1409000000000001",
                     assets={profile: ["ADMIN"], ads: ["ADMIN"]})
    state.add_member("danaleaver", "dana.leaver@example.com", member_id="1409000000000002",
                     assets={profile: ["PROFILE_PUBLISHER", "ANALYST"]})
    state.add_member("samrivera", "sam.rivera@example.com", member_id="1409000000000003",
                     assets={ads: ["CAMPAIGN_MANAGER"]})
    state.add_member("priyashah", "priya.shah@example.com", member_id="1409000000000004",
                     assets={profile: ["ANALYST"], ads: ["ANALYST", "FINANCE_VIEW"]})
    state.add_member("jordanlee", "jordan.lee@example.com", member_id="1409000000000005")
    state.add_member("publishing-scheduler", "", system=True, member_id="1409000000000009",
                     assets={profile: ["PROFILE_PUBLISHER"]})
    state.add_partner("brightsideagency", "accounts@brightside.example", partner_id="5497000000000011",
                      assets={profile: ["PROFILE_PUBLISHER"], ads: ["CAMPAIGN_MANAGER"]})
    state.add_partner("oldpixelstudio", "hello@oldpixel.example", partner_id="5497000000000012",
                      assets={profile: ["ANALYST"]})
    state.add_partner("beanerysupply", "trade@beanery.example", partner_type="EXTERNAL",
                      partner_id="5497000000000013", assets={"664290000000009": ["ANALYST"]})
    return state
