"""Inbound SCIM 2.0 at /scim/v2 (RFC 7643/7644), for Entra ID and Okta provisioning.

Users can be created, read, listed (``filter``, ``startIndex``/``count`` paging), replaced,
patched and deleted as those clients do. Deprovisioning, ``active`` set to false (PATCH or PUT)
or a DELETE of an active user, starts an offboarding of the person (matched on the enterprise
``employeeNumber``, ``userName``, ``externalId``, then the emails); the answer does not wait for it.
Errors use the SCIM error schema with ``status`` as a string. Callers authenticate with an API
token of role ``hr`` (or ``admin``).
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from accessward.api import scim_schemas, scim_users
from accessward.api.auth import AuthProblem, Caller, verify_token
from accessward.api.scim_patch import ScimProblem, apply_patch, parse_filter
from accessward.reconcile import offboarding
from accessward.runtime import Runtime
from accessward.sync.clock import utcnow

log = logging.getLogger("accessward.scim")
router = APIRouter(prefix="/scim/v2", tags=["scim"])
MEDIA = "application/scim+json"
ROLES = ("hr", "admin")
_bearer = HTTPBearer(auto_error=False, description="An API token with the hr role")


def scim_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, media_type=MEDIA, headers=headers)


def problem_response(exc: ScimProblem) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if exc.status == 401 else None
    return scim_response(scim_schemas.error(exc.status, exc.detail, exc.scim_type), exc.status, headers)


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
    """Start the offboarding a deactivation or deletion asks for (once per deactivation)."""
    if not written.deactivated:
        return
    user = written.user
    key, known = scim_users.person_key(rt.engine, user)
    ob, created = offboarding.request(
        rt.engine, request_id=f"scim:{user.id}:{user.deactivations}", person_key=key, effective_at=utcnow(),
        requested_by=caller.actor, source="scim", reason=f"deprovisioned over SCIM (userName {user.user_name})",
        record_unknown=True)
    if created and known and ob.id is not None:
        rt.submit_offboarding(ob.id, actor=caller.actor)
    log.info("SCIM deprovisioning", extra={"request_id": ob.request_id, "status": ob.status})


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
        raise ScimProblem(404, f"no resource type {name}")
    return scim_response(found[0])


@router.get("/Schemas", summary="SCIM schemas")
def schemas(request: Request, caller: Authorized) -> Response:
    items = scim_schemas.schemas(_base(request))
    return scim_response(_list(items, 1, len(items)))


@router.get("/Schemas/{schema_id}", summary="One SCIM schema")
def schema(schema_id: str, request: Request, caller: Authorized) -> Response:
    found = [s for s in scim_schemas.schemas(_base(request)) if s["id"] == schema_id]
    if not found:
        raise ScimProblem(404, f"no schema {schema_id}")
    return scim_response(found[0])


def _list(items: list[dict[str, Any]], start: int, total: int) -> dict[str, Any]:
    return {"schemas": [scim_schemas.LIST_SCHEMA], "totalResults": total, "startIndex": start,
            "itemsPerPage": len(items), "Resources": items}


@router.get("/Users", summary="List or find users (filter=userName eq \"...\"; startIndex, count)")
def list_users(request: Request, caller: Authorized, filter: Annotated[str | None, Query()] = None,
               startIndex: Annotated[int, Query()] = 1, count: Annotated[int | None, Query()] = None) -> Response:
    predicate = parse_filter(filter) if filter else None
    users = scim_users.list_users(_runtime(request).engine, filter, predicate, _base(request))
    start = max(1, startIndex)  # RFC 7644 3.4.2.4: less than 1 is 1
    size = scim_schemas.MAX_RESULTS if count is None else max(0, min(count, scim_schemas.MAX_RESULTS))
    return scim_response(_list(users[start - 1:start - 1 + size], start, len(users)))


@router.post("/Users", summary="Create a user", status_code=201)
def create_user(request: Request, caller: Authorized, body: Body) -> Response:
    user = scim_users.create(_runtime(request).engine, body)
    rep = scim_users.representation(user, _base(request))
    return scim_response(rep, 201, {"Location": rep["meta"]["location"]})


@router.get("/Users/{user_id}", summary="One user")
def get_user(user_id: str, request: Request, caller: Authorized) -> Response:
    return scim_response(scim_users.representation(scim_users.get(_runtime(request).engine, user_id),
                                                   _base(request)))


@router.put("/Users/{user_id}", summary="Replace a user (active=false starts an offboarding)")
def replace_user(user_id: str, request: Request, caller: Authorized, body: Body) -> Response:
    rt = _runtime(request)
    written = scim_users.replace(rt.engine, user_id, body)
    _deprovision(rt, written, caller)
    return scim_response(scim_users.representation(written.user, _base(request)))


@router.patch("/Users/{user_id}", summary="Patch a user (active=false starts an offboarding)")
def patch_user(user_id: str, request: Request, caller: Authorized, body: Body) -> Response:
    rt = _runtime(request)
    written = scim_users.patch(rt.engine, user_id, lambda resource: apply_patch(resource, body))
    _deprovision(rt, written, caller)
    return scim_response(scim_users.representation(written.user, _base(request)))


@router.delete("/Users/{user_id}", summary="Delete a user (starts an offboarding)", status_code=204)
def delete_user(user_id: str, request: Request, caller: Authorized) -> Response:
    rt = _runtime(request)
    written = scim_users.delete(rt.engine, user_id)
    _deprovision(rt, written, caller)
    return Response(status_code=204)
