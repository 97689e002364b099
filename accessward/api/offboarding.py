"""POST /v1/offboarding and GET /v1/offboarding/{request_id}: HR's offboarding and its receipt."""

from __future__ import annotations

import concurrent.futures
import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from accessward.api.auth import Caller, require
from accessward.reconcile import offboarding, receipt
from accessward.reconcile.subject import PersonNotFound
from accessward.runtime import Runtime
from accessward.sync.clock import to_naive_utc, utcnow

log = logging.getLogger("accessward.api")
router = APIRouter(prefix="/v1/offboarding", tags=["offboarding"])
REQUEST_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"


class OffboardingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(pattern=REQUEST_ID, description="Your idempotency key: the same id gives the same "
                                                            "receipt and never a second run")
    person: str = Field(min_length=1, max_length=320, description="Employee id, UPN or email of the person")
    effective_at: datetime | None = Field(None, description="When access goes (ISO 8601; no zone = UTC); "
                                                            "default: now")
    reason: str = Field("", max_length=500)
    requested_by: str | None = Field(None, max_length=200, description="The person at HR who decided it")


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _receipt(rt: Runtime, request_id: str) -> dict[str, Any]:
    found = receipt.build(rt.engine, request_id, stale_after_hours=rt.settings.policy.stale_after_hours)
    if found is None:
        raise HTTPException(404, f"no offboarding {request_id!r}")
    return found


@router.post("", summary="Offboard a person: every grant on every system, IdP sessions, with a receipt",
             responses={200: {"description": "The request id was seen before: its receipt, nothing run again"},
                        201: {"description": "Done (or finished with items pending): the receipt"},
                        202: {"description": "Scheduled for effective_at, or still running: the receipt so far"},
                        409: {"description": "A replayed signed request, or the request id names another person"},
                        422: {"description": "No single person matches"}})
def post_offboarding(body: OffboardingRequest, request: Request, response: Response,
                     caller: Annotated[Caller, Depends(require("hr"))]) -> dict[str, Any]:
    rt = _runtime(request)
    effective = to_naive_utc(body.effective_at) or utcnow()
    by = caller.actor + (f" ({body.requested_by})" if body.requested_by else "")
    try:
        ob, created = offboarding.request(rt.engine, request_id=body.request_id, person_key=body.person,
                                          effective_at=effective, requested_by=by, source="api", reason=body.reason)
    except PersonNotFound as exc:
        raise HTTPException(422, str(exc)) from None
    except offboarding.RequestConflict as exc:
        raise HTTPException(409, str(exc)) from None
    response.headers["Location"] = f"/v1/offboarding/{ob.request_id}"
    if not created:
        response.status_code = 200
        return _receipt(rt, ob.request_id)
    response.status_code = 202
    if ob.effective_at <= utcnow():
        assert ob.id is not None
        future = rt.submit_offboarding(ob.id, actor=by)
        try:
            future.result(timeout=rt.settings.service.request_wait_seconds)
            response.status_code = 201
        except concurrent.futures.TimeoutError:
            pass  # still running: 202 and the receipt so far; GET it later
        except Exception:
            log.exception("offboarding run failed; the scheduler retries it", extra={"request_id": ob.request_id})
    return _receipt(rt, ob.request_id)


@router.get("/{request_id}", summary="The receipt of an offboarding")
def get_offboarding(request_id: Annotated[str, Path(pattern=REQUEST_ID)], request: Request,
                    caller: Annotated[Caller, Depends(require("hr", "auditor"))]) -> dict[str, Any]:
    return _receipt(_runtime(request), request_id)
