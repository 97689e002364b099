"""A faithful simulator of LinkedIn's ``/rest/organizationAcls`` (Community Management API), as a Starlette app.

It reproduces what a connector must cope with (reference/social-apis.md, section 2):

- required headers: ``Authorization: Bearer``, ``LinkedIn-Version`` (missing: 400
  ``VERSION_MISSING``; sunset or unknown: 426 ``NONEXISTENT_VERSION``) and
  ``X-Restli-Protocol-Version: 2.0.0`` (missing or other: 400);
- Rest.li finders ``q=organization`` (``organization=<urn>``) and ``q=roleAssignee`` (the calling
  member), both with ``role``/``state`` filters and ``start``/``count`` paging (``count`` defaults
  to 10 and is capped at ``LinkedInState.max_count``), ``paging.total`` when switched on;
- ``projection=(elements*(*,roleAssignee~(localizedFirstName,localizedLastName)))`` on a finder:
  each element carries ``roleAssignee~`` with the member's localized names (the documented
  decoration), or ``roleAssignee!`` with a 403 error when the state says the token may not read
  them; any other projection is answered 400;
- ``GET /rest/organizations/{id}`` for the organization's name;
- writes to the compound key ``/rest/organizationAcls/(organization:…,role:…,roleAssignee:…)``
  (URNs inside the key must be URL-encoded, as Rest.li 2.0 requires): a PUT of the entity or a
  ``POST`` with ``X-RestLi-Method: PARTIAL_UPDATE``, whichever ``accepted_method`` says; a PUT of
  an APPROVED entity to a key that has no row yet adds that role (how an admin adds one; only
  with ``accepted_method`` PUT: a partial update needs a row to patch);
- errors as ``{"status", "serviceErrorCode", "message"}`` (+ ``code`` for version errors): 401
  for a missing (service code 401), invalid (65600), expired (65601) or revoked (65602) token;
  403 ``Not enough permissions to access: …`` (service code 100) when the caller is not an
  APPROVED ADMINISTRATOR of the organization or lacks the scope; 404 for an unknown key; 429
  when throttled; 400 when the write would remove the last APPROVED ADMINISTRATOR.

Choices where LinkedIn's docs are silent (each **unverified**, most switchable on the state):
which write method is accepted and what the other answers (405, or 400 naming the operation);
what a repeated REVOKED write answers (204 or 404); that the last-admin refusal is a 400; that
DELETE and GET on a key are unsupported methods; that ``count`` is capped at 100; that
``paging.total`` is present; that a missing protocol header is refused. A write answers 204.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from accessward.sandbox.linkedin_state import (
    ADMIN,
    R_SCOPE,
    ROLES,
    RW_SCOPE,
    STATES,
    THROTTLE_MESSAGE,
    Acl,
    Clock,
    Fault,
    FaultKind,
    LinkedInError,
    LinkedInState,
    RecordedCall,
    RepeatRevoke,
    RevokeMethod,
    TokenInfo,
    UnsupportedAnswer,
    WriteOutcome,
)

__all__ = [
    "ACL_PATH", "DEMO_DANA_URN", "DEMO_MEMBERS", "DEMO_ORG_ID", "DEMO_TOKEN", "Clock", "FaultKind", "LinkedInError",
    "LinkedInState",
    "RecordedCall", "RepeatRevoke", "RevokeMethod", "UnsupportedAnswer", "acl_key_path", "create_app",
    "demo_state",
]

DEMO_TOKEN = "demo-linkedin-token"
DEMO_ORG_ID = 10_000_001
PROTOCOL_VERSION = "2.0.0"
ACL_PATH = "/rest/organizationAcls"
DEFAULT_COUNT = 10
LAST_ADMIN_MESSAGE = ("Cannot revoke the last APPROVED ADMINISTRATOR of {org}. Approve another administrator "
                      "before revoking this one.")
_KEY_FIELDS = ("organization", "role", "roleAssignee")
_ORG_PATH = re.compile(r"/rest/organizations/(\d+)")


def acl_key_path(organization: str, role: str, assignee: str) -> str:
    """The compound-key path of one ACL, URNs URL-encoded as Rest.li 2.0 requires."""
    return (f"{ACL_PATH}/(organization:{quote(organization, safe='')},role:{role},"
            f"roleAssignee:{quote(assignee, safe='')})")


# -- the app -------------------------------------------------------------------------------------


def create_app(state: LinkedInState | None = None) -> Starlette:
    """The simulator bound to ``state`` (``demo_state()`` when omitted); ``app.state.linkedin`` holds it."""
    app = Starlette(routes=[Route("/{path:path}", _endpoint, methods=["GET", "PUT", "POST", "DELETE", "PATCH"])])
    app.state.linkedin = state if state is not None else demo_state()
    return app


_RECORDED_HEADERS = ("LinkedIn-Version", "X-Restli-Protocol-Version", "X-RestLi-Method")


async def _endpoint(request: Request) -> Response:
    state: LinkedInState = request.app.state.linkedin
    raw_path = bytes(request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    raw_path = raw_path.split("?", 1)[0]
    params = dict(request.query_params)
    headers = {h: request.headers[h] for h in _RECORDED_HEADERS if h in request.headers}
    raw_body = await request.body()
    body: Any = None
    if raw_body:
        try:
            body = json.loads(raw_body)
        except ValueError:
            body = raw_body.decode("utf-8", "replace")
    with state.lock:
        record = state.begin_call(request.method, unquote(raw_path), params, headers, body)
        try:
            response = _respond(state, request, raw_path, params, body, record.call)
        except LinkedInError as error:
            response = _error_response(error)
            record.service_code = error.service_code
        record.status = response.status_code
    return response


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _respond(state: LinkedInState, request: Request, raw_path: str, params: dict[str, str], body: Any,
             call: int) -> Response:
    """Faults first (a proxy answers before LinkedIn does), then auth, headers, throttling, the route."""
    infra = state.active_fault(call, {FaultKind.html, FaultKind.redirect, FaultKind.server_error})
    if infra is not None:
        return _fault_response(infra)
    token = _bearer(request)
    if state.active_fault(call, {FaultKind.expire_token}) is not None and token in state.tokens:
        state.expire_token(token)
    caller = state.check_token(token)
    state.check_version(request.headers.get("linkedin-version"))
    if request.headers.get("x-restli-protocol-version", "").strip() != PROTOCOL_VERSION:
        raise LinkedInError(400, f"Missing or unsupported X-Restli-Protocol-Version header: this resource "
                                 f"requires {PROTOCOL_VERSION}")
    throttle = state.active_fault(call, {FaultKind.throttle})
    wait = state.rate_limited() if throttle is None else None
    if throttle is not None or wait is not None:
        retry_after = throttle.retry_after if throttle is not None else wait
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        raise LinkedInError(429, THROTTLE_MESSAGE, headers=headers)

    path = unquote(raw_path)
    if raw_path.startswith(ACL_PATH + "/"):
        return _write(state, request, caller, raw_path[len(ACL_PATH) + 1:], body, call)
    if path == ACL_PATH:
        if request.method != "GET":
            raise _unsupported(state, request.method, "CREATE" if request.method == "POST" else request.method)
        return _finder(state, caller, params, call)
    match = _ORG_PATH.fullmatch(path)
    if match and request.method == "GET":
        org = state.organizations.get(int(match.group(1)))
        if org is None:
            raise LinkedInError(404, f"Organization {match.group(1)} does not exist", code="NOT_FOUND")
        return JSONResponse(org.fields())
    raise LinkedInError(404, f"Resource {path.removeprefix('/rest/') or '/'} does not exist", code="NOT_FOUND")


def _error_response(error: LinkedInError) -> Response:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


_LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>LinkedIn Login, Sign in | LinkedIn</title></head>
<body><form class="login__form" action="/checkpoint/lg/login-submit" method="post">
<input id="username" name="session_key"><input id="password" type="password" name="session_password">
<button type="submit">Sign in</button></form></body></html>
"""


