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
  (cancels a pending invite); ``POST /bc/partner/delete/`` with ``{"bc_id", "partner_id"}``.

Codes: **40100** throttled; **40104** empty token; **40105** invalid or revoked token; an expired
token answers ``TikTokState.expired_code`` (40105 or 40104: the split is unverified); **40001**
no permission (the caller is not an ADMIN of the BC, or not in it); **40002** a bad parameter;
**50000** an internal error. Deleting someone who is not there answers ``unknown_member_code``
(40002 "not a member", or 40001 "no permission to operate this user": both plausible, unverified).
Removing the last BOUND ADMIN is refused with 40002 (unverified).

Other choices (each **unverified**): a pending invite's row has no ``user_id``; a member row
carries ``advertiser_role``/``catalog_role`` when the member holds one; ``page_size`` outside
its range is refused (40002) rather than clamped; an unknown path is an HTTP 404 plain-text page
(the gateway's, not the API's); a wrong HTTP method is an HTTP 405.

Faults: 40100 throttling (and a call-budget rate limit on the controllable clock), HTTP 503 from
the gateway, code 50000, an HTML page, a body without ``data``/``list``, a token expiring mid-run.
Every request is recorded (the token never is); ``writes`` lists the POSTs.
"""

from __future__ import annotations

import itertools
import json
import math
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from accessward.sandbox.clock import Clock

__all__ = [
    "API_PREFIX", "DEMO_BC_ID", "DEMO_TOKEN", "BusinessCenter", "Clock", "FaultKind", "Member", "Partner",
    "RecordedCall", "TikTokError", "TikTokState", "create_app", "demo_state",
]

API_PREFIX = "/open_api/v1.3"
DEMO_TOKEN = "demo-tiktok-token"
DEMO_BC_ID = "7100000000000000001"

OK = 0
NO_PERMISSION = 40001
BAD_PARAM = 40002
THROTTLED = 40100
TOKEN_EMPTY = 40104
TOKEN_INVALID = 40105
INTERNAL = 50000
UNKNOWN_MEMBER_CODES = (BAD_PARAM, NO_PERMISSION)
EXPIRED_CODES = (TOKEN_INVALID, TOKEN_EMPTY)
THROTTLE_MESSAGE = "Too many requests. The request frequency exceeds the QPS/QPM limit; please retry later."
LAST_ADMIN_MESSAGE = "Cannot remove the only admin of this Business Center. Add another admin first."
MEMBER_PAGE_MAX = 20
PAGE_MAX = 50


class TikTokError(Exception):
    """An API error: HTTP 200 with a non-zero ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FaultKind(StrEnum):
    throttle = "throttle"  # code 40100 (HTTP 200)
    gateway_error = "gateway_error"  # HTTP 503 text/html from the gateway
    internal_error = "internal_error"  # code 50000 (HTTP 200)
    html = "html"  # HTTP 200 text/html page
    no_data = "no_data"  # code 0 without "data"
    no_list = "no_list"  # code 0, "data" without "list"
    expire_token = "expire_token"  # the presented token expires just before this call is checked


@dataclass
class Fault:
    kind: FaultKind
    first_call: int
    times: int = 1

    def covers(self, call: int) -> bool:
        return self.first_call <= call < self.first_call + self.times


@dataclass
class TokenInfo:
    value: str
    user_id: str  # the TikTok for Business user the token acts for
    expires_at: datetime | None = None
    revoked: bool = False


@dataclass
class Member:
    user_id: str | None  # None for a pending invite
    user_name: str
    user_email: str
    user_role: str = "STANDARD"  # ADMIN | STANDARD
    relation_status: str = "BOUND"  # BOUND | PENDING | REJECTED
    advertiser_role: str | None = None  # ADMIN | OPERATOR | ANALYST
    catalog_role: str | None = None  # ADMIN | AD_PROMOTE
    finance_role: str | None = None  # MANAGER | ANALYST

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = {"user_name": self.user_name, "user_email": self.user_email,
                               "user_role": self.user_role, "relation_status": self.relation_status}
        if self.user_id is not None:
            out["user_id"] = self.user_id
        if self.advertiser_role:
            out["advertiser_role"] = self.advertiser_role
        if self.catalog_role:
            out["catalog_role"] = self.catalog_role
        if self.finance_role:
            out["ext_user_role"] = {"finance_role": self.finance_role}
        return out


@dataclass
class Partner:
    bc_id: str
    bc_name: str


@dataclass
class BusinessCenter:
    bc_id: str
    name: str
    company: str = ""
    currency: str = "USD"
    registered_area: str = "US"
    status: str = "ENABLE"
    timezone: str = "Etc/GMT"
    type: str = "NORMAL"
    members: list[Member] = field(default_factory=list)
    partners: list[Partner] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        return {"bc_id": self.bc_id, "name": self.name, "company": self.company or self.name,
                "currency": self.currency, "registered_area": self.registered_area, "status": self.status,
                "timezone": self.timezone, "type": self.type}

    def member(self, user_id: str) -> Member | None:
        return next((m for m in self.members if m.user_id == user_id and m.relation_status == "BOUND"), None)

    def invite(self, email: str) -> Member | None:
        return next((m for m in self.members
                     if m.relation_status == "PENDING" and m.user_email.lower() == email.lower()), None)


