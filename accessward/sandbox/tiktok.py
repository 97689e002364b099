"""A faithful simulator of TikTok API for Business, Business Center (BC) endpoints, as a Starlette app.

It reproduces what a connector must cope with (reference/social-apis.md, section 3): base path
``/open_api/v1.3``, the ``Access-Token`` header, **HTTP 200 for every API answer** with the
envelope ``{"code", "message", "request_id", "data"}`` (``code`` 0 on success), ``page``/
``page_size`` paging with ``page_info{page, page_size, total_number, total_page}``, and:

- ``GET /bc/get/`` (``bc_id?``, ``page_size`` 1-50): the BCs the token's user belongs to, each
  ``{"bc_info": {...}, "user_role", "ext_user_role"}``;
- ``GET /bc/member/get/`` (``bc_id``, ``page_size`` 1-20, ``filtering`` as a JSON string with
  ``keyword``/``user_role``/``relation_status``);
- ``GET /bc/partner/get/`` (``bc_id``, ``page_size`` 1-50): ``{"bc_id", "bc_name"}`` per partner;
- ``POST /bc/member/delete/`` with ``{"bc_id", "user_id"}`` (a member) or ``{"bc_id", "user_email"}``
  (cancels a pending invite); ``POST /bc/partner/delete/`` with ``{"bc_id", "partner_id"}``. Removing
  a member takes every asset assignment they hold in that BC with them (the TikTok account too), and
  removing a partner takes every asset shared with it;
- ``POST /bc/member/update/`` ``{"bc_id", "user_id", "user_role"}``: a lower role in place (an
  access review's reduce); demoting the last BOUND ADMIN is refused like removing them;
- assets of type ``TT_ACCOUNT`` (the brand's TikTok account itself): ``GET /bc/asset/admin/get/``
  (``bc_id``, ``asset_type``; every asset of the BC, admins only), ``GET /bc/asset/member/get/`` and
  ``GET /bc/asset/partner/get/`` (``bc_id``, ``asset_type``, ``asset_id``: who holds it), and
  ``POST /bc/asset/unassign/`` ``{"bc_id", "user_id", "asset_type", "asset_id"}``;
- child Business Centers: ``child_bc_id`` next to the parent's ``bc_id`` on ``/bc/member/get/``,
  ``/bc/member/delete/`` and ``/bc/member/update/`` acts on the child's own members (the caller must
  be an ADMIN of the parent; the official SDK carries ``child_bc_id`` on these bodies).

Codes, by meaning (the SDK's ``tiktok_code.py``): **40100** too many requests and **40132**
REQUEST_FREQUENCY_LIMITED (throttling, although 40132 sits among the 401xx auth codes), **61000**
too many requests and **60001** service under maintenance (transient); **40104** empty token;
**40105** invalid or revoked token; an expired token answers ``TikTokState.expired_code`` (40105 or
40104: the split is unverified); **40001** no permission (the caller is not an ADMIN of the BC, or
not in it); **40003** FORBIDDEN (no permission on that object: an asset of another BC);
**40002** a bad parameter; **50000** an internal error. Members may show ``relation_status``
BOUND, PENDING, REJECTED or **UNBOUND** (bound once, then cancelled: no access). Deleting
someone who is not there answers ``unknown_member_code``
(40002 "not a member", or 40001 "no permission to operate this user": both plausible, unverified).
Removing the last BOUND ADMIN is refused with 40002 (unverified).

Other choices (each **unverified**): a pending invite's row has no ``user_id``; a row of
``/bc/asset/member/get/`` is a member row plus ``tt_account_roles`` (POST, LIVE, DIRECT_MESSAGE); a member row
carries ``advertiser_role``/``catalog_role`` when the member holds one; ``page_size`` outside
its range is refused (40002) rather than clamped; an unknown path is an HTTP 404 plain-text page
(the gateway's, not the API's); a wrong HTTP method is an HTTP 405.

Faults: 40100 throttling, 40132 frequency limit, 61000, 60001 maintenance, 40003 forbidden (and
a call-budget rate limit on the controllable clock), HTTP 503 from
the gateway, code 50000, an HTML page, a body without ``data``/``list``, a token expiring mid-run.
Every request is recorded (the token never is); ``writes`` lists the POSTs.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from accessward.sandbox.clock import Clock
from accessward.sandbox.tiktok_state import (
    API_PREFIX,
    ASSET_TYPES,
    BAD_PARAM,
    DEMO_BC_ID,
    DEMO_TOKEN,
    DEMO_TT_ACCOUNT_ID,
    FORBIDDEN,
    FREQUENCY_LIMITED,
    INTERNAL,
    LAST_ADMIN_MESSAGE,
    MAINTENANCE,
    MEMBER_PAGE_MAX,
    NO_PERMISSION,
    OK,
    PAGE_MAX,
    THROTTLE_MESSAGE,
    THROTTLED,
    TOO_MANY_REQUESTS,
    Asset,
    BusinessCenter,
    FaultKind,
    Member,
    Partner,
    RecordedCall,
    TikTokError,
    TikTokState,
    TokenInfo,
)

__all__ = [
    "API_PREFIX", "DEMO_BC_ID", "DEMO_TOKEN", "DEMO_TT_ACCOUNT_ID", "Asset", "BusinessCenter",
    "Clock", "FaultKind", "Member", "Partner",
    "RecordedCall", "TikTokError", "TikTokState", "create_app", "demo_state",
]

# -- the app -------------------------------------------------------------------------------------


@dataclass
class ApiCall:
    state: TikTokState
    token: TokenInfo
    params: dict[str, Any]  # query string for GET, JSON body for POST
    call: int


Handler = Callable[[ApiCall], dict[str, Any]]


def create_app(state: TikTokState | None = None) -> Starlette:
    """The simulator bound to ``state`` (``demo_state()`` when omitted); ``app.state.tiktok`` holds it."""
    app = Starlette(routes=[Route("/{path:path}", _endpoint, methods=["GET", "POST", "PUT", "DELETE"])])
    app.state.tiktok = state if state is not None else demo_state()
    return app


def _envelope(code: int, message: str, data: Any) -> dict[str, Any]:
    request_id = datetime.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(9).upper()
    out: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if data is not None:
        out["data"] = data
    return out


async def _endpoint(request: Request) -> Response:
    state: TikTokState = request.app.state.tiktok
    path = "/" + request.path_params.get("path", "")
    params = dict(request.query_params)
    raw = await request.body()
    body: Any = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
    short = path.removeprefix(API_PREFIX) if path.startswith(API_PREFIX + "/") else path
    with state.lock:
        record = state.begin_call(request.method, short, params, body)
        response, code = _respond(state, request, path, params, body, record.call)
        record.http_status, record.code = response.status_code, code
    return response


def _respond(state: TikTokState, request: Request, path: str, params: dict[str, str], body: Any,
             call: int) -> tuple[Response, int | None]:
    fault = state.active_fault(call, {FaultKind.gateway_error, FaultKind.html})
    if fault is not None:
        if fault.kind is FaultKind.html:
            return HTMLResponse("<!DOCTYPE html><html><head><title>TikTok For Business</title></head>"
                                "<body><div id=\"login\">Log in to TikTok For Business</div></body></html>"), None
        return HTMLResponse("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                            status_code=503), None
    route = ROUTES.get(path.removeprefix(API_PREFIX)) if path.startswith(API_PREFIX + "/") else None
    if route is None:
        return PlainTextResponse("404 page not found", status_code=404), None
    method, handler = route
    if request.method != method:
        return PlainTextResponse("405 method not allowed", status_code=405), None
    try:
        token_value = request.headers.get("access-token", "").strip()
        if state.active_fault(call, {FaultKind.expire_token}) is not None and token_value in state.tokens:
            state.expire_token(token_value)
        token = state.check_token(token_value)
        if state.active_fault(call, {FaultKind.throttle}) is not None or state.rate_limited():
            raise TikTokError(THROTTLED, THROTTLE_MESSAGE)
        if state.active_fault(call, {FaultKind.frequency_limited}) is not None:
            raise TikTokError(FREQUENCY_LIMITED, "Request frequency limited. Please retry later.")
        if state.active_fault(call, {FaultKind.too_many_requests}) is not None:
            raise TikTokError(TOO_MANY_REQUESTS, "Too many requests. Please retry later.")
        if state.active_fault(call, {FaultKind.maintenance}) is not None:
            raise TikTokError(MAINTENANCE, "The service is under maintenance. Please retry later.")
        if state.active_fault(call, {FaultKind.forbidden}) is not None:
            raise TikTokError(FORBIDDEN, "Forbidden: you do not have permission to access this object.")
        if state.active_fault(call, {FaultKind.internal_error}) is not None:
            raise TikTokError(INTERNAL, "Internal service error. Please try again later.")
        if method == "POST":
            if not isinstance(body, dict):
                raise TikTokError(BAD_PARAM, "Request body must be a JSON object.")
            args: dict[str, Any] = body
        else:
            args = params
        data = handler(ApiCall(state, token, args, call))
    except TikTokError as error:
        return JSONResponse(_envelope(error.code, error.message, {})), error.code
    if state.active_fault(call, {FaultKind.no_data}) is not None:
        return JSONResponse(_envelope(OK, "OK", None)), OK
    if state.active_fault(call, {FaultKind.no_list}) is not None:
        data = {k: v for k, v in data.items() if k != "list"}
    return JSONResponse(_envelope(OK, "OK", data)), OK


# -- parameters and paging -----------------------------------------------------------------------


def _int(args: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise TikTokError(BAD_PARAM, f"{name}: Not a valid integer.") from exc
    if not low <= value <= high:
        raise TikTokError(BAD_PARAM, f"{name}: Must be greater than or equal to {low} and less than or equal "
                                     f"to {high}.")
    return value


def _paged(args: dict[str, Any], items: list[dict[str, Any]], max_size: int) -> dict[str, Any]:
    page = _int(args, "page", 1, 1, 1_000_000)
    size = _int(args, "page_size", 10, 1, max_size)
    total_page = math.ceil(len(items) / size) if items else 0
    return {"list": items[(page - 1) * size:page * size],
            "page_info": {"page": page, "page_size": size, "total_number": len(items), "total_page": total_page}}


def _bc(call: ApiCall, *, admin: bool = False) -> BusinessCenter:
    bc_id = str(call.params.get("bc_id") or "")
    if not bc_id:
        raise TikTokError(BAD_PARAM, "bc_id: Missing data for required field.")
    bc = call.state.business_centers.get(bc_id)
    caller = call.state.caller_member(bc, call.token) if bc is not None else None
    if bc is None or caller is None:
        raise TikTokError(NO_PERMISSION, f"No permission to operate Business Center {bc_id}.")
    if admin and caller.user_role != "ADMIN":
        raise TikTokError(NO_PERMISSION, "No permission: only Business Center admins can manage members and "
                                         "partners.")
    return bc


def _filtering(call: ApiCall) -> dict[str, Any]:
    raw = call.params.get("filtering")
    if not raw:
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise TikTokError(BAD_PARAM, "filtering: Invalid JSON string.") from exc
    if not isinstance(value, dict):
        raise TikTokError(BAD_PARAM, "filtering: Must be a JSON object.")
    return value


# -- endpoints -----------------------------------------------------------------------------------


def _bc_get(call: ApiCall) -> dict[str, Any]:
    wanted = call.params.get("bc_id") or None
    items = []
    for bc in call.state.business_centers.values():
        caller = call.state.caller_member(bc, call.token)
        if caller is None or (wanted is not None and bc.bc_id != wanted):
            continue
        item: dict[str, Any] = {"bc_info": bc.info(), "user_role": caller.user_role}
        if caller.finance_role:
            item["ext_user_role"] = {"finance_role": caller.finance_role}
        items.append(item)
    return _paged(call.params, items, PAGE_MAX)


def _members_bc(call: ApiCall, *, admin: bool = False) -> BusinessCenter:
    """The BC whose members a call acts on: ``bc_id``, or its child ``child_bc_id`` (parent admins only)."""
    bc = _bc(call, admin=admin)
    child_id = str(call.params.get("child_bc_id") or "")
    if not child_id:
        return bc
    caller = call.state.caller_member(bc, call.token)
    if caller is None or caller.user_role != "ADMIN":
        raise TikTokError(NO_PERMISSION, "No permission: only admins of the parent Business Center can manage a "
                                         "child Business Center's members.")
    if child_id not in bc.children:
        raise TikTokError(FORBIDDEN, f"Forbidden: Business Center {child_id} is not a child of {bc.bc_id}.")
    return call.state.business_centers[child_id]


def _member_get(call: ApiCall) -> dict[str, Any]:
    bc = _members_bc(call)
    filters = _filtering(call)
    keyword = str(filters.get("keyword") or "").lower()
    rows = [m.row() for m in bc.members
            if (not filters.get("user_role") or m.user_role == filters["user_role"])
            and (not filters.get("relation_status") or m.relation_status == filters["relation_status"])
            and (not keyword or keyword in m.user_name.lower() or keyword in m.user_email.lower())]
    return _paged(call.params, rows, MEMBER_PAGE_MAX)


def _partner_get(call: ApiCall) -> dict[str, Any]:
    bc = _bc(call)
    return _paged(call.params, [{"bc_id": p.bc_id, "bc_name": p.bc_name} for p in bc.partners], PAGE_MAX)


def _asset_type(call: ApiCall) -> str:
    asset_type = str(call.params.get("asset_type") or "")
    if not asset_type:
        raise TikTokError(BAD_PARAM, "asset_type: Missing data for required field.")
    if asset_type not in ASSET_TYPES:
        raise TikTokError(BAD_PARAM, f"asset_type: Must be one of: {', '.join(ASSET_TYPES)}.")
    return asset_type


def _asset(call: ApiCall, bc: BusinessCenter) -> Asset:
    asset_type = _asset_type(call)
    asset_id = str(call.params.get("asset_id") or "")
    if not asset_id:
        raise TikTokError(BAD_PARAM, "asset_id: Missing data for required field.")
    asset = bc.asset(asset_type, asset_id)
    if asset is None:
        raise TikTokError(FORBIDDEN, f"Forbidden: asset {asset_id} does not belong to Business Center {bc.bc_id}.")
    return asset


def _asset_admin_get(call: ApiCall) -> dict[str, Any]:
    bc = _bc(call, admin=True)
    asset_type = _asset_type(call)
    return _paged(call.params, [a.row() for a in bc.assets if a.asset_type == asset_type], PAGE_MAX)


def _asset_member_get(call: ApiCall) -> dict[str, Any]:
    bc = _bc(call, admin=True)
    asset = _asset(call, bc)
    rows = []
    for user_id, roles in asset.members.items():
        member = bc.member(user_id)
        if member is not None:
            rows.append({**member.row(), "tt_account_roles": list(roles)})
    return _paged(call.params, rows, PAGE_MAX)


def _asset_partner_get(call: ApiCall) -> dict[str, Any]:
    bc = _bc(call, admin=True)
    asset = _asset(call, bc)
    names = {p.bc_id: p.bc_name for p in bc.partners}
    rows = [{"bc_id": pid, "bc_name": names.get(pid, ""), "tt_account_roles": list(roles)}
            for pid, roles in asset.partners.items()]
    return _paged(call.params, rows, PAGE_MAX)


def _asset_unassign(call: ApiCall) -> dict[str, Any]:
    bc = _bc(call, admin=True)
    asset = _asset(call, bc)
    user_id = str(call.params.get("user_id") or "")
    if not user_id:
        raise TikTokError(BAD_PARAM, "user_id: Missing data for required field.")
    if user_id not in asset.members:
        raise _unknown(call, f"User {user_id} on asset {asset.asset_id}")
    del asset.members[user_id]
    return {}


def _unknown(call: ApiCall, what: str) -> TikTokError:
    if call.state.unknown_member_code == NO_PERMISSION:
        return TikTokError(NO_PERMISSION, f"No permission to operate {what}.")
    return TikTokError(BAD_PARAM, f"{what} does not exist in this Business Center.")


def _member_delete(call: ApiCall) -> dict[str, Any]:
    bc = _members_bc(call, admin=True)
    user_id, email = call.params.get("user_id"), call.params.get("user_email")
    if bool(user_id) == bool(email):
        raise TikTokError(BAD_PARAM, "Pass exactly one of user_id (a member) or user_email (a pending invitation).")
    if email:
        invite = bc.invite(str(email))
        if invite is None:
            raise _unknown(call, f"Invitation for {email}")
        bc.members.remove(invite)
        return {}
    member = bc.member(str(user_id))
    if member is None:
        raise _unknown(call, f"User {user_id}")
    if bc.last_admin(member):
        raise TikTokError(BAD_PARAM, LAST_ADMIN_MESSAGE)
    bc.members.remove(member)
    for asset in bc.assets:  # a member leaves with everything they held in the BC
        asset.members.pop(str(user_id), None)
    return {}


def _member_update(call: ApiCall) -> dict[str, Any]:
    bc = _members_bc(call, admin=True)
    user_id = str(call.params.get("user_id") or "")
    role = call.params.get("user_role")
    if not user_id:
        raise TikTokError(BAD_PARAM, "user_id: Missing data for required field.")
    if role is not None and role not in ("ADMIN", "STANDARD"):
        raise TikTokError(BAD_PARAM, "user_role: Must be one of: ADMIN, STANDARD.")
    member = bc.member(user_id)
    if member is None:
        raise _unknown(call, f"User {user_id}")
    if role == "STANDARD" and bc.last_admin(member):
        raise TikTokError(BAD_PARAM, LAST_ADMIN_MESSAGE)
    if role is not None:
        member.user_role = str(role)
    name = call.params.get("user_name")
    if isinstance(name, str) and name:
        member.user_name = name
    return {}


def _partner_delete(call: ApiCall) -> dict[str, Any]:
    bc = _bc(call, admin=True)
    partner_id = str(call.params.get("partner_id") or "")
    if not partner_id:
        raise TikTokError(BAD_PARAM, "partner_id: Missing data for required field.")
    partner = next((p for p in bc.partners if p.bc_id == partner_id), None)
    if partner is None:
        raise _unknown(call, f"Partner {partner_id}")
    bc.partners.remove(partner)
    for asset in bc.assets:  # the partnership ends with every asset shared through it
        asset.partners.pop(partner_id, None)
    return {}


ROUTES: dict[str, tuple[str, Handler]] = {
    "/bc/get/": ("GET", _bc_get),
    "/bc/member/get/": ("GET", _member_get),
    "/bc/partner/get/": ("GET", _partner_get),
    "/bc/asset/admin/get/": ("GET", _asset_admin_get),
    "/bc/asset/member/get/": ("GET", _asset_member_get),
    "/bc/asset/partner/get/": ("GET", _asset_partner_get),
    "/bc/asset/unassign/": ("POST", _asset_unassign),
    "/bc/member/delete/": ("POST", _member_delete),
    "/bc/member/update/": ("POST", _member_update),
    "/bc/partner/delete/": ("POST", _partner_delete),
}


# -- demo data -----------------------------------------------------------------------------------


def demo_state(token: str = DEMO_TOKEN) -> TikTokState:
    """A small brand Business Center, as its admin's token sees it.

    Alex Morgan (the token's user) and Dana Leaver, who has left the company but kept ADMIN, are
    the two admins: removing Dana works, removing Alex afterwards is refused as the last admin.
    Priya Shah is a STANDARD member who analyses the ad account, Sam Rivera operates it, an
    invitation to new.hire@example.com is pending, one to an old address was declined, and the
    Brightside Agency's BC is a partner. The brand's TikTok account (@northwindcoffee, a
    ``TT_ACCOUNT`` asset) is held by Alex and Sam and shared with Brightside.
    """
    state = TikTokState()
    bc = state.add_business_center("Northwind Coffee Roasters", bc_id=DEMO_BC_ID, company="Northwind Coffee Ltd")
    alex = state.add_member(bc, "Alex Morgan", "alex.morgan@example.com", role="ADMIN",
                            user_id="7300000000000000001", advertiser_role="ADMIN", finance_role="MANAGER")
    state.add_member(bc, "Dana Leaver", "dana.leaver@example.com", role="ADMIN", user_id="7300000000000000002",
                     advertiser_role="ADMIN")
    state.add_member(bc, "Priya Shah", "priya.shah@example.com", user_id="7300000000000000004",
                     advertiser_role="ANALYST")
    sam = state.add_member(bc, "Sam Rivera", "sam.rivera@example.com", user_id="7300000000000000003",
                     advertiser_role="OPERATOR", catalog_role="AD_PROMOTE")
    state.add_invite(bc, "new.hire@example.com")
    state.add_invite(bc, "old.address@example.com", status="REJECTED")
    brightside = state.add_partner(bc, "Brightside Agency", partner_id="7100000000000000099")
    account = state.add_tiktok_account(bc, "@northwindcoffee", asset_id=DEMO_TT_ACCOUNT_ID)
    state.assign(account, alex, ("POST", "LIVE", "DIRECT_MESSAGE"))
    state.assign(account, sam, ("POST",))
    state.share(account, brightside, ("POST",))
    state.add_token(token, alex.user_id or "")
    return state
