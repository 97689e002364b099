"""POST /v1/devices/lost: the service desk reports a lost or stolen device."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from accessward.api.auth import Caller, require
from accessward.api.offboarding import REQUEST_ID
from accessward.reconcile.subject import PersonNotFound
from accessward.runtime import Runtime
from accessward.sync.service_models import DeviceReport

router = APIRouter(prefix="/v1/devices", tags=["devices"])


class LostDevice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person: str = Field(min_length=1, max_length=320, description="The owner: employee id, UPN or email")
    device: str = Field("", max_length=200, description="The device as the IdP names its MFA method (the phone's "
                                                        "name in Authenticator, a key's label) or the method id")
    status: Literal["lost", "stolen"] = "lost"
    request_id: str | None = Field(None, pattern=REQUEST_ID, description="Optional idempotency key")
    reported_by: str | None = Field(None, max_length=200)


def as_json(rep: DeviceReport) -> dict[str, Any]:
    def iso(value: datetime) -> str:
        return value.isoformat(timespec="seconds") + "Z"

    return {"id": rep.id, "request_id": rep.request_id, "device": rep.device, "status": rep.status,
            "reported_by": rep.reported_by, "reported_at": iso(rep.reported_at), "outcome": rep.outcome,
            **rep.result}


@router.post("/lost", summary="A device is lost or stolen: end sessions, remove its MFA method, flag the rest",
             responses={200: {"description": "The request id was seen before"},
                        201: {"description": "What was done"}, 422: {"description": "No single person matches"}})
def post_lost(body: LostDevice, request: Request, response: Response,
              caller: Annotated[Caller, Depends(require("service_desk"))]) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    by = caller.actor + (f" ({body.reported_by})" if body.reported_by else "")
    try:
        rep, created = rt.report_device(person_key=body.person, device=body.device, status=body.status,
                                        reported_by=by, request_id=body.request_id)
    except PersonNotFound as exc:
        raise HTTPException(422, str(exc)) from None
    response.status_code = 201 if created else 200
    return as_json(rep)