@dataclass
class RecordedCall:
    """One request as the simulator saw it; the access token is never recorded."""

    call: int
    method: str
    path: str  # without the /open_api/v1.3 prefix, e.g. "/bc/member/delete/"
    params: dict[str, str]
    body: Any = None
    http_status: int = 200
    code: int | None = None


class TikTokState:
    """Everything the TikTok simulator knows, guarded by one lock (the server runs in its own thread)."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        unknown_member_code: int = BAD_PARAM,
        expired_code: int = TOKEN_INVALID,
    ) -> None:
        if unknown_member_code not in UNKNOWN_MEMBER_CODES:
            raise ValueError(f"unknown_member_code must be one of {UNKNOWN_MEMBER_CODES}")
        if expired_code not in EXPIRED_CODES:
            raise ValueError(f"expired_code must be one of {EXPIRED_CODES}")
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.unknown_member_code = unknown_member_code
        self.expired_code = expired_code
        self.business_centers: dict[str, BusinessCenter] = {}
        self.tokens: dict[str, TokenInfo] = {}
        self.requests: list[RecordedCall] = []
        self.faults: list[Fault] = []
        self.calls = 0
        self._ids = itertools.count(7_200_000_000_000_000_001)
        self._rate_limit: tuple[int, float] | None = None
        self._window: deque[datetime] = deque()

    # -- seeding --------------------------------------------------------------------------------

    def new_id(self) -> str:
        return str(next(self._ids))

    def add_business_center(self, name: str, *, bc_id: str | None = None, company: str = "",
                            currency: str = "USD", timezone: str = "Etc/GMT") -> BusinessCenter:
        with self.lock:
            bc = BusinessCenter(bc_id or self.new_id(), name, company=company, currency=currency, timezone=timezone)
            self.business_centers[bc.bc_id] = bc
            return bc

    def add_member(self, bc: BusinessCenter, name: str, email: str, *, role: str = "STANDARD",
                   user_id: str | None = None, advertiser_role: str | None = None, catalog_role: str | None = None,
                   finance_role: str | None = None) -> Member:
        """A BOUND member (the same person may be added to several BCs with one ``user_id``)."""
        if role not in ("ADMIN", "STANDARD"):
            raise ValueError(f"not a BC user_role: {role}")
        with self.lock:
            member = Member(user_id or self.new_id(), name, email, role, "BOUND", advertiser_role, catalog_role,
                            finance_role)
            bc.members.append(member)
            return member

    def add_invite(self, bc: BusinessCenter, email: str, *, role: str = "STANDARD", status: str = "PENDING") -> Member:
        """An invitation (PENDING, or REJECTED once declined): no ``user_id``."""
        with self.lock:
            member = Member(None, "", email, role, status)
            bc.members.append(member)
            return member

    def add_partner(self, bc: BusinessCenter, name: str, *, partner_id: str | None = None) -> Partner:
        with self.lock:
            partner = Partner(partner_id or self.new_id(), name)
            bc.partners.append(partner)
            return partner

    def add_token(self, value: str, user_id: str, *, ttl_seconds: float | None = None) -> TokenInfo:
        expires = self.clock.now() + timedelta(seconds=ttl_seconds) if ttl_seconds is not None else None
        with self.lock:
            info = TokenInfo(value, user_id, expires_at=expires)
            self.tokens[value] = info
            return info

    # -- lookups for routes and tests -----------------------------------------------------------

    def caller_member(self, bc: BusinessCenter, token: TokenInfo) -> Member | None:
        return bc.member(token.user_id)

    def is_member(self, bc_id: str, user_id: str) -> bool:
        with self.lock:
            return self.business_centers[bc_id].member(user_id) is not None

    def has_invite(self, bc_id: str, email: str) -> bool:
        with self.lock:
            return self.business_centers[bc_id].invite(email) is not None

    def is_partner(self, bc_id: str, partner_id: str) -> bool:
        with self.lock:
            return any(p.bc_id == partner_id for p in self.business_centers[bc_id].partners)

    @property
    def writes(self) -> list[RecordedCall]:
        """Every POST that reached the simulator, whatever it answered."""
        with self.lock:
            return [r for r in self.requests if r.method == "POST"]

    def calls_to(self, path: str, method: str = "GET") -> list[RecordedCall]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    # -- tokens ---------------------------------------------------------------------------------

    def expire_token(self, value: str | None = None) -> None:
        with self.lock:
            for info in (list(self.tokens.values()) if value is None else [self.tokens[value]]):
                info.expires_at = self.clock.now() - timedelta(seconds=1)

    def revoke_token(self, value: str | None = None) -> None:
        with self.lock:
            for info in (list(self.tokens.values()) if value is None else [self.tokens[value]]):
                info.revoked = True

    def check_token(self, value: str) -> TokenInfo:
        if not value:
            raise TikTokError(TOKEN_EMPTY, "Access token is empty. Please put it in the request header Access-Token.")
        info = self.tokens.get(value)
        if info is None or info.revoked:
            raise TikTokError(TOKEN_INVALID, "Access token is incorrect or has been revoked.")
        if info.expires_at is not None and info.expires_at <= self.clock.now():
            raise TikTokError(self.expired_code, "Access token has expired. Please refresh or re-authorize.")
        return info

    # -- faults and rate limits -----------------------------------------------------------------

    def inject(self, kind: FaultKind, *, at_call: int | None = None, times: int = 1) -> Fault:
        """Make calls ``at_call`` .. ``at_call + times - 1`` fail (default: the next ``times`` calls)."""
        with self.lock:
            fault = Fault(kind, at_call if at_call is not None else self.calls + 1, times)
            self.faults.append(fault)
            return fault

    def throttle(self, *, at_call: int | None = None, times: int = 1) -> Fault:
        return self.inject(FaultKind.throttle, at_call=at_call, times=times)

    def expire_token_at(self, call: int) -> Fault:
        return self.inject(FaultKind.expire_token, at_call=call)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            self._rate_limit = None
            self._window.clear()

    def active_fault(self, call: int, kinds: set[FaultKind]) -> Fault | None:
        with self.lock:
            return next((f for f in self.faults if f.kind in kinds and f.covers(call)), None)

    def set_rate_limit(self, max_calls: int, *, window_seconds: float = 1.0) -> None:
        """Answer 40100 once more than ``max_calls`` calls fall within the clock window (a QPS limit)."""
        with self.lock:
            self._rate_limit = (max_calls, window_seconds)
            self._window.clear()

    def rate_limited(self) -> bool:
        with self.lock:
            if self._rate_limit is None:
                return False
            max_calls, window = self._rate_limit
            now = self.clock.now()
            while self._window and (now - self._window[0]).total_seconds() >= window:
                self._window.popleft()
            if len(self._window) >= max_calls:
                return True
            self._window.append(now)
            return False

    # -- request log ----------------------------------------------------------------------------

    def begin_call(self, method: str, path: str, params: dict[str, str], body: Any) -> RecordedCall:
        with self.lock:
            self.calls += 1
            record = RecordedCall(self.calls, method, path, dict(params), body)
            self.requests.append(record)
            return record


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


def _member_get(call: ApiCall) -> dict[str, Any]:
    bc = _bc(call)
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


def _unknown(call: ApiCall, what: str) -> TikTokError:
    if call.state.unknown_member_code == NO_PERMISSION:
        return TikTokError(NO_PERMISSION, f"No permission to operate {what}.")
    return TikTokError(BAD_PARAM, f"{what} does not exist in this Business Center.")


def _member_delete(call: ApiCall) -> dict[str, Any]:
    bc = _bc(call, admin=True)
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
    if member.user_role == "ADMIN" and not any(
            m is not member and m.user_role == "ADMIN" and m.relation_status == "BOUND" for m in bc.members):
        raise TikTokError(BAD_PARAM, LAST_ADMIN_MESSAGE)
    bc.members.remove(member)
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
    return {}


ROUTES: dict[str, tuple[str, Handler]] = {
    "/bc/get/": ("GET", _bc_get),
    "/bc/member/get/": ("GET", _member_get),
    "/bc/partner/get/": ("GET", _partner_get),
    "/bc/member/delete/": ("POST", _member_delete),
    "/bc/partner/delete/": ("POST", _partner_delete),
}


# -- demo data -----------------------------------------------------------------------------------


def demo_state(token: str = DEMO_TOKEN) -> TikTokState:
    """A small brand Business Center, as its admin's token sees it.

    Alex Morgan (the token's user) and Dana Leaver, who has left the company but kept ADMIN, are
    the two admins: removing Dana works, removing Alex afterwards is refused as the last admin.
    Priya Shah is a STANDARD member who analyses the ad account, Sam Rivera operates it, an
    invitation to new.hire@example.com is pending, one to an old address was declined, and the
    Brightside Agency's BC is a partner.
    """
    state = TikTokState()
    bc = state.add_business_center("Northwind Coffee Roasters", bc_id=DEMO_BC_ID, company="Northwind Coffee Ltd")
    alex = state.add_member(bc, "Alex Morgan", "alex.morgan@example.com", role="ADMIN",
                            user_id="7300000000000000001", advertiser_role="ADMIN", finance_role="MANAGER")
    state.add_member(bc, "Dana Leaver", "dana.leaver@example.com", role="ADMIN", user_id="7300000000000000002",
                     advertiser_role="ADMIN")
    state.add_member(bc, "Priya Shah", "priya.shah@example.com", user_id="7300000000000000004",
                     advertiser_role="ANALYST")
    state.add_member(bc, "Sam Rivera", "sam.rivera@example.com", user_id="7300000000000000003",
                     advertiser_role="OPERATOR", catalog_role="AD_PROMOTE")
    state.add_invite(bc, "new.hire@example.com")
    state.add_invite(bc, "old.address@example.com", status="REJECTED")
    state.add_partner(bc, "Brightside Agency", partner_id="7100000000000000099")
    state.add_token(token, alex.user_id or "")
    return state