def _fault_response(fault: Fault) -> Response:
    if fault.kind is FaultKind.html:
        return HTMLResponse(_LOGIN_PAGE)
    if fault.kind is FaultKind.redirect:
        return RedirectResponse("https://www.linkedin.com/login?session_redirect=%2Fdeveloper", status_code=302)
    return _error_response(LinkedInError(500, "Internal Server Error"))


def _unsupported(state: LinkedInState, method: str, operation: str) -> LinkedInError:
    """What a method the resource does not implement answers (per ``state.unsupported_answer``)."""
    if state.unsupported_answer is UnsupportedAnswer.method_not_allowed:
        return LinkedInError(405, f"Method {method} is not allowed for this resource")
    return LinkedInError(400, f"{operation} operation is not supported for resource organizationAcls")


# -- finders -------------------------------------------------------------------------------------


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise LinkedInError(400, f"Invalid value '{raw}' for query parameter '{name}'")
    return int(raw)


def _filters(params: dict[str, str]) -> tuple[str | None, str | None]:
    role, acl_state = params.get("role") or None, params.get("state") or None
    if role is not None and role not in ROLES:
        raise LinkedInError(400, f"Invalid value '{role}' for query parameter 'role'")
    if acl_state is not None and acl_state not in STATES:
        raise LinkedInError(400, f"Invalid value '{acl_state}' for query parameter 'state'")
    return role, acl_state


