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
import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from accessward.sandbox.clock import Clock

__all__ = [
    "API_VERSION", "DEMO_BUSINESS_ID", "DEMO_TOKEN", "LAST_ADMIN_MESSAGE", "READ_SCOPE", "WRITE_SCOPE",
    "BookmarkEnd", "Clock", "FaultKind", "LastAdmin", "Member", "Partner", "PinterestCall", "PinterestError",
    "PinterestFault", "PinterestState", "RepeatMemberDelete", "create_app", "demo_state",
]

API_VERSION = "v5"
DEMO_TOKEN = "demo-pinterest-token"
DEMO_BUSINESS_ID = "549755885175"
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 250
MAX_BATCH = 50
READ_SCOPE, WRITE_SCOPE = "biz_access:read", "biz_access:write"
ALL_SCOPES = frozenset({READ_SCOPE, WRITE_SCOPE})
MEMBER_ROLES = ("EMPLOYEE", "BIZ_ADMIN")
PARTNER_TYPES = ("INTERNAL", "EXTERNAL")

# Sample error codes (unverified): Pinterest documents the {code, message} shape, not the values.
CODE_INVALID, CODE_AUTH, CODE_FORBIDDEN, CODE_NOT_FOUND, CODE_RATE, CODE_SERVER = 1, 2, 3, 4, 8, 9
CODE_METHOD = 405
LAST_ADMIN_MESSAGE = "A business must keep at least one admin. Make another member an admin first."


