"""Inbound SCIM 2.0 at /scim/v2 (RFC 7643/7644), for Entra ID and Okta provisioning.

Users can be created, read, listed (``filter``, ``startIndex``/``count`` paging, ``POST
/.search`` and ``POST /Users/.search``), replaced, patched and deleted as those clients do;
``attributes`` / ``excludedAttributes`` cut every representation down. Deprovisioning,
``active`` set to false (PATCH, PUT, or a POST of a user already inactive) or a DELETE of an
active user, starts an offboarding of the person (matched on the enterprise ``employeeNumber``,
``userName``, ``externalId``, then the emails); the answer does not wait for it. One nobody can
be matched to is answered 2xx all the same and kept waiting (``reconcile.scim_unmatched``).

Every error under /scim/v2 is a SCIM Error body with ``status`` as a string: unknown URLs (404),
wrong methods (405), bad query values (400 ``invalidValue``), never a FastAPI 422 that echoes
the input. Callers authenticate with an API token of role ``hr`` (or ``admin``).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from accessward.api import scim_schemas, scim_users
from accessward.api.auth import AuthProblem, Caller, verify_token
from accessward.api.scim_patch import ScimProblem, apply_patch, parse_filter
from accessward.api.scim_resource import parse_names, project
from accessward.reconcile import offboarding, scim_unmatched
from accessward.runtime import Runtime
from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.service_models import Offboarding, ScimUser

log = logging.getLogger("accessward.scim")
router = APIRouter(prefix="/scim/v2", tags=["scim"])
MEDIA = "application/scim+json"
ROLES = ("hr", "admin")
_bearer = HTTPBearer(auto_error=False, description="An API token with the hr role")


def scim_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, media_type=MEDIA, headers=headers)


def problem_response(exc: ScimProblem, headers: dict[str, str] | None = None) -> Response:
    if exc.status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="scim"'}
    return scim_response(scim_schemas.error(exc.status, exc.detail, exc.scim_type), exc.status, headers)


def _is_scim(request: Request) -> bool:
    return request.url.path == router.prefix or request.url.path.startswith(router.prefix + "/")


def install(app: FastAPI) -> None:
    """Answer every error under /scim/v2 as a SCIM Error (RFC 7644 section 3.12); others as before.

    No SCIM route declares a typed parameter or body model (each parses its query and body itself
    and refuses with ``invalidValue``), so none can raise FastAPI's 422 that echoes the input.
    """

    @app.exception_handler(ScimProblem)
    async def scim_problem(request: Request, exc: ScimProblem) -> Response:
        return problem_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
        if not _is_scim(request):
            return await http_exception_handler(request, exc)
        detail = {404: "no such SCIM endpoint", 405: "this SCIM endpoint does not take that method"}.get(
            exc.status_code, str(exc.detail))
        headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "allow"}
        return problem_response(ScimProblem(exc.status_code, detail), headers or None)



async def scim_caller(request: Request, bearer: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Caller:
    rt: Runtime = request.app.state.runtime
    if bearer is None:
        raise ScimProblem(401, "authenticate with Authorization: Bearer <API token>")
    try:
        caller = await run_in_threadpool(verify_token, rt, bearer.credentials)
    except AuthProblem as exc:
        raise ScimProblem(exc.status, exc.detail) from None
    request.state.caller = caller
    if caller.role not in ROLES:
        raise ScimProblem(403, f"role {caller.role} may not provision users; a token with the hr role may")
    return caller


async def scim_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError:
        raise ScimProblem(400, "the body is not JSON", "invalidSyntax") from None


Authorized = Annotated[Caller, Depends(scim_caller)]
Body = Annotated[Any, Depends(scim_body)]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + router.prefix


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _deprovision(rt: Runtime, written: scim_users.Written, caller: Caller) -> None:
    """Start the offboarding a deactivation or deletion asks for (once per deactivation).

    Nobody matched: a deprovisioning is kept waiting for its person; a user merely *created*
    inactive that nobody knows is not (identity providers create disabled accounts routinely).
    """
    if written.reactivated:
        _reactivated(rt, written.user, caller)
    if not written.deactivated:
        return
    user = written.user
    key, known = scim_users.person_key(rt.engine, user)
    if written.created and not known:
        return
    ob, created = offboarding.request(
        rt.engine, request_id=f"scim:{user.id}:{user.deactivations}", person_key=key, effective_at=utcnow(),
        requested_by=caller.actor, source="scim", reason=f"deprovisioned over SCIM (userName {user.user_name})",
        record_unknown=True)
    if created and known and ob.id is not None:
        rt.submit_offboarding(ob.id, actor=caller.actor)
    elif created and ob.id is not None:
        scim_unmatched.record(rt.engine, ob.id, scim_user_id=user.id, user_name=user.user_name,
                              keys=scim_users.person_keys(user), actor=caller.actor,
                              window=timedelta(days=rt.settings.service.scim_unmatched_retry_days))
    log.info("SCIM deprovisioning", extra={"request_id": ob.request_id, "status": ob.status})


def _reactivated(rt: Runtime, user: ScimUser, caller: Caller) -> None:
    """An IdP turned a deprovisioned user back on: record and show it; re-grant and start nothing."""
    now = utcnow()
    stamp = now.isoformat(timespec="seconds") + "Z"
    with Session(rt.engine) as session:
        offboardings = list(session.execute(select(Offboarding).where(
            col(Offboarding.request_id).startswith(f"scim:{user.id}:"))).scalars())
        for ob in offboardings:
            ob.notes = [*ob.notes, f"{stamp}: the identity provider set {user.user_name} active again over SCIM; "
                                   "nothing was re-granted and this offboarding stands"]
            ob.updated_at = now
            session.add(ob)
        session.flush()
        audit.append(session.connection(), scim_unmatched.EVENT_REACTIVATED, f"scim_user:{user.id}", {
            "user_name": user.user_name, "reactivations": user.reactivations,
            "offboardings": [ob.request_id for ob in offboardings]}, actor=caller.actor)
        session.commit()
    log.warning("SCIM reactivation of a deprovisioned user", extra={"scim_user": user.id})


def _int(request: Request, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ScimProblem(400, f"{name} must be an integer", "invalidValue") from None


def _names(request: Request) -> tuple[list[Any], list[Any]]:
    attributes = parse_names(request.query_params.get("attributes"), "attributes")
    excluded = parse_names(request.query_params.get("excludedAttributes"), "excludedAttributes")
    if attributes and excluded:
        raise ScimProblem(400, "attributes and excludedAttributes are mutually exclusive", "invalidValue")
    return attributes, excluded


def _one(request: Request, rep: dict[str, Any], status: int = 200,
         headers: dict[str, str] | None = None) -> Response:
    return scim_response(project(rep, *_names(request)), status, headers)


@router.get("/ServiceProviderConfig", summary="SCIM service provider configuration")
def service_provider_config(request: Request, caller: Authorized) -> Response:
    return scim_response(scim_schemas.service_provider_config(_base(request)))


@router.get("/ResourceTypes", summary="SCIM resource types")
def resource_types(request: Request, caller: Authorized) -> Response:
    items = scim_schemas.resource_types(_base(request))
    return scim_response(_list(items, 1, len(items)))


@router.get("/ResourceTypes/{name}", summary="One SCIM resource type")
def resource_type(name: str, request: Request, caller: Authorized) -> Response:
    found = [t for t in scim_schemas.resource_types(_base(request)) if t["id"] == name]
    if not found:
        raise ScimProblem(404, "no such resource type")
    return scim_response(found[0])


@router.get("/Schemas", summary="SCIM schemas")
def schemas(request: Request, caller: Authorized) -> Response:
    items = scim_schemas.schemas(_base(request))
    return scim_response(_list(items, 1, len(items)))


@router.get("/Schemas/{schema_id}", summary="One SCIM schema")
def schema(schema_id: str, request: Request, caller: Authorized) -> Response:
    found = [s for s in scim_schemas.schemas(_base(request)) if s["id"] == schema_id]
    if not found:
        raise ScimProblem(404, "no such schema")
    return scim_response(found[0])


def _list(items: list[dict[str, Any]], start: int, total: int) -> dict[str, Any]:
    return {"schemas": [scim_schemas.LIST_SCHEMA], "totalResults": total, "startIndex": start,
            "itemsPerPage": len(items), "Resources": items}


def _search(request: Request, filter_text: str | None, start_index: int | None, count: int | None,
            attributes: list[Any], excluded: list[Any]) -> Response:
    predicate = parse_filter(filter_text) if filter_text else None
    users = scim_users.list_users(_runtime(request).engine, filter_text, predicate, _base(request))
    start = max(1, 1 if start_index is None else start_index)  # RFC 7644 3.4.2.4: less than 1 is 1
    size = scim_schemas.MAX_RESULTS if count is None else max(0, min(count, scim_schemas.MAX_RESULTS))
    page = [project(u, attributes, excluded) for u in users[start - 1:start - 1 + size]]
    return scim_response(_list(page, start, len(users)))


@router.get("/Users", summary="List or find users (filter=userName eq \"...\"; startIndex, count)")
def list_users(request: Request, caller: Authorized) -> Response:
    attributes, excluded = _names(request)
    return _search(request, request.query_params.get("filter") or None, _int(request, "startIndex", 1),
                   _int(request, "count", None), attributes, excluded)


def _search_body(request: Request, body: Any) -> Response:
    """RFC 7644 section 3.4.3: the query of a GET, as a SearchRequest body."""
    if not isinstance(body, dict) or not isinstance(body.get("schemas"), list) \
            or scim_schemas.SEARCH_SCHEMA not in body["schemas"]:
        raise ScimProblem(400, f"a search body is a {scim_schemas.SEARCH_SCHEMA} message", "invalidSyntax")
    values = {k.lower(): v for k, v in body.items()}
    filter_text = values.get("filter")
    if filter_text is not None and not isinstance(filter_text, str):
        raise ScimProblem(400, "filter must be a string", "invalidValue")
    numbers = {}
    for name in ("startIndex", "count"):
        value = values.get(name.lower())
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ScimProblem(400, f"{name} must be an integer", "invalidValue")
        numbers[name] = value
    attributes = parse_names(values.get("attributes"), "attributes")
    excluded = parse_names(values.get("excludedattributes"), "excludedAttributes")
    if attributes and excluded:
        raise ScimProblem(400, "attributes and excludedAttributes are mutually exclusive", "invalidValue")
    return _search(request, filter_text or None, numbers["startIndex"], numbers["count"], attributes, excluded)


@router.post("/.search", summary="Search every resource type (only Users exist here)")
def search_all(request: Request, caller: Authorized, body: Body) -> Response:
    return _search_body(request, body)


@router.post("/Users/.search", summary="Search users with a SearchRequest body")
def search_users(request: Request, caller: Authorized, body: Body) -> Response:
    return _search_body(request, body)


@router.post("/Users", summary="Create a user (active=false for a known person starts an offboarding)",
             status_code=201)
def create_user(request: Request, caller: Authorized, body: Body) -> Response:
    rt = _runtime(request)
    _names(request)  # a bad query is refused before anything is written
    written = scim_users.create(rt.engine, body)
    _deprovision(rt, written, caller)
    rep = scim_users.representation(written.user, _base(request))
    return _one(request, rep, 201, {"Location": rep["meta"]["location"]})


@router.get("/Users/{user_id}", summary="One user")
def get_user(user_id: str, request: Request, caller: Authorized) -> Response:
    return _one(request, scim_users.representation(scim_users.get(_runtime(request).engine, user_id),
                                                   _base(request)))


@router.put("/Users/{user_id}", summary="Replace a user (active=false starts an offboarding)")
def replace_user(user_id: str, request: Request, caller: Authorized, body: Body) -> Response:
    rt = _runtime(request)
    _names(request)
    written = scim_users.replace(rt.engine, user_id, body)
    _deprovision(rt, written, caller)
    return _one(request, scim_users.representation(written.user, _base(request)))


@router.patch("/Users/{user_id}", summary="Patch a user (active=false starts an offboarding)")
def patch_user(user_id: str, request: Request, caller: Authorized, body: Body) -> Response:
    rt = _runtime(request)
    _names(request)
    written = scim_users.patch(rt.engine, user_id, lambda resource: apply_patch(resource, body))
    _deprovision(rt, written, caller)
    return _one(request, scim_users.representation(written.user, _base(request)))


@router.delete("/Users/{user_id}", summary="Delete a user (starts an offboarding)", status_code=204)
def delete_user(user_id: str, request: Request, caller: Authorized) -> Response:
    rt = _runtime(request)
    written = scim_users.delete(rt.engine, user_id)
    _deprovision(rt, written, caller)
    return Response(status_code=204)