def _finder(state: LinkedInState, caller: TokenInfo, params: dict[str, str], call: int) -> Response:
    q = params.get("q")
    role, acl_state = _filters(params)
    if not caller.scopes & {R_SCOPE, RW_SCOPE}:
        raise LinkedInError(403, f"Not enough permissions to access: organizationAcls.FINDER-{q}", service_code=100)
    if q == "organization":
        org_urn = params.get("organization", "")
        if not org_urn:
            raise LinkedInError(400, "Missing required query parameter 'organization'")
        if state.organization_by_urn(org_urn) is None:
            raise LinkedInError(404, f"Organization {org_urn} does not exist", code="NOT_FOUND")
        if not state.is_admin(caller.member, org_urn):
            raise LinkedInError(403, "Not enough permissions to access: organizationAcls.FINDER-organization",
                                service_code=100)
        rows = state.find(organization=org_urn, role=role, state=acl_state)
    elif q == "roleAssignee":
        rows = state.find(assignee=caller.member, role=role, state=acl_state)
    else:
        raise LinkedInError(400, f"Finder '{q}' is not supported for resource organizationAcls"
                            if q else "Missing required query parameter 'q'")
    start = _int_param(params, "start", 0)
    count = min(_int_param(params, "count", DEFAULT_COUNT), state.max_count)
    decorate = _projection(params.get("projection"))
    if decorate and not state.projection_supported:
        raise LinkedInError(400, "Projection is not supported for resource organizationAcls")
    return JSONResponse(_page(state, rows, params, start, count, call, decorate))


DECORATION = "(elements*(*,roleAssignee~(localizedFirstName,localizedLastName)))"


def _projection(raw: str | None) -> bool:
    """Whether the finder was asked for the roleAssignee decoration (the only projection served)."""
    if raw is None or raw == "":
        return False
    if raw.replace(" ", "") != DECORATION:
        raise LinkedInError(400, f"Invalid projection {raw!r}: this resource serves {DECORATION} only")
    return True


def _decorate(state: LinkedInState, element: dict[str, Any]) -> None:
    urn = element.get("roleAssignee", "")
    names = state.decoration(urn) if state.decorate_names else None
    if names is not None:
        element["roleAssignee~"] = names
    else:
        person_id = str(urn).rsplit(":", 1)[-1]
        element["roleAssignee!"] = {"status": 403, "serviceErrorCode": 100,
                                    "message": f"Not enough permissions to access: GET /people/(id:{person_id})"}