class PinterestError(Exception):
    """An error answered as ``{"code": …, "message": …}`` with an HTTP status."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class RepeatMemberDelete(StrEnum):
    """What DELETE members answers for someone not in the business (unverified)."""

    omit = "omit"  # 200, left out of deleted_members
    echo = "echo"  # 200, listed in deleted_members as if deleted
    not_found = "not_found"  # 404 for the whole request


class LastAdmin(StrEnum):
    """What DELETE members answers when it would leave no BIZ_ADMIN (unverified)."""

    error = "error"  # 400 with LAST_ADMIN_MESSAGE, nothing removed
    silent = "silent"  # 200, the admin left out of deleted_members


class BookmarkEnd(StrEnum):
    """How the last page says it is the last (the spec: null or absent)."""

    null = "null"
    absent = "absent"
    empty = "empty"


class FaultKind(StrEnum):
    throttle = "throttle"  # 429 {code, message}, Retry-After / X-RateLimit-Reset as configured
    server_error = "server_error"  # 503 {code, message}
    html = "html"  # 200 text/html login page
    redirect = "redirect"  # 302 to a login page
    no_items = "no_items"  # 200 JSON object without "items"
    expire_token = "expire_token"  # the presented token expires just before this call


@dataclass
class PinterestFault:
    kind: FaultKind
    first_call: int
    times: int = 1
    retry_after: float | None = None
    reset_seconds: int | None = None

    def covers(self, call: int) -> bool:
        return self.first_call <= call < self.first_call + self.times


@dataclass
class TokenInfo:
    value: str
    scopes: frozenset[str] = ALL_SCOPES
    is_admin: bool = True  # the token's user is a BIZ_ADMIN of the business: may remove people
    expires_at: datetime | None = None


@dataclass
class Member:
    """A person or system user of the business; ``assets`` maps asset id -> permissions."""

    id: str
    username: str
    email: str
    business_roles: list[str]
    system: bool = False
    assets: dict[str, list[str]] = field(default_factory=dict)
    created_time: int = 1_680_000_000_000


@dataclass
class Partner:
    """A partner business: INTERNAL (it reaches our assets) or EXTERNAL (we reach its assets)."""

    id: str
    username: str
    email: str
    partner_type: str
    assets: dict[str, list[str]] = field(default_factory=dict)
    created_time: int = 1_690_000_000_000


@dataclass
class PinterestCall:
    """One request as the simulator saw it; the token is never recorded."""

    call: int
    method: str
    path: str
    params: dict[str, str]
    body: Any = None
    status: int = 0


class PinterestState:
    """Everything the simulator knows, under one lock (the server runs in its own thread)."""

    def __init__(
        self,
        business_id: str = DEMO_BUSINESS_ID,
        business_name: str = "Demo Business",
        *,
        clock: Clock | None = None,
        repeat_member_delete: RepeatMemberDelete = RepeatMemberDelete.omit,
        last_admin: LastAdmin = LastAdmin.error,
        bookmark_end: BookmarkEnd = BookmarkEnd.null,
    ) -> None:
        self.lock = threading.RLock()
        self.business_id = business_id
        self.business_name = business_name
        self.clock = clock or Clock()
        self.repeat_member_delete = repeat_member_delete
        self.last_admin = last_admin
        self.bookmark_end = bookmark_end
        self.tokens: dict[str, TokenInfo] = {}
        self.members: dict[str, Member] = {}
        self.partners: dict[str, Partner] = {}
        self.asset_types: dict[str, str] = {}  # asset id -> "ad_accounts" | "profiles"
        self.requests: list[PinterestCall] = []
        self.faults: list[PinterestFault] = []
        self.calls = 0
        self._ids = itertools.count(int(business_id) + 1 if business_id.isdigit() else 900_000_000_001)

    # -- seeding ------------------------------------------------------------------------------

    def new_id(self) -> str:
        with self.lock:
            while True:
                candidate = str(next(self._ids))
                if candidate not in self.members and candidate not in self.partners:
                    return candidate

    def add_token(self, value: str, *, scopes: frozenset[str] = ALL_SCOPES, is_admin: bool = True,
                  ttl_seconds: float | None = None) -> TokenInfo:
        expires = self.clock.now() + timedelta(seconds=ttl_seconds) if ttl_seconds is not None else None
        with self.lock:
            info = self.tokens[value] = TokenInfo(value, scopes, is_admin, expires)
            return info

    def add_asset(self, kind: str, asset_id: str | None = None) -> str:
        """Register an asset (``ad_accounts`` or ``profiles``) and return its id."""
        if kind not in ("ad_accounts", "profiles"):
            raise ValueError(f"unknown asset kind {kind!r}")
        with self.lock:
            aid = asset_id or self.new_id()
            self.asset_types[aid] = kind
            return aid

    def add_member(self, username: str, email: str, *, role: str = "EMPLOYEE", system: bool = False,
                   assets: dict[str, list[str]] | None = None, member_id: str | None = None) -> Member:
        if role not in MEMBER_ROLES:
            raise ValueError(f"not a member role: {role}")
        with self.lock:
            member = Member(member_id or self.new_id(), username, email, [role], system, dict(assets or {}))
            self.members[member.id] = member
            return member

    def add_partner(self, username: str, email: str, *, partner_type: str = "INTERNAL",
                    assets: dict[str, list[str]] | None = None, partner_id: str | None = None) -> Partner:
        if partner_type not in PARTNER_TYPES:
            raise ValueError(f"not a partner type: {partner_type}")
        with self.lock:
            partner = Partner(partner_id or self.new_id(), username, email, partner_type, dict(assets or {}))
            self.partners[partner.id] = partner
            return partner

    # -- lookups for tests --------------------------------------------------------------------

    def is_member(self, member_id: str) -> bool:
        with self.lock:
            return member_id in self.members

    def is_partner(self, partner_id: str) -> bool:
        with self.lock:
            return partner_id in self.partners

    @property
    def writes(self) -> list[PinterestCall]:
        """Every non-GET request that reached the simulator, whatever it answered."""
        with self.lock:
            return [r for r in self.requests if r.method != "GET"]

    def calls_to(self, path_suffix: str, method: str = "GET") -> list[PinterestCall]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    # -- tokens -------------------------------------------------------------------------------

    def expire_token(self, value: str | None = None) -> None:
        with self.lock:
            for info in (self.tokens.values() if value is None else [self.tokens[value]]):
                info.expires_at = self.clock.now() - timedelta(seconds=1)

    def check_token(self, value: str) -> TokenInfo:
        info = self.tokens.get(value) if value else None
        if info is None or (info.expires_at is not None and info.expires_at <= self.clock.now()):
            raise PinterestError(401, CODE_AUTH, "Authentication failed.")
        return info

    # -- faults -------------------------------------------------------------------------------

    def inject(self, kind: FaultKind, *, at_call: int | None = None, times: int = 1,
               retry_after: float | None = None, reset_seconds: int | None = None) -> PinterestFault:
        """Make calls ``at_call`` .. ``at_call + times - 1`` fail (default: the next ``times`` calls)."""
        with self.lock:
            fault = PinterestFault(kind, at_call if at_call is not None else self.calls + 1, times,
                                   retry_after, reset_seconds)
            self.faults.append(fault)
            return fault

    def throttle(self, *, at_call: int | None = None, times: int = 1, retry_after: float | None = 0,
                 reset_seconds: int | None = None) -> PinterestFault:
        """429; ``retry_after`` None sends no Retry-After, ``reset_seconds`` adds X-RateLimit-Reset."""
        return self.inject(FaultKind.throttle, at_call=at_call, times=times, retry_after=retry_after,
                           reset_seconds=reset_seconds)

    def expire_token_at(self, call: int) -> PinterestFault:
        return self.inject(FaultKind.expire_token, at_call=call)

    def active_fault(self, call: int, kinds: set[FaultKind]) -> PinterestFault | None:
        with self.lock:
            return next((f for f in self.faults if f.kind in kinds and f.covers(call)), None)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    # -- writes -------------------------------------------------------------------------------

    def delete_members(self, entries: list[tuple[str, str]]) -> list[str]:
        """Apply a members DELETE (already validated); returns ``deleted_members``."""
        with self.lock:
            deleted: list[str] = []
            removing = {mid for mid, role in entries
                        if mid in self.members and not self.members[mid].system
                        and role in self.members[mid].business_roles}
            admins_left = [m for m in self.members.values()
                           if "BIZ_ADMIN" in m.business_roles and not m.system and m.id not in removing]
            protect: set[str] = set()
            if not admins_left and any("BIZ_ADMIN" in self.members[mid].business_roles for mid in removing):
                if self.last_admin is LastAdmin.error:
                    raise PinterestError(400, CODE_INVALID, LAST_ADMIN_MESSAGE)
                protect = {mid for mid in removing if "BIZ_ADMIN" in self.members[mid].business_roles}
            unknown = [mid for mid, _ in entries
                       if mid not in self.members or self.members[mid].system]
            if unknown and self.repeat_member_delete is RepeatMemberDelete.not_found:
                raise PinterestError(404, CODE_NOT_FOUND, f"Member {unknown[0]} not found in this business.")
            for mid, _ in entries:
                if mid in removing and mid not in protect:
                    self.members.pop(mid, None)
                    if mid not in deleted:
                        deleted.append(mid)
                elif mid in unknown and self.repeat_member_delete is RepeatMemberDelete.echo and mid not in deleted:
                    deleted.append(mid)
            return deleted

    def delete_partners(self, partner_ids: list[str], partner_type: str) -> list[str]:
        with self.lock:
            for pid in partner_ids:
                partner = self.partners.get(pid)
                if partner is None or partner.partner_type != partner_type:
                    raise PinterestError(404, CODE_NOT_FOUND,
                                         f"Partner {pid} not found for partner_type {partner_type}.")
            for pid in partner_ids:
                self.partners.pop(pid, None)
            return list(dict.fromkeys(partner_ids))

    def update_members(self, entries: list[tuple[str, str]]) -> list[dict[str, str]]:
        """Apply a members PATCH (already validated); returns the ``items`` changed."""
        with self.lock:
            known = [(mid, role) for mid, role in entries if mid in self.members and not self.members[mid].system]
            after = {m.id: list(m.business_roles) for m in self.members.values() if not m.system}
            for mid, role in known:
                after[mid] = [role]
            if not any("BIZ_ADMIN" in roles for roles in after.values()):
                if self.last_admin is LastAdmin.error:
                    raise PinterestError(400, CODE_INVALID, LAST_ADMIN_MESSAGE)
                known = [(mid, role) for mid, role in known if "BIZ_ADMIN" not in self.members[mid].business_roles]
            changed: list[dict[str, str]] = []
            for mid, role in known:
                self.members[mid].business_roles = [role]
                changed.append({"member_id": mid, "business_role": role})
            return changed

    def rename_system_user(self, user_id: str, body: Any) -> None:
        with self.lock:
            member = self.members.get(user_id)
            if member is None or not member.system:
                raise PinterestError(404, CODE_NOT_FOUND, f"System user {user_id} not found.")
            name = body.get("name") if isinstance(body, dict) else None
            if not isinstance(name, str) or not name:
                raise PinterestError(400, CODE_INVALID, "name is required.")
            member.username = name

    def begin_call(self, method: str, path: str, params: dict[str, str], body: Any) -> PinterestCall:
        with self.lock:
            self.calls += 1
            record = PinterestCall(self.calls, method, path, params, body)
            self.requests.append(record)
            return record


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