def _page(state: LinkedInState, rows: list[Acl], params: dict[str, str], start: int, count: int,
          call: int, decorate: bool = False) -> dict[str, Any]:
    page = rows[start:start + count]
    elements = [acl.element() for acl in page]
    if decorate:
        for element in elements:
            _decorate(state, element)
    if elements and state.active_fault(call, {FaultKind.broken_element}) is not None:
        del elements[-1]["roleAssignee"]
    links = []
    base = {k: v for k, v in params.items() if k not in ("start", "count")}
    if start + len(page) < len(rows):
        links.append(_link("next", base, start + count, count))
    if start > 0:
        links.append(_link("prev", base, max(0, start - count), count))
    paging: dict[str, Any] = {"start": start, "count": count, "links": links}
    if state.include_total:
        paging["total"] = len(rows)
    if state.active_fault(call, {FaultKind.no_elements}) is not None:
        return {"paging": paging}
    return {"paging": paging, "elements": elements}


def _link(rel: str, base: dict[str, str], start: int, count: int) -> dict[str, str]:
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in {**base, "start": str(start), "count": str(count)}.items())
    return {"rel": rel, "href": f"{ACL_PATH}?{query}", "type": "application/json"}


# -- the write -----------------------------------------------------------------------------------


def _parse_key(raw_key: str) -> tuple[str, str, str]:
    """``(organization:urn%3A…,role:X,roleAssignee:urn%3A…)`` -> its three values (raw URN colons refused)."""
    if not (raw_key.startswith("(") and raw_key.endswith(")")):
        raise LinkedInError(400, f"Invalid key syntax: {unquote(raw_key)}")
    values: dict[str, str] = {}
    for part in raw_key[1:-1].split(","):
        name, sep, value = part.partition(":")
        if not sep or name not in _KEY_FIELDS or name in values:
            raise LinkedInError(400, f"Invalid key syntax: {unquote(raw_key)}")
        if any(c in value for c in ":(),"):
            raise LinkedInError(400, f"Invalid key: the value of '{name}' must be URL-encoded (Rest.li 2.0)")
        values[name] = unquote(value)
    if set(values) != set(_KEY_FIELDS):
        raise LinkedInError(400, f"Invalid key: expected {', '.join(_KEY_FIELDS)}")
    return values["organization"], values["role"], values["roleAssignee"]


def _write(state: LinkedInState, request: Request, caller: TokenInfo, raw_key: str, body: Any,
           call: int) -> Response:
    """PUT or PARTIAL_UPDATE of one ACL (the other, DELETE and GET are unsupported methods)."""
    restli_method = request.headers.get("x-restli-method", "").strip().upper()
    if request.method == "PUT":
        operation = RevokeMethod.put
    elif request.method == "POST" and restli_method == "PARTIAL_UPDATE":
        operation = RevokeMethod.partial_update
    else:
        names = {"POST": restli_method or "CREATE", "GET": "GET", "DELETE": "DELETE"}
        raise _unsupported(state, request.method, names.get(request.method, request.method))
    if operation is not state.accepted_method:
        raise _unsupported(state, request.method, "UPDATE" if operation is RevokeMethod.put else "PARTIAL_UPDATE")
    key = _parse_key(raw_key)
    org_urn = key[0]
    if RW_SCOPE not in caller.scopes or not state.is_admin(caller.member, org_urn):
        verb = "update" if operation is RevokeMethod.put else "partialUpdate"
        raise LinkedInError(403, f"Not enough permissions to access: {verb} /organizationAcls", service_code=100)
    new_state = _requested_state(operation, key, body)
    if state.active_fault(call, {FaultKind.lost_write}) is not None:
        return Response(status_code=204)
    if operation is RevokeMethod.put and key not in state.acls and new_state == "APPROVED":
        if key[1] not in ROLES:
            raise LinkedInError(400, f"Invalid value '{key[1]}' for key field 'role'")
        state.create_acl(key, caller.member)
        return Response(status_code=201)
    outcome = state.set_state(key, new_state, caller.member)
    if outcome is WriteOutcome.not_found:
        raise LinkedInError(404, f"No organizationAcl found for key {unquote(raw_key)}", code="NOT_FOUND")
    if outcome is WriteOutcome.unchanged and new_state == "REVOKED" and state.repeat_revoke is RepeatRevoke.not_found:
        raise LinkedInError(404, f"No active organizationAcl found for key {unquote(raw_key)}", code="NOT_FOUND")
    if outcome is WriteOutcome.last_admin:
        raise LinkedInError(400, LAST_ADMIN_MESSAGE.format(org=org_urn))
    return Response(status_code=204)


def _requested_state(operation: RevokeMethod, key: tuple[str, str, str], body: Any) -> str:
    if not isinstance(body, dict):
        raise LinkedInError(400, "Request body must be a JSON object")
    if operation is RevokeMethod.put:
        for name, expected in zip(_KEY_FIELDS, key, strict=True):
            if body.get(name) != expected:
                raise LinkedInError(400, f"Field '{name}' must be present and match the entity key")
        value = body.get("state")
    else:
        patch = body.get("patch")
        fields = patch.get("$set") if isinstance(patch, dict) else None
        if not isinstance(fields, dict) or set(fields) - {"state"}:
            raise LinkedInError(400, "Invalid patch: only {\"patch\": {\"$set\": {\"state\": …}}} is supported")
        value = fields.get("state")
    if value not in STATES:
        raise LinkedInError(400, f"Invalid value '{value}' for field 'state'")
    return str(value)


# -- demo data -----------------------------------------------------------------------------------


#: The demo's members: opaque ids, like LinkedIn's; their names come through the roleAssignee decoration.
DEMO_MEMBERS = {
    "alex": "urn:li:person:8kZq2xVbTn", "dana": "urn:li:person:Rm4Wc9LpQe", "sam": "urn:li:person:Yh7Ds3KaFj",
    "priya": "urn:li:person:Nc5Tg8UvBw", "jordan": "urn:li:person:Ex2Pj6HoLs", "taylor": "urn:li:person:Gu9Mb4ZrKd",
    "new_hire": "urn:li:person:Wq3Fy7NcAx", "former_intern": "urn:li:person:Tz6Lh1VeOp",
}
DEMO_DANA_URN = DEMO_MEMBERS["dana"]


def demo_state(token: str = DEMO_TOKEN) -> LinkedInState:
    """A small brand organization on LinkedIn, as its Community Manager's token sees it.

    Alex Morgan (the token's member) and Dana Leaver, who has left the company but kept the
    ADMINISTRATOR role, are the two administrators; revoking Dana works, and then revoking Alex is
    refused as the last admin. Sam Rivera is content admin, Priya Shah an analyst, Jordan Lee a
    recruiting poster, Taylor Brooks of the Brightside agency posts sponsored content. A new hire's
    request for admin is pending (REQUESTED: not access), and a former intern's role was REVOKED.
    Member ids are opaque (``DEMO_MEMBERS``); their names come through the roleAssignee decoration.
    """
    state = LinkedInState()
    org = state.add_organization("Northwind Coffee Roasters", org_id=DEMO_ORG_ID, vanity_name="northwind-coffee")
    m = DEMO_MEMBERS
    for key, (first, last) in {"alex": ("Alex", "Morgan"), "dana": ("Dana", "Leaver"), "sam": ("Sam", "Rivera"),
                               "priya": ("Priya", "Shah"), "jordan": ("Jordan", "Lee"),
                               "taylor": ("Taylor", "Brooks"), "new_hire": ("Nova", "Hire"),
                               "former_intern": ("Finn", "Intern")}.items():
        state.add_person(first, last, urn=m[key])
    alex, dana = m["alex"], m["dana"]
    state.add_token(token, alex)
    state.add_acl(org, alex, ADMIN)
    state.add_acl(org, dana, ADMIN, actor=alex)
    state.add_acl(org, m["sam"], "CONTENT_ADMINISTRATOR", actor=alex)
    state.add_acl(org, m["priya"], "ANALYST", actor=alex)
    state.add_acl(org, m["jordan"], "RECRUITING_POSTER", actor=alex)
    state.add_acl(org, m["taylor"], "DIRECT_SPONSORED_CONTENT_POSTER", actor=alex)
    state.add_acl(org, m["new_hire"], ADMIN, state="REQUESTED")
    state.add_acl(org, m["former_intern"], "CONTENT_ADMINISTRATOR", state="REVOKED", actor=alex)
    return state
